"""Bank details encrypted at rest, with rotatable keys.

Each ciphertext is a Fernet token (AES-128-CBC with HMAC-SHA256) stored beside the id of
the key that made it. New details use the current key; every listed key still decrypts, so
rotating is: add a new key, make it current, re-encrypt (``trellis keys rotate-bank``,
see ``services/partners/bank/keys.py``), then drop the old one once no row uses it
(``trellis keys retire-bank``). Keys come from settings (``TRELLIS_PARTNERS_BANK_KEYS``, a
JSON object of id -> Fernet key, and ``TRELLIS_PARTNERS_BANK_KEY_ID``); without them the
service keeps a key file of its own in the data directory (mode 0600), like its token
signing keys. A cipher read from the key file reads it again when it meets a key id it
does not know, so a running service reads details another process re-encrypted under a
key added after it started.
"""

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from services.common.errors import ServiceUnavailable


class BankCipher:
    """Encrypts under the current key; decrypts under any key it holds."""

    def __init__(self, keys: dict[str, str], current: str, path: Path | None = None) -> None:
        if current not in keys:
            raise ValueError(f"the current bank key id {current!r} is not among the keys")
        self._fernets = {key_id: Fernet(key.encode()) for key_id, key in keys.items()}
        self.current = current
        self.path = path

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._fernets)

    @classmethod
    def from_file(cls, path: Path) -> "BankCipher":
        """The service's own key file, made on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            content = json.dumps({"current": "k1", "keys": {"k1": Fernet.generate_key().decode()}})
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(content)
        data = json.loads(path.read_text())
        return cls(data["keys"], data["current"], path)

    def _reload(self) -> None:
        if self.path is not None and self.path.exists():
            fresh = BankCipher.from_file(self.path)
            self._fernets, self.current = fresh._fernets, fresh.current

    def encrypt(self, plaintext: str) -> tuple[str, str]:
        """(key id, ciphertext) of ``plaintext`` under the current key."""
        return self.current, self._fernets[self.current].encrypt(plaintext.encode()).decode()

    def decrypt(self, key_id: str, ciphertext: str) -> str:
        if key_id not in self._fernets:
            # Rare (once per rotation): a small local file, read again.
            self._reload()
        fernet = self._fernets.get(key_id)
        if fernet is None:
            raise ServiceUnavailable(
                "Bank details are encrypted with a key this service no longer has; an operator "
                "must restore it (TRELLIS_PARTNERS_BANK_KEYS)."
            )
        try:
            return fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ServiceUnavailable("Stored bank details could not be decrypted.") from None
