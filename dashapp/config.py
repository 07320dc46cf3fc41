"""The one configuration object, read once from DASHAPP_* environment variables.

Precedence: explicit argument > DASHAPP_* variable > default. A bad value stops start-up with
one line that names the variable (datasette's settings table, Flask's fail-fast config).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError
from .sizing import default_workers, size_bytes
from .storage import data_location, location_problem

PREFIX = "DASHAPP_"
CACHE_TYPES = ("filesystem", "simple", "null")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
AUTH_MODES = ("none", "basic", "header")
MIN_SECRET_LENGTH = 32
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
# /, or /part/.../ with URL-safe parts that cannot be . or .. (nor start with one)
_URL_PREFIX = re.compile(r"/([A-Za-z0-9_~-][A-Za-z0-9._~-]*/)*")
# A CSP host or scheme source: https:, https://example.com, https://*.example.com:8443, example.com
_ORIGIN = re.compile(
    r"[a-z][a-z0-9+.-]*:|([a-z][a-z0-9+.-]*://)?(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:(\d{1,5}|\*))?"
)


def _default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "dashapp-cache"


def _default_metrics_dir() -> Path:
    """/dev/shm where there is one (memory, and not the cache folder's volume), else the temporary folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def _default_state_dir() -> Path:
    """$XDG_STATE_HOME/dashapp: state that must outlive restarts, unlike a cache (the XDG base directory spec)."""
    return Path(os.environ.get("XDG_STATE_HOME") or "~/.local/state").expanduser() / "dashapp"


@dataclass(frozen=True)
class Config:
    """Settings for one app process. Each field is DASHAPP_<FIELD> in the environment.

    Each field's metadata says whether it changes computed results ("results"): those, and only
    those, are part of the cache key of every memoized result (results_fingerprint). The others
    (where to serve, how many workers, where to cache, who may look) leave every number alone, so
    servers that differ only in them share cache entries. Every field must say which it is:
    tests/test_config.py lists the answer for each, so a new field fails it until someone decides.

    A field marked "secret" may come from a file instead: DASHAPP_<FIELD>_FILE names it (Docker's and
    Kubernetes' secrets), read once, without its trailing newline.
    """

    # A folder (Path), or an object store URL kept as written (str): s3://bucket/prefix, gs://..., az://...
    data_dir: Path | str = field(
        default=Path("data/demo"),
        metadata={"help": "folder of contract parquet tables, or s3://bucket/prefix (gs://, az://)", "results": False},
    )
    cache_dir: Path = field(
        default_factory=_default_cache_dir,
        metadata={"help": "FileSystemCache folder shared by the workers, and DuckDB's spill folder", "results": False},
    )
    # The cache folder may fail (full, read-only, removed) and the portal serves on, uncached; what lives elsewhere
    # by default is what a failing volume would take down with it: the Prometheus files and the alert state.
    metrics_dir: Path = field(
        default_factory=_default_metrics_dir,
        metadata={
            "help": "where gunicorn makes a folder for its workers' Prometheus files (removed when it stops)",
            "results": False,
        },
    )
    duckdb_spill_dir: Path | None = field(
        default=None,
        metadata={
            "help": "DuckDB's spill folder (temp_directory), shared by the workers; empty = <cache_dir>/duckdb-tmp",
            "results": False,
        },
    )
    cache_type: str = field(
        default="filesystem", metadata={"help": "filesystem, simple (per process) or null", "results": False}
    )
    cache_timeout: int = field(
        default=86400,
        metadata={"help": "seconds a cached result lives; new data changes the key anyway", "results": False},
    )
    # Left out of repr (like embed_secret): the URL may carry Redis's password.
    cache_redis_url: str = field(
        default="",
        repr=False,
        metadata={
            "help": "redis://, rediss:// or unix:// URL: the results cache lives in Redis, not cache_type",
            "results": False,
            "secret": True,
        },
    )
    # Left out of repr too: the broker's URL may carry Redis's password.
    celery_broker_url: str = field(
        default="",
        repr=False,
        metadata={
            "help": "redis:// or rediss:// URL: the scheduler's work and background callbacks run on Celery workers",
            "results": False,
            "secret": True,
        },
    )
    bind: str = field(default="127.0.0.1:8050", metadata={"help": "gunicorn bind address, host:port", "results": False})
    public_url: str = field(
        default="",
        metadata={
            "help": "the portal's address as users reach it (https://portal.example.com), for links sent out;"
            " DASHAPP_URL_PREFIX is added; empty = http://DASHAPP_BIND",
            "results": False,
        },
    )
    # Served under a path of its own behind a reverse proxy that passes the path on whole (subpath.py).
    url_prefix: str = field(
        default="/",
        metadata={
            "help": "the path the portal is served under, like /monitoring/ (the proxy passes it on); / = the root",
            "results": False,
        },
    )
    workers: int = field(
        default=0,
        metadata={
            "help": "gunicorn workers; 0 = min(cores, memory available // (DuckDB memory limit + 300 MiB)),"
            " from 1 to 64 (sizing.py)",
            "results": False,
        },
    )
    threads: int = field(default=4, metadata={"help": "gunicorn threads per worker", "results": False})
    duckdb_threads: int = field(
        default=0, metadata={"help": "DuckDB threads per worker; 0 = one per core", "results": False}
    )
    duckdb_memory_limit: str = field(
        default="768MiB", metadata={"help": "DuckDB memory limit per worker", "results": False}
    )
    query_timeout: float = field(
        default=20.0,
        metadata={
            "help": "seconds a request's queries may take before DuckDB is interrupted (gunicorn waits 30 more)",
            "results": False,
        },
    )
    heavy_queries: int = field(
        default=2,
        metadata={
            "help": "queries over the data one worker runs at once; more wait (metadata never does)",
            "results": False,
        },
    )
    log_level: str = field(default="INFO", metadata={"help": "DEBUG, INFO, WARNING or ERROR", "results": False})
    drift_psi_warning: float = field(
        default=0.1, metadata={"help": "PSI from which a feature's drift is a warning", "results": True}
    )
    drift_psi_critical: float = field(
        default=0.25, metadata={"help": "PSI from which a feature's drift is critical", "results": True}
    )
    drift_cardinality_growth: float = field(
        default=1.3,
        metadata={"help": "growth in distinct values (window / baseline) that is a warning", "results": True},
    )
    drift_prediction_kl: float = field(
        default=0.15,
        metadata={"help": "KL divergence of the label mix from which prediction drift is a warning", "results": True},
    )
    drift_top_k: int = field(
        default=50,
        metadata={
            "help": "categories of a text feature with their own PSI bin (the reference's most frequent);"
            " the others share one 'other' bin",
            "results": True,
        },
    )
    slo_availability: float = field(
        default=0.999,
        metadata={"help": "availability objective: the share of a service's samples that are up", "results": True},
    )
    slo_latency_p95_ms: float = field(
        default=2000.0,
        metadata={"help": "latency objective: p95 under this many ms (95% of requests faster)", "results": True},
    )
    slo_accuracy: float = field(
        default=0.75, metadata={"help": "accuracy objective: the share of predictions right", "results": True}
    )
    slo_cache_hit_rate: float = field(
        default=0.90, metadata={"help": "feature-store cache objective: the share of lookups that hit", "results": True}
    )
    accuracy_critical: float = field(
        default=0.55,
        metadata={
            "help": "a model version's daily accuracy below this is critical (below DASHAPP_SLO_ACCURACY: a warning)",
            "results": True,
        },
    )
    slo_window_days: int = field(
        default=30, metadata={"help": "the rolling window of the error budgets, in days", "results": True}
    )
    alert_rules: Path = field(
        default=Path(str(files("dashapp.alerts") / "default_rules.toml")),
        metadata={"help": "TOML file of alert rules (default: the rules shipped with dashapp)", "results": True},
    )
    alert_webhook: str = field(
        default="",
        metadata={
            "help": "http(s) URL the scheduler POSTs alert state changes to (JSON); empty = none",
            "results": False,
        },
    )
    # Left out of repr: the URL may carry the user and password of Alertmanager (or of its proxy).
    alertmanager_url: str = field(
        default="",
        repr=False,
        metadata={
            "help": "Alertmanager's base URL (http://alertmanager:9093): the scheduler sends it the firing alerts",
            "results": False,
        },
    )
    alert_interval: int = field(
        default=60,
        metadata={"help": "seconds between two evaluations of the alert rules by the scheduler", "results": False},
    )
    alert_history_days: int = field(
        default=90,
        metadata={"help": "days of alert history (firing periods, state changes) the store keeps", "results": False},
    )
    state_dir: Path = field(
        default_factory=_default_state_dir,
        metadata={"help": "folder of the alert state store on one host: keep it on a durable volume", "results": False},
    )
    # Left out of repr: the URL may carry Redis's password.
    state_redis_url: str = field(
        default="",
        repr=False,
        metadata={
            "help": "redis://, rediss:// or unix:// URL: the alert state store lives in Redis (several hosts)",
            "results": False,
            "secret": True,
        },
    )
    # Access control: dashapp/auth.py. The secret is left out of repr, so it never reaches a log.
    embed_secret: str = field(
        default="",
        repr=False,
        metadata={
            "help": "signs embed tokens (32+ characters); when set, /embed and /api/charts/<id> need a token",
            "results": False,
            "secret": True,
        },
    )
    auth: str = field(
        default="none", metadata={"help": "portal authentication: none, basic or header", "results": False}
    )
    users_file: Path | None = field(
        default=None,
        metadata={"help": "auth=basic: lines user:hash from werkzeug's generate_password_hash", "results": False},
    )
    auth_header: str = field(
        default="X-Forwarded-User",
        metadata={"help": "auth=header: the request header carrying the user", "results": False},
    )
    trusted_proxies: str = field(
        default="",
        metadata={"help": "auth=header: comma-separated IPs or CIDRs whose user header is believed", "results": False},
    )
    frame_ancestors: str = field(
        default="'self'",
        metadata={
            "help": "who may frame the /embed pages (CSP frame-ancestors): 'self', 'none' or origins",
            "results": False,
        },
    )
    browser_path: str = field(
        default="",
        metadata={"help": "Chromium for PNG/SVG export; empty = kaleido finds chromium on the PATH", "results": False},
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", data_location(self.data_dir))  # a folder given as text is a Path
        self._validate()
        if self.workers == 0:
            object.__setattr__(self, "workers", default_workers(self.duckdb_memory_limit))
        if self.duckdb_threads == 0:
            # One per core, not cores // workers: one query then uses the whole machine when it is
            # quiet (a 30-day aggregation on 10M rows takes half the time), and under load the
            # workers' DuckDB pools share the cores anyway (measured in tests/bench).
            object.__setattr__(self, "duckdb_threads", os.cpu_count() or 1)

    @property
    def duckdb_temp_dir(self) -> Path:
        """The folder of the workers' spill folders."""
        return self.duckdb_spill_dir or self.cache_dir / "duckdb-tmp"

    @property
    def background_dir(self) -> Path:
        """The diskcache of background callbacks' jobs (progress, results), shared by the workers of one host."""
        return self.cache_dir / "background"

    @property
    def portal_url(self) -> str:
        """The portal's address for links that leave it (alerts), with its URL prefix, without a trailing slash."""
        if self.public_url:
            return portal_address(self.public_url, self.url_prefix)
        origin = "http://localhost" if self.bind.startswith("unix:") else f"http://{self.bind}"
        return origin + self.url_prefix.rstrip("/")

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The trusted proxies as networks (a single address is a /32 or /128)."""
        networks = []
        for item in filter(None, (part.strip() for part in self.trusted_proxies.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigError(
                    f"{env_name('trusted_proxies')} must be comma-separated IP addresses or CIDRs, got {item[:60]!r}"
                ) from None
        return tuple(networks)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Config:
        """Build the config from DASHAPP_* variables, with keyword overrides on top."""
        environ = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, raw in environ.items():
            if not key.startswith(PREFIX):
                continue
            name = key[len(PREFIX) :].lower()
            secret = name.removesuffix("_file")
            if name not in known and secret in known and known[secret].metadata.get("secret"):
                if env_name(secret) in environ:
                    raise ConfigError(f"{env_name(secret)} and {key} are both set: give one of them")
                name, raw = secret, _read_secret(key, raw)
            elif name not in known:
                raise ConfigError(f"{key} is not a dashapp setting (known: {', '.join(env_names())})")
            values[name] = _cast(key, known[name].type, raw)
        values.update(overrides)
        return cls(**values)

    def _validate(self) -> None:
        if self.cache_type not in CACHE_TYPES:
            raise ConfigError(
                f"{env_name('cache_type')} must be one of {', '.join(CACHE_TYPES)}, got {self.cache_type!r}"
            )
        if self.cache_timeout < 0:
            raise ConfigError(f"{env_name('cache_timeout')} must be >= 0, got {self.cache_timeout}")
        if self.duckdb_threads < 0:
            raise ConfigError(f"{env_name('duckdb_threads')} must be 0 (auto) or more, got {self.duckdb_threads}")
        if not 0 < self.query_timeout <= 600:
            raise ConfigError(
                f"{env_name('query_timeout')} must be above 0 and at most 600 seconds, got {self.query_timeout}"
            )
        if not 0 <= self.workers <= 64:
            raise ConfigError(
                f"{env_name('workers')} must be between 1 and 64, or 0 (from cores and memory), got {self.workers}"
            )
        for name in ("threads", "heavy_queries"):
            if not 1 <= getattr(self, name) <= 64:
                raise ConfigError(f"{env_name(name)} must be between 1 and 64, got {getattr(self, name)}")
        if not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}|unix:/\S+", self.bind):
            raise ConfigError(f"{env_name('bind')} must be host:port or unix:/path, got {self.bind!r}")
        if not _is_size(self.duckdb_memory_limit):
            raise ConfigError(
                f"{env_name('duckdb_memory_limit')} must be a size like 768MiB or 2GB, got {self.duckdb_memory_limit!r}"
            )
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"{env_name('log_level')} must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        for name in ("drift_psi_warning", "drift_psi_critical", "drift_cardinality_growth", "drift_prediction_kl"):
            if not 0 < getattr(self, name) < 100:
                raise ConfigError(f"{env_name(name)} must be a number above 0, got {getattr(self, name)}")
        if not 1 <= self.drift_top_k <= 100_000:
            raise ConfigError(f"{env_name('drift_top_k')} must be between 1 and 100000, got {self.drift_top_k}")
        if self.drift_psi_warning >= self.drift_psi_critical:
            raise ConfigError(
                f"{env_name('drift_psi_warning')} must be below {env_name('drift_psi_critical')}"
                f" ({self.drift_psi_warning} >= {self.drift_psi_critical})"
            )
        for name in ("slo_availability", "slo_accuracy", "slo_cache_hit_rate", "accuracy_critical"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(
                    f"{env_name(name)} must be a share between 0 and 1, like 0.999; got {getattr(self, name)}"
                )
        if self.accuracy_critical >= self.slo_accuracy:
            raise ConfigError(
                f"{env_name('accuracy_critical')} must be below {env_name('slo_accuracy')}"
                f" ({self.accuracy_critical} >= {self.slo_accuracy})"
            )
        if not 0 < self.slo_latency_p95_ms <= 3_600_000:
            raise ConfigError(f"{env_name('slo_latency_p95_ms')} must be above 0 ms, got {self.slo_latency_p95_ms}")
        if not 1 <= self.slo_window_days <= 365:
            raise ConfigError(f"{env_name('slo_window_days')} must be between 1 and 365, got {self.slo_window_days}")
        if self.cache_redis_url and not _redis_url_ok(self.cache_redis_url):
            raise ConfigError(
                f"{env_name('cache_redis_url')} must be a redis://host:port/db, rediss://... or unix:///path URL,"
                f" got {redacted_url(self.cache_redis_url)[:80]!r}"
            )
        if self.state_redis_url and not _redis_url_ok(self.state_redis_url):
            raise ConfigError(
                f"{env_name('state_redis_url')} must be a redis://host:port/db, rediss://... or unix:///path URL,"
                f" got {redacted_url(self.state_redis_url)[:80]!r}"
            )
        if not 1 <= self.alert_interval <= 3600:
            raise ConfigError(f"{env_name('alert_interval')} must be 1 to 3600 seconds, got {self.alert_interval}")
        if not 1 <= self.alert_history_days <= 3660:
            raise ConfigError(f"{env_name('alert_history_days')} must be 1 to 3660 days, got {self.alert_history_days}")
        if self.celery_broker_url and not _redis_url_ok(self.celery_broker_url, unix=False):
            raise ConfigError(
                f"{env_name('celery_broker_url')} must be a redis://host:port/db or rediss://... URL,"
                f" got {redacted_url(self.celery_broker_url)[:80]!r}"
            )
        if self.alert_webhook and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", self.alert_webhook):
            raise ConfigError(f"{env_name('alert_webhook')} must be an http(s) URL, got {self.alert_webhook[:80]!r}")
        if self.alertmanager_url and not _base_url_ok(self.alertmanager_url):
            raise ConfigError(
                f"{env_name('alertmanager_url')} must be Alertmanager's base http(s) URL like http://alertmanager:9093"
                f" (the scheduler adds /api/v2/alerts), got {redacted_url(self.alertmanager_url)[:80]!r}"
            )
        if not (len(self.url_prefix) <= 200 and _URL_PREFIX.fullmatch(self.url_prefix)):
            raise ConfigError(
                f"{env_name('url_prefix')} must start and end with / and hold path parts of letters, digits, - _ ~"
                f" and . (not first), like /monitoring/ or /ml/portal/; got {self.url_prefix[:80]!r}"
            )
        if self.public_url and not _base_url_ok(self.public_url):
            raise ConfigError(
                f"{env_name('public_url')} must be the portal's http(s) address like https://portal.example.com,"
                f" got {self.public_url[:80]!r}"
            )
        if self.public_url:
            try:
                portal_address(self.public_url, self.url_prefix)
            except ValueError as exc:
                raise ConfigError(f"{env_name('public_url')} {exc}") from None
        if not _frame_ancestors_ok(self.frame_ancestors):
            raise ConfigError(
                f"{env_name('frame_ancestors')} must be 'self', 'none' or space-separated origins"
                f" like https://wiki.example.com, got {self.frame_ancestors[:80]!r}"
            )
        data_problem = location_problem(self.data_dir)
        if data_problem:
            raise ConfigError(f"{env_name('data_dir')} {data_problem}")
        self._validate_access()

    def _validate_access(self) -> None:
        """Check the access-control settings; a basic-auth users file is read here, so a bad one stops the start."""
        if self.embed_secret and len(self.embed_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{env_name('embed_secret')} must be at least {MIN_SECRET_LENGTH} characters, got"
                f" {len(self.embed_secret)} (make one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.auth not in AUTH_MODES:
            raise ConfigError(f"{env_name('auth')} must be one of {', '.join(AUTH_MODES)}, got {self.auth[:20]!r}")
        if not _HEADER_NAME.fullmatch(self.auth_header):
            raise ConfigError(
                f"{env_name('auth_header')} must be a header name (letters, digits, -), got {self.auth_header[:70]!r}"
            )
        proxies = self.proxy_networks  # parsed whatever the mode: a bad entry always stops the start
        if self.auth == "header" and not proxies:
            raise ConfigError(
                f"{env_name('auth')}=header needs {env_name('trusted_proxies')}: the addresses of the proxies"
                " that set the user header"
            )
        if self.auth == "basic":
            if self.users_file is None:
                raise ConfigError(f"{env_name('auth')}=basic needs {env_name('users_file')}: a file of user:hash lines")
            from .auth import read_users  # here, not at the top: auth imports Flask

            read_users(self.users_file)


def results_fingerprint(config: Config) -> str:
    """A hash of the settings that change computed results; a file setting (alert_rules) counts by its content,
    not its path, so hosts with the same rules in different places share entries."""
    values = {f.name: getattr(config, f.name) for f in fields(config) if f.metadata["results"]}
    values = {name: _content(value) if isinstance(value, Path) else value for name, value in values.items()}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def _content(path: Path) -> str:
    """A hash of a file's bytes, read once per version of the file (path, mtime, size) like the rules themselves."""
    try:
        stat = path.stat()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    return _content_of_version(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _content_of_version(path: Path, mtime_ns: int, size: int) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _is_size(text: str) -> bool:
    try:
        size_bytes(text)
    except ValueError:
        return False
    return True


def _frame_ancestors_ok(value: str) -> bool:
    """CSP source expressions only: no ; (a second directive) and no quoted keyword but 'self' and 'none'."""
    sources = value.split()
    if sources == ["'none'"]:
        return True
    return bool(sources) and all(s == "'self'" or _ORIGIN.fullmatch(s) for s in sources)


def portal_address(url: str, prefix: str) -> str:
    """The portal's address from a site's (https://example.com) or the portal's own
    (https://example.com/monitoring/), without a trailing slash. ValueError when its path is another."""
    parts = urlsplit(url)
    if parts.path.rstrip("/") not in ("", prefix.rstrip("/")):
        if prefix == "/":
            raise ValueError(f"must have no path ({env_name('url_prefix')} serves under one), got {parts.path[:60]!r}")
        raise ValueError(
            f"must have no path or the URL prefix {prefix} ({env_name('url_prefix')}), got {parts.path[:60]!r}"
        )
    return f"{parts.scheme}://{parts.netloc}{prefix.rstrip('/')}"


def _base_url_ok(url: str) -> bool:
    """An http(s) address with a host, and a path only as a prefix (a proxy's): no query, no fragment, no API path."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    plain = re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url) is not None
    return plain and bool(parts.hostname) and "/api/" not in parts.path + "/"


def _redis_url_ok(url: str, unix: bool = True) -> bool:
    """A URL redis-py's from_url takes: redis:// or rediss:// with a host (and a numeric db), or unix:// with a path
    (`unix=False`: not that one, which Celery's broker does not read)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    if parts.scheme in ("redis", "rediss"):
        return bool(parts.hostname) and re.fullmatch(r"/?\d*", parts.path) is not None
    return unix and parts.scheme == "unix" and parts.path.startswith("/")


def redacted_url(url: str) -> str:
    """The URL without user, password and query (which may carry a password), safe for a log or an error."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(not a URL)"
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def env_names() -> list[str]:
    return [env_name(f.name) for f in fields(Config)]


def _read_secret(key: str, path: str) -> str:
    """The value in the file a DASHAPP_<FIELD>_FILE names, without its trailing newline; an error names the variable
    and the file, never what it holds."""
    try:
        value = Path(path.strip()).expanduser().read_text().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path.strip()!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: {path.strip()!r} is not UTF-8 text") from None
    if not value.strip():
        raise ConfigError(f"{key}: {path.strip()!r} is empty")
    return value


def _cast(key: str, type_name: str, raw: str):
    """Cast an environment string to a field's type (annotations are strings here)."""
    raw = raw.strip()
    if type_name == "Path | str":  # a folder or an object store URL
        if not raw:
            raise ConfigError(f"{key} must be a path or a URL, got an empty value")
        return data_location(raw)
    if type_name in ("Path", "Path | None"):
        if not raw:
            raise ConfigError(f"{key} must be a path, got an empty value")
        return Path(raw).expanduser()
    if type_name == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
    if type_name == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {raw!r}") from None
    return raw
