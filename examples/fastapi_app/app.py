"""A users API: create, get, list in cursor pages, PATCH and delete, on sqla_repo.

The database comes from ``DATABASE_URL`` (the environment, then ``./.env``); its schema
from the migrations next to this file. Run it with any ASGI server::

    uvicorn examples.fastapi_app.app:create_app --factory
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, status
from pydantic import BaseModel, ConfigDict, Field

from sqla_repo import DatabaseSettings, EngineFactory, UserRepository
from sqla_repo.fastapi import add_exception_handlers, lifespan, repository

Email = Annotated[str, Field(min_length=3, max_length=255)]
Name = Annotated[str | None, Field(max_length=120)]


class UserCreate(BaseModel):
    email: Email
    name: Name = None


class UserPatch(BaseModel):
    """Only the fields a request sends are written: ``"name": null`` clears the name."""

    email: Email | None = None
    name: Name = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str | None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None
    """Pass it as ``after`` for the next page; ``null`` on the last page."""


# The request's repository over the request's session, committed before the response.
Users = Annotated[UserRepository, Depends(repository(UserRepository))]

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, users: Users) -> UserOut:
    """A taken email is a 409."""
    return UserOut.model_validate(await users.create(body))


@router.get("")
async def list_users(
    users: Users,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    after: str | None = None,
) -> UserPage:
    """Users by id, a page at a time; a cursor that is not ours is a 422."""
    page = await users.paginate(limit=limit, after=after)
    return UserPage(
        items=[UserOut.model_validate(user) for user in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{user_id}")
async def get_user(user_id: int, users: Users) -> UserOut:
    return UserOut.model_validate(await users.get_one(user_id))


@router.patch("/{user_id}")
async def update_user(user_id: int, body: UserPatch, users: Users) -> UserOut:
    return UserOut.model_validate(await users.update(user_id, body))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: int, users: Users) -> None:
    await users.delete(user_id)


def create_app(settings: DatabaseSettings | None = None) -> FastAPI:
    """The app over ``settings``, by default ``DatabaseSettings()`` (``DATABASE_URL``)."""
    app = FastAPI(title="Users", lifespan=lifespan(EngineFactory.from_settings(settings)))
    add_exception_handlers(app)  # NotFoundError -> 404, ConflictError -> 409, ...
    app.include_router(router)
    return app
