"""Secrets kept at rest, encrypted with Fernet: one cipher for every app (the
GitHub App's secrets, a Slack bot token, an outbound webhook's secret).

The key comes from FIELD_ENCRYPTION_KEY (a comma-separated list while rotating:
the first encrypts, all decrypt), else it is derived from DJANGO_SECRET_KEY.
The key derived from DJANGO_SECRET_KEY always decrypts too, so setting
FIELD_ENCRYPTION_KEY later does not lose what was stored before."""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class StoredSecretUnreadable(Exception):
    """A stored secret does not decrypt with any configured key."""


def _fernet_key(material: str) -> bytes:
    """A Fernet key from any secret text: a Fernet key is used as is, anything
    else is hashed into one."""
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except ValueError:
        pass
    digest = hashlib.sha256(b"tformance field encryption\x00" + material.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@functools.cache
def _fernet(field_keys: str, secret_key: str) -> MultiFernet:
    materials = [key.strip() for key in field_keys.split(",") if key.strip()]
    materials.append(secret_key)
    return MultiFernet([Fernet(_fernet_key(material)) for material in materials])


def cipher() -> MultiFernet:
    """The cipher of secrets at rest, for stores outside the database too (the
    Redis token cache)."""
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt_secret(value: str) -> str:
    return cipher().encrypt(value.encode()).decode()


def decrypt_secret(token: str, *, what: str = "a stored secret") -> str:
    """The secret; StoredSecretUnreadable (naming ``what``) when no key decrypts it."""
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise StoredSecretUnreadable(
            f"{what} cannot be decrypted: FIELD_ENCRYPTION_KEY or DJANGO_SECRET_KEY changed "
            "since it was stored (add the old key to FIELD_ENCRYPTION_KEY)"
        ) from None
