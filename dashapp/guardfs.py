"""The filesystem DuckDB reads an object store through: read-only, and only the objects under the data prefix.

DuckDB's allowed_directories holds the prefix too (sandbox.sandbox_settings); this is the second wall, and
the one that refuses writes, which DuckDB's allowed folder would let COPY do. What the scan's listing
knows (that a file exists, its size and time) is answered from it: DuckDB asks all three of every file
of a query, and each would otherwise be a HEAD request.
"""

from __future__ import annotations

from fsspec import AbstractFileSystem


class GuardedFileSystem(AbstractFileSystem):
    """Delegates reads inside the prefix to the store's fsspec filesystem; refuses the rest with PermissionError."""

    cachable = False  # one per DuckDB connection, never shared through fsspec's instance cache

    def __init__(self, store):
        super().__init__()
        self.store = store  # an ObjectStore (objectstore.py)
        self.protocol = store.protocols  # DuckDB hands this filesystem the URLs of these schemes

    def open(self, path, mode="rb", **kwargs):
        if mode != "rb":
            raise PermissionError(f"{path}: the data store is read-only")
        return self.store.open(self.store.key_of(path))

    def size(self, path):
        key = self.store.key_of(path)
        known = self.store.known(key)
        return known.size if known is not None else self.store.filesystem().size(key)

    def modified(self, path):
        key = self.store.key_of(path)
        known = self.store.known(key)
        if known is not None and known.modified is not None:
            return known.modified
        return self.store.filesystem().modified(key)

    def info(self, path, **kwargs):
        return self.store.filesystem().info(self.store.key_of(path), **kwargs)

    def ls(self, path, detail=True, **kwargs):
        found = self.store.filesystem().ls(self.store.key_of(path), detail=detail, **kwargs)
        return [f for f in found if self._inside(f["name"] if detail else f)]

    def glob(self, path, **kwargs):
        key = self.store.key_of(path)
        # DuckDB globs every path of a read_parquet list, wildcards or not: a listed object answers without a request.
        if not any(c in key for c in "*?[") and self.store.known(key) is not None:
            return [key]
        return [f for f in self.store.filesystem().glob(key, **kwargs) if self._inside(f)]

    def isfile(self, path):
        return self.store.filesystem().isfile(self.store.key_of(path))

    def isdir(self, path):
        return self.store.filesystem().isdir(self.store.key_of(path))

    def exists(self, path, **kwargs):
        return self.store.filesystem().exists(self.store.key_of(path))

    def _inside(self, name: str) -> bool:
        try:
            self.store.key_of(name)
        except PermissionError:
            return False
        return True

    def _refuse(self, *args, **kwargs):
        raise PermissionError("the data store is read-only")

    mv = rm = rm_file = mkdir = makedirs = touch = pipe_file = put_file = cp_file = _refuse
