"""The drill-down of merged pull requests counts and orders its rows from the
index alone (`pr_team_merged_cover`): at a million pull requests its rows
lie scattered over the table, and reading them took the page 350 ms
(docs/metrics.md, "How fast, and at what size"). PostgreSQL's plan, with the
scans that would read rows turned off, must still need no row."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from apps.metrics import figures
from apps.metrics.periods import Period

pytestmark = pytest.mark.postgres


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        # Small tables are read whole otherwise: ask what the index alone can do.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_it_counts_and_pages_the_merged_list_from_the_index_alone(team):
    period = Period(date(2025, 1, 1), date(2025, 3, 31), "UTC")
    rows, _order = figures.pull_requests_behind(
        team=team, period=period, repository_ids=None, figure="merged"
    )
    ids = rows.values_list("id", flat=True)
    count_sql, count_params = ids.order_by().values("id").query.sql_with_params()
    page_sql, page_params = ids[:50].query.sql_with_params()
    for sql, params in ((count_sql, count_params), (page_sql, page_params)):
        plan = _plan(sql, list(params))
        assert "Index Only Scan using pr_team_merged_cover" in plan, plan
