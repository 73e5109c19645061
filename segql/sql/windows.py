"""Windows → time bounds, relative to as_of.

Two clocks: `FixedClock` (compile --as-of, preview) computes every bound in
Python and emits literals, so the SQL is the same simple comparison on every
engine; `LiveClock` (compile without --as-of) builds the bounds from the
engine's current timestamp through the dialect registry.
All instants are naive UTC timestamps; calendar dates are read in the project
time zone.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlglot import exp

from segql.sql.dialects import Dialect
from segql.syntax import ast

UTC = dt.UTC


def add_months(t: dt.datetime, months: int) -> dt.datetime:
    """Calendar month arithmetic, clamping the day as SQL engines do: Mar 31 - 1 month = Feb 29."""
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day)


def shift(t: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """t + amount units; past Python's first or last instant (`last 10000 years`
    is valid input), that instant: only a row at that very instant differs."""
    try:
        if unit == "month":
            return add_months(t, amount)
        if unit == "year":
            return add_months(t, 12 * amount)
        return t + dt.timedelta(seconds=amount * ast.FIXED_SECONDS[unit])
    except (OverflowError, ValueError):
        return dt.datetime.min if amount < 0 else dt.datetime.max


def local_to_utc(local: dt.datetime, tz: str) -> dt.datetime:
    """Naive local wall-clock time in tz → naive UTC instant (0001-01-01 east of
    UTC, or 9999-12-31 west of it, would leave Python's range: clamped)."""
    try:
        return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return dt.datetime.min if local.year == 1 else dt.datetime.max


def utc_to_local(t: dt.datetime, tz: str) -> dt.datetime:
    return t.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def period_start_local(local: dt.datetime, unit: str) -> dt.datetime:
    d = local.date()
    if unit == "week":
        d = d - dt.timedelta(days=d.weekday())  # ISO weeks start on Monday
    elif unit == "month":
        d = d.replace(day=1)
    elif unit == "year":
        d = d.replace(month=1, day=1)
    return dt.datetime.combine(d, dt.time())


def previous_period_start_local(start: dt.datetime, unit: str) -> dt.datetime:
    return period_start_local(start - dt.timedelta(days=1), unit)


@dataclass(frozen=True)
class Bounds:
    """lower < time (or <= when lower_inclusive), time <= upper (or < when not
    upper_inclusive). None means unbounded (as_of always bounds from above)."""

    lower: exp.Expr | None = None
    lower_inclusive: bool = False
    upper: exp.Expr | None = None
    upper_inclusive: bool = True
    # Python values when the clock is fixed (for pushing bounds into scans)
    lower_value: dt.datetime | None = None


class FixedClock:
    """as_of is a known instant: every bound becomes a literal."""

    def __init__(self, as_of: dt.datetime, tz: str, dialect: Dialect):
        self.value = as_of
        self.tz = tz
        self.dialect = dialect

    def lit(self, t: dt.datetime) -> exp.Expr:
        return self.dialect.instant(t)

    def as_of(self) -> exp.Expr:
        return self.lit(self.value)

    def as_of_us(self) -> exp.Expr:
        delta = self.value - dt.datetime(1970, 1, 1)
        us = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return exp.Literal.number(us)

    def ago(self, d: ast.Duration) -> tuple[exp.Expr, dt.datetime | None]:
        t = shift(self.value, -d.amount, d.unit)
        return self.lit(t), t

    def period(self, unit: str, offset: int):
        start = period_start_local(utc_to_local(self.value, self.tz), unit)
        if offset == 0:
            s = local_to_utc(start, self.tz)
            return (self.lit(s), s), None
        prev = previous_period_start_local(start, unit)
        s, e = local_to_utc(prev, self.tz), local_to_utc(start, self.tz)
        return (self.lit(s), s), self.lit(e)


class LiveClock:
    """as_of is the engine's current timestamp when the query runs; or `now`, an
    expression pinned elsewhere (a run script's as_of, read from its run table)."""

    def __init__(self, tz: str, dialect: Dialect, now: exp.Expr | None = None):
        self.tz = tz
        self.dialect = dialect
        self._pinned = now

    def _now(self) -> exp.Expr:
        return self._pinned.copy() if self._pinned is not None else self.dialect.now()

    def as_of(self) -> exp.Expr:
        return self._now()

    def as_of_us(self) -> exp.Expr:
        return self.dialect.epoch_us(self._now())

    def ago(self, d: ast.Duration):
        return self.dialect.shift(self._now(), -d.amount, d.unit), None

    def period(self, unit: str, offset: int):
        d = self.dialect
        local_start = d.trunc(d.to_local(self._now(), self.tz), unit)
        start = d.from_local(local_start, self.tz)
        if offset == 0:
            return (start, None), None
        prev_local = d.trunc(d.shift_local(local_start, -1, "day"), unit)
        return (d.from_local(prev_local, self.tz), None), start


Clock = FixedClock | LiveClock


def static_instant(value: dt.date | dt.datetime, tz: str, end_of_day: bool = False) -> dt.datetime:
    """A date (its local midnight, or the next one for an inclusive end) or a
    local timestamp, as a naive UTC instant."""
    if isinstance(value, dt.datetime):
        return local_to_utc(value, tz)
    if end_of_day and value == dt.date.max:  # the day after it is not a date
        return dt.datetime.max
    day = value + dt.timedelta(days=1) if end_of_day else value
    return local_to_utc(dt.datetime.combine(day, dt.time()), tz)


def bounds(window: ast.Window | None, clock: Clock, anchor: exp.Expr | None = None) -> Bounds:
    """Time bounds of a window (as_of as the upper bound is implied by the scan).
    `anchor`: an anchored window's anchor, the column the read joined (sql/anchors.py)."""
    lit = clock.dialect.instant
    tz = clock.tz
    match window:
        case ast.AnchoredWindow(start=n, end=m):
            # anchor + N < time <= anchor + M, in the engine's calendar arithmetic
            # (a month after Jan 31 is Feb 28/29, as `last N months` clamps); a
            # null anchor makes both comparisons null: no row
            assert anchor is not None, "an anchored window read without its anchor"
            shift_ = clock.dialect.shift
            lower = anchor.copy() if n.amount == 0 else shift_(anchor.copy(), n.amount, n.unit)
            return Bounds(lower, False, shift_(anchor.copy(), m.amount, m.unit), True)
        case None | ast.SlidingWindow():
            return Bounds()
        case ast.RollingWindow(length=d):
            lower, value = clock.ago(d)
            return Bounds(lower, False, None, True, value)
        case ast.AgoWindow(newer=n, older=o):
            upper, _ = clock.ago(n)
            if o is None:
                return Bounds(None, False, upper, True)
            lower, value = clock.ago(o)
            return Bounds(lower, False, upper, True, value)
        case ast.StaticWindow(kind=kind, start=s, end=e):
            lower = upper = None
            lower_value = None
            upper_inclusive = True
            if s is not None:
                lower_value = static_instant(s, tz)
                lower = lit(lower_value)
            if e is not None:
                # 'D1 to D2' includes the whole day D2; 'before D' stops at D's start
                end = static_instant(e, tz, end_of_day=(kind == "range"))
                upper = lit(end)
                upper_inclusive = kind == "range" and isinstance(e, dt.datetime)
            return Bounds(lower, True, upper, upper_inclusive, lower_value)
        case ast.CalendarWindow(unit=unit, offset=offset):
            (start, value), end = clock.period(unit, offset)
            return Bounds(start, True, end, False if end is not None else True, value)
    raise TypeError(window)


def condition(t: exp.Expr, b: Bounds) -> exp.Expr | None:
    """The row-level condition of bounds on the row instant t, or None (no bound)."""
    parts: list[exp.Expr] = []
    if b.lower is not None:
        op = exp.GTE if b.lower_inclusive else exp.GT
        parts.append(op(this=t.copy(), expression=b.lower))
    if b.upper is not None:
        op = exp.LTE if b.upper_inclusive else exp.LT  # type: ignore[assignment]
        parts.append(op(this=t.copy(), expression=b.upper))
    if not parts:
        return None
    return exp.and_(*parts, copy=False) if len(parts) > 1 else parts[0]
