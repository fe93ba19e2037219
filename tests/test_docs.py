"""The docs name files that exist: every path written in backticks in README.md
and docs/ (a path from the project's root, or a shorter one that ends a path
of the project, as `pipeline/drain.py`)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ROOTS = ("apps/", "github_app/", "config/", "tests/", "docs/", "bench/", "static/", "templates/")
FILE = re.compile(r"^[\w./-]+\.(py|md|json|html|css|js|toml|txt)$")
# Placeholders (`apps/<app>/views.py`), globs and URLs name no one file.
NOT_A_PATH = re.compile(r"[<>*{}]|://")


def _named_paths(text: str) -> set[str]:
    found = set()
    for token in re.findall(r"`([^`\s]+)`", text):
        path = token.split(":")[0].rstrip(",.")
        if NOT_A_PATH.search(path):
            continue
        if path.startswith(ROOTS) or FILE.match(path):
            found.add(path)
    return found


def _project_files() -> list[str]:
    return [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*")
        if not any(
            part.startswith(".") or part in {"node_module", "node_modules"}
            for part in path.relative_to(ROOT).parts
        )
    ]


def test_it_reads_the_paths_the_docs_name():
    assert _named_paths("see `apps/metrics/figures.py`, `drain.py`, and `apps/<app>/views.py`") == {
        "apps/metrics/figures.py",
        "drain.py",
    }


def test_every_file_the_docs_name_exists():
    files = _project_files()
    missing = []
    for doc in DOCS:
        for path in sorted(_named_paths(doc.read_text())):
            if path.startswith(ROOTS):
                found = (ROOT / path).exists()
            else:
                found = any(name == path or name.endswith("/" + path) for name in files)
            if not found:
                missing.append(f"{doc.name}: {path}")
    assert missing == []
