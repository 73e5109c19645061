"""Sessions as a source (LANGUAGE.md §17) on a real PostgreSQL server and on
BigQuery's SQL (the ZetaSQL reference implementation): the hand-computed cases of
tests/test_language_sessions.py give the same members there."""

from __future__ import annotations

import pytest
from helpers import compile_sql, table
from test_language_sessions import AS_OF, BY_GAP, BY_ID, CUSTOMERS, DATA, GAP_CASES, ID_CASES

from engines.bigquery import load_from_duckdb as load_from_duckdb_bq
from engines.postgres import load_from_duckdb

DST = {
    "customers": CUSTOMERS,
    "events": table(
        "customer_id INTEGER, occurred_at TIMESTAMPTZ, name VARCHAR",
        (1, "2024-03-10 01:50:00-05:00", "a"),
        (1, "2024-03-10 03:10:00-04:00", "b"),
        (2, "2024-11-03 01:50:00-04:00", "a"),
        (2, "2024-11-03 01:10:00-05:00", "b"),
        (3, "2024-11-03 01:50:00-04:00", "a"),
        (3, "2024-11-03 01:30:00-05:00", "b"),
    ),
}
NY = "America/New_York"
EVERY_READ = (
    'did(visits where first_name = "a" then orders within 1 day) or '
    "count(visits, any 1 day) >= 2 or count_distinct(date(visits.time)) = 1 or "
    'mode(visits.last_name) = "z" or median(visits.duration_s) = 0 or '
    "first(visits.first_flag) or last(visits.last_flag) = false"
)
CASES = (
    [(DATA, c, BY_GAP, AS_OF, "UTC", want) for c, want in GAP_CASES]
    + [(DATA, c, BY_ID, AS_OF, "UTC", want) for c, want in ID_CASES]
    + [
        (DST, "count(visits where duration_s = 1200) = 1", BY_GAP, "2024-12-01", NY, {1, 2}),
        (DST, "count(visits) = 2", BY_GAP, "2024-12-01", NY, {3}),
        (DATA, EVERY_READ, BY_GAP, AS_OF, "UTC", None),
        (DATA, "count(visits, today) >= 1", {**BY_GAP, "profiles": None}, AS_OF, NY, None),
    ]
)


def _tables(data) -> list[str]:
    return [t for t in ("customers", "orders", "events") if t in data] + (
        [] if "orders" in data else ["orders"]
    )


def _expected(con, duck_sql, want):
    got = {r[0] for r in con.execute(duck_sql).fetchall()}
    if want is not None:
        assert got == set(want), duck_sql
    return sorted(got)


@pytest.mark.engines
@pytest.mark.parametrize("data, condition, extra, as_of, tz, want", CASES)
def test_postgres_sessions(postgres, data, condition, extra, as_of, tz, want):
    kw = dict(as_of=as_of, project_extra=extra, timezone=tz)
    duck_sql, _, con = compile_sql(condition, data, **kw)
    pg_sql, _, _ = compile_sql(condition, data, dialect="postgres", **kw)
    expected = _expected(con, duck_sql, want)
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, _tables(data))
        got = sorted(r[0] for r in pg.execute(pg_sql).fetchall())
    assert got == expected, pg_sql


@pytest.mark.engines
@pytest.mark.parametrize("data, condition, extra, as_of, tz, want", CASES)
def test_bigquery_sessions(bigquery, data, condition, extra, as_of, tz, want):
    kw = dict(as_of=as_of, project_extra=extra, timezone=tz)
    duck_sql, _, con = compile_sql(condition, data, **kw)
    bq_sql, _, _ = compile_sql(condition, data, dialect="bigquery", **kw)
    expected = _expected(con, duck_sql, want)
    load_from_duckdb_bq(con, bigquery, _tables(data))
    got = sorted(r[0] for r in bigquery.run(bq_sql)[1])
    assert got == expected, bq_sql


@pytest.mark.engines
def test_spark_sessions(spark):
    """Every case over DATA in one Spark session (Spark is slow to start a query);
    the tables are loaded once, from DuckDB, as views of this test's own."""
    from engines.spark import load_rows

    cases = [c for c in CASES if c[0] is DATA]
    _, _, con = compile_sql("count(visits) > 0", DATA, as_of=AS_OF, project_extra=BY_GAP)
    for name in _tables(DATA):
        cur = con.execute(f'SELECT * FROM "{name}"')
        cols = [(d[0], str(d[1]).upper()) for d in cur.description]
        rows = [dict(zip([c for c, _ in cols], r, strict=True)) for r in cur.fetchall()]
        load_rows(spark, name, cols, rows)
    for data, condition, extra, as_of, tz, want in cases:
        kw = dict(as_of=as_of, project_extra=extra, timezone=tz)
        duck_sql, _, con = compile_sql(condition, data, **kw)
        spark_sql, _, _ = compile_sql(condition, data, dialect="spark", **kw)
        expected = _expected(con, duck_sql, want)
        got = sorted(r[0] for r in spark.sql(spark_sql).collect())
        assert got == expected, (condition, spark_sql)
