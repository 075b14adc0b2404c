"""Every error in the spec's format: ``{"errors": {"body": ["..."]}}``.

``body`` always lists every message, so a client that reads only the spec's
``GenericErrorModel`` sees them all; a validation or duplicate error also lists its
messages under the name of each field at fault (``"email": ["has already been
taken"]``), as the RealWorld front ends display them. No message quotes SQL, driver text
or the values a request sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sqla_repo import (
    ConflictError,
    IntegrityViolationError,
    InvalidFieldError,
    NotFoundError,
    RepositoryError,
)
from sqla_repo.fastapi import add_exception_handlers


class MissingError(NotFoundError):
    """A lookup of the app that found nothing; its message is safe to show."""


class ApiError(Exception):
    """An answer other than success: a status and messages by field (``body``: none)."""

    def __init__(self, status: int, messages: Mapping[str, Iterable[str]]) -> None:
        super().__init__(status, messages)
        self.status = status
        self.messages = {field: list(texts) for field, texts in messages.items()}


def unauthorized(message: str = "missing or invalid token") -> ApiError:
    return ApiError(401, {"body": [message]})


def forbidden(message: str) -> ApiError:
    return ApiError(403, {"body": [message]})


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, {field: [message]})


def errors_json(messages: Mapping[str, list[str]]) -> dict[str, Any]:
    every = [
        text if field == "body" else f"{field} {text}"
        for field, texts in messages.items()
        for text in texts
    ]
    return {"errors": {**messages, "body": every}}


def _respond(status: int, messages: Mapping[str, list[str]]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Token"} if status == 401 else None
    return JSONResponse(errors_json(messages), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    error = cast("ApiError", exc)
    return _respond(error.status, error.messages)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    error = cast("HTTPException", exc)
    phrase = {404: "not found", 405: "method not allowed"}.get(error.status_code, str(error.detail))
    return _respond(error.status_code, {"body": [phrase]})


def _field(location: tuple[int | str, ...]) -> str:
    """``("body", "user", "email")`` -> ``email``; a query or path parameter by its name."""
    names = [str(part) for part in location if isinstance(part, str)]
    if not names or names == ["body"]:
        return "body"
    return names[-1]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    messages: dict[str, list[str]] = {}
    for error in cast("RequestValidationError", exc).errors():
        kind = str(error.get("type", ""))
        if kind == "json_invalid":
            field, text = "body", "is not valid JSON"
        elif kind == "missing":
            field, text = _field(tuple(error["loc"])), "can't be blank"
        else:
            text = str(error["msg"]).removeprefix("Value error, ")
            field = _field(tuple(error["loc"]))
        messages.setdefault(field, []).append(text)
    return _respond(422, messages)


def _repository_error(error: RepositoryError, status: int) -> dict[str, Any]:
    if isinstance(error, NotFoundError):
        return errors_json(
            {"body": [str(error) if isinstance(error, MissingError) else "not found"]}
        )
    if isinstance(error, IntegrityViolationError) and error.columns:
        reason = "has already been taken" if isinstance(error, ConflictError) else "is invalid"
        return errors_json({column: [reason] for column in error.columns})
    if isinstance(error, InvalidFieldError):
        return errors_json({"body": ["a value is out of range"]})
    return errors_json({"body": [type(error).__name__]})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    add_exception_handlers(app, statuses={ConflictError: 422}, render=_repository_error)
