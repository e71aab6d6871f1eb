"""Passwords, hashed with argon2id (``argon2-cffi``), off the event loop.

Hashing is deliberately slow, so it runs in a worker thread; an unknown email
still costs one verification, so timing does not tell who has an account.
"""

import asyncio
import base64
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import ARGON2_VERSION

from services.common.errors import Unprocessable

MIN_LENGTH = 10
MAX_LENGTH = 200


def _random_b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode().rstrip("=")


def unmatched_hash(hasher: PasswordHasher) -> str:
    """An argon2 hash with ``hasher``'s parameters (and type) that no password matches.

    Checking a password against it costs what checking one against a real hash does,
    which is all it is for. Made of random bytes: hashing a password for it cost every
    start of the service 0.2 s of CPU and 64 MiB.
    """
    parameters = f"m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
    salt, digest = _random_b64(hasher.salt_len), _random_b64(hasher.hash_len)
    kind = hasher.type.name.lower()
    return f"$argon2{kind}$v={ARGON2_VERSION}${parameters}${salt}${digest}"


_hasher = PasswordHasher()
_DUMMY_HASH = unmatched_hash(_hasher)


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
