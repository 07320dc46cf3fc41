"""Signed embed links in Chromium, against gunicorn started with DASHAPP_EMBED_SECRET (and, once, basic auth)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect
from werkzeug.security import generate_password_hash

from tests.browser.server import Server

SECRET = "browser-test-secret-" + "b" * 32
CHART = "ops.latency"
QUERY = "start=now-3d"


@pytest.fixture(scope="module")
def signed_server(demo_dir, tmp_path_factory):
    srv = Server(demo_dir, tmp_path_factory.mktemp("signed"), DASHAPP_EMBED_SECRET=SECRET, DASHAPP_WORKERS="1").wait()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def guarded_server(demo_dir, tmp_path_factory):
    """A secret and basic authentication: the token must be enough for the chart and the files its page loads."""
    folder = tmp_path_factory.mktemp("guarded")
    users = folder / "users"
    users.write_text(f"alice:{generate_password_hash('wonderland')}\n")
    srv = Server(
        demo_dir,
        folder / "cache",
        DASHAPP_EMBED_SECRET=SECRET,
        DASHAPP_AUTH="basic",
        DASHAPP_USERS_FILE=str(users),
        DASHAPP_WORKERS="1",
    ).wait()
    yield srv
    srv.stop()


def sign_url(server: Server) -> str:
    """Run `dashapp sign-url` as an author would, for the chart over the last three days."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")} | {"DASHAPP_EMBED_SECRET": SECRET}
    command = [str(Path(sys.executable).parent / "dashapp"), "sign-url", CHART, "--param", QUERY]
    result = subprocess.run(
        [*command, "--expires", "1h", "--base", server.url], env=environ, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def tampered(url: str) -> str:
    """The same link with one character of the token's payload changed."""
    token = dict(parse_qsl(urlsplit(url).query))["token"]
    changed = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    return url.replace(token, changed)


def test_with_a_secret_an_unsigned_embed_shows_403(signed_server, page):
    response = page.goto(f"{signed_server.url}/embed/{CHART}?{QUERY}")
    assert response.status == 403
    expect(page.locator(".embed-message")).to_contain_text("token: is needed")
    expect(page.locator(".main-svg")).to_have_count(0)


def test_with_a_secret_a_signed_embed_draws_the_chart(signed_server, page):
    response = page.goto(sign_url(signed_server))
    assert response.status == 200
    expect(page.locator("#chart .main-svg").first).to_be_visible()
    expect(page.locator(".embed-footer")).to_contain_text("data through")
    assert page.console_errors == []
    assert page.csp_violations() == []


def test_with_a_secret_a_tampered_embed_shows_403(signed_server, page):
    response = page.goto(tampered(sign_url(signed_server)))
    assert response.status == 403
    expect(page.locator(".embed-message")).to_contain_text("token: is not valid")
    expect(page.locator(".main-svg")).to_have_count(0)


def test_with_basic_auth_a_signed_embed_draws_without_a_password_and_the_portal_still_asks(guarded_server, page):
    response = page.goto(sign_url(guarded_server))
    assert response.status == 200
    # plotly.js and the page's script load on the token in their Referer: the chart draws.
    expect(page.locator("#chart .main-svg").first).to_be_visible()
    assert page.console_errors == []
    response = page.request.get(guarded_server.url + "/operations")
    assert response.status == 401
    assert response.headers["www-authenticate"] == 'Basic realm="dashapp"'


def test_with_basic_auth_a_signed_in_user_gets_the_pages_with_their_callbacks(guarded_server, browser):
    context = browser.new_context(http_credentials={"username": "alice", "password": "wonderland"})
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{guarded_server.url}/operations?{QUERY}")
    expect(page.locator(f"[data-chart='{CHART}'] .card-footer")).to_contain_text("data through")
    expect(page.locator(f"[data-chart='{CHART}'] .main-svg").first).to_be_visible()
    assert errors == []
    context.close()
