"""Which service answers which path: the one table to extend when a resource is added.

A path ``/api/v1/<resource>/...`` goes to the service that owns ``<resource>``
(for ``public/...`` the first two segments name the resource). The token issuer's
``/oauth/*`` and ``/.well-known/*`` (the OpenID Connect provider and its sign-in pages)
and ``/account/*`` (pages people open from an invitation or password reset email)
live in the partners service.
"""

import functools

#: Paths whose routing is remembered (each function below is pure; the same paths come
#: again and again, and one is looked up several times per request).
REMEMBERED_PATHS = 4096

API_PREFIX = "/api/v1/"

RESOURCES: dict[str, str] = {
    # partners
    "funders": "partners",
    "partners": "partners",
    "relationships": "partners",
    "interactions": "partners",
    "documents": "partners",
    "contacts": "partners",
    "updates": "partners",
    "imports/partners": "partners",
    "people": "partners",
    "memberships": "partners",
    "invitations": "partners",
    "password-resets": "partners",
    "search": "partners",
    "tags": "partners",
    "learning-notes": "partners",
    "gatherings": "partners",
    "webhooks": "partners",
    "notification-preferences": "partners",
    # funding
    "grants": "funding",
    "instalments": "funding",
    "payments": "funding",
    "variations": "funding",
    "grant-requests": "funding",
    "exports": "funding",
    "pools": "funding",
    "funder-settings": "funding",
    "finance-settings": "funding",
    "budgets": "funding",
    "forecast": "funding",
    "forecast.csv": "funding",
    "payment-runs": "funding",
    "trustee-papers": "funding",
    "trustee-papers.csv": "funding",
    "imports/360giving": "funding",
    "public/funding": "funding",
    # feedback
    "commitments": "feedback",
    "rounds": "feedback",
    "responses": "feedback",
    "results": "feedback",
    "actions": "feedback",
    "threads": "feedback",
    "measures": "feedback",
    "scorecards": "feedback",
    "public/feedback": "feedback",
}

PREFIXES: dict[str, str] = {
    "/oauth/": "partners",
    "/.well-known/": "partners",
    "/account/": "partners",
}

#: The gateway's own composite views (``views/``): under the API prefix, but not proxied.
FUNDER_OVERVIEW = "/api/v1/overview"
TAKEOUT = "/api/v1/exports/takeout"
AUDIT = "/api/v1/audit"
PARTNER_OVERVIEW_SUFFIX = "/overview"

UPSTREAMS: tuple[str, ...] = tuple(dict.fromkeys([*RESOURCES.values(), *PREFIXES.values()]))


def is_view(path: str) -> bool:
    """Whether ``path`` is one of the gateway's own composite views."""
    if path in (FUNDER_OVERVIEW, AUDIT) or path.startswith((TAKEOUT, AUDIT + "/")):
        return True
    # /api/v1/partners/<id>/overview
    return (
        path.endswith(PARTNER_OVERVIEW_SUFFIX)
        and path.startswith("/api/v1/partners/")
        and path.count("/") == 5
    )


@functools.lru_cache(maxsize=REMEMBERED_PATHS)
def is_routed(path: str) -> bool:
    """Whether the gateway forwards ``path`` (rather than answering it itself)."""
    if path.startswith(API_PREFIX):
        return not is_view(path)
    return any(path.startswith(p) for p in PREFIXES)


@functools.lru_cache(maxsize=REMEMBERED_PATHS)
def service_for(path: str) -> str | None:
    """The name of the service that answers ``path``; ``None`` if no service does.

    The gateway's own views answer ``"gateway"``.
    """
    if is_view(path):
        return "gateway"
    if path.startswith(API_PREFIX):
        rest = path[len(API_PREFIX) :]
        first, _, tail = rest.partition("/")
        service = RESOURCES.get(first)
        if service is not None:
            return service
        second = tail.partition("/")[0]
        return RESOURCES.get(f"{first}/{second}") if second else None
    for prefix, service in PREFIXES.items():
        if path.startswith(prefix):
            return service
    return None


def resource_of(path: str) -> str:
    """The resource name a caller asked for, for error messages."""
    rest = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
    return rest.partition("/")[0] or rest
