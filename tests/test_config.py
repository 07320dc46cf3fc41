"""Config: DASHAPP_* variables cast by field type, fail fast naming the variable, documented in README.md; which
settings change computed results (and so the cache keys of memoized results)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import fields, replace
from pathlib import Path

import pytest

from dashapp import sizing
from dashapp.config import Config, env_name, env_names, results_fingerprint
from dashapp.errors import ConfigError
from tests.fixtures import serving_variant

README = Path(__file__).resolve().parent.parent / "README.md"


def test_defaults_apply_when_no_variable_is_set():
    config = Config.from_env({})
    assert config.data_dir == Path("data/demo")
    assert config.cache_type == "filesystem"
    assert config.cache_timeout == 86400
    assert config.bind == "127.0.0.1:8050"
    assert config.threads == 4
    assert config.duckdb_memory_limit == "768MiB"
    assert config.log_level == "INFO"
    assert config.duckdb_threads >= 1
    assert (config.alert_interval, config.alert_history_days) == (60, 90)


def test_the_alert_state_lives_under_xdg_state_home_not_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert Config.from_env({}).state_dir == tmp_path / "dashapp"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert Config.from_env({}).state_dir == Path.home() / ".local" / "state" / "dashapp"


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("DASHAPP_DATA_DIR", "/srv/logs", "data_dir", Path("/srv/logs")),
        ("DASHAPP_DATA_DIR", " s3://logs/prod/v2 ", "data_dir", "s3://logs/prod/v2"),  # a URL stays text
        ("DASHAPP_CACHE_DIR", "/var/cache/dashapp", "cache_dir", Path("/var/cache/dashapp")),
        ("DASHAPP_METRICS_DIR", "/run/dashapp", "metrics_dir", Path("/run/dashapp")),
        ("DASHAPP_DUCKDB_SPILL_DIR", "/var/tmp/dashapp", "duckdb_spill_dir", Path("/var/tmp/dashapp")),
        ("DASHAPP_CACHE_TYPE", "null", "cache_type", "null"),
        ("DASHAPP_CACHE_TYPE", "simple", "cache_type", "simple"),
        ("DASHAPP_CACHE_TIMEOUT", "60", "cache_timeout", 60),
        ("DASHAPP_CACHE_TIMEOUT", " 0 ", "cache_timeout", 0),
        (
            "DASHAPP_CACHE_REDIS_URL",
            "redis://:pw@cache.internal:6380/2",
            "cache_redis_url",
            "redis://:pw@cache.internal:6380/2",
        ),
        ("DASHAPP_CACHE_REDIS_URL", "rediss://cache.internal", "cache_redis_url", "rediss://cache.internal"),
        ("DASHAPP_CACHE_REDIS_URL", "unix:///run/redis.sock?db=1", "cache_redis_url", "unix:///run/redis.sock?db=1"),
        (
            "DASHAPP_CELERY_BROKER_URL",
            "redis://:pw@broker.internal:6379/1",
            "celery_broker_url",
            "redis://:pw@broker.internal:6379/1",
        ),
        ("DASHAPP_CELERY_BROKER_URL", "rediss://broker.internal", "celery_broker_url", "rediss://broker.internal"),
        ("DASHAPP_BIND", "0.0.0.0:9000", "bind", "0.0.0.0:9000"),
        ("DASHAPP_BIND", "unix:/run/dashapp.sock", "bind", "unix:/run/dashapp.sock"),
        ("DASHAPP_PUBLIC_URL", " https://portal.example.com ", "public_url", "https://portal.example.com"),
        ("DASHAPP_URL_PREFIX", "/monitoring/", "url_prefix", "/monitoring/"),
        ("DASHAPP_URL_PREFIX", " /ml/portal-2.x/ ", "url_prefix", "/ml/portal-2.x/"),
        ("DASHAPP_WORKERS", "3", "workers", 3),
        ("DASHAPP_THREADS", "8", "threads", 8),
        ("DASHAPP_DUCKDB_THREADS", "2", "duckdb_threads", 2),
        ("DASHAPP_DUCKDB_MEMORY_LIMIT", "2GB", "duckdb_memory_limit", "2GB"),
        ("DASHAPP_QUERY_TIMEOUT", "7.5", "query_timeout", 7.5),
        ("DASHAPP_HEAVY_QUERIES", "3", "heavy_queries", 3),
        ("DASHAPP_LOG_LEVEL", "DEBUG", "log_level", "DEBUG"),
        ("DASHAPP_DRIFT_PSI_WARNING", "0.2", "drift_psi_warning", 0.2),
        ("DASHAPP_DRIFT_PSI_CRITICAL", "0.5", "drift_psi_critical", 0.5),
        ("DASHAPP_DRIFT_CARDINALITY_GROWTH", "2", "drift_cardinality_growth", 2.0),
        ("DASHAPP_DRIFT_PREDICTION_KL", " 0.05 ", "drift_prediction_kl", 0.05),
        ("DASHAPP_DRIFT_TOP_K", "20", "drift_top_k", 20),
        ("DASHAPP_SLO_AVAILABILITY", "0.995", "slo_availability", 0.995),
        ("DASHAPP_SLO_LATENCY_P95_MS", "750", "slo_latency_p95_ms", 750.0),
        ("DASHAPP_SLO_ACCURACY", "0.8", "slo_accuracy", 0.8),
        ("DASHAPP_SLO_CACHE_HIT_RATE", "0.95", "slo_cache_hit_rate", 0.95),
        ("DASHAPP_ACCURACY_CRITICAL", "0.5", "accuracy_critical", 0.5),
        ("DASHAPP_SLO_WINDOW_DAYS", "28", "slo_window_days", 28),
        ("DASHAPP_ALERT_RULES", "ops/rules.toml", "alert_rules", Path("ops/rules.toml")),
        ("DASHAPP_ALERT_WEBHOOK", "https://hooks.example/x", "alert_webhook", "https://hooks.example/x"),
        ("DASHAPP_ALERTMANAGER_URL", "http://alertmanager:9093", "alertmanager_url", "http://alertmanager:9093"),
        (
            "DASHAPP_ALERTMANAGER_URL",
            "https://u:pw@ops.example/am/",
            "alertmanager_url",
            "https://u:pw@ops.example/am/",
        ),
        ("DASHAPP_ALERT_INTERVAL", "30", "alert_interval", 30),
        ("DASHAPP_ALERT_HISTORY_DAYS", "30", "alert_history_days", 30),
        ("DASHAPP_STATE_DIR", "/var/lib/dashapp", "state_dir", Path("/var/lib/dashapp")),
        (
            "DASHAPP_STATE_REDIS_URL",
            "redis://:pw@state.internal:6379/1",
            "state_redis_url",
            "redis://:pw@state.internal:6379/1",
        ),
        ("DASHAPP_FRAME_ANCESTORS", "'self' https://wiki.example", "frame_ancestors", "'self' https://wiki.example"),
        ("DASHAPP_BROWSER_PATH", "/opt/chromium/chrome", "browser_path", "/opt/chromium/chrome"),
        ("DASHAPP_EMBED_SECRET", "s" * 32, "embed_secret", "s" * 32),
        ("DASHAPP_AUTH", " none ", "auth", "none"),
        ("DASHAPP_USERS_FILE", "~/users", "users_file", Path.home() / "users"),
        ("DASHAPP_AUTH_HEADER", "X-Auth-Request-User", "auth_header", "X-Auth-Request-User"),
        ("DASHAPP_TRUSTED_PROXIES", "10.0.0.0/8, ::1", "trusted_proxies", "10.0.0.0/8, ::1"),
    ],
)
def test_each_variable_sets_its_field_cast_to_the_fields_type(variable, raw, field, expected):
    assert getattr(Config.from_env({variable: raw}), field) == expected


def test_every_field_is_covered_by_the_variable_test():
    covered = {
        "data_dir",
        "cache_dir",
        "metrics_dir",
        "duckdb_spill_dir",
        "cache_type",
        "cache_timeout",
        "cache_redis_url",
        "celery_broker_url",
        "bind",
        "public_url",
        "url_prefix",
        "workers",
        "threads",
        "duckdb_threads",
        "duckdb_memory_limit",
        "query_timeout",
        "heavy_queries",
        "log_level",
        "drift_psi_warning",
        "drift_psi_critical",
        "drift_cardinality_growth",
        "drift_prediction_kl",
        "drift_top_k",
        "slo_availability",
        "slo_latency_p95_ms",
        "slo_accuracy",
        "slo_cache_hit_rate",
        "accuracy_critical",
        "slo_window_days",
        "alert_rules",
        "alert_webhook",
        "alertmanager_url",
        "alert_interval",
        "alert_history_days",
        "state_dir",
        "state_redis_url",
        "frame_ancestors",
        "browser_path",
        "embed_secret",
        "auth",
        "users_file",
        "auth_header",
        "trusted_proxies",
    }
    assert {f.name for f in fields(Config)} == covered


def test_a_path_variable_expands_the_home_folder():
    assert Config.from_env({"DASHAPP_CACHE_DIR": "~/cache"}).cache_dir == Path.home() / "cache"


def test_the_process_environment_is_read_when_none_is_given(monkeypatch):
    monkeypatch.setenv("DASHAPP_LOG_LEVEL", "WARNING")
    assert Config.from_env().log_level == "WARNING"


def test_an_explicit_argument_wins_over_the_environment():
    assert Config.from_env({"DASHAPP_THREADS": "8"}, threads=2).threads == 2


def test_variables_without_the_prefix_are_ignored():
    assert Config.from_env({"DATA_DIR": "/nowhere", "PATH": "/bin", "dashapp_threads": "x"}).threads == 4


@pytest.mark.parametrize(
    ("variable", "raw", "expects"),
    [
        ("DASHAPP_DATA_DIR", "", "must be a path"),
        ("DASHAPP_DATA_DIR", "   ", "must be a path"),
        ("DASHAPP_CACHE_DIR", "", "must be a path"),
        ("DASHAPP_CACHE_TYPE", "redis", "must be one of filesystem, simple, null"),
        ("DASHAPP_CACHE_TYPE", "FileSystemCache", "must be one of"),
        ("DASHAPP_CACHE_TIMEOUT", "a day", "must be an integer"),
        ("DASHAPP_CACHE_TIMEOUT", "-1", "must be >= 0"),
        ("DASHAPP_BIND", "localhost", "must be host:port"),
        ("DASHAPP_BIND", "127.0.0.1:80; rm -rf /", "must be host:port"),
        ("DASHAPP_WORKERS", "many", "must be an integer"),
        ("DASHAPP_WORKERS", "-1", "between 1 and 64, or 0 (from cores and memory)"),
        ("DASHAPP_WORKERS", "65", "between 1 and 64"),
        ("DASHAPP_THREADS", "1.5", "must be an integer"),
        ("DASHAPP_THREADS", "0", "between 1 and 64"),
        ("DASHAPP_DUCKDB_THREADS", "lots", "must be an integer"),
        ("DASHAPP_DUCKDB_THREADS", "-1", "0 (auto) or more"),
        ("DASHAPP_DUCKDB_MEMORY_LIMIT", "lots", "must be a size like 768MiB"),
        ("DASHAPP_DUCKDB_MEMORY_LIMIT", "1GB'; SET enable_external_access=true; --", "must be a size"),
        ("DASHAPP_LOG_LEVEL", "verbose", "must be one of DEBUG, INFO, WARNING, ERROR"),
        ("DASHAPP_QUERY_TIMEOUT", "0", "must be above 0 and at most 600 seconds"),
        ("DASHAPP_QUERY_TIMEOUT", "forever", "must be a number"),
        ("DASHAPP_HEAVY_QUERIES", "0", "must be between 1 and 64"),
        ("DASHAPP_ALERT_INTERVAL", "0", "must be 1 to 3600 seconds"),
        ("DASHAPP_ALERT_INTERVAL", "1m", "must be an integer"),
        ("DASHAPP_ALERT_HISTORY_DAYS", "0", "must be 1 to 3660 days"),
        ("DASHAPP_STATE_DIR", "", "must be a path"),
        ("DASHAPP_ALERTMANAGER_URL", "alertmanager:9093", "must be Alertmanager's base http(s) URL"),
        ("DASHAPP_ALERTMANAGER_URL", "http://alertmanager:9093/api/v2/alerts", "the scheduler adds /api/v2/alerts"),
        ("DASHAPP_ALERTMANAGER_URL", "http://alertmanager:port", "must be Alertmanager's base http(s) URL"),
        ("DASHAPP_PUBLIC_URL", "portal.example.com", "must be the portal's http(s) address"),
        ("DASHAPP_PUBLIC_URL", "https://portal.example.com/?x=1", "must be the portal's http(s) address"),
        ("DASHAPP_PUBLIC_URL", "https://example.com/portal", "must have no path (DASHAPP_URL_PREFIX serves"),
        ("DASHAPP_URL_PREFIX", "monitoring", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/monitoring", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "monitoring/", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "//", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/a//b/", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/../", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/./", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/mon itoring/", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/monitoring/?x=1/", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/%2e%2e/", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/moni;toring/", "must start and end with /"),
        ("DASHAPP_URL_PREFIX", "/" + "a/" * 101, "must start and end with /"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable, raw, expects):
    with pytest.raises(ConfigError) as raised:
        Config.from_env({variable: raw})
    message = str(raised.value)
    assert message.startswith(variable)
    assert expects in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "http://cache.internal:6379",
        "localhost:6379",
        "redis://",
        "redis://cache.internal:port/0",
        "redis://cache.internal/zero",
        "unix://relative.sock",
        "redis://user:hunter2@[::1",
        "redis://user:hunter2@cache.internal:6379/x",
    ],
)
@pytest.mark.parametrize("variable", ["DASHAPP_CACHE_REDIS_URL", "DASHAPP_STATE_REDIS_URL"])
def test_a_bad_redis_url_stops_start_up_naming_the_variable_and_never_the_password(url, variable):
    with pytest.raises(ConfigError) as raised:
        Config.from_env({variable: url})
    message = str(raised.value)
    assert message.startswith(f"{variable} must be a redis://")
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "url", ["unix:///run/redis.sock", "amqp://guest:hunter2@rabbit//", "redis://", "redis://:hunter2@broker:x/0"]
)
def test_a_broker_url_other_than_redis_stops_start_up_naming_the_variable_and_never_the_password(url):
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_CELERY_BROKER_URL": url})
    message = str(raised.value)
    assert message.startswith("DASHAPP_CELERY_BROKER_URL must be a redis://")
    assert "hunter2" not in message


def test_the_broker_url_stays_out_of_repr_as_it_may_carry_a_password():
    config = Config(celery_broker_url="redis://:hunter2@broker.internal:6379/0")
    assert "hunter2" not in repr(config) and "celery_broker_url" not in repr(config)


def test_background_jobs_keep_their_diskcache_in_the_cache_folder():
    assert Config(cache_dir=Path("/c")).background_dir == Path("/c/background")


def test_the_alertmanager_url_stays_out_of_repr_and_its_errors_as_it_may_carry_a_password():
    assert "hunter2" not in repr(Config(alertmanager_url="https://ops:hunter2@alertmanager.internal"))
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_ALERTMANAGER_URL": "https://ops:hunter2@alertmanager.internal/api/v2/alerts"})
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "portal"),
    [
        ({"public_url": "https://portal.example.com/"}, "https://portal.example.com"),
        ({"bind": "127.0.0.1:9000"}, "http://127.0.0.1:9000"),  # users reach it where it listens
        ({"bind": "unix:/run/dashapp.sock"}, "http://localhost"),
        # Under a URL prefix, given in the public URL or not
        ({"public_url": "https://example.com", "url_prefix": "/monitoring/"}, "https://example.com/monitoring"),
        (
            {"public_url": "https://example.com/monitoring/", "url_prefix": "/monitoring/"},
            "https://example.com/monitoring",
        ),
        ({"public_url": "https://example.com/ml/portal", "url_prefix": "/ml/portal/"}, "https://example.com/ml/portal"),
        ({"bind": "127.0.0.1:9000", "url_prefix": "/monitoring/"}, "http://127.0.0.1:9000/monitoring"),
    ],
)
def test_links_that_leave_the_portal_start_with_its_public_url_else_its_bind_address(settings, portal):
    assert Config(**settings).portal_url == portal


def test_a_public_url_whose_path_is_not_the_url_prefix_stops_the_start_naming_both_variables():
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_PUBLIC_URL": "https://example.com/portal/", "DASHAPP_URL_PREFIX": "/monitoring/"})
    assert str(raised.value) == (
        "DASHAPP_PUBLIC_URL must have no path or the URL prefix /monitoring/ (DASHAPP_URL_PREFIX), got '/portal/'"
    )


def test_the_redis_urls_stay_out_of_repr_as_they_may_carry_a_password():
    assert "hunter2" not in repr(Config(state_redis_url="redis://:hunter2@state.internal:6379/0"))
    config = Config(cache_redis_url="redis://:hunter2@cache.internal:6379/0")
    assert "hunter2" not in repr(config) and "cache_redis_url" not in repr(config)


@pytest.mark.parametrize(
    ("url", "expects"),
    [
        ("ftp://files.example/logs", "must be a folder or an s3://, gs:// or az:// URL, got ftp://"),
        ("s3://AKIAEXAMPLE:hunter2@logs/prod", "must not carry credentials"),
        ("s3://logs/prod?X-Amz-Signature=hunter2", "without a ?query or #fragment"),
        ("s3:///prod", "must be s3://bucket/prefix"),
        ("s3://logs/../prod", "must be s3://bucket/prefix"),
    ],
)
def test_a_bad_object_store_url_stops_start_up_naming_the_variable_and_never_a_secret(url, expects):
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_DATA_DIR": url})
    message = str(raised.value)
    assert message.startswith("DASHAPP_DATA_DIR ") and expects in message
    assert "hunter2" not in message


@pytest.mark.parametrize(("url", "package"), [("gs://logs/prod", "gcsfs"), ("az://logs/prod", "adlfs")])
def test_an_object_store_whose_package_is_missing_stops_start_up_naming_the_variable_and_the_package(url, package):
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here")
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_DATA_DIR": url})
    assert str(raised.value).startswith(f"DASHAPP_DATA_DIR is a {url[:2]}:// URL, which needs the {package} package")


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "predictions.parquet"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="^DASHAPP_DATA_DIR must be a folder"):
        Config.from_env({"DASHAPP_DATA_DIR": str(path)})


def test_an_unknown_dashapp_variable_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_CACHE_REDIS": "redis://localhost"})
    message = str(raised.value)
    assert message.startswith("DASHAPP_CACHE_REDIS is not a dashapp setting")
    assert "DASHAPP_CACHE_TYPE" in message


@pytest.mark.parametrize(("cores", "workers"), [(8, 2), (2, 2), (1, 1)])
def test_duckdb_threads_zero_gives_each_worker_one_thread_per_core(monkeypatch, cores, workers):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    config = Config.from_env({"DASHAPP_DUCKDB_THREADS": "0", "DASHAPP_WORKERS": str(workers)})
    assert config.duckdb_threads == cores


def test_duckdb_threads_zero_survives_an_unknown_core_count(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert Config(workers=1).duckdb_threads == 1


def test_the_default_workers_fit_the_allowed_range_on_a_big_host(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 128)
    monkeypatch.setattr(sizing, "memory_available", lambda: 1024 * GIB)
    config = Config.from_env({})
    assert config.workers == 64 and config.duckdb_threads == 128


GIB = 1024**3


@pytest.mark.parametrize(
    ("cores", "available", "limit", "workers"),
    [
        (8, 64 * GIB, "768MiB", 8),  # the cores decide
        (8, 4 * GIB, "768MiB", 3),  # 4 GiB // (768 + 300 MiB) = 3
        (8, 4 * GIB, "2GiB", 1),  # 4 GiB // 2.29 GiB
        (2, 512 * 1024**2, "768MiB", 1),  # never fewer than one
        (4, None, "768MiB", 4),  # memory unknown: the cores
    ],
)
def test_the_default_workers_come_from_cores_and_memory(monkeypatch, cores, available, limit, workers):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(sizing, "CGROUP", Path("/nonexistent"))
    monkeypatch.setattr(sizing, "memory_available", lambda: available)
    assert Config.from_env({"DASHAPP_DUCKDB_MEMORY_LIMIT": limit}).workers == workers
    assert Config.from_env({"DASHAPP_DUCKDB_MEMORY_LIMIT": limit, "DASHAPP_WORKERS": "0"}).workers == workers
    assert Config.from_env({"DASHAPP_WORKERS": "5"}).workers == 5  # set: as set


def test_memory_available_is_the_smaller_of_meminfo_and_the_cgroup_limit(monkeypatch, tmp_path):
    (tmp_path / "meminfo").write_text("MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n")
    (tmp_path / "cgroup").mkdir()
    monkeypatch.setattr(sizing, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(sizing, "CGROUP", tmp_path / "cgroup")
    assert sizing.memory_available() == 8_000_000 * 1024
    (tmp_path / "cgroup" / "memory.max").write_text("max\n")  # cgroup v2 without a limit
    assert sizing.memory_available() == 8_000_000 * 1024
    (tmp_path / "cgroup" / "memory.max").write_text(f"{2 * GIB}\n")  # docker run --memory 2g
    assert sizing.memory_available() == 2 * GIB


def test_a_cgroup_cpu_quota_lowers_the_cores(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(sizing, "CGROUP", tmp_path)
    assert sizing.cores() == 16
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # docker run --cpus 1.5
    assert sizing.cores() == 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert sizing.cores() == 16


@pytest.mark.parametrize(
    ("text", "expected"),
    [("768MiB", 768 * 1024**2), ("2GB", 2 * 1000**3), ("1.5GiB", int(1.5 * GIB)), ("64 KB", 64_000)],
)
def test_duckdb_sizes_are_read_as_duckdb_reads_them(text, expected):
    assert sizing.size_bytes(text) == expected


def test_the_duckdb_spill_folder_lives_in_the_cache_folder_unless_set():
    assert Config(cache_dir=Path("/c")).duckdb_temp_dir == Path("/c/duckdb-tmp")
    assert Config(cache_dir=Path("/c"), duckdb_spill_dir=Path("/d")).duckdb_temp_dir == Path("/d")


def test_the_prometheus_files_go_to_dev_shm_where_there_is_one():
    expected = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else Path(tempfile.gettempdir())
    assert Config().metrics_dir == expected


# -- secrets from files (Docker's and Kubernetes' secrets) ----------------------------------------

SECRETS = {
    "embed_secret": "s" * 40,
    "cache_redis_url": "redis://:pw@cache.internal:6380/2",
    "state_redis_url": "redis://:pw@state.internal:6379/1",
    "celery_broker_url": "redis://:pw@broker.internal:6379/3",
}


def test_the_secret_settings_are_the_ones_marked_secret():
    assert {f.name for f in fields(Config) if f.metadata.get("secret")} == SECRETS.keys()


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_a_secret_comes_from_the_file_its_file_variable_names_without_the_trailing_newline(name, tmp_path):
    secret = tmp_path / name
    secret.write_text(SECRETS[name] + "\n")
    assert getattr(Config.from_env({f"{env_name(name)}_FILE": str(secret)}), name) == SECRETS[name]


def test_a_secret_and_its_file_both_set_is_an_error_naming_both(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 40)
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_EMBED_SECRET": "t" * 40, "DASHAPP_EMBED_SECRET_FILE": str(secret)})
    assert str(raised.value) == "DASHAPP_EMBED_SECRET and DASHAPP_EMBED_SECRET_FILE are both set: give one of them"


@pytest.mark.parametrize("problem", ["missing", "not text", "a folder", "empty"])
def test_a_secret_file_that_cannot_be_used_is_an_error_naming_the_variable_never_the_content(problem, tmp_path):
    secret = tmp_path / "secret"
    if problem == "not text":
        secret.write_bytes(b"hunter2-\xff-not-text")
    elif problem == "a folder":
        secret.mkdir()
    elif problem == "empty":
        secret.write_text("\n")
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DASHAPP_CACHE_REDIS_URL_FILE": str(secret)})
    message = str(raised.value)
    assert message.startswith("DASHAPP_CACHE_REDIS_URL_FILE: ") and str(secret) in message
    assert "hunter2" not in message


def test_only_secrets_have_a_file_variable():
    with pytest.raises(ConfigError, match="DASHAPP_DATA_DIR_FILE is not a dashapp setting"):
        Config.from_env({"DASHAPP_DATA_DIR_FILE": "/etc/hostname"})


def test_env_names_are_the_prefix_and_the_upper_case_field_name():
    assert env_name("duckdb_memory_limit") == "DASHAPP_DUCKDB_MEMORY_LIMIT"
    assert env_names() == [f"DASHAPP_{f.name.upper()}" for f in fields(Config)]


# -- results: the settings in memoized results' cache keys -----------------------------------------

# Every setting, decided: it changes a number, a status or a chart the portal computes (RESULTS), or it only
# says how and where the portal serves, caches and lets in (SERVING). A new setting fails the first test until
# it is added to one of them and its metadata says the same.
RESULTS = {
    "drift_psi_warning": 0.05,  # each with another valid value, for the fingerprint test
    "drift_psi_critical": 0.5,
    "drift_cardinality_growth": 2.0,
    "drift_prediction_kl": 0.3,
    "drift_top_k": 20,
    "slo_availability": 0.99,
    "slo_latency_p95_ms": 750.0,
    "slo_accuracy": 0.8,
    "slo_cache_hit_rate": 0.95,
    "accuracy_critical": 0.5,
    "slo_window_days": 28,
    "alert_rules": None,  # a file: its content counts (below)
}
SERVING = {
    "data_dir",  # the data fingerprint in every key names the files read, not this folder
    "cache_dir",
    "metrics_dir",
    "duckdb_spill_dir",
    "cache_type",
    "cache_timeout",
    "cache_redis_url",
    "celery_broker_url",
    "bind",
    "public_url",
    "url_prefix",  # links carry it, but memoized results hold portal paths (ChartSpec.links)
    "workers",
    "threads",
    "duckdb_threads",
    "duckdb_memory_limit",
    "query_timeout",
    "heavy_queries",
    "log_level",
    "alert_webhook",
    "alertmanager_url",
    "alert_interval",
    "alert_history_days",
    "state_dir",
    "state_redis_url",
    "embed_secret",
    "auth",
    "users_file",
    "auth_header",
    "trusted_proxies",
    "frame_ancestors",
    "browser_path",
}


def test_every_setting_is_decided_as_changing_results_or_not():
    assert RESULTS.keys() | SERVING == {f.name for f in fields(Config)} and not RESULTS.keys() & SERVING
    assert {f.name: f.metadata["results"] for f in fields(Config)} == {
        f.name: f.name in RESULTS for f in fields(Config)
    }


def test_settings_that_change_no_result_leave_the_results_fingerprint_alone(tmp_path):
    config = Config(cache_dir=tmp_path / "cache")
    other = serving_variant(config, tmp_path)
    assert {f.name for f in fields(Config) if getattr(config, f.name) != getattr(other, f.name)} == SERVING - {
        "data_dir"
    }
    assert results_fingerprint(other) == results_fingerprint(config)
    assert results_fingerprint(replace(config, data_dir=tmp_path / "elsewhere")) == results_fingerprint(config)


@pytest.mark.parametrize("name", sorted(RESULTS.keys() - {"alert_rules"}))
def test_each_results_setting_changes_the_results_fingerprint(name):
    config = Config()
    assert results_fingerprint(replace(config, **{name: RESULTS[name]})) != results_fingerprint(config)


def test_the_alert_rules_count_by_their_content_not_their_path(tmp_path):
    config = Config()
    copy = Path(shutil.copy(config.alert_rules, tmp_path / "rules.toml"))
    assert results_fingerprint(replace(config, alert_rules=copy)) == results_fingerprint(config)
    copy.write_text(
        copy.read_text().replace('critical = "DASHAPP_DRIFT_PSI_CRITICAL"', "critical = 0.3", 1)
    )  # feature_drift's threshold
    assert results_fingerprint(replace(config, alert_rules=copy)) != results_fingerprint(config)
    copy.unlink()
    assert results_fingerprint(replace(config, alert_rules=copy)) != results_fingerprint(config)


# -- docs (datasette's test_docs.py) --------------------------------------------------------------


def readme_table_names() -> set[str]:
    """The DASHAPP_* names in README.md's table rows."""
    assert README.exists(), "README.md is missing: it must document every DASHAPP_* setting"
    rows = [line for line in README.read_text().splitlines() if line.lstrip().startswith("|")]
    return set(re.findall(r"\bDASHAPP_[A-Z0-9_]*[A-Z0-9]\b", "\n".join(rows)))


@pytest.mark.parametrize("variable", env_names())
def test_readme_documents_every_setting_in_its_configuration_table(variable):
    assert variable in readme_table_names()


def test_readme_documents_no_setting_that_does_not_exist():
    assert readme_table_names() <= set(env_names())


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DASHAPP_DRIFT_PSI_WARNING": "lots"}, "DASHAPP_DRIFT_PSI_WARNING must be a number, got 'lots'"),
        ({"DASHAPP_DRIFT_PSI_CRITICAL": "0"}, "DASHAPP_DRIFT_PSI_CRITICAL must be a number above 0, got 0.0"),
        (
            {"DASHAPP_DRIFT_PSI_WARNING": "0.3", "DASHAPP_DRIFT_PSI_CRITICAL": "0.2"},
            "DASHAPP_DRIFT_PSI_WARNING must be below DASHAPP_DRIFT_PSI_CRITICAL (0.3 >= 0.2)",
        ),
        ({"DASHAPP_DRIFT_TOP_K": "0"}, "DASHAPP_DRIFT_TOP_K must be between 1 and 100000, got 0"),
        ({"DASHAPP_DRIFT_TOP_K": "ten"}, "DASHAPP_DRIFT_TOP_K must be an integer, got 'ten'"),
    ],
)
def test_drift_thresholds_are_validated(environ, message):
    with pytest.raises(ConfigError) as raised:
        Config.from_env(environ)
    assert str(raised.value) == message
