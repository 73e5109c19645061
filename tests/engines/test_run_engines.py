"""`segql run` on PostgreSQL and Spark (LANGUAGE.md §12, docs/run.md): the
state after every branch of the rules equals an independent computation (the
membership at each as_of compiled for DuckDB and run on a DuckDB copy of the
same data, enters/exits/sizes in Python: tests/runstate.py); two runs at once
never both commit; on PostgreSQL, SIGKILL at random instants and a connection
killed by the server leave the state exactly before or after.
DuckDB: tests/test_run.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import runstate as rs
from sqlglot import exp
from typer.testing import CliRunner

from segql.cli import app

pytestmark = pytest.mark.engines

T = [dt.datetime(2025, 2, 1), dt.datetime(2025, 2, 15), dt.datetime(2025, 3, 1)]
REPO = Path(__file__).parents[2]
TARGETS = """
targets:
  pg:    {engine: postgres, dsn: "${SEGQL_TEST_PG_DSN}", schema: shop_run}
  spark: {engine: spark, database: shop_run}
state_schema: run_state
"""
STATE = "run_state"


def cli(*args: str, code: int = 0):
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == code, r.output
    return r


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rs.write_project(tmp_path, TARGETS)
    data = rs.rows()
    rs.write_duckdb(tmp_path / "expect.duckdb", data)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _connect(root: Path, target: str):
    from segql.engines import connect
    from segql.engines.targets import choose
    from segql.project import load_project

    return connect(choose(load_project(root / "segql.yml"), target), root, read_only=False)


def _load(root: Path, target: str, key: str = rs.KEY) -> None:
    """The test data into the target (schema/database shop_run), a fresh state."""
    types = {"VARCHAR": "TEXT", "TIMESTAMP": "TIMESTAMP", "DOUBLE": "DOUBLE"}
    data = rs.rows()
    with _connect(root, target) as e:
        for name in (STATE, "shop_run"):
            schema = exp.Table(this=exp.to_identifier(name, quoted=True))
            e.execute(exp.Drop(tables=[schema], kind="SCHEMA", exists=True, cascade=True))
        for table, cols in rs.COLUMNS.items():
            columns = {(key if c == rs.KEY else c): exp.DataType.build(types[t]) for c, t in cols}
            e.write_table(rs.table("shop_run", table), columns, [data[table]])


def run(target: str, *paths: str, as_of: dt.datetime, extra=(), code: int = 0):
    args = ["run", *paths, "--target", target, "--as-of", as_of.isoformat(), "--format", "json"]
    r = cli(*args, *extra, code=code)
    return json.loads(r.stdout) if code == 0 else r.output


def expected(root: Path, paths: list[str], when: dt.datetime):
    return rs.expected_membership(root, root / "expect.duckdb", paths, when)


def scenario(root: Path, target: str) -> None:
    """Every branch of §12's rules, checked after each run."""
    _load(root, target)

    def check(run_id, old, universe, new):
        with _connect(root, target) as e:
            rs.check_run(e, STATE, run_id, old, universe, new)

    assert run(target, "a.seg", as_of=T[0])["run_id"] == 1  # first run: all enter
    u1, m1 = expected(root, ["a.seg"], T[0])
    check(1, {}, u1, m1)
    run(target, "a.seg", "b.seg", as_of=T[1])  # added: enter all their members
    u2, m2 = expected(root, ["a.seg", "b.seg"], T[1])
    check(2, m1, u2, m2)
    run(target, "b.seg", as_of=T[2])  # removed: exit all their members
    u3, m3 = expected(root, ["b.seg"], T[2])
    check(3, m2, u3, m3)
    out = run(target, "a.seg", "b.seg", as_of=T[2])  # new definitions at that as_of
    assert (out["run_id"], out["replaced_run"], out["previous_run"]) == (4, 3, 2)
    u4, m4 = expected(root, ["a.seg", "b.seg"], T[2])
    check(4, m2, u4, m4)
    assert run(target, "a.seg", "b.seg", as_of=T[2])["status"] == "noop"
    out = run(target, "a.seg", "b.seg", as_of=T[2], extra=["--force"])
    assert (out["run_id"], out["replaced_run"], out["previous_run"]) == (5, 4, 2)
    check(5, m2, u4, m4)
    err = run(target, "a.seg", as_of=T[1], code=1)
    assert "earlier than the last run" in err
    with _connect(root, target) as e:
        assert [r.run_id for r in rs.committed(e, STATE)] == [1, 2, 5]
        q = exp.select("run_id").distinct().from_(rs.table(STATE, "changes"))
        assert {r[0] for r in e.fetch(q)} == {1, 2, 5}  # replaced runs' rows are gone


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture
def pg(proj: Path, postgres, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    return proj


def test_postgres_every_rule(pg: Path):
    scenario(pg, "pg")


def test_postgres_reads_one_runs_changes_without_reading_the_others(pg: Path, postgres):
    """A run's sizes group this run's changes, and reads of state take one
    run's rows: the BRIN index on changes.run_id that a run makes lets
    PostgreSQL skip the other runs' pages (a heap table has no zone maps)."""
    _load(pg, "pg")
    run("pg", "a.seg", as_of=T[0])
    with postgres.connect() as con:
        (index,) = con.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'changes'",
            (STATE,),
        ).fetchall()
        assert "USING brin (run_id)" in index[0] and "autosummarize" in index[0]
        # a long history: 400 runs of 500 changes each, appended in run order
        con.execute(
            f'INSERT INTO "{STATE}".changes (run_id, as_of, name, customer_id, event)'
            " SELECT 1000 + i / 500, now(), 'buyers', 'c' || i, 'enter'"
            " FROM generate_series(0, 199999) i"
        )
        con.execute(f"SELECT brin_summarize_new_values('\"{STATE}\".changes_run_id')")
        con.execute(f'ANALYZE "{STATE}".changes')
        plan = con.execute(
            f'EXPLAIN SELECT name, count(*) FROM "{STATE}".changes'
            " WHERE run_id = 1200 GROUP BY name"
        ).fetchall()
    assert "Bitmap Index Scan on changes_run_id" in "\n".join(r[0] for r in plan)
    run("pg", "a.seg", "b.seg", as_of=T[1])  # the next run works with the index there


@pytest.mark.parametrize("key", ["__segql_name", "__segql_value"])
def test_postgres_key_named_like_the_unpivots_columns(tmp_path: Path, postgres, monkeypatch, key):
    """PostgreSQL writes the segments' changes by one LATERAL VALUES list whose
    name and value columns sit beside the key: a key of the same name still
    gives the changes of the rules, first run and later ones."""
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    rs.write_project(tmp_path, TARGETS, key=key)
    rs.write_duckdb(tmp_path / "expect.duckdb", rs.rows(), key=key)
    monkeypatch.chdir(tmp_path)
    _load(tmp_path, "pg", key)
    old: dict = {}
    for run_id, when in enumerate(T, start=1):
        run("pg", "a.seg", "b.seg", as_of=when)
        universe, new = expected(tmp_path, ["a.seg", "b.seg"], when)
        with _connect(tmp_path, "pg") as e:
            rs.check_run(e, STATE, run_id, old, universe, new, key=key)
        old = new


def test_postgres_second_run_stops_while_one_holds_the_state(pg: Path):
    _load(pg, "pg")
    with _connect(pg, "pg") as e, e.exclusive(STATE):
        err = run("pg", "a.seg", as_of=T[0], code=1)
    assert "another segql run is writing the state in schema 'run_state'" in err
    run("pg", "a.seg", as_of=T[0])  # released: the next run proceeds


def _segql(root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "segql", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_postgres_two_runs_at_once_never_both_commit(pg: Path):
    _load(pg, "pg")
    run("pg", "a.seg", as_of=T[0])
    for i in range(3):
        when = (T[1] + dt.timedelta(days=i)).isoformat()
        procs = [_segql(pg, "run", "a.seg", "--target", "pg", "--as-of", when) for _ in range(2)]
        outs = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert sorted(code for code, _ in outs) in ([0, 0], [0, 1])
        for code, err in outs:
            assert code == 0 or "another segql run" in err, err
        with _connect(pg, "pg") as e:
            assert [r.run_id for r in rs.committed(e, STATE)][-1] == 2 + i  # one run each time


def _wait_idle(postgres) -> None:
    """Until no other session runs anything (a killed client's backend may
    still be finishing a statement)."""
    with postgres.connect() as con:
        for _ in range(200):
            busy = con.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            ).fetchone()[0]
            if not busy:
                return
            time.sleep(0.05)
    raise AssertionError("a killed run's session did not end")


def _pg_snapshot(root: Path):
    with _connect(root, "pg") as e:
        return rs.snapshot(e, STATE)


def _reset(root: Path, postgres) -> None:
    _wait_idle(postgres)
    with postgres.connect() as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{STATE}" CASCADE')
    run("pg", "a.seg", as_of=T[0])


def test_postgres_sigkill_at_random_instants_leaves_before_or_after(pg: Path, postgres):
    _load(pg, "pg")
    run("pg", "a.seg", as_of=T[0])
    before = _pg_snapshot(pg)
    args = ("run", "a.seg", "b.seg", "--target", "pg", "--as-of", T[1].isoformat())
    start = time.monotonic()
    p = _segql(pg, *args)
    assert p.wait(timeout=120) == 0, p.stderr.read()
    took = time.monotonic() - start
    after = _pg_snapshot(pg)
    assert after != before
    rnd = random.Random(22)
    seen = {"before": 0, "after": 0}
    for _ in range(30):
        _reset(pg, postgres)
        p = _segql(pg, *args)
        time.sleep(rnd.uniform(0.2 * took, 1.05 * took))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        _wait_idle(postgres)
        got = _pg_snapshot(pg)
        assert got in (before, after)
        seen["before" if got == before else "after"] += 1
    assert seen["before"] > 0


def test_postgres_connection_killed_mid_run_is_a_clean_error(pg: Path, postgres):
    """The run's session terminated by the server (pg_terminate_backend) at
    several instants: a one-line error, the state exactly before or after (cut
    off after its commit, a run reports the lost connection: the commit
    stands), and the next run succeeds."""
    _load(pg, "pg")
    run("pg", "a.seg", as_of=T[0])
    before = _pg_snapshot(pg)
    args = ("run", "a.seg", "b.seg", "--target", "pg", "--as-of", T[1].isoformat())
    run("pg", "a.seg", "b.seg", as_of=T[1])
    after = _pg_snapshot(pg)
    cut = 0
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4):
        _reset(pg, postgres)
        p = _segql(pg, *args)
        pid = _wait_for_lock(postgres, p)
        time.sleep(delay)
        if pid:
            with postgres.connect() as con:
                con.execute("SELECT pg_terminate_backend(%s)", (pid,))
        p.wait(timeout=60)
        err = p.stderr.read()
        _wait_idle(postgres)
        got = _pg_snapshot(pg)
        assert got in (before, after)
        if p.returncode == 0:
            assert got == after
            continue
        assert p.returncode == 1 and "Traceback" not in err and "PostgreSQL" in err, err
        cut += got == before
    assert cut > 0  # some runs were cut off before their commit
    _reset(pg, postgres)
    out = run("pg", "a.seg", "b.seg", as_of=T[1])
    assert out["status"] == "ok" and out["previous_run"] == 1


def _wait_for_lock(postgres, p: subprocess.Popen) -> int | None:
    """The pid of the session of a run once it holds the run lock (mid-run)."""
    with postgres.connect() as con:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            row = con.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.01)
    return None


def test_postgres_server_restarted_mid_run(pg: Path, postgres):
    """The server restarts (immediate shutdown) while a run holds the state: a
    one-line error, the state as before, and the next run succeeds."""
    _load(pg, "pg")
    run("pg", "a.seg", as_of=T[0])
    before = _pg_snapshot(pg)
    p = _segql(pg, "run", "a.seg", "b.seg", "--target", "pg", "--as-of", T[1].isoformat())
    assert _wait_for_lock(postgres, p) is not None
    postgres.restart()
    p.wait(timeout=60)
    err = p.stderr.read()
    assert p.returncode == 1 and "Traceback" not in err and "PostgreSQL" in err, err
    assert _pg_snapshot(pg) == before
    out = run("pg", "a.seg", "b.seg", as_of=T[1])
    assert out["status"] == "ok" and out["previous_run"] == 1


# ------------------------------------------------------------------ Spark


def test_spark_every_rule(proj: Path, spark):
    try:
        scenario(proj, "spark")
        # a run killed before its runs row leaves rows no reader sees, and the
        # next run drops them: here run 5's rows copied as run 9's
        from segql.ops import state as st

        with _connect(proj, "spark") as e:
            s = st.State(e, STATE, "customer_id")
            for table in (s.changes, s.sizes, s.membership):
                cols = [
                    exp.Literal.number(9).as_("run_id") if c == "run_id" else exp.column(c)
                    for c in s.columns(table)
                ]
                q = exp.select(*cols).from_(table.copy()).where(exp.column("run_id").eq(5))
                e.execute(exp.insert(q, table.copy()))
            assert rs.committed(e, STATE)[-1].run_id == 5
        # and files of a run killed before its partition was registered, under
        # the run_id the next run takes: not adopted by it
        where = spark.sql(f"DESCRIBE TABLE EXTENDED {STATE}.changes").collect()
        location = next(r.data_type for r in where if r.col_name == "Location")
        bogus = spark.sql(
            "SELECT CAST('2025-03-20' AS TIMESTAMP) AS as_of, 'bogus' AS name, "
            "'c01' AS customer_id, 'enter' AS event, CAST(NULL AS STRING) AS label"
        )
        bogus.write.mode("overwrite").parquet(f"{location}/run_id=6")
        out = run("spark", "a.seg", "b.seg", as_of=dt.datetime(2025, 3, 20))
        assert (out["previous_run"], out["run_id"]) == (5, 6)
        u6, m6 = expected(proj, ["a.seg", "b.seg"], dt.datetime(2025, 3, 20))
        _u5, m5 = expected(proj, ["a.seg", "b.seg"], T[2])
        with _connect(proj, "spark") as e:
            rs.check_run(e, STATE, 6, m5, u6, m6)
            for table in ("changes", "sizes", "membership"):
                q = exp.select("run_id").distinct().from_(rs.table(STATE, table))
                ids = {r[0] for r in e.fetch(q)}
                assert ids == ({6} if table == "membership" else {1, 2, 5, 6})
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {STATE} CASCADE")
        spark.sql("DROP DATABASE IF EXISTS shop_run CASCADE")


def test_spark_second_run_stops_while_one_holds_the_state(proj: Path, spark):
    try:
        _load(proj, "spark")
        with _connect(proj, "spark") as e, e.exclusive(STATE):
            err = run("spark", "a.seg", as_of=T[0], code=1)
        assert "another segql run is writing the state in database 'run_state'" in err
        assert "DROP TABLE `run_state`.`run_lock`" in err
        assert run("spark", "a.seg", as_of=T[0])["run_id"] == 1
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {STATE} CASCADE")
        spark.sql("DROP DATABASE IF EXISTS shop_run CASCADE")


def test_postgres_examples_state_equals_duckdb(tmp_path: Path, postgres, monkeypatch):
    """The example project (every construct of the language) run twice on the
    sample data: PostgreSQL's state tables hold what DuckDB's hold."""
    from helpers import copy_examples

    copy_examples(tmp_path)
    with open(tmp_path / "segql.yml", "a", encoding="utf-8") as out:
        out.write(
            '\ntargets:\n  pg: {engine: postgres, dsn: "${SEGQL_TEST_PG_DSN}", '
            "schema: ex_sample}\nstate_schema: ex_state\n"
        )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGQL_TEST_PG_DSN", postgres.conninfo)
    with postgres.connect() as con:
        con.execute("DROP SCHEMA IF EXISTS ex_state CASCADE")
    cli("sample", "--target", "pg", "--scale", "0.002")
    cli("sample", "--db", "local.duckdb", "--scale", "0.002")
    from segql.engines.duckdb import DuckDBEngine
    from segql.engines.targets import file_target

    for when in ("2025-06-01", "2025-07-01"):
        cli("run", ".", "--target", "pg", "--as-of", when)
        cli("run", ".", "--db", "local.duckdb", "--as-of", when)
    got = {}
    with _connect(tmp_path, "pg") as pg_engine:
        got["pg"] = _state(pg_engine)
    with DuckDBEngine(file_target(str(tmp_path / "local.duckdb")), tmp_path) as duck:
        got["duckdb"] = _state(duck)
    assert got["pg"] == got["duckdb"]
    assert got["pg"]["changes"] and got["pg"]["sizes"]
    # what reads the state answers alike from either engine's state: history
    # (sizes), diff between the two runs (memberships rebuilt from changes),
    # export from the last run (members, labels, entries and exits)
    on = {"pg": ["--target", "pg"], "duckdb": ["--db", "local.duckdb"]}
    for args in (
        ["history", "lapsing_customers", "--format", "json"],
        ["history", "journey", "--format", "json"],
        ["diff", ".", "--format", "json"],
        ["diff", ".", "--from", "1", "--to", "2", "--by", "country", "--format", "json"],
    ):
        outs = {e: cli(*args, *where).stdout for e, where in on.items()}
        assert outs["pg"] == outs["duckdb"], args
        assert json.loads(outs["pg"]), args
    for name, extra in (
        ("lapsing_customers", ["--columns", "country"]),
        ("journey", []),
        ("lapsing_customers", ["--changes"]),
    ):
        files = {}
        for e, where in on.items():
            out = tmp_path / f"{e}_{name}.out"
            cli("export", name, ".", "--out", str(out), *extra, *where)
            files[e] = out.read_bytes()
        assert files["pg"] == files["duckdb"], (name, extra)
        assert files["pg"].count(b"\n") > 1, (name, extra)


def _state(e) -> dict:
    out = {}
    for name in ("changes", "sizes", "membership"):
        rows = e.fetch(exp.select("*").from_(rs.table("ex_state", name)))
        cols = list(e.columns(rs.table("ex_state", name)))
        out[name] = sorted(
            (
                tuple(
                    (c, round(float(v), 9) if isinstance(v, float) else v)
                    for c, v in sorted(zip(cols, r, strict=True))
                )
                for r in rows
            ),
            key=repr,
        )
    runs = e.fetch(exp.select("run_id", "as_of", "universe", "definitions_hash", "sql_hash")
                   .from_(rs.table("ex_state", "runs")))  # fmt: skip
    out["runs"] = sorted((r[0], r[1], r[2]) for r in runs)
    return out


# ------------------------------------------------------------------ run --traits

TRAITS_SEG = """\
trait spend   = sum(orders.amount, last 30 days)
trait spender = spend > 100
trait last_at = last(orders.ordered_at)
trait top     = max(orders.amount, last 14 days)
"""


def traits_scenario(root: Path, target: str) -> None:
    """run --traits: the state's changes and sizes are those of the outputs
    alone (tests/runstate.py), the membership's trait columns equal DuckDB's."""
    import duckdb

    from segql import api

    _load(root, target)
    (root / "c.seg").write_text(TRAITS_SEG)
    old: dict = {}
    for run_id, when in enumerate(T, start=1):
        run(target, "a.seg", "c.seg", as_of=when, extra=["--traits"])
        universe, new = expected(root, ["a.seg"], when)
        with _connect(root, target) as e:
            rs.check_run(e, STATE, run_id, old, universe, new)
            cols = list(e.columns(rs.table(STATE, "membership")))
            assert cols[-6:] == ["spend", "spender", "last_at", "top", "as_of", "run_id"]
            q = exp.select("customer_id", "spend", "spender", "last_at", "top").from_(
                rs.table(STATE, "membership")
            )
            got = {r[0]: r[1:] for r in rs.fetch(e, q)}
        sql = api.compile([str(root / "c.seg")], project=str(root), as_of=when, traits=True).sql()
        con = duckdb.connect(str(root / "expect.duckdb"), read_only=True)
        try:
            want = {r[0]: r[1:] for r in con.execute(sql).fetchall()}
        finally:
            con.close()
        assert got.keys() == want.keys()
        for key, (spend, spender, last_at, top) in want.items():
            g = got[key]
            assert float(g[0]) == pytest.approx(float(spend)), key
            assert g[1] is spender and g[2] == last_at, key
            assert (g[3] is None and top is None) or float(g[3]) == pytest.approx(float(top))
        old = new


def test_postgres_run_traits(pg: Path):
    traits_scenario(pg, "pg")


def test_spark_run_traits(proj: Path, spark):
    traits_scenario(proj, "spark")


# ------------------------------------------------------------------ reading the state


def reads_scenario(root: Path, target: str) -> None:
    """history, diff between runs and export from the last run answer from the
    target's state exactly as from DuckDB's state after the same runs."""
    import shutil

    _load(root, target)
    shutil.copy(root / "expect.duckdb", root / "local.duckdb")
    on = {target: ["--target", target], "duckdb": ["--db", "local.duckdb"]}
    for when in T:
        for where in on.values():
            cli("run", "a.seg", "b.seg", "--as-of", when.isoformat(), *where)
    for args in (
        ["history", "buyers", "--format", "json"],
        ["history", "tier", "--format", "json"],
        ["diff", "a.seg", "b.seg", "--format", "json"],
        ["diff", "a.seg", "b.seg", "--from", "1", "--to", "3", "--format", "json"],
    ):
        outs = {e: cli(*args, *where).stdout for e, where in on.items()}
        assert outs[target] == outs["duckdb"], args
        assert json.loads(outs[target]), args
    for name, extra in (("buyers", []), ("tier", []), ("buyers", ["--changes"])):
        files = {}
        for e, where in on.items():
            out = root / f"{e}_{name}.out"
            cli("export", name, "a.seg", "b.seg", "--out", str(out), *extra, *where)
            files[e] = out.read_bytes()
        assert files[target] == files["duckdb"], (name, extra)
        assert files[target].count(b"\n") > 1, (name, extra)


def test_postgres_state_reads_equal_duckdb(pg: Path):
    reads_scenario(pg, "pg")


def test_spark_state_reads_equal_duckdb(proj: Path, spark):
    try:
        reads_scenario(proj, "spark")
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {STATE} CASCADE")
        spark.sql("DROP DATABASE IF EXISTS shop_run CASCADE")
