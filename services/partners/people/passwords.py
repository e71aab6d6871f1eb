"""Passwords, hashed with argon2id (``argon2-cffi``), off the event loop.

Hashing is deliberately slow, so it runs in a worker thread; an unknown email
still costs one verification, so timing does not tell who has an account.
"""

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.common.errors import Unprocessable

MIN_LENGTH = 10
MAX_LENGTH = 200

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


def check_strength(password: str, *, field: str = "password") -> None:
    """Refuse passwords that are too short or absurdly long, saying what to do."""
    if len(password) < MIN_LENGTH:
        message = f"Choose a password of at least {MIN_LENGTH} characters."
        raise Unprocessable(message, errors={field: [message]})
    if len(password) > MAX_LENGTH:
        message = f"Choose a password of at most {MAX_LENGTH} characters."
        raise Unprocessable(message, errors={field: [message]})


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no account, no password) is always False."""
    return await asyncio.to_thread(_verify, password_hash, password)
