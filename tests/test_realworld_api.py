"""The RealWorld example over HTTP: every endpoint of the spec, its status and its shape.

One app (and one migrated database) per backend for the whole module; each test makes
users of its own, so the tests do not depend on each other or on their order.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from examples.realworld.articles import MAX_LIMIT

from tests.realworld_client import (  # noqa: F401 - the two *_fixture: this module's app
    PASSWORD,
    SECRET,
    TIMESTAMP,
    Conduit,
    Member,
    assert_article,
    assert_articles,
    assert_comment,
    assert_errors,
    assert_profile,
    assert_user,
    conduit_fixture,
    conduit_url_fixture,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _slugs(
    conduit: Conduit, path: str, member: Member | None = None, **params: Any
) -> tuple[list[str], int]:
    """The slugs of a list endpoint's page and its ``articlesCount``."""
    headers = member.auth if member else None
    response = await conduit.http.get(path, params=params, headers=headers)
    items = assert_articles(response)
    count: int = response.json()["articlesCount"]
    return [item["slug"] for item in items], count


# --- users and profiles -------------------------------------------------------------------


async def test_register_login_current_user_and_update(conduit: Conduit) -> None:
    http = conduit.http
    name = unique("Ann")
    email = f"{name.lower()}@example.com"
    registered = await http.post(
        "/users",
        json={"user": {"username": name, "email": f"  {email.upper()} ", "password": PASSWORD}},
    )
    assert registered.status_code == 201, registered.text
    token = assert_user(registered.json(), username=name, email=email)  # stored lower-case
    assert registered.json()["user"]["bio"] is None
    assert registered.json()["user"]["image"] is None
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert int(claims["sub"]) > 0
    stored = await conduit.password_hash(name)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored

    login = await http.post("/users/login", json={"user": {"email": email, "password": PASSWORD}})
    assert login.status_code == 200, login.text
    assert_user(login.json(), username=name, email=email)
    wrong = await http.post("/users/login", json={"user": {"email": email, "password": "nope"}})
    assert_errors(wrong, 401)

    auth = {"Authorization": f"Token {token}"}
    current = await http.get("/user", headers=auth)
    assert current.status_code == 200
    assert current.json() == registered.json()

    changes = {"bio": "I work at statefarm", "image": "https://i.stack.imgur.com/xHWG8.jpg"}
    updated = await http.put("/user", headers=auth, json={"user": changes})
    assert updated.status_code == 200, updated.text
    assert assert_user(updated.json(), username=name, email=email) == token
    assert {key: updated.json()["user"][key] for key in changes} == changes

    cleared = await http.put("/user", headers=auth, json={"user": {"image": None}})
    assert cleared.status_code == 200
    assert cleared.json()["user"]["image"] is None
    assert cleared.json()["user"]["bio"] == changes["bio"]  # untouched

    new_name, new_email = unique("Ann"), f"{unique('ann')}@example.com"
    renamed = await http.put(
        "/user", headers=auth, json={"user": {"username": new_name, "email": new_email}}
    )
    assert renamed.status_code == 200, renamed.text
    assert_user(renamed.json(), username=new_name, email=new_email)
    again = await http.post(
        "/users/login", json={"user": {"email": new_email, "password": PASSWORD}}
    )
    assert again.status_code == 200
    assert_user(again.json(), username=new_name, email=new_email)
    assert_errors(await http.get(f"/profiles/{name}"), 404)
    profile = await http.get(f"/profiles/{new_name}")
    assert profile.status_code == 200
    assert profile.json()["profile"]["bio"] == changes["bio"]


async def test_profiles_follow_and_unfollow(conduit: Conduit) -> None:
    http = conduit.http
    ann, bob = await conduit.members(2)
    anonymous = await http.get(f"/profiles/{ann.username}")
    assert anonymous.status_code == 200
    assert set(anonymous.json()) == {"profile"}
    assert_profile(anonymous.json()["profile"], username=ann.username, following=False)

    for _ in range(2):  # following twice is following
        followed = await http.post(f"/profiles/{ann.username}/follow", headers=bob.auth)
        assert followed.status_code == 200, followed.text
        assert_profile(followed.json()["profile"], username=ann.username, following=True)
    assert await conduit.follows_of(bob) == 1
    seen = await http.get(f"/profiles/{ann.username}", headers=bob.auth)
    assert_profile(seen.json()["profile"], username=ann.username, following=True)
    by_ann = await http.get(f"/profiles/{bob.username}", headers=ann.auth)
    assert_profile(by_ann.json()["profile"], username=bob.username, following=False)
    still_anonymous = await http.get(f"/profiles/{ann.username}")
    assert still_anonymous.json()["profile"]["following"] is False

    unfollowed = await http.delete(f"/profiles/{ann.username}/follow", headers=bob.auth)
    assert unfollowed.status_code == 200
    assert_profile(unfollowed.json()["profile"], username=ann.username, following=False)
    assert await conduit.follows_of(bob) == 0
    after = await http.get(f"/profiles/{ann.username}", headers=bob.auth)
    assert after.json()["profile"]["following"] is False


# --- articles ---------------------------------------------------------------------------


async def test_article_create_get_update_delete(conduit: Conduit) -> None:
    http = conduit.http
    ann, bob = await conduit.members(2)
    dragons, training = unique("dragons"), unique("training")
    title = unique("How to train your dragon ")
    created = await http.post(
        "/articles",
        headers=ann.auth,
        json={
            "article": {
                "title": title,
                "description": "Ever wonder how?",
                "body": "You have to believe",
                "tagList": [dragons, training, dragons],
            }
        },
    )
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"article"}
    article = created.json()["article"]
    assert_article(article)
    assert (article["title"], article["description"], article["body"]) == (
        title,
        "Ever wonder how?",
        "You have to believe",
    )
    assert article["tagList"] == [dragons, training]  # in order, once each
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert_profile(article["author"], username=ann.username, following=False)
    assert article["createdAt"] == article["updatedAt"]
    slug = article["slug"]

    anonymous = await http.get(f"/articles/{slug}")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"article": article}
    await http.post(f"/profiles/{ann.username}/follow", headers=bob.auth)
    by_bob = await http.get(f"/articles/{slug}", headers=bob.auth)
    assert by_bob.json()["article"]["author"]["following"] is True

    await asyncio.sleep(0.01)  # the timestamps have milliseconds
    new_title = unique("Did you train your dragon ")
    updated = await http.put(
        f"/articles/{slug}",
        headers=ann.auth,
        json={"article": {"title": new_title, "body": "With two hands"}},
    )
    assert updated.status_code == 200, updated.text
    changed = updated.json()["article"]
    assert_article(changed)
    assert changed["slug"] != slug  # a new title gives a new slug
    assert (changed["title"], changed["body"]) == (new_title, "With two hands")
    assert changed["description"] == "Ever wonder how?"
    assert changed["tagList"] == [dragons, training]
    assert changed["createdAt"] == article["createdAt"]
    assert changed["updatedAt"] > article["updatedAt"]
    assert_errors(await http.get(f"/articles/{slug}"), 404)
    got = await http.get(f"/articles/{changed['slug']}")
    assert got.json() == {"article": changed}

    await asyncio.sleep(0.01)
    described = await http.put(
        f"/articles/{changed['slug']}",
        headers=ann.auth,
        json={"article": {"description": "New description"}},
    )
    assert described.status_code == 200
    kept = described.json()["article"]
    assert kept["slug"] == changed["slug"]  # no new title, same slug
    assert kept["description"] == "New description"
    assert kept["createdAt"] == article["createdAt"]
    assert kept["updatedAt"] > changed["updatedAt"]

    deleted = await http.delete(f"/articles/{kept['slug']}", headers=ann.auth)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_errors(await http.get(f"/articles/{kept['slug']}"), 404)
    assert_errors(await http.delete(f"/articles/{kept['slug']}", headers=ann.auth), 404)


async def test_two_articles_with_one_title_get_two_slugs(conduit: Conduit) -> None:
    ann = await conduit.member()
    title = unique("Same title ")
    first = await conduit.article(ann, title=title)
    second = await conduit.article(ann, title=title)
    assert first["slug"] != second["slug"]
    for article in (first, second):
        got = await conduit.http.get(f"/articles/{article['slug']}")
        assert got.json()["article"] == article


async def test_timestamps_are_utc_milliseconds_now(conduit: Conduit) -> None:
    ann = await conduit.member()
    before = datetime.now(UTC) - timedelta(seconds=1)
    article = await conduit.article(ann)
    comment = await conduit.comment(ann, article["slug"])
    after = datetime.now(UTC) + timedelta(seconds=1)
    listed = await conduit.http.get("/articles", params={"author": ann.username})
    comments = await conduit.http.get(f"/articles/{article['slug']}/comments")
    stamps = [
        article["createdAt"],
        article["updatedAt"],
        comment["createdAt"],
        comment["updatedAt"],
        listed.json()["articles"][0]["createdAt"],
        comments.json()["comments"][0]["updatedAt"],
    ]
    for stamp in stamps:
        assert TIMESTAMP.match(stamp), stamp
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before <= moment <= after, (stamp, before, after)  # UTC, whatever the server's
    assert listed.json()["articles"][0]["createdAt"] == article["createdAt"]


async def test_favorite_and_unfavorite(conduit: Conduit) -> None:
    http = conduit.http
    ann, bob, cid = await conduit.members(3)
    slug = (await conduit.article(ann))["slug"]
    for _ in range(2):  # favoriting twice is favoriting
        favorited = await http.post(f"/articles/{slug}/favorite", headers=bob.auth)
        assert favorited.status_code == 200, favorited.text
        article = favorited.json()["article"]
        assert_article(article)
        assert (article["slug"], article["favorited"], article["favoritesCount"]) == (slug, True, 1)
    by_cid = await http.post(f"/articles/{slug}/favorite", headers=cid.auth)
    assert (by_cid.json()["article"]["favorited"], by_cid.json()["article"]["favoritesCount"]) == (
        True,
        2,
    )
    by_ann = await http.get(f"/articles/{slug}", headers=ann.auth)
    assert (by_ann.json()["article"]["favorited"], by_ann.json()["article"]["favoritesCount"]) == (
        False,
        2,
    )
    unfavorited = await http.delete(f"/articles/{slug}/favorite", headers=bob.auth)
    assert unfavorited.status_code == 200
    article = unfavorited.json()["article"]
    assert_article(article)
    assert (article["favorited"], article["favoritesCount"]) == (False, 1)
    again = await http.delete(f"/articles/{slug}/favorite", headers=bob.auth)
    assert (again.status_code, again.json()["article"]["favoritesCount"]) == (200, 1)
    anonymous = await http.get(f"/articles/{slug}")
    assert (
        anonymous.json()["article"]["favorited"],
        anonymous.json()["article"]["favoritesCount"],
    ) == (
        False,
        1,
    )
    assert await conduit.favorites_of(slug) == 1


async def test_comments_add_list_delete(conduit: Conduit) -> None:
    http = conduit.http
    ann, bob = await conduit.members(2)
    slug = (await conduit.article(ann))["slug"]
    empty = await http.get(f"/articles/{slug}/comments")
    assert (empty.status_code, empty.json()) == (200, {"comments": []})

    added = await http.post(
        f"/articles/{slug}/comments", headers=bob.auth, json={"comment": {"body": "Nice!"}}
    )
    assert added.status_code == 200, added.text
    assert set(added.json()) == {"comment"}
    first = added.json()["comment"]
    assert_comment(first)
    assert first["body"] == "Nice!"
    assert first["createdAt"] == first["updatedAt"]
    assert_profile(first["author"], username=bob.username, following=False)
    second = await conduit.comment(ann, slug, "Thanks")

    listed = await http.get(f"/articles/{slug}/comments")
    assert listed.status_code == 200
    assert set(listed.json()) == {"comments"}
    comments = listed.json()["comments"]
    for comment in comments:
        assert_comment(comment)
    assert comments == [first, second]  # oldest first
    await http.post(f"/profiles/{bob.username}/follow", headers=ann.auth)
    by_ann = await http.get(f"/articles/{slug}/comments", headers=ann.auth)
    assert [c["author"]["following"] for c in by_ann.json()["comments"]] == [True, False]

    deleted = await http.delete(f"/articles/{slug}/comments/{first['id']}", headers=bob.auth)
    assert (deleted.status_code, deleted.content) == (204, b"")
    after = await http.get(f"/articles/{slug}/comments")
    assert after.json() == {"comments": [second]}
    assert await conduit.comment_rows(slug) == [second["id"]]
    gone = await http.delete(f"/articles/{slug}/comments/{first['id']}", headers=bob.auth)
    assert_errors(gone, 404)


async def test_tags_lists_the_tags_in_use(conduit: Conduit) -> None:
    ann = await conduit.member()
    ours = [unique("tag"), unique("tag")]
    article = await conduit.article(ann, tags=ours)
    response = await conduit.http.get("/tags")
    assert response.status_code == 200
    assert set(response.json()) == {"tags"}
    tags = response.json()["tags"]
    assert all(isinstance(tag, str) for tag in tags)
    assert len(tags) == len(set(tags))
    assert set(ours) <= set(tags)
    await conduit.http.delete(f"/articles/{article['slug']}", headers=ann.auth)
    after = (await conduit.http.get("/tags")).json()["tags"]
    assert not set(ours) & set(after)  # no article carries them any more


# --- lists: filters, order, paging, the feed -------------------------------------------


async def test_filters_by_tag_author_favorited_and_combined(conduit: Conduit) -> None:
    ann, bob, fan, other = await conduit.members(4)
    tag_a, tag_b = unique("tag"), unique("tag")
    a1 = (await conduit.article(ann, tags=[tag_a]))["slug"]
    a2 = (await conduit.article(ann, tags=[tag_a, tag_b]))["slug"]
    a3 = (await conduit.article(ann, tags=[tag_b]))["slug"]
    b1 = (await conduit.article(bob, tags=[tag_a]))["slug"]
    b2 = (await conduit.article(bob))["slug"]
    for slug in (a1, a3, b1):
        await conduit.http.post(f"/articles/{slug}/favorite", headers=fan.auth)
    await conduit.http.post(f"/articles/{a2}/favorite", headers=other.auth)

    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"tag": tag_a}, [b1, a2, a1]),
        ({"tag": tag_b}, [a3, a2]),
        ({"author": ann.username}, [a3, a2, a1]),
        ({"author": bob.username}, [b2, b1]),
        ({"favorited": fan.username}, [b1, a3, a1]),
        ({"tag": tag_a, "author": ann.username}, [a2, a1]),
        ({"tag": tag_a, "favorited": fan.username}, [b1, a1]),
        ({"author": ann.username, "favorited": fan.username}, [a3, a1]),
        ({"tag": tag_b, "author": ann.username, "favorited": fan.username}, [a3]),
        ({"author": bob.username, "favorited": other.username}, []),
        ({"author": unique("nobody")}, []),
        ({"tag": unique("nothing")}, []),
        ({"favorited": ann.username}, []),
    ]
    for params, expected in cases:
        assert await _slugs(conduit, "/articles", **params) == (expected, len(expected)), params

    # as the fan sees them: every one favorited, by the fan and by the count
    response = await conduit.http.get(
        "/articles", params={"favorited": fan.username}, headers=fan.auth
    )
    items = assert_articles(response)
    assert [(i["favorited"], i["favoritesCount"]) for i in items] == [(True, 1)] * 3
    assert [i["tagList"] for i in items] == [[tag_a], [tag_b], [tag_a]]


async def test_limit_and_offset_page_and_count_every_match(conduit: Conduit) -> None:
    ann = await conduit.member()
    slugs = [(await conduit.article(ann))["slug"] for _ in range(5)]
    newest_first = slugs[::-1]
    author = ann.username
    assert await _slugs(conduit, "/articles", author=author) == (newest_first, 5)  # default 20
    pages = [
        (2, 0, newest_first[0:2]),
        (2, 2, newest_first[2:4]),
        (2, 4, newest_first[4:]),
        (2, 5, []),
        (3, 100, []),
        (MAX_LIMIT, 1, newest_first[1:]),
    ]
    for limit, offset, expected in pages:
        found = await _slugs(conduit, "/articles", author=author, limit=limit, offset=offset)
        assert found == (expected, 5), (limit, offset)


async def test_the_global_list_is_newest_first(conduit: Conduit) -> None:
    ann, bob = await conduit.members(2)
    for author in (ann, bob, ann):
        await conduit.article(author)
    response = await conduit.http.get("/articles", params={"limit": MAX_LIMIT})
    items = assert_articles(response)
    total = response.json()["articlesCount"]
    assert total >= 3
    assert len(items) == min(total, MAX_LIMIT)
    stamps = [item["createdAt"] for item in items]
    assert stamps == sorted(stamps, reverse=True)
    default = await conduit.http.get("/articles")
    assert len(assert_articles(default)) == min(total, 20)
    assert default.json()["articlesCount"] == total


async def test_the_feed_shows_only_followed_authors_newest_first(conduit: Conduit) -> None:
    http = conduit.http
    reader, ann, bob, cid, loner = await conduit.members(5)
    for followee in (ann, bob):
        followed = await http.post(f"/profiles/{followee.username}/follow", headers=reader.auth)
        assert followed.status_code == 200
    a1 = (await conduit.article(ann))["slug"]
    await conduit.article(cid)
    b1 = (await conduit.article(bob))["slug"]
    a2 = (await conduit.article(ann))["slug"]
    await conduit.article(reader)  # not in the reader's own feed

    assert await _slugs(conduit, "/articles/feed", reader) == ([a2, b1, a1], 3)
    response = await http.get("/articles/feed", headers=reader.auth)
    items = assert_articles(response)
    assert all(item["author"]["following"] is True for item in items)
    assert {item["author"]["username"] for item in items} == {ann.username, bob.username}
    paged = await _slugs(conduit, "/articles/feed", reader, limit=2, offset=1)
    assert paged == ([b1, a1], 3)
    assert await _slugs(conduit, "/articles/feed", reader, offset=3) == ([], 3)
    assert await _slugs(conduit, "/articles/feed", loner) == ([], 0)

    await http.delete(f"/profiles/{bob.username}/follow", headers=reader.auth)
    assert await _slugs(conduit, "/articles/feed", reader) == ([a2, a1], 2)


# --- choices the spec leaves open, as the README states them -----------------------------


async def test_usernames_differing_only_by_case_are_two_users(conduit: Conduit) -> None:
    ann, bob = await conduit.members(2)
    twin = ann.username.swapcase()
    renamed = await conduit.http.put("/user", headers=bob.auth, json={"user": {"username": twin}})
    assert renamed.status_code == 200, renamed.text
    first = await conduit.http.get(f"/profiles/{ann.username}")
    second = await conduit.http.get(f"/profiles/{twin}")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["profile"]["username"] == ann.username
    assert second.json()["profile"]["username"] == twin


async def test_a_unicode_title_keeps_its_letters_in_the_slug(conduit: Conduit) -> None:
    ann = await conduit.member()
    word = unique("x")
    article = await conduit.article(ann, title=f"Café Müller {word}!")
    assert article["slug"] == f"café-müller-{word.lower()}"
    got = await conduit.http.get(f"/articles/{article['slug']}")
    assert got.json()["article"] == article


async def test_deleting_an_article_deletes_its_comments_favorites_and_tags(
    conduit: Conduit,
) -> None:
    ann, bob = await conduit.members(2)
    tag = unique("tag")
    slug = (await conduit.article(ann, tags=[tag]))["slug"]
    await conduit.comment(bob, slug)
    await conduit.http.post(f"/articles/{slug}/favorite", headers=bob.auth)
    article_id = await conduit.article_id(slug)
    assert await conduit.rows_of_article(article_id) == (1, 1, 1)
    deleted = await conduit.http.delete(f"/articles/{slug}", headers=ann.auth)
    assert deleted.status_code == 204
    assert await conduit.rows_of_article(article_id) == (0, 0, 0)
    assert tag not in (await conduit.http.get("/tags")).json()["tags"]


async def test_tags_differing_only_by_case_are_two_tags(conduit: Conduit) -> None:
    ann = await conduit.member()
    tag = unique("Dragons")
    article = await conduit.article(ann, tags=[tag, tag.lower(), tag.upper()])
    assert article["tagList"] == [tag, tag.lower(), tag.upper()]
    listed = await conduit.http.get("/articles", params={"tag": tag.lower()})
    assert [item["slug"] for item in assert_articles(listed)] == [article["slug"]]


async def test_a_title_without_letters_still_gets_a_slug(conduit: Conduit) -> None:
    ann = await conduit.member()
    first = await conduit.article(ann, title="!!! 🐉 ???")
    second = await conduit.article(ann, title="!!! 🐉 ???")
    assert first["slug"]
    assert second["slug"]
    assert first["slug"] != second["slug"]
    for article in (first, second):
        got = await conduit.http.get(f"/articles/{article['slug']}")
        assert got.json()["article"]["title"] == "!!! 🐉 ???"


async def test_the_same_title_again_keeps_the_slug(conduit: Conduit) -> None:
    ann = await conduit.member()
    article = await conduit.article(ann)
    again = await conduit.http.put(
        f"/articles/{article['slug']}",
        headers=ann.auth,
        json={"article": {"title": article["title"]}},
    )
    assert again.status_code == 200
    assert again.json()["article"]["slug"] == article["slug"]
