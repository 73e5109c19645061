"""LANGUAGE.md §8: segmentations by priority and by weight, with and without
`else`; labels as conditions and a segmentation as a value."""

from __future__ import annotations

import pytest
from helpers import check, table

AS_OF = "2024-05-10T12:00:00"

# id | spend | visits
#  1 | 200   | 20      big and loyal
#  2 | 150   | 2       big
#  3 | 10    | 15      loyal
#  4 | 10    | 1       neither
#  5 | null  | null    neither (unknown)
PEOPLE = {
    "customers": table(
        "customer_id INTEGER, spend DOUBLE, visits INTEGER",
        (1, 200, 20),
        (2, 150, 2),
        (3, 10, 15),
        (4, 10, 1),
        (5, None, None),
    )
}

TIERS = """
segment big = spend >= 100
segment loyal = visits >= 10
segmentation tier by priority {
  vip     = big and loyal
  spender = big
  regular = loyal
  else other
}
"""
TIERS_NO_ELSE = """
segment big = spend >= 100
segment loyal = visits >= 10
segmentation tier {
  vip     = big and loyal
  spender = big
  regular = loyal
}
"""
SPENDER_FIRST = """
segment big = spend >= 100
segment loyal = visits >= 10
segmentation tier by priority {
  spender = big
  vip     = big and loyal
  regular = loyal
  else other
}
"""


def test_priority_with_else() -> None:
    check(
        TIERS, PEOPLE, {1: "vip", 2: "spender", 3: "regular", 4: "other", 5: "other"}, as_of=AS_OF
    )


def test_priority_without_else_leaves_null() -> None:
    # `by priority` is the default
    check(
        TIERS_NO_ELSE, PEOPLE, {1: "vip", 2: "spender", 3: "regular", 4: None, 5: None}, as_of=AS_OF
    )


def test_priority_first_true_rule_wins() -> None:
    # 1 is big and loyal, but `spender` comes first; `vip` can never win
    check(
        SPENDER_FIRST,
        PEOPLE,
        {1: "spender", 2: "spender", 3: "regular", 4: "other", 5: "other"},
        as_of=AS_OF,
    )


def test_rules_over_profile_columns_and_not() -> None:
    source = """
segmentation band {
  high = spend > 100
  unknown = spend is null
  low = not (spend > 100)
}
"""
    # 5's spend is null: `spend > 100` is false, `spend is null` true (earlier rule)
    check(source, PEOPLE, {1: "high", 2: "high", 3: "low", 4: "low", 5: "unknown"}, as_of=AS_OF)


LABEL_REFERENCES = [
    # a label is a condition: "the entity got this label"
    (TIERS, "vip", {1}),
    (TIERS, "not vip", {2, 3, 4, 5}),
    (TIERS, "other", {4, 5}),
    (TIERS, "spender or regular", {2, 3}),
    (SPENDER_FIRST, "vip", set()),  # shadowed by `spender`
    (SPENDER_FIRST, "spender and loyal", {1}),
    (TIERS_NO_ELSE, "not (vip or spender or regular)", {4, 5}),
    # the segmentation is a string value (null without a label)
    (TIERS, 'tier = "spender"', {2}),
    (TIERS, 'tier = "other"', {4, 5}),
    (TIERS, 'tier in ("vip", "regular")', {1, 3}),
    (TIERS, 'tier != "vip"', {2, 3, 4, 5}),
    (TIERS_NO_ELSE, 'tier != "vip"', {2, 3}),  # null label: the comparison is false
    (TIERS_NO_ELSE, 'not (tier = "vip")', {2, 3, 4, 5}),
    (TIERS_NO_ELSE, "tier is null", {4, 5}),
    (TIERS, "tier is null", set()),
    (TIERS, 'tier like "%er"', {2, 4, 5}),  # spender, other
    (TIERS, 'lower(tier) = "vip" or visits < 2', {1, 4}),
]


@pytest.mark.parametrize(("definitions", "condition", "expected"), LABEL_REFERENCES)
def test_labels_and_segmentation_values(
    definitions: str, condition: str, expected: set[int]
) -> None:
    check(definitions + f"\nsegment picked = {condition}\n", PEOPLE, expected, as_of=AS_OF)


def test_segmentation_rule_refers_to_another_segmentation() -> None:
    source = (
        TIERS
        + """
segmentation outreach {
  call  = vip or tier = "spender"
  email = regular
  else skip
}
"""
    )
    check(source, PEOPLE, {1: "call", 2: "call", 3: "email", 4: "skip", 5: "skip"}, as_of=AS_OF)


# by weight: the largest positive weight labels the entity; ties go to the earlier
# rule; all weights ≤ 0 or null → else.
# id | m    | e    | d    | weights (movies = m, episodes = e, docs = 1.5 × d)
#  1 | 3    | 1    | 1    | 3, 1, 1.5      → movies
#  2 | 2    | 2    | 0    | 2, 2, 0        → movies (tie: earlier rule)
#  3 | 1    | 2    | 2    | 1, 2, 3        → docs
#  4 | 0    | 0    | 0    | all 0          → else
#  5 | null | null | null | all null       → else
#  6 | -1   | null | 0    | -1, null, 0    → else
#  7 | null | 1    | null | null, 1, null  → episodes
#  8 | 1    | 1    | 1    | 1, 1, 1.5      → docs
#  9 | 0    | 3    | 2    | 0, 3, 3        → episodes (tie with docs: earlier rule)
# 10 | 0.5  | -4   | null | 0.5, -4, null  → movies
WEIGHTS = {
    "customers": table(
        "customer_id INTEGER, m DOUBLE, e INTEGER, d INTEGER",
        (1, 3, 1, 1),
        (2, 2, 2, 0),
        (3, 1, 2, 2),
        (4, 0, 0, 0),
        (5, None, None, None),
        (6, -1, None, 0),
        (7, None, 1, None),
        (8, 1, 1, 1),
        (9, 0, 3, 2),
        (10, 0.5, -4, None),
    )
}
VIEWING = """
segmentation viewing by weight {
  movies   = m
  episodes = e
  docs     = 1.5 * d
  else unclassified
}
"""
BY_WEIGHT = {
    1: "movies",
    2: "movies",
    3: "docs",
    4: "unclassified",
    5: "unclassified",
    6: "unclassified",
    7: "episodes",
    8: "docs",
    9: "episodes",
    10: "movies",
}


def test_by_weight_with_else() -> None:
    check(VIEWING, WEIGHTS, BY_WEIGHT, as_of=AS_OF)


def test_by_weight_without_else() -> None:
    source = VIEWING.replace("  else unclassified\n", "")
    expected = {k: (None if v == "unclassified" else v) for k, v in BY_WEIGHT.items()}
    check(source, WEIGHTS, expected, as_of=AS_OF)


def test_by_weight_labels_as_conditions() -> None:
    check(VIEWING + "segment s = docs or unclassified\n", WEIGHTS, {3, 4, 5, 6, 8}, as_of=AS_OF)
    check(VIEWING + 'segment s = viewing = "episodes"\n', WEIGHTS, {7, 9}, as_of=AS_OF)


# by weight over aggregates (LANGUAGE.md §3's example): counts per kind.
# customer 1: 2 movie, 1 episode, 1 documentary → 2, 1, 1.5 → movie_watchers
# customer 2: 1 movie, 1 episode, 1 documentary → 1, 1, 1.5 → documentaries
# customer 3: 2 episodes, 1 movie               → 1, 2, 0   → bingers
# customer 4: no events                         → 0, 0, 0   → unclassified
# customer 5: 1 movie (after as_of), 1 "trailer" → 0, 0, 0  → unclassified
VIEWS = {
    "customers": [{"customer_id": i} for i in range(1, 6)],
    "events": [
        {"customer_id": c, "occurred_at": t, "name": "view", "kind": k}
        for c, t, k in [
            (1, "2024-05-01 10:00:00", "movie"),
            (1, "2024-05-02 10:00:00", "movie"),
            (1, "2024-05-03 10:00:00", "episode"),
            (1, "2024-05-04 10:00:00", "documentary"),
            (2, "2024-05-01 10:00:00", "movie"),
            (2, "2024-05-01 11:00:00", "episode"),
            (2, "2024-05-01 12:00:00", "documentary"),
            (3, "2024-05-01 10:00:00", "episode"),
            (3, "2024-05-02 10:00:00", "episode"),
            (3, "2024-05-02 11:00:00", "movie"),
            (5, "2024-05-11 10:00:00", "movie"),
            (5, "2024-05-01 10:00:00", "trailer"),
        ]
    ],
}
VIEWING_EVENTS = """
segmentation viewing by weight {
  movie_watchers = count(events where kind = "movie")
  bingers        = count(events where kind = "episode")
  documentaries  = 1.5 * count(events where kind = "documentary")
  else unclassified
}
"""


def test_by_weight_over_aggregates() -> None:
    check(
        VIEWING_EVENTS,
        VIEWS,
        {
            1: "movie_watchers",
            2: "documentaries",
            3: "bingers",
            4: "unclassified",
            5: "unclassified",
        },
        as_of=AS_OF,
    )


def test_priority_over_aggregates() -> None:
    source = """
segment recent = did(orders, last 30 days)
segmentation lifecycle by priority {
  vip     = sum(orders.amount, last 90 days) > 100 and recent
  at_risk = count(orders) >= 2 and not recent
  new     = days_since(first(orders.ordered_at)) <= 30
  else browsers
}
"""
    # 1: 2 × 60 recently → vip; 2: two orders 40 and 50 days ago → at_risk
    # 3: one order 10 days ago, 20 in total → new; 4: nothing → browsers
    data = {
        "customers": [{"customer_id": i} for i in range(1, 5)],
        "orders": [
            {"customer_id": 1, "ordered_at": "2024-05-01 00:00:00", "amount": 60},
            {"customer_id": 1, "ordered_at": "2024-05-02 00:00:00", "amount": 60},
            {"customer_id": 2, "ordered_at": "2024-03-31 12:00:00", "amount": 40},
            {"customer_id": 2, "ordered_at": "2024-03-21 12:00:00", "amount": 50},
            {"customer_id": 3, "ordered_at": "2024-04-30 12:00:00", "amount": 20},
        ],
    }
    check(source, data, {1: "vip", 2: "at_risk", 3: "new", 4: "browsers"}, as_of=AS_OF)
