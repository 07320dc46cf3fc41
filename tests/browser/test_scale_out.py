"""Several hosts: two gunicorn servers with cache folders of their own, one redis-server (the Celery broker and
the alert state store), one Celery worker and one beat, all real processes on loopback, started for the module.

The worker's first evaluation is killed half-way (its process, SIGKILL): Celery puts the task back, another
process of the worker evaluates once the dead one's lock lapses, and nothing is written twice.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.server import REDIS_SERVER, CeleryProcess, RedisServer, Server, fetch, wait_for

INTERVAL = 2  # seconds between evaluations: several intervals fit in a test
STATE = "dashapp:alerts:state"


@pytest.fixture(scope="module")
def cluster(demo_dir, tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed: `make test` installs Debian's redis-server")
    folder = tmp_path_factory.mktemp("scale-out")
    redis_server = RedisServer(folder / "redis").start()
    env = {
        "DASHAPP_DATA_DIR": str(demo_dir),
        "DASHAPP_CELERY_BROKER_URL": redis_server.url,
        "DASHAPP_STATE_REDIS_URL": redis_server.url.replace("/0", "/1"),
        "DASHAPP_ALERT_INTERVAL": str(INTERVAL),
    }
    worker = CeleryProcess(folder / "worker", "worker", DASHAPP_CACHE_DIR=str(folder / "worker-cache"), **env)
    beat = CeleryProcess(folder / "beat", "beat", DASHAPP_CACHE_DIR=str(folder / "beat-cache"), **env)
    hosts = [Server(demo_dir, folder / f"host-{n}", **env) for n in (1, 2)]
    processes = [worker, beat, *hosts]
    try:
        yield redis_server, worker, [host.wait() for host in hosts]
    finally:
        with ThreadPoolExecutor() as pool:  # each waits seconds for its processes to finish
            list(pool.map(lambda process: process.stop(), processes))
        redis_server.stop()
    for process in processes:  # the only traceback: the worker reporting the process the test killed
        lines = process.log.read_text().splitlines()
        for n, line in enumerate(lines):
            assert "Traceback" not in line or "WorkerLostError" in "".join(lines[n : n + 8]), "\n".join(lines[n:])


def state(redis_server) -> dict:
    with redis_server.client() as client:
        client.execute_command("SELECT", 1)
        raw = client.get(STATE)
    return json.loads(raw) if raw else {}


def evaluations(host: Server) -> float:
    status, body = fetch(host.url + "/metrics")
    assert status == 200
    samples = [s for f in text_string_to_metric_families(body) for s in f.samples]
    return next(s.value for s in samples if s.name == "dashapp_alert_evaluations_total")


def test_a_worker_killed_mid_evaluation_loses_nothing_and_writes_nothing_twice(cluster):
    redis_server, worker, _ = cluster
    lock = redis_server.client()
    lock.execute_command("SELECT", 1)
    wait_for(lambda: lock.get(STATE + ":lock"), "the worker to start the first evaluation", timeout=90)
    holder = lock.get(STATE + ":lock").decode()
    assert not state(redis_server), "the first evaluation was meant to be killed before it committed"
    os.kill(int(holder.split(":")[1]), signal.SIGKILL)  # the pool process evaluating: host:pid:token
    wait_for(lambda: "WorkerLostError" in worker.text() or "exited with 'signal 9" in worker.text(), "the loss")
    wait_for(lambda: state(redis_server).get("evaluations_total"), "the evaluation done again", timeout=90)
    doc = state(redis_server)
    assert doc["evaluations_total"] == len(doc["runs"]) == 1  # the killed one wrote nothing
    assert int(holder.split(":")[1]) not in {int(run["evaluator"].split(":")[1]) for run in doc["runs"]}
    firing = {(s["rule"], tuple(s["labels"].values())) for s in doc["series"] if s["display"]["state"] == "firing"}
    assert ("feature_drift", ("vix",)) in firing  # the demo's drift episode, still going on: the states are there
    for part, key in (("transitions", "bucket"), ("periods", "start")):
        rows = [(row["rule"], json.dumps(row["labels"]), row[key]) for row in doc[part]]
        assert len(rows) == len(set(rows)), f"{part} written twice"


def test_both_hosts_show_the_same_states_and_one_evaluation_runs_per_interval(cluster):
    redis_server, _, hosts = cluster
    wait_for(lambda: state(redis_server).get("evaluations_total", 0) >= 3, "evaluations to follow", timeout=90)
    answers = []
    for _ in range(20):  # an evaluation may commit between the two reads: read again until they agree
        answers = [json.loads(fetch(host.url + "/api/alerts")[1]) for host in hosts]
        if answers[0]["evaluation"] == answers[1]["evaluation"]:
            break
    assert answers[0]["alerts"] == answers[1]["alerts"] and answers[0]["worst"] == "critical"
    started, counted = time.monotonic(), evaluations(hosts[0])
    time.sleep(6 * INTERVAL)
    elapsed = (time.monotonic() - started) / INTERVAL
    ran = evaluations(hosts[1]) - counted  # the count as the other host reads it
    assert elapsed - 2 <= ran <= elapsed + 1
    slots = [run["slot"] for run in state(redis_server)["runs"]]
    assert slots == sorted(set(slots)), "an interval evaluated twice"
