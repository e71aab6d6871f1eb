"""Rotating the key bank details are encrypted with: ``trellis keys rotate-bank`` and
``trellis keys retire-bank``.

With the service's own key file (no ``TRELLIS_PARTNERS_BANK_KEYS``), ``rotate-bank``
adds a new key to the file and makes it current, then re-encrypts every stored account
under it, in one transaction; the old keys stay in the file, so details are readable
throughout: a running service that meets the new key id reads the file again. Once every
replica has restarted (or read the file again) and ``rotate-bank --no-new-key`` has moved
anything they wrote meanwhile, ``retire-bank`` removes the keys no stored row uses.

With keys from the settings, the operator adds the new key to ``TRELLIS_PARTNERS_BANK_KEYS``,
makes it ``TRELLIS_PARTNERS_BANK_KEY_ID`` and restarts; ``rotate-bank`` then re-encrypts under
it, and ``retire-bank`` names the keys still in use (the others can leave the settings).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from services.common.db import Database
from services.partners.bank import repository, service
from services.partners.bank.crypto import BankCipher
from services.partners.config import Settings


class KeyRotationError(Exception):
    """Something the operator can fix, in one sentence."""


def key_file(settings: Settings) -> Path:
    return settings.data_dir / "keys" / "bank-keys.json"


def cipher_for(settings: Settings) -> BankCipher:
    """The bank cipher of ``settings``: keys from settings, else the service's own key file."""
    if settings.bank_keys:
        current = settings.bank_key_id or sorted(settings.bank_keys)[-1]
        return BankCipher(settings.bank_keys, current)
    return BankCipher.from_file(key_file(settings))


def _write(path: Path, data: dict[str, object]) -> None:
    """Replace the key file atomically, readable by its owner only."""
    spare = path.with_suffix(".tmp")
    fd = os.open(spare, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(data))
    os.replace(spare, path)


def add_key(path: Path) -> str:
    """A new key in the key file, made current; the old ones stay. Its id."""
    BankCipher.from_file(path)
    data = json.loads(path.read_text())
    number = 1 + max(int(k[1:]) for k in data["keys"] if k[1:].isdigit())
    key_id = f"k{number}"
    data["keys"][key_id] = Fernet.generate_key().decode()
    data["current"] = key_id
    _write(path, data)
    return key_id


@dataclass
class Rotation:
    current: str
    moved: int
    kept: list[str]


async def rotate(settings: Settings, *, new_key: bool = True) -> Rotation:
    """Make a new key current (key file only) and re-encrypt every account under the
    current key, in one transaction."""
    if new_key and settings.bank_keys:
        raise KeyRotationError(
            "bank keys come from TRELLIS_PARTNERS_BANK_KEYS: add the new key there, make it "
            "TRELLIS_PARTNERS_BANK_KEY_ID, restart, then run `trellis keys rotate-bank "
            "--no-new-key` to re-encrypt under it"
        )
    if new_key:
        add_key(key_file(settings))
    cipher = cipher_for(settings)
    db = Database(settings.effective_database_url)
    try:
        async with db.sessionmaker() as session, session.begin():
            moved = await service.reencrypt(session=session, cipher=cipher)
    finally:
        await db.dispose()
    return Rotation(current=cipher.current, moved=moved, kept=cipher.key_ids)


async def retire(settings: Settings) -> tuple[list[str], list[str]]:
    """Remove from the key file every key no stored account uses (the current one stays).
    Answers (removed, still in use); with keys from settings, removes nothing."""
    cipher_for(settings)  # the key file, made if there is none yet
    db = Database(settings.effective_database_url)
    try:
        async with db.sessionmaker() as session:
            used = sorted(await repository.key_ids_in_use(session))
    finally:
        await db.dispose()
    if settings.bank_keys:
        return [], used
    path = key_file(settings)
    data = json.loads(path.read_text())
    removed = sorted(k for k in data["keys"] if k != data["current"] and k not in used)
    for key_id in removed:
        del data["keys"][key_id]
    _write(path, data)
    return removed, used
