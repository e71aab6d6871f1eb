"""RSA blind signatures, RFC 9474, variant RSABSSA-SHA384-PSS-Randomized.

No maintained Python package implements RFC 9474, so this module builds it on the
``cryptography`` library's RSA keys: key generation, serialisation and the final
RSASSA-PSS verification are ``cryptography``'s; the blinding arithmetic and the
EMSA-PSS encoding (which ``cryptography`` does not expose on its own) are here, step
for step as the RFC writes them, and tested against the RFC's test vector.

Roles (RFC 9474 section 4):

- the client ``prepare``s a message (32 random bytes in front of it: the
  "Randomized" variant), ``blind``s it for the signer's public key and keeps the
  returned ``inv``;
- the signer ``blind_sign``s the blinded message: it learns nothing of the message;
- the client ``finalize``s: unblinds the signature and checks it;
- anyone ``verify``s (prepared message, signature) with the public key. The signer
  cannot tell which blind signing produced it.
"""

import hashlib
import math
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "RSABSSA-SHA384-PSS-Randomized"
HASH_LEN = 48  # SHA-384
SALT_LEN = 48  # RFC 9474 section 5: sLen = hLen for the PSS variants
PREFIX_LEN = 32  # RFC 9474 section 4.1: the "Randomized" message prefix
KEY_BITS = 2048


class BlindSignatureError(ValueError):
    """A message, blinded message or signature that the protocol must refuse."""


@dataclass(frozen=True)
class BlindingResult:
    blinded_msg: bytes
    inv: int


def _modulus_len(n: int) -> int:
    return (n.bit_length() + 7) // 8


def _i2osp(x: int, length: int) -> bytes:
    if x >= 256**length:
        raise BlindSignatureError("integer too large")
    return x.to_bytes(length, "big")


def _os2ip(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _mgf1_sha384(seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def emsa_pss_encode(msg: bytes, em_bits: int, salt: bytes) -> bytes:
    """EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) with SHA-384, MGF1-SHA-384 and ``salt``."""
    m_hash = hashlib.sha384(msg).digest()
    em_len = (em_bits + 7) // 8
    if em_len < HASH_LEN + len(salt) + 2:
        raise BlindSignatureError("encoding error: the key is too small")
    h = hashlib.sha384(b"\x00" * 8 + m_hash + salt).digest()
    ps = b"\x00" * (em_len - len(salt) - HASH_LEN - 2)
    db = ps + b"\x01" + salt
    mask = _mgf1_sha384(h, em_len - HASH_LEN - 1)
    masked = bytearray(a ^ b for a, b in zip(db, mask, strict=True))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


def prepare(msg: bytes) -> bytes:
    """RFC 9474 section 4.1, randomized: 32 random bytes, then the message."""
    return secrets.token_bytes(PREFIX_LEN) + msg


def blind(
    public_key: rsa.RSAPublicKey,
    prepared_msg: bytes,
    *,
    salt: bytes | None = None,
    r: int | None = None,
) -> BlindingResult:
    """RFC 9474 section 4.2 (``salt`` and ``r`` are for test vectors only)."""
    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    k_len = _modulus_len(n)
    encoded = emsa_pss_encode(
        prepared_msg,
        n.bit_length() - 1,
        salt if salt is not None else secrets.token_bytes(SALT_LEN),
    )
    m = _os2ip(encoded)
    if math.gcd(m, n) != 1:
        raise BlindSignatureError("invalid input: the message is not coprime with n")
    while r is None:
        candidate = secrets.randbelow(n - 1) + 1
        if math.gcd(candidate, n) == 1:
            r = candidate
    try:
        inv = pow(r, -1, n)
    except ValueError as exc:
        raise BlindSignatureError("invalid blind: r is not invertible") from exc
    z = (m * pow(r, e, n)) % n
    return BlindingResult(blinded_msg=_i2osp(z, k_len), inv=inv)


def blind_sign(private_key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 section 4.3: RSASP1 on the blinded message, checked with RSAVP1.

    The exponentiation runs on a base blinded afresh each time (m * u^e), so its
    timing owes nothing to the caller's chosen input."""
    priv = private_key.private_numbers()
    pub = priv.public_numbers
    n, e = pub.n, pub.e
    k_len = _modulus_len(n)
    if len(blinded_msg) != k_len:
        raise BlindSignatureError(f"the blinded message must be {k_len} bytes")
    m = _os2ip(blinded_msg)
    if m >= n:
        raise BlindSignatureError("message representative out of range")
    u = 0
    while math.gcd(u, n) != 1:
        u = secrets.randbelow(n - 2) + 2
    base = (m * pow(u, e, n)) % n
    # CRT exponentiation (RFC 8017 section 5.1.2, 2.b).
    s1 = pow(base, priv.dmp1, priv.p)
    s2 = pow(base, priv.dmq1, priv.q)
    h = (priv.iqmp * (s1 - s2)) % priv.p
    s = ((s2 + priv.q * h) * pow(u, -1, n)) % n
    if pow(s, e, n) != m:
        raise BlindSignatureError("signing failure")
    return _i2osp(s, k_len)


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_LEN)


def verify(public_key: rsa.RSAPublicKey, prepared_msg: bytes, signature: bytes) -> bool:
    """RSASSA-PSS-VERIFY with SHA-384, MGF1-SHA-384 and a 48-byte salt (``cryptography``)."""
    if len(signature) != _modulus_len(public_key.public_numbers().n):
        return False
    try:
        public_key.verify(signature, prepared_msg, _pss(), hashes.SHA384())
    except InvalidSignature:
        return False
    return True


def finalize(
    public_key: rsa.RSAPublicKey, prepared_msg: bytes, blind_sig: bytes, inv: int
) -> bytes:
    """RFC 9474 section 4.4: unblind, then verify; refuse a signature that does not verify."""
    n = public_key.public_numbers().n
    k_len = _modulus_len(n)
    if len(blind_sig) != k_len:
        raise BlindSignatureError("unexpected input size")
    s = (_os2ip(blind_sig) * inv) % n
    sig = _i2osp(s, k_len)
    if not verify(public_key, prepared_msg, sig):
        raise BlindSignatureError("the signature does not verify with this key")
    return sig


def generate_key(bits: int = KEY_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise BlindSignatureError("not an RSA public key")
    return key


def load_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BlindSignatureError("not an RSA private key")
    return key


def key_id(key: rsa.RSAPublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, hex: what clients compare."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()
