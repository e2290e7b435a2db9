"""Tokens: the server signs identities; forged, altered or expired tokens are refused."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def test_a_worker_never_reads_a_half_written_secret_from_a_rival(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers on a first start: the moment `secret.key` exists, it holds the whole key.

    The rival worker runs at the worst moment the writer leaves it: right after the call that
    makes `secret.key` appear (the exclusive create, or a link of a finished temporary file).
    """
    data_dir = tmp_path / "data"
    path = data_dir / "secret.key"
    rival: list[bytes] = []

    def after(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            existed = path.exists()
            result = real(*args, **kwargs)
            if not existed and path.exists() and not rival:
                rival.append(load_secret(None, data_dir))
            return result

        return call

    monkeypatch.setattr(os, "open", after(os.open))
    monkeypatch.setattr(os, "link", after(os.link))
    monkeypatch.setattr(os, "replace", after(os.replace))
    monkeypatch.setattr(os, "rename", after(os.rename))
    mine = load_secret(None, data_dir)
    assert rival == [mine]
    assert len(mine) == 32
    assert path.read_bytes() == mine


def test_a_worker_that_loses_the_race_to_create_the_secret_uses_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rival creates `secret.key` between this worker's check and its write."""
    data_dir = tmp_path / "data"
    real_token_bytes = secrets.token_bytes
    rival: list[bytes] = []

    def token_bytes(n: int) -> bytes:
        if not rival:  # this worker found no file; now the rival starts and finishes first
            rival.append(b"")
            rival[0] = load_secret(None, data_dir)
        return real_token_bytes(n)

    monkeypatch.setattr(secrets, "token_bytes", token_bytes)
    assert load_secret(None, data_dir) == rival[0]
    assert len(rival[0]) == 32
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]  # no temporary file left
