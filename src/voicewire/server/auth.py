"""Identity: the server decides who the user is, from a token it signed.

A token is `base64url(json claims) + "." + base64url(HMAC-SHA256(secret, claims))`, claims
`{"sub": subject, "kind": "guest" | "user", "exp": unix seconds}`. Guests get one issued by the
server on their first connection; registered users get one from the deployment (signed with the
same secret, e.g. `voicewire token alice`). Nothing a client writes in a message can change it.
Resume tokens are signed the same way, with `"kind": "resume"` and the session they resume;
they are never identity tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from voicewire.errors import VoicewireError
from voicewire.protocol.errors import CloseCode

Kind = Literal["guest", "user"]
GUEST_TTL_S = 365 * 24 * 3600


class InvalidToken(VoicewireError, ValueError, close_code=CloseCode.POLICY):
    """The token is malformed, forged or expired."""


@dataclass(frozen=True, slots=True)
class Identity:
    kind: Kind
    subject: str


@dataclass(frozen=True, slots=True)
class ResumeGrant:
    """What a resume token lets its holder resume: one session, of one identity."""

    session_id: str
    subject: str
    conversation_id: str  # "" when nothing is stored


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the token secret must be at least 16 bytes")
        self._secret = secret

    def sign(self, identity: Identity, ttl_s: int = GUEST_TTL_S) -> str:
        return self._encode({"sub": identity.subject, "kind": identity.kind}, ttl_s)

    def verify(self, token: str) -> Identity:
        claims = self._decode(token)
        sub, kind = claims.get("sub"), claims.get("kind")
        if not isinstance(sub, str) or kind not in ("guest", "user"):
            raise InvalidToken("malformed claims")
        return Identity(kind, sub)

    def sign_resume(self, grant: ResumeGrant, ttl_s: int) -> str:
        """A resume token: resumes `grant.session_id`, for its identity only (PROTOCOL.md §8)."""
        claims = {
            "sub": grant.subject,
            "kind": "resume",
            "sid": grant.session_id,
            "conv": grant.conversation_id,
        }
        return self._encode(claims, ttl_s)

    def verify_resume(self, token: str) -> ResumeGrant:
        claims = self._decode(token)
        sub, sid, conv = claims.get("sub"), claims.get("sid"), claims.get("conv")
        if claims.get("kind") != "resume" or not all(isinstance(v, str) for v in (sub, sid, conv)):
            raise InvalidToken("not a resume token")
        return ResumeGrant(str(sid), str(sub), str(conv))

    def _encode(self, claims: dict[str, str], ttl_s: int) -> str:
        body = json.dumps({**claims, "exp": int(time.time()) + ttl_s}, separators=(",", ":"))
        encoded = _b64(body.encode())
        return encoded + "." + _b64(self._mac(encoded))

    def _decode(self, token: str) -> dict[str, object]:
        body, _, sig = token.partition(".")
        try:
            good = hmac.compare_digest(_unb64(sig), self._mac(body))
            claims = json.loads(_unb64(body)) if good else None
        except ValueError:
            raise InvalidToken("malformed token") from None
        if not isinstance(claims, dict):
            raise InvalidToken("bad signature")
        exp = claims.get("exp")
        if not isinstance(exp, int):
            raise InvalidToken("malformed claims")
        if exp < time.time():
            raise InvalidToken("expired token")
        return claims

    def new_guest(self) -> tuple[Identity, str]:
        identity = Identity("guest", "guest-" + secrets.token_hex(12))
        return identity, self.sign(identity)

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, else one generated once and kept in the data dir (mode 0600).

    Worker processes started together may all find no key: each writes a whole key to a
    temporary file and links it into place, which only the first can do. `secret.key` thus
    never exists half-written, and the others read the winner's key.
    """
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret.key.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)  # fails if it exists: unlike a rename, never replaces
        except FileExistsError:  # another worker process linked its key first
            return path.read_bytes()
    finally:
        os.unlink(temporary)
    return secret
