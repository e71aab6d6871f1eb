"""RFC 9474 blind RSA signatures (``trellis_ballot.rsabssa``) against the RFC's test vector,
and the properties the ballots rely on."""

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from trellis_ballot import rsabssa

VECTOR = json.loads((Path(__file__).parent / "vectors" / "rfc9474_a3.json").read_text())


def _int(name: str) -> int:
    return int(VECTOR[name], 16)


def _keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    p, q, n, e, d = (_int(x) for x in ("p", "q", "n", "e", "d"))
    private = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, n),
    ).private_key()
    return private, private.public_key()


def _salt_of(encoded: bytes) -> bytes:
    """The salt inside an EMSA-PSS encoding (RFC 8017 9.1.2, steps 6 to 10)."""
    masked, h = encoded[: -rsabssa.HASH_LEN - 1], encoded[-rsabssa.HASH_LEN - 1 : -1]
    mask = rsabssa._mgf1_sha384(h, len(masked))
    db = bytes(a ^ b for a, b in zip(masked, mask, strict=True))
    return db[-rsabssa.SALT_LEN :]


def test_the_rfc_9474_vector_blinds_signs_and_finalizes_bit_for_bit() -> None:
    private, public = _keys()
    n, e = _int("n"), _int("e")
    msg = bytes.fromhex(VECTOR["msg"])
    inv = _int("inv")
    # The encoded message is blinded_msg * inv^e mod n; its salt lets us replay blind().
    encoded_int = (int.from_bytes(bytes.fromhex(VECTOR["blinded_msg"]), "big") * pow(inv, e, n)) % n
    encoded = encoded_int.to_bytes((n.bit_length() - 1 + 7) // 8, "big")
    salt = _salt_of(encoded)
    assert rsabssa.emsa_pss_encode(msg, n.bit_length() - 1, salt) == encoded
    blinded = rsabssa.blind(public, msg, salt=salt, r=pow(inv, -1, n))
    assert blinded.blinded_msg.hex() == VECTOR["blinded_msg"]
    assert blinded.inv == inv
    blind_sig = rsabssa.blind_sign(private, blinded.blinded_msg)
    assert blind_sig.hex() == VECTOR["blind_sig"]
    assert rsabssa.finalize(public, msg, blind_sig, inv).hex() == VECTOR["sig"]
    assert rsabssa.verify(public, msg, bytes.fromhex(VECTOR["sig"]))


def test_randomized_round_trip_and_refusals() -> None:
    private = rsabssa.generate_key()
    public = private.public_key()
    prepared = rsabssa.prepare(b"ballot")
    assert len(prepared) == rsabssa.PREFIX_LEN + len(b"ballot")
    first = rsabssa.blind(public, prepared)
    second = rsabssa.blind(public, prepared)
    # The same message blinds to unrelated values: the signer sees noise.
    assert first.blinded_msg != second.blinded_msg
    sig = rsabssa.finalize(
        public, prepared, rsabssa.blind_sign(private, first.blinded_msg), first.inv
    )
    assert rsabssa.verify(public, prepared, sig)
    assert not rsabssa.verify(public, prepared + b"x", sig)
    assert not rsabssa.verify(rsabssa.generate_key().public_key(), prepared, sig)
    assert not rsabssa.verify(public, prepared, sig[:-1])
    with pytest.raises(rsabssa.BlindSignatureError):
        rsabssa.blind_sign(private, b"\x00" * 10)
    with pytest.raises(rsabssa.BlindSignatureError):
        rsabssa.blind_sign(private, b"\xff" * 256)
    # A signature over another blinded message does not finalize to this one.
    other = rsabssa.blind_sign(private, second.blinded_msg)
    with pytest.raises(rsabssa.BlindSignatureError):
        rsabssa.finalize(public, prepared + b"!", other, second.inv)
    pem = rsabssa.public_pem(public)
    assert rsabssa.key_id(rsabssa.load_public(pem)) == rsabssa.key_id(public)
    assert len(hashlib.sha256(prepared).hexdigest()) == 64
