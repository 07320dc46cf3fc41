"""uv.lock, the one lock of every package dashapp and its tests install, must answer pyproject.toml: a dependency
added, removed or given another range there without `make lock` fails here (and so in CI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"


def check(folder: Path) -> subprocess.CompletedProcess:
    # With the index (as `make setup` has): a package the lock does not hold yet needs its metadata from there.
    return subprocess.run([UV, "lock", "--check", "--directory", folder], capture_output=True, text=True, timeout=300)


def test_the_lock_matches_pyproject():
    done = check(REPO)
    assert done.returncode == 0, done.stderr


def test_a_dependency_added_without_relocking_fails_the_check(tmp_path):
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('    "psutil>=7",\n', '    "psutil>=7",\n    "tabulate>=0.9",\n', 1))
    assert pyproject.read_text() != text
    done = check(tmp_path)
    assert done.returncode != 0
    assert "needs to be updated" in done.stderr or "out of date" in done.stderr.lower(), done.stderr


def test_every_locked_package_has_hashes():
    exported = subprocess.run(
        [UV, "export", "--frozen", "--all-extras", "--all-groups", "--no-emit-project", "--directory", REPO],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requirements = [line for line in exported.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(requirements) > 100
    blocks = exported.split("\n")
    for index, line in enumerate(blocks):
        if line and not line.startswith((" ", "#")):
            assert blocks[index + 1].strip().startswith("--hash=sha256:"), line
