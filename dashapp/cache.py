"""The results cache: one flask-caching Cache, created unbound and bound in create_app.

Keys carry the query name, the normalised parameters and the data fingerprint (db.py), so new
parquet files change the key and no TTL guess is needed. FileSystemCache is shared by the
gunicorn workers on one host. Every key starts with the build's prefix (code, queries and
settings), so a deploy or a changed threshold never reads what an earlier build cached.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

from flask import Flask
from flask_caching import Cache

from .config import Config
from .db import QUERIES_DIR

cache = Cache()

_TYPES = {"filesystem": "FileSystemCache", "simple": "SimpleCache", "null": "NullCache"}


def init_cache(server: Flask, config: Config) -> Cache:
    """Bind the cache to the Flask server with the configured backend."""
    settings = {
        "CACHE_TYPE": _TYPES[config.cache_type],
        "CACHE_DEFAULT_TIMEOUT": config.cache_timeout,
        "CACHE_KEY_PREFIX": build_prefix(config),
    }
    if config.cache_type == "filesystem":
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        settings |= {"CACHE_DIR": str(config.cache_dir / "results"), "CACHE_THRESHOLD": 5000}
    cache.init_app(server, config=settings)
    return cache


def build_prefix(config: Config) -> str:
    """Fingerprint this build: the package's Python files, the SQL files and the settings."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(repr(sorted(asdict(config).items())).encode())
    for path in sorted([*package.rglob("*.py"), *QUERIES_DIR.glob("*.sql")]):
        digest.update(str(path.relative_to(package.parent)).encode() + path.read_bytes())
    return digest.hexdigest()[:12] + ":"
