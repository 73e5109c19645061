"""Compile time of generated projects of N segments (parse + resolve + plan + generate),
against sqlglot's own re-parse and pretty-print of the SQL segql generated.

The generated projects look like real ones: windowed counts and sums with filters,
profile conditions, traits shared by many segments, ranks, segments built from other
segments, and one priority segmentation per 100 segments.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import sqlglot

from segql import api

from .harness import AS_OF, median

_NAMES = ("page_view", "view", "search", "pricing_view", "add_to_cart", "checkout")
_COUNTRIES = ("US", "CA", "GB", "DE", "FR", "NL", "ES", "IT", "AU", "BR")
N_TRAITS = 50


def segment_text(i: int) -> str:
    """The i-th generated segment (deterministic)."""
    days = 1 + (i * 7) % 365
    match i % 10:
        case 0:
            return f"count(orders where amount > {i % 97}, last {days} days) >= {1 + i % 4}"
        case 1:
            return f"sum(orders.amount, last {days} days) > {100 + i % 1000}"
        case 2:
            sku = f"SKU-{1 + i % 200:04d}"
            return (
                f'count(events where name = "view" and sku = "{sku}", last {1 + i % 60} days) >= 2'
            )
        case 3:
            return (
                f'did(events where name = "{_NAMES[i % 6]}", last {1 + i % 90} days) '
                f'and country = "{_COUNTRIES[i % 10]}"'
            )
        case 4 if i >= 10:
            return f"s{i - 1} and not s{i - 7}"
        case 5:
            return f"t{i % N_TRAITS} > {i % 500}"
        case 6:
            return f"percentile(t{i % N_TRAITS}) > {50 + i % 50}%"
        case 7:
            return (
                f"count_distinct(date(events.occurred_at), last {1 + i % 28} days) >= 3 "
                f"and age between {18 + i % 20} and {40 + i % 30}"
            )
        case 8:
            return f"days_since(last(orders.ordered_at)) > {i % 400} and consent_marketing = true"
        case _:
            return (
                f'max(orders.quantity where sku = "SKU-{1 + i % 200:04d}", '
                f"{i % 28 + 1} to {i % 28 + 60} days ago) >= 2"
            )


def write_project(root: Path, n: int, template_yml: Path) -> list[str]:
    """A project folder with n segments; returns the PATH arguments to compile."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "segql.yml").write_text(template_yml.read_text(encoding="utf-8"), encoding="utf-8")
    traits = [
        f"trait t{j} = sum(orders.amount * orders.quantity, last {10 + j} days)"
        for j in range(N_TRAITS)
    ]
    (root / "traits.seg").write_text("\n".join(traits) + "\n", encoding="utf-8")
    lines = [f"segment s{i} = {segment_text(i)}" for i in range(n)]
    for g in range(0, n - 5, 100):
        rules = "\n".join(f"  g{g}_r{r} = s{g + r}" for r in range(5))
        lines.append(f"segmentation g{g} by priority {{\n{rules}\n  else g{g}_other\n}}")
    (root / "segments.seg").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [str(root / "segments.seg")]


def compile_once(paths: list[str], project: str, con) -> tuple[str, dict[str, float]]:
    """Compile a project the way `segql compile` does; wall and CPU seconds (compiling is
    single-threaded Python: on a shared machine its CPU time is the steadier number)."""
    cpu, start = time.process_time(), time.perf_counter()
    model = api.load(paths, project, con=con)
    loaded = time.perf_counter()
    sql = api.compile_model(model, "duckdb", AS_OF).sql()
    done = time.perf_counter()
    return sql, {
        "load": loaded - start,
        "generate": done - loaded,
        "total": done - start,
        "cpu": time.process_time() - cpu,
    }


def sqlglot_roundtrip(sql: str, collector: bool = True) -> tuple[float, float]:
    """sqlglot's own parse and pretty-print of the SQL: (wall, CPU) seconds. segql's
    API turns Python's cycle collector off while it compiles; `collector=False`
    times sqlglot that way too (like for like)."""
    was = gc.isenabled()
    if not collector:
        gc.disable()
    try:
        cpu, start = time.process_time(), time.perf_counter()
        sqlglot.parse_one(sql, read="duckdb").sql(dialect="duckdb", pretty=True)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        if was:
            gc.enable()


def bench(
    sizes: list[int], workdir: Path, template_yml: Path, con, repeat: int = 3, log=print
) -> list[dict]:
    rows = []
    for n in sizes:
        paths = write_project(workdir / f"gen_{n}", n, template_yml)
        project = str(workdir / f"gen_{n}" / "segql.yml")
        reps = repeat if n <= 1000 else max(1, repeat // 2)
        sql, _ = compile_once(paths, project, con)  # warm-up (grammar, imports)
        runs = [compile_once(paths, project, con)[1] for _ in range(reps)]
        glot = [sqlglot_roundtrip(sql) for _ in range(reps)]
        glot_off = [sqlglot_roundtrip(sql, collector=False)[1] for _ in range(reps)]
        row = {
            "segments": n,
            "sql_kb": len(sql) / 1024,
            "load_s": median([r["load"] for r in runs]),
            "generate_s": median([r["generate"] for r in runs]),
            "segql_s": median([r["total"] for r in runs]),
            "segql_cpu_s": median([r["cpu"] for r in runs]),
            "sqlglot_s": median([g[0] for g in glot]),
            "sqlglot_cpu_s": median([g[1] for g in glot]),
            "sqlglot_no_collector_cpu_s": median(glot_off),
        }
        row["ratio"] = row["segql_cpu_s"] / row["sqlglot_cpu_s"]
        row["ratio_no_collector"] = row["segql_cpu_s"] / row["sqlglot_no_collector_cpu_s"]
        row["us_per_segment"] = row["segql_cpu_s"] / n * 1e6
        log(
            f"  compile {n:>6} segments: segql {row['segql_s']:.3f}s wall, "
            f"{row['segql_cpu_s']:.3f}s cpu (load {row['load_s']:.3f} + generate "
            f"{row['generate_s']:.3f}); sqlglot re-parse+print {row['sqlglot_cpu_s']:.3f}s cpu "
            f"({row['sqlglot_no_collector_cpu_s']:.3f}s with the cycle collector off, as segql); "
            f"ratio (cpu) {row['ratio']:.2f}x ({row['ratio_no_collector']:.2f}x like for like)"
        )
        rows.append(row)
    return rows
