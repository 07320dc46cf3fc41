"""Locust users for tests/bench/load_test.py: page loads with their Dash callbacks, and API calls.

Runs in its own venv (.venv-load: locust and its gevent there, not in the app's venv), so it imports
nothing from dashapp. The mix comes from load_test.py as JSON (--mix): the page URLs, the callback
bodies a real browser POSTs on each of them (captured in headless Chromium), and the API paths.
On exit it writes the statistics by request kind (page, callback, api) and in total to --report.

A user opens a page as a browser does: the document, /_dash-layout and /_dash-dependencies, then the
page's callbacks, at most six at a time (a browser's connections per host); then it reads for 1-3 s.
One task in five is an API call instead. Beside the users, two monitors (MonitorUser) scrape /metrics
and poll /api/alerts every second, reported apart. A panel that answers 200 but shows a failure or a refusal
(a red or amber alert in its footer) counts as an error. A callback that meets a kept-alive connection
the server has closed meanwhile is sent once more, as Chromium does, and counted apart.
"""

from __future__ import annotations

import json
import random

from gevent.pool import Pool
from geventhttpclient.response import HTTPConnectionClosed
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.stats import StatsEntry

KINDS = ("page", "callback", "api")
# geventhttpclient sends a GET again by itself when a kept-alive connection turns out closed, a POST not;
# a browser sends both again (the server closes idle connections after gunicorn's keepalive).
RECONNECT = "reconnect"
BROWSER_CONNECTIONS = 6
MIX: dict = {}


@events.init_command_line_parser.add_listener
def _arguments(parser):
    parser.add_argument("--mix", required=True, help="JSON of pages, their callback bodies and API paths")
    parser.add_argument("--report", required=True, help="where to write the JSON summary")


@events.init.add_listener
def _load_mix(environment, **_kwargs):
    with open(environment.parsed_options.mix) as mix:
        MIX.update(json.load(mix))


class PortalUser(FastHttpUser):
    wait_time = between(1, 3)
    concurrency = BROWSER_CONNECTIONS

    @task(4)
    def page_load(self):
        page = random.choice(MIX["pages"])
        name = page["url"].split("?")[0]
        for url in (page["url"], "/_dash-layout", "/_dash-dependencies"):
            self.client.get(url, name=f"page {name if url == page['url'] else url}")
        Pool(BROWSER_CONNECTIONS).map(self.callback, page["callbacks"])

    def callback(self, call: dict):
        """POST one callback; once more if the server had closed the kept-alive connection, as Chromium does."""
        for attempt in range(2):
            with self.client.post(
                "/_dash-update-component", json=call["body"], name=f"callback {call['name']}", catch_response=True
            ) as response:
                if attempt == 0 and isinstance(getattr(response, "error", None), HTTPConnectionClosed):
                    response.request_meta["name"] = f"{RECONNECT} {call['name']}"  # reported apart, not as an error
                    continue
                if response.status_code == 200 and (problem := panel_problem(response.text)):
                    response.failure(problem)
                return

    @task(1)
    def api(self):
        path = random.choice(MIX["api"])
        self.client.get(path, name=f"api {path}")


class MonitorUser(FastHttpUser):
    """What watches the portal while people use it: Prometheus scraping /metrics and a dashboard polling
    /api/alerts, each every second, named apart ("monitor ...") so their latency is reported on its own."""

    fixed_count = 2
    wait_time = between(0.5, 1.5)

    @task
    def scrape(self):
        self.client.get("/metrics", name="monitor /metrics")

    @task
    def poll(self):
        self.client.get("/api/alerts", name="monitor /api/alerts")


def panel_problem(text: str) -> str | None:
    """A panel's footer alert (danger: it failed; warning: refused, e.g. a query deadline), as an error kind."""
    for key, props in json.loads(text).get("response", {}).items():
        footer = props.get("children") if "chart-status" in key else None
        if isinstance(footer, dict) and footer.get("type") == "Alert":
            color = footer["props"].get("color")
            if color in ("danger", "warning"):
                return f"panel {color}: {str(footer['props'].get('children'))[:80]}"
    return None


@events.quitting.add_listener
def _report(environment, **_kwargs):
    stats = environment.stats
    rows = {kind: summary(merged(stats, (kind,))) for kind in KINDS}
    rows["total"] = summary(merged(stats, KINDS))
    counted = [e for e in stats.entries.values() if not e.name.startswith(RECONNECT)]
    slowest = sorted(counted, key=lambda e: e.get_response_time_percentile(0.95), reverse=True)
    errors = [e for e in stats.errors.values() if not e.name.startswith(RECONNECT)]
    errors.sort(key=lambda e: e.occurrences, reverse=True)
    report = {
        "rows": rows,
        "reconnects": merged(stats, (RECONNECT,)).num_requests,
        "slowest": [{"name": e.name, **summary(e)} for e in slowest[:5]],
        "monitor": {e.name: summary(e) for e in counted if e.name.startswith("monitor ")},
        "errors": [{"name": e.name, "error": str(e.error)[:160], "count": e.occurrences} for e in errors],
    }
    with open(environment.parsed_options.report, "w") as out:
        json.dump(report, out, indent=1)


def merged(stats, kinds: tuple[str, ...]) -> StatsEntry:
    """One entry for all requests whose name starts with one of `kinds` (names are "<kind> <what>")."""
    entry = StatsEntry(stats, " ".join(kinds), "")
    for one in stats.entries.values():
        if one.name.split(" ", 1)[0] in kinds:
            entry.extend(one)
    return entry


def summary(entry: StatsEntry) -> dict:
    return {
        "requests": entry.num_requests,
        "errors": entry.num_failures,
        "rps": entry.total_rps,
        **{f"p{q}": entry.get_response_time_percentile(q / 100) for q in (50, 95, 99)},
    }
