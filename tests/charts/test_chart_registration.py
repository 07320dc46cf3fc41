"""Every chart is registered by one explicit `register(ChartSpec(id="area.name", ...))` call built from keywords.

Read from the source with `ast`: a positional field would be read by its place, which a new field silently moves,
and a loop over tuples hides a chart's id from a search for it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dashapp.charts
from dashapp.charts.registry import REGISTRY

CHARTS_DIR = Path(dashapp.charts.__file__).parent
MODULES = sorted(CHARTS_DIR.glob("*.py"))


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def registration_problems(source: str) -> list[str]:
    """What breaks the registration shape in one module's source, one line each."""
    tree = ast.parse(source)
    problems = []
    for call in calls(tree, "register"):
        spec = call.args[0] if len(call.args) == 1 and not call.keywords else None
        if not (isinstance(spec, ast.Call) and isinstance(spec.func, ast.Name) and spec.func.id == "ChartSpec"):
            problems.append(f"line {call.lineno}: register() takes one ChartSpec(...) built in the call")
    for call in calls(tree, "ChartSpec"):
        if call.args:
            problems.append(f"line {call.lineno}: ChartSpec() with positional fields")
        ids = [k.value for k in call.keywords if k.arg == "id"]
        if not (len(ids) == 1 and isinstance(ids[0], ast.Constant) and isinstance(ids[0].value, str)):
            problems.append(f"line {call.lineno}: ChartSpec() without a literal id=")
    return problems


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_each_chart_is_registered_with_keywords_and_a_literal_id(path):
    assert registration_problems(path.read_text()) == []


def test_every_registered_chart_has_its_own_call():
    literal_ids = {
        keyword.value.value
        for path in MODULES
        for call in calls(ast.parse(path.read_text()), "ChartSpec")
        for keyword in call.keywords
        if keyword.arg == "id" and isinstance(keyword.value, ast.Constant)
    }
    assert set(REGISTRY) <= literal_ids


@pytest.mark.parametrize(
    "source",
    [
        'register(ChartSpec("ops.x", "X", "/operations", (), data, figure, ()))',
        'for name, title in CHARTS:\n    register(ChartSpec(id=f"ops.{name}", title=title))',
        "register(make_spec(name))",
        'spec = ChartSpec(id="ops.x")\nregister(spec)',
    ],
    ids=["positional", "loop-over-tuples", "helper", "built-elsewhere"],
)
def test_the_check_catches_each_other_shape(source):
    assert registration_problems(source)


def test_the_check_passes_the_keyword_shape():
    source = 'register(\n    ChartSpec(\n        id="ops.x",\n        title="X",\n        page="/operations",\n    )\n)'
    assert registration_problems(source) == []
