from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from github_app.auth import create_app_jwt, load_private_key
from github_app.errors import PrivateKeyError
from tests.github_app.keys import ec_private_key_pem, key_body, private_key_pem, public_key_pem

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_it_signs_a_jwt_that_verifies_with_the_public_key():
    token = create_app_jwt(issuer="12345", private_key=private_key_pem(), now=NOW)
    claims = jwt.decode(
        token,
        public_key_pem(private_key_pem()),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert claims["iss"] == "12345"
    assert claims["iat"] == int(NOW.timestamp()) - 60
    assert claims["exp"] - int(NOW.timestamp()) <= 600
    assert claims["exp"] - claims["iat"] <= 600
    assert claims["exp"] > int(NOW.timestamp())


def test_it_accepts_a_client_id_as_issuer():
    token = create_app_jwt(issuer="Iv1.abc123", private_key=private_key_pem(), now=NOW)
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "Iv1.abc123"


def test_it_rejects_a_jwt_checked_against_another_key():
    token = create_app_jwt(issuer="1", private_key=private_key_pem())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    other_pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other_pem, algorithms=["RS256"])


def test_it_loads_the_key_from_text():
    assert load_private_key(pem=private_key_pem()).startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_it_loads_a_key_written_on_one_line_with_escaped_newlines():
    one_line = private_key_pem().strip().replace("\n", "\\n")
    assert load_private_key(pem=one_line) == private_key_pem()


def test_it_loads_the_key_from_a_file(tmp_path):
    path = tmp_path / "app.pem"
    path.write_text(private_key_pem())
    assert load_private_key(path=str(path)) == private_key_pem()


def test_it_prefers_the_key_text_over_the_path(tmp_path):
    assert load_private_key(pem=private_key_pem(), path=str(tmp_path / "missing.pem"))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({}, "not set"),
        ({"pem": "   "}, "not set"),
        ({"pem": "not a key"}, "GITHUB_APP_PRIVATE_KEY is not a PEM private key"),
        ({"path": "/nonexistent/app.pem"}, "GITHUB_APP_PRIVATE_KEY_PATH points at a file"),
    ],
)
def test_it_explains_a_missing_or_broken_key(kwargs, reason):
    with pytest.raises(PrivateKeyError, match=reason):
        load_private_key(**kwargs)


def test_it_does_not_print_a_damaged_key():
    damaged = private_key_pem().replace(key_body(private_key_pem()), "A" * 64)
    with pytest.raises(PrivateKeyError) as caught:
        load_private_key(pem=damaged)
    assert "AAAA" not in str(caught.value)
    assert "BEGIN" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_it_refuses_a_key_that_is_not_rsa():
    with pytest.raises(PrivateKeyError, match="not an RSA key"):
        load_private_key(pem=ec_private_key_pem())
