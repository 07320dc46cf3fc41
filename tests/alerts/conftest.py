"""The alert tests' demo data, written once per session: the incidents the default rules must find."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from dashapp import demo

END = datetime(2024, 6, 28, 15, 30)
DAYS = 30


@pytest.fixture(scope="session")
def alert_demo(tmp_path_factory) -> Path:
    """200,000 predictions over 30 days ending at END: enough for a canary's daily accuracy and 15-minute rates."""
    out = tmp_path_factory.mktemp("alerts-demo") / "data"
    demo.write_demo(out, rows=200_000, days=DAYS, seed=7, end=END)
    return out
