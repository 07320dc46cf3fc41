"""Real servers on free loopback ports for the browser and server tests: gunicorn serving dashapp, redis-server,
moto's S3 API server."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
# gunicorn runs with cwd = ROOT, which it puts first on sys.path: this checkout's dashapp and its settings.
GUNICORN_CONFIG = "python:dashapp.gunicorn_conf"
REDIS_SERVER = shutil.which("redis-server")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # /usr/sbin is not on every user's PATH


def gunicorn_config(root: Path) -> str:
    """The settings of the checkout at `root`: the package's module, or the file an earlier commit (benchmarked
    against this one) kept at its top."""
    legacy = root / "gunicorn.conf.py"
    return str(legacy) if legacy.exists() else GUNICORN_CONFIG


def fetch(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 60) -> tuple[int, str]:
    """GET (or POST `data`) and return the status and the body as text, for error statuses too."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real gunicorn serving dashapp on a free loopback port (datasette's wait_for_server)."""

    def __init__(
        self,
        data_dir: Path,
        cache_dir: Path,
        app: str | None = None,
        scheduler: bool = False,
        root: Path = ROOT,
        log_dir: Path | None = None,
        **env,
    ):
        """`app`: another WSGI target than dashapp.gunicorn_conf's (module:variable); `scheduler`: run the alert
        scheduler beside it, as `dashapp serve` does; `root`: the checkout to serve (another release, for the
        benchmarks); `log_dir`: where its log goes (default: the cache folder, unless a test breaks that folder);
        `env`: DASHAPP_* and others (None leaves a variable out)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (log_dir or cache_dir) / "gunicorn.log"
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")}
        self.environ |= {
            "DASHAPP_DATA_DIR": str(data_dir),
            "DASHAPP_CACHE_DIR": str(cache_dir),
            "DASHAPP_STATE_DIR": str(cache_dir.parent / f"{cache_dir.name}-state"),
            "DASHAPP_BIND": f"127.0.0.1:{self.port}",
            "DASHAPP_WORKERS": "2",
        } | env
        self.environ = {k: v for k, v in self.environ.items() if v is not None}
        self.prefix = self.environ.get("DASHAPP_URL_PREFIX", "/")  # where it serves /healthz and the rest
        self.root = root
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [gunicorn, "--config", gunicorn_config(root), "--no-control-socket", *([app] if app else [])],
            cwd=root,
            env=self.environ,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.scheduler = self.start_scheduler() if scheduler else None

    def start_scheduler(self, *args: str) -> subprocess.Popen:
        """A `dashapp scheduler` process on the server's settings, logging into the server's log."""
        command = [sys.executable, "-m", "dashapp.cli", "scheduler", *args]
        return subprocess.Popen(
            command, cwd=self.root, env=self.environ, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def wait(self, timeout: float = 60) -> Server:
        """Until /healthz answers, and, with a scheduler, until /readyz reports its first evaluation."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}{self.prefix}healthz", timeout=1) as response:
                    if response.status == 200 and (self.scheduler is None or self.evaluated()):
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.log.read_text()}")

    def evaluated(self) -> bool:
        status, body = fetch(f"{self.url}{self.prefix}readyz", timeout=5)
        return '"evaluated_at":"' in body.replace(" ", "")

    def stop(self) -> None:
        """Stop the scheduler (SIGTERM) and gunicorn quickly (SIGINT): a graceful stop (SIGTERM) waits for the
        browser's kept-alive and in-flight requests, 15 s and more a server in the suite's teardowns, and no test
        asks for one here (the graceful reload test signals gunicorn itself)."""
        for process, sig in ((self.scheduler, signal.SIGTERM), (self.process, signal.SIGINT)):
            if process is not None and process.poll() is None:
                process.send_signal(sig)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self._log_file.close()


class RedisServer:
    """A real redis-server on a loopback port, no persistence; the test starts, stops and restarts it."""

    def __init__(self, folder):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.process = None

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        with (self.folder / "redis.log").open("a") as log:
            self.process = subprocess.Popen([REDIS_SERVER, *args, "--dir", str(self.folder)], stdout=log, stderr=log)
        wait_for(self._answers, "redis-server to answer PING")
        return self

    def _answers(self) -> bool:
        try:
            with self.client() as client:
                return client.ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # in case a test froze it
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)


class Nginx:
    """Debian's nginx in the foreground (`nginx -g 'daemon off;' -p DIR -c FILE`) on a loopback port, serving
    `servers` (the text of an http {} block's server blocks, which listen on `port`); its pid, logs and temporary
    files stay in `folder`."""

    def __init__(self, folder: Path, servers: str, port: int, connections: int = 256):
        """`connections`: nginx's worker_connections (each proxied request takes two: the client's, the upstream's)."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = folder / "nginx.log"
        (folder / "temp").mkdir(parents=True, exist_ok=True)
        # As root (CI), nginx's workers would run as nobody, who cannot read the test's folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        config = folder / "nginx.conf"
        config.write_text(
            f"""{user}worker_processes 1;
error_log stderr warn;
pid {folder}/nginx.pid;
worker_rlimit_nofile {2 * connections};
events {{ worker_connections {connections}; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/temp/body;
    proxy_temp_path {folder}/temp/proxy;
    fastcgi_temp_path {folder}/temp/fastcgi;
    uwsgi_temp_path {folder}/temp/uwsgi;
    scgi_temp_path {folder}/temp/scgi;
{servers}
}}
"""
        )
        self._log_file = self.log.open("w")
        command = [NGINX, "-e", "stderr", "-p", f"{folder}/", "-c", str(config), "-g", "daemon off;"]
        self.process = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT)

    def wait(self) -> Nginx:
        wait_for(lambda: self.process.poll() is not None or self._listens(), "nginx to listen")
        assert self.process.poll() is None, f"nginx stopped:\n{self.log.read_text()}"
        return self

    def _listens(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # nginx's fast shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


def wait_for(condition, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class CeleryProcess:
    """`celery -A dashapp.celery_app worker` (one prefork process: Cancel can terminate its job, and a test can
    kill it) or `... beat`, on loopback with the given DASHAPP_* settings, logging into `folder`."""

    def __init__(self, folder: Path, kind: str = "worker", **env):
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"celery-{kind}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")} | env
        celery = str(Path(sys.executable).parent / "celery")
        if kind == "worker":
            args = ["--pool", "prefork", "--concurrency", "1", "--hostname", f"dashapp-test-{free_port()}@%h"]
            args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        else:
            args = ["--schedule", str(folder / "celerybeat-schedule")]
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [celery, "-A", "dashapp.celery_app", kind, "--loglevel", "INFO", *args],
            cwd=ROOT,
            env=environ,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.ready = " ready." if kind == "worker" else "beat: Starting..."

    def wait(self) -> CeleryProcess:
        wait_for(lambda: self.ready in self.text() or self.process.poll() is not None, "celery", timeout=90)
        assert self.process.poll() is None, self.text()
        return self

    def text(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


class MotoServer:
    """moto's standalone S3 API (`moto_server`) on a loopback port, a real HTTP S3 for the object storage tests.

    It keeps objects in memory: a restart starts empty. Any key is accepted; the secret is random per server so
    a test can look for it where it must not appear. `env` holds the standard AWS variables for a client.
    """

    def __init__(self, folder: Path, port: int | None = None):
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.secret = "dashapp-secret-" + secrets.token_hex(12)
        self.env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "eu-west-1",  # s3fs sends us-east-1 as a location constraint, which S3 refuses
            "AWS_ACCESS_KEY_ID": "dashapp-test-key",
            "AWS_SECRET_ACCESS_KEY": self.secret,
        }
        self.folder = folder
        self.process = None
        self._fs = None

    def start(self) -> MotoServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fs = None  # a restarted server: a new client, not the old one's pooled connections
        moto = str(Path(sys.executable).parent / "moto_server")
        with (self.folder / "moto.log").open("a") as log:
            self.process = subprocess.Popen(
                [moto, "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._answers, "moto_server to answer")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def filesystem(self):
        """An s3fs client of this server, from explicit settings (the test process's environment is left alone); made
        once, as botocore takes most of a second to make a client."""
        import s3fs

        if self._fs is None:
            self._fs = s3fs.S3FileSystem(
                key=self.env["AWS_ACCESS_KEY_ID"],
                secret=self.secret,
                endpoint_url=self.endpoint,
                client_kwargs={"region_name": self.env["AWS_REGION"]},
                skip_instance_cache=True,
                use_listings_cache=False,
            )
        return self._fs

    def upload(self, folder: Path, bucket: str, prefix: str) -> str:
        """Put a data folder's files under s3://bucket/prefix/ (making the bucket); return that URL."""
        fs = self.filesystem()
        if not fs.exists(bucket):
            fs.mkdir(bucket)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            fs.put_file(str(path), f"{bucket}/{prefix}/{path.relative_to(folder).as_posix()}")
        return f"s3://{bucket}/{prefix}"
