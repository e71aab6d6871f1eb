"""RFC 9457 problem details: one error base class, rendered by one handler.

Every error response of every service has ``type``, ``title``, ``status``,
``detail`` and ``instance``, a ``message`` member (the same words as
``detail``) for clients that read one, and for validation failures an
``errors`` object keyed by field name. No stack trace or SQL ever leaves.
"""

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_BASE = "https://trellis.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

logger = logging.getLogger("trellis.errors")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem, as every error of the API is answered (``application/problem+json``).

    Some problems carry more members (a 503 names the ``service``); clients may ignore them.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "validation-error",
                    "title": "Validation failed",
                    "status": 422,
                    "detail": "The request is not valid. amount_awarded: is required",
                    "instance": "/api/v1/grants",
                    "message": "The request is not valid. amount_awarded: is required",
                    "errors": {"amount_awarded": ["is required"]},
                }
            ]
        },
    )

    type: str = Field(description="A URI naming the kind of problem; stable, for code to test.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request and how to fix it.")
    instance: str = Field(description="The path of the request that failed.")
    message: str = Field(description="The same words as `detail`, for clients that read one.")
    errors: dict[str, list[str]] | None = Field(
        None, description="For validation failures: what is wrong, keyed by field name."
    )


class Problem(Exception):
    """Base of every error a Trellis service answers with.

    Raise a subclass (or this with a status) from anywhere: services, repositories,
    dependencies. The handler turns it into a problem+json response.
    """

    status: int = 500
    slug: str = "internal-error"
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        slug: str | None = None,
        title: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if slug is not None:
            self.slug = slug
        if title is not None:
            self.title = title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title or HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "message": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def to_response(self, instance: str) -> Response:
        body = self.body(instance)
        try:
            content = orjson.dumps(body)
        except orjson.JSONEncodeError:
            # A figure beyond 64 bits (orjson's limit) is written as text, not a crash.
            content = orjson.dumps(_beyond_64_bits_as_text(body))
        return Response(
            content,
            status_code=self.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=self.headers,
        )


def _beyond_64_bits_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value)
    if isinstance(value, dict):
        return {k: _beyond_64_bits_as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_beyond_64_bits_as_text(v) for v in value]
    return value


class BadRequest(Problem):
    status, slug = 400, "bad-request"


class Unauthorized(Problem):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str, *, error: str | None = "invalid_token", **kwargs: Any) -> None:
        # RFC 6750 section 3: no error code when the request carried no token at all.
        challenge = 'Bearer realm="trellis"' + (f', error="{error}"' if error else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge}, **kwargs)


class Forbidden(Problem):
    status, slug = 403, "forbidden"


class NotFound(Problem):
    status, slug = 404, "not-found"


class Conflict(Problem):
    status, slug = 409, "conflict"


class PreconditionFailed(Problem):
    status, slug = 412, "precondition-failed"


class Unprocessable(Problem):
    """A request that is well formed but breaks a rule of the domain."""

    status, slug = 422, "unprocessable"


class ServiceUnavailable(Problem):
    status, slug = 503, "service-unavailable"


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _describe(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "is not a field of this resource; remove it"
    if error.get("type") == "missing":
        return "is required"
    if error.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    return str(error.get("msg", "is invalid"))


def validation_problem(exc: RequestValidationError) -> Unprocessable:
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        field = _field_name(tuple(error.get("loc", ())))
        if error.get("type") == "json_invalid":
            field = "body"  # its location is a character offset, not a field
        message = _describe(error)
        if field == "body" and error.get("type") == "model_attributes_type":
            message = "the request body must be a JSON object"
        errors.setdefault(field, []).append(message)
    summary = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in errors.items())
    return Unprocessable(
        f"The request is not valid. {summary}",
        slug="validation-error",
        title="Validation failed",
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of the app as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return exc.to_response(request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(exc).to_response(request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}."
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not even text (bytes that are not UTF-8):
            # the same 422 as any other body that is not valid JSON.
            message = "the request body must be JSON in UTF-8"
            return Unprocessable(
                f"The request is not valid. body: {message}",
                slug="validation-error",
                title="Validation failed",
                errors={"body": [message]},
            ).to_response(request.url.path)
        problem = Problem(
            detail,
            status=exc.status_code,
            slug=HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-"),
            headers=dict(exc.headers or {}),
        )
        return problem.to_response(request.url.path)

    async def on_stale(request: Request, exc: Exception) -> Response:
        # 412 answers a condition the caller set; without If-Match there was none, and
        # the clash is with a concurrent request: a 409 that says to try again.
        if request.headers.get("if-match"):
            problem: Problem = PreconditionFailed(
                "The record was changed by someone else while you were changing it. "
                "Read it again and re-apply your change."
            )
        else:
            problem = Conflict(
                "Another request changed the same record at the same moment; nothing was "
                "changed by yours. Try again.",
                slug="concurrent-change",
            )
        return problem.to_response(request.url.path)

    async def on_busy(request: Request, exc: Exception) -> Response:
        # SQLite's write lock not granted within busy_timeout, no pooled connection in
        # time, or PostgreSQL out of connection slots (SQLSTATE class 53, "too many
        # clients"): the database is saturated, nothing was written, and a retry will do.
        if isinstance(exc, OperationalError) and "locked" not in str(exc.orig):
            return await on_unexpected(request, exc)
        if (
            isinstance(exc, DBAPIError)
            and not isinstance(exc, OperationalError)
            and not str(getattr(exc.orig, "sqlstate", None) or "").startswith("53")
        ):
            return await on_unexpected(request, exc)
        logger.warning("database busy", extra={"path": request.url.path})
        problem = ServiceUnavailable(
            "The database is busy with other writes; nothing was changed. Try again shortly.",
            slug="database-busy",
            headers={"Retry-After": "1"},
        )
        return problem.to_response(request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", extra={"path": request.url.path})
        problem = Problem("Something went wrong on our side. It has been logged.")
        return problem.to_response(request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(StaleDataError, on_stale)
    app.add_exception_handler(OperationalError, on_busy)
    app.add_exception_handler(DBAPIError, on_busy)
    app.add_exception_handler(PoolTimeoutError, on_busy)
    app.add_exception_handler(Exception, on_unexpected)
