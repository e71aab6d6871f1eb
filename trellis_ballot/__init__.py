"""Anonymous answers to Trellis feedback rounds: RFC 9474 blind-signed ballots.

``rsabssa`` is the protocol (RFC 9474, RSABSSA-SHA384-PSS-Randomized, on the
``cryptography`` library); ``client`` is what a partner's developer calls.
"""

from trellis_ballot.client import (
    Ballot,
    BallotError,
    answer_anonymously,
    answer_anonymously_sync,
    cast,
    change,
    read,
    take_ballot,
)

__all__ = [
    "Ballot",
    "BallotError",
    "answer_anonymously",
    "answer_anonymously_sync",
    "cast",
    "change",
    "read",
    "take_ballot",
]
