"""How many gunicorn workers a host can carry: its cores, and its memory at one DuckDB budget plus Python each.

A worker holds DuckDB's buffers up to DASHAPP_DUCKDB_MEMORY_LIMIT and, beside them, Python with Dash, pandas and
plotly (about 300 MiB: the load test's workers settle at 400-600 MiB with the default 768 MiB limit mostly unused).
One worker per core is what the CPU can use; more workers than the memory holds end in the kernel's OOM killer,
which takes a worker mid-request. Both are read where the server runs: a container's cgroup limits, else the host's.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

PYTHON_MIB = 300  # a worker's memory beside DuckDB's buffers
MAX_WORKERS = 64
_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_UNITS |= {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
CGROUP = Path("/sys/fs/cgroup")
MEMINFO = Path("/proc/meminfo")


def default_workers(duckdb_memory_limit: str) -> int:
    """min(cores, memory available // (DuckDB's limit + 300 MiB)), from 1 to 64."""
    per_worker = size_bytes(duckdb_memory_limit) + PYTHON_MIB * 1024**2
    memory = memory_available()
    by_memory = MAX_WORKERS if memory is None else memory // per_worker
    return max(1, min(cores(), by_memory, MAX_WORKERS))


def size_bytes(text: str) -> int:
    """A DuckDB size (768MiB, 2GB, 1.5GiB) in bytes; KB, MB... are powers of 1000, KiB, MiB... of 1024, as in DuckDB."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match[1]) * _UNITS[match[2]])


def cores() -> int:
    """The cores this process may use: the host's, or fewer under a cgroup CPU quota (a container's --cpus)."""
    found = os.cpu_count() or 1
    quota = _read(CGROUP / "cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
    if quota and not quota.startswith("max"):
        limit, period = (int(part) for part in quota.split()[:2])
        found = min(found, max(1, math.ceil(limit / period)))
    return found


def memory_available() -> int | None:
    """Bytes the workers may take: the host's MemAvailable, or less under a cgroup memory limit; None if unknown."""
    candidates = []
    meminfo = _read(MEMINFO) or ""
    found = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo, re.MULTILINE)
    if found:
        candidates.append(int(found[1]) * 1024)
    for limit_file in (CGROUP / "memory.max", CGROUP / "memory" / "memory.limit_in_bytes"):  # cgroup v2, v1
        limit = _read(limit_file)
        if limit and limit.isdigit() and int(limit) < 2**60:  # v1 says "no limit" with a huge number
            candidates.append(int(limit))
    return min(candidates) if candidates else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None
