"""Orderings as data, without a database: keys, tie-breakers, refusals, keyset predicates."""

from __future__ import annotations

import itertools
import sqlite3
from typing import Any

import pytest
from sqlalchemy import asc, column, desc, func, inspect, literal_column, text
from sqlalchemy.dialects import sqlite

from sqla_repo import InvalidFieldError
from sqla_repo._ordering import SortKey, after_clause, ordering_signature, sort_keys
from tests.models import Order, Product, Reading, Tag

PRODUCT = inspect(Product)


def _described(keys: list[SortKey]) -> list[str]:
    return [key.describe() for key in keys]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ["id:asc:"]),
        ("name", ["name:asc:", "id:asc:"]),
        ("-name", ["name:desc:", "id:asc:"]),
        (Product.name, ["name:asc:", "id:asc:"]),
        (Product.name.desc(), ["name:desc:", "id:asc:"]),
        (desc("name"), ["name:desc:", "id:asc:"]),
        (asc(literal_column("sku")), ["sku:asc:", "id:asc:"]),
        (desc(column("sku")), ["sku:desc:", "id:asc:"]),
        (Product.name.asc().nulls_last(), ["name:asc:last", "id:asc:"]),
        (["-price_cents", "name"], ["price_cents:desc:", "name:asc:", "id:asc:"]),
        (["name", "-price_cents"], ["name:asc:", "price_cents:desc:", "id:asc:"]),
        (["-id"], ["id:desc:"]),
        ([Product.id, "name"], ["id:asc:", "name:asc:"]),
    ],
    ids=repr,
)
def test_sort_keys_end_with_the_primary_key_ascending(order_by: Any, expected: list[str]) -> None:
    assert _described(sort_keys(PRODUCT, order_by)) == expected


def test_a_composite_key_adds_what_the_ordering_lacks() -> None:
    keys = sort_keys(inspect(Tag), ["-name", "label"])
    assert _described(keys) == ["name:desc:", "label:asc:", "scope:asc:"]
    keys = sort_keys(inspect(Tag), ["-name"])
    assert _described(keys) == ["name:desc:", "scope:asc:"]


def test_an_expression_of_the_model_is_a_key() -> None:
    [key, tie] = sort_keys(PRODUCT, func.lower(Product.name).desc())
    assert key.attribute is None
    assert key.descending
    assert "lower(products.name)" in key.describe()
    assert tie.attribute == "id"


@pytest.mark.parametrize(
    "order_by",
    [
        "no_such",
        "-no_such",
        "orders",
        desc("no_such"),
        asc(literal_column("no_such")),
        literal_column("1; DROP TABLE products"),
        text("name"),
        desc(text("name")),
        Order.quantity,
        Order.quantity.desc(),
        func.lower(Order.__table__.c.quantity),
        func.lower(literal_column("name")),
        42,
        [Product.name, None],
    ],
    ids=repr,
)
def test_keys_that_are_not_the_models_columns_are_refused(order_by: Any) -> None:
    with pytest.raises(InvalidFieldError):
        sort_keys(PRODUCT, order_by)


def test_signature_binds_model_columns_and_directions() -> None:
    reading = inspect(Reading)
    signatures = {
        ordering_signature(reading, sort_keys(reading, order))
        for order in ["grp", "-grp", ["grp", "score"], ["grp", "-score"], "score"]
    }
    assert len(signatures) == 5
    product = ordering_signature(PRODUCT, sort_keys(PRODUCT, "id"))
    assert product != ordering_signature(reading, sort_keys(reading, "id"))


# The predicate against SQLite's own ordering (NULL lowest): from every row, exactly the
# rows after it, on nullable columns in every direction.
ROWS = [
    (i, a, b) for i, (a, b) in enumerate(itertools.product([None, 1, 2], [None, "x", "y"]), start=1)
]


@pytest.mark.parametrize(
    "order_by",
    [["score", "label"], ["-score", "label"], ["score", "-label"], ["-score", "-label"], ["label"]],
    ids=repr,
)
def test_after_clause_matches_the_database_order(order_by: list[str]) -> None:
    mapper = inspect(Reading)
    keys = sort_keys(mapper, order_by)
    columns = [str(key.attribute) for key in keys]
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE readings (id INTEGER PRIMARY KEY, score REAL, label TEXT)")
    connection.executemany("INSERT INTO readings VALUES (?, ?, ?)", ROWS)
    clauses = ", ".join(f"{key.attribute} {'DESC' if key.descending else 'ASC'}" for key in keys)
    ordered = [r[0] for r in connection.execute(f"SELECT id FROM readings ORDER BY {clauses}")]
    by_id = {row[0]: dict(zip(("id", "score", "label"), row, strict=True)) for row in ROWS}
    for position, row_id in enumerate(ordered):
        values = [by_id[row_id][name] for name in columns]
        predicate = after_clause(keys, values, nulls_low=True).compile(
            dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
        )
        sql = str(predicate).replace("readings.", "")
        after = [
            r[0]
            for r in connection.execute(f"SELECT id FROM readings WHERE {sql} ORDER BY {clauses}")
        ]
        assert after == ordered[position + 1 :], (values, sql)
