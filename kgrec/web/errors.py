"""Errors as ``application/problem+json`` (RFC 9457) and the request-body size limit.

Every error the service returns has the same shape, ``{"type", "title", "status",
"detail", "instance"}`` (plus ``"errors"`` per field for validation errors), and its
``detail`` is the library's own message: *unknown user '99999' (known users look like
...)*, *unknown title 'Pulp Fictoin'; did you mean 'Pulp Fiction'?*, *k must be a
positive integer, got 0*. An unexpected exception is logged with its traceback on the
server and answered with a 500 that says nothing about the code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("kgrec.web")

#: Titles per status, as the ``title`` member of a problem.
TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed",
          413: "Request body too large", 415: "Unsupported media type",
          422: "Invalid request", 500: "Internal server error"}


class ProblemError(Exception):
    """An error to answer as a problem document."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


def problem_body(status: int, detail: str, instance: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"),
                            "status": status, "detail": detail, "instance": instance}
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(status: int, detail: str, instance: str | None = None,
                     errors: list[dict[str, Any]] | None = None, headers: dict | None = None):
    from fastapi.responses import JSONResponse

    return JSONResponse(problem_body(status, detail, instance, errors), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


def library_error(exc: Exception) -> ProblemError:
    """The problem for an exception raised by :class:`kgrec.Recommender` on bad input:
    ``KeyError`` (unknown user, title, genre, item) → 404, ``ValueError`` / ``TypeError``
    (bad ``k``, empty query, unknown filter) → 422; the message is kept as is."""
    message = str(exc.args[0]) if exc.args else exc.__class__.__name__
    return ProblemError(404 if isinstance(exc, KeyError) else 422, message)


def _field_errors(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors without their ``input`` / ``ctx`` (which may hold the whole body or
    objects that are not JSON)."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))} for e in raw]


def install_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem document."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def on_problem(request: Request, exc: ProblemError):
        return problem_response(exc.status, exc.detail, request.url.path, exc.errors)

    async def on_validation(request: Request, exc: RequestValidationError):
        errors = _field_errors(list(exc.errors()))
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(400, "the request body is not valid JSON",
                                    request.url.path, errors)
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, detail or "invalid request", request.url.path, errors)

    async def on_http(request: Request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        return problem_response(exc.status_code, detail, request.url.path,
                                headers=getattr(exc, "headers", None))

    async def on_crash(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "the server could not answer this request (the error "
                                     "is logged on the server)", request.url.path)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with a 413 problem, by
    the ``Content-Length`` header when there is one, otherwise while reading a chunked
    body (which is then replayed to the app).

    Args:
        app: the ASGI app to wrap.
        max_bytes: largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        response = problem_response(413, f"request body of {size} bytes is over the limit "
                                         f"of {self.max_bytes} bytes", scope.get("path"))
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_bytes:
                await self._refuse(scope, receive, send, str(declared))
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._refuse(scope, receive, send, f"more than {self.max_bytes}")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
