"""Exact attribution of money to members: the largest remainder method (pure, integer pence)."""

import uuid
from collections.abc import Sequence


def largest_remainder(
    total: int, weights: Sequence[tuple[uuid.UUID, int]]
) -> list[tuple[uuid.UUID, int]]:
    """Split ``total`` minor units in proportion to ``weights``, in whole units summing to it.

    Each part first gets the floor of its exact quota; the units left over go one
    each to the largest fractional remainders. Ties are broken deterministically:
    the larger weight first, then the lower funder id (as text). Zero weights get
    nothing; if every weight is zero the total is split equally by the same rule.
    The result keeps the order of ``weights``.
    """
    if total < 0:
        raise ValueError("only a non-negative total can be split")
    if not weights:
        raise ValueError("a split needs at least one part")
    if any(w < 0 for _, w in weights):
        raise ValueError("weights cannot be negative")
    basis = sum(w for _, w in weights)
    if basis == 0:
        weights = [(key, 1) for key, _ in weights]
        basis = len(weights)
    floors = {key: total * w // basis for key, w in weights}
    remainders = {key: total * w % basis for key, w in weights}
    left = total - sum(floors.values())
    order = sorted(weights, key=lambda kw: (-remainders[kw[0]], -kw[1], str(kw[0])))
    for key, _ in order[:left]:
        floors[key] += 1
    return [(key, floors[key]) for key, _ in weights]
