"""The RealWorld example under load: statements per request, and concurrent requests.

Statement counts come from a ``before_cursor_execute`` listener on the app's engine.
``Statements.queries`` leaves out SQLite's explicit ``BEGIN``/``BEGIN IMMEDIATE`` (the
servers begin implicitly), so one number holds on every backend; the ``BEGIN`` lines
are counted apart (one per request on SQLite, none on the servers). The data is seeded
directly in a few multi-row INSERTs: more than ``MAX_LIMIT`` articles, each with an
author, three tags and favorites, and a reader who follows most of the authors.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from examples.realworld.articles import MAX_LIMIT

from tests.realworld_client import (  # noqa: F401 - the two *_fixture: this module's app
    PASSWORD,
    Conduit,
    Member,
    Statements,
    assert_article,
    assert_articles,
    conduit_fixture,
    conduit_url_fixture,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ARTICLES = MAX_LIMIT + 110
"""Seeded articles: a full page of the largest size, also in the feed."""


@dataclass(frozen=True)
class Seeded:
    reader: Member
    authors: list[Member]
    fans: list[Member]
    tags: list[str]
    slug: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(conduit: Conduit) -> Seeded:
    reader, *others = await conduit.members(10, "seed")
    authors, fans = others[:6], others[6:]
    tags = [unique("tag") for _ in range(3)]
    await conduit.seed_articles(authors, ARTICLES, tags=tags, fans=[reader, *fans])
    await conduit.follow(reader, authors[:5])  # 5 of 6 authors: > MAX_LIMIT in the feed
    slug = (await conduit.article(authors[0], tags=tags))["slug"]
    await conduit.http.get("/tags")  # the pool has its connection: nothing of that counted
    return Seeded(reader, authors, fans, tags, slug)


async def _count(
    conduit: Conduit,
    method: str,
    path: str,
    *,
    status: int = 200,
    **options: Any,
) -> tuple[Statements, httpx.Response]:
    """The statements of one request (alone: nothing else runs meanwhile)."""
    with conduit.recording() as statements:
        response = await conduit.http.request(method, path, **options)
    assert response.status_code == status, response.text
    expected_begins = 1 if conduit.backend == "sqlite" else 0
    assert statements.begins == expected_begins, statements.describe()
    return statements, response


def _counts(*recorded: Statements) -> list[int]:
    return [len(statements.queries) for statements in recorded]


# --- a fixed number of statements per request -------------------------------------------


async def test_an_article_list_is_three_statements_whatever_its_size(
    conduit: Conduit, seeded: Seeded
) -> None:
    auth = seeded.reader.auth
    recorded = []
    for limit in (20, 100, MAX_LIMIT):
        statements, response = await _count(
            conduit, "GET", "/articles", params={"limit": limit}, headers=auth
        )
        items = assert_articles(response)
        assert len(items) == limit
        assert response.json()["articlesCount"] >= ARTICLES
        recorded.append(statements)
    # the page with its count, the authors (with following), the tags
    assert _counts(*recorded) == [3, 3, 3], [s.describe() for s in recorded]
    seeded_item = next(i for i in items if i["slug"] != seeded.slug)
    assert seeded_item["favorited"] is True
    assert seeded_item["favoritesCount"] == 1 + len(seeded.fans)

    anonymous, _ = await _count(conduit, "GET", "/articles", params={"limit": 100})
    filters = {"tag": seeded.tags[0], "favorited": seeded.fans[0].username}
    filtered = [
        (await _count(conduit, "GET", "/articles", params={**filters, "limit": limit}))[0]
        for limit in (20, 100)
    ]
    assert _counts(anonymous, *filtered) == [3, 3, 3]


async def test_the_feed_is_three_statements_whatever_its_size(
    conduit: Conduit, seeded: Seeded
) -> None:
    recorded = []
    for limit in (20, 100, MAX_LIMIT):
        statements, response = await _count(
            conduit, "GET", "/articles/feed", params={"limit": limit}, headers=seeded.reader.auth
        )
        items = assert_articles(response)
        assert len(items) == limit
        assert all(item["author"]["following"] for item in items)
        recorded.append(statements)
    assert _counts(*recorded) == [3, 3, 3], [s.describe() for s in recorded]


async def test_one_article_is_three_statements(conduit: Conduit, seeded: Seeded) -> None:
    path = f"/articles/{seeded.slug}"
    reader, _ = await _count(conduit, "GET", path, headers=seeded.reader.auth)
    anonymous, response = await _count(conduit, "GET", path)
    assert_article(response.json()["article"])
    assert _counts(reader, anonymous) == [3, 3], reader.describe()


async def test_comments_are_three_statements_whatever_their_number(
    conduit: Conduit, seeded: Seeded
) -> None:
    author = seeded.authors[0]
    one = (await conduit.article(author))["slug"]
    many = (await conduit.article(author))["slug"]
    await conduit.seed_comments(one, seeded.fans[:1], 1)
    await conduit.seed_comments(many, seeded.fans, 30)
    recorded = []
    for slug, number in ((one, 1), (many, 30)):
        statements, response = await _count(
            conduit, "GET", f"/articles/{slug}/comments", headers=seeded.reader.auth
        )
        assert len(response.json()["comments"]) == number
        recorded.append(statements)
    # the slug, the comments, their authors (with following)
    assert _counts(*recorded) == [3, 3], [s.describe() for s in recorded]


REPEAT_FAVORITE = {"sqlite": 6, "postgresql": 6, "mysql": 5}
"""A favorite that exists already: ``get_or_create`` reads it back after the insert that
did nothing (MariaDB returns it from the statement itself)."""


async def test_favoriting_is_five_statements(conduit: Conduit, seeded: Seeded) -> None:
    fan = await conduit.member()
    path = f"/articles/{seeded.slug}/favorite"
    first, response = await _count(conduit, "POST", path, headers=fan.auth)
    assert response.json()["article"]["favorited"] is True
    again, _ = await _count(conduit, "POST", path, headers=fan.auth)
    undone, response = await _count(conduit, "DELETE", path, headers=fan.auth)
    assert response.json()["article"]["favorited"] is False
    if conduit.backend == "sqlite":
        assert [s.sent[0] for s in (first, again, undone)] == ["BEGIN IMMEDIATE"] * 3
    # the slug, the insert-if-absent (or the delete), the article's three
    expected = [5, REPEAT_FAVORITE[conduit.backend], 5]
    assert _counts(first, again, undone) == expected, [s.describe() for s in (first, again, undone)]


async def test_tags_are_one_statement(conduit: Conduit, seeded: Seeded) -> None:
    statements, response = await _count(conduit, "GET", "/tags")
    assert set(seeded.tags) <= set(response.json()["tags"])
    assert _counts(statements) == [1], statements.describe()


CREATE_ARTICLE = {"sqlite": 6, "postgresql": 5, "mysql": 6}
"""The article's insert-if-absent under its slug, the tags' upsert, the article_tags
INSERT, then the article read back (its tags are known: not read again). On PostgreSQL the
article_tags rows are copied in (asyncpg's ``COPY``, ``create_many(returning=False)``),
which no ``before_cursor_execute`` listener sees."""


async def test_creating_an_article_costs_the_same_whatever_its_tags(
    conduit: Conduit, seeded: Seeded
) -> None:
    author = seeded.authors[1]
    recorded = []
    for count in (1, 20):
        article = {
            "title": unique("Tagged "),
            "description": "d",
            "body": "b",
            "tagList": [unique("t") for _ in range(count)],
        }
        statements, response = await _count(
            conduit, "POST", "/articles", status=201, json={"article": article}, headers=author.auth
        )
        assert response.json()["article"]["tagList"] == article["tagList"]
        recorded.append(statements)
    expected = CREATE_ARTICLE[conduit.backend]
    assert _counts(*recorded) == [expected, expected], [s.describe() for s in recorded]


# --- concurrent requests ----------------------------------------------------------------


async def test_fifty_users_favorite_one_article_at_once(conduit: Conduit) -> None:
    http = conduit.http
    author, *fans = await conduit.members(51, "fan")
    slug = (await conduit.article(author))["slug"]
    path = f"/articles/{slug}/favorite"

    favorited = await asyncio.gather(*(http.post(path, headers=fan.auth) for fan in fans))
    assert [response.status_code for response in favorited] == [200] * 50, [
        response.text for response in favorited if response.status_code != 200
    ]
    for response in favorited:
        article = response.json()["article"]
        assert article["favorited"] is True
        assert 1 <= article["favoritesCount"] <= 50
    got = await http.get(f"/articles/{slug}")
    assert got.json()["article"]["favoritesCount"] == 50
    assert await conduit.favorites_of(slug) == 50

    undone = await asyncio.gather(*(http.delete(path, headers=fan.auth) for fan in fans[:20]))
    assert [response.status_code for response in undone] == [200] * 20
    assert all(response.json()["article"]["favorited"] is False for response in undone)
    got = await http.get(f"/articles/{slug}")
    assert got.json()["article"]["favoritesCount"] == 30
    assert await conduit.favorites_of(slug) == 30
    by_fan = await http.get(f"/articles/{slug}", headers=fans[0].auth)
    assert by_fan.json()["article"]["favorited"] is False
    by_fan = await http.get(f"/articles/{slug}", headers=fans[-1].auth)
    assert by_fan.json()["article"]["favorited"] is True


async def test_one_user_favoriting_at_once_ten_times_is_one_favorite(conduit: Conduit) -> None:
    author, fan = await conduit.members(2)
    slug = (await conduit.article(author))["slug"]
    path = f"/articles/{slug}/favorite"
    responses = await asyncio.gather(
        *(conduit.http.post(path, headers=fan.auth) for _ in range(10))
    )
    assert [response.status_code for response in responses] == [200] * 10, [
        response.text for response in responses
    ]
    assert await conduit.favorites_of(slug) == 1


AT_ONCE = 10
"""Articles created at once, each by its own author."""


async def test_articles_with_one_title_at_once_all_succeed(conduit: Conduit) -> None:
    """The slug is the app's choice: a client that sent a title must not be told that
    the slug it never sent "has already been taken"."""
    authors = await conduit.members(AT_ONCE)
    article = {"title": unique("Concurrent "), "description": "d", "body": "b"}
    responses = await asyncio.gather(
        *(
            conduit.http.post("/articles", headers=a.auth, json={"article": article})
            for a in authors
        )
    )
    assert [response.status_code for response in responses] == [201] * AT_ONCE, [
        response.text for response in responses
    ]
    assert len({response.json()["article"]["slug"] for response in responses}) == AT_ONCE


async def test_articles_with_one_new_tag_at_once_all_succeed(conduit: Conduit) -> None:
    authors = await conduit.members(AT_ONCE)
    tags = [unique("tag"), unique("tag")]
    responses = await asyncio.gather(
        *(
            conduit.http.post(
                "/articles",
                headers=author.auth,
                json={
                    "article": {
                        "title": unique("Tags "),
                        "description": "d",
                        "body": "b",
                        "tagList": tags,
                    }
                },
            )
            for author in authors
        )
    )
    assert [response.status_code for response in responses] == [201] * AT_ONCE, [
        response.text for response in responses
    ]
    answered = [response.json()["article"]["tagList"] for response in responses]
    stored = [
        (await conduit.http.get(f"/articles/{response.json()['article']['slug']}")).json()[
            "article"
        ]["tagList"]
        for response in responses
    ]
    listed = await conduit.http.get("/articles", params={"tag": tags[0]})
    assert (stored, answered, listed.json()["articlesCount"]) == (
        [tags] * AT_ONCE,
        [tags] * AT_ONCE,
        AT_ONCE,
    )


async def test_one_user_following_at_once_ten_times_is_one_follow(conduit: Conduit) -> None:
    follower, followee = await conduit.members(2)
    path = f"/profiles/{followee.username}/follow"
    responses = await asyncio.gather(
        *(conduit.http.post(path, headers=follower.auth) for _ in range(10))
    )
    assert [response.status_code for response in responses] == [200] * 10, [
        response.text for response in responses
    ]
    assert all(response.json()["profile"]["following"] is True for response in responses)
    assert await conduit.follows_of(follower) == 1


async def test_one_username_registered_at_once_thrice_is_one_user(conduit: Conduit) -> None:
    name = unique("race")
    responses = await asyncio.gather(
        *(
            conduit.http.post(
                "/users",
                json={
                    "user": {
                        "username": name,
                        "email": f"{name}{n}@example.com",
                        "password": PASSWORD,
                    }
                },
            )
            for n in range(3)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 422, 422], [response.text for response in responses]
    for response in responses:
        if response.status_code == 422:
            assert response.json()["errors"]["username"] == ["has already been taken"]


REPEAT_FOLLOW = {"sqlite": 3, "postgresql": 3, "mysql": 2}
"""A follow that exists already: the profile, then ``get_or_create`` (and its read back)."""


async def test_every_other_endpoint_sends_a_fixed_number_of_statements(
    conduit: Conduit,
) -> None:
    """The number each sends with a small article; observed, and the same on every
    backend but a repeated follow (``get_or_create``'s read back, as for favorites)."""
    ann, bob = await conduit.members(2)
    slug = (await conduit.article(ann, tags=[unique("tag")]))["slug"]
    comment = await conduit.comment(ann, slug)
    new_user = {"username": unique(), "email": f"{unique()}@example.com", "password": PASSWORD}
    follow = f"/profiles/{ann.username}/follow"
    requests: list[tuple[str, str, int, int, dict[str, Any]]] = [
        ("POST", "/users", 201, 1, {"json": {"user": new_user}}),
        (
            "POST",
            "/users/login",
            200,
            1,
            {"json": {"user": {"email": ann.email, "password": PASSWORD}}},
        ),
        ("GET", "/user", 200, 1, {"headers": ann.auth}),
        ("PUT", "/user", 200, 3, {"headers": ann.auth, "json": {"user": {"bio": "b"}}}),
        ("GET", f"/profiles/{ann.username}", 200, 1, {"headers": bob.auth}),
        ("POST", follow, 200, 2, {"headers": bob.auth}),
        ("POST", follow, 200, REPEAT_FOLLOW[conduit.backend], {"headers": bob.auth}),
        ("DELETE", follow, 200, 2, {"headers": bob.auth}),
        (
            "PUT",
            f"/articles/{slug}",
            200,
            6,
            {"headers": ann.auth, "json": {"article": {"body": "b2"}}},
        ),
        (
            "POST",
            f"/articles/{slug}/comments",
            200,
            4,
            {"headers": bob.auth, "json": {"comment": {"body": "c"}}},
        ),
        ("DELETE", f"/articles/{slug}/comments/{comment['id']}", 204, 3, {"headers": ann.auth}),
        (  # a new slug: its UPDATE in a savepoint (SAVEPOINT, UPDATE, RELEASE)
            "PUT",
            f"/articles/{slug}",
            200,
            8,
            {"headers": ann.auth, "json": {"article": {"title": unique("T")}}},
        ),
    ]
    observed = []
    for method, path, status, _, options in requests:
        statements, response = await _count(conduit, method, path, status=status, **options)
        observed.append(len(statements.queries))
        if method == "PUT" and path.startswith("/articles/"):
            slug = response.json()["article"]["slug"]
    deleted, _ = await _count(conduit, "DELETE", f"/articles/{slug}", status=204, headers=ann.auth)
    observed.append(len(deleted.queries))
    assert observed == [expected for _, _, _, expected, _ in requests] + [2]
