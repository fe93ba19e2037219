"""The documents say what the code does: the JSON keys, the drill-down figures,
the /metrics series, the commands and make targets they name."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.core.management import get_commands
from django.utils import timezone

from apps.metrics import figures
from apps.metrics.periods import request_read

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^#{1,3} ", text[start + len(heading) :], re.MULTILINE)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


@pytest.mark.django_db
def test_the_json_keys_documented_are_the_apis(team):
    asked = request_read(params={}, time_zone="UTC", today=date(2025, 1, 31))
    keys = set(
        figures.team_figures(team=team, request=asked, repository_ids=None, now=timezone.now())
    )
    block = _section(_text("docs/metrics.md"), "### JSON keys")
    block = block[block.index("```") + 3 : block.rindex("```")]
    documented = set()
    for line in block.splitlines():
        if line and not line.startswith(" "):
            names = line.split("  ")[0]
            documented |= {name.strip().removesuffix("[]") for name in names.split(",")}
    assert documented == keys


def test_every_drill_down_figure_is_documented():
    section = _section(_text("docs/metrics.md"), "### Drill-down")
    for figure in figures.FIGURES:
        assert f"`{figure}`" in section, figure


@pytest.mark.django_db
def test_every_metrics_series_is_documented(client, settings):
    settings.METRICS_TOKEN = "operator-token"
    from apps.integrations.models import ReconcileRun

    ReconcileRun.objects.create(trigger="schedule", started_at=timezone.now())
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer operator-token").content.decode()
    series = set(re.findall(r"^# TYPE (tformance_\w+) ", text, re.MULTILINE))
    deploy = _text("docs/deploy.md")
    assert series
    for name in series:
        assert f"`{name}" in deploy, name


def test_every_command_and_make_target_named_exists():
    commands = set(get_commands())
    makefile = _text("Makefile")
    targets = set(re.findall(r"^([a-z]+):", makefile, re.MULTILINE))
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for command in re.findall(r"manage\.py ([a-z_]+)", text):
            assert command in commands, (doc.name, command)
        for target in re.findall(r"`make ([a-z]+)[ `]", text):
            assert target in targets, (doc.name, target)


def test_no_document_promises_what_is_already_there():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for stale in ("not in this release", "to come)", "(to come", "not reported yet"):
            assert stale not in text, (doc.name, stale)
