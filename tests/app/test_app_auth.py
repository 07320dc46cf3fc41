"""Access control through Flask's test client: basic and header authentication, signed embed tokens, sign-url."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from itsdangerous import base64_decode, base64_encode
from werkzeug.security import generate_password_hash

from dashapp import create_app
from dashapp.auth import Tokens, parse_expiry
from dashapp.cli import main
from dashapp.config import Config
from dashapp.errors import ConfigError
from tests.app.test_app_callbacks import GOOD_SEARCH, post_panel_callback

SECRET = "test-secret-" + "s" * 32
CHART = "ops.latency"
PAIRS = [("start", "2024-03-01"), ("end", "2024-03-04")]
QUERY = "start=2024-03-01&end=2024-03-04"
PROXY = "10.1.2.3"
# One route of each kind the portal serves; the component suite's path is read from the index page.
GUARDED = [
    "/",
    "/drift?start=now-7d",
    "/_dash-layout",
    "/_dash-dependencies",
    "/api/charts",
    f"/api/charts/{CHART}?{QUERY}",
    "/api/alerts",
    "/metrics",
    f"/embed/{CHART}?{QUERY}",
    "/embed/static/embed.css",
    "/no-such-page",
]
JSON_ROUTES = ("/api/", "/_dash-")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def write_users(path, **passwords) -> None:
    path.write_text("# dashapp users\n" + "".join(f"{u}:{generate_password_hash(p)}\n" for u, p in passwords.items()))


def bump_mtime(path) -> None:
    """Move the file's mtime on, so a rewrite within the same clock tick is seen as a change."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users"
    write_users(path, alice="wonderland", bob="builder")
    return path


def client_for(config: Config, **settings):
    return create_app(replace(config, **settings)).server.test_client()


@pytest.fixture(scope="module")
def basic_client(shared_config, users):
    return client_for(shared_config, auth="basic", users_file=users)


@pytest.fixture(scope="module")
def header_client(shared_config):
    return client_for(shared_config, auth="header", trusted_proxies=f"{PROXY}, 192.168.0.0/30")


@pytest.fixture(scope="module")
def signed_client(shared_config):
    """A secret and no portal authentication: the token alone guards the charts."""
    return client_for(shared_config, embed_secret=SECRET)


@pytest.fixture(scope="module")
def guarded_client(shared_config, users):
    """A secret and basic authentication: a token is enough for its own chart, nothing else."""
    return client_for(shared_config, embed_secret=SECRET, auth="basic", users_file=users)


@pytest.fixture(scope="module")
def suite_path(shared_app) -> str:
    index = shared_app.server.test_client().get("/").get_data(as_text=True)
    return re.search(r'src="(/_dash-component-suites/[^"]+)"', index)[1]


def signed(pairs=PAIRS, chart=CHART, expiry=timedelta(hours=1), api=False, secret=SECRET) -> str:
    return Tokens(secret).url("", chart, pairs, expiry, api=api)


def assert_refused(response, status: int, text: str = "") -> str:
    """The status, and the API's error shape on JSON routes or a short HTML page elsewhere."""
    assert response.status_code == status
    body = response.get_data(as_text=True)
    if response.request.path.startswith(JSON_ROUTES):
        error = response.get_json()
        assert error["ok"] is False and error["status"] == status
        body = error["error"]
    else:
        assert response.mimetype == "text/html"
    assert text in body
    assert "Traceback" not in body
    return body


# -- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"auth": "ldap"}, "DASHAPP_AUTH must be one of none, basic, header, got 'ldap'"),
        ({"auth": "basic"}, "DASHAPP_AUTH=basic needs DASHAPP_USERS_FILE"),
        ({"auth": "header"}, "DASHAPP_AUTH=header needs DASHAPP_TRUSTED_PROXIES"),
        ({"trusted_proxies": "10.0.0.0/8, proxy.local"}, "DASHAPP_TRUSTED_PROXIES must be comma-separated IP"),
        ({"trusted_proxies": "10.0.0.0/33"}, "got '10.0.0.0/33'"),
        ({"auth_header": "X User"}, "DASHAPP_AUTH_HEADER must be a header name"),
        ({"embed_secret": "changeme"}, "DASHAPP_EMBED_SECRET must be at least 32 characters, got 8"),
    ],
)
def test_a_bad_access_setting_stops_the_start_naming_the_variable(settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config(**settings)


def test_trusted_proxies_parse_addresses_and_networks():
    networks = Config(trusted_proxies=" 10.0.0.5, 192.168.1.0/24 ,::1").proxy_networks
    assert [str(n) for n in networks] == ["10.0.0.5/32", "192.168.1.0/24", "::1/128"]


def test_the_secret_stays_out_of_the_config_repr():
    assert SECRET not in repr(Config(embed_secret=SECRET))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alice:hunter2\n", "line 1 is not user:hash"),
        ("# users\n\nalice:{hash}\nbob hunter2\n", "line 4 is not user:hash"),
        ("alice:{hash}\nalice:{hash}\n", "line 2 names 'alice' a second time"),
        ("# nobody yet\n", "names no user"),
    ],
)
def test_a_malformed_users_file_stops_the_start_naming_the_line_not_its_content(tmp_path, content, message):
    users = tmp_path / "users"
    users.write_text(content.format(hash=generate_password_hash("pw")))
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        Config.from_env({"DASHAPP_AUTH": "basic", "DASHAPP_USERS_FILE": str(users)})
    assert "hunter2" not in caught.value.message


def test_a_missing_users_file_stops_dashapp_serve_before_gunicorn(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DASHAPP_AUTH", "basic")
    monkeypatch.setenv("DASHAPP_USERS_FILE", str(tmp_path / "nowhere"))
    assert main(["serve"]) == 2
    assert f"DASHAPP_USERS_FILE: cannot read {tmp_path / 'nowhere'}" in capsys.readouterr().err


# -- basic ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GUARDED)
def test_basic_auth_guards_every_route_and_answers_401_with_a_challenge(basic_client, path):
    response = basic_client.get(path)
    assert_refused(response, 401, "needs a user name and password")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="dashapp"'
    assert_refused(basic_client.get(path, headers=basic("alice", "wrong")), 401)
    assert_refused(basic_client.get(path, headers=basic("mallory", "wonderland")), 401)


@pytest.mark.parametrize("path", [p for p in GUARDED if p != "/no-such-page"])
def test_basic_auth_lets_a_user_with_the_right_password_in(basic_client, path):
    response = basic_client.get(path, headers=basic("alice", "wonderland"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def test_basic_auth_guards_the_component_suites_and_the_callbacks(basic_client, suite_path):
    assert_refused(basic_client.get(suite_path), 401)
    assert basic_client.get(suite_path, headers=basic("bob", "builder")).status_code == 200
    assert_refused(post_panel_callback(basic_client, GOOD_SEARCH, {"chart": CHART, "type": "chart-graph"}), 401)
    basic_client.environ_base["HTTP_AUTHORIZATION"] = basic("bob", "builder")["Authorization"]
    try:
        answered = post_panel_callback(basic_client, GOOD_SEARCH, {"chart": CHART, "type": "chart-graph"})
    finally:
        del basic_client.environ_base["HTTP_AUTHORIZATION"]
    assert answered.status_code == 200 and "data through" in answered.get_data(as_text=True)


@pytest.mark.parametrize("client", ["basic_client", "header_client", "signed_client", "guarded_client"])
def test_health_stays_open_in_every_mode(request, client):
    response = request.getfixturevalue(client).get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"ok": True}


def test_the_users_file_is_read_again_when_it_changes(shared_config, tmp_path, caplog):
    users = tmp_path / "users"
    write_users(users, alice="wonderland")
    client = client_for(shared_config, auth="basic", users_file=users)
    assert client.get("/api/charts", headers=basic("alice", "wonderland")).status_code == 200
    write_users(users, alice="new-password", carol="singer")
    bump_mtime(users)
    assert client.get("/api/charts", headers=basic("alice", "wonderland")).status_code == 401
    assert client.get("/api/charts", headers=basic("alice", "new-password")).status_code == 200
    assert client.get("/api/charts", headers=basic("carol", "singer")).status_code == 200
    # A change that breaks the file locks everyone out (and says so in the log) until it is fixed.
    users.write_text("carol singer\n")
    bump_mtime(users)
    assert client.get("/api/charts", headers=basic("carol", "singer")).status_code == 401
    assert "line 1 is not user:hash" in caplog.text and "nobody can sign in" in caplog.text
    write_users(users, carol="singer")
    bump_mtime(users)
    assert client.get("/api/charts", headers=basic("carol", "singer")).status_code == 200


# -- header ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GUARDED)
def test_header_auth_believes_the_user_header_from_a_trusted_proxy_only(header_client, path):
    user = {"X-Forwarded-User": "alice@example.com"}
    if path != "/no-such-page":
        assert header_client.get(path, headers=user, environ_base={"REMOTE_ADDR": PROXY}).status_code == 200
        assert header_client.get(path, headers=user, environ_base={"REMOTE_ADDR": "192.168.0.2"}).status_code == 200
    response = header_client.get(path, headers=user, environ_base={"REMOTE_ADDR": "192.168.0.9"})
    assert_refused(response, 401, "reached through its sign-in proxy")
    assert "WWW-Authenticate" not in response.headers
    assert_refused(header_client.get(path, environ_base={"REMOTE_ADDR": PROXY}), 401)


@pytest.mark.parametrize(
    ("remote", "headers", "status"),
    [
        ("::ffff:10.1.2.3", {"X-Forwarded-User": "alice"}, 200),  # the proxy's address as IPv6
        ("203.0.113.7", {"X-Forwarded-User": "alice", "X-Forwarded-For": PROXY}, 401),  # forwarded-for is not read
        ("127.0.0.1", {"X-Forwarded-User": "alice"}, 401),
        (PROXY, {"X-Forwarded-User": ""}, 401),
        (PROXY, {"X-Forwarded-User": "alice\x01"}, 401),
        (PROXY, {"X-Remote-User": "alice"}, 401),  # not the configured header
    ],
)
def test_header_auth_trusts_the_connection_address_and_the_configured_header_only(
    header_client, remote, headers, status
):
    response = header_client.get("/api/charts", headers=headers, environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == status


# -- signed embeds ---------------------------------------------------------------------------------


def test_a_signed_embed_and_its_api_url_answer_with_the_charts_data(signed_client, shared_client):
    page = signed_client.get(signed())
    assert page.status_code == 200
    assert '<div id="chart"' in page.get_data(as_text=True)
    response = signed_client.get(signed(api=True))
    assert response.status_code == 200
    # The same token opens the API URL with the same parameters, and the figure is the unsigned one's.
    assert signed_client.get(signed().replace("/embed/", "/api/charts/")).status_code == 200
    assert response.get_json()["figure"] == shared_client.get(f"/api/charts/{CHART}?{QUERY}").get_json()["figure"]


@pytest.mark.parametrize("route", [f"/embed/{CHART}", f"/api/charts/{CHART}"])
def test_with_a_secret_an_unsigned_chart_is_refused_with_403(signed_client, route):
    response = signed_client.get(f"{route}?{QUERY}")
    body = assert_refused(response, 403, "token: is needed")
    if route.startswith("/api/"):
        assert response.get_json()["param"] == "token"
    else:
        assert "dashapp sign-url" in body


def test_with_a_secret_and_no_portal_auth_the_listing_the_pages_and_the_embed_files_stay_open(signed_client):
    assert signed_client.get("/api/charts").status_code == 200
    assert signed_client.get("/").status_code == 200
    assert signed_client.get("/embed/static/embed.js").status_code == 200


def forge(url: str, **changes) -> str:
    """Rewrite the token's payload (a longer life, another chart) and keep its signature."""
    token = dict(parse_qsl(urlsplit(url).query))["token"]
    payload, stamp, signature = token.split(".")
    forged = base64_encode(json.dumps(json.loads(base64_decode(payload)) | changes).encode()).decode()
    return url.replace(token, f"{forged}.{stamp}.{signature}")


def expired_url(monkeypatch) -> str:
    """A link with an hour's life, signed two hours ago."""
    now = time.time()
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: now - 7200)
        return signed(expiry=timedelta(hours=1))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda mp: forge(signed(), e=10**7), "is not valid (altered"),
        (lambda mp: forge(signed(), c="ops.error_rate").replace(CHART, "ops.error_rate"), "is not valid"),
        (lambda mp: signed()[:-12] + signed()[-12:].swapcase(), "is not valid"),
        (lambda mp: signed(secret="another-secret-" + "x" * 32), "is not valid"),
        (expired_url, "expired at"),
        (lambda mp: signed(chart="ops.error_rate").replace("ops.error_rate", CHART), "signed for another chart"),
        (lambda mp: signed().replace("2024-03-04", "2024-03-05"), "signed for other parameters"),
        (lambda mp: signed() + "&symbol=AAPL", "signed for other parameters"),
        (lambda mp: signed() + "&theme=dark", "signed for other parameters"),
        (lambda mp: signed().replace("start=2024-03-01&", ""), "signed for other parameters"),
        (lambda mp: signed() + "&token=x", "may be given once"),
    ],
    ids=[
        "longer-life",
        "other-chart-in-payload",
        "signature",
        "other-secret",
        "expired",
        "other-chart",
        "other-value",
        "added",
        "theme",
        "dropped",
        "twice",
    ],
)
def test_a_tampered_expired_or_mismatched_token_is_refused_with_403(signed_client, monkeypatch, make, message):
    url = make(monkeypatch)
    assert_refused(signed_client.get(url), 403, message)
    api = signed_client.get(url.replace("/embed/", "/api/charts/"))
    assert_refused(api, 403, message)
    assert api.get_json()["param"] == "token"


def test_a_token_signs_the_parameters_not_their_order(signed_client):
    pairs = [*PAIRS, ("symbol", "AAPL"), ("symbol", "MSFT"), ("theme", "dark"), ("title", "Latency, AAPL & MSFT")]
    url = signed(pairs)
    reordered = url.replace("symbol=AAPL&symbol=MSFT", "symbol=MSFT&symbol=AAPL")
    assert reordered != url
    text = signed_client.get(reordered).get_data(as_text=True)
    assert "Latency, AAPL &amp; MSFT" in text and "theme-dark" in text


def test_with_portal_auth_a_token_opens_its_own_chart_and_the_files_its_page_loads_only(guarded_client):
    url = signed()
    page = guarded_client.get(url)
    assert page.status_code == 200
    # The page's stylesheet, plotly.js and script, requested as the browser does: the embed URL as Referer.
    files = re.findall(r'(?:href|src)="(/embed/[^"]+)"', page.get_data(as_text=True))
    assert len(files) == 3
    for path in [*files, "/favicon.ico"]:  # and the icon every page gets from the browser
        assert guarded_client.get(path, headers={"Referer": f"https://portal.example.com{url}"}).status_code == 200
        assert_refused(guarded_client.get(path), 401)
        assert_refused(guarded_client.get(path, headers={"Referer": f"http://x{forge(url, e=10**7)}"}), 401)
    assert guarded_client.get(signed(api=True)).status_code == 200
    # Not another chart, not other parameters, not the pages, the callbacks or the listing.
    assert_refused(guarded_client.get(f"/embed/ops.error_rate?{QUERY}"), 401)
    assert_refused(guarded_client.get(signed(api=True) + "&format=csv"), 403, "other parameters")
    for path in ("/", "/_dash-layout", "/api/charts", "/metrics"):
        assert_refused(guarded_client.get(path, headers={"Referer": f"http://x{url}"}), 401)


def test_with_portal_auth_a_signed_in_user_needs_no_token_but_a_given_one_must_be_valid(guarded_client):
    alice = basic("alice", "wonderland")
    assert guarded_client.get(f"/embed/{CHART}?{QUERY}", headers=alice).status_code == 200
    assert guarded_client.get(f"/api/charts/{CHART}?{QUERY}&format=csv", headers=alice).status_code == 200
    assert_refused(guarded_client.get(signed() + "&symbol=AAPL", headers=alice), 403, "other parameters")


# -- sign-url --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)), ("365d", timedelta(365))],
)
def test_lifetimes_read_minutes_hours_and_days(text, expected):
    assert parse_expiry(text) == expected


@pytest.mark.parametrize("text", ["0d", "366d", "9000h", "2w", "1.5h", "", "7 days", "-1d"])
def test_lifetimes_outside_a_year_or_in_other_units_are_refused(text):
    with pytest.raises(ValueError):
        parse_expiry(text)


def test_sign_url_prints_an_embed_url_that_opens_the_chart(signed_client, monkeypatch, capsys):
    monkeypatch.setenv("DASHAPP_EMBED_SECRET", SECRET)
    argv = ["sign-url", CHART, "--param", "start=2024-03-01", "--param", "end=2024-03-04", "--param", "theme=dark"]
    assert main([*argv, "--expires", "12h", "--base", "https://portal.example.com/"]) == 0
    url = urlsplit(capsys.readouterr().out.strip())
    assert (url.scheme, url.netloc, url.path) == ("https", "portal.example.com", f"/embed/{CHART}")
    assert [name for name, _ in parse_qsl(url.query)] == ["start", "end", "theme", "token"]
    assert signed_client.get(f"{url.path}?{url.query}").status_code == 200
    assert_refused(signed_client.get(f"{url.path}?{url.query.replace('theme=dark', 'theme=light')}"), 403)


def test_sign_url_prints_json_for_the_api_url(signed_client, monkeypatch, capsys):
    monkeypatch.setenv("DASHAPP_EMBED_SECRET", SECRET)
    monkeypatch.setenv("DASHAPP_BIND", "127.0.0.1:9999")
    before = datetime.now(UTC).replace(microsecond=0)
    assert (
        main(["sign-url", CHART, "--param", "start=2024-03-01", "--param", "end=2024-03-04"] + ["--api", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["chart"] == CHART and out["params"] == [list(pair) for pair in PAIRS]
    expires = datetime.fromisoformat(out["expires"])
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)
    url = urlsplit(out["url"])
    assert (url.netloc, url.path) == ("127.0.0.1:9999", f"/api/charts/{CHART}")
    response = signed_client.get(f"{url.path}?{url.query}")
    assert response.status_code == 200 and response.get_json()["chart"] == CHART


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([CHART], {}, "DASHAPP_EMBED_SECRET is not set"),
        (["ops.nope"], {"DASHAPP_EMBED_SECRET": SECRET}, "no chart named 'ops.nope'"),
        ([CHART, "--param", "bucket=1s"], {"DASHAPP_EMBED_SECRET": SECRET}, "bucket: must be auto or one of"),
        ([CHART, "--param", "feature=x"], {"DASHAPP_EMBED_SECRET": SECRET}, "feature: is not a parameter of"),
        ([CHART, "--param", "token=x"], {"DASHAPP_EMBED_SECRET": SECRET}, "token: is added by sign-url"),
        ([CHART], {"DASHAPP_EMBED_SECRET": SECRET, "DASHAPP_BIND": "unix:/run/d.sock"}, "give the portal's address"),
    ],
)
def test_sign_url_refuses_what_would_not_work_with_exit_code_2(monkeypatch, capsys, argv, environ, message):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(["sign-url", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--expires", "400d"], "--expires: may be at most 365d"), (["--param", "start"], "--param: must be name=value")],
)
def test_sign_url_refuses_a_bad_lifetime_or_pair_as_a_usage_error(monkeypatch, capsys, argv, message):
    monkeypatch.setenv("DASHAPP_EMBED_SECRET", SECRET)
    with pytest.raises(SystemExit) as exited:
        main(["sign-url", CHART, *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
