"""The chart cards' Share menu in Chromium: its files downloaded as a user would, its signed links for a
signed-in user (opened by someone who is not), and its `dashapp sign-url` commands where nobody signs in."""

from __future__ import annotations

import csv
import re
import struct
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect
from werkzeug.security import generate_password_hash

from dashapp.auth import Tokens
from dashapp.embed import share_links, sign_url_command
from tests.browser.conftest import ARTIFACTS, recording_page
from tests.browser.panels import chart_ids, footer
from tests.browser.server import Server

SECRET = "browser-share-secret-" + "c" * 32
CHART = "ops.latency"
PAGE = "/operations?start=now-30d&symbol=AAPL"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def open_share_menu(page, url: str):
    """Open the page, wait for its panels and open the chart's Share menu; the menu's locator."""
    page.goto(url)
    # Every panel drawn (a page still drawing keeps Chromium too busy for a click), patiently: the first draws
    # run their queries cold.
    for chart_id in chart_ids("/operations"):
        expect(footer(page, chart_id)).to_contain_text("data through", timeout=90_000)
    page.locator(f"[data-chart='{CHART}']").get_by_role("button", name="Share", exact=True).click()
    menu = page.locator(".share-popover")
    expect(menu.locator("input[name='page']")).to_have_value(page.url)
    return menu


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def download(page, menu, fmt: str):
    """Click the menu's download link for `fmt`: the Download Playwright saw."""
    with page.expect_download() as started:
        menu.locator(f".share-download[data-format='{fmt}']").click()
    return started.value


def token_lifetime(url: str) -> int:
    """The lifetime, in seconds, that a signed link's token was signed for."""
    token = dict(parse_qsl(urlsplit(url).query))["token"]
    return Tokens(SECRET).serializer.loads(token)["e"]


@pytest.fixture(scope="module")
def plain_server(demo_dir, tmp_path_factory):
    """No secret, no portal users: plain links. No scheduler either: the menu needs no alert states, and the shared
    server's first evaluation can outlast its start-up wait on a loaded machine."""
    srv = Server(demo_dir, tmp_path_factory.mktemp("share-plain"), DASHAPP_WORKERS="1").wait(timeout=120)
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log.read_text()


def test_the_share_menu_downloads_the_charts_csv_and_png_and_links_its_json_figure(plain_server, page):
    menu = open_share_menu(page, plain_server.url + PAGE)
    # Only ours: plotly.js 4's own "Share chart..." would upload the data to Plotly Cloud.
    expect(page.locator(f"[data-chart='{CHART}'] .modebar-btn[data-title='Share chart...']")).to_have_count(0)
    links = share_links(page.url, CHART, "/")
    assert f"/embed/{CHART}?start=now-30d&symbol=AAPL" in links["embed"]
    for name in ("page", "embed", "iframe", "csv", "png", "svg", "json"):
        expect(menu.locator(f"input[name='{name}']")).to_have_value(links[name])
    expect(menu.get_by_label("CSV data")).to_have_value(links["csv"])  # each field is labelled
    # The copy button puts the embed link on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=plain_server.url)
    menu.locator(".input-group:has(input[name='embed']) .share-copy").click()
    page.wait_for_function("async (want) => (await navigator.clipboard.readText()) === want", arg=links["embed"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    menu.screenshot(path=str(ARTIFACTS / "share-menu.png"))

    data = download(page, menu, "csv")
    assert data.suggested_filename == f"{CHART}.csv"
    with open(data.path(), newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0][0] == "bucket" and len(rows) > 10
    assert {len(row) for row in rows} == {len(rows[0])}

    image = download(page, menu, "png")
    assert image.suggested_filename == f"{CHART}.png"
    with open(image.path(), "rb") as file:
        assert png_size(file.read()) == (1000, 340)  # the link's width and the chart's height

    answer = page.request.get(links["json"])
    assert answer.ok and answer.headers["content-type"] == "application/json"
    figure = answer.json()["figure"]
    assert figure["data"] and "layout" in figure
    assert page.console_errors == []
    assert page.csp_violations() == []


@pytest.fixture(scope="module")
def guarded_server(demo_dir, tmp_path_factory):
    """A secret and basic authentication: a signed-in user's menu signs the links."""
    folder = tmp_path_factory.mktemp("share-guarded")
    users = folder / "users"
    users.write_text(f"alice:{generate_password_hash('wonderland')}\n")
    env = {"DASHAPP_AUTH": "basic", "DASHAPP_USERS_FILE": str(users)}
    srv = Server(demo_dir, folder / "cache", DASHAPP_EMBED_SECRET=SECRET, DASHAPP_WORKERS="1", **env).wait(timeout=120)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def signed_server(demo_dir, tmp_path_factory):
    """A secret and no portal users: nobody the menu could sign for."""
    folder = tmp_path_factory.mktemp("share-signed")
    srv = Server(demo_dir, folder / "cache", DASHAPP_EMBED_SECRET=SECRET, DASHAPP_WORKERS="1").wait(timeout=120)
    yield srv
    srv.stop()


def test_a_signed_in_users_menu_signs_links_for_the_chosen_lifetime_that_open_without_signing_in(
    guarded_server, browser, request
):
    alice = {"http_credentials": {"username": "alice", "password": "wonderland"}}
    with recording_page(browser, request.node.name, **alice) as page:
        menu = open_share_menu(page, guarded_server.url + PAGE)
        embed = menu.locator("input[name='embed']")
        expect(embed).to_have_value(re.compile(re.escape(f"{guarded_server.url}/embed/{CHART}?") + ".*&token="))
        week = embed.input_value()
        assert token_lifetime(week) == 7 * 86400
        expect(menu.locator(".share-expiry")).to_contain_text("UTC")
        menu.get_by_label("Signed links last").select_option(label="1 hour")
        expect(embed).not_to_have_value(week)  # re-signed
        signed = embed.input_value()
        assert token_lifetime(signed) == 3600
        assert token_lifetime(menu.locator("input[name='csv']").input_value()) == 3600
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        menu.screenshot(path=str(ARTIFACTS / "share-menu-signed.png"))
        assert page.console_errors == []

    with recording_page(browser, f"{request.node.name}-visitor") as visitor:  # no credentials
        response = visitor.goto(signed)
        assert response.status == 200
        expect(visitor.locator("#chart .main-svg").first).to_be_visible()
        expect(visitor.locator(".embed-footer")).to_contain_text("data through")
        assert visitor.request.get(guarded_server.url + PAGE).status == 401  # the token opens its chart only
        assert visitor.console_errors == []

    token = dict(parse_qsl(urlsplit(signed).query))["token"]
    log = guarded_server.log.read_text()
    assert f"/embed/{CHART}?" in log and "token=[redacted]" in log
    assert token not in log


def test_without_portal_users_the_menu_gives_the_sign_url_commands_and_no_embed_link(signed_server, page):
    menu = open_share_menu(page, signed_server.url + PAGE)
    expect(menu.locator(".share-hint")).to_contain_text("dashapp sign-url")
    expect(menu.locator("input[name='sign-embed']")).to_have_value(sign_url_command(page.url, CHART))
    expect(menu.locator("input[name='sign-csv']")).to_have_value(sign_url_command(page.url, CHART, "csv"))
    expect(menu.locator("input[name='embed']")).to_have_count(0)
    expect(menu.locator(".share-download")).to_have_count(0)
    expect(menu.get_by_label("Signed links last")).to_be_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    menu.screenshot(path=str(ARTIFACTS / "share-menu-sign-url.png"))
    assert page.console_errors == []
