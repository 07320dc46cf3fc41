"""Shared fixtures, named for what they yield (Flask's flaskr tests): data_dir -> config -> db, app, client."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from dashapp import create_app
from dashapp.config import PREFIX, Config
from dashapp.db import Database
from tests.fixtures import MILLION_END, evaluate_alerts, write_all

# The alert state store's default folder is under XDG_STATE_HOME: never the developer's own.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="dashapp-test-state-")


@pytest.fixture(autouse=True)
def _no_dashapp_environment(monkeypatch, tmp_path):
    """Keep the developer's DASHAPP_* variables out of every test (Flask's _reset_os_environ), and give each
    test a state folder of its own."""
    for key in list(os.environ):
        if key.startswith(PREFIX):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture(scope="session")
def _fixture_tables(tmp_path_factory) -> Path:
    return write_all(tmp_path_factory.mktemp("fixture-tables"))


@pytest.fixture
def data_dir(_fixture_tables, tmp_path) -> Path:
    """A data folder with the fixture tables: predictions and outcomes by day, pipeline_runs as one file.

    Each test gets its own copy (tests add, break and delete files); writing the parquet once is faster.
    """
    return Path(shutil.copytree(_fixture_tables, tmp_path / "data"))


@pytest.fixture
def config(data_dir, tmp_path) -> Config:
    return Config(
        data_dir=data_dir,
        cache_type="filesystem",
        cache_dir=tmp_path / "cache",
        state_dir=tmp_path / "state",
        workers=1,
    )


@pytest.fixture
def db(config) -> Database:
    """A Database without a results cache, so each run reads the files."""
    return Database(config)


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def volume(tmp_path) -> Path:
    """A 2 MiB tmpfs of the test's own at tmp_path/volume, to fill, make read-only or empty; unmounted at the end."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    folder = tmp_path / "volume"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="session")
def million(tmp_path_factory) -> Path:
    """A million predictions over five days, written once: cold views take long enough to meet a deadline."""
    from dashapp.demo import write_demo

    out = tmp_path_factory.mktemp("million")
    write_demo(out, rows=1_000_000, days=5, end=MILLION_END)
    return out


# -- read-only variants, built once per session (datasette's app_client): for tests that change no file --


@pytest.fixture(scope="session")
def shared_config(_fixture_tables, tmp_path_factory) -> Config:
    root = tmp_path_factory.mktemp("shared")
    data = Path(shutil.copytree(_fixture_tables, root / "data"))
    config = Config(
        data_dir=data, cache_type="filesystem", cache_dir=root / "cache", state_dir=root / "state", workers=1
    )
    evaluate_alerts(config)  # what the scheduler would have stored: the alert charts and bands read it
    return config


@pytest.fixture(scope="session")
def shared_db(shared_config) -> Database:
    return Database(shared_config)


@pytest.fixture(scope="session")
def shared_app(shared_config):
    return create_app(shared_config)


@pytest.fixture
def shared_client(shared_app):
    return shared_app.server.test_client()
