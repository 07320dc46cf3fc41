"""Security headers on every response, DASHAPP_FRAME_ANCESTORS, and no debug page or traceback."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashapp import create_app
from dashapp.charts import registry
from dashapp.config import Config
from dashapp.errors import ConfigError
from tests.app.test_app_api import assert_error

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


def assert_security_headers(response, frame_ancestors: str = "'self'") -> None:
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {frame_ancestors};" in policy
    assert "script-src" not in policy  # Dash's index page needs its inline scripts
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(shared_client, path):
    assert_security_headers(shared_client.get(path))


def test_a_callback_post_carries_them_too(shared_client):
    assert_security_headers(shared_client.post("/_dash-update-component", json={}))


def test_frame_ancestors_come_from_the_environment(shared_config, tmp_path):
    origins = "'self' https://wiki.example.com https://*.intranet.example:8443"
    config = Config.from_env({"DASHAPP_FRAME_ANCESTORS": origins}, data_dir=shared_config.data_dir, cache_dir=tmp_path)
    response = create_app(config).server.test_client().get("/healthz")
    assert_security_headers(response, origins)


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
