"""Prometheus' multiprocess files on a volume that fails (dashapp/metricfiles.py), against a real small tmpfs.

The first test is the reason for the module: prometheus_client's own files, on a full tmpfs, kill their process
with SIGBUS; the same counting through metricfiles raises nothing and keeps the counts in memory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from dashapp import breaker, metricfiles
from tests.fixtures import fill

COUNT = """
import os, sys
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
if sys.argv[2] == "guarded":
    from dashapp.metricfiles import install
    install()
from prometheus_client import Counter
counter = Counter("dashapp_test", "a test counter", ["n"])
for n in range(int(sys.argv[3])):
    counter.labels(str(n)).inc()
print(counter.labels("0")._value.get(), os.getpid())
"""


def count_in(folder: Path, how: str, keys: int = 10) -> subprocess.CompletedProcess:
    """Count `keys` series once each in a process of its own (prometheus_client picks its mode at import)."""
    return subprocess.run([sys.executable, "-c", COUNT, str(folder), how, str(keys)], capture_output=True, text=True)


def totals(folder: Path) -> dict[tuple, float]:
    """What a scrape of `folder` sums: {(sample name, labels): value}."""
    families = metricfiles.FilesCollector(folder).collect()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


@pytest.fixture
def process_files(monkeypatch):
    """This test process counts through metricfiles into the folder it is given, retrying failures at once."""
    monkeypatch.setattr(breaker, "RETRY_AFTER", 0.0)
    monkeypatch.setattr(metricfiles, "_PROCESS", [])

    def use(folder: Path) -> None:
        monkeypatch.setenv(metricfiles.ENVIRONMENT, str(folder))
        metricfiles._PROCESS.clear()

    return use


def value(name: str, n: str) -> metricfiles.GuardedValue:
    return metricfiles.GuardedValue("counter", name, f"{name}_total", ["n"], [n], "a test counter")


def test_prometheus_client_dies_of_sigbus_on_a_full_tmpfs_and_counting_through_metricfiles_does_not(volume):
    for name in ("stock", "guarded"):
        (volume / name).mkdir()
    fill(volume)
    stock = count_in(volume / "stock", "stock")
    assert stock.returncode == -signal.SIGBUS  # the crash loop an operator met: every new worker dies the same way
    guarded = count_in(volume / "guarded", "guarded")
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout.split()[0] == "1.0"  # counted in memory
    assert "counting in memory" in guarded.stderr  # the one warning
    assert list((volume / "guarded").iterdir()) == []  # no empty file left for a scrape to fail on


def test_a_file_that_cannot_grow_keeps_its_counts_in_memory_and_writes_them_all_once_there_is_room(
    volume, process_files
):
    folder = volume / "metrics"
    process_files(folder)
    first = [value("dashapp_test", str(n)) for n in range(10)]
    for counter in first:
        counter.inc(2)
    assert (folder / f"counter_{metricfiles._files().pid}.db").stat().st_size == metricfiles.INITIAL_SIZE
    filler = fill(volume)
    more = [value("dashapp_test", f"{n:04d}" + "x" * 200) for n in range(400)]  # about 100 KiB of keys: it must grow
    for counter in more:
        counter.inc(1)
    assert metricfiles._files().breaker.reason == "OSError: No space left on device"
    assert [counter.get() for counter in more] == [1.0] * 400  # counted in memory
    filler.unlink()
    first[0].inc(1)  # the breaker's next try writes everything counted so far
    assert metricfiles._files().breaker.reason is None
    scraped = totals(folder)
    assert len(scraped) == 410 and sum(scraped.values()) == 2 * 10 + 1 + 400


def test_files_removed_while_counting_are_made_again_with_every_count(tmp_path, process_files):
    folder = tmp_path / "metrics"
    process_files(folder)
    counters = [value("dashapp_test", str(n)) for n in range(3)]
    for counter in counters:
        counter.inc(5)
    shutil.rmtree(folder)
    counters[0].inc(1)  # finds its file gone: a failure
    assert metricfiles._files().breaker.down
    counters[1].inc(1)  # the next try: new files with all the counts
    assert sum(totals(folder).values()) == 5 + 5 + 5 + 1 + 1


def test_an_exited_workers_counts_move_into_the_archive_and_its_files_go(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    pids = []
    for keys in (3, 5):
        done = count_in(folder, "guarded", keys)
        assert done.returncode == 0, done.stderr
        pids.append(int(done.stdout.split()[1]))
    before = totals(folder)
    for pid in pids:
        metricfiles.archive_exited(pid, folder)
        assert not list(folder.glob(f"*_{pid}.db"))
        assert totals(folder) == before  # nothing lost, nothing counted twice
    assert sorted(p.name for p in folder.glob("*.db")) == ["counter_archive.db"]
    archived = dict((k, v) for k, v, _, _ in MmapedDict.read_all_values_from_file(str(folder / "counter_archive.db")))
    assert len(archived) == 5 and sum(archived.values()) == 3 + 5


def test_the_folders_of_gunicorn_masters_that_are_gone_are_swept(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale, mine = tmp_path / f"dashapp-metrics-{gone.stdout.strip()}", tmp_path / f"dashapp-metrics-{os.getpid()}"
    for folder in (stale, mine):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"")
    metricfiles.sweep_stale(tmp_path, "dashapp-metrics-")
    assert mine.exists() and not stale.exists()
