"""Passwords (Argon2id, argon2-cffi) and tokens (HS256 JWTs, PyJWT)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
"""Argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile)."""
ALGORITHM = "HS256"


async def hash_password(password: str) -> str:
    """Hashed in a worker thread: Argon2 is slow on purpose, the event loop must not be."""
    return await asyncio.to_thread(_hasher.hash, password)


@cache
def _decoy() -> str:
    return _hasher.hash(secrets.token_urlsafe())


async def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one hashed; with no hash (no such user) a decoy is
    checked, so that the answer takes as long either way."""

    def verify() -> bool:
        try:
            _hasher.verify(password_hash or _decoy(), password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None  # the decoy never matches

    return await asyncio.to_thread(verify)


def issue_token(user_id: int, secret: str, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def token_subject(token: str, secret: str) -> int | None:
    """The user id a valid, unexpired token of ours names; ``None`` for anything else."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
        subject = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None
    return subject if 0 < subject < 2**63 else None
