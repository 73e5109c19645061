"""The example project on DuckDB and on BigQuery (the ZetaSQL reference
implementation, tests/engines/bigquery.py): the same answers, row for row.

The sample data (segql.ops.sample, scale 0.01) is generated in DuckDB and loaded
into the session's ZetaSQL server as typed in-memory tables. Each example file's
membership query, compiled for duckdb and for bigquery at the fixed as_of of the
goldens, must return the same rows on both engines, in the same order (the query
ends with ORDER BY the key). The live query (the engine's clock) is
only checked to run and to give every universe entity one non-null journey.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from test_golden import LIVE_EXAMPLE, STEMS, compile_example

from segql.ops.sample import sample_database

from .bigquery import BigQueryServer, load_from_duckdb

pytestmark = pytest.mark.engines

SCALE = 0.01
SEED = 42
TABLES = ("customers", "orders", "web_events")
UNIVERSE_SQL = "SELECT count(*) FROM customers WHERE consent_marketing"


@pytest.fixture(scope="module")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    con = sample_database(SCALE, SEED)
    yield con
    con.close()


@pytest.fixture(scope="module")
def bq(bigquery: BigQueryServer, duck: duckdb.DuckDBPyConnection) -> Iterator[BigQueryServer]:
    load_from_duckdb(duck, bigquery, TABLES)
    yield bigquery
    bigquery.clear()


def test_sample_loaded_exactly(duck: duckdb.DuckDBPyConnection, bq: BigQueryServer) -> None:
    for table in TABLES:
        (n_duck,) = duck.execute(f"SELECT count(*) FROM {table}").fetchone()
        _, [(n_bq,)] = bq.run(f"SELECT count(*) FROM `{table}`")
        assert n_duck == n_bq > 0
    # every value survives the trip (NUMERIC bytes, TIMESTAMP microseconds, DOUBLE)
    sql = "SELECT sum(amount), min(ordered_at), max(ordered_at), count(DISTINCT sku) FROM orders"
    assert bq.run(sql.replace("orders", "`orders`"))[1] == [duck.execute(sql).fetchone()]
    # (min/max: a double sum depends on the order of the additions)
    sql = "SELECT min(duration_s), max(duration_s), count(duration_s) FROM web_events"
    assert bq.run(sql.replace("web_events", "`web_events`"))[1] == [duck.execute(sql).fetchone()]


@pytest.mark.parametrize("stem", STEMS)
def test_example_same_rows_on_duckdb_and_bigquery(
    stem: str, duck: duckdb.DuckDBPyConnection, bq: BigQueryServer
) -> None:
    cur = duck.execute(compile_example(stem, "duckdb"))
    d_cols, d_rows = [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]
    b_cols, b_rows = bq.run(compile_example(stem, "bigquery"))
    assert d_cols == b_cols
    assert d_cols[0] == "customer_id" and len(d_cols) > 1
    (universe,) = duck.execute(UNIVERSE_SQL).fetchone()
    assert len(d_rows) == len(b_rows) == universe > 0  # one row per universe entity
    assert [r[0] for r in b_rows] == sorted(r[0] for r in b_rows)  # ordered by key
    for row in b_rows:
        assert all(v is None or type(v) in (int, bool, str) for v in row), row
    if d_rows != b_rows:
        diffs = [(d, b) for d, b in zip(d_rows, b_rows, strict=False) if d != b]
        shown = "\n".join(f"  duckdb   {d}\n  bigquery {b}" for d, b in diffs[:10])
        pytest.fail(
            f"{stem}: {len(diffs)} rows differ (of {len(d_rows)}); "
            f"columns ({', '.join(d_cols)}):\n{shown}"
        )
    for i, name in enumerate(d_cols[1:], start=1):
        assert len({r[i] for r in d_rows}) > 1, f"{stem}.{name} is constant on the sample"


def test_live_query_runs(duck: duckdb.DuckDBPyConnection, bq: BigQueryServer) -> None:
    cols, rows = bq.run(compile_example(LIVE_EXAMPLE, "bigquery", live=True))
    (universe,) = duck.execute(UNIVERSE_SQL).fetchone()
    assert cols[0] == "customer_id"
    assert len(rows) == universe > 0
    labels = {r[cols.index("journey")] for r in rows}
    assert labels and None not in labels
