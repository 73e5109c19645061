"""`segql compile --run-script` (LANGUAGE.md §12, docs/run.md): every statement
parses back in its dialect; the DuckDB script, executed statement by statement,
leaves exactly the four state tables `segql run` leaves at the same as_ofs
(run timestamps aside); its checks (an earlier as_of, the same as_of with other
definitions) stop it before any write, and the same as_of and definitions is a
no-op."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
import runstate as rs
import sqlglot
from sqlglot import exp
from typer.testing import CliRunner

from segql.cli import app

T = [dt.datetime(2025, 2, 1), dt.datetime(2025, 2, 15), dt.datetime(2025, 3, 1)]
T += [dt.datetime(2025, 3, 20), dt.datetime(2025, 4, 10)]
TARGETS = """
targets:
  bq: {engine: bigquery, dataset: shop.analytics}
  sf: {engine: snowflake, schema: analytics}
  tr: {engine: trino, schema: analytics}
"""


def cli(*args: str, code: int = 0):
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == code, r.output
    return r


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rs.write_project(tmp_path, TARGETS)
    rs.write_duckdb(tmp_path / "data.duckdb", rs.rows())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _statements(root: Path, paths: list[str], dialect: str, as_of: dt.datetime | None):
    from segql import api
    from segql.ops.run_script import script

    model = api.load([str(root / p) for p in paths], str(root))
    return script(model, dialect, as_of)


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "trino", "duckdb", "postgres"])
@pytest.mark.parametrize("as_of", [None, T[1]])
def test_every_statement_parses_back(proj: Path, dialect: str, as_of):
    from segql.ops.run_script import render

    stmts = _statements(proj, ["a.seg", "b.seg"], dialect, as_of)
    kinds = []
    for s in stmts:
        text = render([s], dialect)
        back = sqlglot.parse(text, read=dialect)
        assert len([b for b in back if b is not None]) == 1, text
        assert not list(back[0].find_all(exp.Command)), text  # nothing left unparsed
        kinds.append(type(back[0]).__name__)
    ddl = ("Create", "Alter")
    if dialect == "trino":  # no transaction: autocommit, the runs row commits
        assert "Transaction" not in kinds and "Commit" not in kinds
        return
    begin, commit = kinds.index("Transaction"), kinds.index("Commit")
    # DML only inside: BigQuery allows no DDL on permanent tables in a
    # transaction, and on Snowflake any DDL commits the open one
    assert set(kinds[begin + 1 : commit]) <= {"Select", "Insert", "Delete"}, kinds
    assert [k for k in kinds[commit + 1 :] if k in ddl] == []


def test_bigquery_and_snowflake_transactions(proj: Path):
    r = cli("compile", "a.seg", "--run-script", "--target", "bq", "--as-of", "2025-03-01")
    assert "BEGIN TRANSACTION;" in r.stdout and "COMMIT TRANSACTION;" in r.stdout
    assert "ERROR(" in r.stdout and "`shop`.`analytics`.`orders`" in r.stdout
    assert r.stdout.startswith("-- segql run script for bigquery")
    r = cli("compile", "a.seg", "--run-script", "--target", "sf")
    assert "\nBEGIN;\n" in r.stdout and "\nCOMMIT;\n" in r.stdout
    r = cli("compile", "a.seg", "--run-script", "--target", "tr")
    assert "FAIL(" in r.stdout and "START TRANSACTION" not in r.stdout
    assert 'CREATE TABLE "segql"."__segql_new"' in r.stdout  # no temporary tables
    cli("compile", "a.seg", "--run-script", "--segment", "buyers", code=2)
    # deterministic
    again = cli("compile", "a.seg", "--run-script", "--target", "tr")
    assert again.stdout == r.stdout


def _execute(path: Path, stmts) -> None:
    """The script on DuckDB, statement by statement, as a scheduler would; on
    an error the session ends (its transaction is rolled back)."""
    con = duckdb.connect(str(path))
    try:
        for s in stmts:
            con.execute(s.sql(dialect="duckdb"))
    finally:
        con.close()


def _snapshot(path: Path) -> dict:
    """The four tables (rs.snapshot); the membership as rows of {column: value}:
    its columns' order is the run's (segql run) or the order they were added in
    (the script)."""
    from segql.engines.duckdb import wrap

    with wrap(duckdb.connect(str(path), read_only=True), path.parent) as e:
        out = rs.snapshot(e, "segql")
        cols = e.columns(rs.table("segql", "membership"))
        if cols is not None:
            rows = [dict(zip(cols, r, strict=True)) for r in out["membership"]]
            out["membership"] = sorted(rows, key=lambda r: repr(sorted(r.items())))
        return out


def test_duckdb_script_equals_segql_run(proj: Path):
    """The same as_ofs, the same definitions (b.seg added on the way): the four
    tables row by row, as `segql run` writes them (runs without its clock)."""
    shutil.copy(proj / "data.duckdb", proj / "script.duckdb")
    series = [(["a.seg"], T[0]), (["a.seg"], T[1]), (["a.seg", "b.seg"], T[2])]
    series += [(["a.seg", "b.seg"], T[3]), (["a.seg", "b.seg"], T[4])]
    for paths, when in series:
        args = ["run", *paths, "--db", "data.duckdb", "--as-of", when.isoformat()]
        cli(*args, "--format", "json")
        _execute(proj / "script.duckdb", _statements(proj, paths, "duckdb", when))
        ran, scripted = _snapshot(proj / "data.duckdb"), _snapshot(proj / "script.duckdb")
        for name in ("runs", "changes", "sizes"):
            assert scripted[name] == ran[name], name
        # `segql run` replaces the membership table, the script keeps its columns
        # (an added definition's column is added); the rows are the same
        assert scripted["membership"] == ran["membership"]
    from segql.engines.duckdb import wrap

    with wrap(duckdb.connect(str(proj / "script.duckdb"), read_only=True), proj) as e:
        assert [t for t in e.tables("main") if t.startswith("__segql")] == []
        assert [r.run_id for r in rs.committed(e, "segql")] == [1, 2, 3, 4, 5]


def test_script_checks(proj: Path):
    db = proj / "data.duckdb"
    _execute(db, _statements(proj, ["a.seg"], "duckdb", T[1]))
    before = _snapshot(db)
    # an earlier as_of: the check fails before any write
    with pytest.raises(duckdb.Error, match="earlier than the last run"):
        _execute(db, _statements(proj, ["a.seg"], "duckdb", T[0]))
    assert _snapshot(db) == before
    # the same as_of with other definitions: refused (segql run --force replaces)
    with pytest.raises(duckdb.Error, match="has other definitions"):
        _execute(db, _statements(proj, ["a.seg", "b.seg"], "duckdb", T[1]))
    assert _snapshot(db) == before
    # the same as_of and definitions: nothing written
    _execute(db, _statements(proj, ["a.seg"], "duckdb", T[1]))
    assert _snapshot(db) == before
    # a failure inside the transaction leaves the state as it was
    stmts = _statements(proj, ["a.seg"], "duckdb", T[2])
    at = next(i for i, s in enumerate(stmts) if isinstance(s, exp.Insert)
              and s.this.name == "sizes")  # fmt: skip
    broken = [*stmts[:at], exp.Anonymous(this="ERROR", expressions=[exp.Literal.string("x")])]
    with pytest.raises(duckdb.Error):
        _execute(db, [s if not isinstance(s, exp.Anonymous) else exp.select(s) for s in broken])
    assert _snapshot(db) == before


def test_live_clock_script_pins_one_as_of(proj: Path):
    """Without --as-of the script runs at the engine's clock, read once: the
    state equals `segql run` at the as_of the script recorded."""
    shutil.copy(proj / "data.duckdb", proj / "script.duckdb")
    _execute(proj / "script.duckdb", _statements(proj, ["a.seg", "b.seg"], "duckdb", None))
    con = duckdb.connect(str(proj / "script.duckdb"), read_only=True)
    (when,) = con.execute('SELECT "as_of" FROM "segql"."runs"').fetchone()
    con.close()
    cli("run", "a.seg", "b.seg", "--db", "data.duckdb", "--as-of", when.isoformat())
    ran, scripted = _snapshot(proj / "data.duckdb"), _snapshot(proj / "script.duckdb")
    assert scripted["changes"] == ran["changes"] and scripted["sizes"] == ran["sizes"]
    assert scripted["membership"] == ran["membership"]
    # runs' columns but the clock's: sql_hash (index 5) is another text, the live query's
    assert [r[:5] + r[6:] for r in scripted["runs"]] == [r[:5] + r[6:] for r in ran["runs"]]


def test_thousands_of_branches_render_flat():
    """The UNION ALL of a run's branches and the pair's OR of its change
    conditions are balanced trees: thousands of definitions nest shallowly."""
    from segql.ops.changes import _any
    from segql.ops.state import union_all

    q = union_all([exp.select(exp.Literal.number(i)) for i in range(3000)])
    assert q.sql("duckdb").count("UNION ALL") == 2999
    cond = _any([exp.column(f"c{i}") for i in range(3000)])
    assert cond.sql("duckdb").count(" OR ") == 2999
