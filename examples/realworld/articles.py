"""Articles, the feed, favorites, comments and tags.

Every endpoint sends a fixed number of statements, whatever the page size or the
number of tags: see ``repositories.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import ColumnElement, select

from .deps import Articles, Comments, Favorites, MaybeReader, ReaderDep, Tags
from .errors import MissingError, forbidden
from .models import SLUG_LENGTH, TAG_LENGTH, USERNAME_LENGTH, Article, Favorite, Follow, Tag, User
from .schemas import ArticleBody, ArticleChangesBody, CommentBody, NoNul, article_json, comment_json

router = APIRouter()

MAX_LIMIT = 500
"""selectinload reads up to 500 keys per statement: a page of at most 500 costs three."""
MAX_ID = 2**63 - 1
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Slug = Annotated[str, Path(max_length=SLUG_LENGTH), NoNul]
CommentId = Annotated[int, Path(ge=1, le=MAX_ID)]
TagQuery = Annotated[str | None, Query(max_length=TAG_LENGTH), NoNul]
NameQuery = Annotated[str | None, Query(max_length=USERNAME_LENGTH), NoNul]


def _id(reader: MaybeReader) -> int | None:
    return reader.id if reader else None


def _articles(page_items: list[Article], total: int) -> dict[str, Any]:
    """Multiple articles: list items carry no ``body`` (the spec since 2024-08)."""
    return {
        "articles": [article_json(article, body=False) for article in page_items],
        "articlesCount": total,
    }


@router.get("/articles")
async def list_articles(
    reader: MaybeReader,
    articles: Articles,
    tag: TagQuery = None,
    author: NameQuery = None,
    favorited: NameQuery = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Newest first; the filters combine; ``articlesCount`` counts every match."""
    where: list[ColumnElement[bool]] = []
    if tag is not None:
        where.append(Article.tags.any(Tag.name == tag))
    if author is not None:
        where.append(Article.author.has(User.username == author))
    if favorited is not None:
        fans = select(Favorite.article_id).join(User, User.id == Favorite.user_id)
        where.append(Article.id.in_(fans.where(User.username == favorited)))
    page = await articles.page_for(_id(reader), *where, limit=limit, offset=offset)
    return _articles(page.items, page.total)


@router.get("/articles/feed")
async def feed(
    reader: ReaderDep, articles: Articles, limit: Limit = 20, offset: Offset = 0
) -> dict[str, Any]:
    """Articles by the users the reader follows, newest first."""
    followed = select(Follow.followee_id).where(Follow.follower_id == reader.id)
    page = await articles.page_for(
        reader.id, Article.author_id.in_(followed), limit=limit, offset=offset
    )
    return _articles(page.items, page.total)


@router.post("/articles", status_code=status.HTTP_201_CREATED)
async def create_article(
    body: ArticleBody, reader: ReaderDep, articles: Articles, tags: Tags
) -> dict[str, Any]:
    """The slug is the title's, made unique with a suffix when another article has it."""
    new = body.article
    created = await articles.add(
        {
            "title": new.title,
            "description": new.description,
            "body": new.body,
            "author_id": reader.id,
        }
    )
    names = list(dict.fromkeys(new.tagList))  # first occurrence kept, in order
    attached = await tags.ensure(names) if names else []
    if attached:
        await articles.set_tags(created, attached)
    return {"article": article_json(await articles.by_slug(created.slug, reader=reader.id))}


@router.get("/articles/{slug}")
async def get_article(slug: Slug, reader: MaybeReader, articles: Articles) -> dict[str, Any]:
    return {"article": article_json(await articles.by_slug(slug, reader=_id(reader)))}


async def _own_article(articles: Articles, slug: str, reader: ReaderDep) -> int:
    article_id, author_id = await articles.id_of(slug)
    if author_id != reader.id:
        raise forbidden("only its author can change or delete an article")
    return article_id


@router.put("/articles/{slug}")
async def update_article(
    slug: Slug, body: ArticleChangesBody, reader: ReaderDep, articles: Articles
) -> dict[str, Any]:
    """A new title gives a new slug."""
    article_id = await _own_article(articles, slug, reader)
    changes: dict[str, Any] = body.article.model_dump(exclude_unset=True, exclude_none=True)
    updated = await articles.change(article_id, changes, slug=slug)
    return {"article": article_json(await articles.by_slug(updated.slug, reader=reader.id))}


@router.delete("/articles/{slug}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_article(slug: Slug, reader: ReaderDep, articles: Articles) -> Response:
    await articles.delete(await _own_article(articles, slug, reader))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/articles/{slug}/favorite")
async def favorite(
    slug: Slug, reader: ReaderDep, articles: Articles, favorites: Favorites
) -> dict[str, Any]:
    """Favoriting twice is favoriting."""
    article_id, _ = await articles.id_of(slug)
    await favorites.favorite(reader.id, article_id)
    return {"article": article_json(await articles.by_slug(slug, reader=reader.id))}


@router.delete("/articles/{slug}/favorite")
async def unfavorite(
    slug: Slug, reader: ReaderDep, articles: Articles, favorites: Favorites
) -> dict[str, Any]:
    article_id, _ = await articles.id_of(slug)
    await favorites.unfavorite(reader.id, article_id)
    return {"article": article_json(await articles.by_slug(slug, reader=reader.id))}


@router.get("/articles/{slug}/comments")
async def list_comments(
    slug: Slug, reader: MaybeReader, articles: Articles, comments: Comments
) -> dict[str, Any]:
    """Oldest first."""
    article_id, _ = await articles.id_of(slug)
    found = await comments.of_article(article_id, reader=_id(reader))
    return {"comments": [comment_json(comment) for comment in found]}


@router.post("/articles/{slug}/comments")
async def add_comment(
    slug: Slug, body: CommentBody, reader: ReaderDep, articles: Articles, comments: Comments
) -> dict[str, Any]:
    article_id, _ = await articles.id_of(slug)
    created = await comments.create(
        {"body": body.comment.body, "article_id": article_id, "author_id": reader.id}
    )
    return {"comment": comment_json(await comments.with_author(created.id, reader=reader.id))}


@router.delete("/articles/{slug}/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_comment(
    slug: Slug, comment_id: CommentId, reader: ReaderDep, articles: Articles, comments: Comments
) -> Response:
    article_id, _ = await articles.id_of(slug)
    comment = await comments.get(comment_id)
    if comment is None or comment.article_id != article_id:
        raise MissingError("comment not found")
    if comment.author_id != reader.id:
        raise forbidden("only its author can delete a comment")
    await comments.delete(comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tags")
async def list_tags(tags: Tags) -> dict[str, Any]:
    """The tags some article carries, by name."""
    return {"tags": await tags.in_use()}
