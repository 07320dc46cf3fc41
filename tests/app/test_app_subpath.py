"""Serving under a URL prefix (DASHAPP_URL_PREFIX, dashapp/subpath.py) through Flask's test client: every route
moves under it, nothing is served outside it, and the links the portal gives carry it.

tests/browser/test_subpath.py runs the same behind nginx, in Chromium.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder

from dashapp import create_app
from dashapp.charts import get_chart, render
from dashapp.cli import main
from dashapp.db import Database
from dashapp.pages import page_for, shell
from dashapp.subpath import portal_path, url
from tests.app.test_app_auth import SECRET, basic, write_users
from tests.app.test_app_callbacks import GOOD_SEARCH
from tests.fixtures import RecordingCache

PREFIX = "/monitoring/"


@pytest.fixture(scope="module")
def prefixed(shared_config):
    return create_app(replace(shared_config, url_prefix=PREFIX)).server.test_client()


def nav_callback(client, pathname: str, search: str):
    """POST what the browser sends for the navigation links, under the prefix."""
    body = {
        "output": "nav-links.children",
        "outputs": {"id": "nav-links", "property": "children"},
        "inputs": [
            {"id": "url", "property": "pathname", "value": pathname},
            {"id": "url", "property": "search", "value": search},
        ],
        "changedPropIds": ["url.pathname"],
    }
    return client.post(f"{PREFIX}_dash-update-component", json=body)


def hrefs(component) -> list[str]:
    """Every href in a Dash component tree (or a callback's JSON answer)."""
    return re.findall(r'"href": "([^"]*)"', json.dumps(component, cls=PlotlyJSONEncoder))


@pytest.mark.parametrize(
    ("pathname", "portal"),
    [
        ("/monitoring/drift", "/drift"),
        ("/monitoring/", "/"),
        ("/monitoring", "/"),
        ("/monitoring/drift/", "/drift/"),
        ("/drift", None),
        ("/monitoringx/drift", None),
        (None, None),
        (["/monitoring/drift"], None),  # a forged callback input
    ],
)
def test_the_browsers_path_is_read_as_a_portal_path_under_the_prefix(pathname, portal):
    assert portal_path(PREFIX, pathname) == portal


def test_a_portal_path_is_asked_for_under_the_prefix_and_unchanged_at_the_root():
    assert url(PREFIX, "/drift?start=now-7d") == "/monitoring/drift?start=now-7d"
    assert url(PREFIX, "/") == PREFIX
    assert url("/", "/drift") == "/drift"
    assert portal_path("/", "/drift") == "/drift" and portal_path("/", "") == "/"


def test_pages_are_found_under_the_prefix_and_not_outside_it():
    assert page_for("/monitoring/drift", PREFIX).name == "Drift"
    assert page_for("/monitoring/", PREFIX).name == "Overview"
    assert page_for("/monitoring/operations/", PREFIX).name == "Operations"
    assert page_for("/drift", PREFIX) is None
    assert page_for("/drift").name == "Drift"  # the default prefix is the root


def test_the_navigation_and_the_brand_link_under_the_prefix_with_the_filters():
    links = shell.nav_links("/monitoring/drift", "?start=now-30d", PREFIX)
    assert [link.children.href for link in links][:3] == [
        "/monitoring/?start=now-30d",
        "/monitoring/quality?start=now-30d",
        "/monitoring/drift?start=now-30d",
    ]
    assert [link.children.active for link in links][2] is True
    assert hrefs(shell.layout(PREFIX))[0] == PREFIX  # the brand


def test_the_index_asks_for_every_script_style_and_callback_under_the_prefix(prefixed):
    response = prefixed.get(PREFIX)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith(PREFIX) for source in sources), sources
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', page)[1])
    assert config["requests_pathname_prefix"] == PREFIX
    for source in sources:  # the bundles and assets the page names answer under the prefix
        assert prefixed.get(source).status_code == 200, source
    assert prefixed.get(f"{PREFIX}_dash-layout").status_code == 200
    assert prefixed.get(f"{PREFIX}drift").status_code == 200  # a page: Dash's index, routed in the browser


def test_the_navigation_callback_answers_under_the_prefix_with_prefixed_links(prefixed):
    response = nav_callback(prefixed, "/monitoring/operations", "?start=now-30d")
    assert response.status_code == 200
    links = hrefs(response.get_json())
    assert "/monitoring/operations?start=now-30d" in links and all(link.startswith(PREFIX) for link in links)


@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/api/charts", "/metrics", "/embed/ops.latency", "/_dash-layout", "/monitoringx/"]
)
def test_nothing_is_served_outside_the_prefix(prefixed, path):
    response = prefixed.get(path)
    assert response.status_code == 404
    error = f"not found: the portal is served under {PREFIX}"
    assert response.get_json() == {"ok": False, "error": error, "status": 404}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_prefix_without_its_slash_redirects_to_it_keeping_the_query(prefixed):
    response = prefixed.get("/monitoring?start=now-30d")
    assert response.status_code == 308
    assert response.headers["Location"] == "/monitoring/?start=now-30d"


def test_the_api_health_metrics_and_embed_answer_under_the_prefix(prefixed):
    assert prefixed.get(f"{PREFIX}healthz").get_json() == {"ok": True}
    assert prefixed.get(f"{PREFIX}readyz").status_code == 200
    assert {c["id"] for c in prefixed.get(f"{PREFIX}api/charts").get_json()["charts"]} >= {"ops.latency"}
    chart = prefixed.get(f"{PREFIX}api/charts/ops.latency?{GOOD_SEARCH[1:]}")
    assert chart.status_code == 200 and chart.get_json()["chart"] == "ops.latency"
    csv = prefixed.get(f"{PREFIX}api/charts/ops.latency?{GOOD_SEARCH[1:]}&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    bad = prefixed.get(f"{PREFIX}api/charts/ops.latency?start=2024-13-01")
    assert bad.status_code == 400 and bad.get_json()["param"] == "start"
    assert prefixed.get(f"{PREFIX}api/nothing").status_code == 404
    # A route keeps its label with or without a prefix: dashboards on /metrics need no change.
    metrics = prefixed.get(f"{PREFIX}metrics").get_data(as_text=True)
    assert 'route="/api/charts/<chart_id>"' in metrics and 'route="/monitoring/' not in metrics


def test_the_embed_page_loads_its_scripts_and_style_under_the_prefix(prefixed):
    page = prefixed.get(f"{PREFIX}embed/ops.latency?{GOOD_SEARCH[1:]}").get_data(as_text=True)
    assert '<link rel="icon" href="data:,">' in page  # else the browser asks for /favicon.ico, outside the prefix
    sources = re.findall(r'(?:src|href)="(/[^"]*)"', page)
    assert len(sources) == 3 and all(source.startswith(f"{PREFIX}embed/") for source in sources), sources
    for source in sources:
        assert prefixed.get(source).status_code == 200, source


def test_alert_links_in_the_api_and_on_the_alerts_page_carry_the_prefix(prefixed):
    alerts = prefixed.get(f"{PREFIX}api/alerts?at=2024-03-04").get_json()["alerts"]
    assert alerts and all(alert["link"].startswith(PREFIX) for alert in alerts)
    assert {urlsplit(alert["link"]).path for alert in alerts} <= {
        url(PREFIX, page) for page in ("/operations", "/drift", "/sentiment", "/quality", "/backtests")
    }
    query = f"{GOOD_SEARCH[1:]}&format=csv"
    table = pd.read_csv(io.StringIO(prefixed.get(f"{PREFIX}api/charts/alerts.current?{query}").get_data(as_text=True)))
    assert len(table) and table["link"].str.startswith(PREFIX).all()
    figure = prefixed.get(f"{PREFIX}api/charts/alerts.current?{GOOD_SEARCH[1:]}").get_json()["figure"]
    cells = json.dumps(figure["data"])
    assert "href='/monitoring/" in cells and "href='/operations" not in cells and "href='/drift" not in cells


def test_servers_under_other_prefixes_share_the_alert_tables_entry_each_linking_under_its_own(shared_config, tmp_path):
    cache = RecordingCache(tmp_path / "shared")
    args = {"start": ["2024-03-01"], "end": ["2024-03-04"]}
    spec = get_chart("alerts.current")
    at_root = render(spec, args, Database(shared_config, cache=cache))
    cache.forget()
    under = render(spec, args, Database(replace(shared_config, url_prefix=PREFIX), cache=cache))
    assert cache.read and not cache.written  # the entry holds portal paths: nothing computed again
    assert list(under.data["link"]) == [url(PREFIX, link) for link in at_root.data["link"]]
    assert all(link.startswith("/") and not link.startswith(PREFIX) for link in at_root.data["link"])


def test_a_signed_embed_under_the_prefix_opens_and_loads_its_files_for_the_token_alone(shared_config, tmp_path):
    """Without a portal user, the embed page's files are allowed for the signed page they are loaded by (Referer):
    the Referer's path carries the prefix."""
    write_users(tmp_path / "users", alice="wonderland")
    client = create_app(
        replace(shared_config, url_prefix=PREFIX, embed_secret=SECRET, auth="basic", users_file=tmp_path / "users")
    ).server.test_client()
    signed = _sign(["--param", "start=2024-03-01", "--param", "end=2024-03-04"], url_prefix=PREFIX)
    parts = urlsplit(signed)
    assert parts.path == f"{PREFIX}embed/ops.latency"
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    referer = f"http://localhost{parts.path}?{parts.query}"
    for source in re.findall(r'(?:src|href)="(/[^"]*)"', page.get_data(as_text=True)):
        assert client.get(source, headers={"Referer": referer}).status_code == 200, source
        assert client.get(source).status_code == 401, source  # the file alone is the portal's
    assert client.get(f"{PREFIX}api/charts", headers=basic("alice", "wonderland")).status_code == 200


def _sign(argv: list[str], **env: str) -> str:
    """`dashapp sign-url ops.latency` with the secret and these DASHAPP_* settings, its link."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DASHAPP_EMBED_SECRET", SECRET)
        for name, value in env.items():
            patch.setenv(f"DASHAPP_{name.upper()}", value)
        out = io.StringIO()
        patch.setattr("sys.stdout", out)
        assert main(["sign-url", "ops.latency", *argv]) == 0
    return out.getvalue().strip()


@pytest.mark.parametrize(
    ("base", "env", "start"),
    [
        (None, {"url_prefix": PREFIX, "bind": "127.0.0.1:9000"}, "http://127.0.0.1:9000/monitoring/embed/"),
        (None, {"url_prefix": PREFIX, "public_url": "https://example.com"}, "https://example.com/monitoring/embed/"),
        ("https://example.com", {"url_prefix": PREFIX}, "https://example.com/monitoring/embed/"),
        ("https://example.com/monitoring/", {"url_prefix": PREFIX}, "https://example.com/monitoring/embed/"),
        ("https://example.com/", {}, "https://example.com/embed/"),
    ],
)
def test_sign_url_links_start_with_the_portals_address_under_the_prefix(base, env, start):
    link = _sign(["--param", "start=now-7d", *(["--base", base] if base else [])], **env)
    assert link.startswith(start + "ops.latency?start=now-7d&token=")
    assert [name for name, _ in parse_qsl(urlsplit(link).query)] == ["start", "token"]


def test_sign_url_refuses_a_base_under_another_path_naming_it(monkeypatch, capsys):
    monkeypatch.setenv("DASHAPP_EMBED_SECRET", SECRET)
    monkeypatch.setenv("DASHAPP_URL_PREFIX", PREFIX)
    assert main(["sign-url", "ops.latency", "--base", "https://example.com/portal"]) == 2
    assert "--base: must have no path or the URL prefix /monitoring/" in capsys.readouterr().err
