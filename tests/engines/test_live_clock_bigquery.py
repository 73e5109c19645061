"""compile without --as-of on BigQuery (the ZetaSQL reference implementation,
tests/engines/bigquery.py): the server's current time gives the same members as a
fixed as_of equal to that moment, and as DuckDB's query at that as_of.

The project and rows are tests/test_live_clock.py's (rows 10 minutes away from
every window boundary, so the moments between the queries move nothing)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from test_live_clock import project

from segql import api

from .bigquery import load_from_duckdb

pytestmark = pytest.mark.engines


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York"])
def test_live_equals_fixed_now_on_bigquery(tmp_path, tz, bigquery):
    _, [(now,)] = bigquery.run("SELECT CURRENT_TIMESTAMP()")
    now = now.replace(microsecond=0)
    assert abs(now - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(minutes=1)
    con = duckdb.connect()
    project(tmp_path, tz, con, now)
    load_from_duckdb(con, bigquery, ["orders"])
    model = api.load([str(tmp_path / "s.seg")], str(tmp_path / "segql.yml"), con=con)
    live = bigquery.run(api.compile_model(model, "bigquery", None).sql())[1]
    fixed = bigquery.run(api.compile_model(model, "bigquery", now).sql())[1]
    duck = [tuple(r) for r in con.execute(api.compile_model(model, "duckdb", now).sql()).fetchall()]
    assert live == fixed == duck
    mixed = [i for i in range(1, len(fixed[0])) if {r[i] for r in fixed} == {True, False}]
    assert len(mixed) >= 8
