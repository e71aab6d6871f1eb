"""What may be released of a round's answers: no group of fewer than k answers, by itself
or by the difference of two releases.

Every figure is computed over a *base*: the responses to a commitment (``responses``,
``dont_know``) or the ratings other than "don't know" (``mean``, ``distribution``), of
one kind: all answers, named ones, or anonymous ones. Named answers can be read one by
one by the funder's staff, and "all" is "named" plus "anonymous"; so the difference of
any two releases about the same base is the named or the anonymous part of it. The rule
that makes every difference safe is therefore:

    a base is released only if it has at least k members, and, for "all", its named
    part and its anonymous part each have none or at least k.

Then every release, and every difference of two releases (all minus named = anonymous,
all minus anonymous = named), is a group of none or at least k answers. A round's own
response count follows the same rule (it is the base of "all"). Counts inside a released
base (how many said "don't know", how many gave each rating) are shown, as in survey
practice: what is hidden is any base, or difference of bases, below k.
"""

PARTS = {"all": ("named", "anonymous"), "named": ("named",), "anonymous": ("anonymous",)}
RESPONSES = "responses"
RATINGS = 'ratings other than "don\'t know"'


def sound(size: int, k: int) -> bool:
    """A part of a release may be 0 (nothing to reveal) or at least k."""
    return size == 0 or size >= k


def reasons(*, k: int, kind: str, named: int, anonymous: int, what: str = RESPONSES) -> list[str]:
    """Why a base of ``kind`` with these named and anonymous sizes is withheld (empty: it
    may be released)."""
    sizes = {"named": named, "anonymous": anonymous}
    total = sum(sizes[p] for p in PARTS[kind])
    label = "" if kind == "all" else f"{kind} "
    if total < k:
        return [
            f"Fewer than {k} {label}{what}: figures are withheld so no answer can be picked out."
        ]
    found = []
    if kind == "all":
        for part, other in (("anonymous", "named"), ("named", "anonymous")):
            if not sound(sizes[part], k):
                found.append(
                    f"Fewer than {k} {part} {what}: with the {other} figures known, these "
                    f"would reveal the {part} few."
                )
    return found


def round_count(*, k: int, named: int, anonymous: int) -> int | None:
    """A round's number of responses, or ``None`` when it would show a group below k."""
    if reasons(k=k, kind="all", named=named, anonymous=anonymous):
        return None
    return named + anonymous


def anonymous_comments_withheld(*, k: int, anonymous: int) -> str | None:
    """Anonymous comments are released when at least k answers are anonymous."""
    if sound(anonymous, k):
        return None
    return (
        f"Comments from anonymous answers are released when the round has at least {k} "
        "anonymous answers."
    )
