"""LANGUAGE.md §1 and §6: calendar dates read in the project time zone —
calendar periods, static dates, weekday/hour/date, date-typed and
TIMESTAMPTZ time columns — across daylight-saving changes, and as_of given
with or without an offset.

Source times are naive UTC (TIMESTAMP) unless said otherwise; comments give
each instant in UTC and in the project's local time.
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import check, table


def one_order_each(moments: dict[int, str]) -> dict:
    return {
        "customers": [{"customer_id": i} for i in moments],
        "orders": [{"customer_id": i, "ordered_at": t, "amount": 1} for i, t in moments.items()],
    }


# ---------------------------------------------------------------- New York
# as_of 2024-05-10 12:00 local (EDT, UTC−4) = 2024-05-10 16:00 UTC, a Friday.
NY = "America/New_York"
NY_AS_OF = "2024-05-10T12:00:00"
NY_MOMENTS = {  # UTC                      local (EDT/EST)
    1: "2024-05-10 03:59:59",  # 05-09 23:59:59 Thu — today in UTC, yesterday here
    2: "2024-05-10 04:00:00",  # 05-10 00:00:00 Fri
    3: "2024-05-10 16:00:00",  # 05-10 12:00:00 = as_of
    4: "2024-05-10 16:00:01",  # after as_of
    5: "2024-05-09 04:00:00",  # 05-09 00:00:00 Thu
    6: "2024-05-09 03:59:59",  # 05-08 23:59:59 Wed
    7: "2024-05-06 04:00:00",  # 05-06 00:00:00 Mon
    8: "2024-05-06 03:59:59",  # 05-05 23:59:59 Sun
    9: "2024-05-01 04:00:00",  # 05-01 00:00:00 Wed
    10: "2024-05-01 03:59:59",  # 04-30 23:59:59 Tue
    11: "2024-01-01 05:00:00",  # 2024-01-01 00:00:00 EST Mon
    12: "2024-01-01 04:59:59",  # 2023-12-31 23:59:59 EST Sun
    13: "2024-05-10 00:00:00",  # 05-09 20:00:00 Thu
}
NY_DATA = one_order_each(NY_MOMENTS)

NY_WINDOWS = [
    ("today", {2, 3}),
    ("yesterday", {1, 5, 13}),
    ("this week", {1, 2, 3, 5, 6, 7, 13}),
    ("previous week", {8, 9, 10}),  # 04-29 … 05-05 local
    ("this month", {1, 2, 3, 5, 6, 7, 8, 9, 13}),
    ("previous month", {10}),
    ("this year", {1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 13}),
    ("previous year", {12}),
    ("2024-05-09 to 2024-05-09", {1, 5, 13}),  # the local day
    ("2024-05-01 to 2024-05-08", {6, 7, 8, 9}),  # [05-01 04:00 UTC, 05-09 04:00 UTC)
    ("since 2024-05-10", {2, 3}),
    ("before 2024-05-10", {1, 5, 6, 7, 8, 9, 10, 11, 12, 13}),
    ("since 2024-05-09T20:00:00", {1, 2, 3, 13}),  # a local timestamp: 05-10 00:00 UTC
    ("last 1 day", {1, 2, 3, 13}),  # 24 hours, not a calendar day: (05-09 16:00 UTC, …]
    ("last 12 hours", {3}),  # (05-10 04:00 UTC, …]: 2 is exactly at the edge
]


@pytest.mark.parametrize(("window", "expected"), NY_WINDOWS)
def test_new_york_windows(window: str, expected: set[int]) -> None:
    check(f"did(orders, {window})", NY_DATA, expected, as_of=NY_AS_OF, timezone=NY)


NY_FUNCTIONS = [
    ("weekday(last(orders.ordered_at)) = 4", {1, 5, 13}),  # Thursday here (13 is Friday in UTC)
    ("weekday(last(orders.ordered_at)) = 7", {8, 12}),
    ("weekday(last(orders.ordered_at)) = 1", {7, 11}),
    ("hour(last(orders.ordered_at)) = 23", {1, 6, 8, 10, 12}),
    ("hour(last(orders.ordered_at)) = 20", {13}),
    ("hour(last(orders.ordered_at)) = 0", {2, 5, 7, 9, 11}),
    ("date(last(orders.ordered_at)) = 2024-05-09", {1, 5, 13}),
    ("date(last(orders.ordered_at)) = 2023-12-31", {12}),
    ("last(orders.ordered_at) >= 2024-05-10", {2, 3}),  # a date is its local midnight
    ("last(orders.ordered_at) >= 2024-05-10T00:00:00", {2, 3}),  # a local timestamp
    ("last(orders.ordered_at) < 2024-05-06", {8, 9, 10, 11, 12}),  # < 05-06 04:00 UTC
    ("count_distinct(date(orders.ordered_at), this week) = 1", {1, 2, 3, 5, 6, 7, 13}),
    ("days_since(last(orders.ordered_at)) = 0", {1, 2, 3, 13}),  # 24-hour periods, any zone
    ("days_since(last(orders.ordered_at)) = 1", {5, 6}),  # 36 h, 36 h 1 s
    # the same functions on rows, inside `where`
    ("count(orders where weekday(ordered_at) = 7) = 1", {8, 12}),
    ("count(orders where hour(ordered_at) = 23) = 1", {1, 6, 8, 10, 12}),
    ("count(orders where date(ordered_at) = 2024-05-09) = 1", {1, 5, 13}),
    ("count(orders where ordered_at >= 2024-05-10) = 1", {2, 3}),
]


@pytest.mark.parametrize(("condition", "expected"), NY_FUNCTIONS)
def test_new_york_functions(condition: str, expected: set[int]) -> None:
    check(condition, NY_DATA, expected, as_of=NY_AS_OF, timezone=NY)


# Profile dates and timestamps in New York: a DATE column is its local midnight.
# as_of 2024-05-10 12:00 EDT.
#  1 | t 2024-05-10 02:00 UTC (05-09 22:00 local) | d 2024-05-10 (04:00 UTC)
#  2 | t 2024-05-10 05:00 UTC (05-10 01:00 local) | d 2024-05-10
#  3 | t 2024-05-06 03:00 UTC (05-05 23:00 local, Sunday) | d 2024-05-05 (Sunday)
NY_PROFILES = {
    "customers": table(
        "customer_id INTEGER, t TIMESTAMP, d DATE",
        (1, "2024-05-10 02:00:00", "2024-05-10"),
        (2, "2024-05-10 05:00:00", "2024-05-10"),
        (3, "2024-05-06 03:00:00", "2024-05-05"),
    )
}

NY_PROFILE_CASES = [
    ("t < d", {1}),  # 1: 02:00 UTC < 04:00 UTC; 3: 05-06 03:00 UTC is after 05-05 04:00 UTC
    ("date(t) = d", {2, 3}),
    ("weekday(t) = 7", {3}),
    ("weekday(d) = 7", {3}),
    ("hour(t) = 22", {1}),
    ("hour(d) = 0", {1, 2, 3}),
    ("days_since(d) = 0", {1, 2}),  # 05-10 04:00 UTC → 12 h
    ("days_since(d) = 5", {3}),  # 05-05 04:00 UTC → 5 days 12 h
    ("t >= 2024-05-10", {2}),
    ("d = date(2024-05-10T01:00:00)", {1, 2}),
]


@pytest.mark.parametrize(("condition", "expected"), NY_PROFILE_CASES)
def test_new_york_profile_dates(condition: str, expected: set[int]) -> None:
    check(condition, NY_PROFILES, expected, as_of=NY_AS_OF, timezone=NY)


# ---------------------------------------------------------------- Berlin and DST
# Spring: 2024-03-31 02:00 CET (01:00 UTC) → 03:00 CEST; that Sunday lasts 23 h.
# Autumn: 2024-10-27 03:00 CEST (01:00 UTC) → 02:00 CET; that Sunday lasts 25 h.
BERLIN = "Europe/Berlin"
BERLIN_MOMENTS = {  # UTC                    local
    1: "2024-03-30 22:59:59",  # 03-30 23:59:59 CET Sat
    2: "2024-03-30 23:00:00",  # 03-31 00:00:00 CET Sun
    3: "2024-03-31 21:59:59",  # 03-31 23:59:59 CEST Sun
    4: "2024-03-31 22:00:00",  # 04-01 00:00:00 CEST Mon
    5: "2024-03-24 22:59:59",  # 03-24 23:59:59 CET Sun
    6: "2024-03-24 23:00:00",  # 03-25 00:00:00 CET Mon
    7: "2024-03-31 00:30:00",  # 03-31 01:30:00 CET, before the change
    8: "2024-03-31 01:30:00",  # 03-31 03:30:00 CEST, after it
    9: "2024-04-01 10:00:00",  # 04-01 12:00:00 CEST = spring as_of
    10: "2024-03-31 10:00:00",  # spring as_of − 24 h (03-31 12:00 CEST)
    11: "2024-03-31 10:00:01",
    12: "2024-10-26 21:59:59",  # 10-26 23:59:59 CEST Sat
    13: "2024-10-26 22:00:00",  # 10-27 00:00:00 CEST Sun
    14: "2024-10-27 22:59:59",  # 10-27 23:59:59 CET Sun
    15: "2024-10-27 23:00:00",  # 10-28 00:00:00 CET Mon
    16: "2024-10-27 00:30:00",  # 10-27 02:30:00 CEST (the first 02:30)
    17: "2024-10-27 01:30:00",  # 10-27 02:30:00 CET (the second 02:30)
}
BERLIN_DATA = one_order_each(BERLIN_MOMENTS)
SPRING = "2024-04-01T12:00:00"  # CEST = 10:00 UTC, a Monday
AUTUMN = "2024-10-28T12:00:00"  # CET = 11:00 UTC, a Monday
BEFORE_AUTUMN = set(range(1, 12))

DST = [
    (SPRING, "did(orders, today)", {4, 9}),
    (SPRING, "did(orders, yesterday)", {2, 3, 7, 8, 10, 11}),  # 23 hours
    (SPRING, "did(orders, 2024-03-31 to 2024-03-31)", {2, 3, 7, 8, 10, 11}),
    (SPRING, "did(orders, this week)", {4, 9}),
    (SPRING, "did(orders, previous week)", {1, 2, 3, 6, 7, 8, 10, 11}),  # 03-25 … 03-31 local
    (SPRING, "did(orders, last 1 day)", {3, 4, 9, 11}),  # 24 h: 10 is exactly at the edge
    (SPRING, "did(orders, last 24 hours)", {3, 4, 9, 11}),
    (SPRING, "did(orders, this month)", {4, 9}),
    (SPRING, "did(orders, previous month)", {1, 2, 3, 5, 6, 7, 8, 10, 11}),
    (SPRING, "hour(last(orders.ordered_at)) = 1", {7}),
    (SPRING, "hour(last(orders.ordered_at)) = 3", {8}),  # 02:00–02:59 does not exist
    (SPRING, "hour(last(orders.ordered_at)) = 23", {1, 3, 5}),
    (SPRING, "hour(last(orders.ordered_at)) = 12", {9, 10, 11}),
    (SPRING, "weekday(last(orders.ordered_at)) = 7", {2, 3, 5, 7, 8, 10, 11}),
    (SPRING, "date(last(orders.ordered_at)) = 2024-03-31", {2, 3, 7, 8, 10, 11}),
    (SPRING, "last(orders.ordered_at) >= 2024-03-31T03:00:00", {3, 4, 8, 9, 10, 11}),  # 01:00 UTC
    (SPRING, "did(orders)", BEFORE_AUTUMN),
    (AUTUMN, "did(orders, yesterday)", {13, 14, 16, 17}),  # 25 hours
    (AUTUMN, "did(orders, 2024-10-27 to 2024-10-27)", {13, 14, 16, 17}),
    (AUTUMN, "did(orders, today)", {15}),
    (AUTUMN, "did(orders, this week)", {15}),
    (AUTUMN, "did(orders, previous week)", {12, 13, 14, 16, 17}),  # 10-21 00:00 CEST on
    (AUTUMN, "did(orders, last 1 day)", {14, 15}),  # (10-27 11:00 UTC, 10-28 11:00 UTC]
    (AUTUMN, "did(orders, last 2 days)", {12, 13, 14, 15, 16, 17}),
    (AUTUMN, "hour(last(orders.ordered_at)) = 2", {16, 17}),  # 02:30 twice
    (AUTUMN, "hour(last(orders.ordered_at)) = 0", {2, 4, 6, 13, 15}),
    (AUTUMN, "did(orders, this month)", {12, 13, 14, 15, 16, 17}),
    (AUTUMN, "did(orders, previous month)", set()),
]


@pytest.mark.parametrize(("as_of", "condition", "expected"), DST)
def test_daylight_saving(as_of: str, condition: str, expected: set[int]) -> None:
    check(condition, BERLIN_DATA, expected, as_of=as_of, timezone=BERLIN)


# ---------------------------------------------------------------- as_of
# The same rows read with as_of given in different ways.
#  1 | 2024-05-10 10:00:00 UTC
#  2 | 2024-05-10 10:00:01 UTC
#  3 | 2024-05-10 12:00:00 UTC
#  4 | 2024-05-09 22:00:00 UTC (05-10 00:00 CEST)
#  5 | 2024-05-09 22:00:01 UTC
AS_OF_DATA = one_order_each(
    {
        1: "2024-05-10 10:00:00",
        2: "2024-05-10 10:00:01",
        3: "2024-05-10 12:00:00",
        4: "2024-05-09 22:00:00",
        5: "2024-05-09 22:00:01",
    }
)

AS_OFS = [
    ("2024-05-10T12:00:00+02:00", "UTC", {1, 4, 5}),
    ("2024-05-10T10:00:00Z", "UTC", {1, 4, 5}),
    ("2024-05-10T10:00:00", "UTC", {1, 4, 5}),
    ("2024-05-10T12:00:00", BERLIN, {1, 4, 5}),  # no offset: Berlin wall-clock time
    ("2024-05-10T12:00:00+00:00", BERLIN, {1, 2, 3, 4, 5}),  # an offset wins over the zone
    ("2024-05-10T06:00:00", NY, {1, 4, 5}),  # 06:00 EDT = 10:00 UTC
    ("2024-05-10", BERLIN, {4}),  # a date: its local midnight, 05-09 22:00 UTC
    ("2024-05-10", "UTC", {4, 5}),
    (dt.datetime(2024, 5, 10, 10, 0, 0), BERLIN, {1, 4, 5}),  # a naive UTC instant
]


@pytest.mark.parametrize(("as_of", "timezone", "expected"), AS_OFS)
def test_as_of_forms(as_of, timezone: str, expected: set[int]) -> None:
    check("did(orders)", AS_OF_DATA, expected, as_of=as_of, timezone=timezone)


def test_as_of_offset_moves_today() -> None:
    # 00:30 CEST on 05-10 = 05-09 22:30 UTC: today (Berlin) began at 05-09 22:00 UTC
    check(
        "did(orders, today)", AS_OF_DATA, {4, 5}, as_of="2024-05-10T00:30:00+02:00", timezone=BERLIN
    )
    # read in UTC, the same instant's today began at 05-09 00:00 UTC
    check("did(orders, today)", AS_OF_DATA, {4, 5}, as_of="2024-05-09T22:30:00Z", timezone="UTC")
    check("did(orders, today)", AS_OF_DATA, {4}, as_of="2024-05-09T22:00:00Z", timezone=BERLIN)
    check(
        "did(orders, yesterday)", AS_OF_DATA, set(), as_of="2024-05-09T22:00:00Z", timezone=BERLIN
    )


# ---------------------------------------------------------------- time column types
# A DATE time column: each row happens at its local midnight.
# A TIMESTAMPTZ time column: an absolute instant, whatever the session zone.
TYPED_TIMES = {
    "customers": [{"customer_id": i} for i in (1, 2, 3)],
    "orders": table(
        "customer_id INTEGER, ordered_at DATE, amount DOUBLE",
        (1, "2024-05-10", 1),  # 05-10 04:00 UTC in New York
        (2, "2024-05-09", 1),  # 05-09 04:00 UTC
        (3, "2024-05-11", 1),
    ),
    "events": table(
        "customer_id INTEGER, occurred_at TIMESTAMPTZ, name VARCHAR",
        (1, "2024-05-10 06:00:00+02", "a"),  # 04:00 UTC = 05-10 00:00 EDT
        (2, "2024-05-10 05:59:59+02", "a"),  # 03:59:59 UTC = 05-09 23:59:59 EDT
        (3, "2024-05-10 12:00:01-04", "a"),  # 16:00:01 UTC: after as_of
    ),
}

TYPED = [
    ("2024-05-10T00:00:00", "did(orders)", {1, 2}),  # 1 happens exactly at as_of
    ("2024-05-09T23:59:59", "did(orders)", {2}),
    ("2024-05-10T12:00:00", "did(orders, today)", {1}),
    ("2024-05-10T12:00:00", "did(orders, yesterday)", {2}),
    ("2024-05-10T12:00:00", "did(orders, last 1 day)", {1}),  # (05-09 16:00 UTC, …]
    ("2024-05-10T12:00:00", "last(orders.ordered_at) = 2024-05-10", {1}),  # still a date
    ("2024-05-10T12:00:00", "first(orders.ordered_at) = 2024-05-09", {2}),
    ("2024-05-10T12:00:00", "max(orders.ordered_at) < 2024-05-10", {2}),
    ("2024-05-10T12:00:00", "date(last(orders.ordered_at)) = 2024-05-10", {1}),
    ("2024-05-10T12:00:00", "count(orders where ordered_at = 2024-05-10) = 1", {1}),
    ("2024-05-10T12:00:00", "count(orders where ordered_at >= 2024-05-09) = 1", {1, 2}),
    ("2024-05-10T12:00:00", "last(orders.ordered_at) < 2024-05-10T00:00:01", {1, 2}),  # local
    ("2024-05-10T12:00:00", "last(orders.ordered_at) >= 2024-05-10T00:00:00", {1}),
    ("2024-05-10T12:00:00", "weekday(last(orders.ordered_at)) = 4", {2}),
    ("2024-05-10T12:00:00", "days_since(last(orders.ordered_at)) = 1", {2}),  # 36 h
    ("2024-05-10T12:00:00", "did(events, today)", {1}),
    ("2024-05-10T12:00:00", "did(events, yesterday)", {2}),
    ("2024-05-10T12:00:00", "did(events)", {1, 2}),
    ("2024-05-10T12:00:00", "hour(last(events.occurred_at)) = 23", {2}),
    ("2024-05-10T12:00:00", "date(last(events.occurred_at)) = 2024-05-10", {1}),
    ("2024-05-10T12:00:00", "last(events.occurred_at) = 2024-05-10T00:00:00", {1}),
    ("2024-05-10T12:00:01", "did(events)", {1, 2, 3}),
]


@pytest.mark.parametrize(("as_of", "condition", "expected"), TYPED)
def test_date_and_timestamptz_time_columns(as_of: str, condition: str, expected: set[int]) -> None:
    check(condition, TYPED_TIMES, expected, as_of=as_of, timezone=NY)
