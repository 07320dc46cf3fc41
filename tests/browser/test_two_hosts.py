"""Several hosts, one cache: two gunicorn servers with cache folders of their own share one real redis-server as
their results cache. What one computes the other reads, and a cold chart asked of both at once is computed once
(the Redis lock around the single flight), as the DuckDB query counters of both hosts' /metrics say."""

from __future__ import annotations

import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.server import REDIS_SERVER, RedisServer, Server, fetch

PER_HOST = 3  # requests each host gets at once


@pytest.fixture(scope="module")
def cluster(demo_dir, tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed: `make test` installs Debian's redis-server")
    folder = tmp_path_factory.mktemp("two-hosts")
    redis_server = RedisServer(folder / "redis").start()
    # One worker each: a worker's first request opens its views, which is not what is counted here.
    env = {"DASHAPP_CACHE_REDIS_URL": redis_server.url, "DASHAPP_WORKERS": "1"}
    hosts = [Server(demo_dir, folder / f"host-{n}", **env) for n in (1, 2)]
    try:
        hosts = [host.wait() for host in hosts]
        for host in hosts:  # each worker's first request, before anything is counted
            assert fetch(host.url + "/api/charts/quality.rows?format=csv")[0] == 200
        yield redis_server, hosts
    finally:
        for host in hosts:
            host.stop()
        redis_server.stop()
    for host in hosts:
        assert "Traceback" not in host.log.read_text(), host.log.read_text()[-3000:]


def queries_run(host: Server) -> float:
    """All DuckDB queries the host has run (cache misses), from its /metrics."""
    status, body = fetch(host.url + "/metrics")
    assert status == 200
    families = text_string_to_metric_families(body)
    return sum(s.value for f in families if f.name == "dashapp_duckdb_queries" for s in f.samples)


def url(chart: str) -> str:
    """The chart's data over the demo's last three days."""
    return f"/api/charts/{chart}?format=csv&start=now-3d"


def test_a_chart_computed_on_one_host_is_a_hit_on_the_other(cluster):
    _, (one, other) = cluster
    before = queries_run(one), queries_run(other)
    status, computed = fetch(one.url + url("ops.latency"))
    assert status == 200 and queries_run(one) > before[0]
    status, read = fetch(other.url + url("ops.latency"))
    assert status == 200 and read == computed
    assert queries_run(other) == before[1]  # not one query: every result came from Redis


def test_a_cold_chart_asked_of_both_hosts_at_once_is_computed_once(cluster):
    redis_server, hosts = cluster
    chart = url("overview.volume")

    def cold_run(requests: list) -> float:
        """The queries both hosts ran for `requests` (host, path) sent at once, with the cache emptied first."""
        with redis_server.client() as client:
            client.flushdb()
        before = sum(queries_run(host) for host in hosts)
        start = threading.Barrier(len(requests))
        answers = []

        def ask(host: Server) -> None:
            start.wait()
            answers.append(fetch(host.url + chart))

        threads = [threading.Thread(target=ask, args=(host,)) for host in requests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(answers) == len(requests) and {status for status, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1
        return sum(queries_run(host) for host in hosts) - before

    alone = cold_run([hosts[0]])
    assert alone > 0
    assert cold_run([host for host in hosts for _ in range(PER_HOST)]) == alone
