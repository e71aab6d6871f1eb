"""Rotating the embedded issuer's signing keys: two keys in the JWKS, no token left behind."""

import base64
import json
import shutil
from pathlib import Path

from services.common.auth import KeyStore, TokenIssuer, TokenVerifier
from tests.support import AUDIENCE, ISSUER, Tokens, running_stack


def kid(headers: dict[str, str]) -> str:
    token = headers["Authorization"].split()[1]
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["kid"]


async def test_rotation_keeps_the_old_key_published_until_the_next_one(tmp_path: Path) -> None:
    async with running_stack("sqlite", tmp_path, services=("partners",)) as stack:
        keys_file = tmp_path / "data" / "keys" / "signing-keys.json"
        store = KeyStore(keys_file)
        old_kid = store.signing_key().kid
        before = stack.tokens.admin()
        assert kid(before) == old_kid
        # A copy of the key file as it was: it signs "old" tokens later on.
        old_copy = tmp_path / "old-keys.json"
        shutil.copy(keys_file, old_copy)
        old_tokens = Tokens(TokenIssuer(KeyStore(old_copy), issuer=ISSUER, audience=AUDIENCE))

        new_kid = store.rotate()
        assert new_kid != old_kid

        jwks = await stack.partners.get("/.well-known/jwks.json")
        assert jwks.status_code == 200
        published = jwks.json()["keys"]
        assert [key["kid"] for key in published] == [new_kid, old_kid]
        assert all(set(key) >= {"kty", "n", "e", "kid"} and "d" not in key for key in published)

        new_tokens = Tokens(TokenIssuer(KeyStore(keys_file), issuer=ISSUER, audience=AUDIENCE))
        after = new_tokens.admin()
        assert kid(after) == new_kid

        # The service (key file) and a verifier that reads the published JWKS accept both.
        signed_by_old = old_tokens.admin()
        for headers in (before, signed_by_old, after):
            response = await stack.partners.get("/api/v1/funders", headers=headers)
            assert response.status_code == 200, response.text
        remote = TokenVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_url="http://partners.test/.well-known/jwks.json",
            http=stack.partners,
        )
        for headers in (signed_by_old, after):
            caller = await remote.verify(headers["Authorization"].split()[1])
            assert caller.has("platform_admin")

        # The next rotation retires the first key: what it signs is refused from then on.
        third_kid = store.rotate()
        published = (await stack.partners.get("/.well-known/jwks.json")).json()["keys"]
        assert [key["kid"] for key in published] == [third_kid, new_kid]
        refused = await stack.partners.get("/api/v1/funders", headers=old_tokens.admin())
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        still = await stack.partners.get("/api/v1/funders", headers=new_tokens.admin())
        assert still.status_code == 200
