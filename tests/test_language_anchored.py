"""LANGUAGE.md §17 anchored windows: `N to M UNITS after ANCHOR` and `first N
UNITS after ANCHOR` (= `0 to N`): rows with anchor + N < time <= anchor + M and
time <= as_of; a null anchor selects no row. Hand-computed at their edges, run
on DuckDB (and on BigQuery's ZetaSQL with SEGQL_ALSO_BIGQUERY=1); PostgreSQL in
tests/engines/test_behavioral_postgres.py (ANCHORED)."""

from __future__ import annotations

import pytest
from helpers import check, compile_sql, table

from segql.errors import SegqlError, SegqlErrors
from segql.syntax.fmt import format_text

AS_OF = "2024-05-10T12:00:00"

# customer | signed_up_at          | signup_date | orders (UTC)
#    1     | 2024-01-01 00:00      | 2024-01-01  | Jan 8 00:00 (= anchor + 7 d), Jan 8 00:00:01,
#          |                       |             | Jan 15 00:00 (= anchor + 14 d)
#    2     | 2024-01-01 00:00      | 2024-01-01  | Jan 1 00:00 (= the anchor itself), Jan 20
#    3     | null                  | null        | Jan 5
#    4     | 2024-05-09 00:00      | 2024-05-09  | May 10 12:00 (= as_of), May 10 12:00:01 (after
#          |                       |             | as_of: invisible), May 11
#    5     | 2024-06-01 (after as_of) | null     | May 1
#    6     | 2024-01-31 00:00      | 2024-01-31  | Feb 29 00:00 (= Jan 31 + 1 month, clamped),
#          |                       |             | Mar 1 00:00
PEOPLE = table(
    "customer_id INTEGER, signed_up_at TIMESTAMP, signup_date DATE, plan VARCHAR",
    (1, "2024-01-01 00:00:00", "2024-01-01", "a"),
    (2, "2024-01-01 00:00:00", "2024-01-01", "b"),
    (3, None, None, "a"),
    (4, "2024-05-09 00:00:00", "2024-05-09", "a"),
    (5, "2024-06-01 00:00:00", None, "b"),
    (6, "2024-01-31 00:00:00", "2024-01-31", "a"),
)


def _o(key, t, amount=1.0, sku="x"):
    return {"customer_id": key, "ordered_at": t, "amount": amount, "sku": sku}


ORDERS = [
    _o(1, "2024-01-08 00:00:00", 10.0, "a"),
    _o(1, "2024-01-08 00:00:01", 20.0, "b"),
    _o(1, "2024-01-15 00:00:00", 30.0, "b"),
    _o(2, "2024-01-01 00:00:00", 5.0),
    _o(2, "2024-01-20 00:00:00", 6.0),
    _o(3, "2024-01-05 00:00:00"),
    _o(4, "2024-05-10 12:00:00", 7.0),
    _o(4, "2024-05-10 12:00:01", 8.0),
    _o(4, "2024-05-11 00:00:00", 9.0),
    _o(5, "2024-05-01 00:00:00"),
    _o(6, "2024-02-29 00:00:00", 1.0),
    _o(6, "2024-03-01 00:00:00", 2.0),
]
EVENTS = [
    {"customer_id": 1, "occurred_at": "2024-01-07 23:00:00", "name": "view"},
    {"customer_id": 1, "occurred_at": "2024-01-08 00:00:00", "name": "view"},
    {"customer_id": 2, "occurred_at": "2024-01-02 00:00:00", "name": "view"},
    {"customer_id": 4, "occurred_at": "2024-05-10 11:00:00", "name": "view"},
]
DATA = {"customers": PEOPLE, "orders": ORDERS, "events": EVENTS}

CASES = [
    # the row at anchor + 7 days is outside `7 to 14`, anchor + 14 days inside
    ("count(orders, 7 to 14 days after signed_up_at) = 2", {1}),
    ("count(orders, 7 to 14 days after signed_up_at) = 0", {2, 3, 4, 5, 6}),
    # `first 7 days` = `0 to 7`: the row at the anchor itself is outside, anchor + 7 inside
    ("count(orders, first 7 days after signed_up_at) = 1", {1, 4}),
    ("did(orders, first 7 days after signed_up_at)", {1, 4}),
    ("did(orders, 0 to 1 second after signed_up_at)", set()),
    # a null anchor selects no row; `not` flips membership (two-valued logic)
    ("not did(orders, first 30 days after signed_up_at)", {3, 5}),
    # an anchor after as_of: no row (rows after as_of are invisible anyway)
    ("did(orders, first 365 days after signed_up_at)", {1, 2, 4, 6}),
    # rows after as_of inside the window are not counted: customer 4 has one visible
    ("count(orders, first 3 days after signed_up_at) = 1", {4}),
    ("sum(orders.amount, first 3 days after signed_up_at) = 7", {4}),
    # months: calendar arithmetic with the day clamped (Jan 31 + 1 month = Feb 29)
    ("count(orders, first 1 month after signed_up_at) = 1", {2, 4, 6}),
    ("last(orders.amount, first 1 month after signed_up_at) = 1", {6}),
    ("did(orders, 1 to 2 months after signed_up_at)", {6}),
    # mixed units, weeks and hours
    ("count(orders, 1 week to 2 weeks after signed_up_at) = 2", {1}),
    ("did(orders, 167 to 168 hours after signed_up_at)", {1}),
    # a date anchors at its local midnight (UTC here)
    ("count(orders, 7 to 14 days after signup_date) = 2", {1}),
    # first(...)/last(...) of a source's time; equal timestamps are not after the anchor
    ("did(orders, first 30 days after first(orders.ordered_at))", {1, 2, 6}),
    ("count(orders, first 7 days after first(orders.ordered_at)) = 2", {1}),
    ("did(events, first 1 hour after last(events.occurred_at))", set()),
    ("did(orders, first 1 day after last(events.occurred_at))", {1, 4}),
    # a trait as the anchor, and a trait whose own value uses an anchored window
    (
        "trait began = first(orders.ordered_at)\n"
        "segment tested = did(orders, first 7 days after began)",
        {1, 6},
    ),
    (
        "trait second = min(orders.ordered_at, first 30 days after signed_up_at)\n"
        "segment tested = did(orders, first 7 days after second)",
        {1, 6},
    ),
    # every read form: count_distinct, first/last values, order statistics
    ("count_distinct(orders.sku, 7 to 14 days after signed_up_at) = 1", {1}),
    ('first(orders.sku, 7 to 14 days after signed_up_at) = "b"', {1}),
    ("median(orders.amount, 7 to 14 days after signed_up_at) = 20", {1}),
    ('mode(orders.sku, first 30 days after signed_up_at) = "b"', {1}),
    ("avg(orders.amount, first 30 days after signed_up_at) = 20", {1}),
    # beside the same statistic over another window: one read, a mark per window
    (
        "count_distinct(orders.sku, 7 to 14 days after signed_up_at) = 1"
        " and count_distinct(orders.sku) = 2",
        {1},
    ),
    (
        "median(orders.amount, 7 to 14 days after signed_up_at) = 20"
        ' and median(orders.amount) = 20 and mode(orders.sku, last 365 days) = "b"',
        {1},
    ),
    # where and the window together
    ('count(orders where sku = "b", first 14 days after signed_up_at) = 2', {1}),
    # two anchors in one scan, and an anchored window beside a relative one
    (
        "did(orders, first 7 days after signed_up_at) and did(orders, first 1 day after"
        " first(orders.ordered_at))",
        {1},
    ),
    ("did(orders, first 7 days after signed_up_at) and did(orders, last 1 day)", {4}),
    # sequences: the first step in the anchored window, later steps any time after it
    ("did(events then orders within 1 hour, first 7 days after signed_up_at)", {1, 4}),
    ("did(events then orders within 1 hour, 7 to 14 days after signed_up_at)", set()),
    ("did(orders then orders within 7 days, first 1 day after first(orders.ordered_at))", {1}),
    ("did(events then not orders within 1 day, first 7 days after signed_up_at)", {2}),
    (
        'did(events where name = "view" then orders then orders within 2 days,'
        " first 7 days after signed_up_at)",
        {1},
    ),
]


@pytest.mark.parametrize(("cond", "expected"), CASES)
def test_anchored_windows(cond, expected):
    check(cond, DATA, expected, as_of=AS_OF)


def test_anchor_read_in_the_project_time_zone_for_a_date():
    """A date anchor is its local midnight: in New York, 2024-01-01 begins at
    05:00 UTC, so an order at 2024-01-08 04:59 UTC is within the first 7 days and
    one at 05:00:01 UTC is not."""
    people = table("customer_id INTEGER, signup_date DATE", (1, "2024-01-01"), (2, "2024-01-01"))
    orders = [_o(1, "2024-01-08 04:59:00"), _o(2, "2024-01-08 05:00:01")]
    check(
        "did(orders, first 7 days after signup_date)",
        {"customers": people, "orders": orders},
        {1},
        as_of=AS_OF,
        timezone="America/New_York",
    )


def test_anchors_are_computed_once_in_their_own_ctes():
    sql, _, _ = compile_sql(
        "did(orders, first 7 days after signed_up_at) or "
        "count(events, first 7 days after signed_up_at) > 1",
        DATA,
        as_of=AS_OF,
    )
    assert sql.count('"anchors" AS (') == 1
    assert sql.count('"anchor_universe" AS (') == 1
    assert sql.count('LEFT JOIN "anchors"') == 2  # each source's scan joins them


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("did(orders, first 7 days after signed_up_at)", None),
        ("count(orders, 7 to 14 days after signed_up_at) = 0", None),
        ("did(orders, 7 days to 2 weeks after first(orders.ordered_at))", None),
        ("did(orders, 7 days to 14 days after x)", "did(orders, 7 to 14 days after x)"),
        (
            "did(orders, first 1 month after (signed_up_at))",
            "did(orders, first 1 month after signed_up_at)",
        ),
        # `after` is a keyword only after a window's durations: a name elsewhere
        (
            "did(events then orders within 1 day, 1 to 2 hours after `after`)",
            "did(events then orders within 1 day, 1 to 2 hours after after)",
        ),
        ("did(orders, first 2 days after (a + b))", None),
    ],
)
def test_format_round_trip(text, expected):
    out = format_text(f"segment a = {text}\n", "t.seg")
    assert out == f"segment a = {expected or text}\n"
    assert format_text(out, "t.seg") == out


ERRORS = [
    ("did(orders, 14 to 7 days after signed_up_at)", "window runs backwards"),
    ("did(orders, 7 to 7 days after signed_up_at)", "window is empty"),
    ("did(orders, first 0 days after signed_up_at)", "must be longer than zero"),
    ("did(orders, first 7 days after plan)", "anchor is an instant"),
    ("did(orders, first 7 days after sum(orders.amount))", "anchor is an instant"),
    ("did(orders, first 7 days after orders.ordered_at)", "is a column of source rows"),
    ("did(orders, first 7 after signed_up_at)", "needs a unit"),
    ("did(orders, first 7 days after nowhere)", "unknown name"),
    ("days_since(signed_up_at, first 7 days after signed_up_at) > 1", "takes values"),
    ("count(orders, first 7 days after signed_up_at, last 7 days) > 1", "at most one window"),
]


@pytest.mark.parametrize(("cond", "message"), ERRORS)
def test_errors(cond, message):
    with pytest.raises((SegqlError, SegqlErrors)) as info:
        compile_sql(cond, DATA, as_of=AS_OF)
    assert message in str(info.value)


def test_a_trait_anchored_on_itself_is_a_cycle():
    with pytest.raises((SegqlError, SegqlErrors)) as info:
        compile_sql(
            "trait t = first(orders.ordered_at, first 7 days after t)\nsegment tested = t is null",
            DATA,
            as_of=AS_OF,
        )
    assert "cycle" in str(info.value).lower() or "itself" in str(info.value).lower()


def test_explain_lists_the_anchors(tmp_path, monkeypatch):
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: id\nprofiles: customers\n"
        "sources:\n  orders: {table: orders, time: at}\n"
    )
    (tmp_path / "a.seg").write_text(
        "segment a = did(orders, first 7 days after signed_up_at)\n"
        "segment b = count(orders, 7 to 14 days after first(orders.at)) = 0\n"
    )
    monkeypatch.chdir(tmp_path)
    from segql import api

    text = api.explain_plan(["a.seg"], dialect="duckdb")
    assert "anchors (anchored windows" in text
    assert "segql_anchor_signed_up_at" in text
    assert "segql_anchor_orders_first_at" in text


def test_decayed_count_in_an_anchored_window():
    """Weights still count from as_of; only the rows are the anchored window's."""
    check(
        "decayed_count(orders, 30 days, first 14 days after signed_up_at) > 0",
        DATA,
        {1, 4},
        as_of=AS_OF,
    )


def test_a_trait_used_only_as_an_anchor_is_computed_by_the_anchors_alone():
    """`second` is computed in the anchors' plan (whose own anchor, signed_up_at,
    has anchors of its own: anchor_anchor_*), not again in the main layers."""
    sql, _, _ = compile_sql(
        "trait second = min(orders.ordered_at, first 30 days after signed_up_at)\n"
        "segment tested = did(orders, first 7 days after second)",
        DATA,
        as_of=AS_OF,
    )
    assert sql.count('AS "second"') == 1
    assert '"anchor_anchors" AS (' in sql and '"anchors" AS (' in sql
    main = sql[sql.index('"universe" AS (') :]
    assert "min(" not in main.lower()  # the trait's own aggregate is not read again


def test_yaml_form_reads_the_same_windows():
    """YAML definitions are parsed by the same expression grammar."""
    files = {
        "defs.yml": (
            "traits:\n"
            "  began: first(orders.ordered_at)\n"
            "segments:\n"
            "  tested: did(orders, first 7 days after began)"
            " and count(orders, 7 to 14 days after signed_up_at) = 2\n"
        )
    }
    check(files, DATA, {1}, as_of=AS_OF, segment="tested")


def test_a_table_named_anchors_gets_the_prefix():
    """A source table named like the anchors' CTE would be shadowed by it: every
    CTE name gets the prefix segql1_."""
    data = {"customers": PEOPLE, "anchors": ORDERS, "events": EVENTS}
    sources = {
        "orders": {"table": "anchors", "time": "ordered_at"},
        "events": {"table": "events", "time": "occurred_at"},
    }
    sql = check(
        "count(orders, 7 to 14 days after signed_up_at) = 2",
        data,
        {1},
        as_of=AS_OF,
        project_extra={"sources": sources},
    )
    assert '"segql1_anchors" AS (' in sql
