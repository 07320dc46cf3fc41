"""The results cache: one flask-caching Cache, created unbound and bound in create_app.

Keys carry the query name, the normalised parameters and the data fingerprint (db.py), so new
parquet files change the key and no TTL guess is needed. FileSystemCache is shared by the
gunicorn workers on one host.
"""

from __future__ import annotations

from flask import Flask
from flask_caching import Cache

from .config import Config

cache = Cache()

_TYPES = {"filesystem": "FileSystemCache", "simple": "SimpleCache", "null": "NullCache"}


def init_cache(server: Flask, config: Config) -> Cache:
    """Bind the cache to the Flask server with the configured backend."""
    settings = {
        "CACHE_TYPE": _TYPES[config.cache_type],
        "CACHE_DEFAULT_TIMEOUT": config.cache_timeout,
    }
    if config.cache_type == "filesystem":
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        settings |= {"CACHE_DIR": str(config.cache_dir / "results"), "CACHE_THRESHOLD": 5000}
    cache.init_app(server, config=settings)
    return cache
