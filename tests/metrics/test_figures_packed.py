"""The packed merged facts' figures (apps/metrics/figures_packed.py) compute
what PostgreSQL computes: PERCENTILE_CONT to the last bit, and a moment's week
as DATE_TRUNC('week', at AT TIME ZONE zone), through zones that change their
offset at midnight. The whole figures are compared with the rows' in
tests/metrics/test_day_facts.py."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection

from apps.metrics import figures_packed
from apps.metrics.figures_packed import percentile_cont

pytestmark = pytest.mark.postgres


@pytest.mark.django_db
def test_it_gives_postgresqls_percentiles_to_the_last_bit():
    rng = random.Random(7)
    for count in (1, 2, 3, 10, 101, 1000):
        values = [
            rng.choice([rng.uniform(0, 500), float(rng.randint(0, 40))]) for _ in range(count)
        ]
        ordered = np.sort(np.array(values))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY v), "
                "PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY v) FROM unnest(%s::float8[]) v",
                [values],
            )
            median, p90 = cursor.fetchone()
        assert percentile_cont(ordered, 0.5) == median
        assert percentile_cont(ordered, 0.9) == p90
    assert percentile_cont(np.array([]), 0.5) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "zone",
    [
        "America/Los_Angeles",
        "Asia/Kolkata",
        # Offsets that change at midnight (a day that starts at 01:00, an hour
        # of one day lived twice) and by half an hour.
        "America/Havana",
        "America/Santiago",
        "Asia/Beirut",
        "Australia/Lord_Howe",
        "Pacific/Apia",  # skipped a whole day in 2011
    ],
)
def test_it_weeks_moments_as_postgresql_does(zone):
    rng = random.Random(zone)
    start = datetime(2010, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    span = int((end - start).total_seconds())
    moments = sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(3000))
    # And each second around every change of offset.
    changes, _offsets = figures_packed._offsets(zone, start, end)
    for change in changes.tolist()[1:]:
        moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=change)
        moments += [moment - timedelta(microseconds=1), moment, moment + timedelta(seconds=1)]
    moments.sort()
    at = np.array([figures_packed._microseconds(moment) for moment in moments], dtype=np.int64)
    days = figures_packed._local_days(at, zone, start, end)
    mondays = days - (days + figures_packed._SATURDAY) % 7
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (DATE_TRUNC('week', m AT TIME ZONE %s)::date - DATE '2000-01-01'), "
            "((m AT TIME ZONE %s)::date - DATE '2000-01-01') "
            "FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS u(m, n) ORDER BY n",
            [zone, zone, moments],
        )
        expected = cursor.fetchall()
    assert len(changes) > 10 or zone == "Asia/Kolkata"  # no daylight saving time there
    assert [int(day) for day in days] == [day for _week, day in expected]
    assert [int(monday) for monday in mondays] == [week for week, _day in expected]


@pytest.mark.django_db
def test_it_keeps_an_infinite_percentile_infinite_as_postgresql_does():
    for values in ([float("inf")], [1.0, float("inf")], [float("-inf"), 2.0, float("inf")]):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY v) FROM unnest(%s::float8[]) v",
                [values],
            )
            expected = cursor.fetchone()[0]
        found = percentile_cont(np.sort(np.array(values)), 0.5)
        assert found == expected or (math.isnan(found) and math.isnan(expected)), values


@pytest.mark.django_db
def test_it_sums_a_mean_as_avg_does_one_value_at_a_time():
    rng = random.Random(11)
    # A tie at the third decimal: numpy's blockwise sum gives the float below it.
    cases = [[0.7, 0.0, 2.6, 0.0, 0.9, 0.0, 0.0, 0.9]]
    cases += [
        [round(rng.uniform(0, 300), 1) for _ in range(rng.randint(8, 400))] for _ in range(30)
    ]
    for values in cases:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT AVG(v ORDER BY n) FROM unnest(%s::float8[]) WITH ORDINALITY AS u(v, n)",
                [values],
            )
            expected = cursor.fetchone()[0]
        assert figures_packed._mean(np.array(values, dtype=np.float64)) == expected, values
