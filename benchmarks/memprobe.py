"""Peak memory of one query, measured in a fresh process.

    python -m benchmarks.memprobe DB SQLFILE --memory-limit 4GB [--threads 2]
    python -m benchmarks.memprobe DB --pandas-rfm

Prints one JSON line: seconds, the process's peak resident set (VmHWM, which
includes Python and DuckDB themselves: compare with the `SELECT 1` baseline), and
DuckDB's own count of the memory it holds right after the query.
A fresh process per measurement, because ru_maxrss only ever grows.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    """Peak resident set of this process. On Linux, VmHWM of /proc/self/status: a
    process started by a big one inherits the parent's ru_maxrss through fork+exec,
    but VmHWM belongs to the new address space."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memprobe")
    ap.add_argument("db")
    ap.add_argument("sqlfile", nargs="?")
    ap.add_argument("--memory-limit", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--pandas-rfm", action="store_true")
    args = ap.parse_args(argv)

    import duckdb

    con = duckdb.connect(args.db, read_only=True)
    con.execute("SET enable_progress_bar = false")
    if args.memory_limit:
        from .data import _checked_size

        con.execute(f"SET memory_limit = '{_checked_size(args.memory_limit)}'")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    base = peak_rss_mb()
    start = time.perf_counter()
    if args.pandas_rfm:
        from . import pandas_rfm
        from .harness import AS_OF

        customers, orders = pandas_rfm.load_frames(con)
        pandas_rfm.rfm(customers, orders, AS_OF)
        duck_mb = None
    else:
        with open(args.sqlfile, encoding="utf-8") as f:
            sql = f.read()
        con.execute(f"CREATE OR REPLACE TEMP TABLE __probe AS {sql}")
        duck_mb = con.execute(
            "SELECT sum(memory_usage_bytes) / 1048576 FROM duckdb_memory()"
        ).fetchone()[0]
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": peak_rss_mb(),
                "rss_before_mb": base,
                "duckdb_held_mb": duck_mb,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
