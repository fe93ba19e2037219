import hashlib
import hmac

import pytest

from github_app.signatures import sign, verify_signature

BODY = b'{"action":"opened","number":1}'


def _header(secret: str, body: bytes = BODY) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_it_accepts_the_right_secret():
    assert verify_signature(body=BODY, signature_header=_header("s1"), secrets=["s1"])


def test_it_accepts_the_rotated_secret():
    assert verify_signature(body=BODY, signature_header=_header("new"), secrets=["old", "new"])
    assert verify_signature(body=BODY, signature_header=_header("old"), secrets=["old", "new"])


def test_it_accepts_upper_case_hex():
    header = "sha256=" + _header("s1").removeprefix("sha256=").upper()
    assert verify_signature(body=BODY, signature_header=header, secrets=["s1"])


def test_it_signs_like_github():
    assert sign(body=BODY, secret="s1") == _header("s1")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=" + hmac.new(b"s1", BODY, hashlib.sha1).hexdigest(),
        _header("s1").removeprefix("sha256="),
        _header("s1")[:-2],
        _header("s1") + "00",
        "sha256=" + "z" * 64,
        "sha256=" + "é" * 64,
        _header("wrong"),
        _header("s1", BODY + b" "),
    ],
    ids=[
        "missing",
        "empty",
        "sha1",
        "no-prefix",
        "short",
        "long",
        "non-hex",
        "non-ascii",
        "wrong-secret",
        "other-body",
    ],
)
def test_it_rejects_malformed_or_wrong_signatures(header):
    assert verify_signature(body=BODY, signature_header=header, secrets=["s1"]) is False


def test_it_rejects_everything_without_a_configured_secret():
    assert verify_signature(body=BODY, signature_header=_header(""), secrets=[]) is False
    assert verify_signature(body=BODY, signature_header=_header(""), secrets=[""]) is False
