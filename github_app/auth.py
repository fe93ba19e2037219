"""The app's private key and the JWT GitHub wants from the app itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from github_app.errors import PrivateKeyError

# GitHub refuses a JWT whose iat is in the future or whose exp is more than ten
# minutes ahead; backdating iat absorbs clock drift between us and GitHub.
JWT_BACKDATE = timedelta(seconds=60)
JWT_LIFETIME = timedelta(minutes=9)


def load_private_key(*, pem: str = "", path: str = "") -> str:
    """The app's private key as PEM text, from the text itself or from a file.

    Raises PrivateKeyError when the key is missing or does not parse; the
    message names the setting, never the key."""
    source = "GITHUB_APP_PRIVATE_KEY"
    if not pem.strip() and path:
        source = "GITHUB_APP_PRIVATE_KEY_PATH"
        try:
            pem = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise PrivateKeyError(
                f"{source} points at a file that cannot be read ({type(exc).__name__})"
            ) from None
    if not pem.strip():
        raise PrivateKeyError(
            "the GitHub App private key is not set: set GITHUB_APP_PRIVATE_KEY "
            "or GITHUB_APP_PRIVATE_KEY_PATH"
        )
    # Environment files often carry the PEM on one line with literal "\n".
    if "\\n" in pem and "\n" not in pem.strip():
        pem = pem.replace("\\n", "\n")
    pem = pem.strip() + "\n"
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        # `from None`: the parser's own message can quote part of the input.
        raise PrivateKeyError(
            f"{source} is not a PEM private key (expected the .pem file GitHub "
            "gave when the app's private key was generated)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PrivateKeyError(f"{source} is not an RSA key; GitHub App keys are RSA")
    return pem


def create_app_jwt(*, issuer: str, private_key: str, now: datetime | None = None) -> str:
    """The RS256 JWT that authenticates as the app; ``issuer`` is the app's
    client id or app id."""
    issued_at = (now or datetime.now(UTC)) - JWT_BACKDATE
    claims = {
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + JWT_BACKDATE + JWT_LIFETIME).timestamp()),
        "iss": issuer,
    }
    return jwt.encode(claims, private_key, algorithm="RS256")
