"""The differential tests on real engines: PostgreSQL, Spark and BigQuery (the
ZetaSQL reference implementation) vs the oracle.

The same generated cases as tests/test_differential.py (the generators and the
oracle live in tests/oracle/); the query is compiled for the engine's dialect
and run there. Marker `engines`; long mode with SEGQL_LONG=1 (marker `slow`).
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from oracle.gen import COLUMNS, cases, features
from oracle.harness import Engine, Stats, check_case
from oracle.settings import CI_MIN_CASES, LONG, LONG_MIN_CASES, hypothesis_settings

from engines import spark as spark_engine
from engines.postgres import load_from_duckdb

pytestmark = pytest.mark.engines


def postgres_engine(server) -> Engine:
    conn = server.connect()

    def load(duck, case):
        load_from_duckdb(duck, conn, list(COLUMNS))

    def run(sql: str):
        with conn.cursor() as cur:
            cur.execute(sql)
            return [d.name for d in cur.description], cur.fetchall()

    return Engine("postgres", "postgres", load, run)


def spark_engine_for(session) -> Engine:
    def load(duck, case):
        for table, cols in COLUMNS.items():
            spark_engine.load_rows(session, table, list(cols), case.tables.get(table, []))

    def run(sql: str):
        df = session.sql(sql)
        return list(df.columns), [tuple(r) for r in df.collect()]

    return Engine("spark", "spark", load, run)


def bigquery_engine_for(server) -> Engine:
    def load(duck, case):
        server.clear()
        for table, cols in COLUMNS.items():
            server.load(table, list(cols), case.tables.get(table, []))

    return Engine("bigquery", "bigquery", load, server.run)


def _run(engine: Engine, examples: int, derandomize: bool) -> Stats:
    stats = Stats()

    @hypothesis_settings(examples, derandomize)
    @given(cases())
    def check(case):
        check_case(case, [engine], stats, parse_back=0)

    check()
    print(f"\n[differential {engine.name}] features {features()}; {stats.line()}", file=sys.stderr)
    return stats


@pytest.mark.skipif(LONG, reason="long mode runs the _long variant")
def test_postgres_matches_oracle(postgres):
    stats = _run(postgres_engine(postgres), examples=100, derandomize=True)
    assert stats.cases["postgres"] >= CI_MIN_CASES, stats.line()


@pytest.mark.skipif(LONG, reason="long mode runs the _long variant")
def test_spark_matches_oracle(spark):
    stats = _run(spark_engine_for(spark), examples=45, derandomize=True)
    assert stats.cases["spark"] >= CI_MIN_CASES, stats.line()


@pytest.mark.skipif(LONG, reason="long mode runs the _long variant")
def test_bigquery_matches_oracle(bigquery):
    stats = _run(bigquery_engine_for(bigquery), examples=100, derandomize=True)
    assert stats.cases["bigquery"] >= CI_MIN_CASES, stats.line()


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="long mode: set SEGQL_LONG=1")
def test_postgres_matches_oracle_long(postgres):
    minimum = LONG_MIN_CASES["postgres"]
    stats = _run(postgres_engine(postgres), examples=minimum // 10, derandomize=False)
    assert stats.cases["postgres"] >= minimum, stats.line()


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="long mode: set SEGQL_LONG=1")
def test_spark_matches_oracle_long(spark):
    minimum = LONG_MIN_CASES["spark"]
    stats = _run(spark_engine_for(spark), examples=minimum // 10, derandomize=False)
    assert stats.cases["spark"] >= minimum, stats.line()


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="long mode: set SEGQL_LONG=1")
def test_bigquery_matches_oracle_long(bigquery):
    minimum = LONG_MIN_CASES["bigquery"]
    stats = _run(bigquery_engine_for(bigquery), examples=minimum // 10, derandomize=False)
    assert stats.cases["bigquery"] >= minimum, stats.line()
