"""sql.expressions.as_filter: COALESCE(x, FALSE) dropped where only TRUE matters.

A condition that only keeps rows (WHERE, CASE WHEN) rejects NULL as it rejects
FALSE, so the COALESCE that makes segql's conditions two-valued is not needed at
positions reached through AND / OR — but is under NOT. Checked on every
combination of TRUE / FALSE / NULL, on DuckDB."""

from __future__ import annotations

import itertools

import duckdb
import pytest
from sqlglot import exp

from segql.sql.expressions import as_filter, coalesce_false


def c(name: str) -> exp.Expr:
    return coalesce_false(exp.column(name))


CONDITIONS = {
    "a and b": exp.and_(c("a"), c("b")),
    "a or b": exp.paren(exp.or_(c("a"), c("b"))),
    "a and (b or not c)": exp.and_(c("a"), exp.paren(exp.or_(c("b"), exp.not_(exp.paren(c("c")))))),
    "not (a or b)": exp.not_(exp.paren(exp.or_(c("a"), c("b")))),
    "a": c("a"),
    "(a and not b) or c": exp.or_(exp.paren(exp.and_(c("a"), exp.not_(c("b")))), c("c")),
}


def kept(con, condition: exp.Expr) -> set[tuple]:
    sql = f"SELECT a, b, c FROM t WHERE {condition.sql('duckdb')}"
    return set(con.execute(sql).fetchall())


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a BOOLEAN, b BOOLEAN, c BOOLEAN)")
    values = list(itertools.product([True, False, None], repeat=3))
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", values)
    return con


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_same_rows_kept(con, name: str) -> None:
    condition = CONDITIONS[name]
    before = kept(con, condition)
    after = as_filter(condition.copy())
    assert kept(con, after) == before
    # and the case expression form: CASE WHEN cond THEN 1 END
    case = exp.Case(ifs=[exp.If(this=after, true=exp.Literal.number(1))])
    rows = con.execute(f"SELECT a, b, c FROM t WHERE ({case.sql('duckdb')}) = 1").fetchall()
    assert set(rows) == before


def test_coalesce_dropped_only_outside_not() -> None:
    sql = as_filter(CONDITIONS["a and (b or not c)"].copy()).sql("duckdb")
    assert sql == "a AND (b OR NOT (COALESCE(c, FALSE)))"
    assert as_filter(CONDITIONS["not (a or b)"].copy()).sql("duckdb").count("COALESCE") == 2
