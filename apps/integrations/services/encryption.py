"""The GitHub App's secrets at rest: the one cipher of `apps/common/encryption.py`."""

from __future__ import annotations

from apps.common import encryption
from apps.common.encryption import StoredSecretUnreadable, cipher, encrypt_secret

__all__ = ["StoredSecretUnreadable", "cipher", "decrypt_secret", "encrypt_secret"]


def decrypt_secret(token: str) -> str:
    try:
        return encryption.decrypt_secret(token)
    except StoredSecretUnreadable:
        raise StoredSecretUnreadable(
            "a stored GitHub App secret cannot be decrypted: FIELD_ENCRYPTION_KEY or "
            "DJANGO_SECRET_KEY changed since it was stored (add the old key to "
            "FIELD_ENCRYPTION_KEY, or create the app again)"
        ) from None
