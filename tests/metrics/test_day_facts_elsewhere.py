"""Where no day facts are kept (SQLite, the embedded default) the command says
there is nothing to do, and the refresh does nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from apps.metrics.services import day_facts


@pytest.mark.django_db
def test_it_says_there_is_nothing_to_do_without_postgresql(monkeypatch):
    monkeypatch.setattr(day_facts, "available", lambda: False)
    out = io.StringIO()
    call_command("metrics_day_facts", stdout=out)
    assert "PostgreSQL only" in out.getvalue()
    assert day_facts.day_facts_refresh() == 0
    assert day_facts.day_facts_stale_count() == 0


def test_it_keeps_day_facts_on_postgresql_only(settings):
    engine = settings.DATABASES["default"]["ENGINE"]
    assert day_facts.available() is engine.endswith("postgresql")
