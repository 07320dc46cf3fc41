"""The repository's documents stay true: their links resolve, docs/data-contract.md lists what contract.py
declares, docs/reliability.md cites tests that exist, and docs/architecture.md's worked examples run."""

from __future__ import annotations

import ast
import base64
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import dash
import numpy as np
import pytest
from dash import html

from dashapp.alerts.evaluate import evaluate
from dashapp.alerts.metrics import METRICS, Span
from dashapp.alerts.rules import load_rules
from dashapp.charts.registry import REGISTRY, render
from dashapp.contract import TABLES
from dashapp.pages import PAGES, Page
from tests.fixtures import DAY1, DAY2, DAY3, DAY4, chart_args, predictions

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Folders that hold no document of the project's own: environments, dependencies, data, build output.
SKIPPED = {".venv", "venv", "node_modules", "data", "build", "dist", ".git", ".pytest_cache", ".ruff_cache"}

FENCE = re.compile(r"^(```+|~~~+)(.*?)$(.*?)^\1\s*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# [text](target "title") and ![alt](target); the text may hold one level of brackets (an image in a link).
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)


def markdown_files() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*.md")):
        parts = path.relative_to(ROOT).parts
        if not any(part in SKIPPED or part.startswith(".") for part in parts[:-1]):
            found.append(path)
    return found


def prose(text: str) -> str:
    """The text without fenced blocks, inline code and HTML comments, where a link is no link."""
    return INLINE_CODE.sub("", FENCE.sub("", HTML_COMMENT.sub("", text)))


def links(text: str) -> list[str]:
    text = prose(text)
    return [*INLINE_LINK.findall(text), *REFERENCE_LINK.findall(text), *HTML_LINK.findall(text)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a Markdown file; a repeated heading gets -1, -2 ... as on GitHub."""
    seen: dict[str, int] = {}
    out = set()
    text = FENCE.sub("", path.read_text())
    for _, heading in HEADING.findall(text):
        base = slug(heading)
        count = seen.get(base, 0)
        out.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return out


def test_the_markdown_files_include_the_readme_and_the_docs():
    names = {p.relative_to(ROOT).as_posix() for p in markdown_files()}
    assert {"README.md", "docs/architecture.md", "docs/data-contract.md", "docs/reliability.md"} <= names


def test_the_slug_follows_githubs_rules():
    assert slug("Publishing files") == "publishing-files"
    assert slug("A request, from URL to figure") == "a-request-from-url-to-figure"
    assert slug("`dashapp check` and the `dt=` folders") == "dashapp-check-and-the-dt-folders"
    assert slug("Training runs from MLflow") == "training-runs-from-mlflow"


@pytest.mark.parametrize("document", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_to_a_file_and_heading(document: Path):
    broken = []
    for target in links(document.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
            continue  # another site (https:, mailto:): not this repository's to check
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part.split("?")[0])
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else ''}")
        elif ROOT not in resolved.parents and resolved != ROOT:
            broken.append(f"{target}: outside the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert not broken, f"{document.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_links_the_three_documents():
    readme = links((ROOT / "README.md").read_text())
    assert {"docs/architecture.md", "docs/data-contract.md", "docs/reliability.md"} <= set(readme)


# -- docs/data-contract.md ------------------------------------------------------------------------


def table_rows(section: str) -> list[list[str]]:
    """The body rows of the Markdown tables in a section, each cell stripped of backticks."""
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*-", line):
            rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    return [row for row in rows if row[0] not in ("column", "table", "type")]


def contract_sections() -> dict[str, str]:
    text = (DOCS / "data-contract.md").read_text()
    parts = re.split(r"^### `([a-z_]+)`\s*$", text, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    for name, body in sections.items():
        sections[name] = re.split(r"^## ", body, flags=re.MULTILINE)[0]
    return sections


def cadence_text(cadence: timedelta | None) -> str:
    if cadence is None:
        return "none"
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if cadence.total_seconds() % seconds == 0:
            count = int(cadence.total_seconds() // seconds)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError(f"no text for a cadence of {cadence}")


def test_the_data_contract_lists_every_table_and_column_of_contract_py():
    sections = contract_sections()
    assert list(sections) == list(TABLES)
    for name, table in TABLES.items():
        documented = [tuple(row[:3]) for row in table_rows(sections[name])]
        declared = [(c.name, c.kind, "required") for c in table.required]
        declared += [(c.name, c.kind, "optional") for c in table.optional]
        assert documented == declared, name


def test_the_data_contract_summary_gives_each_tables_time_column_partitioning_and_cadence():
    text = (DOCS / "data-contract.md").read_text()
    summary = text.split("## Tables", 1)[1].split("### ", 1)[0]
    documented = {row[0]: row[1:] for row in table_rows(summary)}
    declared = {
        name: [
            table.time_column or "none",
            "by day" if table.partitioned else "no",
            cadence_text(table.cadence),
            "yes" if table.may_be_absent else "no",
        ]
        for name, table in TABLES.items()
    }
    assert documented == declared


# -- docs/reliability.md --------------------------------------------------------------------------

CITED_TEST = re.compile(r"`(tests/[\w/.-]+\.py)(?:::(\w+))?")


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_cited_in_reliability_exists():
    text = (DOCS / "reliability.md").read_text()
    cited = CITED_TEST.findall(text)
    assert len(cited) > 24
    missing = []
    for path, name in cited:
        file = ROOT / path
        if not file.is_file():
            missing.append(path)
        elif name and name not in functions_in(file):
            missing.append(f"{path}::{name}")
    assert not missing, "docs/reliability.md cites tests that do not exist: " + ", ".join(missing)


def test_every_catalogue_item_cites_a_test():
    text = (DOCS / "reliability.md").read_text()
    catalogue = text.split("## Fault and attack catalogue", 1)[1]
    items = re.split(r"^\d+\. ", catalogue, flags=re.MULTILINE)[1:]
    assert len(items) == 24
    for number, item in enumerate(items, 1):
        assert CITED_TEST.search(item), f"catalogue item {number} cites no test"


# -- docs/architecture.md's worked examples -------------------------------------------------------


def example(title: str) -> str:
    """The fenced block of docs/architecture.md whose info string carries title="<title>"."""
    text = (DOCS / "architecture.md").read_text()
    blocks = [body for _, info, body in FENCE.findall(text) if f'title="{title}"' in info]
    assert len(blocks) == 1, f"docs/architecture.md has {len(blocks)} blocks titled {title!r}"
    return blocks[0]


def run_example(title: str) -> dict:
    namespace: dict = {"__name__": f"docs_example_{title.replace(' ', '_')}"}
    exec(compile(example(title), f"docs/architecture.md ({title})", "exec"), namespace)
    return namespace


@pytest.fixture
def example_chart():
    """The example chart, registered for the test and taken out again after it."""
    try:
        yield run_example("example chart")["REQUESTS_BY_VERSION"]
    finally:
        REGISTRY.pop("ops.requests_by_version", None)


@pytest.fixture
def example_metric():
    try:
        yield run_example("example metric")["SLOW_SHARE"]
    finally:
        METRICS.pop("ops.slow_share", None)


def values(array) -> np.ndarray:
    """A trace's numbers from the figure's dict, where plotly keeps typed arrays base64-encoded."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def test_the_example_chart_registers_and_draws_the_requests_of_each_version(shared_db, example_chart):
    assert REGISTRY["ops.requests_by_version"] is example_chart
    rendered = render(example_chart, chart_args(example_chart.id), shared_db)
    per_version = predictions().groupby("model_version").size()
    bars = [trace for trace in rendered.figure["data"] if trace["type"] == "bar"]
    drawn = {trace["name"]: int(values(trace["y"]).sum()) for trace in bars}
    assert drawn == per_version.to_dict()
    assert rendered.data.groupby("model_version")["requests"].sum().to_dict() == per_version.to_dict()
    assert "predictions data through" in rendered.coverage

    empty = render(example_chart, chart_args(example_chart.id, empty=True), shared_db)
    assert empty.figure["layout"]["annotations"][0]["text"] == "No requests in this window"


def test_the_example_metric_gives_each_days_share_of_slow_requests(shared_db, example_metric):
    frame = example_metric.compute(shared_db, Span(DAY1, DAY4, 86400))
    logged = predictions()
    expected = (logged["latency_ms"] >= 1000).groupby(logged["ts"].dt.floor("D")).mean()
    assert frame["bucket"].tolist() == expected.index.tolist()
    assert frame["value"].tolist() == pytest.approx(expected.tolist())
    assert frame["value"].tolist() == pytest.approx([0.0, 0.25, 0.0])  # as the document says


def test_the_example_alert_rule_parses_and_fires_critical_on_the_slow_day(shared_db, example_metric, tmp_path):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(example("example alert rule"))
    assert tomllib.loads(rules_file.read_text())["rule"][0]["metric"] == example_metric.name
    (rule,) = load_rules(rules_file)
    (alert,) = evaluate(shared_db, [rule], DAY1, DAY4)
    assert alert.state == "ok"  # resolved by the last day
    assert [(p.start, p.end, p.severity, p.peak) for p in alert.periods] == [(DAY2, DAY3, "critical", 0.25)]


def test_the_example_page_fits_the_page_list_and_lays_out_its_chart(example_chart):
    page = run_example("example page")["PAGE"]
    assert isinstance(page, Page)
    assert page.path not in {p.path for p in PAGES} and page.order not in {p.order for p in PAGES}
    app = dash.Dash(__name__)
    app.layout = html.Div(page.layout({}))
    answer = app.server.test_client().get("/_dash-layout")
    assert answer.status_code == 200
    assert '"chart": "ops.requests_by_version"' in answer.get_data(as_text=True).replace('":"', '": "')


def test_every_example_block_is_run_here():
    infos = [info for _, info, _ in FENCE.findall((DOCS / "architecture.md").read_text())]
    titles = [title for info in infos for title in re.findall(r'title="([^"]+)"', info)]
    assert sorted(titles) == ["example alert rule", "example chart", "example metric", "example page"]
