"""PNG and SVG images of a chart, drawn by kaleido in the system's Chromium.

Each process keeps one browser, started by its first image request (after gunicorn's fork): a cold
image takes seconds, a warm one a few tenths. A lock lets one request draw at a time, so a burst
queues on that browser instead of starting one each; the wait, the start and the drawing are bounded.
kaleido's own sync server is not used: it has no lock, and it waits forever when its browser fails.
kaleido is imported by the first image request only: it is an optional dependency (the `export` extra),
and a server without it answers those requests 501.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from collections.abc import Mapping, Sequence

from .errors import BadParameter, ExportBusy, ExportUnavailable

log = logging.getLogger(__name__)

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
# name -> (lowest, highest, default); a missing height is the chart's own.
SIZES = {"width": (200, 3000, 1000), "height": (150, 2000, None), "image_scale": (0.5, 4.0, 1.0)}
START_TIMEOUT = 30.0  # a cold Chromium on a busy two-core host
DRAW_TIMEOUT = 20.0
WAIT_TIMEOUT = 30.0  # for the requests queued before this one

_lock = threading.Lock()
_browsers: dict[str, _Browser] = {}  # browser path ("" = kaleido's choice) -> the running one


def image_options(args: Mapping[str, Sequence[str]], fmt: str, chart_height: int) -> dict:
    """Kaleido's options from the query string: width and height in pixels and image_scale, each bounded."""
    options = {"format": fmt}
    for name, (low, high, default) in SIZES.items():
        raw = [v for v in args.get(name, ()) if v != ""]
        if len(raw) > 1:
            raise BadParameter(name, "may be given once")
        kind, words = (float, "number") if name == "image_scale" else (int, "whole number")
        try:
            value = kind(raw[0]) if raw else (default or chart_height)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            got = raw[0][:20] if raw else ""
            raise BadParameter(name, f"must be a {words} from {low} to {high}, got {got!r}")
        options[name.removeprefix("image_")] = value
    return options


def draw(figure: dict, options: dict, browser_path: str = "") -> bytes:
    """The figure as image bytes; ExportUnavailable without a browser, ExportBusy when it takes too long."""
    if not _lock.acquire(timeout=WAIT_TIMEOUT):
        raise ExportBusy("the image renderer is busy; try again shortly")
    try:
        browser = _browsers.get(browser_path) or _start(browser_path)
        try:
            return browser.call(browser.kaleido.calc_fig(figure, opts=options), DRAW_TIMEOUT)
        except Exception as exc:
            # A hung or crashed browser is replaced by the next request.
            _browsers.pop(browser_path).close()
            if isinstance(exc, TimeoutError):  # asyncio's and concurrent.futures' are this one
                raise ExportBusy(f"drawing the image took over {DRAW_TIMEOUT:.0f} s") from None
            raise
    finally:
        _lock.release()


def _start(browser_path: str) -> _Browser:
    for name in ("choreographer", "kaleido"):  # they log each tab and temporary folder at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        from choreographer.errors import ChromeNotFoundError
    except ImportError:
        raise ExportUnavailable("image export needs kaleido: pip install 'dashapp[export]'") from None
    try:
        browser = _Browser(browser_path)
    except ChromeNotFoundError as exc:
        log.warning("image export unavailable: %s", exc)
        raise ExportUnavailable("image export needs Chromium, which this server does not have") from None
    except TimeoutError:
        raise ExportBusy(f"the browser did not start within {START_TIMEOUT:.0f} s") from None
    _browsers[browser_path] = browser
    return browser


class _Browser:
    """One Kaleido (one Chromium tab), driven from an event loop on its own thread."""

    def __init__(self, path: str):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="kaleido", daemon=True).start()
        try:
            self.kaleido = self.call(self._open(path), START_TIMEOUT)
        except BaseException:
            self.loop.call_soon_threadsafe(self.loop.stop)
            raise
        atexit.register(self.close)

    @staticmethod
    async def _open(path: str):
        import kaleido

        # mathjax=False: no CDN request from an offline host; plotly.js comes from the plotly package.
        browser = kaleido.Kaleido(timeout=DRAW_TIMEOUT, mathjax=False, **({"path": path} if path else {}))
        await browser.open()
        return browser

    def call(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if not self.loop.is_running():
            return
        try:
            self.call(self.kaleido.close(), 10)
        except Exception:  # closing a broken browser: it is being dropped anyway
            log.warning("closing the image renderer's browser failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
