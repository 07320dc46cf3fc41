"""The portal under /monitoring/ behind Debian's nginx, configured as README's "Serving under a sub-path" shows it.

nginx signs users in (HTTP basic against an htpasswd file) and passes the user on (DASHAPP_AUTH=header);
Chromium and every request here go through nginx, never straight to gunicorn. One nginx and one gunicorn
(with its scheduler, for the alert links) serve the whole module.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from dashapp.config import Config
from tests.browser.conftest import ARTIFACTS, recording_page
from tests.browser.panels import chart_ids, drawing, grid, wait_for_panels
from tests.browser.server import NGINX, ROOT, Nginx, Server, fetch, free_port, wait_for
from tests.browser.test_dockerfile_health import healthcheck
from tests.browser.test_embed_signed import tampered
from tests.browser.test_pages import PAGES

PREFIX = "/monitoring/"
USER, PASSWORD = "alice", "wonderland"
SIGNED_IN = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
SECRET = "subpath-test-secret-" + "s" * 32
# What README's example names, which this test replaces with its own.
EXAMPLE_UPSTREAM = "127.0.0.1:8050"
EXAMPLE_LISTEN = "listen 80;"
EXAMPLE_USERS = "/etc/nginx/dashapp.htpasswd"
# Requests outside the prefix, each of which the portal would answer if nginx passed it on.
OUTSIDE = ("/", "/healthz", "/api/charts", "/metrics", "/embed/ops.latency", "/_dash-layout")

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed: `make nginx` installs it")


def readme_nginx_example() -> str:
    """The nginx configuration of README's "Serving under a sub-path" section, as it stands."""
    section = (ROOT / "README.md").read_text().split("\n## Serving under a sub-path\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```nginx\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the section has one nginx example"
    return blocks[0]


def nginx_servers(port: int, upstream: str, users: Path) -> str:
    """README's example with this test's port, gunicorn and users file in place of its own."""
    text = readme_nginx_example()
    for name in (EXAMPLE_UPSTREAM, EXAMPLE_LISTEN, EXAMPLE_USERS):
        assert text.count(name) == 1, f"README's nginx example no longer names {name!r} once: update this test"
    text = text.replace(EXAMPLE_UPSTREAM, upstream).replace(EXAMPLE_USERS, str(users))
    return text.replace(EXAMPLE_LISTEN, f"listen 127.0.0.1:{port};")


@dataclass
class Portal:
    server: Server  # gunicorn, with the scheduler
    proxy: Nginx

    def url(self, path: str = "") -> str:
        """A portal path ("/drift?x=1") as users reach it: through nginx, under the prefix."""
        return self.proxy.url + PREFIX + path.removeprefix("/")


@pytest.fixture(scope="module")
def portal(demo_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("subpath")
    users = folder / "htpasswd"
    # As README says: SHA-512 crypt from openssl, which nginx checks with the system's crypt.
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=PASSWORD, capture_output=True, text=True)
    users.write_text(f"{USER}:{hashed.stdout.strip()}\n")
    server = Server(
        demo_dir,
        folder / "cache",
        scheduler=True,
        DASHAPP_URL_PREFIX=PREFIX,
        DASHAPP_AUTH="header",
        DASHAPP_TRUSTED_PROXIES="127.0.0.1",
        DASHAPP_EMBED_SECRET=SECRET,
    ).wait(timeout=120)
    port = free_port()
    try:
        proxy = Nginx(folder / "nginx", nginx_servers(port, f"127.0.0.1:{server.port}", users), port).wait()
    except BaseException:
        server.stop()
        raise
    yield Portal(server, proxy)
    proxy.stop()
    server.stop()
    if "Traceback" in server.log.read_text():
        pytest.fail(f"the server logged a traceback:\n{server.log.read_text()[-4000:]}")


@pytest.fixture
def signed_in(browser, request):
    """A page whose browser gives nginx the user's name and password."""
    credentials = {"username": USER, "password": PASSWORD}
    with recording_page(browser, request.node.name, http_credentials=credentials) as page:
        yield page


def test_the_readme_example_waits_longer_than_gunicorn_and_passes_the_path_on_whole():
    example = readme_nginx_example()
    timeouts = dict(re.findall(r"proxy_(send|read)_timeout (\d+)s;", example))
    assert timeouts.keys() == {"send", "read"}
    for name, seconds in timeouts.items():
        assert int(seconds) > Config().query_timeout + 30, f"proxy_{name}_timeout must outwait gunicorn's timeout"
    assert re.search(r"location /monitoring/ \{", example)
    assert re.search(rf"proxy_pass http://{re.escape(EXAMPLE_UPSTREAM)};", example)  # no URI: nothing stripped


def test_through_nginx_every_page_draws_all_its_panels_and_an_alert_link_keeps_the_prefix(portal, signed_in):
    page = signed_in
    asked, failed = [], []
    page.on("request", lambda request: asked.append(urlsplit(request.url).path))
    page.on("response", lambda response: response.status < 400 or failed.append(f"{response.status} {response.url}"))
    page.goto(portal.url())
    for path, name in PAGES.items():
        if path != "/":  # the navigation's own links, as a user follows them
            page.locator(".navbar").get_by_role("link", name=name, exact=True).click()
        expect(page).to_have_url(re.compile(re.escape(portal.url(path)) + r"(\?.*)?$"))
        expect(page.locator(".navbar .nav-link.active")).to_have_text(name)
        wait_for_panels(page, path)
        for chart_id in chart_ids(path):
            expect(drawing(page, chart_id)).to_have_count(1)
        if path == "/operations":
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "subpath-operations.png"), full_page=True)
    # On the Alerts page: a rule's link to its cause opens the page under the prefix.
    grid(page, "alerts.current").locator("a", has_text="open Drift").first.click()
    expect(page).to_have_url(re.compile(re.escape(portal.url("/drift?start=")) + r".*&feature=\w+"))
    wait_for_panels(page, "/drift")
    assert [path for path in asked if not path.startswith(PREFIX)] == []
    assert failed == []
    assert page.console_errors == []
    assert page.csp_violations() == []


def test_a_share_link_its_embed_page_and_the_charts_json_and_csv_work_under_the_prefix(portal, signed_in):
    page = signed_in
    page.goto(portal.url("/operations?start=now-24h&symbol=AAPL"))
    wait_for_panels(page, "/operations")
    page.locator("[data-chart='ops.latency']").get_by_role("button", name="Share", exact=True).click()
    popover = page.locator(".share-popover")
    expect(popover.locator("input[name='page']")).to_have_value(portal.url("/operations?start=now-24h&symbol=AAPL"))
    # The portal has an embed secret and the user is signed in: the embed link is signed, and opens as it is.
    embed = portal.url("/embed/ops.latency?start=now-24h&symbol=AAPL")
    field = popover.locator("input[name='embed']")
    expect(field).to_have_value(re.compile(re.escape(embed) + "&token="))
    page.goto(field.input_value())
    expect(page.locator(".main-svg").first).to_be_visible()
    expect(page.locator(".embed-footer")).to_contain_text("data through")
    assert page.console_errors == []
    assert page.csp_violations() == []
    status, body = fetch(portal.url("/api/charts/ops.latency?start=now-24h&symbol=AAPL"), headers=SIGNED_IN)
    assert status == 200 and '"chart":"ops.latency"' in body.replace(" ", "")
    status, body = fetch(portal.url("/api/charts/ops.latency?start=now-24h&format=csv"), headers=SIGNED_IN)
    assert status == 200 and body.splitlines()[0].startswith("bucket,")
    status, body = fetch(portal.url("/api/charts/ops.latency?start=2024-13-01"), headers=SIGNED_IN)
    assert status == 400 and '"param":"start"' in body.replace(" ", "")


def test_sign_url_gives_a_link_under_the_prefix_that_opens_through_nginx(portal):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")} | {
        "DASHAPP_EMBED_SECRET": SECRET,
        "DASHAPP_URL_PREFIX": PREFIX,
        "DASHAPP_PUBLIC_URL": portal.proxy.url,
    }
    # The checkout's dashapp (cwd), as the servers run it.
    command = [sys.executable, "-m", "dashapp.cli", "sign-url", "ops.latency", "--param", "start=now-3d"]
    done = subprocess.run([*command, "--expires", "1h"], cwd=ROOT, env=environ, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    signed = done.stdout.strip()
    assert signed.startswith(portal.url("/embed/ops.latency?start=now-3d&token="))
    status, body = fetch(signed, headers=SIGNED_IN)
    assert status == 200 and 'class="embed-chart"' in body
    assert fetch(tampered(signed), headers=SIGNED_IN)[0] == 403  # the portal checks the token
    assert fetch(signed)[0] == 401  # nginx asks everyone to sign in, token or not


def test_nginx_signs_users_in_and_nothing_outside_the_prefix_reaches_the_portal(portal):
    status, body = fetch(portal.url())
    assert status == 401 and "nginx" in body  # nginx's own answer: the portal never saw it
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{USER}:not-it".encode()).decode()}
    assert fetch(portal.url(), headers=wrong)[0] == 401
    assert fetch(portal.url(), headers=SIGNED_IN)[0] == 200
    for path in OUTSIDE:
        status, body = fetch(portal.proxy.url + path, headers=SIGNED_IN)
        assert status == 404 and "nginx" in body, path
    status, metrics = fetch(portal.url("/metrics"), headers=SIGNED_IN)
    assert status == 200 and 'route="/healthz"' in metrics and 'route="/monitoring' not in metrics
    # gunicorn logs each request that reaches it, once it has answered
    wait_for(lambda: '"GET /monitoring/metrics ' in portal.server.log.read_text(), "gunicorn's access log")
    served = [line for line in portal.server.log.read_text().splitlines() if '"GET ' in line]
    assert [line for line in served if any(f'"GET {path} ' in line for path in OUTSIDE)] == []


def test_the_dockerfiles_health_check_asks_under_the_prefix(portal):
    bind = f"0.0.0.0:{portal.server.port}"
    assert healthcheck(bind, DASHAPP_URL_PREFIX=PREFIX) == 0
    assert healthcheck(bind) != 0  # /readyz is outside the prefix
