"""GitHub's times, read by one parser: its formats, and a reason for anything
else, never OverflowError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from github_app.values import TimestampError, parse_timestamp, timestamp_or_none


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-05-15T15:20:33Z", datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC)),
        ("2019-05-15T08:20:33-07:00", datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC)),
        ("2019-05-15T15:20:33.123Z", datetime(2019, 5, 15, 15, 20, 33, 123000, tzinfo=UTC)),
        (1557933633, datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC)),
        (1557933633.5, datetime(2019, 5, 15, 15, 20, 33, 500000, tzinfo=UTC)),
    ],
)
def test_it_reads_githubs_formats_in_utc(text, expected):
    moment = parse_timestamp(text)
    assert moment == expected
    assert moment.tzinfo == UTC


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0001-01-01T00:00:00+01:00", "out of range once in UTC"),
        ("9999-12-31T23:30:00-01:00", "out of range once in UTC"),
        ("10000-01-01T00:00:00Z", "year is out of range"),
        ("+275760-09-13T00:00:00Z", "year is out of range"),
        (10**20, "year is out of range"),
        (-(10**20), "year is out of range"),
        (float("nan"), "not a number of seconds"),
        (float("inf"), "not a number of seconds"),
        ("2019-05-15T15:20:33", "no zone"),
        ("yesterday", "not an ISO 8601 time"),
        ("\uff12\uff10\uff11\uff19-05-15T15:20:33Z", "not ASCII"),
        ("2019-05-15T15:20:33Z" + " " * 40, "too long"),
        (True, "not true or false"),
        (["2019-05-15"], "not list"),
        ({"at": 1}, "not dict"),
    ],
)
def test_it_refuses_anything_else_with_the_reason(value, reason):
    with pytest.raises(TimestampError, match=reason):
        parse_timestamp(value)
    assert timestamp_or_none(value) is None


def test_none_and_empty_are_no_time():
    assert timestamp_or_none(None) is None
    assert timestamp_or_none("") is None
