"""Webhook signature verification (``X-Hub-Signature-256``).

GitHub signs the raw request body with HMAC-SHA256 and sends ``sha256=<hex>``.
Only that header counts: the SHA-1 ``X-Hub-Signature`` is not accepted."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

PREFIX = "sha256="
_HEX_LENGTH = hashlib.sha256().digest_size * 2
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def sign(*, body: bytes, secret: str) -> str:
    """The header value GitHub would send for this body and secret."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(*, body: bytes, signature_header: str | None, secrets: Iterable[str]) -> bool:
    """True when the header is a well-formed ``sha256=`` signature of ``body`` by
    any of ``secrets`` (several while a secret is being rotated).

    Malformed input is a plain False, never an exception."""
    if not signature_header or not signature_header.startswith(PREFIX):
        return False
    received = signature_header[len(PREFIX) :]
    if len(received) != _HEX_LENGTH or not _HEX_DIGITS.issuperset(received):
        return False
    received_bytes = received.lower().encode()
    matched = False
    # Every secret is checked, so the time taken does not tell which one matched.
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, received_bytes)
    return matched
