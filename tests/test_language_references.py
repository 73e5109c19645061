"""LANGUAGE.md §3 and §9: traits referring to traits, segments to segments, in any
order and across files (`.seg` and YAML), and every aggregate computed once
however many definitions use it."""

from __future__ import annotations

import re

import pytest
from helpers import check, table

AS_OF = "2024-05-10T12:00:00"

# customer | plan   | budget | orders (time, amount)
#  1       | gold   | 100    | 05-01 10, 05-05 30, 05-09 20     sum 60, 3 orders, last 1 day ago
#  2       | Silver | 50     | 04-20 100                        sum 100, 1 order, 20 days ago
#  3       | gold   | 0      | 05-09 13:00 5                    sum 5, 1 order, 0 days ago
#  4       | null   | null   | none
SHOP = {
    "customers": table(
        "customer_id INTEGER, plan VARCHAR, budget DOUBLE",
        (1, "gold", 100),
        (2, "Silver", 50),
        (3, "gold", 0),
        (4, None, None),
    ),
    "orders": [
        {"customer_id": 1, "ordered_at": "2024-05-01 12:00:00", "amount": 10},
        {"customer_id": 1, "ordered_at": "2024-05-05 12:00:00", "amount": 30},
        {"customer_id": 1, "ordered_at": "2024-05-09 12:00:00", "amount": 20},
        {"customer_id": 2, "ordered_at": "2024-04-20 12:00:00", "amount": 100},
        {"customer_id": 3, "ordered_at": "2024-05-09 13:00:00", "amount": 5},
    ],
}

TRAITS = """
trait total       = sum(orders.amount)
trait orders_n    = count(orders)
trait avg_ticket  = total / orders_n
trait recency     = days_since(last(orders.ordered_at))
trait share       = total / budget
trait plan_name   = lower(plan)
trait active      = did(orders, last 7 days)
"""

REFERENCES = [
    ("avg_ticket = 20", {1}),  # 60 / 3
    ("avg_ticket = 100", {2}),
    ("avg_ticket is null", {4}),  # 0 / 0
    ("total = 0", {4}),
    ("recency = 1", {1}),  # 05-09 12:00 → exactly 24 h
    ("recency = 0", {3}),  # 23 h
    ("recency = 20", {2}),
    ("not (recency < 30)", {4}),
    ("share = 0.6", {1}),  # 60 / 100
    ("share = 2", {2}),  # 100 / 50
    ("share is null", {3, 4}),  # 5 / 0 and 0 / null
    ('plan_name = "silver"', {2}),
    ('plan_name = "gold"', {1, 3}),
    ("active", {1, 3}),
    ("not active", {2, 4}),
    ("active and avg_ticket > 10", {1}),
    ("avg_ticket * orders_n = total and total > 0", {1, 2, 3}),
]


@pytest.mark.parametrize(("condition", "expected"), REFERENCES)
def test_traits_referring_to_traits(condition: str, expected: set[int]) -> None:
    check(TRAITS + f"segment picked = {condition}\n", SHOP, expected, as_of=AS_OF)


def test_definitions_in_any_order() -> None:
    source = """
segment picked = big_spender and not lapsed
segment lapsed = recency > 14
segment big_spender = avg_ticket >= 5
trait avg_ticket = total / count(orders)
trait recency = days_since(last(orders.ordered_at))
trait total = sum(orders.amount)
"""
    # avg_ticket: 1 → 20, 2 → 100, 3 → 5; lapsed: 2 (20 days)
    check(source, SHOP, {1, 3}, as_of=AS_OF, segment="picked")


def test_segments_across_two_seg_files() -> None:
    files = {
        "a.seg": "segment buyers = did(orders)\ntrait total = sum(orders.amount)\n",
        "b.seg": "segment big_buyers = buyers and total >= 60\n",
    }
    check(files, SHOP, {1, 2}, as_of=AS_OF, segment="big_buyers")
    check(files, SHOP, {1, 2, 3}, as_of=AS_OF, segment="buyers")


def test_segments_across_seg_and_yaml_files() -> None:
    files = {
        "base.yml": "traits:\n  total: sum(orders.amount)\nsegments:\n  buyers: did(orders)\n",
        "more.seg": "segment small_buyers = buyers and total < 60\n",
        "z.yml": (
            "segmentations:\n"
            "  size:\n"
            "    by: priority\n"
            "    rules:\n"
            "      - small: small_buyers\n"
            "      - large: buyers\n"
            "    else: none\n"
        ),
    }
    check(files, SHOP, {3}, as_of=AS_OF, segment="small_buyers")
    check(files, SHOP, {1: "large", 2: "large", 3: "small", 4: "none"}, as_of=AS_OF, segment="size")


def _count(sql: str, pattern: str) -> int:
    return len(re.findall(pattern, sql))


def test_shared_aggregate_is_computed_once() -> None:
    source = """
segment one_plus   = count(orders, last 30 days) >= 1
segment two_plus   = count(orders, last 30 days) >= 2
segment three_plus = count(orders, last 30 days) >= 3
segmentation frequency {
  frequent = three_plus
  repeat   = two_plus
  once     = one_plus and count(orders, last 30 days) = 1
  else none
}
"""
    # last 30 days: 1 → 3 orders, 2 → 1 (04-20), 3 → 1, 4 → 0
    sql = check(source, SHOP, {1: "frequent", 2: "once", 3: "once", 4: "none"}, as_of=AS_OF)
    assert _count(sql, r"\bCOUNT\(") == 1, sql
    assert _count(sql, r'FROM "orders"') == 1, sql  # one grouped scan of the source
    for name in ("one_plus", "two_plus", "three_plus"):
        assert _count(sql, rf'AS "{name}"') == 1, sql  # each segment computed once


def test_shared_aggregates_across_traits_and_segments() -> None:
    source = (
        TRAITS
        + """
segment a = total > 50 and sum(orders.amount) < 100
segment b = sum(orders.amount) >= 100 or total = 0
segment picked = a or b
"""
    )
    sql = check(source, SHOP, {1, 2, 4}, as_of=AS_OF, segment="picked")
    assert _count(sql, r"\bSUM\(") == 1, sql
    assert _count(sql, r'FROM "orders"') == 1, sql


def test_aggregates_differing_only_in_window_or_where_are_distinct() -> None:
    source = """
segment picked = count(orders, last 7 days) = 2 and count(orders) = 3
                 and count(orders where amount > 15) = 2
"""
    # 1: last 7 days (05-03 12:00, …]: 05-05 and 05-09 → 2; 3 in all; 30 and 20 > 15
    sql = check(source, SHOP, {1}, as_of=AS_OF)
    assert _count(sql, r"\bCOUNT\(") == 3, sql


def test_boolean_trait_and_segment_reference_negation() -> None:
    source = """
trait has_orders = did(orders)
segment buyers = has_orders
segment non_buyers = not buyers
segment picked = non_buyers or (buyers and not has_orders)
"""
    check(source, SHOP, {4}, as_of=AS_OF, segment="picked")


def test_profile_key_column_is_a_value() -> None:
    check("customer_id in (2, 4)", SHOP, {2, 4}, as_of=AS_OF)


def test_segment_block_form() -> None:
    source = """
segment high_value {
  title "High-value customers"
  hypothesis "High spenders respond to early access to launches"
  channels email, push
  kpis conversion_rate, average_order_value
  where sum(orders.amount, last 90 days) > 50 and plan in ("gold", "Silver")
}
segment picked = high_value and not (plan = "Silver")
"""
    # sum over 90 days: 1 → 60, 2 → 100, 3 → 5
    check(source, SHOP, {1, 2}, as_of=AS_OF, segment="high_value")
    check(source, SHOP, {1}, as_of=AS_OF, segment="picked")
