"""LANGUAGE.md §17 constructs together (anchored windows, sessions, sequences
without `within` and with `then directly`) on a real PostgreSQL server and on
BigQuery's SQL (the ZetaSQL reference implementation): the hand-computed cases
of tests/test_language_17_together.py give the same members there."""

from __future__ import annotations

import pytest
from helpers import compile_sql
from test_language_17_together import AS_OF, CASES, DATA, EXTRA

from engines.bigquery import load_from_duckdb as load_from_duckdb_bq
from engines.postgres import load_from_duckdb

TABLES = ["customers", "events", "orders"]
# every case in one query per engine: a segment per case (one compile, one load)
SOURCE = "".join(f"segment s{i} = {c}\n" for i, (c, _) in enumerate(CASES))


@pytest.mark.engines
@pytest.mark.parametrize("i", range(len(CASES)))
def test_postgres_together(postgres, i):
    cond, want = CASES[i]
    duck_sql, _, con = compile_sql(SOURCE, DATA, as_of=AS_OF, project_extra=EXTRA, segment=f"s{i}")
    assert {r[0] for r in con.execute(duck_sql).fetchall()} == set(want), cond
    pg_sql, _, _ = compile_sql(
        SOURCE, DATA, as_of=AS_OF, project_extra=EXTRA, segment=f"s{i}", dialect="postgres"
    )
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, TABLES)
        got = {r[0] for r in pg.execute(pg_sql).fetchall()}
    assert got == set(want), (cond, pg_sql)


@pytest.mark.engines
@pytest.mark.parametrize("i", range(len(CASES)))
def test_bigquery_together(bigquery, i):
    cond, want = CASES[i]
    _, _, con = compile_sql(SOURCE, DATA, as_of=AS_OF, project_extra=EXTRA, segment=f"s{i}")
    bq_sql, _, _ = compile_sql(
        SOURCE, DATA, as_of=AS_OF, project_extra=EXTRA, segment=f"s{i}", dialect="bigquery"
    )
    load_from_duckdb_bq(con, bigquery, TABLES)
    got = {r[0] for r in bigquery.run(bq_sql)[1]}
    assert got == set(want), (cond, bq_sql)


@pytest.mark.engines
@pytest.mark.parametrize("seed", range(4))
def test_random_combinations_on_postgres_and_bigquery(seed, tmp_path, postgres, bigquery):
    """The random combinations on PostgreSQL and BigQuery's SQL give DuckDB's
    members (which test_language_17_together checks against the oracle)."""
    from test_language_17_together import WHEN, _random_cases

    from segql import api

    conds, con, model = _random_cases(100 + seed, tmp_path)
    load_from_duckdb_bq(con, bigquery, TABLES)
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, TABLES)
        for i, cond in enumerate(conds):
            sql = api.compile_model(model, "duckdb", WHEN, segment=f"s{i}").sql()
            want = sorted(r[0] for r in con.execute(sql).fetchall())
            pg_sql = api.compile_model(model, "postgres", WHEN, segment=f"s{i}").sql()
            assert sorted(r[0] for r in pg.execute(pg_sql).fetchall()) == want, cond
            bq_sql = api.compile_model(model, "bigquery", WHEN, segment=f"s{i}").sql()
            assert sorted(r[0] for r in bigquery.run(bq_sql)[1]) == want, cond


@pytest.mark.engines
def test_long_sessions_names_stay_apart_on_postgres(postgres):
    """Two sessions sources with long names alike in their first 50 characters,
    each an anchor: the anchors' plan's CTEs `anchor_sessions_<name>` were cut
    by PostgreSQL at 63 characters into one name (DuplicateAlias); the sessions'
    CTE name is now bounded like the plan's names (Scans.sessions_name)."""
    long, other = "v" * 50, "v" * 49 + "w"
    sources = {
        **EXTRA["sources"],
        long: {"sessions_of": "events", "gap": "30 minutes"},
        other: {"sessions_of": "events", "gap": "1 minute"},
    }
    cond = (
        f"did(orders, first 1 day after first({long}.time)) and "
        f"count(orders, first 1 day after first({other}.time)) = 1"
    )
    kw = dict(as_of=AS_OF, project_extra={"sources": sources})
    duck_sql, _, con = compile_sql(cond, DATA, **kw)
    assert {r[0] for r in con.execute(duck_sql).fetchall()} == {2, 4, 5}
    pg_sql, _, _ = compile_sql(cond, DATA, dialect="postgres", **kw)
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, TABLES)
        assert {r[0] for r in pg.execute(pg_sql).fetchall()} == {2, 4, 5}


@pytest.mark.engines
def test_spark_together(spark):
    """Every hand-computed case in one Spark session (Spark is slow to start a
    query); the tables loaded once, from DuckDB."""
    from engines.spark import load_rows

    _, _, con = compile_sql(SOURCE, DATA, as_of=AS_OF, project_extra=EXTRA, segment="s0")
    for name in TABLES:
        cur = con.execute(f'SELECT * FROM "{name}"')
        cols = [(d[0], str(d[1]).upper()) for d in cur.description]
        rows = [dict(zip([c for c, _ in cols], r, strict=True)) for r in cur.fetchall()]
        load_rows(spark, name, cols, rows)
    for i, (cond, want) in enumerate(CASES):
        sql, _, _ = compile_sql(
            SOURCE, DATA, as_of=AS_OF, project_extra=EXTRA, segment=f"s{i}", dialect="spark"
        )
        assert {r[0] for r in spark.sql(sql).collect()} == set(want), cond
