"""Embedding in a real browser: who may frame which page (CSP frame-ancestors); the Share menu is test_share.py's."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser.server import Server

# Two charts as a wiki would embed them: one as on its page, one dark with its own title.
FRAMES = {
    "latency": "/embed/ops.latency?start=now-30d&symbol=AAPL",
    "labels": f"/embed/overview.label_mix?theme=dark&title={quote('Label mix <30 days>')}&start=now-30d",
}
# The portal's own page, which no other site may frame, not even one allowed to frame the charts.
PORTAL = {"portal": "/"}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        """Keep the test page's requests out of pytest's output."""


def wiki_page(server: Server, frames: dict[str, str]) -> str:
    """A wiki page with an iframe of each of the server's paths."""
    tags = "\n".join(
        f'<iframe id="{name}" src="{server.url}{path}" width="100%" height="420" frameborder="0"></iframe>'
        for name, path in frames.items()
    )
    head = '<!doctype html><title>Wiki</title><link rel="icon" href="data:,">'
    return f"{head}<h1>Team wiki</h1>\n{tags}\n"


@pytest.fixture(scope="module")
def wiki(demo_dir, tmp_path_factory):
    """Test pages on their own origin (a second port) and a server that lets that origin frame it.

    The same pages at http://localhost:<port> are a foreign origin: the server does not name it.
    """
    root = tmp_path_factory.mktemp("wiki")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    server = Server(demo_dir, tmp_path_factory.mktemp("wiki-cache"), DASHAPP_FRAME_ANCESTORS=origin)
    (root / "wiki.html").write_text(wiki_page(server, FRAMES))
    (root / "portal.html").write_text(wiki_page(server, PORTAL))
    yield server.wait(), httpd.server_address[1]
    server.stop()
    httpd.shutdown()
    assert "Traceback" not in server.log.read_text()


def test_a_page_of_another_origin_embeds_two_charts_that_render_and_follow_the_frame(wiki, page):
    server, port = wiki
    page.goto(f"http://127.0.0.1:{port}/wiki.html")
    for name in FRAMES:
        frame = page.frame_locator(f"#{name}")
        expect(frame.locator(".main-svg").first).to_be_visible()
        expect(frame.locator(".embed-footer")).to_contain_text("data through")
    latency, labels = page.frame_locator("#latency"), page.frame_locator("#labels")
    expect(latency.locator(".embed-title")).to_have_text("Latency p50 / p95 / p99 by model version")
    expect(labels.locator(".embed-title")).to_have_text("Label mix <30 days>")  # the override, as text
    expect(labels.locator("body")).to_have_css("background-color", "rgb(33, 37, 41)")  # Bootstrap's dark body
    expect(labels.locator(".main-svg .bg").first).to_have_css("fill", "rgb(33, 37, 41)")  # the figure on it
    # Interactive, but without plotly.js 4's "Share chart..." that would upload the data to Plotly Cloud.
    expect(latency.locator(".modebar-btn[data-title='Zoom']")).to_have_count(1)
    expect(latency.locator(".modebar-btn[data-title='Share chart...']")).to_have_count(0)
    # The chart fills its frame and follows it when the frame is resized.
    svg = latency.locator(".main-svg").first
    expect(svg).to_have_attribute("width", str(page.locator("#latency").evaluate("frame => frame.clientWidth")))
    full_width = svg.get_attribute("width")
    page.locator("#latency").evaluate("frame => { frame.width = '700'; }")
    expect(svg).to_have_attribute("width", "700")
    page.locator("#latency").evaluate("frame => { frame.width = '100%'; }")
    expect(svg).to_have_attribute("width", full_width)
    assert page.console_errors == []
    assert page.csp_violations() == []


@pytest.mark.parametrize(
    ("url", "frames"),
    [
        ("http://127.0.0.1:{port}/portal.html", PORTAL),  # the allowed origin, framing the portal
        ("http://localhost:{port}/wiki.html", FRAMES),  # an origin DASHAPP_FRAME_ANCESTORS does not name
    ],
)
def test_chromium_refuses_frames_that_frame_ancestors_does_not_allow(wiki, page, url, frames):
    url = url.format(port=wiki[1])
    page.goto(url)
    for name, path in frames.items():
        frame = page.locator(f"#{name}").element_handle().content_frame()
        assert frame.url.startswith("chrome-error://"), f"{path} was framed by {url}"
    refusals = [text for text in page.console_errors if "frame-ancestors" in text]
    assert len(refusals) == len(frames), page.console_errors
