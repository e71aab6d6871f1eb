"""An unknown email's sign-in costs one password check, as a known one's does."""

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from services.partners.people.passwords import _verify, unmatched_hash


@pytest.mark.parametrize(
    "hasher", [PasswordHasher(), PasswordHasher(time_cost=2, memory_cost=1024)]
)
def test_the_stand_in_hash_costs_what_a_real_one_does_and_matches_nothing(
    hasher: PasswordHasher,
) -> None:
    stand_in = unmatched_hash(hasher)
    # The same parameters as the hasher's own hashes, so checking against it takes as long.
    assert not hasher.check_needs_rehash(stand_in)
    assert stand_in.count("$") == hasher.hash("a password").count("$")
    with pytest.raises(VerifyMismatchError):
        hasher.verify(stand_in, "")
    assert _verify(None, "") is False
