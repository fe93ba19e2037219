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
    r"code|state|token|secret|password|passwd|key|signature|session", re.I
)


def redacted_path(path: str, query: str = "") -> str:
    """``path`` and ``query`` (without its "?") with every secret replaced."""
    path = _SECRET_SEGMENT.sub(rf"\g<1>{REDACTED}", path)
    if not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return f"{path}?{REDACTED}" if query else path
    # A value may be a path itself (the login page's ?next=/teams/x/join/<token>/).
    cleaned = [
        (
            name,
            REDACTED
            if _SECRET_PARAMETER.search(name)
            else _SECRET_SEGMENT.sub(rf"\g<1>{REDACTED}", value),
        )
        for name, value in pairs
    ]
    return f"{path}?{urlencode(cleaned, safe='[]')}"


def redacted_url(url: str) -> str:
    """A full path with its query (``/a/b?c=d``), redacted."""
    path, _, query = url.partition("?")
    return redacted_path(path, query)


# The same rules over free text (a whole log line): join tokens in paths, and
# secret query parameters wherever a URL's query appears.
_SECRET_SEGMENT_IN_TEXT = re.compile(r"(/teams/[^/\s\"'?#]+/join/)[^/\s\"'?#]+")
_SECRET_PARAMETER_IN_TEXT = re.compile(
    r"([?&][^=&\s\"'#]*(?:" + _SECRET_PARAMETER.pattern + r")[^=&\s\"'#]*=)[^&\s\"'#]*",
    re.I,
)


# The same path, percent-encoded in another URL's query (?next=%2Fteams%2F…).
_SECRET_SEGMENT_ENCODED = re.compile(r"(%2Fteams%2F[^%\s\"'&#]+%2Fjoin%2F)[^%\s\"'&#]+", re.I)


def redacted_text(text: str) -> str:
    """``text`` with every URL secret in it replaced (see ``redacted_path``)."""
    text = _SECRET_SEGMENT_IN_TEXT.sub(rf"\g<1>{REDACTED}", text)
    text = _SECRET_SEGMENT_ENCODED.sub(rf"\g<1>{REDACTED}", text)
    return _SECRET_PARAMETER_IN_TEXT.sub(rf"\g<1>{REDACTED}", text)
