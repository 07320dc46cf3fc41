"""Where the files that ship with dashapp are: the SQL queries and the Dash assets.

The repository keeps queries/ and assets/ at its top, beside the package: SQL and CSS are reviewed and
linted as trees of their own. The wheel carries them inside the package (pyproject.toml maps them to
dashapp/queries and dashapp/assets), so an installed dashapp finds them there, and a checkout (or an
editable install of one) finds them beside the package.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped_folder(name: str) -> Path:
    """The folder `name` (queries or assets) of the dashapp that is imported, installed or checked out.

    A Path, not a Traversable: DuckDB's loader and Dash's assets route read plain files. Wheels install
    unpacked, so the package's resources are always on disk.
    """
    package = Path(str(files("dashapp")))
    inside = package / name
    return inside if inside.is_dir() else package.parent / name
