"""`dashapp serve`, what `make run` starts: gunicorn and the alert scheduler as two processes that live and stop
together. A scheduler that dies is started again and resumes from the store: the firing alerts keep their since."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil

from tests.browser.server import ROOT, fetch, free_port, wait_for


def test_serve_runs_the_scheduler_beside_gunicorn_restarts_it_and_stops_both(demo_dir, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")} | {
        "DASHAPP_DATA_DIR": str(demo_dir),
        "DASHAPP_CACHE_DIR": str(tmp_path / "cache"),
        "DASHAPP_STATE_DIR": str(tmp_path / "state"),
        "DASHAPP_BIND": f"127.0.0.1:{port}",
        "DASHAPP_WORKERS": "1",
        "DASHAPP_ALERT_INTERVAL": "2",
    }
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "dashapp.cli", "serve"], cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def evaluation() -> dict:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                status, body = fetch(url + "/readyz", timeout=5)
            except OSError:  # not listening yet
                return {}
            return json.loads(body).get("alerts", {}) if status in (200, 503) else {}

        wait_for(lambda: evaluation().get("evaluated_at"), "the first evaluation", timeout=120)
        (scheduler,) = [p for p in psutil.Process(serve.pid).children() if "scheduler" in p.cmdline()]
        store = tmp_path / "state" / "alerts.json"

        def drift_since() -> str:
            series = json.loads(store.read_text())["series"]
            return next(
                s["display"]["since"]
                for s in series
                if s["rule"] == "feature_drift" and s["labels"] == {"feature": "vix"}
            )

        since = drift_since()
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(timeout=10)
        wait_for(lambda: any("scheduler" in p.cmdline() for p in psutil.Process(serve.pid).children()), "a restart")
        before = json.loads(store.read_text())["evaluations_total"]
        wait_for(lambda: json.loads(store.read_text())["evaluations_total"] > before, "an evaluation", timeout=60)
        assert drift_since() == since  # the restarted scheduler went on from the store
        children = psutil.Process(serve.pid).children(recursive=True)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
        psutil.wait_procs(children, timeout=30)
        assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if serve.poll() is None:
            serve.kill()
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "the alert scheduler exited with -9; starting it again" in text and "Traceback" not in text
