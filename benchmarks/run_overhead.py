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
import datetime as dt
import json
import shutil
import statistics
import time
from collections import defaultdict
from pathlib import Path

from . import harness
from .data import DATA_DIR, _checked_size, ensure_database


def log(msg: str = "") -> None:
    print(msg, flush=True)


def _label(sql: str) -> str:
    head = " ".join(sql.split())[:200]
    if "__segql_new" in head.split(" AS ", 1)[0] and head.startswith("CREATE"):
        return "membership query (temp table)"
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
    import duckdb

    from segql.engines.duckdb import wrap
    from segql.ops import run as rn

    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_overhead", description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)

    src = ensure_database(args.scale, args.seed, memory_limit=args.memory_limit, log=log)
    db = DATA_DIR / f"run_overhead_s{args.scale:g}.duckdb"
    log(f"copying {src.name} to {db.name} (the runs write their state there)")
    for f in (db, db.with_name(db.name + ".wal")):
        f.unlink(missing_ok=True)
    shutil.copy(src, db)

    con = duckdb.connect(str(db))
    con.execute(f"SET memory_limit = '{_checked_size(args.memory_limit)}'")
    con.execute("SET enable_progress_bar = false")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    engine = wrap(con, Path(db).parent)
    bench = harness.load_project(engine)
    model = bench.model
    a = harness.AS_OF - dt.timedelta(days=7)
    b = harness.AS_OF
    sql_a = harness.membership_sql_at(model, a)
    sql_b = harness.membership_sql_at(model, b)
    outputs = len(model.selected)
    log(f"{outputs} outputs; as_of A = {a:%Y-%m-%d}, B = {b:%Y-%m-%d}; repeat {args.repeat}")

    def reset() -> None:
        con.execute('DROP SCHEMA IF EXISTS "segql" CASCADE')

    def query(sql: str):
        return lambda: harness.store(con, sql)

    cases = {
        "query A": query(sql_a),
        "first run (A)": lambda: rn.execute(engine, model, a),
        "query B": query(sql_b),
        "second run (B)": lambda: rn.execute(engine, model, b),
    }
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    profile: dict[str, dict[str, float]] = {}
    profile_cpu: dict[str, dict[str, float]] = {}
    for i in range(args.repeat + 1):  # the first is a warm-up
        reset()
        for name, fn in cases.items():
            timer = Timed(engine) if i == args.repeat else None
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            w, c = time.perf_counter() - w0, time.process_time() - c0
            if timer is not None:
                walls, cpus = timer.stop()
                profile[name] = {**walls, "total": w}
                profile_cpu[name] = {**cpus, "total": c}
            if i > 0:
                wall[name].append(w)
                cpu[name].append(c)
        if i > 0:
            log(f"  repeat {i}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in wall.items()))

    med = {n: (statistics.median(wall[n]), statistics.median(cpu[n])) for n in cases}
    log("\n| | wall s | CPU s | overhead beyond the query (wall / CPU) |")
    log("|---|---|---|---|")
    pairs = {"first run (A)": "query A", "second run (B)": "query B"}
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

    log("\nWhere a run's time goes (last repetition; wall s / CPU s):")
    labels = sorted({k for p in profile.values() for k in p if k != "total"})
    runs = [n for n in cases if n in pairs]
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
    growth = con.execute(
        'SELECT "run_id", count(*) FROM "segql"."changes" GROUP BY 1 ORDER BY 1'
    ).fetchall()
    sizes = con.execute('SELECT count(*) FROM "segql"."sizes" GROUP BY "run_id"').fetchall()
    universe = con.execute('SELECT "run_id", "universe" FROM "segql"."runs"').fetchall()
    log(f"\nchanges rows per run: {growth}; sizes rows per run: {[s[0] for s in sizes]}; "
        f"universe: {universe}")  # fmt: skip
    engine.close()
    for f in (db, db.with_name(db.name + ".wal")):
        f.unlink(missing_ok=True)
    if args.out:
        doc = {
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
        }
        Path(args.out).write_text(json.dumps(doc, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
