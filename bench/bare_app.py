"""The floor to compare the webhook against: a bare WSGI app that reads the
body, checks its HMAC with the same function as the real view, and answers
202. No Django, no database, no queue.

    GITHUB_WEBHOOK_SECRET=... gunicorn bench.bare_app:app --workers 2 --bind 127.0.0.1:8001
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from github_app.signatures import verify_signature

SECRETS = [s.strip() for s in os.environ.get("GITHUB_WEBHOOK_SECRET", "").split(",") if s.strip()]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if verify_signature(
        body=body, signature_header=environ.get("HTTP_X_HUB_SIGNATURE_256"), secrets=SECRETS
    ):
        status, text = "202 Accepted", b"accepted\n"
    else:
        status, text = "401 Unauthorized", b"bad or missing signature\n"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]
