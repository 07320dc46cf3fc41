"""Random and hostile query strings at every chart's API and embed URL under the real gunicorn server.

Whatever the query, the answer is a 200, a 400 or a 404, shows no traceback, and the data folder is
left as it was (hypothesis draws the queries; the data is the browser tests' demo folder).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashapp.charts import REGISTRY, get_chart
from dashapp.charts.registry import RESERVED
from tests.browser.server import fetch

CHART_IDS = sorted(REGISTRY)
TARGETS = ("json", "csv", "embed")
EXAMPLES_PER_CHART = 3  # about 150 requests in all, each chart and target drawn
MAX_QUERY = 7500
HOSTILE = [
    "'; DROP TABLE predictions; --",
    "' OR '1'='1",
    "1; SELECT * FROM read_csv('/etc/passwd')",
    "$start",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "~/.ssh/id_rsa",
    "\\\\server\\share\\x.parquet",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "http://169.254.169.254/latest/meta-data/",
    "s3://bucket/predictions.parquet",
    "file:///etc/passwd",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "%s%s%s%n",
    "\x00",
    "\r\nX-Injected: 1",
    "now-99999999d",
    "2024-02-30",
    "9999-12-31T23:59:59",
    "-1",
    "1e309",
    "NaN",
    "AAPL",
    "now-7d",
    "ünïcödé",
    "😀" * 40,
    "\u202e\u200b",
    "x" * 5000,
]
# Spelled into the query string as they are: broken and overlong percent-encodings, stray separators.
RAW = ["%", "%zz", "%c0%af", "%ff%fe", "%u0027", "+", "&&", "==", ";", "%%", "a=%00", "symbol=%E2%80%AE"]
VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=60),  # any unicode, control characters and NUL included
    st.text(alphabet="0123456789-:T now+dhwm", max_size=25),
)


def keys(chart_id: str) -> st.SearchStrategy[str]:
    """The chart's parameter names mostly, else reserved, other charts' or made-up names (never format)."""
    names = [p.name for p in get_chart(chart_id).params]
    others = sorted(RESERVED - {"format"}) + ["feature", "run", "bucket", "symbol", "colour"]
    return st.one_of(st.sampled_from(names or others), st.sampled_from(others), st.text(min_size=1, max_size=20))


@st.composite
def queries(draw, chart_id: str) -> str:
    """A query string: pairs with any keys and values, sometimes one key repeated hundreds of times."""
    safe = draw(st.sampled_from(["", "/", "'", "=&"]))
    pairs = draw(st.lists(st.tuples(keys(chart_id), VALUES), max_size=8))
    parts = [f"{quote(k, safe='')}={quote(v, safe=safe)}" for k, v in pairs if k != "format"]
    if draw(st.booleans()):
        key = draw(keys(chart_id))
        parts += [f"{quote(key, safe='')}=S{i}" for i in range(draw(st.integers(51, 400)))]
    parts += draw(st.lists(st.sampled_from(RAW), max_size=2))
    query = "&".join(draw(st.permutations(parts)))
    # Within gunicorn's request line (limit_request_line): a longer one is its 414, before the app.
    return query if len(query) <= MAX_QUERY else query[: query.rfind("&", 0, MAX_QUERY)]


def data_state(folder: Path) -> str:
    """One hash of every file's path, size, modification time and content."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def assert_clean(url: str) -> None:
    status, body = fetch(url)
    assert status in (200, 400, 404), f"{status} for {url[:300]}: {body[:500]}"
    assert "Traceback" not in body and 'File "' not in body, url[:300]


@pytest.fixture(scope="module")
def unchanged_data(server, demo_dir):
    before = data_state(demo_dir)
    yield
    assert data_state(demo_dir) == before, "the data folder changed under hostile queries"


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_hostile_queries_get_a_clean_answer(server, unchanged_data, chart_id):
    @settings(
        max_examples=EXAMPLES_PER_CHART, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(target=st.sampled_from(TARGETS), query=queries(chart_id))
    def check(target: str, query: str) -> None:
        path = f"/embed/{chart_id}?" if target == "embed" else f"/api/charts/{chart_id}?format={target}&"
        assert_clean(server.url + path + query)

    check()


def test_a_request_line_too_long_for_gunicorn_is_its_414(server):
    status, body = fetch(f"{server.url}/api/charts/ops.latency?symbol={'x' * 9000}")
    assert status == 414 and "Traceback" not in body


@pytest.mark.parametrize("chart_id", ["..%2F..%2Fetc%2Fpasswd", "ops.latency%00", "x" * 3000, "%E2%80%AE", "ops."])
@pytest.mark.parametrize("prefix", ["/api/charts/", "/embed/"])
def test_hostile_chart_ids_are_a_404(server, unchanged_data, prefix, chart_id):
    status, body = fetch(server.url + prefix + chart_id)
    assert status == 404 and "Traceback" not in body
