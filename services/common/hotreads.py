"""Hot reads: a read-one or list route answered without FastAPI's routing and dependencies.

A read such as ``GET /api/v1/grants/{grant_id}`` costs the database one short round
trip; FastAPI's router (which tries each route's pattern in turn), its dependency
solver and its request wrapper cost several times that. ``@hot_read`` marks such an
endpoint, ``@hot_list`` a list's (``GET /api/v1/grants``: a list page is one round trip
too), and ``HotReads``, a layer right in front of the router (inside the error handlers,
so every exception still becomes the same problem+json), calls **the same endpoint
function** with the same arguments, resolved by cheaper means:

- a read-one's id: the path's last segment, found by one dictionary lookup on the rest
  of the path, parsed as a UUID only when it is in canonical form (anything else, a bad
  id too, goes to FastAPI, which answers as it always has); a list: its path, looked up
  whole;
- the caller, by the very role check the route declares (``require_roles``);
- a list's parameters, by the very parse the route declares (``list_query``), of the
  same query string;
- the session, by the kit's own ``get_session`` (read-only, deadline, commit rules).

They are resolved in the route's own order (caller, list parameters, session), so a
request that is both anonymous and malformed gets the same 401 first.

Only ``GET`` is taken (``HEAD`` and other methods go to the router: it answers them
as before). A route is taken only once FastAPI itself has routed a request of its
shape to that endpoint; the scope then carries the same ``route``, ``endpoint`` and
route context FastAPI puts there, so metrics, tracing and logs name the same route.
The OpenAPI document is FastAPI's, unchanged: the route stays declared there.
"""

import inspect
import typing
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from fastapi.params import Depends as DependsParam
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.db import get_session
from services.common.listparams import ListQuery

Endpoint = Callable[..., Awaitable[Response]]

_HOT = "__trellis_hot_read__"
_SESSION = asynccontextmanager(get_session)
_HYPHENS = (8, 13, 18, 23)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to call a hot endpoint: where each of its arguments comes from."""

    # A read-one's id parameter; None for a list.
    path_param: str | None
    session_param: str | None
    caller_param: str | None
    caller_check: Callable[[Request], Awaitable[Any]] | None
    query_param: str | None = None
    query_parse: Callable[[Request], Awaitable[ListQuery]] | None = None


def _plan(endpoint: Endpoint, *, listing: bool) -> _Plan:
    """Where each of ``endpoint``'s arguments comes from; a TypeError for one that the
    hot path cannot resolve."""
    kind = "hot list" if listing else "hot read"
    hints = typing.get_type_hints(endpoint, include_extras=True)
    path_param = session_param = caller_param = query_param = None
    caller_check = query_parse = None
    for name in inspect.signature(endpoint).parameters:
        hint = hints.get(name)
        depends = next(
            (m for m in getattr(hint, "__metadata__", ()) if isinstance(m, DependsParam)), None
        )
        dependency = depends.dependency if depends is not None else None
        if dependency is None and hint is uuid.UUID and path_param is None and not listing:
            path_param = name
        elif dependency is get_session:
            session_param = name
        elif getattr(dependency, "signed_in", False):
            caller_param = name
            caller_check = dependency
        elif listing and hasattr(dependency, "from_request"):
            query_param = name
            query_parse = dependency.from_request  # type: ignore[union-attr]
        else:
            raise TypeError(f"{endpoint.__name__}: a {kind} cannot resolve {name!r}")
    if not listing and path_param is None:
        raise TypeError(f"{endpoint.__name__}: a hot read reads one record by its UUID")
    if listing and query_param is None:
        raise TypeError(f"{endpoint.__name__}: a hot list takes its list_query parameters")
    if not (isinstance(hints.get("return"), type) and issubclass(hints["return"], Response)):
        raise TypeError(f"{endpoint.__name__}: a {kind} returns its Response")
    return _Plan(path_param, session_param, caller_param, caller_check, query_param, query_parse)


def hot_read(endpoint: Endpoint) -> Endpoint:
    """Mark a read-one endpoint to be answered by ``HotReads``; put it under the route
    decorator (``@router.get(...)`` above, ``@hot_read`` below).

    Its parameters may be only: one path parameter typed ``uuid.UUID`` (the path's last
    segment), the session (``SessionDep``) and a role check (``require_roles``); it
    returns its ``Response`` itself. Anything else is refused here, at import."""
    setattr(endpoint, _HOT, _plan(endpoint, listing=False))
    return endpoint


def hot_list(endpoint: Endpoint) -> Endpoint:
    """Mark a list endpoint (a path without parameters) to be answered by ``HotReads``;
    put it under the route decorator, as ``@hot_read``.

    Its parameters may be only: its list's parameters (a ``list_query`` dependency), the
    session and a role check; it returns its ``Response`` itself."""
    setattr(endpoint, _HOT, _plan(endpoint, listing=True))
    return endpoint


@dataclass(frozen=True, slots=True)
class _Learnt:
    """A hot route as FastAPI routed it: its endpoint, its plan, the scope it set."""

    endpoint: Endpoint
    plan: _Plan
    route: Any
    fastapi_scope: dict[str, Any]


def _canonical_uuid(text: str) -> uuid.UUID | None:
    """``text`` as a UUID if it is in the hyphenated form of 36 characters, which FastAPI's
    validation takes as the same UUID; otherwise None (FastAPI decides)."""
    if len(text) != 36 or any(text[i] != "-" for i in _HYPHENS):
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class HotReads:
    """The ASGI layer in front of the router that answers ``@hot_read`` and ``@hot_list``
    endpoints.

    Lists are indexed by their path, read-ones by the path without its last segment:
    at most two dictionary lookups per request, whatever the number of routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes: dict[str, _Learnt] = {}
        self.lists: dict[str, _Learnt] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        listed = self.lists.get(path)
        if listed is not None and not scope["app"].dependency_overrides:
            await self._answer(listed, None, "", scope, receive, send)
            return
        prefix, _, last = path.rpartition("/")
        learnt = self.routes.get(prefix)
        record_id = _canonical_uuid(last) if learnt is not None else None
        if learnt is None or record_id is None or scope["app"].dependency_overrides:
            await self.app(scope, receive, send)
            if learnt is None and listed is None:
                self._learn(scope, path, prefix)
            return
        await self._answer(learnt, record_id, last, scope, receive, send)

    def _learn(self, scope: Scope, path: str, prefix: str) -> None:
        """Index a hot endpoint the router has just routed this path to."""
        endpoint = scope.get("endpoint")
        plan = getattr(endpoint, _HOT, None)
        if plan is None:
            return
        wanted = {plan.path_param} if plan.path_param is not None else set()
        if scope.get("path_params", {}).keys() != wanted:
            return
        fastapi_scope = scope.get("fastapi")
        context = fastapi_scope.get("effective_route_context") if fastapi_scope else None
        template = getattr(context or scope.get("route"), "path_format", "")
        if plan.path_param is None:
            index, key = self.lists, path
            if template != path:
                return
        else:
            index, key = self.routes, prefix
            if template.rpartition("/")[::2] != (prefix, "{" + plan.path_param + "}"):
                return
        index[key] = _Learnt(
            endpoint,  # type: ignore[arg-type]
            plan,
            scope.get("route"),
            {"effective_route_context": context} if context is not None else {},
        )

    async def _answer(
        self,
        learnt: _Learnt,
        record_id: uuid.UUID | None,
        raw_id: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        plan = learnt.plan
        scope["route"] = learnt.route
        scope["endpoint"] = learnt.endpoint
        scope.setdefault("fastapi", {}).update(learnt.fastapi_scope)
        arguments: dict[str, Any] = {}
        if plan.path_param is not None:
            scope["path_params"] = {plan.path_param: raw_id}
            arguments[plan.path_param] = record_id
        else:
            scope["path_params"] = {}
        request = Request(scope, receive)
        if plan.caller_check is not None:
            arguments[plan.caller_param] = await plan.caller_check(request)  # type: ignore[index]
        if plan.query_parse is not None:
            arguments[plan.query_param] = await plan.query_parse(request)  # type: ignore[index]
        if plan.session_param is not None:
            async with _SESSION(request) as session:
                arguments[plan.session_param] = session
                response = await learnt.endpoint(**arguments)
        else:
            response = await learnt.endpoint(**arguments)
        await response(scope, receive, send)
