"""The wheel, as an operator gets it: built from this checkout, installed (not editable) into a fresh virtualenv in a
folder outside the checkout, with its declared dependencies only (at the lock's versions), and run from there:
`dashapp demo`, `dashapp serve`, then /readyz and a chart's JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.browser.server import fetch, free_port, wait_for

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Shipped inside the package by pyproject.toml's mapping, from the repository's top.
MAPPED = ("queries", "assets")


def run(command: list, **kwargs) -> str:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # The build backend from the locked set (no download): what `make setup` installed.
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, REPO])
    (found,) = out.glob("dashapp-*.whl")
    return found


def tracked(*folders: str) -> set[str]:
    """The files git has or would add (a new file not yet added counts, as the wheel takes it)."""
    return set(run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *folders], cwd=REPO).split())


def test_the_wheel_carries_the_package_and_the_queries_assets_templates_and_rules_and_nothing_else(wheel):
    names = {n for n in zipfile.ZipFile(wheel).namelist() if not n.startswith("dashapp-")}  # less the .dist-info
    expected = tracked("dashapp") | {f"dashapp/{path}" for path in tracked(*MAPPED)}
    assert names == expected
    shipped = ("alerts/default_rules.toml", "templates/embed.html", "static/embed.js", "queries/meta_extent.sql")
    assert {f"dashapp/{path}" for path in shipped} <= names


def test_the_wheel_declares_every_runtime_dependency_and_the_extras(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    requires = [line.removeprefix("Requires-Dist: ") for line in lines if line.startswith("Requires-Dist: ")]
    base = {r.split(">")[0].split("=")[0].split("<")[0].strip() for r in requires if "extra ==" not in r}
    assert {"quantstats", "prometheus-client", "scipy", "duckdb", "gunicorn", "itsdangerous"} <= base
    assert not base & {"kaleido", "redis", "celery"}  # optional: imported only when their feature is used
    extras = {line.removeprefix("Provides-Extra: ") for line in lines if line.startswith("Provides-Extra: ")}
    assert {"redis", "export", "mlflow", "celery", "s3"} <= extras


def test_the_wheel_installed_outside_the_checkout_generates_and_serves_the_demo(wheel, tmp_path):
    assert not tmp_path.is_relative_to(REPO)
    venv = tmp_path / "venv"
    run([BIN / "uv", "venv", "--quiet", "--python", sys.executable, venv])
    # The wheel's own requirements resolved (an undeclared import fails below), held to the lock's versions.
    constraints = tmp_path / "constraints.txt"
    run(
        [BIN / "uv", "export", "--quiet", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"]
        + ["--output-file", constraints],
        cwd=REPO,
    )
    run([BIN / "uv", "pip", "install", "--quiet", "--python", venv / "bin/python", "--constraint", constraints, wheel])

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DASHAPP_", "PYTHON", "VIRTUAL_ENV"))}
    environ["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    where = run([venv / "bin/python", "-c", "import dashapp; print(dashapp.__file__)"], cwd=tmp_path, env=environ)
    assert Path(where.strip()).is_relative_to(venv)

    data = tmp_path / "data"
    run([venv / "bin/dashapp", "demo", "--out", data, "--rows", "20000", "--days", "3"], cwd=tmp_path, env=environ)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ |= {
        "DASHAPP_DATA_DIR": str(data),
        "DASHAPP_CACHE_DIR": str(tmp_path / "cache"),
        "DASHAPP_STATE_DIR": str(tmp_path / "state"),
        "DASHAPP_BIND": f"127.0.0.1:{port}",
        "DASHAPP_WORKERS": "1",
    }
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [venv / "bin/dashapp", "serve"], cwd=tmp_path, env=environ, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def ready() -> bool:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return fetch(url + "/readyz", timeout=5)[0] == 200
            except OSError:  # not listening yet
                return False

        wait_for(ready, "/readyz", timeout=120)
        status, body = fetch(url + "/api/charts/overview.volume?format=json")
        assert status == 200, body
        answer = json.loads(body)
        assert answer["ok"] and answer["chart"] == "overview.volume" and answer["figure"]["data"]
        status, body = fetch(url + "/api/charts/overview.volume?format=csv")
        assert status == 200, body
        rows = list(csv.reader(io.StringIO(body)))
        assert len(rows) > 1 and rows[0]  # the demo's predictions, counted
        # Without the export extra, an image is refused in words that say what to install.
        status, body = fetch(url + "/api/charts/overview.volume?format=svg")
        assert status == 501 and "dashapp[export]" in body
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        log.close()
    assert serve.returncode == 0, (tmp_path / "serve.log").read_text()
