"""Faults that are about the server (docs/reliability.md 8, 10-13), tried on a real gunicorn."""

from __future__ import annotations

import json
import signal
import socket
import statistics
import threading
import time

import pytest

from tests.browser.server import Server, fetch


def started(*args, **kwargs) -> Server:
    return Server(*args, **kwargs).wait(60)


def stopped_log(server: Server) -> str:
    server.stop()
    return server.log.read_text()


def test_a_forced_exception_is_a_generic_500_with_an_id_and_the_details_only_in_the_log(demo_dir, tmp_path):
    server = started(demo_dir, tmp_path / "cache", app="tests.browser.failing_wsgi:server")
    try:
        status, body = fetch(server.url + "/api/charts")
        index = fetch(server.url + "/")[1]
        console = fetch(server.url + "/console")[1]  # werkzeug's debugger console, were debug on
    finally:
        log = stopped_log(server)
    error = json.loads(body)
    assert status == 500 and error["error"].startswith("internal error (id ")
    assert "forced failure" not in body and "Traceback" not in body
    error_id = error["error"].removeprefix("internal error (id ").rstrip(")")
    assert f"error id {error_id}" in log and "detail-that-must-stay-in-the-log" in log and "Traceback" in log
    assert '"ui":false' in index.replace(" ", "")  # Dash's dev tools are off
    assert "Interactive Console" not in console and "__debugger__" not in console  # Dash's page for any path


def post_status(server: Server, path: str, body: bytes) -> int:
    """POST over a raw socket: the server may answer and close before the body is sent (a broken pipe here)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        sock.sendall(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        try:
            for i in range(0, len(body), 65536):
                sock.sendall(body[i : i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        return int(sock.recv(65536).split(b" ", 2)[1])


def test_oversized_requests_are_refused_and_the_next_one_is_served(server):
    assert post_status(server, "/_dash-update-component", b"{" + b" " * (10 * 1024 * 1024) + b"}") == 413
    status, _ = fetch(server.url + "/api/charts?" + "x=" + "y" * 64 * 1024)
    assert status == 414
    status, _ = fetch(server.url + "/api/charts/ops.latency", headers={"X-Big": "z" * 16 * 1024})
    assert status == 431  # gunicorn's limit_request_field_size
    assert fetch(server.url + "/healthz")[0] == 200


@pytest.mark.parametrize(
    ("query", "param", "says"),
    [
        ("start=2016-01-01&end=2026-01-01&bucket=1m", "start", "at most 1098 days"),
        ("start=2025-01-01&end=2026-01-01&bucket=1m", "bucket", "the finest allowed is 6h"),
        ("bins=1000000", "bins", "is not a parameter of ops.latency"),
        ("symbol=" + "&symbol=".join(f"S{i}" for i in range(51)), "symbol", "at most 50 values"),
    ],
)
def test_expensive_requests_are_refused_naming_what_to_change(server, query, param, says):
    status, body = fetch(f"{server.url}/api/charts/ops.latency?{query}")
    error = json.loads(body)
    assert status == 400 and error["param"] == param and says in error["error"], body


def test_a_slow_view_is_stopped_at_the_deadline_and_the_worker_keeps_serving(million, tmp_path):
    server = started(million, tmp_path / "cache", DASHAPP_QUERY_TIMEOUT="0.05", DASHAPP_WORKERS="1")
    try:
        began = time.perf_counter()
        status, body = fetch(server.url + "/api/charts/drift.features?start=2026-11-15&end=2026-11-20")
        took = time.perf_counter() - began
        after = [fetch(server.url + path)[0] for path in ("/healthz", "/api/charts", "/readyz")]
    finally:
        log = stopped_log(server)
    assert status == 503, body
    error = json.loads(body)
    assert error["reason"] == "deadline" and "narrow the time range" in error["error"]
    assert took < 10  # stopped, not left to run (cold, uncapped, it takes seconds here)
    assert after == [200, 200, 200]
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log


def test_cached_views_stay_fast_while_heavy_cold_views_run_on_every_worker_and_thread(million, tmp_path):
    """Bounded: 8 clients for 12 s on loopback. Cold views each ask a new window; cached views repeat one."""
    server = started(million, tmp_path / "cache")
    cached = server.url + "/api/charts/ops.latency?start=2026-11-15&end=2026-11-20"
    fetch(cached)
    errors, light = [], []
    stop = time.monotonic() + 12

    def cold(worker: int) -> None:
        minute = 0
        while time.monotonic() < stop:
            minute += 1
            window = f"start=2026-11-15T00:{minute % 60:02d}&end=2026-11-20T0{worker}:{minute // 60:02d}"
            status, body = fetch(f"{server.url}/api/charts/sentiment.calibration?{window}")
            if status not in (200, 503) or (status == 503 and '"reason":"busy"' not in body.replace(" ", "")):
                errors.append((status, body[:200]))

    def warm() -> None:
        while time.monotonic() < stop:
            began = time.perf_counter()
            status, body = fetch(cached)
            light.append(time.perf_counter() - began)
            if status != 200:
                errors.append((status, body[:200]))

    threads = [threading.Thread(target=cold, args=(i,)) for i in range(3)] + [
        threading.Thread(target=warm) for _ in range(5)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        log = stopped_log(server)
    assert errors == [] and "Traceback" not in log
    p95 = statistics.quantiles(light, n=20)[-1]
    assert len(light) > 50 and p95 < 1.0, f"cached p95 {p95:.3f} s over {len(light)} requests"


def test_worker_recycling_and_graceful_reloads_during_requests_lose_no_request(demo_dir, tmp_path):
    server = started(
        demo_dir, tmp_path / "cache", GUNICORN_CMD_ARGS="--max-requests 40 --max-requests-jitter 10 --workers 2"
    )
    urls = [server.url + path for path in ("/healthz", "/api/charts", "/api/charts/ops.latency?start=now-3d", "/")]
    results: list[int | str] = []
    stop = time.monotonic() + 12

    def client(offset: int) -> None:
        i = offset
        while time.monotonic() < stop:
            try:
                results.append(fetch(urls[i % len(urls)], timeout=30)[0])
            except OSError as exc:  # a refused or reset connection
                results.append(type(exc).__name__)
            i += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for _ in range(2):
            time.sleep(4)
            server.process.send_signal(signal.SIGHUP)  # graceful reload: new workers, old ones finish
        for thread in threads:
            thread.join(60)
    finally:
        log = stopped_log(server)
    failures = [r for r in results if r != 200]
    assert len(results) > 100 and failures == [], f"{len(failures)} of {len(results)} failed: {failures[:5]}"
    assert log.count("Booting worker") >= 6  # 2 at start, 2 per reload, and recycled ones
    assert "Autorestarting worker" in log and "Traceback" not in log
