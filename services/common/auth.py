"""Identity: bearer JWT access tokens (RFC 9068), verified by every service.

``TokenVerifier`` checks signature, issuer, audience and expiry against a JWKS:
the embedded issuer's key file, or an external identity provider's JWKS URL in
production. ``KeyStore`` holds the embedded issuer's signing keys (the first key
signs; all are published, so keys can be rotated). ``Caller`` is who is asking.
"""

import base64
import hashlib
import json
import os
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import Depends, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from services.common.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from services.common.revocation import RevocationList

#: ``finance`` and ``trustee`` are held on top of ``funder_staff`` (a finance person's token
#: carries both): finance prepares and approves payment runs and sets budgets and limits;
#: trustee marks a person who may approve above the staff approval limit.
ROLES = (
    "platform_admin",
    "funder_staff",
    "partner",
    "service",
    "finance",
    "trustee",
    "staff_admin",
)
ALGORITHMS = ["RS256"]
TOKEN_TYPE = "at+jwt"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: taken from a verified token, or the public (no token).

    Safe by construction: ``funder_id`` is kept only when the caller holds the
    ``funder_staff`` role, and ``partner_id`` only with the ``partner`` role, so a
    check on either claim is also a check on the matching role (a ``partner``
    token that carries a ``funder_id`` claim never reads that funder). Prefer the
    named properties ``staff_funder_id`` and ``own_partner_id`` in new code.
    """

    sub: str | None = None
    roles: frozenset[str] = frozenset()
    funder_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    client_id: str | None = None
    name: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if "funder_staff" not in self.roles and self.funder_id is not None:
            object.__setattr__(self, "funder_id", None)
        if "partner" not in self.roles and self.partner_id is not None:
            object.__setattr__(self, "partner_id", None)

    @property
    def staff_funder_id(self) -> uuid.UUID | None:
        """The funder whose staff the caller is; None unless the role is ``funder_staff``."""
        return self.funder_id if "funder_staff" in self.roles else None

    @property
    def own_partner_id(self) -> uuid.UUID | None:
        """The organisation the caller speaks for; None unless the role is ``partner``."""
        return self.partner_id if "partner" in self.roles else None

    @property
    def sid(self) -> str | None:
        """The grant the token comes from (``client:<api client id>`` for a partner system)."""
        value = self.claims.get("sid")
        return str(value) if value else None

    @property
    def is_api_client(self) -> bool:
        """Whether the token came from the client-credentials grant (a system, not a person)."""
        return (self.sid or "").startswith("client:")

    @property
    def is_public(self) -> bool:
        return self.sub is None

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def decision_limit(self) -> tuple[int, str] | None:
        """The most a staff member may approve alone, as their funder's staff admins set it
        on their membership (the token's ``decision_limit`` claim), in minor units."""
        value = self.claims.get("decision_limit")
        if not isinstance(value, dict):
            return None
        amount, currency = value.get("amount"), value.get("currency")
        if isinstance(amount, int) and isinstance(currency, str):
            return amount, currency
        return None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return self.sub or "public"


PUBLIC = Caller()


def _uuid_claim(claims: dict[str, Any], name: str) -> uuid.UUID | None:
    value = claims.get(name)
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Unauthorized(f"The token's {name} claim is not a valid id.") from exc


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = roles.split()
    caller = Caller(
        sub=str(claims["sub"]),
        roles=frozenset(r for r in roles if r in ROLES),
        funder_id=_uuid_claim(claims, "funder_id"),
        partner_id=_uuid_claim(claims, "partner_id"),
        client_id=claims.get("client_id"),
        name=claims.get("name"),
        claims=claims,
    )
    if caller.has("funder_staff") and caller.has("partner"):
        raise Unauthorized(
            "A token acts for a funder or for an organisation, not both: get one token per role."
        )
    if caller.has("funder_staff") and caller.funder_id is None:
        raise Unauthorized("A funder_staff token must carry a funder_id claim.")
    if caller.has("partner") and caller.partner_id is None:
        raise Unauthorized("A partner token must carry a partner_id claim.")
    return caller


class KeyStore:
    """The embedded issuer's RSA signing keys, kept as a private JWKS file (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: KeySet | None = None

    def ensure(self) -> None:
        """Create the key file with one fresh key if there is none yet."""
        if self.path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write([self._new_key()])

    def rotate(self, *, keep: int = 2) -> str:
        """Put a new signing key first; keep the newest ``keep`` keys published."""
        self.ensure()
        keys = [self._new_key(), *self._read()][:keep]
        self._write(keys)
        return keys[0]["kid"]

    @staticmethod
    def _new_key() -> dict[str, Any]:
        key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8)}, private=True)
        return {**key.as_dict(private=True), "alg": "RS256", "use": "sig"}

    def _read(self) -> list[dict[str, Any]]:
        return json.loads(self.path.read_text())["keys"]

    def _write(self, keys: list[dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"keys": keys}, fh)
        tmp.replace(self.path)
        self._keys = None

    @property
    def keys(self) -> KeySet:
        if self._keys is None:
            self._keys = KeySet.import_key_set({"keys": self._read()})
        return self._keys

    def signing_key(self) -> RSAKey:
        key = self.keys.keys[0]
        assert isinstance(key, RSAKey)
        return key

    def public_jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**k.as_dict(private=False), "alg": "RS256", "use": "sig"} for k in self.keys.keys
            ]
        }


class TokenIssuer:
    """Mints RFC 9068 access tokens with the embedded key store."""

    def __init__(self, keys: KeyStore, *, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    def mint(
        self,
        *,
        sub: str,
        roles: list[str],
        client_id: str,
        funder_id: uuid.UUID | str | None = None,
        partner_id: uuid.UUID | str | None = None,
        name: str | None = None,
        scope: str | None = None,
        ttl: int = 3600,
        sid: str | None = None,
        mid: uuid.UUID | str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """An access token; ``sid`` names the grant it comes from (e.g. a person's sign-in
        session), ``mid`` the membership a person's token acts under; ``extra`` adds claims
        (never in place of the ones above)."""
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
        now = int(time.time())
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "client_id": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "roles": roles,
            "scope": scope or " ".join(roles),
        }
        if funder_id:
            claims["funder_id"] = str(funder_id)
        if partner_id:
            claims["partner_id"] = str(partner_id)
        if name:
            claims["name"] = name
        if sid:
            claims["sid"] = sid
        if mid:
            claims["mid"] = str(mid)
        key = self.keys.signing_key()
        header = {"alg": "RS256", "typ": TOKEN_TYPE, "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=ALGORITHMS)


class TokenVerifier:
    """Verifies bearer tokens against a JWKS, caching good answers until they expire.

    With a ``RevocationList``, every answer (cached ones too) is checked against it,
    so a cached token never outlives its revocation.

    The JWKS comes from the embedded key file, or from ``jwks_url`` (fetched with
    the given client, and fetched again when a token names an unknown ``kid``, at
    most once every ``refresh_interval`` seconds).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys_file: Path | None = None,
        jwks_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        refresh_interval: float = 30.0,
        cache_size: int = 4096,
        revocations: "RevocationList | None" = None,
    ) -> None:
        if not (keys_file or jwks_url):
            raise ValueError("a token verifier needs a keys file or a JWKS URL")
        self.issuer = issuer
        self.audience = audience
        self.keys_file = keys_file
        self.jwks_url = jwks_url
        self._http = http
        self._keys: KeySet | None = None
        self._keys_mtime: float | None = None
        self._fetched_at = 0.0
        self.refresh_interval = refresh_interval
        self._cache: OrderedDict[str, tuple[float, Caller]] = OrderedDict()
        self._cache_size = cache_size
        self.revocations = revocations
        self._claims = jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            client_id={"essential": True},
        )

    async def _load(self, *, force: bool = False) -> KeySet:
        if self.jwks_url:
            now = time.monotonic()
            stale = now - self._fetched_at > self.refresh_interval
            if self._keys is None or (force and stale):
                client = self._http or httpx.AsyncClient(timeout=5.0)
                try:
                    response = await client.get(self.jwks_url)
                    response.raise_for_status()
                    self._keys = KeySet.import_key_set(response.json())
                    self._fetched_at = now
                except (httpx.HTTPError, ValueError, JoseError) as exc:
                    if self._keys is None:
                        raise Unauthorized(
                            "The identity provider's keys could not be fetched; try again."
                        ) from exc
                finally:
                    if self._http is None:
                        await client.aclose()
            assert self._keys is not None
            return self._keys
        assert self.keys_file is not None
        try:
            mtime = self.keys_file.stat().st_mtime
        except FileNotFoundError as exc:
            raise Unauthorized("No signing keys are configured on this server.") from exc
        if self._keys is None or mtime != self._keys_mtime:
            raw = json.loads(self.keys_file.read_text())
            public = [
                {k: v for k, v in key.items() if k in {"kty", "n", "e", "kid", "alg", "use"}}
                for key in raw["keys"]
            ]
            self._keys = KeySet.import_key_set({"keys": public})
            self._keys_mtime = mtime
        return self._keys

    def _cached(self, token: str) -> Caller | None:
        hit = self._cache.get(token)
        if hit is None:
            return None
        expires, caller = hit
        if expires <= time.time():
            self._cache.pop(token, None)
            return None
        return caller

    async def verify(self, token: str) -> Caller:
        """The caller a token speaks for; ``Unauthorized`` if it is not good."""
        cached = self._cached(token)
        if cached is not None:
            if self.revocations is not None:
                self.revocations.check(cached.claims)
            return cached
        keys = await self._load()
        if self.jwks_url and _kid(token) not in {k.kid for k in keys.keys}:
            keys = await self._load(force=True)
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            self._claims.validate(decoded.claims)
        except JoseError as exc:
            raise Unauthorized(f"The access token is not valid: {_explain(exc)}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("The access token is malformed.") from exc
        typ = str(decoded.header.get("typ", "")).lower()
        if typ not in {"at+jwt", "application/at+jwt"}:
            raise Unauthorized("The token is not an access token (typ must be at+jwt).")
        caller = caller_from_claims(decoded.claims)
        if self.revocations is not None:
            self.revocations.check(decoded.claims)
        self._cache[token] = (float(decoded.claims["exp"]), caller)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return caller


def _kid(token: str) -> str | None:
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return header.get("kid")
    except (ValueError, AttributeError):
        return None


def _explain(exc: JoseError) -> str:
    name = type(exc).__name__
    text = getattr(exc, "description", None) or str(exc) or name
    if name == "ExpiredTokenError":
        return "it has expired; get a new one"
    if name == "InvalidClaimError":
        return f"{text} (check the issuer and audience)"
    if name in {"BadSignatureError"}:
        return "its signature does not match the issuer's keys"
    return text


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send the access token as 'Authorization: Bearer <token>'.")
    return token.strip()


async def get_caller(request: Request) -> Caller:
    """The verified caller, or the public if no token was sent."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return PUBLIC
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(token)


def _signed_in(caller: Caller) -> Caller:
    if caller.is_public:
        raise Unauthorized(
            "This needs an access token: 'Authorization: Bearer <token>'.", error=None
        )
    return caller


async def get_signed_in_caller(request: Request) -> Caller:
    """The verified caller; 401 without a token."""
    return _signed_in(await get_caller(request))


def require_roles(*roles: str) -> Any:
    """A dependency that lets through only callers holding one of ``roles``.

    One dependency, not a chain of three (FastAPI's cost is per dependency, on every
    request); ``signed_in`` tells the API contract it answers 401 and 403."""
    wanted = frozenset(roles)
    message = f"This needs one of the roles: {', '.join(roles)}."

    async def check(request: Request) -> Caller:
        caller = _signed_in(await get_caller(request))
        if caller.roles.isdisjoint(wanted):
            raise Forbidden(message)
        return caller

    check.signed_in = True  # type: ignore[attr-defined]
    return Depends(check)


OptionalCallerDep = Annotated[Caller, Depends(get_caller)]
CallerDep = Annotated[Caller, Depends(get_signed_in_caller)]
AdminDep = Annotated[Caller, require_roles("platform_admin")]
StaffDep = Annotated[Caller, require_roles("funder_staff")]
PartnerDep = Annotated[Caller, require_roles("partner")]
FinanceDep = Annotated[Caller, require_roles("finance")]
StaffOrPartnerDep = Annotated[Caller, require_roles("funder_staff", "partner")]
ServiceCallerDep = Annotated[Caller, require_roles("service")]


def hash_secret(secret: str) -> str:
    """Client secrets are long random strings: a SHA-256 digest is a safe store for them."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)
