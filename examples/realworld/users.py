"""Users, authentication and profiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from .deps import Follows, MaybeReader, ReaderDep, Tokens, Users
from .errors import invalid, unauthorized
from .models import USERNAME_LENGTH
from .schemas import LoginBody, NoNul, UserBody, UserChangesBody, profile_json, user_json
from .security import hash_password, password_matches

router = APIRouter()
UsernamePath = Annotated[str, Path(max_length=USERNAME_LENGTH), NoNul]
_NOT_NULL = ("username", "email", "password")


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def register(body: UserBody, users: Users, tokens: Tokens) -> dict[str, Any]:
    """A taken username or email is a 422 naming the field."""
    new = body.user
    user = await users.create(
        {
            "username": new.username,
            "email": new.email,
            "password_hash": await hash_password(new.password),
        }
    )
    return user_json(user, tokens.issue(user.id))


@router.post("/users/login")
async def login(body: LoginBody, users: Users, tokens: Tokens) -> dict[str, Any]:
    user = await users.by_email(body.user.email)
    matches = await password_matches(user.password_hash if user else None, body.user.password)
    if user is None or not matches:
        raise unauthorized("email or password is invalid")
    return user_json(user, tokens.issue(user.id))


@router.get("/user")
async def current_user(reader: ReaderDep, users: Users) -> dict[str, Any]:
    user = await users.get(reader.id)
    if user is None:
        raise unauthorized("the token's user no longer exists")
    return user_json(user, reader.token)


@router.put("/user")
async def update_user(body: UserChangesBody, reader: ReaderDep, users: Users) -> dict[str, Any]:
    """Only the fields sent change; ``bio`` and ``image`` may be set to ``null``."""
    changes = body.user.model_dump(exclude_unset=True)
    for field in _NOT_NULL:
        if field in changes and changes[field] is None:
            raise invalid(field, "can't be null")
    if "password" in changes:
        changes["password_hash"] = await hash_password(changes.pop("password"))
    if await users.get(reader.id) is None:
        raise unauthorized("the token's user no longer exists")
    user = await users.update(reader.id, changes)
    return user_json(user, reader.token)


@router.get("/profiles/{username}")
async def profile(username: UsernamePath, reader: MaybeReader, users: Users) -> dict[str, Any]:
    user = await users.by_username(username, reader=reader.id if reader else None)
    return {"profile": profile_json(user)}


@router.post("/profiles/{username}/follow")
async def follow(
    username: UsernamePath, reader: ReaderDep, users: Users, follows: Follows
) -> dict[str, Any]:
    """Following twice is following; following yourself is a 422."""
    user = await users.by_username(username)
    if user.id == reader.id:
        raise invalid("username", "is you: you cannot follow yourself")
    await follows.follow(reader.id, user.id)
    return {"profile": profile_json(user, following=True)}


@router.delete("/profiles/{username}/follow")
async def unfollow(
    username: UsernamePath, reader: ReaderDep, users: Users, follows: Follows
) -> dict[str, Any]:
    user = await users.by_username(username)
    await follows.unfollow(reader.id, user.id)
    return {"profile": profile_json(user, following=False)}
