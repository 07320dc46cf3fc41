"""The Share menu's links (embed.share_links, sign_url_command), the menu itself (pages/share.py), and the access
log's redaction of tokens (accesslog.py), through Flask's test client and the real token signing."""

from __future__ import annotations

import html
import os
import shlex
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from dash.exceptions import PreventUpdate
from werkzeug.datastructures import MultiDict

from dashapp import create_app
from dashapp.accesslog import REDACTED, redact
from dashapp.auth import Tokens, query_pairs
from dashapp.cli import main
from dashapp.embed import CHROME_HEIGHT, share_links, sign_url_command
from dashapp.pages.share import LIFETIMES, share_menu

SECRET = "share-test-secret-" + "s" * 32
CHART = "ops.latency"
HOST = "https://portal.example.com"
# The page's query: two of the chart's filters, a parameter of another chart on the page, and the portal's own.
HREF = f"{HOST}/operations?start=2024-03-01&end=2024-03-04&symbol=AAPL&symbol=MSFT&feature=x&theme=dark&refresh=1m"
CHART_QUERY = "start=2024-03-01&end=2024-03-04&symbol=AAPL&symbol=MSFT&theme=dark"
BUTTON = {"type": "chart-share", "chart": CHART}


def pairs_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def test_plain_links_carry_the_charts_filters_and_the_theme_to_the_embed_page_and_every_export():
    links = share_links(HREF, CHART, "/")
    embed = f"{HOST}/embed/{CHART}?{CHART_QUERY}&refresh=1m"
    assert links == {
        "page": HREF,
        "embed": embed,
        "iframe": f'<iframe src="{html.escape(embed)}" width="100%" height="{340 + CHROME_HEIGHT}"'
        ' frameborder="0"></iframe>',
        "csv": f"{HOST}/api/charts/{CHART}?{CHART_QUERY}&format=csv",
        "png": f"{HOST}/api/charts/{CHART}?{CHART_QUERY}&format=png&width=1000&height=340",
        "svg": f"{HOST}/api/charts/{CHART}?{CHART_QUERY}&format=svg&width=1000&height=340",
        "json": f"{HOST}/api/charts/{CHART}?{CHART_QUERY}&format=json",
    }
    assert share_links(f"{HOST}/", CHART, "/")["embed"] == f"{HOST}/embed/{CHART}"


def test_links_under_a_url_prefix_keep_the_page_link_and_put_the_rest_under_the_prefix():
    href = "https://example.com/monitoring/operations?start=now-30d"
    links = share_links(href, CHART, "/monitoring/")
    assert links["page"] == href
    assert links["embed"] == f"https://example.com/monitoring/embed/{CHART}?start=now-30d"
    assert f'src="https://example.com/monitoring/embed/{CHART}?start=now-30d"' in links["iframe"]
    assert links["csv"] == f"https://example.com/monitoring/api/charts/{CHART}?start=now-30d&format=csv"


def test_a_theme_the_embed_page_would_refuse_and_blank_filters_are_left_out():
    links = share_links(f"{HOST}/operations?theme=sepia&symbol=&start=now-7d", CHART, "/")
    assert pairs_of(links["embed"]) == [("start", "now-7d")]


def test_every_export_link_answers_the_chart_in_its_format(shared_client):
    links = share_links("http://localhost/operations?start=2024-03-01&end=2024-03-04&feature=x", CHART, "/")
    csv = shared_client.get(links["csv"])
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0].startswith("bucket,")
    figure = shared_client.get(links["json"])
    assert figure.status_code == 200 and figure.get_json()["chart"] == CHART
    assert figure.get_json()["figure"]["data"]


@pytest.mark.parametrize("lifetime", ["1h", "30d"])
def test_signed_links_hold_a_token_for_their_own_parameters_and_lifetime(lifetime):
    tokens = Tokens(SECRET)
    expiry = timedelta(hours=1) if lifetime == "1h" else timedelta(days=30)
    links = share_links(HREF, CHART, "/", tokens, expiry)
    assert links["page"] == HREF  # the portal's page needs its user anyway
    for name in ("embed", "csv", "png", "svg", "json"):
        args = MultiDict(pairs_of(links[name]))
        tokens.check(args["token"], CHART, query_pairs(args))
        payload = tokens.serializer.loads(args["token"])
        assert payload["e"] == expiry.total_seconds(), name
    assert html.escape(links["embed"]) in links["iframe"]


def test_signed_export_links_open_the_chart_without_a_user(shared_config):
    client = create_app(replace(shared_config, embed_secret=SECRET)).server.test_client()
    href = "http://localhost/operations?start=2024-03-01&end=2024-03-04"
    links = share_links(href, CHART, "/", Tokens(SECRET), timedelta(hours=1))
    assert client.get(links["csv"]).status_code == 200
    assert client.get(links["json"]).get_json()["chart"] == CHART
    assert client.get(links["embed"]).status_code == 200
    unsigned = share_links(href, CHART, "/")
    assert client.get(unsigned["csv"]).status_code == 403


def test_the_sign_url_command_names_the_chart_its_filters_and_the_portal_and_prints_a_working_link(
    shared_config, monkeypatch, capsys
):
    href = "http://localhost/operations?start=2024-03-01&end=2024-03-04&feature=x"
    command = sign_url_command(href, CHART)
    assert command == (
        f"dashapp sign-url {CHART} --param start=2024-03-01 --param end=2024-03-04 --expires 7d --base http://localhost"
    )
    api = sign_url_command(href, CHART, "csv")
    assert api.endswith("--param format=csv --expires 7d --base http://localhost --api")
    for name in [n for n in os.environ if n.startswith("DASHAPP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DASHAPP_EMBED_SECRET", SECRET)
    client = create_app(replace(shared_config, embed_secret=SECRET)).server.test_client()
    for run, kind in ((command, "text/html"), (api, "text/csv")):
        assert main(shlex.split(run)[1:]) == 0
        link = capsys.readouterr().out.strip()
        response = client.get(link)
        assert response.status_code == 200 and response.mimetype == kind, run


def fields_of(node, found=None) -> dict[str, str]:
    """The menu's copyable fields as name -> value, wherever they sit in the component tree."""
    found = {} if found is None else found
    if isinstance(node, list | tuple):
        for child in node:
            fields_of(child, found)
    elif node is not None and not isinstance(node, str):
        if getattr(node, "readonly", False) and getattr(node, "name", None):
            found[node.name] = node.value
        fields_of(getattr(node, "children", None), found)
    return found


def test_without_a_secret_the_menu_gives_plain_links_and_hides_the_lifetime(shared_config):
    children, lifetime_hidden = share_menu(HREF, BUTTON, shared_config)
    assert fields_of(children) == share_links(HREF, CHART, "/")
    assert lifetime_hidden


def test_with_a_secret_and_portal_users_the_menu_signs_for_the_chosen_lifetime(shared_config):
    config = replace(shared_config, embed_secret=SECRET, auth="header", trusted_proxies="10.0.0.1")
    for lifetime, seconds in (("1h", 3600), ("30d", 30 * 86400)):
        children, lifetime_hidden = share_menu(HREF, BUTTON, config, lifetime)
        assert not lifetime_hidden
        fields = fields_of(children)
        token = dict(pairs_of(fields["embed"]))["token"]
        assert Tokens(SECRET).serializer.loads(token)["e"] == seconds
        assert all("token=" in fields[name] for name in ("embed", "csv", "png", "svg", "json"))
    # A lifetime the menu does not offer (a forged callback) signs for the default.
    fields = fields_of(share_menu(HREF, BUTTON, config, "365d")[0])
    assert Tokens(SECRET).serializer.loads(dict(pairs_of(fields["csv"]))["token"])["e"] == 7 * 86400
    assert set(LIFETIMES) == {"1h", "1d", "7d", "30d"}


def test_with_a_secret_and_no_portal_users_the_menu_gives_the_sign_url_commands_and_no_dead_links(shared_config):
    config = replace(shared_config, embed_secret=SECRET)
    children, lifetime_hidden = share_menu(HREF, BUTTON, config)
    fields = fields_of(children)
    assert lifetime_hidden
    assert set(fields) == {"page", "sign-embed", "sign-csv"}
    assert fields["sign-embed"] == sign_url_command(HREF, CHART)
    assert fields["sign-csv"] == sign_url_command(HREF, CHART, "csv")
    assert "/embed/" not in str(children) and "/api/" not in str(children)


@pytest.mark.parametrize(
    ("href", "button_id"),
    [
        (None, {"chart": CHART}),
        ("javascript:x", {"chart": CHART}),
        ("http://h/", 1),
        ("http://h/", {"chart": ["x"]}),
    ],
)
def test_the_menu_ignores_forged_callback_input(shared_config, href, button_id):
    with pytest.raises(PreventUpdate):
        share_menu(href, button_id, shared_config)


def test_the_access_log_keeps_no_token():
    line = '127.0.0.1 "GET /embed/ops.latency?start=now-3d&token=eyJjIjoi.abc-_x HTTP/1.1" 200'
    assert redact(line) == f'127.0.0.1 "GET /embed/ops.latency?start=now-3d&token={REDACTED} HTTP/1.1" 200'
    assert redact("http://h/embed/x?token=abc&theme=dark") == f"http://h/embed/x?token={REDACTED}&theme=dark"
    assert redact("/login?next=%2Fembed%2Fx%3Ftoken%3Dabc") == f"/login?next=%2Fembed%2Fx%3Ftoken%3D{REDACTED}"
    assert redact("/a?tokens=1&mytoken=2") == "/a?tokens=1&mytoken=2"
