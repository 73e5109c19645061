"""Time arithmetic for the oracle, written from LANGUAGE.md §1, §5 and §6.

Deliberately independent of segql.sql.windows: instants are naive UTC datetimes,
calendar dates are read in the project time zone through zoneinfo, month
arithmetic clamps the day (Mar 31 − 1 month = Feb 29), as SQL engines do.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from segql.syntax import ast

UTC = dt.UTC
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
# Half-lives in months/years have no calendar meaning: the Gregorian averages.
HALF_LIFE_SECONDS = {**SECONDS, "month": 2629746, "year": 31556952}


def plus_months(t: dt.datetime, months: int) -> dt.datetime:
    index = t.year * 12 + (t.month - 1) + months
    year, month0 = divmod(index, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return t.replace(year=year, month=month0 + 1, day=min(t.day, last_day))


def plus(t: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """t + amount units (amount may be negative)."""
    if unit == "month":
        return plus_months(t, amount)
    if unit == "year":
        return plus_months(t, 12 * amount)
    return t + dt.timedelta(seconds=amount * SECONDS[unit])


def to_utc(local: dt.datetime, tz: str) -> dt.datetime:
    """A wall-clock time in tz → naive UTC instant."""
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)


def to_local(instant: dt.datetime, tz: str) -> dt.datetime:
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def midnight(day: dt.date, tz: str) -> dt.datetime:
    """The instant a local calendar day begins."""
    return to_utc(dt.datetime(day.year, day.month, day.day), tz)


def instant_of(v: dt.date | dt.datetime, tz: str) -> dt.datetime:
    """A date meets a timestamp as the instant of its local midnight."""
    if isinstance(v, dt.datetime):
        return v
    return midnight(v, tz)


def literal_instant(v: dt.date | dt.datetime, tz: str) -> dt.datetime:
    """A timestamp literal is a local wall-clock time."""
    if isinstance(v, dt.datetime):
        return to_utc(v, tz)
    return midnight(v, tz)


def microseconds(delta: dt.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def period_start(day: dt.date, unit: str) -> dt.date:
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.isoweekday() - 1)
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def previous_period_start(start: dt.date, unit: str) -> dt.date:
    if unit == "day":
        return start - dt.timedelta(days=1)
    if unit == "week":
        return start - dt.timedelta(days=7)
    if unit == "month":
        return (start.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return start.replace(year=start.year - 1)


@dataclass(frozen=True)
class Interval:
    """low < t (or <=), t < high (or <=); None = unbounded. as_of always bounds
    visibility separately."""

    low: dt.datetime | None = None
    low_inclusive: bool = False
    high: dt.datetime | None = None
    high_inclusive: bool = True

    def holds(self, t: dt.datetime) -> bool:
        if self.low is not None and (t < self.low or (t == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (
            t > self.high or (t == self.high and not self.high_inclusive)
        ):
            return False
        return True


def window_interval(w, as_of: dt.datetime, tz: str) -> Interval:
    """The rows a window keeps (rows after as_of are invisible anyway)."""
    match w:
        case None | ast.SlidingWindow():
            return Interval()
        case ast.RollingWindow(length=d):
            return Interval(plus(as_of, -d.amount, d.unit), False, None)
        case ast.AgoWindow(newer=n, older=o):
            high = plus(as_of, -n.amount, n.unit)
            low = plus(as_of, -o.amount, o.unit) if o is not None else None
            return Interval(low, False, high, True)
        case ast.StaticWindow(kind="range", start=s, end=e):
            low = literal_instant(s, tz)
            if isinstance(e, dt.datetime):
                return Interval(low, True, to_utc(e, tz), True)
            return Interval(low, True, midnight(e + dt.timedelta(days=1), tz), False)
        case ast.StaticWindow(kind="since", start=s):
            return Interval(literal_instant(s, tz), True, None)
        case ast.StaticWindow(kind="before", end=e):
            return Interval(None, False, literal_instant(e, tz), False)
        case ast.CalendarWindow(unit=unit, offset=offset):
            today = to_local(as_of, tz).date()
            start = period_start(today, unit)
            if offset == 0:
                return Interval(midnight(start, tz), True, None)
            prev = previous_period_start(start, unit)
            return Interval(midnight(prev, tz), True, midnight(start, tz), False)
    raise TypeError(f"unknown window {w!r}")
