"""`segql backfill` (docs/run.md): runs at D1, D1 + every, … D2, in order,
on one connection; each is a `segql run` (segql/ops/run.py)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable

from segql.errors import SegqlError
from segql.ops import state as st
from segql.ops.run import Progress, RunResult, execute, open_target

_EVERY = re.compile(r"^\s*(\d+)?\s*(hour|day|week|month|year)s?\s*$", re.IGNORECASE)


def parse_every(text: str) -> tuple[int, str]:
    """--every: `[N] hour|day|week|month|year[s]` (1 day, 7 days, 1 month, week)."""
    m = _EVERY.match(text)
    if not m or (m.group(1) is not None and int(m.group(1)) == 0):
        raise SegqlError(
            f"invalid --every '{text}'",
            None,
            ("write a count and a unit: 1 day, 7 days, 2 weeks, 1 month, 6 hours",),
            usage=True,
        )
    return int(m.group(1) or 1), m.group(2).lower()


def series(start: str, end: str, every: str, timezone: str) -> list[dt.datetime]:
    """The as_of instants of a backfill, naive UTC: start, start + every, … up to
    end inclusive, stepped on the project time zone's calendar (a day is a local
    day, a month keeps the day of the month, clamped to the month's end)."""
    from segql.sql.windows import local_to_utc

    n, unit = parse_every(every)
    first, last = _local(start, timezone), _local(end, timezone)
    if last < first:
        raise SegqlError("--to is earlier than --from", usage=True)
    out, i = [], 0
    while True:
        t = _step(first, n * i, unit)
        if t > last:
            return [local_to_utc(x, timezone) for x in out]
        out.append(t)
        i += 1


def _local(text: str, timezone: str) -> dt.datetime:
    """A --from/--to value as a local wall-clock time of the project time zone."""
    from segql import api
    from segql.sql.windows import utc_to_local

    return utc_to_local(api.parse_as_of(text, timezone), timezone)


def _step(t: dt.datetime, n: int, unit: str) -> dt.datetime:
    if unit in ("hour", "day", "week"):
        return t + dt.timedelta(**{unit + "s": n})
    months = n * (12 if unit == "year" else 1)
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day)


def backfill(
    paths: list[str],
    start: str,
    end: str,
    every: str,
    project: str | None = None,
    target: str | None = None,
    db: str | None = None,
    progress: Progress | None = None,
    advance: Callable[[int, int, RunResult], None] | None = None,
    traits: bool = False,
) -> list[RunResult]:
    """Runs at start, start + every, … end, in order, on one connection. A run
    already made (same as_of and definitions) is a no-op, so a stopped backfill
    is resumed by running it again. `traits`: as `run --traits`."""
    from segql import api
    from segql.project import find_project_file, load_project

    step = progress or (lambda _msg: None)
    parse_every(every)  # a usage error before any work
    proj = load_project(find_project_file(project, paths))
    instants = series(start, end, every, proj.timezone)
    proj, engine = open_target(proj, target, db, step)
    out: list[RunResult] = []
    with engine:
        model = api.load_with(proj, paths, engine)
        last = st.last_run(st.State(engine, proj.state_schema, proj.key))
        if last is not None and instants and instants[0] < last.as_of:
            # history already written: resume at the last run (a no-op when it
            # has these definitions)
            past = [t for t in instants if t < last.as_of]
            instants = instants[len(past) :]
            step(f"skipping {len(past)} as_of before the last run's ({last.as_of:%Y-%m-%d %H:%M})")
        for i, when in enumerate(instants):
            out.append(execute(engine, model, when, traits=traits))
            if advance is not None:
                advance(i + 1, len(instants), out[-1])
    return out


__all__ = ["backfill", "series", "parse_every"]
