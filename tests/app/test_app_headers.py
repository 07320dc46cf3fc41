"""Security headers on every response (CSP with Dash's script hashes), DASHAPP_FRAME_ANCESTORS, no debug page."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace

import pytest

from dashapp import create_app
from dashapp.charts import registry
from dashapp.config import Config
from dashapp.errors import ConfigError
from dashapp.plotlyjs import VERSION as PLOTLY_JS_VERSION
from tests.app.test_app_api import WINDOW, assert_error

# A page, a Dash bundle, the API (a 200, a 400, a 404), a callback, a static asset and an unknown path.
PATHS = [
    "/",
    "/operations?symbol=AAPL",
    "/healthz",
    "/api/charts",
    "/api/charts/ops.latency?start=2024-13-01",
    "/api/charts/ops.nope",
    "/_dash-layout",
    "/assets/dashapp.css",
    "/no/such/page",
]
# The embed blueprint's routes: a chart, an unknown chart, its script and plotly.js.
EMBED_PATHS = [
    f"/embed/ops.latency?{WINDOW}",
    "/embed/ops.nope",
    "/embed/static/embed.js",
    f"/embed/plotly-{PLOTLY_JS_VERSION}.min.js",
]
# Inline <script> elements that run (not JSON data blocks), outside HTML comments.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>(.*?)</script>", re.S)


def csp(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: sources}."""
    parts = (part.split() for part in response.headers["Content-Security-Policy"].split(";"))
    return {name: sources for name, *sources in parts}


def inline_script_hashes(page: str) -> set[str]:
    """The CSP sha256 source of each inline script the page runs."""
    scripts = INLINE_SCRIPT.findall(re.sub(r"<!--.*?-->", "", page, flags=re.S))
    return {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}


def assert_security_headers(response, frame_ancestors: str = "'self'") -> None:
    policy = csp(response)
    assert policy["frame-ancestors"] == frame_ancestors.split()
    assert policy["script-src"][0] == "'self'"
    assert all(source.startswith("'sha256-") for source in policy["script-src"][1:])  # no 'unsafe-*', no host
    assert policy["default-src"] == policy["connect-src"] == policy["base-uri"] == policy["form-action"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", PATHS + EMBED_PATHS)
def test_every_response_carries_the_security_headers(shared_client, path):
    assert_security_headers(shared_client.get(path))


def test_the_script_policy_allows_exactly_the_inline_scripts_dashs_index_runs(shared_app, shared_client):
    response = shared_client.get("/")
    hashes = inline_script_hashes(response.get_data(as_text=True))
    assert hashes  # the renderer's start-up
    assert set(csp(response)["script-src"][1:]) == hashes == set(shared_app.csp_hashes())


def test_the_embed_page_runs_no_inline_script_and_allows_none(shared_client):
    response = shared_client.get(EMBED_PATHS[0])
    assert response.status_code == 200
    assert inline_script_hashes(response.get_data(as_text=True)) == set()
    assert csp(response)["script-src"] == ["'self'"]


def test_a_callback_post_carries_them_too(shared_client):
    assert_security_headers(shared_client.post("/_dash-update-component", json={}))


def test_frame_ancestors_from_the_environment_open_only_the_embed_routes(shared_config, tmp_path):
    origins = "'self' https://wiki.example.com https://*.intranet.example:8443"
    config = Config.from_env({"DASHAPP_FRAME_ANCESTORS": origins}, data_dir=shared_config.data_dir, cache_dir=tmp_path)
    client = create_app(config).server.test_client()
    for path in EMBED_PATHS:
        assert_security_headers(client.get(path), origins)
    for path in PATHS:
        assert_security_headers(client.get(path), "'self'")


@pytest.mark.parametrize("value", ["'self'", "'none'", "https://a.example.com http://localhost:8050", "https:"])
def test_valid_frame_ancestors_are_accepted(value):
    assert Config(frame_ancestors=value).frame_ancestors == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "'self'; script-src *",  # a second directive
        "'unsafe-inline'",
        "'none' https://a.example.com",  # 'none' stands alone
        '"self"',
        "https://a.example.com,https://b.example.com",
        "https://a.example.com/path",
        "javascript:alert(1)",
        "'self'\nX-Injected: 1",
    ],
)
def test_invalid_frame_ancestors_stop_the_start_naming_the_variable(value):
    with pytest.raises(ConfigError, match="DASHAPP_FRAME_ANCESTORS"):
        Config(frame_ancestors=value)


def test_the_app_runs_without_debug_or_dev_tools(shared_app):
    assert shared_app.server.debug is False
    assert shared_app.server.config["PROPAGATE_EXCEPTIONS"] is not True
    assert not shared_app._dev_tools.ui and not shared_app._dev_tools.serve_dev_bundles


def test_an_unexpected_error_is_a_json_500_with_an_id_and_no_traceback(shared_config, tmp_path, monkeypatch):
    client = create_app(replace(shared_config, cache_dir=tmp_path)).server.test_client()

    def broken(*args, **kwargs):
        raise RuntimeError(f"secret detail from {shared_config.data_dir}")

    monkeypatch.setattr(registry, "check_known", broken)
    response = client.get("/api/charts/ops.latency?start=2024-03-01&end=2024-03-04")
    body = assert_error(response, 500)
    assert body["error"].startswith("internal error (id ")
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret detail" not in text and 'File "' not in text
    assert_security_headers(response)
