"""Every error the service sends is JSON ``{"error": "one line"}`` with a 4xx (or 5xx) status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """A request the service refuses: an HTTP status and a message for the client."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, message)


def error_response(status_code: int, message: str) -> JSONResponse:
    """The response for an error: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status_code)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    response = error_response(error.status_code, str(error.detail))
    response.headers.update(error.headers or {})
    return response


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"] if part not in ("body", "query"))
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return error_response(422, "; ".join(problems))


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Make ``app`` answer HTTP errors, invalid requests and unexpected failures as ``{"error": ...}``."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
