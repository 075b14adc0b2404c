"""The RealWorld example (``examples/realworld``) under test, shared by tests/test_realworld_*.py.

Each test module runs one app per backend on a database of its own: a SQLite file, or
a database ``sqla_repo_test_<pid>_<hex>`` created on the server for the module (the
package's own test tables in the run's shared database would collide with the app's
``users``) and dropped when the module ends, whatever happened; a run that is killed
leaves it to the next run's leftover cleanup (``tests/conftest.py``).

Users that a test only needs to *have* are inserted directly with a precomputed Argon2
hash and a token minted with the app's secret: registration through the API hashes
with Argon2, which is slow on purpose.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from examples.realworld import security
from examples.realworld.app import ConduitSettings, create_app
from examples.realworld.models import ArticleTag, Comment, Favorite, Follow, User
from examples.realworld.repositories import (
    ArticleRepository,
    ArticleTagRepository,
    CommentRepository,
    FavoriteRepository,
    FollowRepository,
    TagRepository,
    UserRepository,
)
from examples.realworld.security import issue_token
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sqla_repo import DatabaseSettings
from tests.conftest import IN_CI, SERVER_URLS, _admin, _create_run_database, _drop_statement

BACKENDS = ("sqlite", "postgresql", "mysql")
SECRET = "realworld-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""Argon2id at its cheapest, put in place of the app's hasher while it runs under test:
the parameters travel inside each hash, so verifying works the same, and a registration
costs milliseconds instead of half a second of CPU."""
PASSWORD_HASH = FAST_HASHER.hash(PASSWORD)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

USER_KEYS = {"email", "token", "username", "bio", "image"}
PROFILE_KEYS = {"username", "bio", "image", "following"}
LISTED_ARTICLE_KEYS = {
    "slug",
    "title",
    "description",
    "tagList",
    "createdAt",
    "updatedAt",
    "favorited",
    "favoritesCount",
    "author",
}
ARTICLE_KEYS = {*LISTED_ARTICLE_KEYS, "body"}
COMMENT_KEYS = {"id", "createdAt", "updatedAt", "body", "author"}

_names = itertools.count()


def unique(prefix: str = "u") -> str:
    """A name no other test uses (a valid username, tag or title word)."""
    return f"{prefix}{next(_names)}_{uuid.uuid4().hex[:8]}"


def _in_thread(function: Any, *args: Any) -> Any:
    """Run ``function`` (which calls ``asyncio.run``) away from the test's event loop."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function, *args).result()


@contextmanager
def database_url(backend: str, directory: Path) -> Iterator[URL]:
    """An empty database for the app on ``backend``, dropped afterwards (servers)."""
    if backend == "sqlite":
        yield make_url(f"sqlite+aiosqlite:///{directory / 'conduit.db'}")
        return
    admin = SERVER_URLS[backend]
    created = _in_thread(_create_run_database, admin)
    if created.url is None:
        message = f"{backend} server unreachable: {created.problem}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = created.url.database
    assert name is not None
    try:
        yield created.url
    finally:
        drop = [_drop_statement(backend, name)]
        _in_thread(asyncio.run, _admin(make_url(admin), drop))


def settings_for(url: URL) -> DatabaseSettings:
    return DatabaseSettings(url=url.render_as_string(hide_password=False))


@dataclass(frozen=True)
class Member:
    """A user of the app and its token."""

    id: int
    username: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


@dataclass
class Statements:
    """The statements an engine sent; SQLite's ``BEGIN``/``BEGIN IMMEDIATE`` apart."""

    sent: list[str] = field(default_factory=list)

    @property
    def begins(self) -> int:
        """The explicit ``BEGIN`` statements (SQLite's; the servers begin implicitly)."""
        return sum(1 for statement in self.sent if _is_begin(statement))

    @property
    def queries(self) -> list[str]:
        """Every statement but those ``BEGIN``s: the number to compare across backends."""
        return [statement for statement in self.sent if not _is_begin(statement)]

    def describe(self) -> str:
        return "\n".join(" ".join(statement.split())[:160] for statement in self.sent)


def _is_begin(statement: str) -> bool:
    return statement.strip().upper() in ("BEGIN", "BEGIN IMMEDIATE")


class Conduit:
    """The running app, an HTTP client for it and direct access to its database."""

    def __init__(self, backend: str, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.backend = backend
        self.app = app
        self.http = http
        self.engine: AsyncEngine = app.state.engine
        self.sessions: async_sessionmaker[AsyncSession] = app.state.sessionmaker

    @contextmanager
    def recording(self) -> Iterator[Statements]:
        """Every statement the app's engine sends inside the block."""
        statements = Statements()

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.sent.append(statement)

        event.listen(self.engine.sync_engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", record)

    async def members(self, count: int, prefix: str = "u") -> list[Member]:
        """``count`` new users, inserted in one statement, with their tokens."""
        names = [unique(prefix) for _ in range(count)]
        async with self.sessions.begin() as session:
            users = await UserRepository(session).create_many(
                [
                    {
                        "username": name,
                        "email": f"{name}@example.com",
                        "password_hash": PASSWORD_HASH,
                    }
                    for name in names
                ]
            )
            found = [(user.id, user.username, user.email) for user in users]
        return [
            Member(id_, name, email, issue_token(id_, SECRET, timedelta(hours=1)))
            for id_, name, email in found
        ]

    async def member(self, prefix: str = "u") -> Member:
        return (await self.members(1, prefix))[0]

    async def article(
        self,
        author: Member,
        *,
        title: str | None = None,
        tags: Sequence[str] = (),
        body: str = "It takes a Jacobian",
    ) -> dict[str, Any]:
        """A new article through the API: its JSON."""
        response = await self.http.post(
            "/articles",
            headers=author.auth,
            json={
                "article": {
                    "title": title or unique("Title "),
                    "description": "Ever wonder how?",
                    "body": body,
                    "tagList": list(tags),
                }
            },
        )
        assert response.status_code == 201, response.text
        article: dict[str, Any] = response.json()["article"]
        return article

    async def comment(self, author: Member, slug: str, body: str = "Thank you!") -> dict[str, Any]:
        response = await self.http.post(
            f"/articles/{slug}/comments", headers=author.auth, json={"comment": {"body": body}}
        )
        assert response.status_code == 200, response.text
        comment: dict[str, Any] = response.json()["comment"]
        return comment

    async def seed_articles(
        self,
        authors: Sequence[Member],
        count: int,
        *,
        tags: Sequence[str],
        fans: Sequence[Member] = (),
    ) -> list[int]:
        """``count`` articles round-robin by ``authors``, each with every tag of ``tags``
        and favorited by every fan, written directly in a few multi-row statements."""
        async with self.sessions.begin() as session:
            articles = await ArticleRepository(session).create_many(
                [
                    {
                        "slug": (slug := unique("seeded-")).lower(),
                        "title": slug,
                        "description": "seeded",
                        "body": "seeded body",
                        "author_id": authors[n % len(authors)].id,
                    }
                    for n in range(count)
                ]
            )
            ids = [article.id for article in articles]
            stored = await TagRepository(session).ensure(list(tags))
            await ArticleTagRepository(session).create_many(
                [
                    {"article_id": article, "tag_id": tag.id, "position": position}
                    for article in ids
                    for position, tag in enumerate(stored)
                ],
                returning=False,
            )
            if fans:
                await FavoriteRepository(session).create_many(
                    [{"user_id": fan.id, "article_id": article} for fan in fans for article in ids],
                    returning=False,
                )
        return ids

    async def seed_comments(self, article_slug: str, authors: Sequence[Member], count: int) -> None:
        async with self.sessions.begin() as session:
            article_id, _ = await ArticleRepository(session).id_of(article_slug)
            await CommentRepository(session).create_many(
                [
                    {
                        "body": f"comment {n}",
                        "article_id": article_id,
                        "author_id": authors[n % len(authors)].id,
                    }
                    for n in range(count)
                ],
                returning=False,
            )

    async def follow(self, follower: Member, followees: Sequence[Member]) -> None:
        async with self.sessions.begin() as session:
            await FollowRepository(session).create_many(
                [
                    {"follower_id": follower.id, "followee_id": followee.id}
                    for followee in followees
                ],
                returning=False,
            )

    async def favorites_of(self, article_slug: str) -> int:
        """The favorite rows of the article, counted in the database."""
        async with self.sessions() as session:
            article_id, _ = await ArticleRepository(session).id_of(article_slug)
            found = await session.scalar(
                select(func.count()).select_from(Favorite).where(Favorite.article_id == article_id)
            )
            return int(found or 0)

    async def follows_of(self, member: Member) -> int:
        async with self.sessions() as session:
            found = await session.scalar(
                select(func.count()).select_from(Follow).where(Follow.follower_id == member.id)
            )
            return int(found or 0)

    async def article_id(self, slug: str) -> int:
        async with self.sessions() as session:
            article_id, _ = await ArticleRepository(session).id_of(slug)
            return article_id

    async def rows_of_article(self, article_id: int) -> tuple[int, int, int]:
        """How many comments, favorites and tags rows refer to the article."""
        counts = []
        async with self.sessions() as session:
            for model in (Comment, Favorite, ArticleTag):
                found = await session.scalar(
                    select(func.count()).select_from(model).where(model.article_id == article_id)
                )
                counts.append(int(found or 0))
        return counts[0], counts[1], counts[2]

    async def password_hash(self, username: str) -> str:
        async with self.sessions() as session:
            found = await session.scalar(
                select(User.password_hash).where(User.username == username)
            )
            assert found is not None
            return found

    async def comment_rows(self, article_slug: str) -> list[int]:
        async with self.sessions() as session:
            article_id, _ = await ArticleRepository(session).id_of(article_slug)
            found = await session.scalars(
                select(Comment.id).where(Comment.article_id == article_id).order_by(Comment.id)
            )
            return list(found)


def build_app(url: URL) -> FastAPI:
    return create_app(settings_for(url), ConduitSettings(jwt_secret=SecretStr(SECRET)))


@asynccontextmanager
async def running(backend: str, url: URL) -> AsyncIterator[Conduit]:
    """The app on ``url`` (its lifespan run: migrations, engine), and a client for it."""
    app = build_app(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(security, "_hasher", FAST_HASHER)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test/api") as http:
                yield Conduit(backend, app, http)


# --- the shapes of responses --------------------------------------------------------------


def assert_profile(
    profile: Any, *, username: str | None = None, following: bool | None = None
) -> None:
    assert isinstance(profile, dict)
    assert set(profile) == PROFILE_KEYS, profile
    assert isinstance(profile["username"], str)
    assert profile["bio"] is None or isinstance(profile["bio"], str)
    assert profile["image"] is None or isinstance(profile["image"], str)
    assert isinstance(profile["following"], bool)
    if username is not None:
        assert profile["username"] == username
    if following is not None:
        assert profile["following"] is following


def assert_article(article: Any, *, listed: bool = False) -> None:
    """An Article (``listed``: an item of Multiple articles, which has no ``body``)."""
    assert isinstance(article, dict)
    assert set(article) == (LISTED_ARTICLE_KEYS if listed else ARTICLE_KEYS), article
    for key in ("slug", "title", "description"):
        assert isinstance(article[key], str)
    if not listed:
        assert isinstance(article["body"], str)
    assert isinstance(article["tagList"], list)
    assert all(isinstance(tag, str) for tag in article["tagList"])
    assert TIMESTAMP.match(article["createdAt"]), article["createdAt"]
    assert TIMESTAMP.match(article["updatedAt"]), article["updatedAt"]
    assert isinstance(article["favorited"], bool)
    assert isinstance(article["favoritesCount"], int)
    assert not isinstance(article["favoritesCount"], bool)
    assert_profile(article["author"])


def assert_articles(response: httpx.Response) -> list[dict[str, Any]]:
    """A 200 with Multiple articles: the items, each checked."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"articles", "articlesCount"}
    assert isinstance(payload["articlesCount"], int)
    items: list[dict[str, Any]] = payload["articles"]
    for item in items:
        assert_article(item, listed=True)
    return items


def assert_comment(comment: Any) -> None:
    assert isinstance(comment, dict)
    assert set(comment) == COMMENT_KEYS, comment
    assert isinstance(comment["id"], int)
    assert isinstance(comment["body"], str)
    assert TIMESTAMP.match(comment["createdAt"]), comment["createdAt"]
    assert TIMESTAMP.match(comment["updatedAt"]), comment["updatedAt"]
    assert_profile(comment["author"])


def assert_user(payload: Any, *, username: str, email: str) -> str:
    """A User response for ``username``: its token."""
    assert isinstance(payload, dict)
    assert set(payload) == {"user"}
    user = payload["user"]
    assert set(user) == USER_KEYS, user
    assert (user["username"], user["email"]) == (username, email)
    assert isinstance(user["token"], str)
    assert user["token"].count(".") == 2  # a JWT
    token: str = user["token"]
    return token


def assert_errors(response: httpx.Response, status: int, *fields: str) -> dict[str, list[str]]:
    """The spec's error body ``{"errors": {"body": [...], ...}}`` with messages for ``fields``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"errors"}, payload
    errors = payload["errors"]
    assert isinstance(errors, dict)
    assert "body" in errors
    for messages in errors.values():
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(message, str) for message in messages)
    for name in fields:
        assert name in errors, (name, errors)
    found: dict[str, list[str]] = errors
    return found


# --- the app per test module -----------------------------------------------------------------
# Import both into a test module (with ``pytestmark = pytest.mark.asyncio(loop_scope="module")``):
# each module gets its own database and app per backend, migrated once. Their names differ
# from the fixtures' so that tests' ``conduit`` parameters do not shadow an import.


@pytest.fixture(scope="module", params=BACKENDS, name="conduit_url")
def conduit_url_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, URL]]:
    backend = str(request.param)
    module = request.module.__name__.rpartition(".")[2]
    directory: Path = tmp_path_factory.mktemp(f"{module}-{backend}")
    with database_url(backend, directory) as url:
        yield backend, url


@pytest_asyncio.fixture(scope="module", loop_scope="module", name="conduit")
async def conduit_fixture(conduit_url: tuple[str, URL]) -> AsyncIterator[Conduit]:
    async with running(*conduit_url) as app:
        yield app
