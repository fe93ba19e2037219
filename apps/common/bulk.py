"""Writing many rows in one round trip."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    Field,
    FloatField,
    ForeignKey,
    IntegerField,
    Model,
    TextField,
)

# Fields whose values the database drivers take as they are (str, int, bool,
# float, None): a pass of webhook deliveries writes seven of them per delivery,
# and Field.get_db_prep_save on each was the largest single item of a pass in
# the profiler. The other fields (dates, which SQLite stores as text; JSON)
# still go through it.
_AS_IS = (BooleanField, CharField, FloatField, IntegerField, TextField)


def _taken_as_is(field: Field[Any, Any]) -> bool:
    if isinstance(field, ForeignKey):
        return isinstance(field.target_field, IntegerField)
    return isinstance(field, _AS_IS) and not getattr(field, "auto_now", False)


def _preparer(field: Field[Any, Any]) -> Callable[[Model], Any]:
    if _taken_as_is(field):
        attname = field.attname
        return lambda row: getattr(row, attname)
    return lambda row: field.get_db_prep_save(field.pre_save(row, False), connection)


def update_rows(*, model: type[Model], rows: Sequence[Model], fields: Iterable[str]) -> None:
    """Write ``fields`` (names or attnames) of each row, by primary key, and its
    ``auto_now`` fields as ``save()`` would: one UPDATE statement run for every row,
    which psycopg sends as one pipeline. Django's ``bulk_update`` builds a CASE
    expression per field and row, which cost more than everything else a batch of
    webhook deliveries does."""
    if not rows:
        return
    meta = model._meta
    names = set(fields)
    columns = [
        field
        for field in meta.concrete_fields
        if (field.name in names or field.attname in names or getattr(field, "auto_now", False))
        and not field.primary_key
    ]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    # Names come from the model, values go in as parameters.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    preparers = [_preparer(field) for field in columns]
    params = [[*(prepare(row) for prepare in preparers), row.pk] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
