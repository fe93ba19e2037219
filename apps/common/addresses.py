"""The address a request came from, as the trusted proxies in front report it."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The client's address. With no trusted proxy (TRUSTED_PROXY_COUNT 0), the
    connection's own (REMOTE_ADDR). Behind n proxies, each appending the address
    it was connected from to X-Forwarded-For, the n-th entry from the right: the
    one the outermost trusted proxy wrote. Entries left of it are whatever the
    client sent, and are never read."""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    forwarded = [
        entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()
    ]
    if not forwarded:
        return remote
    # Fewer entries than proxies: a proxy was bypassed or does not append; the
    # leftmost is still one a trusted proxy wrote.
    entry = forwarded[-trusted] if len(forwarded) >= trusted else forwarded[0]
    return _address(entry) or remote
