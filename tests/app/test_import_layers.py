"""Imports run downward: pages → charts → domain (alerts, backtest, drift, sentiment, slo, ops) → db.

Read from the source with `ast`, relative imports resolved and imports inside functions included: a page
that reads the database itself, or a chart that looks a page up, is a second home for what the other layer
already knows. A page may still name the database's type under `if TYPE_CHECKING:`, which never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dashapp
from dashapp.alerts.metrics import METRICS
from dashapp.charts import REGISTRY
from dashapp.charts.page_names import PAGE_NAMES
from dashapp.pages import PAGES

PACKAGE = Path(dashapp.__file__).parent
DOMAIN = ("dashapp.alerts", "dashapp.backtest", "dashapp.drift", "dashapp.sentiment", "dashapp.slo", "dashapp.ops")
BELOW_PAGES = ("dashapp.charts", *DOMAIN)
PAGES_MAY_NOT_IMPORT = ("dashapp.db", "dashapp.sqlfiles", "dashapp.sandbox", *DOMAIN)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_under(*names: str) -> list[Path]:
    """The source files of the given packages and modules (dashapp.x), those that exist."""
    found = []
    for name in names:
        path = PACKAGE.parent.joinpath(*name.split("."))
        if path.is_dir():
            found += sorted(path.rglob("*.py"))
        elif path.with_suffix(".py").exists():
            found.append(path.with_suffix(".py"))
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING")


def imported(source: str, module: str, is_package: bool = False, type_checking: bool = True) -> set[str]:
    """Every module `module`'s source imports, as absolute names; `from x import y` counts x and x.y.

    Imports inside functions count; those under `if TYPE_CHECKING:` only with `type_checking`.
    """
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if not type_checking and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return names


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(paths: list[Path], forbidden: tuple[str, ...], type_checking: bool) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        names = imported(path.read_text(), module_name(path), path.name == "__init__.py", type_checking)
        bad = sorted(n for n in names if within(n, forbidden))
        if bad:
            found[module_name(path)] = bad
    return found


def test_nothing_below_the_pages_imports_them():
    assert modules_under(*BELOW_PAGES)
    assert violations(modules_under(*BELOW_PAGES), ("dashapp.pages",), type_checking=True) == {}


def test_pages_import_neither_the_database_nor_the_domain():
    assert modules_under("dashapp.pages")
    assert violations(modules_under("dashapp.pages"), PAGES_MAY_NOT_IMPORT, type_checking=False) == {}


@pytest.mark.parametrize(
    ("module", "source", "found"),
    [
        ("dashapp.charts.alerts", "def f():\n    from ..pages import page_for\n", "dashapp.pages.page_for"),
        ("dashapp.drift.engine", "from .. import pages\n", "dashapp.pages"),
        ("dashapp.slo", "import dashapp.pages.shell\n", "dashapp.pages.shell"),
        ("dashapp.pages.backtests", "from ..backtest.runs import known_runs\n", "dashapp.backtest.runs"),
        ("dashapp.pages.shell", "from .. import db\n", "dashapp.db"),
        ("dashapp.pages.shell", "if x:\n    from ..db import Database\n", "dashapp.db"),
    ],
)
def test_the_check_resolves_relative_and_lazy_imports(module, source, found):
    assert found in imported(source, module)


def test_a_type_checking_import_is_left_out_of_the_pages_check():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..db import Database\n"
    assert "dashapp.db" not in imported(source, "dashapp.pages.shell", type_checking=False)
    assert "dashapp.db" in imported(source, "dashapp.pages.shell", type_checking=True)


def test_the_page_names_charts_link_to_are_the_pages_names():
    assert {page.path: page.name for page in PAGES} == PAGE_NAMES
    assert {metric.page for metric in METRICS.values()} <= set(PAGE_NAMES)
    assert {spec.page for spec in REGISTRY.values()} <= set(PAGE_NAMES)
