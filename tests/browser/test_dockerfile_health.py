"""The Dockerfile's HEALTHCHECK command against the real gunicorn (no Docker engine runs here to build the image)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.browser.server import ROOT, free_port


def healthcheck(bind: str, **env: str) -> int:
    """Run the Dockerfile's HEALTHCHECK command with DASHAPP_BIND as the image sets it (and `env`); its exit code."""
    found = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert found, "the Dockerfile has no HEALTHCHECK ... CMD [...] on a continuation line"
    command = json.loads(found.group(1))
    assert command[0] == "python"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")} | {"DASHAPP_BIND": bind} | env
    done = subprocess.run([sys.executable, *command[1:]], env=environ, timeout=30)
    return done.returncode


def test_dockerfile_healthcheck_passes_on_a_serving_gunicorn_and_fails_on_a_dead_port(server):
    assert healthcheck(f"0.0.0.0:{server.port}") == 0
    assert healthcheck(f"0.0.0.0:{free_port()}") != 0
