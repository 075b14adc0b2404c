"""Request bodies (validated: lengths, NUL characters, types) and the JSON of responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .models import (
    BODY_LENGTH,
    DESCRIPTION_LENGTH,
    EMAIL_LENGTH,
    IMAGE_LENGTH,
    TAG_LENGTH,
    TITLE_LENGTH,
    USERNAME_LENGTH,
    Article,
    Comment,
    User,
)

MAX_TAGS = 20
PASSWORD_MAX = 256


def no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text: refused here as bad input, on every backend."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(no_nul)
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=USERNAME_LENGTH, pattern=r"^[\w.\-]+$"
    ),
]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=EMAIL_LENGTH,
        pattern=r"^[^\s@]+@[^\s@]+$",
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=PASSWORD_MAX), NoNul]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_LENGTH), NoNul
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=DESCRIPTION_LENGTH),
    NoNul,
]
Body = Annotated[str, StringConstraints(min_length=1, max_length=BODY_LENGTH), NoNul]
Bio = Annotated[str, StringConstraints(max_length=BODY_LENGTH), NoNul]
Image = Annotated[str, StringConstraints(strip_whitespace=True, max_length=IMAGE_LENGTH), NoNul]
TagName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_LENGTH), NoNul
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class NewUser(_Input):
    username: Username
    email: Email
    password: Password


class Login(_Input):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX), NoNul]


class UserChanges(_Input):
    """PUT /user: only the fields sent change; ``bio``/``image`` may be ``null``."""

    username: Username | None = None
    email: Email | None = None
    password: Password | None = None
    bio: Bio | None = None
    image: Image | None = None


class NewArticle(_Input):
    title: Title
    description: Description
    body: Body
    tagList: Annotated[list[TagName], Field(max_length=MAX_TAGS)] = []  # noqa: N815


class ArticleChanges(_Input):
    title: Title | None = None
    description: Description | None = None
    body: Body | None = None


class NewComment(_Input):
    body: Body


class UserBody(BaseModel):
    user: NewUser


class LoginBody(BaseModel):
    user: Login


class UserChangesBody(BaseModel):
    user: UserChanges


class ArticleBody(BaseModel):
    article: NewArticle


class ArticleChangesBody(BaseModel):
    article: ArticleChanges


class CommentBody(BaseModel):
    comment: NewComment


def timestamp(moment: datetime) -> str:
    """``2016-02-18T03:22:56.637Z``: UTC, milliseconds, on every backend."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_json(user: User, token: str) -> dict[str, Any]:
    return {
        "user": {
            "email": user.email,
            "token": token,
            "username": user.username,
            "bio": user.bio,
            "image": user.image,
        }
    }


def profile_json(user: User, *, following: bool | None = None) -> dict[str, Any]:
    """``following``: as given, else as the read that loaded ``user`` found it."""
    return {
        "username": user.username,
        "bio": user.bio,
        "image": user.image,
        "following": bool(user.following if following is None else following),
    }


def article_json(article: Article, *, body: bool = True) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "slug": article.slug,
        "title": article.title,
        "description": article.description,
        "tagList": [tag.name for tag in article.tags],
        "createdAt": timestamp(article.created_at),
        "updatedAt": timestamp(article.updated_at),
        "favorited": bool(article.favorited),
        "favoritesCount": article.favorites_count or 0,
        "author": profile_json(article.author),
    }
    if body:
        shown["body"] = article.body
    return shown


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "createdAt": timestamp(comment.created_at),
        "updatedAt": timestamp(comment.updated_at),
        "body": comment.body,
        "author": profile_json(comment.author),
    }
