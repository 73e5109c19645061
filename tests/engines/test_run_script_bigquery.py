"""`compile --run-script` for BigQuery, its queries executed on the ZetaSQL
reference implementation (tests/engines/bigquery.py). The server evaluates
queries over in-memory tables, not scripts (no DDL, DML or transactions), so
what runs here is the script's two queries that carry its logic, over tables
loaded from the DuckDB script run at the same as_ofs:

- the new membership (`CREATE TEMP TABLE __segql_new AS <this>`), with the
  live clock pinned to `__segql_run`'s as_of: the same rows as DuckDB's;
- the `changes` rows (the UNION ALL of `INSERT INTO changes`) over DuckDB's
  pair: the same rows as DuckDB wrote.
The rest (the check, sizes, the runs row, the swap) reads the state tables,
which the server cannot name (`segql`.`runs`): not executed here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import runstate as rs
from sqlglot import exp

from segql import api
from segql.ops.run_script import script

from .bigquery import load_from_duckdb

pytestmark = pytest.mark.engines

T = [dt.datetime(2025, 2, 1), dt.datetime(2025, 2, 15)]


def _statements(root: Path, dialect: str, as_of):
    model = api.load([str(root / "a.seg"), str(root / "b.seg")], str(root))
    return script(model, dialect, as_of)


def _created(stmts, name: str) -> exp.Query:
    return next(s.expression for s in stmts if isinstance(s, exp.Create) and s.this.name == name)


def _changes_union(stmts) -> exp.Query:
    insert = next(s for s in stmts if isinstance(s, exp.Insert) and s.this.name == "changes")
    return insert.expression.find(exp.Union)  # inside the no-op gate


def test_bigquery_script_queries_equal_duckdb(tmp_path: Path, bigquery):
    rs.write_project(tmp_path)
    rs.write_duckdb(tmp_path / "data.duckdb", rs.rows())
    con = duckdb.connect(str(tmp_path / "data.duckdb"))
    for s in _statements(tmp_path, "duckdb", T[0]):  # the first run, whole
        con.execute(s.sql(dialect="duckdb"))
    # the second run on DuckDB up to its pair; the rest of its statements after
    stmts = _statements(tmp_path, "duckdb", T[1])
    at = next(i for i, s in enumerate(stmts) if isinstance(s, exp.Insert))
    for s in stmts[:at]:
        con.execute(s.sql(dialect="duckdb"))
    duck_new = sorted(con.execute('SELECT * FROM "__segql_new"').fetchall(), key=repr)
    duck_changes = sorted(con.execute(_changes_union(stmts).sql(dialect="duckdb")).fetchall())

    bq = _statements(tmp_path, "bigquery", None)  # the live clock, pinned to __segql_run
    load_from_duckdb(con, bigquery, ["customers", "orders", "__segql_run", "__segql_pair"])
    _, rows = bigquery.run(_created(bq, "__segql_new").sql(dialect="bigquery"))
    assert sorted(rows, key=repr) == duck_new
    assert {r[-1] for r in rows} == {2} and {r[-2] for r in rows} == {T[1]}
    _, changes = bigquery.run(_changes_union(bq).sql(dialect="bigquery"))
    assert sorted(changes) == duck_changes and len(changes) > 10
    for s in stmts[at:]:
        con.execute(s.sql(dialect="duckdb"))
    con.close()
