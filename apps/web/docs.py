"""The project's documentation (`docs/*.md`), served to logged-in users so that
pages can link to it on any deployment: the files ship with the code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import markdown
from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

DOCS_DIR: Path = Path(settings.BASE_DIR) / "docs"
_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}", re.ASCII)
# A doc naming another (`docs/deploy.md`) becomes a link to it.
_DOC_REFERENCE = re.compile(r"<code>docs/([a-z][a-z0-9-]{0,40})\.md</code>")


@dataclass(frozen=True)
class Doc:
    name: str
    title: str
    html: SafeString


def doc_names() -> list[str]:
    """The documents there are, by name (the file name without `.md`)."""
    return sorted(path.stem for path in DOCS_DIR.glob("*.md") if _NAME.fullmatch(path.stem))


def doc_title(text: str, name: str) -> str:
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    return first.removeprefix("# ").strip() if first.startswith("# ") else name


def doc_read(*, name: str) -> Doc | None:
    """The document ``name`` rendered to HTML, or None if there is none by that name.

    Only names listed from the folder are read, so no path from a request ever
    reaches the file system. The files are the project's own: their HTML is trusted."""
    if name not in doc_names():
        return None
    text = (DOCS_DIR / f"{name}.md").read_text(encoding="utf-8")
    html = markdown.markdown(text, extensions=["tables", "fenced_code"])
    known = set(doc_names())
    html = _DOC_REFERENCE.sub(
        lambda match: (
            f'<a href="{reverse("doc", args=[match[1]])}">{match[0]}</a>'
            if match[1] in known
            else match[0]
        ),
        html,
    )
    return Doc(name=name, title=doc_title(text, name), html=mark_safe(html))  # noqa: S308


def doc_index() -> list[tuple[str, str]]:
    """(name, title) of every document."""
    return [
        (name, doc_title((DOCS_DIR / f"{name}.md").read_text(encoding="utf-8"), name))
        for name in doc_names()
    ]
