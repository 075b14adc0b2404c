"""The cursor codec: typed round trips, and refusal of anything else."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import re
import uuid
from typing import Any

import pytest

from sqla_repo import InvalidCursorError
from sqla_repo._cursor import decode_cursor, encode_cursor

SIGNATURE = "Thing@things|name:asc:|id:asc:"


class Color(enum.Enum):
    RED = "r"
    BLUE = "b"


VALUES: list[tuple[Any, type | None]] = [
    (None, int),
    (True, bool),
    (0, int),
    (-(2**70), int),
    (1.5, float),
    (float("inf"), float),
    (0.1 + 0.2, float),
    ("", str),
    ("naïve ☃ 'quoted' \"x\"", str),
    (decimal.Decimal("12.3400"), decimal.Decimal),
    (dt.datetime(2024, 2, 29, 23, 59, 59, 999999), dt.datetime),
    (dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-3))), dt.datetime),
    (dt.date(1999, 12, 31), dt.date),
    (dt.time(1, 2, 3, 4), dt.time),
    (dt.timedelta(days=-1, seconds=5, microseconds=7), dt.timedelta),
    (uuid.UUID("01234567-89ab-7def-8123-456789abcdef"), uuid.UUID),
    (b"\x00\xffbytes", bytes),
    (Color.BLUE, Color),
]


@pytest.mark.parametrize(("value", "kind"), VALUES, ids=[repr(v)[:30] for v, _ in VALUES])
def test_values_round_trip_exactly(value: Any, kind: type | None) -> None:
    cursor = encode_cursor(SIGNATURE, [value, 7])
    assert re.fullmatch(r"[A-Za-z0-9\-_.~=]+", cursor)
    decoded = decode_cursor(SIGNATURE, cursor, [kind, int])
    assert decoded == [value, 7]
    assert [type(v) for v in decoded] == [type(value), int]


def test_a_cursor_is_deterministic() -> None:
    assert encode_cursor(SIGNATURE, ["a", 1]) == encode_cursor(SIGNATURE, ["a", 1])


def _flip(cursor: str, at: int) -> str:
    return cursor[:at] + ("A" if cursor[at] != "A" else "B") + cursor[at + 1 :]


def _rebuilt(payload: bytes) -> str:
    """A cursor whose digest no longer matches its payload."""
    return base64.urlsafe_b64encode(payload + b"\x00" * 12).decode().rstrip("=")


GOOD = encode_cursor(SIGNATURE, ["name", 3])


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        " ",
        "%%%",
        "abc",
        GOOD[:-1],
        GOOD[:-6],
        GOOD + "A",
        _flip(GOOD, 0),
        _flip(GOOD, len(GOOD) // 2),
        _flip(GOOD, len(GOOD) - 1),
        _rebuilt(b'[1,[["s","name"],["i",3]]]'),
        encode_cursor("Thing@things|name:desc:|id:asc:", ["name", 3]),
        encode_cursor("Other@others|name:asc:|id:asc:", ["name", 3]),
        "A" * 10_000,
        b"bytes",
        42,
        None.__class__,
    ],
    ids=lambda c: repr(c)[:24],
)
def test_anything_else_is_refused(cursor: Any) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(SIGNATURE, cursor, [str, int])


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        (["name", 3], [int, int]),  # a string where the key is an integer
        (["name", 3], [str, str]),
        (["name"], [str, int]),  # the wrong number of keys
        (["name", 3, 4], [str, int]),
        ([1.5, 3], [int, int]),
        ([True, 3], [int, int]),
        (["RED", 3], [Color, int]),
    ],
)
def test_values_of_the_wrong_shape_are_refused(values: list[Any], kinds: list[Any]) -> None:
    cursor = encode_cursor(SIGNATURE, values)
    with pytest.raises(InvalidCursorError):
        decode_cursor(SIGNATURE, cursor, kinds)


def test_an_unknown_enum_member_is_refused() -> None:
    class Other(enum.Enum):
        GREEN = "g"

    cursor = encode_cursor(SIGNATURE, [Other.GREEN, 1])
    with pytest.raises(InvalidCursorError):
        decode_cursor(SIGNATURE, cursor, [Color, int])


def test_a_value_no_cursor_can_carry_fails_to_encode() -> None:
    with pytest.raises(TypeError, match="object"):
        encode_cursor(SIGNATURE, [object(), 1])
