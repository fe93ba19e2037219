"""The layout is the architecture: imports point one way, with no circle, and
every list of events is derived from the routing table and the row kinds.

Imports are read from the source (run-time ones: those inside functions count,
those under ``if TYPE_CHECKING:`` do not, except for the metrics, which may not
name the integrations even for their types), for every module of `apps/`,
`github_app/` and `config/` but migrations."""

from __future__ import annotations

import ast
import json
from functools import cache
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
FOLDERS = ("apps", "github_app", "config")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for folder in FOLDERS
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    }


@cache
def _trees() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text()) for name, path in _modules().items()}


def _runtime_imports(tree: ast.Module, *, type_only_too: bool = False) -> set[str]:
    """What a module imports when it runs (``from a import b``: ``a`` and ``a.b``);
    with `type_only_too`, also what it imports only for the type checker."""
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only and not type_only_too:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@cache
def _graph() -> dict[str, set[str]]:
    """Each module of the project -> the project's modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, tree in _trees().items():
        found = set()
        for imported in _runtime_imports(tree):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                found.add(imported)
        graph[name] = found
    return graph


def _within(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _offenders(
    folder: str, *forbidden: str, allowed: tuple[str, ...] = (), type_only_too: bool = False
) -> list[str]:
    prefix = folder.replace("/", ".")
    return sorted(
        f"{module} imports {name}"
        for module, tree in _trees().items()
        if _within(module, prefix)
        for name in _runtime_imports(tree, type_only_too=type_only_too)
        if _within(name, *forbidden) and not _within(name, *allowed)
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_it_finds_a_circle_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    assert _cycles(_graph()) == []


def test_github_app_imports_nothing_of_django_or_the_apps():
    assert _offenders("github_app", "django", "apps", "config") == []


def test_metrics_never_imports_integrations_or_github_calls_at_run_time():
    # GitHub's value formats (ids, times) are plain functions, no call to GitHub.
    assert (
        _offenders(
            "apps/metrics",
            "apps.integrations",
            "apps.web",
            "apps.demo",
            "github_app",
            allowed=("github_app.values",),
        )
        == []
    )


def test_it_reads_imports_under_type_checking_only_when_asked():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from apps.integrations.models import Repository\n"
    )
    assert "apps.integrations.models" not in _runtime_imports(tree)
    assert "apps.integrations.models.Repository" in _runtime_imports(tree, type_only_too=True)


def test_metrics_never_name_integrations_even_for_their_types():
    # The metrics read repositories through `RepositoryRecord` and the port
    # (apps/metrics/repositories.py): an annotation naming the integrations'
    # model would be the one arrow pointing up.
    assert _offenders("apps/metrics", "apps.integrations", type_only_too=True) == []


def test_teams_knows_neither_integrations_nor_metrics():
    assert (
        _offenders(
            "apps/teams", "apps.integrations", "apps.metrics", "apps.web", "apps.demo", "github_app"
        )
        == []
    )


def test_common_knows_no_app():
    assert (
        _offenders(
            "apps/common",
            "apps.integrations",
            "apps.metrics",
            "apps.teams",
            "apps.web",
            "apps.demo",
        )
        == []
    )


def test_only_app_configs_import_tasks_modules():
    """The tasks import the services; services (and the pipeline, views,
    selectors) queue tasks by name through a scheduling module, never by import."""
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if target.endswith(".tasks") and not module.endswith(".apps")
    )
    assert offenders == []


def test_services_never_import_views_or_tasks():
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if ".services" in module or ".pipeline" in module
        for target in targets
        if ".views" in target or target.endswith(".tasks")
    )
    assert offenders == []


def test_no_model_is_reached_around_the_import_check():
    """`apps.get_model(...)` and `_meta.get_field(...).related_model` reach
    another app's model with no import to see: not outside migrations."""
    found = []
    for module, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "get_model":
                found.append(f"{module}: {ast.unparse(node)}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "related_model"
                and "get_field" in ast.unparse(node.value)
            ):
                found.append(f"{module}: {ast.unparse(node)}")
    assert found == []


def test_the_metrics_repository_port_is_provided():
    from apps.metrics.repositories import repository_directory

    assert type(repository_directory()).__module__ == "apps.integrations.selectors"


def test_every_task_sent_by_name_is_registered():
    from apps.common.scheduling import task_send  # noqa: F401 (the one sender)
    from apps.integrations import scheduling
    from apps.metrics.services import commits_fetch, deployments, merge_questions, recompute
    from config.celery import app

    names = {
        scheduling.DRAIN_TASK,
        scheduling.HISTORY_TASK,
        recompute.RECOMPUTE_TASK,
        merge_questions.EMAIL_TASK,
        commits_fetch.COMMITS_TASK,
        deployments.SHIP_TASK,
    }
    assert names <= set(app.tasks)


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
