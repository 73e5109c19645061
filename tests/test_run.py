"""`segql run` and `segql backfill` on DuckDB (LANGUAGE.md §12, docs/run.md):
every branch of the rules, the state checked against an independent
computation (tests/runstate.py), and SIGKILL at random instants.
PostgreSQL and Spark: tests/engines/test_run_engines.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import runstate as rs
from typer.testing import CliRunner

from segql.cli import app

T = [dt.datetime(2025, 2, 1), dt.datetime(2025, 2, 15), dt.datetime(2025, 3, 1)]
T += [dt.datetime(2025, 3, 20), dt.datetime(2025, 4, 10)]
REPO = Path(__file__).parents[1]


def cli(*args: str, code: int = 0):
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == code, r.output
    return r


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rs.write_project(tmp_path)
    rs.write_duckdb(tmp_path / "data.duckdb", rs.rows())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*paths: str, as_of: dt.datetime, extra=(), code: int = 0) -> dict | str:
    args = ["run", *paths, "--db", "data.duckdb", "--as-of", as_of.isoformat()]
    r = cli(*args, *extra, "--format", "json", code=code)
    return json.loads(r.stdout) if code == 0 else r.output


def engine(path: Path):
    from segql.engines.duckdb import wrap

    return wrap(duckdb.connect(str(path), read_only=True), path.parent)


def expected(root: Path, paths: list[str], when: dt.datetime):
    return rs.expected_membership(root, root / "data.duckdb", paths, when)


def check(root: Path, run_id: int, old, universe, new) -> None:
    with engine(root / "data.duckdb") as e:
        rs.check_run(e, "segql", run_id, old, universe, new)


def test_every_rule_of_run(proj: Path):
    # first run: every member enters
    out = run("a.seg", as_of=T[0])
    assert out["status"] == "ok" and out["run_id"] == 1 and out["previous_run"] is None
    u1, m1 = expected(proj, ["a.seg"], T[0])
    check(proj, 1, {}, u1, m1)
    assert out["universe"] == len(u1)

    # b.seg's segment and segmentation added: they enter all their members
    run("a.seg", "b.seg", as_of=T[1])
    u2, m2 = expected(proj, ["a.seg", "b.seg"], T[1])
    check(proj, 2, m1, u2, m2)
    assert m2["big"] and m2["band"]  # the additions have members to enter

    # a.seg's removed: its members exit; tier moves were already checked above
    run("b.seg", as_of=T[2])
    u3, m3 = expected(proj, ["b.seg"], T[2])
    check(proj, 3, m2, u3, m3)

    # new definitions at the same as_of replace that run; changes against the run before
    out = run("a.seg", "b.seg", as_of=T[2])
    assert out["replaced_run"] == 3 and out["previous_run"] == 2 and out["run_id"] == 4
    u4, m4 = expected(proj, ["a.seg", "b.seg"], T[2])
    check(proj, 4, m2, u4, m4)

    # the same as_of and definitions: nothing to do, said so, exit 0
    out = run("a.seg", "b.seg", as_of=T[2])
    assert out["status"] == "noop" and out["run_id"] == 4
    r = cli("run", "a.seg", "b.seg", "--db", "data.duckdb", "--as-of", T[2].isoformat())
    assert "nothing to do" in r.stdout

    # --force replaces it, recomputed against the run before it
    out = run("a.seg", "b.seg", as_of=T[2], extra=["--force"])
    assert (out["status"], out["run_id"], out["replaced_run"], out["previous_run"]) == (
        "ok",
        5,
        4,
        2,
    )
    check(proj, 5, m2, u4, m4)

    # an earlier as_of than the last run's: exit 1, the state untouched
    with engine(proj / "data.duckdb") as e:
        before = rs.snapshot(e, "segql")
    err = run("a.seg", "b.seg", as_of=T[1], code=1)
    assert "earlier than the last run" in err and "Traceback" not in err
    with engine(proj / "data.duckdb") as e:
        assert rs.snapshot(e, "segql") == before
        assert [r.run_id for r in rs.committed(e, "segql")] == [1, 2, 5]
        # nothing of replaced runs is left
        ids = {r[0] for r in e.fetch("SELECT DISTINCT run_id FROM segql.changes")}
        assert ids == {1, 2, 5}

    # the data changed: a customer gone (exits everything), a new one (enters)
    con = duckdb.connect("data.duckdb")
    con.execute("DELETE FROM customers WHERE customer_id = 'c05'")
    con.execute("INSERT INTO customers VALUES ('c99')")
    con.execute("INSERT INTO orders VALUES ('c99', '2025-04-01 10:00:00', 300.0)")
    con.close()
    run("a.seg", "b.seg", as_of=T[4])
    u6, m6 = expected(proj, ["a.seg", "b.seg"], T[4])
    assert "c99" in u6 and "c05" not in u6
    check(proj, 6, m4, u6, m6)
    with engine(proj / "data.duckdb") as e:
        got = rs.state_changes(e, "segql", 6)
    assert ("tier", "c99", "enter", "gold") in got
    assert any(c[1] == "c05" and c[2] == "exit" for c in got) == any(
        "c05" in m for m in m4.values()
    )


@pytest.mark.parametrize("key", ["__segql_name", "__segql_value"])
def test_key_named_like_the_unpivots_columns(tmp_path: Path, monkeypatch, key: str):
    """DuckDB writes the segments' changes by one UNPIVOT whose name and value
    columns sit beside the key: a key of the same name still gives the
    changes of the rules, on a first run (the membership) and a later one (the
    pair's flips)."""
    rs.write_project(tmp_path, key=key)
    rs.write_duckdb(tmp_path / "data.duckdb", rs.rows(), key=key)
    monkeypatch.chdir(tmp_path)
    old: dict = {}
    for run_id, when in enumerate(T[:3], start=1):
        run("a.seg", "b.seg", as_of=when)
        universe, new = expected(tmp_path, ["a.seg", "b.seg"], when)
        with engine(tmp_path / "data.duckdb") as e:
            rs.check_run(e, "segql", run_id, old, universe, new, key=key)
        assert run_id == 1 or rs.expected_changes(old, new)  # something moved
        old = new


def test_summary_table_and_warnings(proj: Path):
    r = cli("run", "a.seg", "b.seg", "--db", "data.duckdb", "--as-of", T[1].isoformat())
    assert "run 1 at 2025-02-15 00:00:00 UTC, first run" in r.stdout
    assert "Segmentation tier" in r.stdout and "entered" in r.stdout
    out = run("a.seg", "b.seg", as_of=T[2])
    for s in out["segments"]:
        share = s["share"]
        assert s["warning"] == ("small" if share < 0.01 else "large" if share > 0.5 else None)
    assert [lab["label"] for lab in out["segmentations"][0]["labels"]] == rs.LABELS["tier"]


def test_state_schema_setting_and_reserved_names(proj: Path):
    (proj / "segql.yml").write_text(rs.PROJECT + "state_schema: history\n")
    run("a.seg", as_of=T[0])
    with engine(proj / "data.duckdb") as e:
        assert rs.committed(e, "history")[0].run_id == 1
    (proj / "c.seg").write_text("segment run_id = count(orders) >= 1\n")
    err = run("c.seg", as_of=T[1], code=1)
    assert "'run_id' is a column that segql run adds" in err


def test_definitions_hash_ignores_layout(proj: Path):
    run("a.seg", as_of=T[0])
    (proj / "a.seg").write_text("# a comment\n\n" + rs.A_SEG.replace(" = ", "   =   "))
    assert run("a.seg", as_of=T[0])["status"] == "noop"
    (proj / "a.seg").write_text(rs.A_SEG.replace("200", "150"))
    assert run("a.seg", as_of=T[0])["replaced_run"] == 1


def test_backfill_series_and_resume(proj: Path):
    r = cli(
        "backfill", "a.seg", "b.seg", "--db", "data.duckdb",
        "--from", "2025-02-01", "--to", "2025-03-01", "--every", "2 weeks", "--format", "json",
    )  # fmt: skip
    out = json.loads(r.stdout)
    assert [x["as_of"][:10] for x in out] == ["2025-02-01", "2025-02-15", "2025-03-01"]
    assert "[3/3] as_of 2025-03-01" in r.stderr
    old: dict = {}
    for i, x in enumerate(out, start=1):
        when = dt.datetime.fromisoformat(x["as_of"][:-1])
        u, m = expected(proj, ["a.seg", "b.seg"], when)
        check(proj, i, old, u, m) if i == len(out) else None
        old = m
    # again, one step further: the first three are no-ops
    r = cli(
        "backfill", "a.seg", "b.seg", "--db", "data.duckdb",
        "--from", "2025-02-01", "--to", "2025-03-15", "--every", "2 weeks", "--format", "json",
    )  # fmt: skip
    assert [x["status"] for x in json.loads(r.stdout)] == ["noop", "ok"]
    assert "skipping 2 as_of before the last run's" in r.stderr


def test_backfill_durations():
    from segql.errors import SegqlError
    from segql.ops.backfill import series

    days = series("2025-01-30", "2025-05-01", "1 month", "UTC")
    assert [d.date().isoformat() for d in days] == [
        "2025-01-30", "2025-02-28", "2025-03-30", "2025-04-30",
    ]  # fmt: skip
    assert len(series("2025-01-01", "2025-01-02", "6 hours", "UTC")) == 5
    assert len(series("2025-01-01", "2025-01-31", "day", "UTC")) == 31
    # local days in the project's time zone, as naive UTC
    assert series("2025-03-29", "2025-03-31", "1 day", "Europe/Paris")[-1] == dt.datetime(
        2025, 3, 30, 22
    )
    for bad in ("0 days", "fortnight", "1.5 days"):
        with pytest.raises(SegqlError):
            series("2025-01-01", "2025-02-01", bad, "UTC")


def test_which_database(proj: Path):
    # no --db: the project's `database:`
    (proj / "segql.yml").write_text(rs.PROJECT + "database: data.duckdb\n")
    r = cli("run", "a.seg", "--as-of", "2025-02-01", "--format", "json")
    assert json.loads(r.stdout)["data"].endswith("data.duckdb")
    # neither a database nor targets
    (proj / "segql.yml").write_text(rs.PROJECT)
    assert "no target: runs and their state live on a target" in cli("run", "a.seg", code=2).output
    # a DuckDB target in memory would keep no state
    (proj / "segql.yml").write_text(rs.PROJECT + "targets:\n  mem: {engine: duckdb}\n")
    assert "in-memory DuckDB keeps nothing" in cli("run", "a.seg", code=1).output


def test_usage_errors(proj: Path):
    r = cli("run", "a.seg", "--db", "nope.duckdb", code=2)
    assert "not found" in r.output
    cli("run", "a.seg", "--db", "data.duckdb", "--target", "x", code=2)
    cli("backfill", "a.seg", "--db", "data.duckdb", "--from", "2025-01-01", "--to", "2025-02-01",
        "--every", "soon", code=2)  # fmt: skip


def test_unwritable_or_broken_file_is_a_clean_error(proj: Path):
    (proj / "junk.duckdb").write_bytes(b"not a database" * 100)
    r = cli("run", "a.seg", "--db", "junk.duckdb", "--as-of", "2025-02-01", code=1)
    assert "DuckDB cannot open" in r.output and "Traceback" not in r.output
    if os.geteuid() != 0:  # root writes a read-only file anyway
        os.chmod(proj / "data.duckdb", 0o444)
        err = run("a.seg", as_of=T[0], code=1)
        assert "cannot open" in err and "Traceback" not in err


def _segql(root: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "segql", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_second_writer_stops_with_a_clear_error(proj: Path):
    holder = duckdb.connect(str(proj / "data.duckdb"))  # another process would hold it so
    try:
        p = _segql(proj, "run", "a.seg", "--db", "data.duckdb", "--as-of", "2025-02-01")
        out, err = p.communicate(timeout=120)
    finally:
        holder.close()
    # in this process the file is open already: a second process cannot lock it
    assert p.returncode == 1, err
    assert "in use by another process" in err and "Traceback" not in err


def test_two_runs_at_once_never_both_commit(proj: Path):
    run("a.seg", as_of=T[0])
    for i in range(3):
        when = (T[1] + dt.timedelta(days=i)).isoformat()
        procs = [_segql(proj, "run", "a.seg", "--db", "data.duckdb", "--as-of", when)
                 for _ in range(2)]  # fmt: skip
        outs = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert sorted(code for code, _ in outs) in ([0, 0], [0, 1])
        for code, err in outs:
            assert code == 0 or "in use by another process" in err, err
        with engine(proj / "data.duckdb") as e:
            assert [r.run_id for r in rs.committed(e, "segql")][-1] == 2 + i


def _snapshot(path: Path):
    con = duckdb.connect(str(path))  # replays a killed run's log, if any
    try:
        from segql.engines.duckdb import wrap

        with wrap(con, path.parent) as e:
            return rs.snapshot(e, "segql")
    except Exception:
        con.close()
        raise


def test_sigkill_at_random_instants_leaves_before_or_after(proj: Path):
    """30 runs killed at random instants: the state is exactly the one before
    the run or exactly the one after it, all four tables compared."""
    run("a.seg", as_of=T[0])
    base = proj / "base.duckdb"
    shutil.copy(proj / "data.duckdb", base)
    before = _snapshot(base)
    args = ("run", "a.seg", "b.seg", "--db", "data.duckdb", "--as-of", T[1].isoformat())
    start = time.monotonic()
    p = _segql(proj, *args)
    assert p.wait(timeout=120) == 0, p.stderr.read()
    took = time.monotonic() - start
    after = _snapshot(proj / "data.duckdb")
    assert after != before
    rnd = random.Random(14)
    seen = {"before": 0, "after": 0}
    for _ in range(30):
        for f in proj.glob("data.duckdb*"):
            f.unlink()
        shutil.copy(base, proj / "data.duckdb")
        p = _segql(proj, *args)
        time.sleep(rnd.uniform(0.2 * took, 1.05 * took))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        got = _snapshot(proj / "data.duckdb")
        assert got in (before, after)
        seen["before" if got == before else "after"] += 1
    assert seen["before"] > 0  # the kills did land inside runs


def test_sizes_of_labels_not_declared_are_those_present(tmp_path: Path):
    """A label column that is not a segmentation (splits, later) gets a sizes
    row per label present in the membership."""
    from sqlglot import exp

    from segql.engines.duckdb import wrap
    from segql.ops import changes as ch
    from segql.ops import state as st

    con = duckdb.connect()
    con.execute("CREATE SCHEMA s")
    with wrap(con, tmp_path) as e:
        state = st.State(e, "s", "k")
        e.execute(f"CREATE TEMP TABLE {st.NEW} AS SELECT * FROM (VALUES "
                  "('a', 'x'), ('b', 'x'), ('c', 'y'), ('d', NULL)) t(k, g)")  # fmt: skip
        e.execute(e.dialect.create_state_table(state.sizes, state.sizes_columns()))
        e.execute(e.dialect.create_state_table(state.changes, state.changes_shape()))
        q = ch.sizes_query(state, 1, e.dialect.instant(T[0]), [("g", ch.OBSERVED, "g")])
        e.execute(exp.insert(q, state.sizes))
        assert sorted(st.read_sizes(state, 1)) == [
            ("g", "x", 2, 0.5, 0, 0),
            ("g", "y", 1, 0.25, 0, 0),
        ]


def test_state_statements_per_dialect():
    """What differs by engine is built by the dialect classes: Spark's state
    tables are Parquet partitioned by run, and a run's rows go by partition."""
    from sqlglot import exp

    from segql.sql.dialects import get_dialect

    t = rs.table("segql", "sizes")
    cols = {"run_id": exp.DataType.build("BIGINT"), "name": exp.DataType.build("TEXT")}
    spark = get_dialect("spark")
    assert spark.create_state_table(t, cols).sql("spark") == (
        "CREATE TABLE IF NOT EXISTS `segql`.`sizes` (`run_id` BIGINT, `name` STRING) "
        "USING PARQUET PARTITIONED BY (`run_id`)"
    )
    assert [s.sql("spark") for s in spark.delete_runs(t, [3, 4])] == [
        "ALTER TABLE `segql`.`sizes` DROP IF EXISTS PARTITION(`run_id` = 3)",
        "ALTER TABLE `segql`.`sizes` DROP IF EXISTS PARTITION(`run_id` = 4)",
    ]
    for name in ("duckdb", "postgres"):
        d = get_dialect(name)
        assert [s.sql(name) for s in d.delete_runs(t, [3])] == [
            'DELETE FROM "segql"."sizes" WHERE "run_id" IN (3)'
        ]
        assert d.delete_runs(t, []) == []
