"""The queries the benchmark compares and how it times them.

- `membership_sql`: segql's one membership query for every selected segment and
  segmentation (what `segql compile PATH` prints).
- `floor_sql`: the floor — the same universe, and one grouped scan per source with a
  single aggregate (COUNT(*)) each, joined to it. No segment query can read less.
  Built as a sqlglot tree with the same universe CTE, time normalization and as_of
  filter segql uses, so the only difference is the work per row.
- `per_segment_sqls`: one query per segment / segmentation (`segql compile
  --segment N`), the way hand-written SQL usually goes.

Every query is timed as `CREATE OR REPLACE TEMP TABLE … AS <query>`: the engine
computes and stores every output column, and no Python row conversion is timed
(fetching 100k rows × 50 columns into Python tuples would dominate and would hide
differences that matter). DuckDB could prune unused columns from `SELECT count(*)`
over a query; a stored table keeps them all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sqlglot import exp

from segql import api
from segql.errors import SegqlError, SegqlErrors
from segql.ops.sample import SAMPLE_AS_OF
from segql.semantic.model import Model
from segql.sql.dialects import get_dialect

PROJECT_DIR = Path(__file__).resolve().parent / "project"
SEGMENTS = PROJECT_DIR / "segments"
BEHAVIORAL = PROJECT_DIR / "behavioral"
AS_OF: dt.datetime = SAMPLE_AS_OF
OUT = "__bench_out"


@dataclasses.dataclass
class BenchProject:
    model: Model  # selected: the segments and segmentations the benchmark runs
    skipped: dict[str, str]  # definition -> why it was left out


def load_project(con, project_dir: Path = PROJECT_DIR) -> BenchProject:
    """Load the benchmark project. Behavioral segments (sliding windows, sequences)
    whose compilation raises "not supported yet" are left out, with the reason."""
    segments = project_dir / "segments"
    behavioral = project_dir / "behavioral"
    paths = [str(segments)] + ([str(behavioral)] if behavioral.is_dir() else [])
    model = api.load(paths, str(project_dir / "segql.yml"), con=con)
    skipped: dict[str, str] = {}
    keep = []
    behavioral_files = (
        {str(p.resolve()) for p in behavioral.glob("*")} if behavioral.is_dir() else set()
    )
    for name in model.selected:
        d = model.definitions[name]
        if d.span.file and str(Path(d.span.file).resolve()) in behavioral_files:
            try:
                kind = (
                    {"segment": name} if model.kind(name) == "segment" else {"segmentation": name}
                )
                api.compile_model(model, "duckdb", AS_OF, **kind).sql()
            except (SegqlError, SegqlErrors) as e:
                if "not supported yet" not in str(e):
                    raise
                skipped[name] = _first_line(e)
                continue
        keep.append(name)
    return BenchProject(dataclasses.replace(model, selected=tuple(keep)), skipped)


def _first_line(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if errors:
        e = errors[0]
    return getattr(e, "message", str(e)).splitlines()[0]


# ------------------------------------------------------------------ the queries


def membership_sql(model: Model, dialect: str = "duckdb") -> str:
    return api.compile_model(model, dialect, AS_OF).sql()


def membership_sql_at(model: Model, as_of: dt.datetime, dialect: str = "duckdb") -> str:
    return api.compile_model(model, dialect, as_of).sql()


def per_segment_sqls(model: Model, dialect: str = "duckdb") -> dict[str, str]:
    out = {}
    for name in model.selected:
        kind = model.kind(name)
        arg = {"segment": name} if kind == "segment" else {"segmentation": name}
        out[name] = api.compile_model(model, dialect, AS_OF, **arg).sql()
    return out


def segmentation_sql(model: Model, name: str, dialect: str = "duckdb") -> str:
    return api.compile_model(model, dialect, AS_OF, segmentation=name).sql()


def floor_sql(model: Model, dialect: str = "duckdb") -> str:
    """universe + one grouped scan per source with a single COUNT(*) each."""
    from segql.plan.logical import plan
    from segql.sql.expressions import col, ident, table_expr
    from segql.sql.query import Generator
    from segql.sql.windows import FixedClock

    d = get_dialect(dialect)
    project = model.project
    gen = Generator(plan(model, (), "membership"), d, FixedClock(AS_OF, project.timezone, d))
    key = col(project.key)
    ctes: list[tuple[str, exp.Expression]] = []
    if project.profiles is not None:
        ctes.append(("universe", gen.universe_cte()))
    for name, src in project.sources.items():
        scan = (
            exp.select(
                exp.alias_(key.copy(), gen.key, quoted=True),
                exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
            )
            .from_(table_expr(src.table))
            .where(
                exp.and_(
                    exp.not_(exp.Is(this=key.copy(), expression=exp.null())),
                    exp.LTE(this=gen.scans.row_time(name), expression=gen.clock.as_of()),
                )
            )
            .group_by(key.copy())
        )
        ctes.append((f"src_{name}", scan))
    if project.profiles is None:  # every key seen in any source
        union: exp.Expression = exp.select(col(gen.key)).from_(
            ident(f"src_{next(iter(project.sources))}")
        )
        for name in list(project.sources)[1:]:
            union = exp.union(
                union, exp.select(col(gen.key)).from_(ident(f"src_{name}")), distinct=True
            )
        ctes.append(("universe", union))
    q = exp.select(exp.alias_(col(gen.key, "universe"), project.key, quoted=True)).from_(
        ident("universe")
    )
    for name in project.sources:
        q = q.select(exp.alias_(col("n", f"src_{name}"), f"n_{name}", quoted=True), copy=False)
        q = q.join(
            exp.Table(this=ident(f"src_{name}")),
            join_type="LEFT",
            copy=False,
            on=exp.EQ(this=col(gen.key, "universe"), expression=col(gen.key, f"src_{name}")),
        )
    q = q.order_by(col(project.key))
    for name, cte in ctes:
        q = q.with_(ident(name), as_=cte, copy=False)
    return q.sql(dialect=d.sqlglot, pretty=True, identify=True) + "\n"


# ------------------------------------------------------------------ running and timing


def store(con, sql: str, table: str = OUT) -> None:
    """Run a query to completion, keeping every output column (see module doc)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")


def run_all(con, sqls: dict[str, str]) -> None:
    for sql in sqls.values():
        store(con, sql)


def measure(
    cases: dict[str, Callable[[], object]],
    repeat: int,
    warmup: int = 1,
    log=None,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Wall seconds per run of each case. Runs are interleaved (case A, B, C, A, B, C…)
    so that drift on a shared machine hits every case alike; compare medians.
    `cpu`, when given, receives the CPU seconds of each run (this process, DuckDB's
    threads included): steadier than wall time when other work shares the machine."""
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(repeat):
        for name, fn in cases.items():
            cpu_start, start = time.process_time(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            if cpu is not None:
                cpu.setdefault(name, []).append(time.process_time() - cpu_start)
        if log:
            log(
                f"  repeat {i + 1}/{repeat}: "
                + ", ".join(f"{n} {t[-1]:.3f}s" for n, t in times.items())
            )
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


# ------------------------------------------------------------------ correctness of the comparison


def check_membership_matches_per_segment(
    con, model: Model, membership: str, per_segment: dict[str, str]
) -> list[str]:
    """The membership query and the per-segment queries give the same answer:
    per segment, the members; per segmentation, every entity's label. Returns the
    names that differ (empty when all agree)."""
    store(con, membership, "__bench_membership")
    key = model.project.key
    bad = []
    for name, sql in per_segment.items():
        store(con, sql, "__bench_one")
        if model.kind(name) == "segment":
            diff = f"""
                SELECT count(*) FROM (
                  (SELECT "{key}" FROM __bench_membership WHERE "{name}"
                   EXCEPT SELECT "{key}" FROM __bench_one)
                  UNION ALL
                  (SELECT "{key}" FROM __bench_one
                   EXCEPT SELECT "{key}" FROM __bench_membership WHERE "{name}"))"""
        else:
            diff = f"""
                SELECT count(*) FROM __bench_membership m
                FULL JOIN __bench_one o ON m."{key}" = o."{key}"
                WHERE m."{key}" IS NULL OR o."{key}" IS NULL
                   OR m."{name}" IS DISTINCT FROM o."{name}" """
        if con.execute(diff).fetchone()[0] != 0:
            bad.append(name)
    con.execute("DROP TABLE IF EXISTS __bench_one")
    return bad
