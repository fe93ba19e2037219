"""URLs as they may be written to a log: without the tokens and codes they carry.

An invitation link's path holds its token (``/teams/<slug>/join/<token>/``), and
GitHub's callbacks carry one-time codes in their query string (``?code=``, the
manifest flow's ``state``), each worth an account or the app's secrets to
whoever reads the log. Every log line that names a request's URL (the access
log, Django's request log) goes through ``redacted_path``."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

REDACTED = "[redacted]"
# Path segments that are secrets: the segment after "join" under a team.
_SECRET_SEGMENT = re.compile(r"^(/teams/[^/]+/join/)[^/]+")
# Query parameters whose values are secrets, by name (any name containing these).
_SECRET_PARAMETER = re.compile(
    r"code|state|token|secret|password|passwd|key|signature|session|auth", re.I
)


def redacted_path(path: str, query: str = "") -> str:
    """``path`` and ``query`` (without its "?") with every secret replaced."""
    path = _SECRET_SEGMENT.sub(rf"\g<1>{REDACTED}", path)
    if not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return f"{path}?{REDACTED}" if query else path
    cleaned = [
        (name, REDACTED if _SECRET_PARAMETER.search(name) else value) for name, value in pairs
    ]
    return f"{path}?{urlencode(cleaned, safe='[]')}"


def redacted_url(url: str) -> str:
    """A full path with its query (``/a/b?c=d``), redacted."""
    path, _, query = url.partition("?")
    return redacted_path(path, query)
