"""Which service answers which path: the one table to extend when a resource is added.

A path ``/api/v1/<resource>/...`` goes to the service that owns ``<resource>``
(for ``public/...`` the first two segments name the resource). The token issuer's
``/oauth/*`` and ``/.well-known/*`` (the OpenID Connect provider and its sign-in pages)
and ``/account/*`` (pages people open from an invitation or password reset email)
live in the partners service.
"""

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
    "people": "partners",
    "memberships": "partners",
    "invitations": "partners",
    "password-resets": "partners",
    # funding
    "grants": "funding",
    "instalments": "funding",
    "payments": "funding",
    "variations": "funding",
    "exports": "funding",
    "pools": "funding",
    "funder-settings": "funding",
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

UPSTREAMS: tuple[str, ...] = tuple(dict.fromkeys([*RESOURCES.values(), *PREFIXES.values()]))


def is_routed(path: str) -> bool:
    """Whether the gateway forwards ``path`` (rather than answering it itself)."""
    return path.startswith(API_PREFIX) or any(path.startswith(p) for p in PREFIXES)


def service_for(path: str) -> str | None:
    """The name of the service that answers ``path``; ``None`` if no service does."""
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
