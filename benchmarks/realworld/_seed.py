"""The data: users, tags, articles, their tags and favorites, the reader's follows.

Written straight into the database through the example's models and repositories
(``create_many``), after the server's migrations have created the schema. Every user
has the same Argon2 hash (hashed once) and gets a token from the app's own
``issue_token``. Random choices come from a fixed seed: each run seeds the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from examples.realworld.repositories import (
    ArticleRepository,
    ArticleTagRepository,
    FavoriteRepository,
    FollowRepository,
    TagRepository,
    UserRepository,
)
from examples.realworld.security import hash_password, issue_token
from sqlalchemy import text

from sqla_repo import EngineFactory

SEED = 20_261_201
TOKEN_LIFETIME = timedelta(days=1)
BODY = " ".join(["Lorem ipsum dolor sit amet, consectetur adipiscing elit."] * 20)


@dataclass(frozen=True)
class Sizes:
    articles: int
    requests: int
    """Timed requests per operation."""
    warmup: int
    """Untimed requests per operation, before the timed ones."""
    authors: int = 100
    tags: int = 50
    tags_per_article: int = 3
    favorites_per_article: int = 3
    followed: int = 10
    clients: int = 20


FULL = Sizes(articles=10_000, requests=2_000, warmup=200)
QUICK = Sizes(articles=500, requests=200, warmup=40)


@dataclass
class Seeded:
    """What the requests need: tokens, slugs, and favorites that do not exist yet."""

    server_version: str
    reader_token: str
    slugs: list[str]
    new_favorites: list[tuple[str, str]] = field(default_factory=list)
    """(token, slug) pairs that no seeded favorite has: each POST inserts a row."""
    seconds: float = 0.0


async def seed(url: str, sizes: Sizes, secret: str) -> Seeded:
    """Fill the (migrated, empty) database at ``url``."""
    pick = random.Random(SEED)  # noqa: S311 - the same data every run, not secrets
    password_hash = await hash_password("bench-password")
    factory = EngineFactory(url)
    engine = factory.create_async_engine()
    try:
        sessions = factory.create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            users = await UserRepository(session).create_many(
                [
                    {
                        "username": name,
                        "email": f"{name}@example.com",
                        "password_hash": password_hash,
                        "bio": f"I am {name}.",
                    }
                    for name in ["reader"] + [f"author{i:03d}" for i in range(sizes.authors)]
                ]
            )
            reader, authors = users[0], users[1:]
            tags = await TagRepository(session).create_many(
                [{"name": f"tag{i:02d}"} for i in range(sizes.tags)]
            )
            newest = datetime.now(UTC)
            articles = await ArticleRepository(session).create_many(
                [
                    {
                        "slug": f"article-number-{i}",
                        "title": f"Article number {i}",
                        "description": f"What article {i} is about.",
                        "body": BODY,
                        "author_id": pick.choice(authors).id,
                        "created_at": newest - timedelta(minutes=i),
                        "updated_at": newest - timedelta(minutes=i),
                    }
                    for i in range(sizes.articles)
                ]
            )
            article_tags: list[dict[str, Any]] = []
            favorites: set[tuple[int, int]] = set()  # (author index, article index)
            for index, article in enumerate(articles):
                for position, tag in enumerate(pick.sample(tags, sizes.tags_per_article)):
                    article_tags.append(
                        {"article_id": article.id, "tag_id": tag.id, "position": position}
                    )
                for fan in pick.sample(range(sizes.authors), sizes.favorites_per_article):
                    favorites.add((fan, index))
            await ArticleTagRepository(session).create_many(article_tags, returning=False)
            await FavoriteRepository(session).create_many(
                [
                    {"user_id": authors[fan].id, "article_id": articles[index].id}
                    for fan, index in sorted(favorites)
                ],
                returning=False,
            )
            await FollowRepository(session).create_many(
                [
                    {"follower_id": reader.id, "followee_id": followee.id}
                    for followee in pick.sample(authors, sizes.followed)
                ],
                returning=False,
            )
            tokens = [issue_token(author.id, secret, TOKEN_LIFETIME) for author in authors]
            slugs = [article.slug for article in articles]
            fresh: list[tuple[str, str]] = []
            wanted = sizes.requests + sizes.warmup
            while len(fresh) < wanted:
                pair = (pick.randrange(sizes.authors), pick.randrange(sizes.articles))
                if pair not in favorites:
                    favorites.add(pair)
                    fresh.append((tokens[pair[0]], slugs[pair[1]]))
            reader_token = issue_token(reader.id, secret, TOKEN_LIFETIME)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
        info = engine.dialect.server_version_info or ()
        version = ".".join(str(part) for part in info)
    finally:
        await engine.dispose()
    pick.shuffle(slugs)
    return Seeded(version, reader_token, slugs, fresh)
