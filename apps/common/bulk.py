"""Writing many rows in one round trip."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


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
    params = []
    for row in rows:
        values = [
            field.get_db_prep_save(field.pre_save(row, False), connection) for field in columns
        ]
        params.append([*values, row.pk])
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
