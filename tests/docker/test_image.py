"""The Docker image, built from the Dockerfile and run for real (`make docker-test`; podman, as no Docker engine runs
here). The base image is made from Debian's own packages (debootstrap) and passed in through the Dockerfile's
PYTHON_IMAGE argument, since image registries are out of reach; everything after it is the Dockerfile's own: the
wheel, the lock installed with hashes, the Chromium variant. The container runs read-only with the demo mounted
read-only, and serves it as the unprivileged user."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.browser.server import fetch, free_port, wait_for

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
BASE = "localhost/dashapp-base:bookworm-python3.11"
IMAGE = "localhost/dashapp:test"
# runc and cgroupfs: crun fails on these machines' hybrid cgroups.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
APP_UID = 10001


def podman(*args, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run([*PODMAN, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"podman {' '.join(map(str, args))}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


_failed: list[str] = []  # a module fixture that fails is set up again for each test: build once, fail once


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    if _failed:
        pytest.fail(_failed[0])
    try:
        return _build(tmp_path_factory)
    except BaseException as exc:
        _failed.append(f"the image did not build: see the first test's error ({type(exc).__name__})")
        raise


def _build(tmp_path_factory) -> str:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: `make docker-test` installs it")
    if podman("image", "exists", BASE, check=False).returncode != 0:
        # Debian bookworm's python3 is 3.11, the version the lock is made for (about 40 s, 280 MB).
        rootfs = tmp_path_factory.mktemp("rootfs")
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm"]
            + [str(rootfs), "http://deb.debian.org/debian"],
            check=True,
            capture_output=True,
            timeout=900,
        )
        (rootfs / "usr/bin/python").symlink_to("python3")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run([*PODMAN, "import", "-", BASE], stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()
    # Chroot isolation with the host's CA bundle, so pip and apt reach the registries from the build; the docker
    # format keeps the HEALTHCHECK.
    podman(
        "build", "--isolation", "chroot", "--format", "docker", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
        "--build-arg", f"PYTHON_IMAGE={BASE}", "--build-arg", "WITH_CHROMIUM=1", "-t", IMAGE, REPO,
    )  # fmt: skip
    return IMAGE


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "data"
    subprocess.run(
        [sys.executable, "-m", "dashapp.cli", "demo", "--out", str(folder), "--rows", "20000", "--days", "3"],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)  # readable by the container's user
    return folder


@pytest.fixture(scope="module")
def container(image, demo):
    name = f"dashapp-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    podman(
        "run", "-d", "--name", name, "--network", "host", "--ulimit", "nofile=1024:1024",
        "--ulimit", "nproc=4096:4096", "--read-only", "--tmpfs", "/tmp",
        "-v", f"{demo}:/data:ro", "-e", f"DASHAPP_BIND=127.0.0.1:{port}", "-e", "DASHAPP_WORKERS=1", image,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            state = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            assert state == "true", podman("logs", name, check=False).stdout[-3000:]
            try:
                return fetch(url + "/readyz", timeout=5)[0] == 200
            except OSError:
                return False

        wait_for(ready, "the container's /readyz", timeout=180)
        yield name, url
    finally:
        logs = podman("logs", name, check=False)
        Path(demo.parent / "container.log").write_text(logs.stdout + logs.stderr)
        podman("rm", "--force", "--time", "10", name, check=False)


def test_the_image_serves_the_demo_read_only_with_a_passing_healthcheck(container):
    name, url = container
    status, body = fetch(url + "/readyz")
    assert status == 200 and json.loads(body)["ok"], body
    status, body = fetch(url + "/api/charts/overview.volume?format=json")
    assert status == 200 and json.loads(body)["figure"]["data"], body[:500]
    # The Dockerfile's HEALTHCHECK (kept by the docker format) run by podman in the container.
    assert podman("healthcheck", "run", name, check=False).returncode == 0


def test_the_chromium_variant_exports_a_png(container):
    _, url = container
    request = f"{url}/api/charts/overview.volume?format=png&width=600&height=300"
    import urllib.request

    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/png"
        assert response.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_portal_runs_as_the_unprivileged_user_and_writes_only_its_own_folders(container):
    name, _ = container
    # PID 1 is `dashapp serve`; gunicorn and the scheduler are its children, as the same user.
    status = podman("exec", name, "cat", "/proc/1/status").stdout
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert set(uids) == {str(APP_UID)}
    probe = (
        "import sys\n"
        "for folder in sys.argv[1:]:\n"
        "    try:\n"
        "        open(folder + '/.probe', 'w').close()\n"
        "        print(folder, 'writable')\n"
        "    except OSError:\n"
        "        print(folder, 'refused')\n"
    )
    folders = ["/var/cache/dashapp", "/var/lib/dashapp", "/data", "/opt/venv/bin", "/etc", "/"]
    answers = dict(line.split() for line in podman("exec", name, "python", "-c", probe, *folders).stdout.splitlines())
    assert answers == {
        "/var/cache/dashapp": "writable",
        "/var/lib/dashapp": "writable",  # the alert state store
        "/data": "refused",
        "/opt/venv/bin": "refused",
        "/etc": "refused",
        "/": "refused",
    }
