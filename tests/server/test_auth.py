"""Tokens: the server signs identities; forged, altered or expired tokens are refused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from voicewire.server.auth import Identity, InvalidToken, TokenSigner, load_secret

SIGNER = TokenSigner(b"k" * 32)


def test_a_signed_token_verifies_to_its_identity() -> None:
    token = SIGNER.sign(Identity("user", "alice"))
    assert SIGNER.verify(token) == Identity("user", "alice")


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = TokenSigner(b"x" * 32).sign(Identity("user", "alice"))
    with pytest.raises(InvalidToken):
        SIGNER.verify(token)


def test_a_token_whose_claims_were_changed_is_refused() -> None:
    token = SIGNER.sign(Identity("user", "alice"))
    other = SIGNER.sign(Identity("user", "bob"))
    forged = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(InvalidToken):
        SIGNER.verify(forged)


def test_an_expired_token_is_refused() -> None:
    token = SIGNER.sign(Identity("guest", "g1"), ttl_s=-1)
    with pytest.raises(InvalidToken, match="expired"):
        SIGNER.verify(token)


@pytest.mark.parametrize("junk", ["", ".", "abc", "a.b", "!!!.???", "e30.e30"])
def test_junk_tokens_are_refused_without_other_exceptions(junk: str) -> None:
    with pytest.raises(InvalidToken):
        SIGNER.verify(junk)


def test_new_guests_get_distinct_identities() -> None:
    (a, token_a), (b, _) = SIGNER.new_guest(), SIGNER.new_guest()
    assert a != b and a.kind == "guest"
    assert SIGNER.verify(token_a) == a


def test_the_generated_secret_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = load_secret(None, tmp_path / "data")
    assert load_secret(None, tmp_path / "data") == first
    mode = (tmp_path / "data" / "secret.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert load_secret("configured-secret-value", tmp_path) == b"configured-secret-value"
