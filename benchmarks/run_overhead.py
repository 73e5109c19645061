"""A run's overhead beyond its membership query: `python -m benchmarks.run_overhead --scale 10`
(docs/performance.md, "Run overhead").

On one DuckDB file holding the benchmark data (benchmarks/data.py, copied once to
a scratch file the runs write their state into), side by side in one process,
interleaved, several repetitions:

- **query**: the membership query alone, stored as a temporary table (what a run
  does with it first), at as_of A and at B = A + 7 days;
- **first run**: `segql run` (segql.ops.run.execute) at A on an empty state;
- **second run**: at B, with changes against the first run.

It reports medians (wall and CPU seconds) and the overhead (run − query) / query,
and, from one instrumented repetition, where each run's time goes statement by
statement (the engine's `_run` timed) plus Python (compiling twice: the query
and the definitions hash). The state's growth is printed too: rows of `changes`
per run (only changes) and of `sizes`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from . import harness
from .data import DATA_DIR, _checked_size, ensure_database


def log(msg: str = "") -> None:
    print(msg, flush=True)


QUERY = "membership query (built in the state schema)"
RUNS = ("first run (A)", "second run (B)")  # segql's, timed statement by statement


def _label(sql: str) -> str:
    head = " ".join(sql.split())[:200]
    if "__segql_new" in head.split(" AS ", 1)[0] and head.startswith("CREATE"):
        return QUERY
    if head.startswith("CREATE") and "__segql_pair" in head.split(" AS ", 1)[0]:
        return "pair (full join with the previous)"
    for table, label in (
        ('"changes"', "changes insert"),
        ('"sizes"', "sizes insert"),
        ('"runs"', "runs row"),
    ):
        if head.startswith("INSERT INTO") and table in head.split(" SELECT", 1)[0]:
            return label
    if head.startswith("CREATE OR REPLACE TABLE") and '"membership"' in head:
        return "membership swap"
    if head.startswith(("SELECT", "DESCRIBE")):
        return "reads (last run, columns, sizes)"
    return "other (DDL, drops)"


class _Con:
    """A DuckDB connection whose COMMIT (sent by the engine's transaction, not
    through `_run`) is timed."""

    def __init__(self, con, times):
        self._con, self._times = con, times

    def execute(self, sql, *args):
        if sql.strip().upper() not in ("COMMIT", "ROLLBACK"):
            return self._con.execute(sql, *args)
        start = time.perf_counter()
        try:
            return self._con.execute(sql, *args)
        finally:
            self._times["commit (DuckDB writes the state to its file)"] += (
                time.perf_counter() - start
            )

    def __getattr__(self, name):
        return getattr(self._con, name)


class Timed:
    """Times every statement an engine sends, by label."""

    def __init__(self, engine):
        self.engine = engine
        self.times: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._orig, self._con = engine._run, engine.con
        if engine.target.engine == "duckdb":
            engine.con = _Con(engine.con, self.times)

        def timed(sql: str, fetch: bool):
            start, c0 = time.perf_counter(), time.process_time()
            try:
                return self._orig(sql, fetch)
            finally:
                self.times[_label(sql)] += time.perf_counter() - start
                self.cpu[_label(sql)] += time.process_time() - c0

        engine._run = timed

    def stop(self) -> tuple[dict[str, float], dict[str, float]]:
        self.engine._run, self.engine.con = self._orig, self._con
        return dict(self.times), dict(self.cpu)


def main(argv: list[str] | None = None) -> None:

    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_overhead", description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--data-dir", default=str(DATA_DIR), help="where the sample data is kept")
    ap.add_argument(
        "--postgres", action="store_true", help="on a private PostgreSQL server (wall time)"
    )
    args = ap.parse_args(argv)

    data_dir = Path(args.data_dir)
    src = ensure_database(args.scale, args.seed, data_dir, memory_limit=args.memory_limit, log=log)
    with contextlib.ExitStack() as stack:
        if args.postgres:
            engine, query, reset, expert = _postgres(src, stack)
        else:
            engine, query, reset, expert = _duckdb(src, args, stack)
        _measure(engine, query, reset, expert, args)


def _duckdb(src: Path, args, stack: contextlib.ExitStack):
    """A scratch copy of the data the runs write their state into; the query
    alone is stored as a temporary table (harness.store)."""
    import duckdb

    from segql.engines.duckdb import wrap

    db = src.parent / f"run_overhead_s{args.scale:g}.duckdb"
    log(f"copying {src.name} to {db.name} (the runs write their state there)")
    scratch = (db, db.with_name(db.name + ".wal"))
    for f in scratch:
        f.unlink(missing_ok=True)
    stack.callback(lambda: [f.unlink(missing_ok=True) for f in scratch])
    shutil.copy(src, db)
    con = duckdb.connect(str(db))
    con.execute(f"SET memory_limit = '{_checked_size(args.memory_limit)}'")
    con.execute("SET enable_progress_bar = false")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    engine = wrap(con, Path(db).parent)
    stack.callback(engine.close)

    def query(sql: str):
        return lambda: harness.store(con, sql)

    def reset() -> None:
        for schema in ("segql", "expert"):
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def expert(sql: str, as_of: dt.datetime, model, first: bool):
        run = expert_first_run if first else expert_second_run
        return lambda: run(con, sql, as_of, model)

    return engine, query, reset, expert


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _expert_parts(model, as_of: dt.datetime, run_id: int):
    """What both of the expert's runs start from: the key, the segments' and
    the label columns (quoted), as_of as a literal, and the run's leading
    columns (run_id, as_of)."""
    key = _q(model.project.key)
    segments = [_q(n) for n in model.selected if model.kind(n) == "segment"]
    labels = [_q(n) for n in model.selected if model.kind(n) != "segment"]
    at = f"TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}'"
    return key, segments, labels, at, f"CAST({run_id} AS BIGINT) AS run_id, {at} AS as_of"


def expert_first_run(con, sql: str, as_of: dt.datetime, model) -> None:
    """The yardstick for a first run: what an expert would write by hand on
    DuckDB for the same state (schema `expert`): the membership stored with
    as_of and run_id, every member's `enter` by one UNPIVOT of the segments'
    columns (and a filter per label column), sizes from one row of COUNT_IFs
    (entered = members, exited = 0: nothing before), the runs row; one
    transaction."""
    key, segments, labels, at, head = _expert_parts(model, as_of, 1)
    bools = ", ".join(segments)
    label_changes = "".join(
        f" UNION ALL SELECT {head}, '{lab[1:-1]}', {key}, 'enter', {lab}"
        f" FROM expert.membership WHERE {lab} IS NOT NULL"
        for lab in labels
    )
    label_sizes = "".join(
        f" UNION ALL SELECT {head}, '{lab[1:-1]}', {lab}, count(*), count(*) / (SELECT"
        f" count(*) FROM expert.membership), count(*), 0 FROM expert.membership"
        f" WHERE {lab} IS NOT NULL GROUP BY {lab}"
        for lab in labels
    )
    counts = ", ".join(f"count_if({c}) AS {c}" for c in segments)
    for stmt in (
        "BEGIN",
        "CREATE SCHEMA expert",
        f"CREATE TABLE expert.membership AS SELECT *, {at} AS as_of, CAST(1 AS BIGINT) AS run_id"
        f" FROM ({sql}) q",
        f"CREATE TABLE expert.changes AS SELECT {head}, name, {key}, 'enter' AS event,"
        f" CAST(NULL AS TEXT) AS label FROM (UNPIVOT (SELECT {key}, {bools} FROM"
        f" expert.membership) ON {bools} INTO NAME name VALUE v) WHERE v{label_changes}",
        f"CREATE TABLE expert.sizes AS SELECT {head}, name, CAST(NULL AS TEXT) AS label,"
        f" members, members / universe AS share, members AS entered, 0 AS exited FROM (UNPIVOT"
        f" (SELECT count(*) AS universe, {counts} FROM expert.membership) ON {bools} INTO NAME"
        f" name VALUE members){label_sizes}",
        f"CREATE TABLE expert.runs AS SELECT {head}, now() AS started_at, now() AS finished_at,"
        f" 'ok' AS status, (SELECT count(*) FROM expert.membership) AS universe",
        "COMMIT",
    ):
        con.execute(stmt)


def expert_second_run(con, sql: str, as_of: dt.datetime, model) -> None:
    """The yardstick for a later run, by hand on DuckDB after
    `expert_first_run`: the new membership stored; one FULL OUTER JOIN with
    the old one giving per segment its flip (null: unchanged, else whether the
    key is in it now), UNPIVOT (which drops the nulls) into `changes`; a label
    column's moves by a join of the two columns; sizes from one row of
    COUNT_IFs and the changes grouped; the runs row; the new membership
    renamed over the old; one transaction."""
    key, segments, labels, at, head = _expert_parts(model, as_of, 2)
    new, old = "expert.membership_new", "expert.membership"
    joined = f"{new} n FULL OUTER JOIN {old} o ON n.{key} = o.{key}"
    flips = ", ".join(
        f"CASE WHEN coalesce(n.{c}, false) <> coalesce(o.{c}, false) THEN coalesce(n.{c}, false)"
        f" END AS {c}"
        for c in segments
    )
    bools = ", ".join(segments)
    moves = "".join(
        f" UNION ALL SELECT {head}, '{lab[1:-1]}', coalesce(n.{key}, o.{key}), '{event}',"
        f" {side}.{lab} FROM {joined} WHERE {side}.{lab} IS NOT NULL"
        f" AND n.{lab} IS DISTINCT FROM o.{lab}"
        for lab in labels
        for event, side in (("enter", "n"), ("exit", "o"))
    )
    counted = (
        "(SELECT name, label, count_if(event = 'enter') AS e, count_if(event = 'exit') AS x"
        " FROM expert.changes WHERE run_id = 2 GROUP BY name, label)"
    )
    label_sizes = "".join(
        f" UNION ALL SELECT {head}, '{lab[1:-1]}', l.{lab}, l.members, l.members / (SELECT"
        f" count(*) FROM {new}), coalesce(c.e, 0), coalesce(c.x, 0) FROM (SELECT {lab}, count(*)"
        f" AS members FROM {new} WHERE {lab} IS NOT NULL GROUP BY {lab}) l LEFT JOIN {counted} c"
        f" ON c.name = '{lab[1:-1]}' AND c.label = l.{lab}"
        for lab in labels
    )
    counts = ", ".join(f"count_if({c}) AS {c}" for c in segments)
    for stmt in (
        "BEGIN",
        f"CREATE TABLE {new} AS SELECT *, {at} AS as_of, CAST(2 AS BIGINT) AS run_id"
        f" FROM ({sql}) q",
        f"INSERT INTO expert.changes SELECT {head}, name, {key}, CASE WHEN now THEN 'enter' ELSE"
        f" 'exit' END, CAST(NULL AS TEXT) FROM (UNPIVOT (SELECT coalesce(n.{key}, o.{key}) AS"
        f" {key}, {flips} FROM {joined}) ON {bools} INTO NAME name VALUE now){moves}",
        f"INSERT INTO expert.sizes SELECT {head}, m.name, NULL, members, members / universe,"
        f" coalesce(c.e, 0), coalesce(c.x, 0) FROM (UNPIVOT (SELECT count(*) AS universe, {counts}"
        f" FROM {new}) ON {bools} INTO NAME name VALUE members) m LEFT JOIN {counted} c ON"
        f" c.name = m.name AND c.label IS NULL{label_sizes}",
        f"INSERT INTO expert.runs SELECT {head}, now(), now(), 'ok', (SELECT count(*) FROM {new})",
        f"DROP TABLE {old}",
        f"ALTER TABLE {new} RENAME TO membership",
        "COMMIT",
    ):
        con.execute(stmt)


def _postgres(src: Path, stack: contextlib.ExitStack):
    """A private PostgreSQL server (tests/engines/postgres.py) holding the
    data's tables; the query alone is stored as a temporary table there."""
    import duckdb

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from engines.postgres import PostgresServer, load_from_duckdb
    from sqlglot import exp, parse_one

    from segql.engines import connect
    from segql.engines.targets import Setting, Span, Target

    server = stack.enter_context(PostgresServer())
    log("loading the data into PostgreSQL")
    duck = duckdb.connect(str(src), read_only=True)
    with server.connect() as pg:
        load_from_duckdb(duck, pg, ["customers", "orders", "web_events"])
        pg.execute("ANALYZE")
    duck.close()
    span = Span("bench", 1, 1, 1, 2)
    target = Target("bench", "postgres", {"dsn": Setting(server.conninfo, span)}, {}, span)
    engine = connect(target, src.parent, read_only=False)
    stack.callback(engine.close)
    out = exp.to_table(harness.OUT)

    def query(sql: str):
        def store() -> None:
            engine.execute(engine.dialect.drop_temp_table(out))
            for stmt in engine.dialect.temp_table(out.copy(), parse_one(sql, read="postgres")):
                engine.execute(stmt)

        return store

    def reset() -> None:
        schema = exp.Table(this=exp.to_identifier("segql", quoted=True))
        engine.execute(exp.Drop(tables=[schema], kind="SCHEMA", exists=True, cascade=True))

    return engine, query, reset, None


def _measure(engine, query, reset, expert, args) -> None:
    from segql.ops import run as rn

    # on PostgreSQL the work is the server's: its wall time is the measure
    on_pg = engine.target.engine == "postgres"
    dialect = engine.dialect.name
    bench = harness.load_project(engine)
    model = bench.model
    a = harness.AS_OF - dt.timedelta(days=7)
    b = harness.AS_OF
    sql_a = harness.membership_sql_at(model, a, dialect)
    sql_b = harness.membership_sql_at(model, b, dialect)
    outputs = len(model.selected)
    log(f"{outputs} outputs; as_of A = {a:%Y-%m-%d}, B = {b:%Y-%m-%d}; repeat {args.repeat}")

    cases = {
        "query A": query(sql_a),
        "first run (A)": lambda: rn.execute(engine, model, a),
        "query B": query(sql_b),
        "second run (B)": lambda: rn.execute(engine, model, b),
    }
    if expert is not None:
        cases["expert's first run (A)"] = expert(sql_a, a, model, True)
        cases["expert's second run (B)"] = expert(sql_b, b, model, False)
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    inside: dict[str, list[float]] = defaultdict(list)  # the query inside a run (measure)
    profile: dict[str, dict[str, float]] = {}
    profile_cpu: dict[str, dict[str, float]] = {}
    for i in range(args.repeat + 1):  # the first is a warm-up
        reset()
        for name, fn in cases.items():
            timer = Timed(engine)
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            w, c = time.perf_counter() - w0, time.process_time() - c0
            walls, cpus = timer.stop()
            if i == args.repeat:
                profile[name] = {**walls, "total": w}
                profile_cpu[name] = {**cpus, "total": c}
            if i > 0:
                wall[name].append(w)
                cpu[name].append(c)
                if name in RUNS:
                    inside[name].append((walls if on_pg else cpus).get(QUERY, 0.0))
        if i > 0:
            log(f"  repeat {i}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in wall.items()))

    med = {n: (statistics.median(wall[n]), statistics.median(cpu[n])) for n in cases}
    log("\n| | wall s | CPU s | overhead beyond the query (wall / CPU) |")
    log("|---|---|---|---|")
    pairs = {"first run (A)": "query A", "second run (B)": "query B"}
    if expert is not None:
        pairs["expert's first run (A)"] = "query A"
        pairs["expert's second run (B)"] = "query B"
    results = {}
    for name in cases:
        w, c = med[name]
        if name in pairs:
            qw, qc = med[pairs[name]]
            over = ((w - qw) / qw, (c - qc) / qc)
            results[name] = {"wall": w, "cpu": c, "overhead_wall": over[0], "overhead_cpu": over[1]}
            log(f"| {name} | {w:.2f} | {c:.2f} | {over[0]:+.0%} / {over[1]:+.0%} |")
        else:
            results[name] = {"wall": w, "cpu": c}
            log(f"| {name} | {w:.2f} | {c:.2f} | |")

    # The query's CPU time alone varies by ±10% from one execution to the next
    # here, as much as the overhead measured: so the overhead is also taken
    # within each run, from its own statements (what the run adds beyond its
    # query, over the query alone in the same repetition), and its query's
    # extra cost for being stored in the state (a permanent table, compressed)
    # beside it.
    measure, unit = (wall, "wall") if on_pg else (cpu, "CPU")
    log(f"\n{unit} beyond the query, by each run's statements (median of the repetitions):")
    log("| | changes, sizes, swap, Python | the query stored (vs a temporary table) | total |")
    log("|---|---|---|---|")
    for name, q in pairs.items():
        if name not in inside:  # the expert's statements are not the engine's: not timed
            continue
        runs_, alone = measure[name], measure[q]
        beyond = [(r - k) / a for r, k, a in zip(runs_, inside[name], alone, strict=True)]
        stored = [(k - a) / a for k, a in zip(inside[name], alone, strict=True)]
        total = [b + s for b, s in zip(beyond, stored, strict=True)]
        results[name] |= {
            "beyond_by_statements": statistics.median(beyond),
            "stored_query": statistics.median(stored),
            "beyond_total_paired": statistics.median(total),
        }
        log(
            f"| {name} | {statistics.median(beyond):+.0%} | {statistics.median(stored):+.0%} "
            f"| {statistics.median(total):+.0%} |"
        )

    if expert is not None:
        # the same rows as segql's runs, or the comparison means nothing
        cols = f'"name", {_q(model.project.key)}, "event", "label"'
        for run_id, ordinal in ((1, "first"), (2, "second")):
            ours_q = f'SELECT {cols} FROM "segql"."changes" WHERE "run_id" = {run_id}'
            theirs_q = f"SELECT {cols} FROM expert.changes WHERE run_id = {run_id}"
            for x, y in ((ours_q, theirs_q), (theirs_q, ours_q)):
                extra = engine.fetch(f"SELECT count(*) FROM ({x} EXCEPT ALL {y}) d")[0][0]
                assert extra == 0, f"the expert's changes differ from segql's: {extra} rows"
            ours, theirs = med[RUNS[run_id - 1]], med[f"expert's {RUNS[run_id - 1]}"]
            ratio = (ours[0] / theirs[0], ours[1] / theirs[1])
            results[f"{ordinal} run / expert's"] = {"wall": ratio[0], "cpu": ratio[1]}
            log(
                f"\n{ordinal} run / the expert's {ordinal} run: "
                f"{ratio[0]:.2f}x wall, {ratio[1]:.2f}x CPU"
            )

    log("\nWhere a run's time goes (last repetition; wall s / CPU s):")
    labels = sorted({k for p in profile.values() for k in p if k != "total"})
    runs = list(RUNS)
    log("| statement | " + " | ".join(runs) + " |")
    log("|---|" + "---|" * len(runs))

    def cell(r: str, label: str) -> str:
        return f"{profile[r].get(label, 0):.2f} / {profile_cpu[r].get(label, 0):.2f}"

    for label in labels:
        log(f"| {label} | " + " | ".join(cell(r, label) for r in runs) + " |")

    def rest(p: dict[str, float]) -> float:
        return p["total"] - sum(v for k, v in p.items() if k != "total")

    log(
        "| the rest (Python: compiling twice, hashing; waiting) | "
        + " | ".join(f"{rest(profile[r]):.2f} / {rest(profile_cpu[r]):.2f}" for r in runs)
        + " |"
    )
    growth = engine.fetch('SELECT "run_id", count(*) FROM "segql"."changes" GROUP BY 1 ORDER BY 1')
    sizes = engine.fetch('SELECT count(*) FROM "segql"."sizes" GROUP BY "run_id"')
    universe = engine.fetch('SELECT "run_id", "universe" FROM "segql"."runs"')
    log(f"\nchanges rows per run: {growth}; sizes rows per run: {[s[0] for s in sizes]}; "
        f"universe: {universe}")  # fmt: skip
    if args.out:
        doc = {
            "engine": engine.target.engine,
            "scale": args.scale,
            "repeat": args.repeat,
            "outputs": outputs,
            "memory_limit": args.memory_limit,
            "results": results,
            "profile_wall": profile,
            "profile_cpu": profile_cpu,
            "changes_rows_per_run": growth,
            "universe": universe,
            "wall": wall,
            "cpu": cpu,
            "query_inside_run": inside,
        }
        Path(args.out).write_text(json.dumps(doc, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
