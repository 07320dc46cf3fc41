"""parse_params: defaults, relative and absolute times, buckets, and every bad value named by its parameter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashapp.charts import get_chart, parse_params
from dashapp.charts.registry import MAX_VALUES, RESERVED
from dashapp.errors import BadParameter
from dashapp.timerange import BUCKETS, MAX_POINTS, MAX_RANGE, auto_bucket, bucket_points

NOW = datetime(2024, 3, 4, 12, 0)
LATENCY = get_chart("ops.latency")  # start, end, symbol, model_version, bucket, alerts
PIPELINES = get_chart("ops.pipeline_runs")  # start, end, alerts


def parse(spec, strict=False, **args):
    """Parse query-string style arguments: each value a string or a list of strings."""
    raw = {k: v if isinstance(v, list) else [v] for k, v in args.items()}
    return parse_params(spec, raw, strict=strict, now=NOW)


def bad(spec, param: str, strict=False, **args) -> BadParameter:
    with pytest.raises(BadParameter) as raised:
        parse(spec, strict=strict, **args)
    assert raised.value.param == param
    assert raised.value.status == 400
    assert raised.value.message.startswith(f"{param}: ")
    return raised.value


def test_defaults_are_the_last_seven_days_all_symbols_all_versions_and_an_auto_bucket():
    values, notes = parse(LATENCY)
    assert values == {
        "start": NOW - timedelta(days=7),
        "end": NOW,
        "symbol": [],
        "model_version": None,
        "bucket": 900,  # 7 days in 5-minute buckets would be 2016 points; 15 minutes is the finest below 2000
        "alerts": "relevant",  # a chart over time shades when alert rules fired
        "markers": "show",  # and marks when model versions first served and training runs ended
    }
    assert notes == ["15m buckets"]


def test_a_chart_without_a_bucket_gets_only_its_window():
    values, notes = parse(PIPELINES)
    assert values == {"start": NOW - timedelta(days=7), "end": NOW, "alerts": "relevant", "markers": "show"}
    assert notes == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-30m", NOW - timedelta(minutes=30)),
        ("now-12h", NOW - timedelta(hours=12)),
        ("now-90d", NOW - timedelta(days=90)),
        ("now-2w", NOW - timedelta(weeks=2)),
        ("2024-03-01", datetime(2024, 3, 1)),
        ("2024-03-01T06:30", datetime(2024, 3, 1, 6, 30)),
        ("2024-03-01 06:30:15", datetime(2024, 3, 1, 6, 30, 15)),
        ("2024-03-01T06:30:00Z", datetime(2024, 3, 1, 6, 30)),
        ("2024-03-01T08:30:00+02:00", datetime(2024, 3, 1, 6, 30)),  # converted to UTC
        ("  2024-03-01  ", datetime(2024, 3, 1)),
    ],
)
def test_start_accepts_iso_and_relative_forms(text, expected):
    values, _ = parse(PIPELINES, start=text, end="2024-12-31")
    assert values["start"] == expected


def test_a_relative_end_is_relative_to_now():
    values, _ = parse(PIPELINES, start="now-2d", end="now-1d")
    assert (values["start"], values["end"]) == (NOW - timedelta(days=2), NOW - timedelta(days=1))


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-01",
        "2024-02-30",
        "yesterday",
        "now-7y",
        "now+1d",
        "now-d",
        "now - 7d",
        "now-123456d",
        "1709251200",
        "2024-03-01T25:00",
        "2024-03-01; DROP TABLE predictions",
        "x' OR '1'='1",
        "../../etc/passwd",
        "2024-03-01T00:00:00.000000000000000000000000000Z",
    ],
)
@pytest.mark.parametrize("param", ["start", "end"])
def test_a_bad_time_is_refused_naming_the_parameter(param, text):
    other = {"end": "2030-01-01"} if param == "start" else {"start": "2020-01-01"}
    error = bad(PIPELINES, param, **{param: text}, **other)
    assert "must be an ISO date or datetime, or now-" in error.message


def test_a_long_value_is_shortened_in_the_message():
    error = bad(PIPELINES, "start", start="9" * 5000)
    assert len(error.message) < 200


def test_start_must_be_before_end():
    error = bad(PIPELINES, "start", start="2024-03-02", end="2024-03-01")
    assert "must be before end" in error.message
    bad(PIPELINES, "start", start="2024-03-01", end="2024-03-01")


def test_the_window_may_not_span_more_than_three_years():
    bad(PIPELINES, "start", start="2020-01-01", end="2024-01-01")
    values, _ = parse(PIPELINES, start="2021-01-01", end=(datetime(2021, 1, 1) + MAX_RANGE).isoformat())
    assert values["end"] - values["start"] == MAX_RANGE


@pytest.mark.parametrize("bucket", ["1s", "2h", "1H", "auto;", "3600", "", " 1h"])
def test_an_unknown_bucket_is_refused_naming_bucket(bucket):
    if bucket == "":  # an empty value means "not given": the default applies
        assert parse(LATENCY, bucket=bucket)[0]["bucket"] == 900
        return
    error = bad(LATENCY, "bucket", bucket=bucket)
    assert "must be auto or one of" in error.message


def test_a_bucket_too_fine_for_the_window_is_refused_with_the_finest_allowed():
    error = bad(LATENCY, "bucket", bucket="1m", start="now-7d")
    assert "1m gives more than 2000 points" in error.message
    assert "the finest allowed is 15m" in error.message


def test_an_explicit_bucket_comes_back_in_seconds_with_a_note():
    values, notes = parse(LATENCY, bucket="1h")
    assert values["bucket"] == 3600
    assert notes == ["1h buckets"]


def test_symbols_repeat_and_come_back_sorted_without_duplicates():
    values, _ = parse(LATENCY, symbol=["TSLA", "AAPL", "TSLA", "BRK.B"])
    assert values["symbol"] == ["AAPL", "BRK.B", "TSLA"]


def test_at_most_fifty_symbols_are_accepted():
    symbols = [f"S{i}" for i in range(MAX_VALUES)]
    assert parse(LATENCY, symbol=symbols)[0]["symbol"] == sorted(symbols)
    error = bad(LATENCY, "symbol", symbol=[*symbols, "ONE_MORE"])
    assert "at most 50 values" in error.message


@pytest.mark.parametrize(
    "value",
    [
        "x' OR '1'='1",
        "'); COPY predictions TO '/tmp/x.csv'; --",
        "<img src=x onerror=alert(1)>",
        "AAPL;",
        "AAPL MSFT",
        "../../etc/passwd",
        "/etc/passwd",
        "~root",
        "%2e%2e%2f",
        "http://169.254.169.254/",
        "s3://bucket/key",
        "file:///etc/passwd",
        "x\x00y",
        "x’",
        "A" * 65,
        "-AAPL",
    ],
)
@pytest.mark.parametrize("param", ["symbol", "model_version"])
def test_sql_html_paths_and_urls_in_text_values_are_refused(param, value):
    error = bad(LATENCY, param, **{param: value})
    assert "must be letters, digits" in error.message


def test_model_version_may_be_given_once():
    error = bad(LATENCY, "model_version", model_version=["v1", "v2"])
    assert "once" in error.message


def test_strict_parsing_refuses_an_unknown_parameter_naming_it():
    error = bad(LATENCY, "colour", strict=True, colour="red")
    assert "is not a parameter of ops.latency" in error.message


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_strict_parsing_allows_the_reserved_parameters(name):
    values, _ = parse(LATENCY, strict=True, **{name: "x"})
    assert name not in values


def test_lenient_parsing_ignores_other_pages_parameters():
    values, _ = parse(PIPELINES, symbol="AAPL", feature="vix", bucket="nonsense")
    assert set(values) == {"start", "end", "alerts", "markers"}


def test_an_empty_value_means_the_default():
    values, _ = parse(LATENCY, start="", model_version="", symbol=[""])
    assert values["start"] == NOW - timedelta(days=7)
    assert values["model_version"] is None and values["symbol"] == []


# -- auto buckets ---------------------------------------------------------------------------------

SPANS = [timedelta(minutes=1), timedelta(hours=1), timedelta(hours=33), timedelta(days=1), timedelta(days=7)]
SPANS += [timedelta(days=d) for d in (14, 20, 21, 30, 41, 42, 83, 84, 90, 166, 167, 365, 500, 1000)]
SPANS += [MAX_RANGE, timedelta(seconds=2000 * 300 + 1), timedelta(seconds=2000 * 60)]


@pytest.mark.parametrize("span", SPANS, ids=str)
def test_the_auto_bucket_keeps_every_range_under_two_thousand_points(span):
    start = datetime(2024, 1, 1)
    bucket = auto_bucket(start, start + span)
    assert bucket_points(start, start + span, bucket) <= MAX_POINTS
    finer = list(BUCKETS)[: list(BUCKETS).index(bucket)]
    # ... and it is the finest bucket that does.
    assert all(span.total_seconds() / BUCKETS[name] > MAX_POINTS for name in finer)


def test_every_auto_bucket_passes_the_too_fine_check():
    for days in range(1, MAX_RANGE.days + 1, 7):
        values, _ = parse(LATENCY, start=f"now-{days}d")
        assert (values["end"] - values["start"]).total_seconds() / values["bucket"] <= MAX_POINTS


def test_a_window_ending_now_ends_at_the_next_bucket_boundary_so_requests_share_a_cache_entry():
    spec = get_chart("ops.latency")
    early, _ = parse_params(spec, {"start": ["now-7d"]}, now=datetime(2026, 11, 23, 12, 1))
    late, _ = parse_params(spec, {"start": ["now-7d"]}, now=datetime(2026, 11, 23, 12, 14))
    assert early == late
    assert early["end"] == datetime(2026, 11, 23, 12, 15) and early["start"] == datetime(2026, 11, 16, 12, 15)
    # An absolute start stays where it was put; only the open end moves to the boundary.
    fixed, _ = parse_params(spec, {"start": ["2026-11-20"]}, now=datetime(2026, 11, 23, 12, 1))
    assert fixed["start"] == datetime(2026, 11, 20) and fixed["end"] == datetime(2026, 11, 23, 12, 5)
