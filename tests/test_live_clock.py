"""compile without --as-of: the engine's current time gives the same members as a
fixed as_of equal to that moment (DuckDB here; PostgreSQL in tests/engines).

Rows are kept away (10 minutes) from every window boundary, so the few
milliseconds between the two queries cannot move a row across one."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest

from segql import api
from segql.sql.windows import (
    local_to_utc,
    period_start_local,
    previous_period_start_local,
    shift,
    utc_to_local,
)

WINDOWS = [
    "last 2 days",
    "last 1 month",
    "3 to 10 days ago",
    "before 7 days ago",
    "today",
    "yesterday",
    "this week",
    "previous week",
    "this month",
    "previous month",
    "this year",
    "previous year",
]
SEG = "\n".join(f"segment w{i} = count(orders, {w}) >= 1" for i, w in enumerate(WINDOWS)) + (
    "\nsegment recent = days_since(last(orders.ordered_at)) < 3"
    "\nsegment weekend = count(orders where weekday(ordered_at) >= 6) >= 1"
)


def boundaries(now: dt.datetime, tz: str) -> list[dt.datetime]:
    out = [
        now,
        shift(now, -2, "day"),
        shift(now, -1, "month"),
        shift(now, -3, "day"),
        shift(now, -10, "day"),
        shift(now, -7, "day"),
    ]
    local = utc_to_local(now, tz)
    for unit in ("day", "week", "month", "year"):
        start = period_start_local(local, unit)
        out += [local_to_utc(start, tz), local_to_utc(previous_period_start_local(start, unit), tz)]
    return out


def project(tmp_path, tz: str, con, now: dt.datetime) -> None:
    (tmp_path / "segql.yml").write_text(
        "key: customer_id\nsources:\n  orders: {table: orders, time: ordered_at}\n"
        f"timezone: {tz}\n"
    )
    (tmp_path / "s.seg").write_text(SEG)
    rng = random.Random(7)
    edges = boundaries(now, tz)
    rows = []
    while len(rows) < 400:
        t = now - dt.timedelta(seconds=rng.randrange(0, 800 * 86400))
        if all(abs((t - e).total_seconds()) > 600 for e in edges):
            rows.append((rng.randrange(1, 60), t))
    con.execute("create table orders(customer_id int, ordered_at timestamp)")
    con.executemany("insert into orders values (?, ?)", rows)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York"])
def test_live_equals_fixed_now(tmp_path, tz):
    con = duckdb.connect()
    now = con.execute("select (current_timestamp at time zone 'UTC')::timestamp").fetchone()[0]
    project(tmp_path, tz, con, now)
    model = api.load([str(tmp_path / "s.seg")], str(tmp_path / "segql.yml"), con=con)
    live = con.execute(api.compile_model(model, "duckdb", None).sql()).fetchall()
    fixed = con.execute(api.compile_model(model, "duckdb", now).sql()).fetchall()
    assert live == fixed
    # most windows split the customers, so the comparison means something
    mixed = [i for i in range(1, len(fixed[0])) if {r[i] for r in fixed} == {True, False}]
    assert len(mixed) >= 8
