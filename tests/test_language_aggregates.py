"""LANGUAGE.md §6: aggregates over sources, with and without `where`, on empty
input, over NULL values, and first/last at equal timestamps."""

from __future__ import annotations

import pytest
from helpers import check, table

AS_OF = "2024-05-10T12:00:00"

ORDER_COLUMNS = (
    "customer_id INTEGER, ordered_at TIMESTAMP, amount DOUBLE, status VARCHAR, sku VARCHAR"
)
# customer | ordered_at          | amount | status     | sku
#  1       | 2024-05-01 10:00    | 10     | paid       | A
#  1       | 2024-05-05 10:00    | 30     | paid       | B
#  1       | 2024-05-09 10:00    | 20     | refunded   | A
#  2       | 2024-04-20 10:00    | 100    | paid       | A
#  2       | 2024-05-10 13:00    | 500    | paid       | B      after as_of: invisible
#  3       | 2024-05-02 10:00    | null   | paid       | C
#  3       | 2024-05-03 10:00    | 5      | null       | C
#  4       | (no orders)
#  5       | 2024-05-04 10:00    | 7      | paid       | A
#  5       | null                | 1000   | paid       | A      no time: ignored
#  6       | 2024-05-10 12:00    | 50     | paid       | D      exactly at as_of: visible
#  null    | 2024-05-04 10:00    | 1      | paid       | A      no key: ignored
#  7       | 2024-05-01 10:00    | 1      | paid       | A      not a profile: not in the universe
SHOP = {
    "customers": [{"customer_id": i} for i in range(1, 7)],
    "orders": table(
        ORDER_COLUMNS,
        (1, "2024-05-01 10:00:00", 10, "paid", "A"),
        (1, "2024-05-05 10:00:00", 30, "paid", "B"),
        (1, "2024-05-09 10:00:00", 20, "refunded", "A"),
        (2, "2024-04-20 10:00:00", 100, "paid", "A"),
        (2, "2024-05-10 13:00:00", 500, "paid", "B"),
        (3, "2024-05-02 10:00:00", None, "paid", "C"),
        (3, "2024-05-03 10:00:00", 5, None, "C"),
        (5, "2024-05-04 10:00:00", 7, "paid", "A"),
        (5, None, 1000, "paid", "A"),
        (6, "2024-05-10 12:00:00", 50, "paid", "D"),
        (None, "2024-05-04 10:00:00", 1, "paid", "A"),
        (7, "2024-05-01 10:00:00", 1, "paid", "A"),
    ),
}

AGGREGATES = [
    # count: 1→3, 2→1, 3→2, 4→0, 5→1, 6→1
    ("count(orders) = 3", {1}),
    ("count(orders) = 2", {3}),
    ("count(orders) = 1", {2, 5, 6}),
    ("count(orders) = 0", {4}),  # empty input: 0, not null
    ("count(orders) >= 1", {1, 2, 3, 5, 6}),
    ("not (count(orders) >= 1)", {4}),
    ("count(orders where amount > 15) = 2", {1}),  # 30, 20
    ("count(orders where amount > 15) = 1", {2, 6}),  # 100 (500 is after as_of); 50
    ("count(orders where amount > 15) = 0", {3, 4, 5}),  # 5's 1000 has no time
    ('count(orders where status = "paid") = 1', {2, 3, 5, 6}),  # 3's null status: not paid
    ('count(orders where status != "paid") >= 1', {1}),  # null status: != is false too
    ('count(orders where not (status = "paid")) >= 1', {1, 3}),  # not flips the false
    ("count(orders where amount is null) = 1", {3}),
    ('count(orders where status = "paid" and sku = "A") = 1', {1, 2, 5}),
    ('count(orders where sku in ("C", "D")) >= 1', {3, 6}),
    ("count(orders.amount) = 1", {2, 3, 5, 6}),  # a value: its non-null rows (3: null, 5)
    ("count(orders.status where amount > 0) = 3", {1}),
    # count_distinct (nulls are not a value)
    ("count_distinct(orders.sku, last 7 days) = 2", {1}),  # (05-03 12:00, …]: B, A
    (
        "count_distinct(orders.sku, last 7 days) = 1",
        {5, 6},
    ),  # 2: 20 days ago; 3: 05-02, 05-03 10:00
    ("count_distinct(orders.sku) = 2", {1}),  # A, B
    ("count_distinct(orders.sku) = 1", {2, 3, 5, 6}),  # 2: A only (B is after as_of)
    ("count_distinct(orders.sku) = 0", {4}),
    ("count_distinct(orders.status) = 1", {2, 3, 5, 6}),  # 3: paid, null → 1
    ("count_distinct(orders.sku where amount > 15) = 2", {1}),  # B, A
    ("count_distinct(orders.sku where amount > 15) = 0", {3, 4, 5}),
    ("count_distinct(date(orders.ordered_at)) = 3", {1}),
    ("count_distinct(orders.amount) = 1", {2, 3, 5, 6}),  # 3: null, 5 → 1
    # sum: empty input and all-null input give 0; nulls are skipped
    ("sum(orders.amount) = 60", {1}),
    ("sum(orders.amount) = 100", {2}),
    ("sum(orders.amount) = 5", {3}),
    ("sum(orders.amount) = 0", {4}),
    ("sum(orders.amount) = 7", {5}),  # not 1007
    ("sum(orders.amount) = 50", {6}),
    ('sum(orders.amount where status = "paid") = 40', {1}),  # 10 + 30
    ('sum(orders.amount where status = "paid") = 0', {3, 4}),  # 3: only a null amount
    ("sum(orders.amount * 2) = 120", {1}),
    ("sum(orders.amount) / count(orders) = 20", {1}),  # 60 / 3
    ("sum(orders.amount) / count(orders) is null", {4}),  # 0 / 0
    # avg: empty input is null; nulls are skipped, not zeros
    ("avg(orders.amount) = 20", {1}),
    ("avg(orders.amount) = 5", {3}),  # not 2.5
    ("avg(orders.amount) is null", {4}),
    ('avg(orders.amount where status = "paid") is null', {3, 4}),
    ('avg(orders.amount where status = "paid") = 20', {1}),  # (10 + 30) / 2
    ("not (avg(orders.amount) > 10)", {3, 4, 5}),
    # min / max: empty input is null
    ("min(orders.amount) = 10", {1}),
    ("min(orders.amount) = 5", {3}),
    ("min(orders.amount) is null", {4}),
    ("max(orders.amount) = 100", {2}),
    ("max(orders.amount) = 30", {1}),
    ("max(orders.amount) > 1000", set()),
    ('max(orders.amount where status = "refunded") = 20', {1}),
    ('max(orders.amount where status = "refunded") is null', {2, 3, 4, 5, 6}),
    ('min(orders.sku) = "A"', {1, 2, 5}),
    ('max(orders.sku) = "B"', {1}),
    ("min(orders.ordered_at) = 2024-05-01T10:00:00", {1}),
    ("max(orders.ordered_at) < 2024-05-01", {2}),  # 2024-05-10 13:00 is after as_of
    ("max(orders.ordered_at) = 2024-05-10T12:00:00", {6}),
    ("max(orders.ordered_at) is null", {4}),
    ("max(date(orders.ordered_at)) = 2024-05-09", {1}),
    # first / last: the value at the earliest / latest row by time
    ("first(orders.amount) = 10", {1}),
    ("first(orders.amount) = 100", {2}),
    ("first(orders.amount) is null", {3, 4}),  # 3's earliest row has no amount
    ("last(orders.amount) = 20", {1}),
    ("last(orders.amount) = 100", {2}),
    ("last(orders.amount) = 5", {3}),
    ("last(orders.amount) = 7", {5}),  # the row without time is not the latest
    ("last(orders.amount) = 50", {6}),
    ("last(orders.amount) is null", {4}),
    ("last(orders.status) is null", {3, 4}),
    ('last(orders.status) = "refunded"', {1}),
    ('first(orders.sku) = "A"', {1, 2, 5}),
    ('last(orders.sku) = "A"', {1, 2, 5}),
    ("first(orders.amount where amount > 15) = 30", {1}),
    ('last(orders.amount where status = "paid") = 30', {1}),
    ('first(orders.amount where status = "paid") is null', {3, 4}),
    ('last(orders.amount where status = "paid") is null', {3, 4}),
    ("first(orders.ordered_at) = 2024-05-01T10:00:00", {1}),
    ("last(orders.ordered_at) = 2024-05-10T12:00:00", {6}),
    ("last(orders.ordered_at) = 2024-04-20T10:00:00", {2}),
    ("last(orders.amount * 2) = 40", {1}),
    # did = count ≥ 1
    ("did(orders)", {1, 2, 3, 5, 6}),
    ("not did(orders)", {4}),
    ("did(orders where amount > 50)", {2}),  # 500 is after as_of
    ('did(orders where status = "refunded")', {1}),
    ("did(orders where amount is null)", {3}),
    ('did(orders where sku = "D") or did(orders where sku = "C")', {3, 6}),
    ('did(orders) and not did(orders where status = "paid" and amount > 5)', {3}),
]


def test_count_distinct_of_one_value_shares_a_pass() -> None:
    # three count_distinct of orders.sku (two windows and a filter) in one query:
    # computed together from (key, sku) pairs, each with its own mark
    seg = (
        "segmentation tested by priority {\n"
        "  in_7_days = count_distinct(orders.sku, last 7 days) = 2\n"  # 1: B, A
        "  ever_one = count_distinct(orders.sku) = 1\n"  # 2: A; 3: C, C; 5: A; 6: D
        "  none_big = count_distinct(orders.sku where amount > 15) = 0\n"  # 4: no orders
        "  else rest\n"
        "}\n"
    )
    labels = {1: "in_7_days", 2: "ever_one", 3: "ever_one", 4: "none_big"}
    check(seg, SHOP, {**labels, 5: "ever_one", 6: "ever_one"}, as_of=AS_OF)


# count_distinct of one value whose windows only start somewhere (and share the
# filter): the (key, value) pairs carry their latest time, each window counts the
# pairs whose latest time is in it. Per customer (as_of 05-10 12:00):
#   last 7 days (after 05-03 12:00): 1: B, A · 3: none (05-03 10:00) · 5: A · 6: D
#   last 9 days (after 05-01 12:00): 1: B, A (05-01 10:00 is out) · 3: C · 5: A · 6: D
#   since 2024-05-09 (from 05-09 00:00): 1: A · 6: D      ever: 1: A, B · 2: A · 3: C · 5: A · 6: D
D7 = "count_distinct(orders.sku, last 7 days)"
D9 = "count_distinct(orders.sku, last 9 days)"
SINCE = "count_distinct(orders.sku, since 2024-05-09)"
EVER = "count_distinct(orders.sku)"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (f"{D7} = 1 and {D9} = 1 and {SINCE} = 0 and {EVER} = 1", {5}),
        (f"{D7} = 0 and {D9} = 1", {3}),
        (f"{SINCE} = 1 and {D7} = 2 and {EVER} = 2", {1}),
        (f"{SINCE} = 1 and {D9} = 1", {6}),
        (f"{D9} = 0 and {EVER} = 1", {2}),
        (f"{D9} = 0 and {EVER} = 0", {4}),
        # a shared filter: 1's A of 10 is before the 9 days, its B (30) and A (20) in
        (
            "count_distinct(orders.sku where amount > 8, last 7 days) = 2"
            " and count_distinct(orders.sku where amount > 8) = 2",
            {1},
        ),
    ],
)
def test_count_distinct_by_latest_time(condition: str, expected: set[int]) -> None:
    sql = check(condition, SHOP, expected, as_of=AS_OF)
    assert 'MAX("t")' in sql


@pytest.mark.parametrize(("condition", "expected"), AGGREGATES)
def test_aggregates(condition: str, expected: set[int]) -> None:
    check(condition, SHOP, expected, as_of=AS_OF)


# first/last at equal timestamps: `last` takes the largest value among the rows
# at the latest time, `first` the smallest among the earliest; a non-null value
# is preferred to null among tied rows.
# customer | ordered_at       | amount | sku | status
#  1       | 05-01 10:00      | 5      | b   | x
#  1       | 05-01 10:00      | 9      | a   | x
#  2       | 05-01 10:00      | 3      | a   | x
#  2       | 05-02 10:00      | 8      | a   | x
#  2       | 05-02 10:00      | 4      | c   | x
#  3       | 05-01 10:00      | null   | null| x
#  3       | 05-01 10:00      | 6      | a   | x
#  4       | 05-01 10:00      | 2      | a   | x
#  4       | 05-03 10:00      | null   | a   | x    the latest row has no amount
#  5       | 05-01 10:00      | 1      | a   | x
#  5       | 05-02 10:00      | 2      | a   | paid
#  5       | 05-02 10:00      | 3      | a   | x    larger, but not paid
#  5       | 05-03 10:00      | 4      | a   | x
TIES = {
    "customers": [{"customer_id": i} for i in range(1, 6)],
    "orders": table(
        ORDER_COLUMNS,
        (1, "2024-05-01 10:00:00", 5, "x", "b"),
        (1, "2024-05-01 10:00:00", 9, "x", "a"),
        (2, "2024-05-01 10:00:00", 3, "x", "a"),
        (2, "2024-05-02 10:00:00", 8, "x", "a"),
        (2, "2024-05-02 10:00:00", 4, "x", "c"),
        (3, "2024-05-01 10:00:00", None, "x", None),
        (3, "2024-05-01 10:00:00", 6, "x", "a"),
        (4, "2024-05-01 10:00:00", 2, "x", "a"),
        (4, "2024-05-03 10:00:00", None, "x", "a"),
        (5, "2024-05-01 10:00:00", 1, "x", "a"),
        (5, "2024-05-02 10:00:00", 2, "paid", "a"),
        (5, "2024-05-02 10:00:00", 3, "x", "a"),
        (5, "2024-05-03 10:00:00", 4, "x", "a"),
    ),
}

FIRST_LAST_TIES = [
    ("first(orders.amount) = 5", {1}),  # smallest of 5, 9
    ("last(orders.amount) = 9", {1}),  # largest of 5, 9
    ('first(orders.sku) = "a"', {1, 2, 3, 4, 5}),
    ('last(orders.sku) = "b"', {1}),
    ("last(orders.amount) = 8", {2}),  # largest of 8, 4 at 05-02
    ("first(orders.amount) = 3", {2}),
    ('last(orders.sku) = "c"', {2}),
    ("first(orders.amount) = 6", {3}),  # non-null preferred among tied rows
    ("last(orders.amount) = 6", {3}),
    ('first(orders.sku) = "a" and last(orders.sku) = "a"', {3, 4, 5}),
    ("last(orders.amount) is null", {4}),  # the latest row's value is null
    ("first(orders.amount) = 2", {4}),
    ('last(orders.amount where status = "paid") = 2', {5}),  # 3 does not pass `where`
    ('first(orders.amount where status = "paid") = 2', {5}),
    ('last(orders.amount where status = "x") = 4', {5}),
    ("last(orders.amount where amount < 4) = 3", {2, 5}),  # 2: only 3 passes; 5: 2 and 3 tie
]


@pytest.mark.parametrize(("condition", "expected"), FIRST_LAST_TIES)
def test_first_last_ties(condition: str, expected: set[int]) -> None:
    check(condition, TIES, expected, as_of=AS_OF)


def test_first_last_of_several_values_share_a_pass() -> None:
    # last(amount) and last(sku) share the rows at the latest time; first(amount)
    # and first(sku) the rows at the earliest — each value still breaks ties alone
    seg = (
        "segmentation tested by priority {\n"
        '  one = last(orders.amount) = 9 and last(orders.sku) = "b"\n'  # 1: (9, a), (5, b) tie
        '  two = last(orders.amount) = 8 and last(orders.sku) = "c" and first(orders.sku) = "a"\n'
        '  three = first(orders.amount) = 6 and first(orders.sku) = "a"\n'  # 3: nulls lose
        "  four = last(orders.amount) is null and first(orders.amount) = 2\n"
        "  else five\n"
        "}\n"
    )
    expected = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    check(seg, TIES, expected, as_of=AS_OF)


# a boolean value: MIN/MAX of booleans does not exist on PostgreSQL, so there
# first/last of a boolean is a window in the grouped scan; elsewhere MIN/MAX
GIFTS = {
    "customers": [{"customer_id": i} for i in range(1, 5)],
    "orders": table(
        "customer_id INTEGER, ordered_at TIMESTAMP, gift BOOLEAN",
        (1, "2024-05-01 10:00:00", True),
        (1, "2024-05-02 10:00:00", False),
        (2, "2024-05-02 10:00:00", False),
        (2, "2024-05-02 10:00:00", True),  # tie: true is the larger
        (3, "2024-05-01 10:00:00", None),
        (3, "2024-05-01 10:00:00", False),  # tie: non-null first
        (4, "2024-05-01 10:00:00", True),
        (4, "2024-05-03 10:00:00", None),  # the latest row's value is null
    ),
}

FIRST_LAST_BOOLEAN = [
    ("first(orders.gift)", {1, 4}),
    ("last(orders.gift)", {2}),
    ("not first(orders.gift)", {2, 3}),  # 2: false < true at the tie
    ("last(orders.gift) is null", {4}),
    ("first(orders.gift) = false and last(orders.gift) = false", {3}),
]


@pytest.mark.parametrize(("condition", "expected"), FIRST_LAST_BOOLEAN)
def test_first_last_of_a_boolean(condition: str, expected: set[int]) -> None:
    check(condition, GIFTS, expected, as_of=AS_OF)


# empty source tables (events has no rows at all; orders is empty here too)
EMPTY = {"customers": [{"customer_id": 1}, {"customer_id": 2}]}

EMPTY_SOURCES = [
    ("count(orders) = 0", {1, 2}),
    ('count(events where name = "x") = 0', {1, 2}),
    ("sum(orders.amount) = 0", {1, 2}),
    ("count_distinct(events.name) = 0", {1, 2}),
    ("avg(orders.amount) is null", {1, 2}),
    ("min(orders.amount) is null and max(orders.amount) is null", {1, 2}),
    ("first(orders.amount) is null and last(orders.amount) is null", {1, 2}),
    ("did(orders)", set()),
    ("not did(events)", {1, 2}),
    ("days_since(last(orders.ordered_at)) < 30", set()),
    ("not (days_since(last(orders.ordered_at)) < 30)", {1, 2}),
]


@pytest.mark.parametrize(("condition", "expected"), EMPTY_SOURCES)
def test_empty_sources(condition: str, expected: set[int]) -> None:
    check(condition, EMPTY, expected, as_of=AS_OF)


# LANGUAGE.md §5: a customer with no orders is in
# `not (days_since(last(orders.ordered_at)) < 30)`.
# as_of 2024-05-10 12:00: 1 ordered 9 days 2 h ago → 9; 2 ordered 40 days ago; 3 never
RECENCY = {
    "customers": [{"customer_id": i} for i in (1, 2, 3)],
    "orders": [
        {"customer_id": 1, "ordered_at": "2024-05-01 10:00:00", "amount": 1},
        {"customer_id": 2, "ordered_at": "2024-03-31 12:00:00", "amount": 1},
    ],
}

TWO_VALUED = [
    ("days_since(last(orders.ordered_at)) < 30", {1}),
    ("not (days_since(last(orders.ordered_at)) < 30)", {2, 3}),
    ("days_since(last(orders.ordered_at)) >= 30", {2}),
    ("days_since(last(orders.ordered_at)) = 9", {1}),
    ("days_since(last(orders.ordered_at)) = 40", {2}),
    ("days_since(last(orders.ordered_at)) is null", {3}),
    ("days_since(first(orders.ordered_at)) between 0 and 40", {1, 2}),
]


@pytest.mark.parametrize(("condition", "expected"), TWO_VALUED)
def test_two_valued_logic_over_aggregates(condition: str, expected: set[int]) -> None:
    check(condition, RECENCY, expected, as_of=AS_OF)
