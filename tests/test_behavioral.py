"""Behavioral conditions (LANGUAGE.md §6–8): sliding windows, sequences, ranks,
decay and weighted segmentations, on DuckDB, with hand-computed members."""

from __future__ import annotations

import pytest
from helpers import check, members

from segql.sql.dialects import DuckDB

AS_OF = "2025-07-01T00:00:00"
CUSTOMERS = [{"customer_id": i} for i in range(1, 8)]


def ev(cid, t, name, sku=None):
    return {"customer_id": cid, "occurred_at": t, "name": name, "sku": sku}


def order(cid, t, amount=10.0, sku=None):
    return {"customer_id": cid, "ordered_at": t, "amount": amount, "sku": sku}


# ------------------------------------------------------------------ any D

BURSTS = {
    "customers": CUSTOMERS,
    "events": [
        # 1: three views, first and last exactly 24 hours apart -> 3 fit
        ev(1, "2025-06-01 00:00:00", "pv"),
        ev(1, "2025-06-01 12:00:00", "pv"),
        ev(1, "2025-06-02 00:00:00", "pv"),
        # 2: 24 hours and one second apart -> at most 2 fit
        ev(2, "2025-06-01 00:00:00", "pv"),
        ev(2, "2025-06-01 12:00:00", "pv"),
        ev(2, "2025-06-02 00:00:01", "pv"),
        # 3: three views at the same instant
        ev(3, "2025-06-05 10:00:00", "pv"),
        ev(3, "2025-06-05 10:00:00", "pv"),
        ev(3, "2025-06-05 10:00:00", "pv"),
        # 4: three views, but the third is after as_of (invisible)
        ev(4, "2025-06-30 12:00:00", "pv"),
        ev(4, "2025-06-30 13:00:00", "pv"),
        ev(4, "2025-07-01 00:00:01", "pv"),
        # 5: three events in a burst, only two of them pricing views
        ev(5, "2025-06-10 00:00:00", "pv"),
        ev(5, "2025-06-10 01:00:00", "other"),
        ev(5, "2025-06-10 02:00:00", "pv"),
    ],
}


@pytest.mark.parametrize(
    "condition, expected",
    [
        ('count(events where name = "pv", any 24 hours) > 2', {1, 3}),
        ('count(events where name = "pv", any 24 hours) = 2', {2, 4, 5}),
        ("count(events, any 24 hours) >= 3", {1, 3, 5}),
        ('count(events where name = "pv", any 1 second) >= 2', {3}),
        # 6 and 7 have no events: 0
        ('count(events where name = "pv", any 1 day) = 0', {6, 7}),
    ],
)
def test_sliding(condition, expected):
    check(condition, BURSTS, expected, as_of=AS_OF)


# Most pricing views within any 24 hours, per customer (BURSTS): 1: 3, 2: 2, 3: 3,
# 4: 2, 5: 2, 6 and 7: 0. A count only compared with numbers is computed as "at
# least N" (LEAD over the rows in time order); every comparison must still give
# the answer the count gives.
PV = 'count(events where name = "pv", any 24 hours)'


@pytest.mark.parametrize(
    "condition, expected",
    [
        (f"3 <= {PV}", {1, 3}),
        (f"{PV} < 2", {6, 7}),
        (f"{PV} <= 2", {2, 4, 5, 6, 7}),
        (f"{PV} != 2", {1, 3, 6, 7}),
        (f"{PV} > 1.5", {1, 2, 3, 4, 5}),
        (f"{PV} = 2.5", set()),
        (f"{PV} >= -1", {1, 2, 3, 4, 5, 6, 7}),
        (f"{PV} > 0 and {PV} < 3", {2, 4, 5}),
        (f"{PV} = 0 or {PV} = 3", {1, 3, 6, 7}),
        (f"{PV} >= 100", set()),
        (f"{PV} between 1 and 2", {2, 4, 5}),
        (f"{PV} not between 0.5 and 2", {1, 3, 6, 7}),
    ],
)
def test_sliding_thresholds(condition, expected):
    sql = check(condition, BURSTS, expected, as_of=AS_OF)
    assert "RANGE BETWEEN" not in sql  # the count itself is not computed


@pytest.mark.parametrize(
    "condition, expected",
    [
        # the count as a value: arithmetic, or a comparison with another value
        (f"{PV} * 2 >= 6", {1, 3}),
        (f"{PV} = 2 or {PV} + 0 = 3", {1, 2, 3, 4, 5}),
        (f'{PV} > count(events where name = "other", any 24 hours)', {1, 2, 3, 4, 5}),
        # past passes.MAX_THRESHOLD "at least N" would need a huge LEAD: counted
        (f"{PV} >= 20000 or {PV} = 3", {1, 3}),
    ],
)
def test_sliding_count_as_a_value(condition, expected):
    sql = check(condition, BURSTS, expected, as_of=AS_OF)
    assert "RANGE BETWEEN" in sql


def test_sliding_thresholds_shared_by_segments_and_a_trait_value():
    # two segments compare the count, a third uses a trait that is the count
    # itself: computed once, as the count (a value is needed)
    defs = (
        f"trait pv_burst = {PV}\n"
        f"segment three = {PV} >= 3\n"
        f"segment two = {PV} = 2\n"
        "segment big = pv_burst * 10 > 25\n"
    )
    for name, expected in (("three", {1, 3}), ("two", {2, 4, 5}), ("big", {1, 3})):
        sql = check(defs, BURSTS, expected, as_of=AS_OF, segment=name)
    assert "RANGE BETWEEN" in sql and "LEAD(" not in sql


# ------------------------------------------------------------------ sequences


@pytest.fixture(params=["buckets", "window"])
def two_step_form(request, monkeypatch):
    """Two-step sequences both ways on DuckDB: by time buckets (DuckDB's default)
    and by a sorted window (PostgreSQL's), against the same hand-computed members."""
    monkeypatch.setattr(DuckDB, "pair_buckets", request.param == "buckets")
    return request.param


SEQ = {
    "customers": CUSTOMERS,
    "events": [
        # 1: cart on 06-28, no order: abandoned (follow-up ended 06-29 <= as_of)
        ev(1, "2025-06-28 00:00:00", "cart", "X"),
        # 2: cart, order of another sku 12 h later
        ev(2, "2025-06-28 00:00:00", "cart", "X"),
        # 3: cart on 06-30 12:00, follow-up period not yet ended at as_of
        ev(3, "2025-06-30 12:00:00", "cart", "X"),
        # 4: view, cart, order: full chain within 2 days
        ev(4, "2025-06-20 00:00:00", "view", "A"),
        ev(4, "2025-06-20 01:00:00", "cart", "A"),
        # 5: cart and order at the same instant: not strictly later -> abandoned
        ev(5, "2025-06-25 00:00:00", "cart", "Z"),
        # 6: order exactly 1 day after the cart: within -> not abandoned
        ev(6, "2025-06-25 00:00:00", "cart", "Q"),
        # 7: cart long ago (outside last 7 days), never bought
        ev(7, "2025-05-01 00:00:00", "cart", "W"),
    ],
    "orders": [
        order(2, "2025-06-28 12:00:00", sku="Y"),
        order(4, "2025-06-21 00:00:00", sku="A"),
        order(5, "2025-06-25 00:00:00", sku="Z"),
        order(6, "2025-06-26 00:00:00", sku="Q"),
    ],
}


@pytest.mark.parametrize(
    "condition, expected",
    [
        ('did(events where name = "cart" then not orders within 1 day, last 7 days)', {1, 5}),
        ('did(events where name = "cart" then not orders within 1 day)', {1, 5, 7}),
        ('did(events where name = "cart" then not orders within 1 day on sku)', {1, 2, 5, 7}),
        ('did(events where name = "cart" then orders within 1 day)', {2, 4, 6}),
        ('did(events where name = "cart" then orders within 1 day on sku)', {4, 6}),
        # 4: cart 06-20 01:00, order 06-21 00:00 is exactly 23 hours later: in
        ('did(events where name = "cart" then orders within 23 hours)', {2, 4}),
        (
            'did(events where name = "view" then events where name = "cart" '
            "then orders within 2 days)",
            {4},
        ),
        # the same source twice: a row never follows itself
        ('did(events where name = "cart" then events where name = "cart" within 30 days)', set()),
        ("did(events then events within 2 hours)", {4}),
        (
            'did(events where name = "view" then events where name = "cart" '
            "then not orders within 2 days)",
            set(),
        ),
    ],
)
def test_sequences(condition, expected, two_step_form):
    sql = check(condition, SEQ, expected, as_of=AS_OF)
    two_steps = condition.count(" then ") == 1
    assert ('AS "later"' in sql) == (two_steps and two_step_form == "buckets")


def test_sequence_three_steps_negated():
    data = {
        "customers": CUSTOMERS,
        "events": [
            # 1: view, cart, nothing after: in
            ev(1, "2025-06-01 00:00:00", "view"),
            ev(1, "2025-06-01 01:00:00", "cart"),
            # 2: view, cart, then an order: out
            ev(2, "2025-06-01 00:00:00", "view"),
            ev(2, "2025-06-01 01:00:00", "cart"),
            # 3: view, order, then a later cart with no order after it: in
            ev(3, "2025-06-01 00:00:00", "view"),
            ev(3, "2025-06-01 05:00:00", "cart"),
        ],
        "orders": [order(2, "2025-06-01 02:00:00"), order(3, "2025-06-01 03:00:00")],
    }
    cond = (
        'did(events where name = "view" then events where name = "cart" '
        "then not orders within 1 day)"
    )
    check(cond, data, {1, 3}, as_of=AS_OF)


# Two-step sequences are answered by buckets of width D counted back from as_of
# (passes.pair_ctes): with D = 1 day, (06-30 00:00, 07-01 00:00] is bucket 0,
# (06-29 00:00, 06-30 00:00] bucket 1, (06-28 00:00, 06-29 00:00] bucket 2.
EDGES = {
    "customers": [{"customer_id": i} for i in range(1, 10)],
    "events": [
        ev(1, "2025-06-29 00:00:00", "cart", "A"),  # bucket 2
        ev(2, "2025-06-29 00:00:00", "cart", "A"),
        ev(3, "2025-06-28 12:00:00", "cart", "A"),
        ev(4, "2025-06-29 00:00:00.000001", "cart", "A"),  # bucket 1, its first instant
        ev(5, "2025-06-29 12:00:00", "cart", "A"),
        ev(6, "2025-06-29 18:00:00", "cart", "A"),
        ev(7, "2025-06-29 00:00:00", "cart", "A"),
        ev(8, "1960-01-01 00:00:00", "cart", "A"),  # before 1970: negative epoch
        ev(9, "2025-06-29 00:00:00", "cart", "A"),
        ev(9, "2025-06-29 00:00:00", "cart", "A"),  # two carts at one instant
    ],
    "orders": [
        order(1, "2025-06-30 00:00:00", sku="A"),  # exactly 1 day later, next bucket: in
        order(2, "2025-06-30 00:00:00.000001", sku="A"),  # 1 day + 1 µs, two buckets on
        order(3, "2025-06-29 00:00:00", sku="A"),  # 12 hours later, the same bucket
        order(4, "2025-06-29 00:00:00", sku="A"),  # 1 µs before the cart
        order(4, "2025-06-30 00:00:01", sku="A"),  # 1 day + 0.999999 s after it
        order(5, "2025-06-29 06:00:00", sku="A"),  # before, the same bucket
        order(5, "2025-06-30 12:00:00", sku="A"),  # exactly 1 day after, next bucket
        order(6, "2025-06-29 06:00:00", sku="A"),  # before, the same bucket
        order(6, "2025-07-01 00:00:00", sku="A"),  # 1 day 6 hours after
        order(7, "2025-06-29 12:00:00", sku="B"),  # another sku 12 hours later
        order(7, "2025-06-30 00:00:00.000001", sku="A"),  # its sku, too late
        order(8, "1960-01-01 12:00:00", sku="A"),
        order(9, "2025-06-29 00:00:00", sku="A"),  # the same instant: not later
    ],
}


@pytest.mark.parametrize(
    "condition, expected",
    [
        ('did(events where name = "cart" then orders within 1 day)', {1, 3, 5, 7, 8}),
        ('did(events where name = "cart" then orders within 1 day on sku)', {1, 3, 5, 8}),
        ('did(events where name = "cart" then not orders within 1 day)', {2, 4, 6, 9}),
        ('did(events where name = "cart" then not orders within 1 day on sku)', {2, 4, 6, 7, 9}),
        # last 2 days is after 06-29 00:00: the carts of 1, 7 (at it) and 3 are out
        ('did(events where name = "cart" then orders within 1 day, last 2 days)', {5}),
        ('did(events where name = "cart" then orders within 12 hours)', {3, 7, 8}),
        ('did(events where name = "cart" then orders within 36 hours)', {1, 2, 3, 4, 5, 6, 7, 8}),
    ],
)
def test_two_step_sequence_bucket_edges(condition, expected, two_step_form):
    check(condition, EDGES, expected, as_of=AS_OF)


# ------------------------------------------------------------------ ranks


def spend(*amounts):
    """Customers 1..n with one order each of the given amount (None: no orders)."""
    rows = [
        order(i, "2025-06-01 00:00:00", a) for i, a in enumerate(amounts, start=1) if a is not None
    ]
    return {"customers": [{"customer_id": i} for i in range(1, len(amounts) + 1)], "orders": rows}


def test_score_exact_at_bin_edges():
    # five customers, distinct sums: percentile = 0.2, 0.4, 0.6, 0.8, 1.0
    # score(x, 5) = ceil(5 × p) = 1..5 exactly; 5 × 0.6 must be 3, not 4
    data = spend(10, 20, 30, 40, 50)
    for s in range(1, 6):
        check(
            f"trait m = sum(orders.amount)\nsegment tested = score(m, 5) = {s}",
            data,
            {s},
            as_of=AS_OF,
        )


def test_percentile_ties_share_and_nulls_excluded():
    # avg is null without orders (customer 5): excluded from the ranking
    # values 10, 20, 20, 40 -> percentile 0.25, 0.75, 0.75, 1.0
    data = spend(10, 20, 20, 40, None)
    check("percentile(avg(orders.amount)) = 75%", data, {2, 3}, as_of=AS_OF)
    check("percentile(avg(orders.amount)) > 80%", data, {4}, as_of=AS_OF)
    check("percentile(avg(orders.amount)) is null", data, {5}, as_of=AS_OF)
    # score(x, 2): ceil(2 × 0.25) = 1, ceil(1.5) = 2, ceil(2) = 2
    check("score(avg(orders.amount), 2) = 2", data, {2, 3, 4}, as_of=AS_OF)


def test_rank_of_a_constant():
    # every entity ties: percentile 1.0, score = n. Ranks are counted grouped by
    # value; a constant must not become `GROUP BY 2` (a column position) or
    # `GROUP BY 2.5` (rejected by PostgreSQL) — found by the differential test
    data = spend(10, 20, None)
    check("score(2.5, 3) = 3", data, {1, 2, 3}, as_of=AS_OF)
    check("score(2, 4) = 4 and percentile(1) = 100%", data, {1, 2, 3}, as_of=AS_OF)


def test_several_ranks_in_one_layer():
    # three ranks computed side by side and joined back on their values
    data = spend(10, 20, 20, 40, None)
    seg = (
        "trait m = sum(orders.amount)\n"  # 10 20 20 40 0 -> 0 is a value too
        "trait a = avg(orders.amount)\n"  # 10 20 20 40 null
        "segment tested = score(m, 5) = 5 and score(a, 4) = 4 and percentile(0 - m) > 50%\n"
    )
    # score(m, 5): 0→1, 10→2, 20→4 (le 4 of 5), 40→5; score(a, 4): 40→4;
    # 0 - m: 0→1.0, -10→0.8, -20→0.6, -40→0.2 → customer 4 fails the last part
    check(seg, data, set(), as_of=AS_OF)
    check(seg.replace("> 50%", "<= 20%"), data, {4}, as_of=AS_OF)


def test_rfm_in_a_few_lines():
    data = spend(10, 20, 30, 40, 50)
    rfm = (
        "trait recency = days_since(last(orders.ordered_at))\n"
        "trait r = 6 - score(recency, 5)\n"
        "trait m = score(sum(orders.amount), 5)\n"
        "segment tested = r = 1 and m >= 4\n"
    )
    # equal recency for all five: percentile 1.0, score 5, r = 1; m >= 4 -> 4, 5
    check(rfm, data, {4, 5}, as_of=AS_OF)


# ------------------------------------------------------------------ decay


def test_decayed_count_and_sum():
    data = {
        "customers": CUSTOMERS[:3],
        "orders": [
            # 1: one order exactly one half-life ago weighs 0.5; one at as_of weighs 1
            order(1, "2025-06-01 00:00:00", 10.0),
            order(1, "2025-07-01 00:00:00", 10.0),
            # 2: one order two half-lives ago: 0.25
            order(2, "2025-05-02 00:00:00", 100.0),
        ],
    }
    check("decayed_count(orders, 30 days) = 1.5", data, {1}, as_of=AS_OF)
    check("decayed_count(orders, 30 days) = 0.25", data, {2}, as_of=AS_OF)
    check("decayed_count(orders, 30 days) = 0", data, {3}, as_of=AS_OF)
    # 100 × 0.25 = 25 > 15 = 10 × 0.5 + 10 × 1
    check("decayed_sum(orders.amount, 30 days) > 20", data, {2}, as_of=AS_OF)


# ------------------------------------------------------------------ by weight


def test_weights():
    data = {
        "customers": CUSTOMERS[:5],
        "events": [
            ev(1, "2025-06-01", "movie"),
            ev(1, "2025-06-02", "movie"),
            ev(1, "2025-06-03", "doc"),
            # 2: one movie, one doc: doc weighs 1.5 > 1
            ev(2, "2025-06-01", "movie"),
            ev(2, "2025-06-02", "doc"),
            # 3: a tie between movie and episode (1 each): the earlier rule wins
            ev(3, "2025-06-01", "episode"),
            ev(3, "2025-06-02", "movie"),
            # 4: only other events: every weight 0 -> else
            ev(4, "2025-06-01", "other"),
        ],
    }
    seg = (
        "segmentation viewing by weight {\n"
        '  movies = count(events where name = "movie")\n'
        '  episodes = count(events where name = "episode")\n'
        '  docs = 1.5 * count(events where name = "doc")\n'
        "  else unclassified\n}\n"
    )
    result, _ = members(seg, data, as_of=AS_OF)
    assert result == {1: "movies", 2: "docs", 3: "movies", 4: "unclassified", 5: "unclassified"}


def test_weights_without_else_and_negative():
    data = {"customers": CUSTOMERS[:2], "orders": [order(1, "2025-06-01", -5.0)]}
    seg = "segmentation s by weight {\n  spend = sum(orders.amount)\n  n = count(orders) - 1\n}\n"
    # 1: spend -5, n 0 -> nothing positive -> null; 2: spend 0, n -1 -> null
    result, _ = members(seg, data, as_of=AS_OF)
    assert result == {1: None, 2: None}
