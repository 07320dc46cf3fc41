"""Run the web server and the scheduler as two processes that start and stop together (`dashapp serve`).

The web server is the one that matters: when it exits, the scheduler is stopped and its exit code is
ours. A scheduler that dies is started again (after a pause, so a crash loop does not spin), since
without it the alert states go stale. SIGTERM and SIGINT are passed on to both.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time

log = logging.getLogger(__name__)
RESTART_PAUSE = 5.0
STOP_WAIT = 30.0


def supervise(web: list[str], scheduler: list[str]) -> int:
    """Run both commands until the web server exits; return its exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = False
    children = {"web": subprocess.Popen(web), "scheduler": subprocess.Popen(scheduler)}

    def forward(number, _frame):
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(number)

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, forward)
    restart_at = None
    while True:
        code = children["web"].poll()
        if code is not None:
            _stop(children["scheduler"])
            return code
        if children["scheduler"].poll() is not None and not stopping:
            if restart_at is None:
                log.error("the alert scheduler exited with %s; starting it again", children["scheduler"].returncode)
                restart_at = time.monotonic() + RESTART_PAUSE
            elif time.monotonic() >= restart_at:
                children["scheduler"], restart_at = subprocess.Popen(scheduler), None
        time.sleep(0.2)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            child.kill()
