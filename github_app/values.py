"""GitHub's value formats, read in one place: its ids and its times, as webhook
payloads, headers and API answers carry them.

Framework-free and without any call to GitHub, so every part reads them the
same way: the delivery headers and columns, the delivery log, history's GraphQL
answers, the installation records and the metrics' payload reader.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

# GitHub's ids go in signed 64-bit columns (PostgreSQL bigint).
MAX_ID = 2**63 - 1
_ASCII_DIGITS = frozenset("0123456789")
# GitHub's times are ASCII ISO 8601 of a few dozen characters.
_MAX_TIMESTAMP_LENGTH = 40
# Years Python's datetime (and so Django's columns) can hold.
_YEAR = re.compile(r"^[+-]?(\d+)-")


def github_id(value: object) -> int | None:
    """A GitHub id read from a payload: a JSON integer from 1 to 2**63 - 1, else
    None (a string, a float, a bool, a negative or out-of-range number)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_ID else None


def id_from_text(value: str) -> int | None:
    """A GitHub id written in decimal (a header, a query parameter, GraphQL's
    BigInt ``fullDatabaseId``): 1 to 2**63 - 1 in ASCII digits, else None.
    ``str.isdigit`` is no check: it accepts "²", which ``int`` refuses, and
    "١٢", which ``int`` reads as 12."""
    if not value or len(value) > 19 or not _ASCII_DIGITS.issuperset(value):
        return None
    return github_id(int(value))


class TimestampError(ValueError):
    """A value that is not one of GitHub's times; str(error) says why."""


def parse_timestamp(value: object) -> datetime:
    """One of GitHub's times as an aware datetime in UTC: ISO 8601 text with its
    zone (``2019-05-15T15:20:33Z``, ``2019-05-15T08:20:33-07:00``, with or
    without fractions of a second), or Unix seconds (installation events and
    push events send numbers). TimestampError, with the reason, for anything
    else: another type, text with no zone, a year outside 1 to 9999 (or one whose
    time in UTC falls outside them)."""
    if isinstance(value, bool):
        raise TimestampError("a time is text or a number, not true or false")
    if isinstance(value, int | float):
        return _from_unix_seconds(value)
    if not isinstance(value, str):
        raise TimestampError(f"a time is text or a number, not {type(value).__name__}")
    if not value.isascii() or len(value) > _MAX_TIMESTAMP_LENGTH:
        raise TimestampError("not an ISO 8601 time (too long, or not ASCII)")
    if (year := _YEAR.match(value)) and len(year.group(1)) != 4:
        raise TimestampError("the year is out of range (1 to 9999)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TimestampError("not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise TimestampError("the time has no zone (GitHub's end in Z or an offset)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise TimestampError("the year is out of range once in UTC (1 to 9999)") from None


def timestamp_or_none(value: object) -> datetime | None:
    """`parse_timestamp`, with None for null, empty or unreadable values (a
    reader that goes on without the time)."""
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except TimestampError:
        return None


def _from_unix_seconds(value: float) -> datetime:
    if math.isnan(value) or math.isinf(value):
        raise TimestampError("not a number of seconds")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise TimestampError("the year is out of range (1 to 9999)") from None
