"""``DatabaseSettings``: the engine's settings from keywords, the environment and ``.env``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import ModelWrapValidatorHandler
from pydantic_core import ErrorDetails, InitErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._urls import parse_url

_PREFIX = "DATABASE_"
_HIDDEN = "**********"


class DatabaseSettings(BaseSettings):
    """Database settings: ``DATABASE_URL`` and the ``DATABASE_POOL_*`` variables.

    Sources, first wins: keyword arguments by field name, environment variables, then a
    dotenv file (``.env`` in the working directory, or ``_env_file=``). Other variables
    are ignored.

    ========================== ================ ===========================
    variable                   field            rule (default)
    ========================== ================ ===========================
    ``DATABASE_URL``           ``url``          a supported URL (required)
    ``DATABASE_POOL_SIZE``     ``pool_size``    ``>= 1`` (5)
    ``DATABASE_MAX_OVERFLOW``  ``max_overflow`` ``>= 0`` (10)
    ``DATABASE_POOL_TIMEOUT``  ``pool_timeout`` seconds ``> 0`` (30.0)
    ``DATABASE_POOL_RECYCLE``  ``pool_recycle`` seconds ``>= -1`` (-1: never)
    ``DATABASE_POOL_PRE_PING`` ``pool_pre_ping`` bool (true)
    ``DATABASE_ECHO``          ``echo``         bool (false)
    ========================== ================ ===========================

    A bad or missing value raises ``pydantic.ValidationError`` (a ``ValueError``) naming
    the variable. The URL is a ``SecretStr``: no message, ``repr()`` or dump shows it.
    Build an engine factory with :meth:`sqla_repo.EngineFactory.from_settings`.
    """

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix=_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
    )

    if TYPE_CHECKING:
        # The signature callers see (pydantic's own is ``**values: Any``), so that a
        # misspelt field or a wrong type is caught without the pydantic mypy plugin.
        def __init__(
            self,
            *,
            url: SecretStr | str = ...,
            pool_size: int = ...,
            max_overflow: int = ...,
            pool_timeout: float = ...,
            pool_recycle: int = ...,
            pool_pre_ping: bool = ...,
            echo: bool = ...,
            _env_file: Path | str | Sequence[Path | str] | None = ...,
            _env_file_encoding: str | None = ...,
        ) -> None: ...

    url: SecretStr
    pool_size: Annotated[int, Field(ge=1)] = 5
    max_overflow: Annotated[int, Field(ge=0)] = 10
    pool_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 30.0
    pool_recycle: Annotated[int, Field(ge=-1)] = -1
    pool_pre_ping: bool = True
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: SecretStr) -> SecretStr:
        parse_url(value.get_secret_value())  # its messages never show the password
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _name_variables(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # pydantic reports a field by its name; users set variables: name those.
        try:
            return handler(data)
        except ValidationError as err:
            raise ValidationError.from_exception_data(
                err.title,
                [_named(error, cls.model_fields) for error in err.errors()],
                hide_input=True,
            ) from None


def _named(error: ErrorDetails, fields: Mapping[str, object]) -> InitErrorDetails:
    """The error located by variable name; its input hidden where it may hold the URL."""
    loc = error["loc"]
    named = InitErrorDetails(type=error["type"], loc=loc, input=_HIDDEN)
    if "ctx" in error:
        named["ctx"] = error["ctx"]
    if loc and loc[0] in fields:
        named["loc"] = (_variable(loc[0]), *loc[1:])
        if loc[0] != "url":
            named["input"] = error["input"]
    return named


def _variable(field: int | str) -> str:
    return f"{_PREFIX}{str(field).upper()}"
