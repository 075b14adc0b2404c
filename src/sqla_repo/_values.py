"""Checks of the values a write or a key lookup would send, made before any SQL.

Each column attribute gets a test derived once from its column's type: the Python
type the column takes and the range every backend can hold (``Integer`` is 32-bit
also on SQLite, ``Float`` single precision as on MySQL/MariaDB). A refused value
raises :class:`InvalidFieldError` naming the model and field, never the value (it
may be a secret, and messages reach logs). ``None`` is left to the database's NOT
NULL constraints; SQL expressions, JSON and custom (``TypeDecorator``) types are not
checked, except :class:`~sqla_repo._timestamps.UTCDateTime`, which takes timezone-aware
datetimes only. Nothing here touches a session or a database.
"""

from __future__ import annotations

import inspect
import operator
import sys
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from math import isfinite, isnan
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.mysql import MEDIUMINT, SET, TINYINT
from sqlalchemy.orm import Mapper
from sqlalchemy.sql.elements import ClauseElement

from ._errors import InvalidFieldError
from ._timestamps import UTCDateTime, naive_problem

_FLOAT_MAX = 3.4028234663852886e38  # the largest single-precision float
_DOUBLE_MAX = sys.float_info.max
_INTEGER_BITS = (
    (sqltypes.BigInteger, 64),
    (sqltypes.SmallInteger, 16),
    (MEDIUMINT, 24),
    (TINYINT, 8),
)


_NONE: type = type(None)
_INTS: frozenset[type] = frozenset({int, _NONE})
_STRS: frozenset[type] = frozenset({str, _NONE})


@dataclass(frozen=True, slots=True)
class _Rule:
    """A column type's test, and what is wrong with a value it refused (never the value)."""

    accepts: Callable[[Any], bool]
    problem: Callable[[Any], str]
    accepts_all: Callable[[list[Any]], bool] | None = None
    """A faster test of many values at once; ``False`` may also mean "test them one by one"."""


class ValueCheck:
    """The value tests of one model's column attributes, and of its constructor."""

    __slots__ = (
        "_accepts",
        "_batches",
        "_keys",
        "_model",
        "_problems",
        "_required",
        "_takes",
        "_validated",
    )

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._model = mapper.class_.__name__
        rules = {
            prop.key: rule
            for prop in mapper.column_attrs
            if isinstance(prop.columns[0], Column) and (rule := _rule(prop.columns[0].type))
        }
        self._accepts = {name: rule.accepts for name, rule in rules.items()}
        self._problems = {name: rule.problem for name, rule in rules.items()}
        self._batches = {
            name: rule.accepts_all for name, rule in rules.items() if rule.accepts_all is not None
        }
        self._keys = tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)
        self._validated = frozenset(mapper.validators)
        self._takes, self._required = _constructor(mapper)

    def values(self, values: Mapping[str, Any]) -> None:
        """Refuse a value of ``values`` (attribute name -> value) its column cannot hold."""
        accepts = self._accepts  # the hot loop of create_many: one lookup and call per value
        for name, value in values.items():
            test = accepts.get(name)
            if test is not None and value is not None and not test(value):
                raise self._refused(name, value)

    def columns(self, names: Iterable[str], rows: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`values` for many rows that all give ``names``, a column at a time (a
        column of strings or integers is tested in a few passes at C speed)."""
        for name in names:
            test = self._accepts.get(name)
            if test is None:
                continue
            column = [row[name] for row in rows]
            batch = self._batches.get(name)
            if batch is not None and batch(column):
                continue
            for value in column:
                if value is not None and not test(value):
                    raise self._refused(name, value)

    def changes(self, values: Mapping[str, Any]) -> None:
        """:meth:`values` for values about to be assigned, except those a ``@validates``
        hook receives (it may convert them)."""
        self.values({k: v for k, v in values.items() if k not in self._validated})

    def key(self, key: tuple[Any, ...]) -> None:
        """Refuse a primary-key value its column cannot hold (``key`` in column order)."""
        accepts = self._accepts
        for name, value in zip(self._keys, key, strict=True):
            test = accepts.get(name)
            if test is not None and value is not None and not test(value):
                raise self._refused(name, value)

    def constructor(self, names: Collection[str]) -> None:
        """Refuse a field the model's constructor does not take, or lacking a required one
        (a ``MappedAsDataclass`` field with ``init=False``, or without a default)."""
        model, takes = self._model, self._takes
        for name in () if takes is None else names:
            if takes is not None and name not in takes:
                raise InvalidFieldError(
                    f"{model}.{name} cannot be given: {model}() does not take it (init=False)"
                )
        for name in self._required:
            if name not in names:
                raise InvalidFieldError(f"{model}.{name} is required: {model}() has no default")

    def _refused(self, name: str, value: object) -> InvalidFieldError:
        return InvalidFieldError(f"{self._model}.{name}: {self._problems[name](value)}")


_checks: WeakKeyDictionary[Mapper[Any], ValueCheck] = WeakKeyDictionary()


def value_check(mapper: Mapper[Any]) -> ValueCheck:
    """The checks of ``mapper``'s model, computed on first use."""
    found = _checks.get(mapper)
    if found is None:
        found = _checks[mapper] = ValueCheck(mapper)
    return found


def _constructor(mapper: Mapper[Any]) -> tuple[frozenset[str] | None, tuple[str, ...]]:
    """The keyword arguments the model's constructor takes (``None``: any) and requires."""
    init = getattr(mapper.class_manager, "original_init", None)
    if init is None or init is mapper.registry.constructor:
        return None, ()
    try:
        parameters = list(inspect.signature(init).parameters.values())[1:]  # after self
    except (TypeError, ValueError):  # pragma: no cover - a constructor without a signature
        return None, ()
    named = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    required = tuple(p.name for p in named if p.default is p.empty)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None, required
    return frozenset(p.name for p in named), required


def _rule(kind: sqltypes.TypeEngine[Any]) -> _Rule | None:
    """The test of a column type; ``None`` for types left unchecked."""
    if isinstance(kind, UTCDateTime):
        return _aware_rule()
    if isinstance(kind, sqltypes.TypeDecorator | SET):
        return None  # converted by its own code; a MySQL SET takes a set of strings
    if isinstance(kind, sqltypes.Boolean):
        return _kind_rule((bool,), "expects a bool")
    if isinstance(kind, sqltypes.Enum):
        return _enum_rule(kind)
    if isinstance(kind, sqltypes.Integer):
        return _integer_rule(kind)
    if isinstance(kind, sqltypes.Float):  # a Numeric on SQLAlchemy 2.0, not on 2.1
        return _float_rule(kind)
    if isinstance(kind, sqltypes.Numeric):
        return _decimal_rule(kind)
    if isinstance(kind, sqltypes.String):
        return _text_rule(kind)
    if isinstance(kind, sqltypes.DateTime):
        return _kind_rule((datetime,), "expects a datetime")
    if isinstance(kind, sqltypes.Date):
        return _kind_rule((date,), "expects a date")  # a datetime is one, stored as its date
    if isinstance(kind, sqltypes.Time):
        return _kind_rule((time,), "expects a time")
    if isinstance(kind, sqltypes.LargeBinary):
        return _kind_rule((bytes, bytearray, memoryview), "expects bytes")
    if isinstance(kind, sqltypes.Uuid):
        return _uuid_rule(kind)
    return None


def _is_expression(value: object) -> bool:
    return isinstance(value, ClauseElement) or hasattr(value, "__clause_element__")


def _kind_rule(kinds: tuple[type, ...], problem: str) -> _Rule:
    def accepts(value: object) -> bool:
        return isinstance(value, kinds) or _is_expression(value)

    return _Rule(accepts, lambda _value: problem)


def _aware_rule() -> _Rule:
    """Timezone-aware datetimes (:class:`UTCDateTime`): a naive one's zone is unknown."""

    def accepts(value: object) -> bool:
        if isinstance(value, datetime):
            return value.utcoffset() is not None
        return _is_expression(value)

    def problem(value: object) -> str:
        return naive_problem(value) or "expects a timezone-aware datetime"

    return _Rule(accepts, problem)


def _integer_rule(kind: sqltypes.Integer) -> _Rule:
    bits = next((bits for base, bits in _INTEGER_BITS if isinstance(kind, base)), 32)
    unsigned = getattr(kind, "unsigned", False)  # MySQL's UNSIGNED
    low: int = 0 if unsigned else -(2 ** (bits - 1))
    high: int = 2**bits - 1 + low
    # the bounds as powers of two: no digits that could spell the value refused
    span = f"0..2**{bits}-1" if unsigned else f"-2**{bits - 1}..2**{bits - 1}-1"
    problem = f"expects an integer in {span}"

    def accepts(value: object) -> bool:
        if type(value) is int:
            return low <= value <= high
        if isinstance(value, int) and not isinstance(value, bool):
            return low <= value <= high
        return _is_expression(value)

    def accepts_all(values: list[Any]) -> bool:
        kinds = set(map(type, values))
        if not kinds <= _INTS:
            return False
        numbers = values if _NONE not in kinds else [v for v in values if v is not None]
        return not numbers or (low <= min(numbers) and max(numbers) <= high)

    return _Rule(accepts, lambda _value: problem, accepts_all)


def _float_rule(kind: sqltypes.Float[Any]) -> _Rule:
    """Single precision unless declared double (``Float`` is 4 bytes on MySQL/MariaDB)."""
    precision = getattr(kind, "precision", None) or 0
    if isinstance(kind, sqltypes.Double) or precision > 24:
        return _number_rule(Decimal(_DOUBLE_MAX), "a double-precision float")
    return _number_rule(Decimal(_FLOAT_MAX), "a single-precision float")


def _decimal_rule(kind: sqltypes.Numeric[Any]) -> _Rule:
    if kind.precision is None:
        return _number_rule(Decimal(_DOUBLE_MAX), type(kind).__name__)  # beyond: infinite
    scale = kind.scale or 0
    # the magnitude from which a value rounds to more than `precision` digits
    bound = Decimal(10) ** (kind.precision - scale) - Decimal("0.5").scaleb(-scale)
    return _number_rule(bound, f"{type(kind).__name__}({kind.precision}, {scale})", below=True)


def _number_rule(bound: Decimal, described: str, *, below: bool = False) -> _Rule:
    """Finite numbers (MariaDB refuses NaN and infinity) of magnitude up to ``bound``
    (``below`` it, with ``below``)."""
    float_bound = float(bound)  # NaN compares false with it: refused
    within: Callable[[Any, Any], bool] = operator.lt if below else operator.le

    def accepts(value: object) -> bool:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return within(abs(value), float_bound)
        if isinstance(value, Decimal):
            return value.is_finite() and within(abs(value), bound)
        return _is_expression(value)

    def problem(value: object) -> str:
        if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
            return "expects a number (int, float or Decimal)"
        if isinstance(value, Decimal) and not value.is_finite():
            return f"{'NaN' if value.is_nan() else 'infinity'} is not a number its column can hold"
        if isinstance(value, float) and not isfinite(value):
            return f"{'NaN' if isnan(value) else 'infinity'} is not a number its column can hold"
        return f"a number outside the range of {described}"

    return _Rule(accepts, problem)


def _text_rule(kind: sqltypes.String) -> _Rule:
    """Strings of at most ``length`` characters (a ``Text`` length is a size hint) that
    every backend stores: valid UTF-8 (no lone surrogate), no NUL (PostgreSQL refuses it)."""
    length = None if isinstance(kind, sqltypes.Text) else kind.length
    limit = sys.maxsize if length is None else length

    def accepts(value: object) -> bool:
        if not isinstance(value, str):
            return _is_expression(value)
        if len(value) > limit or "\x00" in value:
            return False
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return False
        return True

    def accepts_all(values: list[Any]) -> bool:
        kinds = set(map(type, values))
        if not kinds <= _STRS:
            return False
        texts = values if _NONE not in kinds else [v for v in values if v is not None]
        if not texts or max(map(len, texts)) > limit:
            return not texts
        joined = "".join(texts)
        if "\x00" in joined:
            return False
        if joined.isascii():
            return True
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return False
        return True

    def problem(value: object) -> str:
        if not isinstance(value, str):
            return "expects a string"
        if length is not None and len(value) > length:
            return f"text longer than {type(kind).__name__}({length})"
        if "\x00" in value:
            return "text with a NUL character, which PostgreSQL cannot store"
        return "text that is not valid UTF-8"

    return _Rule(accepts, problem, accepts_all)


def _enum_rule(kind: sqltypes.Enum) -> _Rule:
    """A member of the enum class or one of the strings stored (names, by default)."""
    allowed: frozenset[object] = frozenset(kind.enums)
    problem = f"expects one of {', '.join(kind.enums)}"
    if kind.enum_class is not None:
        allowed |= frozenset(kind.enum_class)
        problem = f"expects a {kind.enum_class.__name__} member or one of {', '.join(kind.enums)}"

    def accepts(value: object) -> bool:
        try:
            if value in allowed:
                return True
        except TypeError:  # unhashable
            return False
        return _is_expression(value)

    return _Rule(accepts, lambda _value: problem)


def _uuid_rule(kind: sqltypes.Uuid[Any]) -> _Rule:
    """``as_uuid`` columns take ``uuid.UUID`` (SQLite cannot store a string given for
    one); the others take a UUID's text."""
    if kind.as_uuid:
        return _kind_rule((uuid.UUID,), "expects a uuid.UUID")

    def accepts(value: object) -> bool:
        if not isinstance(value, str):
            return _is_expression(value)
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True

    return _Rule(accepts, lambda _value: "expects the text of a UUID")
