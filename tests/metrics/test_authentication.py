"""The one reader of bearer tokens: what it accepts and refuses."""

from __future__ import annotations

import pytest

from apps.metrics.authentication import AuthenticationFailed, bearer_token, token_hash


@pytest.mark.parametrize("header", ["Bearer tfm_abc", "bearer tfm_abc", "BEARER   tfm_abc  "])
def test_it_reads_the_token_of_a_bearer_header(header):
    assert bearer_token(header) == "tfm_abc"


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Token tfm_abc",
        "Bearer tfm_\x00abc",
        "Bearer tfm_é",
        "Bearer tfm_١٢",
        "Bearer " + "a" * 201,
    ],
)
def test_it_refuses_anything_else_with_the_reason(header):
    with pytest.raises(AuthenticationFailed, match="Bearer <token>"):
        bearer_token(header)


def test_a_token_is_stored_as_its_sha256():
    assert token_hash("tfm_abc") == (
        "fb63b533ece4d27751ca21aeddc355ac08ccced30a21cb9a7c98fe95818e20b1"
    )
