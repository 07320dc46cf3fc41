"""Time windows and buckets: parse `start`/`end` (ISO or now-7d), and pick a bucket for a range."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# Bucket name -> seconds, finest first. The auto bucket is the finest that keeps a trace
# under MAX_POINTS points: a screen cannot show more.
BUCKETS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "3h": 10800,
    "6h": 21600,
    "12h": 43200,
    "1d": 86400,
    "7d": 604800,
}
MAX_POINTS = 2000
MAX_RANGE = timedelta(days=3 * 366)
_RELATIVE = re.compile(r"^now(?:-(\d{1,5})([mhdw]))?$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def utc_now() -> datetime:
    """Now in UTC, naive, floored to the minute so that repeated requests share cache entries."""
    return datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)


def parse_instant(text: str, now: datetime) -> datetime:
    """Parse an ISO date or datetime (UTC unless it carries an offset) or a relative form like now-7d."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        amount, unit = match.groups()
        return now - timedelta(**{_UNITS[unit]: int(amount)}) if amount else now
    if len(text) > 40:
        raise ValueError("too long")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def align_up(moment: datetime, seconds: int) -> datetime:
    """Round a moment up to the next multiple of `seconds` since the epoch (itself if on one)."""
    since_epoch = moment - datetime(1970, 1, 1)
    steps = -(-since_epoch // timedelta(seconds=seconds))  # ceiling division
    return datetime(1970, 1, 1) + steps * timedelta(seconds=seconds)


def align_down(moment: datetime, seconds: int) -> datetime:
    """Round a moment down to a multiple of `seconds` since the epoch: the start of the bucket that holds it."""
    since_epoch = moment - datetime(1970, 1, 1)
    return datetime(1970, 1, 1) + since_epoch // timedelta(seconds=seconds) * timedelta(seconds=seconds)


def auto_bucket(start: datetime, end: datetime) -> str:
    """Return the finest bucket that keeps (end - start) under MAX_POINTS points."""
    seconds = (end - start).total_seconds()
    for name, size in BUCKETS.items():
        if seconds / size <= MAX_POINTS:
            return name
    return next(reversed(BUCKETS))


def bucket_points(start: datetime, end: datetime, bucket: str) -> int:
    return int((end - start).total_seconds() // BUCKETS[bucket])
