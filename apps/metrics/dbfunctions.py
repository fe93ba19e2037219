"""Database functions the figures need that Django does not ship, the same on
PostgreSQL and SQLite.

- ``PercentileCont``: a percentile by linear interpolation, PostgreSQL's
  ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``. SQLite has no such
  aggregate, so each SQLite connection gets ``percentile_cont(x, f)``
  registered (``register_sqlite_functions``), computing the same number.
"""

from __future__ import annotations

import math
from typing import Any

from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Aggregate, FloatField
from django.db.models.sql.compiler import SQLCompiler


def _checked_fraction(fraction: float) -> float:
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0 or math.isnan(fraction):
        raise ValueError("a percentile's fraction is between 0 and 1")
    return fraction


def percentile_sql(*, vendor: str, column: str, fraction: float) -> str:
    """SQL for the percentile of ``column`` (an expression already safe to embed)."""
    fraction = _checked_fraction(fraction)
    if vendor == "postgresql":
        return f"PERCENTILE_CONT({fraction!r}) WITHIN GROUP (ORDER BY {column})"
    if vendor == "sqlite":
        return f"percentile_cont({column}, {fraction!r})"
    raise NotSupportedError(f"percentiles are not available on {vendor}")


class PercentileCont(Aggregate):  # type: ignore[misc]
    """The ``fraction`` percentile of an expression, linearly interpolated;
    NULLs are left out, and no rows give NULL."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        self.fraction = _checked_fraction(fraction)
        super().__init__(expression, **extra)

    def _with_template(
        self, template: str, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        clone = self.copy()
        clone.template = template
        return super(PercentileCont, clone).as_sql(compiler, connection, **extra)  # type: ignore[no-any-return]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        template = f"PERCENTILE_CONT({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        return self._with_template(template, compiler, connection, **extra)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        template = f"percentile_cont(%(expressions)s, {self.fraction!r})"
        return self._with_template(template, compiler, connection, **extra)

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, list[Any]]:
        raise NotSupportedError(f"percentiles are not available on {connection.vendor}")


class _SQLitePercentile:
    """``percentile_cont(value, fraction)`` for SQLite, as PostgreSQL computes it:
    the value at position fraction * (n - 1) of the sorted values, interpolated
    between its two neighbours."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction: float | None = None

    def step(self, value: float | None, fraction: float) -> None:
        if self.fraction is None:
            self.fraction = float(fraction)
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        if not self.values or self.fraction is None:
            return None
        return interpolated_percentile(self.values, self.fraction)


def interpolated_percentile(values: list[float], fraction: float) -> float:
    """The percentile of values by linear interpolation (percentile_cont)."""
    ordered = sorted(values)
    position = _checked_fraction(fraction) * (len(ordered) - 1)
    below = math.floor(position)
    above = math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def register_sqlite_functions(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: object
) -> None:
    """connection_created receiver: gives each SQLite connection percentile_cont."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("percentile_cont", 2, _SQLitePercentile)
