"""LANGUAGE.md §1: the universe — the profile rows (narrowed by the `universe`
condition), or, without profiles, every key seen in any source up to as_of;
NULL keys and NULL times are ignored everywhere."""

from __future__ import annotations

import pytest
from helpers import check, table

AS_OF = "2024-05-10T12:00:00"

# customer | consent | is_test | orders                   | events
#  1       | true    | false   | 05-01                    | 05-02
#  2       | false   | false   | 05-01                    | —
#  3       | null    | false   | —                        | 05-03
#  4       | true    | true    | —                        | —
#  5       | true    | null    | 05-11 (after as_of)      | —
#  null    | true    | false   | (a profile row without key)
#  6       | (no profile)        | 05-01                    | 05-01
#  7       | (no profile)        | —                        | 05-12 (after as_of)
#  8       | (no profile)        | null time                | —
#  null    |                     | 05-01                    | 05-01
PEOPLE = {
    "customers": table(
        "customer_id INTEGER, consent BOOLEAN, is_test BOOLEAN",
        (1, True, False),
        (2, False, False),
        (3, None, False),
        (4, True, True),
        (5, True, None),
        (None, True, False),
    ),
    "orders": [
        {"customer_id": 1, "ordered_at": "2024-05-01 00:00:00", "amount": 1},
        {"customer_id": 2, "ordered_at": "2024-05-01 00:00:00", "amount": 1},
        {"customer_id": 5, "ordered_at": "2024-05-11 00:00:00", "amount": 1},
        {"customer_id": 6, "ordered_at": "2024-05-01 00:00:00", "amount": 1},
        {"customer_id": 8, "ordered_at": None, "amount": 1},
        {"customer_id": None, "ordered_at": "2024-05-01 00:00:00", "amount": 1},
    ],
    "events": [
        {"customer_id": 1, "occurred_at": "2024-05-02 00:00:00", "name": "visit"},
        {"customer_id": 3, "occurred_at": "2024-05-03 00:00:00", "name": "visit"},
        {"customer_id": 6, "occurred_at": "2024-05-01 00:00:00", "name": "visit"},
        {"customer_id": 7, "occurred_at": "2024-05-12 00:00:00", "name": "visit"},
        {"customer_id": None, "occurred_at": "2024-05-01 00:00:00", "name": "visit"},
    ],
}

PROFILES = [
    # the profile rows (a row without key is no entity), whatever the sources hold
    ("true", {1, 2, 3, 4, 5}),
    ("did(orders)", {1, 2}),  # 6 has orders but no profile; 5's order is after as_of
    ("not did(orders)", {3, 4, 5}),
    ("did(events) or did(orders)", {1, 2, 3}),
    ("count(orders) = 0 and count(events) = 0", {4, 5}),  # profile rows without events
    ("consent", {1, 4, 5}),
    ("not consent", {2, 3}),
]


@pytest.mark.parametrize(("condition", "expected"), PROFILES)
def test_profiles_are_the_universe(condition: str, expected: set[int]) -> None:
    check(condition, PEOPLE, expected, as_of=AS_OF)


UNIVERSES = [
    # (universe condition, segment condition, members)
    ("consent = true", "true", {1, 4, 5}),  # null consent is not consent
    ("consent = true", "not did(orders)", {4, 5}),  # `not` stays inside the universe
    ("consent = true", "did(orders)", {1}),
    ("consent", "true", {1, 4, 5}),
    ("consent and not is_test", "true", {1, 5}),  # 5: null is_test is not true
    ("not is_test", "true", {1, 2, 3, 5}),  # null is_test: `is_test` false, `not` true
    ("consent = true and is_test = false", "true", {1}),
    ("customer_id > 2", "did(events)", {3}),
    ("false", "true", set()),
]


@pytest.mark.parametrize(("universe", "condition", "expected"), UNIVERSES)
def test_universe_condition_narrows(universe: str, condition: str, expected: set[int]) -> None:
    check(condition, PEOPLE, expected, as_of=AS_OF, project_extra={"universe": universe})


def test_universe_narrows_segmentations() -> None:
    source = """
segmentation buying {
  buyer = did(orders)
  else other
}
"""
    check(
        source,
        PEOPLE,
        {1: "buyer", 4: "other", 5: "other"},
        as_of=AS_OF,
        project_extra={"universe": "consent = true"},
    )
    check(source, PEOPLE, {1: "buyer", 2: "buyer", 3: "other", 4: "other", 5: "other"}, as_of=AS_OF)


NO_PROFILES = {"profiles": None}

SOURCE_KEYS = [
    # every key seen in any source at or before as_of: 1, 2, 3, 6 — not 5 or 7 (only
    # after as_of), not 8 (only a row without time), not the null key
    ("true", {1, 2, 3, 6}),
    ("did(orders)", {1, 2, 6}),
    ("not did(orders)", {3}),
    ("did(events) and did(orders)", {1, 6}),
    ("count(orders) + count(events) = 1", {2, 3}),
    ("customer_id >= 3", {3, 6}),
]


@pytest.mark.parametrize(("condition", "expected"), SOURCE_KEYS)
def test_universe_without_profiles(condition: str, expected: set[int]) -> None:
    check(condition, PEOPLE, expected, as_of=AS_OF, project_extra=NO_PROFILES)


def test_universe_without_profiles_moves_with_as_of() -> None:
    # by 2024-05-12 00:00, 5 (order 05-11) and 7 (event 05-12 00:00) have been seen
    check(
        "true", PEOPLE, {1, 2, 3, 5, 6, 7}, as_of="2024-05-12T00:00:00", project_extra=NO_PROFILES
    )
    # before anything happened, there is no one
    check("true", PEOPLE, set(), as_of="2024-04-01T00:00:00", project_extra=NO_PROFILES)
    # at 05-01 00:00 exactly, 1, 2 and 6 have ordered (6 has an event too); 1's event and
    # 3 come later
    check("true", PEOPLE, {1, 2, 6}, as_of="2024-05-01T00:00:00", project_extra=NO_PROFILES)
    check("not did(events)", PEOPLE, {1, 2}, as_of="2024-05-01T00:00:00", project_extra=NO_PROFILES)


def test_universe_without_profiles_segmentation() -> None:
    source = """
segmentation channel {
  both = did(orders) and did(events)
  shop = did(orders)
  web  = did(events)
}
"""
    check(
        source,
        PEOPLE,
        {1: "both", 2: "shop", 3: "web", 6: "both"},
        as_of=AS_OF,
        project_extra=NO_PROFILES,
    )


def test_universe_without_profiles_one_empty_source() -> None:
    data = {"events": PEOPLE["events"]}  # orders is empty
    check("true", data, {1, 3, 6}, as_of=AS_OF, project_extra=NO_PROFILES)
    check("count(orders) = 0", data, {1, 3, 6}, as_of=AS_OF, project_extra=NO_PROFILES)


def test_universe_without_profiles_all_sources_empty() -> None:
    check("true", {}, set(), as_of=AS_OF, project_extra=NO_PROFILES)
    check("not did(orders)", {}, set(), as_of=AS_OF, project_extra=NO_PROFILES)


def test_empty_profiles() -> None:
    check("true", {"customers": [], "orders": PEOPLE["orders"]}, set(), as_of=AS_OF)
