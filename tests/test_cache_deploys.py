"""A deploy keeps the cache entries its change cannot affect, and only those (dashapp/cache.py).

Each build is a copy of dashapp/ and queries/ as a deploy installs them; a real process of each renders the
same charts into one cache folder and reports the DuckDB queries it ran (the /metrics counter). Changing a
page or a chart's Python keeps every query result (the charts are drawn again from them), a changed SQL
file runs that query again, and a change to the query layer runs them all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import chart_args

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ("ops.throughput", "overview.accuracy", "drift.features")
RENDER = """
import json, sys
from pathlib import Path
from flask_caching.backends import FileSystemCache
import dashapp
from dashapp.charts import get_chart, render
from dashapp.config import Config
from dashapp.db import Database
from dashapp.querycount import queries_counter

data_dir, cache_dir, views = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
cache = FileSystemCache(str(cache_dir / "results"), threshold=0)
db = Database(Config(data_dir=data_dir, cache_dir=cache_dir), cache=cache)
for chart, args in views.items():
    render(get_chart(chart), args, db)
samples = [s for metric in queries_counter().collect() for s in metric.samples if s.name.endswith("_total")]
print(json.dumps({"package": dashapp.__file__, "ran": {s.labels["query"]: s.value for s in samples}}))
"""


def build(folder: Path, edit: str | None = None) -> Path:
    """A copy of the package and its queries, with one comment added to the file `edit` (relative to the root)."""
    for part in ("dashapp", "queries"):
        shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    if edit:
        path = folder / edit
        path.write_text(path.read_text() + ("\n# deployed\n" if path.suffix == ".py" else "\n-- deployed\n"))
    return folder


def run(build: Path, data_dir: Path, cache_dir: Path) -> dict[str, float]:
    views = json.dumps({chart: chart_args(chart) | {"alerts": ["hide"]} for chart in CHARTS})
    done = subprocess.run(
        [sys.executable, "-c", RENDER, str(data_dir), str(cache_dir), views],
        cwd=build,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.splitlines()[-1])
    assert Path(answer["package"]).is_relative_to(build)  # this build's code, not the installed one
    return answer["ran"]


@pytest.fixture(scope="module")
def first(shared_config, tmp_path_factory) -> tuple[Path, dict[str, float]]:
    """The cache folder that the first build filled, and the queries it ran. Each deploy below is another build
    with keys of its own where it differs, so the deploys can share it."""
    cache_dir = tmp_path_factory.mktemp("deploys") / "cache"
    ran = run(build(cache_dir.parent / "first"), shared_config.data_dir, cache_dir)
    assert {"ops_requests", "sentiment_confusion", "drift_histograms"} <= ran.keys()
    return cache_dir, ran


@pytest.mark.parametrize(
    ("edit", "runs_again"),
    [
        ("dashapp/pages/overview.py", set()),
        ("dashapp/charts/drift.py", set()),
        ("queries/ops_requests.sql", {"ops_requests"}),
        ("dashapp/dayslices.py", "all"),
        ("dashapp/sqlfiles.py", "all"),
        ("dashapp/sandbox.py", "all"),
    ],
)
def test_a_deploy_runs_again_only_the_queries_its_change_can_affect(edit, runs_again, first, shared_config, tmp_path):
    cache_dir, cold = first
    entries = len(list((cache_dir / "results").iterdir()))
    deployed = run(build(tmp_path / "deployed", edit), shared_config.data_dir, cache_dir)
    assert set(deployed) == (set(cold) if runs_again == "all" else runs_again)
    assert len(list((cache_dir / "results").iterdir())) > entries  # the charts drawn again by the new code
