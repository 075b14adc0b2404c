"""One repository per aggregate, each read sized for the page it serves.

A list of articles costs the same statements whatever its length: the page with its
total (one SELECT, the count riding along), then one ``selectinload`` each for the
authors and the tags. Whether the reader favorited an article, how many users did, and
whether the reader follows its author are correlated subqueries inside those SELECTs
(``with_expression``), never a query per article.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, select
from sqlalchemy.orm import QueryableAttribute, selectinload, with_expression
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from sqla_repo import ConflictError, Page, Repository, uuid7

from .errors import MissingError
from .models import SLUG_LENGTH, Article, ArticleTag, Comment, Favorite, Follow, Tag, User

NEWEST_FIRST = (Article.created_at.desc(), Article.id.desc())


def follows_author(reader: int | None) -> ColumnElement[bool]:
    """Whether ``reader`` follows the ``User`` of the row (false for nobody)."""
    if reader is None:
        return false()
    return exists().where(Follow.follower_id == reader, Follow.followee_id == User.id)


@lru_cache(maxsize=4096)
def with_author(relationship: QueryableAttribute[User], reader: int | None) -> ExecutableOption:
    """Load ``relationship`` (a many-to-one to User) with ``following`` for ``reader``."""
    return selectinload(relationship).with_expression(User.following, follows_author(reader))


@lru_cache(maxsize=4096)
def article_loads(reader: int | None) -> tuple[ExecutableOption, ...]:
    """What an article's JSON needs, in two extra SELECTs for a page of any size.

    Built once per reader (options are immutable, and building them costs more than a
    page of ORM loading on a warm statement cache)."""
    favorited = (
        false()
        if reader is None
        else exists().where(Favorite.article_id == Article.id, Favorite.user_id == reader)
    )
    count = (
        select(func.count())
        .select_from(Favorite)
        .where(Favorite.article_id == Article.id)
        .scalar_subquery()
    )
    return (
        with_author(Article.author, reader),
        selectinload(Article.tags),
        with_expression(Article.favorited, favorited),
        with_expression(Article.favorites_count, count),
    )


def _suffixed(slug: str) -> str:
    return f"{slug}-{uuid7().hex[-12:]}"


def slugify(title: str) -> str:
    """``"How to Train Your Dragon!"`` -> ``"how-to-train-your-dragon"``; Unicode kept."""
    words = re.sub(r"[^\w]+", "-", unicodedata.normalize("NFKC", title).lower()).strip("-_")
    return words[: SLUG_LENGTH - 14].strip("-_") or "article"


class UserRepository(Repository[User, int]):
    async def by_username(self, username: str, *, reader: int | None = None) -> User:
        """The profile of ``username`` with ``following`` for ``reader``; else NotFoundError."""
        found = await self.first(
            User.username == username,
            options=[with_expression(User.following, follows_author(reader))],
        )
        if found is None:
            raise MissingError("profile not found")
        return found

    async def by_email(self, email: str) -> User | None:
        return await self.first(User.email == email)


class FollowRepository(Repository[Follow, tuple[int, int]]):
    async def follow(self, follower: int, followee: int) -> None:
        """Idempotent: following twice is following."""
        await self.get_or_create({"follower_id": follower, "followee_id": followee})

    async def unfollow(self, follower: int, followee: int) -> None:
        await self.delete_where(Follow.follower_id == follower, Follow.followee_id == followee)


class FavoriteRepository(Repository[Favorite, tuple[int, int]]):
    async def favorite(self, user: int, article: int) -> None:
        """Idempotent, and safe when many users favorite one article at once."""
        await self.get_or_create({"user_id": user, "article_id": article})

    async def unfavorite(self, user: int, article: int) -> None:
        await self.delete_where(Favorite.user_id == user, Favorite.article_id == article)


class TagRepository(Repository[Tag, int]):
    async def ensure(self, names: Sequence[str]) -> list[Tag]:
        """The tags named, created where missing, in the order given: one statement."""
        return await self.upsert_many(
            [{"name": name} for name in names], on=["name"], update=["name"]
        )

    async def in_use(self) -> list[str]:
        """The names of the tags some article carries, by name."""
        used = Tag.id.in_(select(ArticleTag.tag_id))
        return [tag.name for tag in await self.list(used, order_by=Tag.name)]


class ArticleRepository(Repository[Article, int]):
    async def page_for(
        self,
        reader: int | None,
        *where: ColumnElement[bool],
        limit: int,
        offset: int,
    ) -> Page[Article]:
        """Newest first, each article ready for its JSON; ``total`` counts every match."""
        return await self.page(
            *where,
            order_by=NEWEST_FIRST,
            limit=limit,
            offset=offset,
            options=article_loads(reader),
        )

    async def by_slug(self, slug: str, *, reader: int | None = None) -> Article:
        """The article, ready for its JSON; NotFoundError for an unknown slug.

        An article the session holds already is read again: its ``favorited`` and
        ``favoritesCount`` may have changed in this transaction.
        """
        held = [obj for obj in self.session.identity_map.values() if isinstance(obj, Article)]
        for obj in held:
            self.session.expire(obj, ["favorited", "favorites_count"])
        found = await self.first(Article.slug == slug, options=article_loads(reader))
        if found is None:
            raise MissingError("article not found")
        return found

    async def id_of(self, slug: str) -> tuple[int, int]:
        """``(id, author_id)`` of the article; NotFoundError for an unknown slug."""
        found = await self.first(Article.slug == slug)
        if found is None:
            raise MissingError("article not found")
        return found.id, found.author_id

    async def add(self, values: dict[str, Any]) -> Article:
        """A new article under its title's slug, or, when another article has that slug
        (also one committed a moment ago by a concurrent request), the slug and a
        unique suffix: an insert-if-absent, then a plain insert only on a clash."""
        base = slugify(str(values["title"]))
        article, created = await self.get_or_create({"slug": base}, on=["slug"], defaults=values)
        if not created:
            article = await self.create({**values, "slug": _suffixed(base)})
        return article

    async def change(self, article: int, changes: dict[str, Any], *, slug: str) -> Article:
        """Apply ``changes``; a new title gives a new slug, suffixed if another article
        has it (the UPDATE runs in a savepoint, so that a clash can be retried)."""
        if "title" not in changes or slugify(changes["title"]) == slug:
            return await self.update(article, changes)
        base = slugify(changes["title"])
        try:
            async with self.session.begin_nested():
                return await self.update(article, {**changes, "slug": base})
        except ConflictError as clash:
            if "slug" not in clash.columns and "slug" not in (clash.constraint or ""):
                raise
        return await self.update(article, {**changes, "slug": _suffixed(base)})

    async def set_tags(self, article: Article, tags: Sequence[Tag]) -> None:
        """Attach ``tags`` in their order: one multi-row INSERT.

        The article's ``tags`` are set from ``tags`` as well, not read back: under
        MariaDB's REPEATABLE READ a tag another request committed after this
        transaction's first read is found by the upsert (a locking read) but not by a
        later plain read, which would show the article without it.
        """
        rows = [
            {"article_id": article.id, "tag_id": tag.id, "position": position}
            for position, tag in enumerate(tags)
        ]
        await ArticleTagRepository(self.session).create_many(rows, returning=False)
        set_committed_value(article, "tags", list(tags))


class ArticleTagRepository(Repository[ArticleTag, tuple[int, int]]):
    pass


class CommentRepository(Repository[Comment, int]):
    async def of_article(self, article: int, *, reader: int | None = None) -> list[Comment]:
        """The article's comments, oldest first, with their authors: two statements."""
        return await self.list(
            Comment.article_id == article,
            order_by=Comment.id,
            options=[with_author(Comment.author, reader)],
        )

    async def with_author(self, comment: int, *, reader: int | None = None) -> Comment:
        found = await self.get(comment, options=[with_author(Comment.author, reader)])
        if found is None:
            raise MissingError("comment not found")
        return found
