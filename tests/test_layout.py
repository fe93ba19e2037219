"""The layout is the architecture: imports point one way, and every list of
events is derived from the routing table."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from apps.integrations.pipeline.routing import (
    CHANGES_INSTALLATIONS,
    IGNORED_EVENTS,
    REPOSITORY_EVENTS,
    ROUTES,
    SENT_TO_EVERY_APP,
    SUBSCRIBED_EVENTS,
)
from apps.metrics.services.processors import EVENT_NAMES

ROOT = Path(__file__).parents[1]


def _runtime_imports(folder: str) -> dict[str, set[str]]:
    """Each module's imports, leaving out those under ``if TYPE_CHECKING:``."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        type_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)
        }
        names: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _offenders(folder: str, *forbidden: str) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in _runtime_imports(folder).items()
        for name in names
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    )


def test_github_app_imports_nothing_of_django_or_the_apps():
    assert _offenders("github_app", "django", "apps", "config") == []


def test_metrics_never_imports_integrations_at_run_time():
    assert _offenders("apps/metrics", "apps.integrations", "github_app") == []


def test_teams_knows_neither_integrations_nor_metrics():
    assert _offenders("apps/teams", "apps.integrations", "apps.metrics", "github_app") == []


def test_the_pipeline_imports_no_task_but_requeue_which_only_wakes_the_drain():
    offenders = _offenders("apps/integrations/pipeline", "apps.integrations.tasks")
    assert offenders == ["apps/integrations/pipeline/requeue.py imports apps.integrations.tasks"]


def test_every_event_the_metrics_take_is_routed_to_them_and_kept_when_ignored():
    routed = {name for name, _ in ROUTES}
    assert routed >= EVENT_NAMES
    assert REPOSITORY_EVENTS == EVENT_NAMES
    assert not CHANGES_INSTALLATIONS & REPOSITORY_EVENTS
    assert not set(IGNORED_EVENTS) & routed


def test_the_manifest_subscribes_to_exactly_the_routed_events_github_does_not_send_unasked():
    # installation, installation_repositories and installation_target reach
    # every GitHub App unasked; the other routed events must be subscribed to.
    manifest = json.loads((ROOT / "app-manifest.json").read_text())
    routed = {name for name, _ in ROUTES}
    assert set(manifest["default_events"]) == SUBSCRIBED_EVENTS == routed - SENT_TO_EVERY_APP
    assert REPOSITORY_EVENTS | {"repository"} <= SUBSCRIBED_EVENTS
