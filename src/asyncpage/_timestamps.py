"""A timestamp parser equal to botocore's, at C speed for the ISO 8601 forms AWS sends.

botocore parses every timestamp with ``dateutil.parser.parse`` (about 28 µs each; half of
an S3 listing's client CPU). :func:`parse_timestamp` recognises the strict
``YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`` form with a regular expression, builds the
datetime with :meth:`datetime.datetime.fromisoformat` (under 1 µs). Epoch numbers (the
JSON protocols' timestamps: DynamoDB, CloudWatch Logs, ECS...), for which botocore calls
``fromtimestamp(value, tzlocal())`` and spends about 15 µs in dateutil's ``fromutc``, are
built from the UTC time plus the local zone's offset when that zone has no daylight
saving time (then ``tzlocal()`` has one offset, and its ``fromutc`` is exactly that sum,
with fold 0). Everything else — RFC 822 headers, epochs in a zone with daylight saving,
epochs as text, other ISO spellings, malformed text, values out of range — goes to
botocore's own parser, so those parse, or fail, exactly as botocore makes them.

The time zone is dateutil's, chosen by dateutil's rules: ``Z``, ``z`` and a zero offset
are UTC, which dateutil returns as ``tzlocal()`` when the local zone is named ``UTC``
(``time.tzname``) and as ``tzutc()`` otherwise; another offset is ``tzoffset(None, s)``;
no zone gives a naive datetime. A local zone that names UTC beside another name (none
ships in the tz database) goes to botocore's parser.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any, cast

import botocore.utils
from dateutil import tz

__all__ = ["parse_timestamp"]

_ISO_8601 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)"
    r"(Z|z|[+-][0-9]{2}:[0-9]{2})?"
)
_ZERO_OFFSETS = frozenset({"Z", "z", "+00:00", "-00:00"})
_from_iso_format = datetime.datetime.fromisoformat
_from_timestamp = datetime.datetime.fromtimestamp
_botocore_parse_timestamp = botocore.utils.parse_timestamp

# dateutil builds a new tzlocal() per timestamp; one per local-zone setting is equal to it
# (tzlocal compares its offsets) and costs nothing. Keyed by what tzlocal() reads, with the
# zone's one offset (None when it has daylight saving time).
_local: tuple[tuple[Any, ...], datetime.tzinfo, datetime.timedelta | None] | None = None


def parse_timestamp(value: Any) -> Any:
    """Parse a timestamp as ``botocore.utils.parse_timestamp`` does, faster.

    Returns a datetime equal to botocore's, with the same kind of ``tzinfo``; raises what
    botocore raises (``ValueError`` for text that is no timestamp).
    """
    if type(value) is str:
        match = _ISO_8601.fullmatch(value)
        if match is not None:
            try:
                naive = _from_iso_format(match[1])
            except ValueError:
                return _botocore_parse_timestamp(value)
            zone = match[2]
            if zone is None:
                return naive
            tzinfo = _utc() if zone in _ZERO_OFFSETS else _offset(zone)
            if tzinfo is not None:
                return naive.replace(tzinfo=tzinfo)
    elif type(value) is int or type(value) is float:  # not bool: botocore's way for that
        parsed = _epoch(value)
        if parsed is not None:
            return parsed
    return _botocore_parse_timestamp(value)


def _epoch(value: float) -> datetime.datetime | None:
    """``fromtimestamp(value, tzlocal())`` when the local zone has one offset, else None."""
    tzinfo, offset = _zone()
    if offset is None:
        return None  # tzlocal() would ask the C library about daylight saving per date
    try:
        return (_from_timestamp(value, datetime.UTC) + offset).replace(tzinfo=tzinfo)
    except (OverflowError, OSError, ValueError):
        return None  # out of range: botocore raises its own error


def _utc() -> datetime.tzinfo | None:
    """UTC as dateutil returns it here, or None when only dateutil can say."""
    names = time.tzname
    if "UTC" not in names:
        return cast(datetime.tzinfo, tz.UTC)
    if names[0] != "UTC" or names[1] != "UTC":
        return None
    return _zone()[0]


def _zone() -> tuple[datetime.tzinfo, datetime.timedelta | None]:
    """A ``tzlocal()`` for the local zone as it is set now (one per setting), and the
    zone's one offset (None when it has daylight saving time)."""
    global _local
    key = (time.tzname, time.timezone, time.altzone, time.daylight)
    if _local is None or _local[0] != key:
        # tzlocal's rule: one offset unless daylight saving is on with another offset.
        one = not time.daylight or time.altzone == time.timezone
        offset = datetime.timedelta(seconds=-time.timezone) if one else None
        _local = (key, tz.tzlocal(), offset)
    return _local[1], _local[2]


def _offset(zone: str) -> datetime.tzinfo | None:
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        return None
    seconds = hours * 3600 + minutes * 60
    return cast(datetime.tzinfo, tz.tzoffset(None, -seconds if zone[0] == "-" else seconds))
