"""Two versions of the compiler, side by side: `python -m benchmarks.versions
--before REV [--scale 1] [--repeat 9]`.

The benchmark project's membership query as compiled by commit REV (its own
code, in a temporary copy from `git archive`) and by the working tree, both
checked to give the same table, then timed interleaved with the floor in one
process (CPU seconds, medians): the numbers of docs/performance.md's
"Compiler changes, side by side".
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from . import harness
from .data import ensure_database

ROOT = Path(__file__).resolve().parent.parent

# run inside REV's copy: its own harness compiles its own membership query
_COMPILE = """
import sys, duckdb
from benchmarks import harness
con = duckdb.connect(sys.argv[1], read_only=True)
sys.stdout.write(harness.membership_sql(harness.load_project(con).model))
"""


def compiled_by(rev: str, database: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, "-c", _COMPILE, str(database)],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return out.strip().rstrip(";")  # older versions ended the statement


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.versions", description=__doc__)
    ap.add_argument("--before", required=True, help="the commit to compare with")
    ap.add_argument("--scale", type=float, default=1)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args(argv)
    path = ensure_database(args.scale)
    con = duckdb.connect(str(path), read_only=True)
    model = harness.load_project(con).model
    sqls = {
        "floor": harness.floor_sql(model),
        "before": compiled_by(args.before, path),
        "after": harness.membership_sql(model),
    }
    harness.store(con, sqls["before"], "__before")
    harness.store(con, sqls["after"], "__after")
    differ = con.execute(
        "SELECT count(*) FROM ((FROM __before EXCEPT ALL FROM __after) "
        "UNION ALL (FROM __after EXCEPT ALL FROM __before))"
    ).fetchone()
    if differ != (0,):
        raise SystemExit(f"the two versions give different tables ({differ[0]} rows differ)")
    cpu: dict[str, list[float]] = {}
    cases = {name: (lambda s=sql: harness.store(con, s)) for name, sql in sqls.items()}
    harness.measure(cases, args.repeat, cpu=cpu, log=print)
    med = {name: harness.median(ts) for name, ts in cpu.items()}
    print(f"\nscale {args.scale:g}, CPU s (medians of {args.repeat}), before = {args.before}")
    print("| scale | floor | before | after | after ÷ before | ratio to the floor |")
    print("|---:|---:|---:|---:|---:|---|")
    f, b, a = med["floor"], med["before"], med["after"]
    ratios = f"**{a / b:.2f}** | {b / f:.1f}× → {a / f:.1f}×"
    print(f"| {args.scale:g} | {f:.3f} | {b:.3f} | {a:.3f} | {ratios} |")


if __name__ == "__main__":
    main()
