"""Access control: signed embed links and portal authentication, checked before every request.

Both are off by default. With DASHAPP_EMBED_SECRET set, a chart's embed page and its API URL need a
`token` that signs the chart id, the exact query string (every parameter except `token` itself:
`theme`, `title` and `format` are signed too) and an expiry. With DASHAPP_AUTH=basic or header,
everything but /healthz and /readyz needs a portal user, except that a valid token is enough for its own
chart: its embed page, the files that page loads, and its API URL with the same parameters. The
check is a before_request hook, so the routes themselves know nothing of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from flask import Flask, Response, current_app, jsonify, request
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from markupsafe import escape
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash, generate_password_hash

from .config import Config, env_name
from .errors import BadParameter, ConfigError
from .subpath import portal_path

log = logging.getLogger(__name__)
SALT = "dashapp.embed-token"  # this purpose's own salt: a token signed for anything else never verifies here
MAX_EXPIRY = timedelta(days=365)
_EXPIRY = re.compile(r"(\d{1,6})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
# Flask endpoints: the routes a token opens (its chart's), the files the embed page loads, and the open one.
CHART_ENDPOINTS = frozenset({"embed.embed", "api.chart"})
EMBED_FILES = frozenset({"embed.static", "embed.plotly_js"})
BROWSER_FILES = frozenset({"/favicon.ico"})  # what a browser fetches for any page (here: Dash's catch-all route)
OPEN_ENDPOINTS = frozenset({"api.healthz", "api.readyz"})
_USER = re.compile(r"[^\s:#]{1,64}")
# werkzeug's generate_password_hash: method$salt$hex, method scrypt[:n:r:p] or pbkdf2:hash[:iterations].
_HASH = re.compile(r"(scrypt(:\d{1,10}){0,3}|pbkdf2:[a-z0-9_]{1,20}(:\d{1,10})?)\$[^$\s]{1,100}\$[0-9a-f]{16,256}")
_HEADER_USER = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


class BadToken(BadParameter):
    """A missing, altered, expired or mismatched embed token: 403, said in the API's or the embed page's shape."""

    status = 403

    def __init__(self, message: str):
        super().__init__("token", message)


# -- embed tokens -------------------------------------------------------------------------------


def parse_expiry(text: str) -> timedelta:
    """Read a lifetime such as 30m, 12h or 7d (at most 365d)."""
    match = _EXPIRY.fullmatch(text.strip())
    if not match or int(match[1]) == 0:
        raise ValueError(f"must be a number and m, h or d, like 30m, 12h or 7d, got {text[:20]!r}")
    expiry = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if expiry > MAX_EXPIRY:
        raise ValueError(f"may be at most {MAX_EXPIRY.days}d, got {text}")
    return expiry


def query_pairs(args: MultiDict) -> list[tuple[str, str]]:
    """The query string's (name, value) pairs that a token signs: all of them but the token."""
    return [(name, value) for name, value in args.items(multi=True) if name != "token"]


def _digest(pairs: Iterable[tuple[str, str]]) -> str:
    """A digest of the pairs in canonical order, so a repeated parameter's order does not matter."""
    canonical = urlencode(sorted(pairs)).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")


class Tokens:
    """Signs and checks embed tokens: {chart, digest of the parameters, lifetime} and itsdangerous' timestamp."""

    def __init__(self, secret: str):
        self.serializer = URLSafeTimedSerializer(secret, salt=SALT)

    def sign(self, chart_id: str, pairs: Iterable[tuple[str, str]], expiry: timedelta) -> str:
        return self.serializer.dumps({"c": chart_id, "p": _digest(pairs), "e": int(expiry.total_seconds())})

    def check(self, token: str, chart_id: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Raise BadToken unless the token is ours, unexpired, and signed for this chart and these parameters."""
        try:
            payload, signed_at = self.serializer.loads(token, max_age=MAX_EXPIRY.total_seconds(), return_timestamp=True)
        except SignatureExpired:
            raise BadToken("has expired") from None
        except BadData:
            raise BadToken("is not valid (altered, or signed with another secret)") from None
        expires = signed_at + timedelta(seconds=payload["e"])
        if time.time() > expires.timestamp():
            raise BadToken(f"expired at {expires:%Y-%m-%d %H:%M} UTC: ask for a new link")
        if payload["c"] != chart_id:
            raise BadToken("was signed for another chart")
        if not hmac.compare_digest(payload["p"], _digest(pairs)):
            raise BadToken("was signed for other parameters: the query string must be the signed one")

    def url(self, base: str, chart_id: str, pairs: list[tuple[str, str]], expiry: timedelta, api: bool = False) -> str:
        """A ready URL: the embed page (or, with `api`, the chart's API URL) with the pairs and their token."""
        return chart_url(base, chart_id, [*pairs, ("token", self.sign(chart_id, pairs, expiry))], api)


def chart_url(base: str, chart_id: str, pairs: list[tuple[str, str]], api: bool = False) -> str:
    """The chart's embed page (or, with `api`, its API URL) under `base` (the portal's address), with the pairs."""
    path = f"/api/charts/{quote(chart_id, safe='')}" if api else f"/embed/{quote(chart_id, safe='')}"
    return f"{base.rstrip('/')}{path}" + (f"?{urlencode(pairs)}" if pairs else "")


def expires_at(expiry: timedelta) -> datetime:
    """When a token signed now with this lifetime expires (itsdangerous stamps whole seconds)."""
    return datetime.fromtimestamp(int(time.time()), UTC) + expiry


# -- portal users -------------------------------------------------------------------------------


def read_users(path: Path) -> dict[str, str]:
    """Read a users file: `user:hash` lines (hash from werkzeug's generate_password_hash), # comments allowed.

    A line's content is never repeated in a message: it may be a password typed in by mistake.
    """
    name = env_name("users_file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, _, hashed = line.partition(":")
        if not _USER.fullmatch(user) or not _HASH.fullmatch(hashed):
            raise ConfigError(
                f"{name}: {path} line {number} is not user:hash (a hash from werkzeug.security.generate_password_hash)"
            )
        if user in users:
            raise ConfigError(f"{name}: {path} line {number} names {user!r} a second time")
        users[user] = hashed
    if not users:
        raise ConfigError(f"{name}: {path} names no user")
    return users


def _file_stamp(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class BasicAuth:
    """HTTP basic authentication against the users file, re-read when it changes.

    Each check costs one scrypt (about 80 ms), and a page load sends dozens of requests, so a
    verified password is remembered per user as an HMAC under a key of this process; an unknown
    user is checked against a dummy hash, so both answers take the same time.
    """

    kind = "basic"

    def __init__(self, path: Path):
        self.path = path
        self._stamp = _file_stamp(path)
        self._hashes = read_users(path)
        self._verified: dict[str, tuple[str, bytes]] = {}
        self._key = secrets.token_bytes(32)
        self._dummy = generate_password_hash(secrets.token_urlsafe(16))
        self._lock = threading.Lock()

    def user(self) -> str | None:
        credentials = request.authorization
        if credentials is None or credentials.type != "basic" or not credentials.username:
            return None
        name, password = credentials.username, credentials.password or ""
        hashed = self._users().get(name)
        proof = hmac.new(self._key, password.encode(), hashlib.sha256).digest()
        known = self._verified.get(name)
        if hashed is not None and known is not None and known[0] == hashed and hmac.compare_digest(known[1], proof):
            return name
        try:
            matches = check_password_hash(hashed or self._dummy, password)
        except ValueError:  # a hash werkzeug cannot compute (say, an unknown pbkdf2 digest)
            log.error("%s: the hash of user %r cannot be checked", self.path, name)
            return None
        if hashed is None or not matches:
            return None
        self._verified[name] = (hashed, proof)
        return name

    def _users(self) -> dict[str, str]:
        stamp = _file_stamp(self.path)
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._hashes = read_users(self.path)
                    except ConfigError as exc:  # fail closed: nobody signs in until the file is fixed
                        log.error("%s; nobody can sign in until it is fixed", exc.message)
                        self._hashes = {}
                    self._verified = {}
                    self._stamp = stamp
        return self._hashes


class HeaderAuth:
    """The user named in a header set by the portal's reverse proxy, believed only from the proxies' addresses.

    The address is the connection's (request.remote_addr), never X-Forwarded-For, which anyone can send.
    """

    kind = "header"

    def __init__(self, header: str, proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]):
        self.header = header
        self.proxies = proxies

    def user(self) -> str | None:
        if not self._trusted(request.remote_addr):
            return None
        value = request.headers.get(self.header, "")
        return value if _HEADER_USER.fullmatch(value) else None

    def _trusted(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:10.0.0.1 is 10.0.0.1
        return any(ip in network for network in self.proxies)


# -- the check before each request ----------------------------------------------------------------


class Gate:
    """Decides, before each request, whether it may go on: see the module docstring for the rules."""

    def __init__(self, config: Config):
        self.tokens = Tokens(config.embed_secret) if config.embed_secret else None
        self.portal: BasicAuth | HeaderAuth | None = None
        if config.auth == "basic":
            self.portal = BasicAuth(config.users_file)
        elif config.auth == "header":
            self.portal = HeaderAuth(config.auth_header, config.proxy_networks)

    def check(self) -> Response | None:
        """Return None to let the request through, or the refusal; a bad token raises BadToken (403)."""
        endpoint = request.endpoint
        if endpoint in OPEN_ENDPOINTS:
            return None
        if self.tokens and endpoint in CHART_ENDPOINTS and "token" in request.args:
            tokens = request.args.getlist("token")
            if len(tokens) > 1:
                raise BadToken("may be given once")
            self.tokens.check(tokens[0], request.view_args["chart_id"], query_pairs(request.args))
            return None
        embed_file = endpoint in EMBED_FILES or request.path in BROWSER_FILES
        if self.tokens and embed_file and self._loaded_by_signed_embed():
            return None
        if self.portal is None:
            if self.tokens and endpoint in CHART_ENDPOINTS:
                raise BadToken("is needed: this chart is shared by signed links only (`dashapp sign-url`)")
            return None
        return None if self.portal.user() else self._unauthorized()

    def _loaded_by_signed_embed(self) -> bool:
        """Whether the Referer is an embed page with a valid token (its plotly.js, script and style).

        The portal's Referrer-Policy (same-origin) sends the page's full URL with these requests: under a URL
        prefix, the routes match the path after it (request.script_root, subpath.py).
        """
        referrer = urlsplit(request.referrer or "")
        path = portal_path(request.script_root + "/", unquote(referrer.path))
        if path is None:
            return False
        try:
            endpoint, values = current_app.create_url_adapter(request).match(path, method="GET")
        except HTTPException:
            return False
        args = MultiDict(parse_qsl(referrer.query, keep_blank_values=True))
        if endpoint != "embed.embed" or len(args.getlist("token")) != 1:
            return False
        try:
            self.tokens.check(args["token"], values["chart_id"], query_pairs(args))
        except BadToken:
            return False
        return True

    def _unauthorized(self) -> Response:
        if self.portal.kind == "basic":
            message = "This portal needs a user name and password."
        else:
            message = "This portal is reached through its sign-in proxy."
        if request.path.startswith(("/api/", "/_dash-")):
            response = jsonify({"ok": False, "error": message, "status": 401})
        else:
            response = Response(f"<!doctype html><title>Sign in</title><p>{escape(message)}</p>", mimetype="text/html")
        response.status_code = 401
        if self.portal.kind == "basic":
            response.headers["WWW-Authenticate"] = 'Basic realm="dashapp"'
        return response


def init_auth(server: Flask, config: Config) -> None:
    """Check every request against the portal authentication and the embed tokens (nothing when both are off).

    Called after create_app's warm-up request, which must render the index without credentials.
    Flask's before_request() refuses once a request has been handled, so the check goes straight
    into the list that decorator fills.
    """
    if config.auth == "none" and not config.embed_secret:
        return
    server.before_request_funcs.setdefault(None, []).append(Gate(config).check)
