"""median() against a hand-written PERCENTILE_DISC(0.5) WITHIN GROUP, on DuckDB
and PostgreSQL (docs/performance.md, "Order statistics").

PERCENTILE_DISC(0.5) is the lower median, segql's median: the smallest value
whose cumulative share reaches 0.5, so both queries give the same members
(checked before timing). The hand-written query has the same universe,
as_of filter and window; segql's is its compiled membership query.

    python -m benchmarks.order_stats --scale 0.1 --repeat 5 [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.data import ensure_database
from benchmarks.harness import AS_OF, PROJECT_DIR, median
from segql import api

CONDITION = "median(orders.amount, last 365 days) > 40"


def segql_sql(con, dialect: str) -> str:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "m.seg").write_text(f"segment m = {CONDITION}\n")
        model = api.load([str(Path(d) / "m.seg")], str(PROJECT_DIR / "segql.yml"), con=con)
        return api.compile_model(model, dialect, AS_OF, segment="m").sql()


def hand_sql(as_of: dt.datetime) -> str:
    start = as_of - dt.timedelta(days=365)
    return f"""
WITH med AS (
  SELECT customer_id, PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY amount) AS m
  FROM orders
  WHERE customer_id IS NOT NULL AND amount IS NOT NULL
    AND ordered_at <= TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}'
    AND ordered_at > TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}'
  GROUP BY customer_id
)
SELECT c.customer_id FROM customers c JOIN med ON med.customer_id = c.customer_id
WHERE c.customer_id IS NOT NULL AND c.is_test = false AND med.m > 40
ORDER BY c.customer_id"""


def timed(run, repeat: int) -> tuple[float, list[float]]:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return median(times), times


def bench_duckdb(path: Path, repeat: int) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET threads = 1")  # a shared machine: one core, steadier numbers
    ours, theirs = segql_sql(con, "duckdb"), hand_sql(AS_OF)
    a = con.execute(ours).fetchall()
    b = con.execute(theirs).fetchall()
    assert a == b, f"different members: {len(a)} vs {len(b)}"

    def store(sql):
        return lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE out AS {sql}")

    out = {"members": len(a)}
    for name, sql in (("segql median", ours), ("PERCENTILE_DISC", theirs)):
        out[name], _ = timed(store(sql), repeat)
    return out


def bench_postgres(path: Path, repeat: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from engines.postgres import PostgresServer, load_from_duckdb

    duck = duckdb.connect(str(path), read_only=True)
    ours, theirs = segql_sql(duck, "postgres"), hand_sql(AS_OF)
    with PostgresServer() as server, server.connect() as pg:
        load_from_duckdb(duck, pg, ["customers", "orders"])
        pg.execute("ANALYZE")
        a = pg.execute(ours).fetchall()
        b = pg.execute(theirs).fetchall()
        assert a == b, f"different members: {len(a)} vs {len(b)}"

        def store(sql):
            def run():
                pg.execute("DROP TABLE IF EXISTS out")
                pg.execute(f"CREATE TEMP TABLE out AS {sql}")

            return run

        out = {"members": len(a)}
        for name, sql in (("segql median", ours), ("PERCENTILE_DISC", theirs)):
            out[name], _ = timed(store(sql), repeat)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    kw = {"data_dir": args.data_dir} if args.data_dir else {}
    path = ensure_database(args.scale, **kw)
    results = {"duckdb": bench_duckdb(path, args.repeat)}
    if args.postgres:
        results["postgres"] = bench_postgres(path, args.repeat)
    for engine, r in results.items():
        cells = ", ".join(f"{k} {v:.3f} s" for k, v in r.items() if k != "members")
        print(f"scale {args.scale:g} {engine}: {r['members']} members; {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
