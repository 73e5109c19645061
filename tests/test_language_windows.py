"""LANGUAGE.md §6 windows, in UTC: rolling (`last N units`), `N to M units ago`,
`before N units ago`, static dates and timestamps, `since`, `before`, calendar
months with day clamping, and calendar periods (ISO weeks).

Customer i has exactly one order, at MOMENTS[i]; `did(orders, WINDOW)` is then
the set of customers whose moment lies in the window.
as_of = 2024-05-10 12:00:00 UTC, a Friday (2024-05-06 is a Monday).
"""

from __future__ import annotations

import pytest
from helpers import check

AS_OF = "2024-05-10T12:00:00"

MOMENTS = {
    1: "2024-05-10 12:00:00",  # as_of itself
    2: "2024-05-10 12:00:01",  # after as_of: invisible everywhere
    3: "2024-05-10 00:00:00",  # start of today
    4: "2024-05-09 23:59:59",  # last second of yesterday
    5: "2024-05-09 12:00:00",  # as_of − 1 day exactly
    6: "2024-05-09 12:00:01",  # as_of − 1 day + 1 s
    7: "2024-05-06 00:00:00",  # this (ISO) week's Monday
    8: "2024-05-05 23:59:59",  # previous week's last second (Sunday)
    9: "2024-05-03 12:00:00",  # as_of − 7 days exactly
    10: "2024-05-03 12:00:01",  # as_of − 7 days + 1 s
    11: "2024-04-29 00:00:00",  # previous week's Monday (the week crosses into May)
    12: "2024-04-28 23:59:59",  # the week before that
    13: "2024-05-01 00:00:00",  # start of this month
    14: "2024-04-30 23:59:59",  # last second of the previous month
    15: "2024-04-01 00:00:00",  # start of the previous month
    16: "2024-03-31 23:59:59",  # the month before
    17: "2024-01-01 00:00:00",  # start of this year
    18: "2023-12-31 23:59:59",  # last second of the previous year
    19: "2023-01-01 00:00:00",  # start of the previous year
    20: "2022-12-31 23:59:59",  # the year before
    21: "2024-04-10 12:00:00",  # as_of − 30 days exactly
    22: "2024-04-10 12:00:01",  # as_of − 30 days + 1 s
    23: "2024-03-11 12:00:00",  # as_of − 60 days exactly
    24: "2024-03-11 12:00:01",  # as_of − 60 days + 1 s
    25: "2024-04-10 11:59:59",  # as_of − 30 days − 1 s
}
ONE_EACH = {
    "customers": [{"customer_id": i} for i in MOMENTS],
    "orders": [{"customer_id": i, "ordered_at": t, "amount": 1} for i, t in MOMENTS.items()],
}
EVERYONE = set(MOMENTS) - {2}  # every visible order
IN_2024 = EVERYONE - {18, 19, 20}

WINDOWS = [
    ("", EVERYONE),  # no window: every row up to as_of
    # last N units: as_of − N < time ≤ as_of
    ("last 7 days", {1, 3, 4, 5, 6, 7, 8, 10}),  # 9 is exactly as_of − 7 days: out
    ("last 1 week", {1, 3, 4, 5, 6, 7, 8, 10}),
    ("last 1 day", {1, 3, 4, 6}),  # 5 exactly at the edge: out
    ("last 24 hours", {1, 3, 4, 6}),
    ("last 1440 minutes", {1, 3, 4, 6}),
    ("last 86400 seconds", {1, 3, 4, 6}),
    ("last 12 hours", {1}),  # 3 is at as_of − 12 h exactly
    ("last 90 minutes", {1}),
    ("last 1 second", {1}),
    ("last 30 days", {1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 22}),  # 21 at the edge
    ("last 1 month", {1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 22}),  # 04-10 12:00 too
    ("last 1 year", IN_2024 | {18}),  # (2023-05-10 12:00, as_of]: 2023-12-31 too
    # N to M units ago: as_of − M < time ≤ as_of − N
    ("1 to 7 days ago", {5, 7, 8, 10}),  # 5 at the newer edge: in; 9 at the older: out
    ("30 to 60 days ago", {15, 16, 21, 24, 25}),  # 21 at the newer edge: in; 23 out
    ("12 to 24 hours ago", {3, 4, 6}),  # (05-09 12:00, 05-10 00:00]
    ("12 hours to 1 day ago", {3, 4, 6}),  # the same, in two units
    ("1 to 2 weeks ago", {9, 11, 12, 13, 14}),  # (04-26 12:00, 05-03 12:00]
    ("1 to 2 months ago", {15, 16, 21, 23, 24, 25}),  # (03-10 12:00, 04-10 12:00]
    ("0 to 1 days ago", {1, 3, 4, 6}),
    # before N units ago: time ≤ as_of − N
    ("before 30 days ago", {15, 16, 17, 18, 19, 20, 21, 23, 24, 25}),
    ("before 1 day ago", EVERYONE - {1, 3, 4, 6}),
    ("before 1 year ago", {19, 20}),  # ≤ 2023-05-10 12:00
    # static dates: whole calendar days, both ends included
    ("2024-04-01 to 2024-04-30", {11, 12, 14, 15, 21, 22, 25}),  # 13 (05-01 00:00) out
    ("2024-05-10 to 2024-05-10", {1, 3}),  # 2 is after as_of
    ("2024-05-09 to 2024-05-09", {4, 5, 6}),
    ("2024-01-01 to 2024-12-31", IN_2024),
    ("2024-05-09T12:00:00 to 2024-05-10T00:00:00", {3, 4, 5, 6}),  # timestamps: both ends in
    ("2024-05-09T12:00:01 to 2024-05-09T23:59:59", {4, 6}),
    ("since 2024-05-01", {1, 3, 4, 5, 6, 7, 8, 9, 10, 13}),
    ("since 2024-05-09T12:00:00", {1, 3, 4, 5, 6}),
    ("since 2024-06-01", set()),
    ("before 2024-05-01", {11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}),
    ("before 2024-05-09T12:00:00", EVERYONE - {1, 3, 4, 5, 6}),  # 'before' excludes its instant
    ("before 2024-01-01", {18, 19, 20}),
    # calendar periods: the one holding as_of (ending at as_of) or the one before
    ("today", {1, 3}),
    ("yesterday", {4, 5, 6}),
    ("this week", {1, 3, 4, 5, 6, 7}),  # from Monday 05-06
    ("previous week", {8, 9, 10, 11, 13, 14}),  # 04-29 … 05-05, across a month boundary
    ("this month", {1, 3, 4, 5, 6, 7, 8, 9, 10, 13}),
    ("previous month", {11, 12, 14, 15, 21, 22, 25}),
    ("this year", IN_2024),
    ("previous year", {18, 19}),
]


@pytest.mark.parametrize(("window", "expected"), WINDOWS)
def test_windows(window: str, expected: set[int]) -> None:
    arg = f"orders, {window}" if window else "orders"
    check(f"did({arg})", ONE_EACH, expected, as_of=AS_OF)


@pytest.mark.parametrize(("window", "expected"), WINDOWS)
def test_windows_count_and_sum(window: str, expected: set[int]) -> None:
    """The window applies to every aggregate alike (one row each: count = sum = 1)."""
    arg = f", {window}" if window else ""
    check(
        f"count(orders{arg}) = 1 and sum(orders.amount{arg}) = 1", ONE_EACH, expected, as_of=AS_OF
    )


# A window and a where together; rows after as_of never count, even without a window.
# customer 1: 05-08 amount 5, 05-09 amount 50, 05-11 amount 500 (after as_of)
# customer 2: 04-01 amount 50, 05-10 12:00 amount 5
MIXED = {
    "customers": [{"customer_id": 1}, {"customer_id": 2}],
    "orders": [
        {"customer_id": 1, "ordered_at": "2024-05-08 00:00:00", "amount": 5},
        {"customer_id": 1, "ordered_at": "2024-05-09 00:00:00", "amount": 50},
        {"customer_id": 1, "ordered_at": "2024-05-11 00:00:00", "amount": 500},
        {"customer_id": 2, "ordered_at": "2024-04-01 00:00:00", "amount": 50},
        {"customer_id": 2, "ordered_at": "2024-05-10 12:00:00", "amount": 5},
    ],
}

WINDOWED = [
    ("count(orders where amount > 10, last 7 days) = 1", {1}),
    ("count(orders where amount > 10, last 7 days) = 0", {2}),
    ("sum(orders.amount, last 7 days) = 55", {1}),
    ("sum(orders.amount, last 7 days) = 5", {2}),
    ("sum(orders.amount) = 55", {1, 2}),  # 500 is after as_of
    ("max(orders.amount) = 50", {1, 2}),
    ("max(orders.amount, this month) = 50", {1}),
    ("last(orders.amount) = 5", {2}),
    ("last(orders.amount) = 50", {1}),  # not 500
    ("last(orders.amount, before 1 day ago) = 50", {1, 2}),  # 1: 05-09 00:00 ≤ 05-09 12:00
    ("first(orders.amount, last 7 days) = 5", {1, 2}),
    ("avg(orders.amount, previous month) = 50", {2}),
    ("avg(orders.amount, previous month) is null", {1}),
    ("did(orders, last 7 days) and not did(orders where amount > 10, today)", {1, 2}),
    ("did(orders, 30 to 90 days ago) and not did(orders, last 30 days)", set()),
    ("count(orders, since 2024-05-11) = 0", {1, 2}),  # a window never reaches past as_of
    ("days_since(last(orders.ordered_at, 1 to 30 days ago)) = 1", {1}),  # 05-09 00:00 → 1.5
]


@pytest.mark.parametrize(("condition", "expected"), WINDOWED)
def test_window_with_where(condition: str, expected: set[int]) -> None:
    check(condition, MIXED, expected, as_of=AS_OF)


# Calendar months clamp the day: as_of 2024-03-31 12:00 − 1 month = 2024-02-29 12:00
# (2024 is a leap year), 2023-03-31 12:00 − 1 month = 2023-02-28 12:00.
MONTH_END = {
    1: "2024-02-29 12:00:00",
    2: "2024-02-29 12:00:01",
    3: "2024-02-28 12:00:00",
    4: "2024-03-01 00:00:00",
    5: "2023-02-28 12:00:00",
    6: "2023-02-28 12:00:01",
    7: "2023-03-31 12:00:00",
    8: "2024-01-31 12:00:00",
    9: "2024-01-31 12:00:01",
    10: "2023-02-27 12:00:00",
}
MONTH_DATA = {
    "customers": [{"customer_id": i} for i in MONTH_END],
    "orders": [{"customer_id": i, "ordered_at": t, "amount": 1} for i, t in MONTH_END.items()],
}

MONTHS = [
    ("2024-03-31T12:00:00", "last 1 month", {2, 4}),  # (02-29 12:00, 03-31 12:00]
    ("2024-03-31T12:00:00", "last 2 months", {1, 2, 3, 4, 9}),  # (01-31 12:00, …]
    ("2024-03-31T12:00:00", "1 to 2 months ago", {1, 3, 9}),  # (01-31 12:00, 02-29 12:00]
    ("2024-03-31T12:00:00", "before 1 month ago", {1, 3, 5, 6, 7, 8, 9, 10}),
    ("2023-03-31T12:00:00", "last 1 month", {6, 7}),  # (2023-02-28 12:00, 2023-03-31 12:00]
    ("2024-02-29T12:00:00", "last 1 year", {1, 3, 6, 7, 8, 9}),  # (2023-02-28 12:00, …]
    ("2024-02-29T12:00:00", "this month", {1, 3}),
    ("2024-02-29T12:00:00", "previous month", {8, 9}),
    ("2024-03-31T12:00:00", "previous month", {1, 2, 3}),  # all of February, 29 days
    ("2023-03-31T12:00:00", "previous month", {5, 6, 10}),
]


@pytest.mark.parametrize(("as_of", "window", "expected"), MONTHS)
def test_month_arithmetic(as_of: str, window: str, expected: set[int]) -> None:
    check(f"did(orders, {window})", MONTH_DATA, expected, as_of=as_of)


# ISO weeks: Monday first, also when as_of is on a Sunday or a Monday.
# 2024-05-12 is a Sunday, 2024-05-13 a Monday; the week of 2024-12-30 (Monday) spans
# two years.
WEEK_EDGES = {
    1: "2024-05-06 00:00:00",  # Monday
    2: "2024-05-05 23:59:59",  # Sunday before
    3: "2024-05-12 23:59:59",  # Sunday
    4: "2024-05-13 00:00:00",  # Monday after
    5: "2024-12-30 00:00:00",  # Monday of the ISO week 2025-W01
    6: "2024-12-29 23:59:59",
    7: "2025-01-01 00:00:00",
}
WEEK_DATA = {
    "customers": [{"customer_id": i} for i in WEEK_EDGES],
    "orders": [{"customer_id": i, "ordered_at": t, "amount": 1} for i, t in WEEK_EDGES.items()],
}

WEEKS = [
    ("2024-05-12T23:59:59", "this week", {1, 3}),
    ("2024-05-12T23:59:59", "previous week", {2}),
    ("2024-05-13T00:00:00", "this week", {4}),
    ("2024-05-13T00:00:00", "previous week", {1, 3}),
    ("2024-05-13T00:00:00", "today", {4}),
    ("2024-05-13T00:00:00", "yesterday", {3}),
    ("2025-01-01T12:00:00", "this week", {5, 7}),
    ("2025-01-01T12:00:00", "previous week", {6}),
    ("2025-01-01T12:00:00", "this year", {7}),
    ("2025-01-01T12:00:00", "previous year", {1, 2, 3, 4, 5, 6}),
    ("2025-01-01T12:00:00", "this month", {7}),
    ("2025-01-01T12:00:00", "previous month", {5, 6}),
    ("2025-01-01T12:00:00", "yesterday", set()),
]


@pytest.mark.parametrize(("as_of", "window", "expected"), WEEKS)
def test_iso_weeks(as_of: str, window: str, expected: set[int]) -> None:
    check(f"did(orders, {window})", WEEK_DATA, expected, as_of=as_of)
