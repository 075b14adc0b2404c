"""The RealWorld example's refusals: 422, 401, 403 and 404 in the spec's error format.

Every bad request is answered in ``{"errors": {"body": [...], <field>: [...]}}``, never
with a 500, and changes nothing. One app per backend for the module; the article and
comment the refusals aim at (``Scene``) are never changed by them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import pytest_asyncio
from examples.realworld.articles import MAX_LIMIT

from tests.realworld_client import (  # noqa: F401 - the two *_fixture: this module's app
    PASSWORD,
    SECRET,
    Conduit,
    Member,
    assert_article,
    assert_errors,
    conduit_fixture,
    conduit_url_fixture,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Scene:
    """Ann's article with Ann's comment, and Bob; what the bad requests aim at."""

    ann: Member
    bob: Member
    slug: str
    comment: int
    article: dict[str, Any]

    def fill(self, path: str) -> str:
        return path.format(slug=self.slug, comment=self.comment, ann=self.ann.username)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(conduit: Conduit) -> Scene:
    ann, bob = await conduit.members(2)
    article = await conduit.article(ann, tags=[unique("tag")])
    comment = await conduit.comment(ann, article["slug"])
    return Scene(ann, bob, article["slug"], comment["id"], article)


async def _unchanged(conduit: Conduit, scene: Scene, method: str = "POST") -> None:
    """The scene's article and comment are as they were (after a request that may write)."""
    if method == "GET":
        return
    got = await conduit.http.get(f"/articles/{scene.slug}")
    assert got.status_code == 200
    assert got.json()["article"] == scene.article
    assert await conduit.comment_rows(scene.slug) == [scene.comment]


def _token(secret: str = SECRET, **claims: Any) -> str:
    now = datetime.now(UTC)
    return jwt.encode({"iat": now, "exp": now + timedelta(hours=1), **claims}, secret, "HS256")


# --- 422: the request is malformed -----------------------------------------------------

ARTICLE = {"title": "A title", "description": "d", "body": "b"}
LONG = 100_000

VALIDATION = [
    # missing fields
    ("POST", "/users", {"user": {"username": "someone"}}, ["email", "password"]),
    ("POST", "/users", {}, ["user"]),
    ("POST", "/users/login", {"user": {}}, ["email", "password"]),
    ("POST", "/articles", {"article": {"description": "d", "body": "b"}}, ["title"]),
    ("PUT", "/articles/{slug}", {}, ["article"]),
    ("POST", "/articles/{slug}/comments", {"comment": {}}, ["body"]),
    ("PUT", "/user", {}, ["user"]),
    # wrong types
    ("POST", "/articles", {"article": {**ARTICLE, "title": 5}}, ["title"]),
    ("POST", "/articles", {"article": {**ARTICLE, "tagList": "dragons"}}, ["tagList"]),
    ("POST", "/articles", {"article": {**ARTICLE, "tagList": [1]}}, ["tagList"]),
    ("POST", "/articles", [ARTICLE], ["body"]),
    ("PUT", "/articles/{slug}", {"article": {"body": ["x"]}}, ["body"]),
    ("POST", "/users", {"user": {"username": 5, "email": "a@b.c", "password": PASSWORD}}, []),
    ("POST", "/users/login", {"user": {"email": "a@b.c", "password": True}}, ["password"]),
    ("PUT", "/user", {"user": {"bio": 5}}, ["bio"]),
    ("POST", "/articles/{slug}/comments", {"comment": {"body": 5}}, ["body"]),
    # too long
    ("POST", "/articles", {"article": {**ARTICLE, "title": "t" * 201}}, ["title"]),
    ("POST", "/articles", {"article": {**ARTICLE, "description": "d" * 1001}}, ["description"]),
    ("POST", "/articles", {"article": {**ARTICLE, "body": "b" * (LONG + 1)}}, ["body"]),
    ("POST", "/articles", {"article": {**ARTICLE, "tagList": ["t" * 65]}}, ["tagList"]),
    ("POST", "/articles", {"article": {**ARTICLE, "tagList": [f"t{n}" for n in range(21)]}}, []),
    ("PUT", "/articles/{slug}", {"article": {"title": "t" * 201}}, ["title"]),
    ("POST", "/articles/{slug}/comments", {"comment": {"body": "c" * (LONG + 1)}}, ["body"]),
    (
        "POST",
        "/users",
        {"user": {"username": "u" * 65, "email": "a@b.c", "password": PASSWORD}},
        [],
    ),
    ("POST", "/users", {"user": {"username": "ok", "email": "a@b.c", "password": "p" * 257}}, []),
    ("PUT", "/user", {"user": {"username": "u" * 65}}, ["username"]),
    ("PUT", "/user", {"user": {"email": "e" * 250 + "@b.com"}}, ["email"]),
    ("PUT", "/user", {"user": {"bio": "b" * (LONG + 1)}}, ["bio"]),
    ("PUT", "/user", {"user": {"image": "i" * 2049}}, ["image"]),
    # empty or badly formed
    ("POST", "/articles", {"article": {**ARTICLE, "title": "   "}}, ["title"]),
    ("POST", "/users", {"user": {"username": "a b", "email": "a@b.c", "password": PASSWORD}}, []),
    ("POST", "/users", {"user": {"username": "ab", "email": "nobody", "password": PASSWORD}}, []),
    ("PUT", "/user", {"user": {"username": None}}, ["username"]),
    # NUL characters in bodies
    ("POST", "/articles", {"article": {**ARTICLE, "title": "a\x00b"}}, ["title"]),
    ("POST", "/articles", {"article": {**ARTICLE, "body": "a\x00b"}}, ["body"]),
    ("POST", "/articles", {"article": {**ARTICLE, "tagList": ["a\x00b"]}}, ["tagList"]),
    ("PUT", "/articles/{slug}", {"article": {"description": "a\x00b"}}, ["description"]),
    ("POST", "/articles/{slug}/comments", {"comment": {"body": "a\x00b"}}, ["body"]),
    ("PUT", "/user", {"user": {"bio": "a\x00b"}}, ["bio"]),
    ("PUT", "/user", {"user": {"password": "password\x00"}}, ["password"]),
    ("POST", "/users/login", {"user": {"email": "a@b.c", "password": "a\x00b"}}, ["password"]),
    # NUL characters in query and path parameters
    ("GET", "/articles?tag=a%00b", None, ["tag"]),
    ("GET", "/articles?author=a%00b", None, ["author"]),
    ("GET", "/articles?favorited=a%00b", None, ["favorited"]),
    ("GET", "/articles/a%00b", None, ["slug"]),
    ("PUT", "/articles/a%00b", {"article": {"body": "x"}}, ["slug"]),
    ("GET", "/articles/a%00b/comments", None, ["slug"]),
    ("POST", "/articles/a%00b/favorite", None, ["slug"]),
    ("DELETE", "/articles/{slug}/comments/1%00", None, ["comment_id"]),
    ("GET", "/profiles/a%00b", None, ["username"]),
    ("POST", "/profiles/a%00b/follow", None, ["username"]),
    # limit and offset
    ("GET", "/articles?limit=0", None, ["limit"]),
    ("GET", "/articles?limit=-1", None, ["limit"]),
    ("GET", f"/articles?limit={MAX_LIMIT + 1}", None, ["limit"]),
    ("GET", "/articles?limit=1001", None, ["limit"]),
    ("GET", "/articles?limit=ten", None, ["limit"]),
    ("GET", "/articles?offset=-1", None, ["offset"]),
    ("GET", f"/articles?offset={2**63}", None, ["offset"]),
    ("GET", "/articles/feed?limit=0", None, ["limit"]),
    ("GET", "/articles/feed?offset=-1", None, ["offset"]),
    ("GET", f"/articles/feed?limit={MAX_LIMIT + 1}", None, ["limit"]),
    # comment ids past 2**63 - 1, or not ids
    ("DELETE", f"/articles/{{slug}}/comments/{2**63}", None, ["comment_id"]),
    ("DELETE", f"/articles/{{slug}}/comments/{2**70}", None, ["comment_id"]),
    ("DELETE", "/articles/{slug}/comments/0", None, ["comment_id"]),
    ("DELETE", "/articles/{slug}/comments/-1", None, ["comment_id"]),
    ("DELETE", "/articles/{slug}/comments/one", None, ["comment_id"]),
    # one cannot follow oneself
    ("POST", "/profiles/{ann}/follow", None, ["username"]),
]


@pytest.mark.parametrize(("method", "path", "body", "fields"), VALIDATION)
async def test_a_malformed_request_is_a_422(
    conduit: Conduit,
    scene: Scene,
    method: str,
    path: str,
    body: Any,
    fields: list[str],
) -> None:
    response = await conduit.http.request(
        method, scene.fill(path), json=body, headers=scene.ann.auth
    )
    assert_errors(response, 422, *fields)
    await _unchanged(conduit, scene, method)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/users"),
        ("POST", "/users/login"),
        ("PUT", "/user"),
        ("POST", "/articles"),
        ("PUT", "/articles/{slug}"),
        ("POST", "/articles/{slug}/comments"),
    ],
)
async def test_malformed_json_is_a_422(
    conduit: Conduit, scene: Scene, method: str, path: str
) -> None:
    headers = {**scene.ann.auth, "Content-Type": "application/json"}
    response = await conduit.http.request(
        method, scene.fill(path), content=b"{bad", headers=headers
    )
    errors = assert_errors(response, 422)
    assert errors["body"] == ["is not valid JSON"]
    await _unchanged(conduit, scene, method)


async def test_the_longest_values_allowed_are_stored_whole(conduit: Conduit) -> None:
    ann = await conduit.member()
    title = "é" * 199 + "🐉"  # 200 characters, one of them 4 bytes in UTF-8
    tags = [unique("t").ljust(64, "x") for _ in range(20)]
    article = await conduit.article(ann, title=title, tags=tags, body="b" * LONG)
    got = await conduit.http.get(f"/articles/{article['slug']}")
    stored = got.json()["article"]
    assert_article(stored)
    assert (stored["title"], stored["body"], stored["tagList"]) == (title, "b" * LONG, tags)
    comment = await conduit.comment(ann, article["slug"], "c" * LONG)
    assert comment["body"] == "c" * LONG
    name = unique("n").ljust(64, "n")
    changed = await conduit.http.put(
        "/user", headers=ann.auth, json={"user": {"username": name, "bio": "🐉" * LONG}}
    )
    assert changed.status_code == 200, changed.text
    profile = await conduit.http.get(f"/profiles/{name}")
    assert profile.json()["profile"]["bio"] == "🐉" * LONG


async def test_a_taken_username_or_email_is_a_422_naming_it(conduit: Conduit) -> None:
    http = conduit.http
    ann, bob = await conduit.members(2)

    async def register(username: str, email: str) -> Any:
        user = {"username": username, "email": email, "password": PASSWORD}
        return await http.post("/users", json={"user": user})

    fresh = [unique("new") for _ in range(3)]
    same_name, same_email, same_email_upper = await asyncio.gather(
        register(ann.username, f"{fresh[0]}@example.com"),
        register(fresh[1], ann.email),
        register(fresh[2], ann.email.upper()),
    )
    for response, field in (
        (same_name, "username"),
        (same_email, "email"),
        (same_email_upper, "email"),
    ):
        errors = assert_errors(response, 422, field)
        assert errors[field] == ["has already been taken"]
        assert ann.email not in response.text
    for name in fresh:  # nothing was stored
        assert_errors(await http.get(f"/profiles/{name}"), 404)

    taken_name = await http.put(
        "/user", headers=bob.auth, json={"user": {"username": ann.username}}
    )
    assert assert_errors(taken_name, 422, "username")["username"] == ["has already been taken"]
    taken_email = await http.put(
        "/user", headers=bob.auth, json={"user": {"email": ann.email.title()}}
    )
    assert assert_errors(taken_email, 422, "email")["email"] == ["has already been taken"]
    current = await http.get("/user", headers=bob.auth)
    assert (current.json()["user"]["username"], current.json()["user"]["email"]) == (
        bob.username,
        bob.email,
    )


async def test_the_largest_limit_and_offset_are_accepted(conduit: Conduit, scene: Scene) -> None:
    for path in ("/articles", "/articles/feed"):
        largest = await conduit.http.get(
            path, params={"limit": MAX_LIMIT, "offset": 2**63 - 1}, headers=scene.bob.auth
        )
        assert largest.status_code == 200, largest.text
        assert largest.json()["articles"] == []


# --- 404: there is no such thing ---------------------------------------------------------

NOT_FOUND = [
    ("GET", "/articles/no-such-slug", None),
    ("PUT", "/articles/no-such-slug", {"article": {"body": "x"}}),
    ("DELETE", "/articles/no-such-slug", None),
    ("POST", "/articles/no-such-slug/favorite", None),
    ("DELETE", "/articles/no-such-slug/favorite", None),
    ("GET", "/articles/no-such-slug/comments", None),
    ("POST", "/articles/no-such-slug/comments", {"comment": {"body": "x"}}),
    ("DELETE", "/articles/no-such-slug/comments/{comment}", None),
    ("DELETE", f"/articles/{{slug}}/comments/{2**31}", None),
    ("DELETE", f"/articles/{{slug}}/comments/{2**31 + 1}", None),
    ("DELETE", f"/articles/{{slug}}/comments/{2**32}", None),
    ("DELETE", f"/articles/{{slug}}/comments/{2**63 - 1}", None),
    ("GET", "/profiles/no-such-user", None),
    ("POST", "/profiles/no-such-user/follow", None),
    ("DELETE", "/profiles/no-such-user/follow", None),
    ("GET", "/no-such-route", None),
]


@pytest.mark.parametrize(("method", "path", "body"), NOT_FOUND)
async def test_an_unknown_thing_is_a_404(
    conduit: Conduit, scene: Scene, method: str, path: str, body: Any
) -> None:
    response = await conduit.http.request(
        method, scene.fill(path), json=body, headers=scene.ann.auth
    )
    assert_errors(response, 404)
    await _unchanged(conduit, scene, method)


async def test_a_comment_of_another_article_is_a_404(conduit: Conduit, scene: Scene) -> None:
    other = await conduit.article(scene.ann)
    response = await conduit.http.delete(
        f"/articles/{other['slug']}/comments/{scene.comment}", headers=scene.ann.auth
    )
    assert_errors(response, 404)
    await _unchanged(conduit, scene)


# --- 401: no token, or a bad one -------------------------------------------------------

REQUIRED = [
    ("GET", "/user", None),
    ("PUT", "/user", {"user": {"bio": "changed"}}),
    ("POST", "/profiles/{ann}/follow", None),
    ("DELETE", "/profiles/{ann}/follow", None),
    ("GET", "/articles/feed", None),
    ("POST", "/articles", {"article": ARTICLE}),
    ("PUT", "/articles/{slug}", {"article": {"body": "changed"}}),
    ("DELETE", "/articles/{slug}", None),
    ("POST", "/articles/{slug}/favorite", None),
    ("DELETE", "/articles/{slug}/favorite", None),
    ("POST", "/articles/{slug}/comments", {"comment": {"body": "changed"}}),
    ("DELETE", "/articles/{slug}/comments/{comment}", None),
]
OPTIONAL = [
    ("GET", "/articles", None),
    ("GET", "/articles/{slug}", None),
    ("GET", "/articles/{slug}/comments", None),
    ("GET", "/profiles/{ann}", None),
]


OTHER_SECRET = "another-secret-of-thirty-two-bytes-or-more"


def bad_headers(scene: Scene) -> dict[str, dict[str, str]]:
    """Authorization headers that must be refused, by what is wrong with them."""
    past = datetime.now(UTC) - timedelta(hours=2)
    expired = jwt.encode(
        {"sub": str(scene.ann.id), "iat": past, "exp": past + timedelta(hours=1)}, SECRET, "HS256"
    )
    return {
        "forged": {"Authorization": f"Token {_token(OTHER_SECRET, sub=str(scene.ann.id))}"},
        "expired": {"Authorization": f"Token {expired}"},
        "no-exp": {"Authorization": "Token " + jwt.encode({"sub": str(scene.ann.id)}, SECRET)},
        "not-a-jwt": {"Authorization": "Token abc.def.ghi"},
        "garbage": {"Authorization": "garbage"},
        "scheme-only": {"Authorization": "Token"},
        "basic": {"Authorization": f"Basic {scene.ann.token}"},
        "bare-token": {"Authorization": scene.ann.token},
    }


@pytest.mark.parametrize(("method", "path", "body"), REQUIRED)
async def test_a_required_token_missing_or_bad_is_a_401(
    conduit: Conduit, scene: Scene, method: str, path: str, body: Any
) -> None:
    for problem, headers in [("none", {}), *bad_headers(scene).items()]:
        response = await conduit.http.request(method, scene.fill(path), json=body, headers=headers)
        assert response.status_code == 401, (problem, response.text)
        assert_errors(response, 401)
        assert response.headers["WWW-Authenticate"] == "Token"
    await _unchanged(conduit, scene)


@pytest.mark.parametrize(("method", "path", "body"), OPTIONAL)
async def test_an_optional_token_that_is_bad_is_a_401(
    conduit: Conduit, scene: Scene, method: str, path: str, body: Any
) -> None:
    anonymous = await conduit.http.request(method, scene.fill(path))
    assert anonymous.status_code == 200
    for problem, headers in bad_headers(scene).items():
        response = await conduit.http.request(method, scene.fill(path), headers=headers)
        assert response.status_code == 401, (problem, response.text)
        assert_errors(response, 401)


async def test_token_and_bearer_schemes_are_accepted(conduit: Conduit, scene: Scene) -> None:
    for scheme in ("Token", "Bearer", "token", "bearer"):
        headers = {"Authorization": f"{scheme} {scene.bob.token}"}
        response = await conduit.http.get("/user", headers=headers)
        assert response.status_code == 200, (scheme, response.text)
        assert response.json()["user"]["username"] == scene.bob.username


# --- 403: another user's article or comment -----------------------------------------------


async def test_another_users_article_or_comment_is_a_403(conduit: Conduit) -> None:
    http = conduit.http
    ann, bob = await conduit.members(2)
    article = await conduit.article(ann)
    slug = article["slug"]
    comment = await conduit.comment(ann, slug)
    refusals = [
        await http.put(f"/articles/{slug}", headers=bob.auth, json={"article": {"title": "Mine"}}),
        await http.delete(f"/articles/{slug}", headers=bob.auth),
        await http.delete(f"/articles/{slug}/comments/{comment['id']}", headers=bob.auth),
    ]
    for response in refusals:
        assert_errors(response, 403)
    got = await http.get(f"/articles/{slug}")
    assert got.json()["article"] == article
    assert await conduit.comment_rows(slug) == [comment["id"]]


# --- never a 500 ------------------------------------------------------------------------


async def test_hostile_input_is_never_a_500(conduit: Conduit, scene: Scene) -> None:
    http = conduit.http
    ghost = {"Authorization": f"Token {_token(sub=str(2**62))}"}  # signed, but nobody
    odd_subjects = [
        {"Authorization": f"Token {_token(sub=sub)}"} for sub in ("0", "-1", str(2**70), "ann")
    ]
    surrogate = b'{"article": {"title": "\\ud800", "description": "d", "body": "\\udfff"}}'
    deep = b"[" * 5000 + b"]" * 5000
    slug = scene.slug
    json_headers = {**scene.ann.auth, "Content-Type": "application/json"}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/articles", {"params": {"limit": 10**30}}),
        ("GET", "/articles", {"params": {"offset": 10**30}}),
        ("GET", "/articles", {"params": {"tag": "' OR 1=1 --"}}),
        ("GET", "/articles", {"params": {"tag": "%"}}),
        ("GET", "/articles", {"params": {"author": "_"}}),
        ("GET", "/articles", {"params": {"favorited": "🐉" * 64}}),
        ("GET", "/articles", {"params": {"tag": "t" * 10_000}}),
        ("GET", "/articles/" + "s" * 300, {}),
        ("GET", "/profiles/" + "u" * 300, {}),
        ("GET", "/articles/..%2F..%2Fetc", {}),
        ("DELETE", f"/articles/{slug}/comments/1e3", {"headers": scene.ann.auth}),
        ("DELETE", f"/articles/{slug}/comments/0x10", {"headers": scene.ann.auth}),
        ("POST", "/articles", {"content": surrogate, "headers": json_headers}),
        ("POST", f"/articles/{slug}/comments", {"content": surrogate, "headers": json_headers}),
        ("POST", "/users", {"content": deep, "headers": json_headers}),
        ("POST", "/users", {"content": b"null", "headers": json_headers}),
        ("POST", "/users", {"content": b'{"user": 1e999}', "headers": json_headers}),
        ("POST", "/articles", {"content": b"\xff\xfe", "headers": json_headers}),
        (
            "POST",
            "/articles",
            {
                "json": {"article": ARTICLE},
                "headers": {**scene.ann.auth, "Content-Type": "text/plain"},
            },
        ),
        (
            "POST",
            "/articles",
            {
                "json": {"article": {**ARTICLE, "tagList": ["x"] * 10_000}},
                "headers": scene.ann.auth,
            },
        ),
        ("GET", "/user", {"headers": ghost}),
        ("PUT", "/user", {"json": {"user": {"bio": "boo"}}, "headers": ghost}),
        ("POST", "/articles", {"json": {"article": ARTICLE}, "headers": ghost}),
        ("POST", f"/articles/{slug}/favorite", {"headers": ghost}),
        (
            "POST",
            f"/articles/{slug}/comments",
            {"json": {"comment": {"body": "b"}}, "headers": ghost},
        ),
        ("POST", f"/profiles/{scene.ann.username}/follow", {"headers": ghost}),
        *[("GET", "/articles", {"headers": headers}) for headers in odd_subjects],
    ]
    for method, path, options in requests:
        response = await http.request(method, path, **options)
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        if response.status_code >= 400:
            assert_errors(response, response.status_code)
    wildcard = await http.get("/articles", params={"tag": "%"})
    assert wildcard.json() == {"articles": [], "articlesCount": 0}  # no LIKE pattern
    await _unchanged(conduit, scene)
