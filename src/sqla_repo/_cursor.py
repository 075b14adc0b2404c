"""Opaque keyset-pagination cursors: the last row's key values, bound to their ordering.

A cursor is URL-safe base64 of a small JSON document followed by a keyed BLAKE2b
digest. The digest's key is derived from the ordering signature (model, columns,
directions), so a cursor made by another ordering, or altered in any byte, fails
to verify. Nothing here depends on a per-process secret: cursors stay valid
across sessions, processes and restarts. Values are typed, so a decoded cursor
gives back exactly the Python values it was made from.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import enum
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import InvalidCursorError

_VERSION = 1
_DIGEST_SIZE = 12
_MAX_LENGTH = 8192
"""Longer input is refused before decoding: no cursor this module makes comes close."""


def encode_cursor(signature: str, values: Sequence[object]) -> str:
    """The cursor for a row whose ordering keys hold ``values``.

    Raises ``TypeError`` for a value of a type a cursor cannot carry.
    """
    payload = json.dumps(
        [_VERSION, [_encode_value(value) for value in values]],
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")
    token = base64.urlsafe_b64encode(payload + _digest(signature, payload))
    return token.decode("ascii").rstrip("=")


def decode_cursor(signature: str, cursor: object, types: Sequence[type | None]) -> list[object]:
    """The key values carried by ``cursor``, checked against the ordering.

    ``types`` holds, per key, the Python type its values must have (``None``: not
    checked). Anything that is not a cursor of this ordering raises
    :class:`InvalidCursorError`.
    """
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_LENGTH:
        raise InvalidCursorError("not a pagination cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursorError("not a pagination cursor") from None
    payload, digest = raw[:-_DIGEST_SIZE], raw[-_DIGEST_SIZE:]
    if len(raw) <= _DIGEST_SIZE or not hmac.compare_digest(digest, _digest(signature, payload)):
        raise InvalidCursorError(
            "the cursor was not made by this ordering (model, columns and directions), "
            "or it was altered"
        )
    try:
        version, encoded = json.loads(payload)
        if version != _VERSION or not isinstance(encoded, list) or len(encoded) != len(types):
            raise ValueError("unexpected layout")
        pairs = zip(encoded, types, strict=True)
        return [_decode_value(item, expected) for item, expected in pairs]
    except (ValueError, TypeError, KeyError, ArithmeticError) as err:
        raise InvalidCursorError(f"malformed pagination cursor ({err})") from None


def can_carry(kind: type | None) -> bool:
    """Whether a cursor can carry values of ``kind`` (``None``: not known, so try)."""
    return (
        kind is None
        or issubclass(kind, enum.Enum)
        or any(issubclass(kind, carried) for _, carried, _, _ in _CODECS)
    )


def _digest(signature: str, payload: bytes) -> bytes:
    key = hashlib.sha256(signature.encode("utf-8")).digest()
    return hashlib.blake2b(payload, key=key, digest_size=_DIGEST_SIZE).digest()


# Tag -> (type, to JSON, from JSON). Order matters for encoding: bool before int,
# datetime before date (each is a subclass of the next).
_CODECS: list[tuple[str, type, Callable[[Any], Any], Callable[[Any], Any]]] = [
    ("b", bool, lambda v: v, lambda j: _exact(j, bool)),
    ("i", int, lambda v: int(v), lambda j: _exact(j, int)),
    ("f", float, repr, lambda j: float(_exact(j, str))),
    ("s", str, lambda v: v, lambda j: _exact(j, str)),
    ("d", decimal.Decimal, str, lambda j: decimal.Decimal(_exact(j, str))),
    (
        "t",
        dt.datetime,
        lambda v: v.isoformat(),
        lambda j: dt.datetime.fromisoformat(_exact(j, str)),
    ),
    ("D", dt.date, lambda v: v.isoformat(), lambda j: dt.date.fromisoformat(_exact(j, str))),
    ("T", dt.time, lambda v: v.isoformat(), lambda j: dt.time.fromisoformat(_exact(j, str))),
    (
        "td",
        dt.timedelta,
        lambda v: [v.days, v.seconds, v.microseconds],
        lambda j: dt.timedelta(*(_exact(part, int) for part in j)),
    ),
    ("u", uuid.UUID, lambda v: v.hex, lambda j: uuid.UUID(hex=_exact(j, str))),
    (
        "y",
        bytes,
        lambda v: base64.b64encode(v).decode("ascii"),
        lambda j: base64.b64decode(_exact(j, str), validate=True),
    ),
]
_BY_TAG = {tag: (kind, load) for tag, kind, _, load in _CODECS}


def _exact(value: object, kind: type) -> Any:
    if type(value) is not kind:
        raise TypeError(f"expected {kind.__name__}")
    return value


def _encode_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return ["e", value.name]
    for tag, kind, dump, _ in _CODECS:
        if isinstance(value, kind):
            return [tag, dump(value)]
    raise TypeError(f"a pagination cursor cannot carry a {type(value).__name__} value")


def _decode_value(item: object, expected: type | None) -> object:
    if item is None:
        return None
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
        raise ValueError("unexpected value")
    tag, data = item
    if tag == "e":
        if not (isinstance(expected, type) and issubclass(expected, enum.Enum)):
            raise ValueError("unexpected enum value")
        return expected[_exact(data, str)]
    kind, load = _BY_TAG[tag]
    value = load(data)
    if expected is not None and not _compatible(kind, expected):
        raise ValueError(f"a {kind.__name__} where the ordering has {expected.__name__}")
    return value


def _compatible(kind: type, expected: type) -> bool:
    if expected is float:  # a float column may hand back ints on some drivers
        return kind in (float, int, decimal.Decimal)
    if expected is decimal.Decimal:
        return kind in (decimal.Decimal, int, float)
    if expected is int:
        return kind is int
    return issubclass(kind, expected)
