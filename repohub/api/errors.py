"""Hub-shaped error answers: status, `{"error": ...}`, `X-Error-Code`, `X-Error-Message`.

The one place where domain errors become HTTP for the JSON API.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from repohub.api.bodies import InvalidBody, describe
from repohub.api.headers import body_text, header_text
from repohub.errors import RepoHubError
from repohub.repos.outage import DATABASE_DOWN, database_unavailable


def error_response(
    status: int, message: str, code: str | None = None, extra: dict | None = None
) -> JSONResponse:
    headers = {"X-Error-Message": header_text(message)}
    if code:
        headers["X-Error-Code"] = code
    body = {"error": body_text(message), **(extra or {})}
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RepoHubError)
    extra = getattr(exc, "extra", None)
    return error_response(exc.status_code, exc.message, exc.error_code, extra)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    outage = database_unavailable(exc)
    if outage is None:
        raise exc
    return await _domain_error(request, outage)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, InvalidBody(describe(exc.errors())).message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RepoHubError, _domain_error)
    for outage in DATABASE_DOWN:
        app.add_exception_handler(outage, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
