"""The request's reader (from ``Authorization: Token <jwt>``) and its repositories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request

from sqla_repo.fastapi import repository

from .errors import unauthorized
from .repositories import (
    ArticleRepository,
    CommentRepository,
    FavoriteRepository,
    FollowRepository,
    TagRepository,
    UserRepository,
)
from .security import issue_token, token_subject

SCHEMES = ("token", "bearer")
"""``Token`` is the spec's word; ``Bearer`` is accepted too."""


@dataclass(frozen=True)
class Reader:
    """Who sends the request: the user id of a valid token, and that token."""

    id: int
    token: str


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    lifetime: timedelta

    def issue(self, user_id: int) -> str:
        return issue_token(user_id, self.secret, self.lifetime)


def token_config(request: Request) -> TokenConfig:
    config: TokenConfig = request.app.state.tokens
    return config


Tokens = Annotated[TokenConfig, Depends(token_config)]


def optional_reader(
    tokens: Tokens, authorization: Annotated[str | None, Header()] = None
) -> Reader | None:
    """``None`` without an ``Authorization`` header; 401 for a token that is not valid.

    A token that is sent must be good even where none is needed: a client holding an
    expired one learns it at once, instead of silently seeing the anonymous page.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in SCHEMES or not token:
        raise unauthorized("the Authorization header must be 'Token <jwt>'")
    subject = token_subject(token, tokens.secret)
    if subject is None:
        raise unauthorized("invalid or expired token")
    return Reader(subject, token)


def required_reader(reader: Annotated[Reader | None, Depends(optional_reader)]) -> Reader:
    if reader is None:
        raise unauthorized("missing token: send 'Authorization: Token <jwt>'")
    return reader


MaybeReader = Annotated[Reader | None, Depends(optional_reader)]
ReaderDep = Annotated[Reader, Depends(required_reader)]

Users = Annotated[UserRepository, Depends(repository(UserRepository))]
Follows = Annotated[FollowRepository, Depends(repository(FollowRepository))]
Articles = Annotated[ArticleRepository, Depends(repository(ArticleRepository))]
Tags = Annotated[TagRepository, Depends(repository(TagRepository))]
Favorites = Annotated[FavoriteRepository, Depends(repository(FavoriteRepository))]
Comments = Annotated[CommentRepository, Depends(repository(CommentRepository))]
