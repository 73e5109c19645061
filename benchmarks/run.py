"""Run the segql benchmarks: `python -m benchmarks.run --scale 1` (docs/performance.md).

Everything is measured side by side in one process and reported as ratios (absolute
times on a shared machine are noise): segql's one membership query against the floor,
against one query per segment, against pandas; compile time against sqlglot; and, with
several scales (`--scale 1,10`), time per million events and peak memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import compile_bench, harness
from .data import DATA_DIR, _checked_size, ensure_database, row_counts

ROOT = Path(__file__).resolve().parent.parent


def log(msg: str = "") -> None:
    print(msg, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--scale",
        default="1",
        help="scale factor(s), comma-separated: 1 ≈ 100k customers, 1M orders, "
        "5M events; 10 takes minutes (default 1)",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per query (median)")
    ap.add_argument(
        "--memory-limit", default="4GB", help="DuckDB memory_limit for every query (default 4GB)"
    )
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")
    ap.add_argument(
        "--compile-sizes",
        default="100,1000,10000",
        help="project sizes for the compile benchmark ('' to skip)",
    )
    ap.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to skip: per-segment,pandas,rfm-package,memory,check,"
        "compile, or windowed (leave the sliding-window and sequence segments out)",
    )
    ap.add_argument(
        "--check-max-scale",
        type=float,
        default=1.0,
        help="check membership against the per-segment queries up to this scale (default 1)",
    )
    ap.add_argument("--data-dir", default=str(DATA_DIR))
    ap.add_argument(
        "--out", default=None, help="results JSON (default: <data-dir>/results-<scales>.json)"
    )
    args = ap.parse_args(argv)
    args.scales = [float(s) for s in args.scale.split(",") if s.strip()]
    args.sizes = [int(s) for s in args.compile_sizes.split(",") if s.strip()]
    args.skipped = {s.strip() for s in args.skip.split(",") if s.strip()}
    _checked_size(args.memory_limit)
    return args


def connect(path: Path, args):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{_checked_size(args.memory_limit)}'")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    return con


def machine() -> dict:
    import duckdb
    import sqlglot

    info = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "duckdb": duckdb.__version__,
        "sqlglot": sqlglot.__version__,
    }
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        info["ram_gb"] = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import pandas

        info["pandas"] = pandas.__version__
    except ImportError:
        pass
    return info


def probe(db: Path, args, sql: str | None = None, pandas_rfm: bool = False) -> dict | None:
    """Peak memory of one query in a fresh process (benchmarks/memprobe.py)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(sql or "SELECT 1")
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.memprobe",
        str(db),
        f.name,
        "--memory-limit",
        args.memory_limit,
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if pandas_rfm:
        cmd += ["--pandas-rfm"]
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            log(f"  memprobe failed: {out.stderr.strip().splitlines()[-1:]}")
            return None
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        os.unlink(f.name)


def bench_scale(scale: float, args) -> tuple[dict, object]:
    db = ensure_database(
        scale, args.seed, Path(args.data_dir), memory_limit=args.memory_limit, log=log
    )
    con = connect(db, args)
    counts = row_counts(con)
    log(
        f"scale {scale:g}: {counts['customers']:,} customers, {counts['orders']:,} orders, "
        f"{counts['web_events']:,} events"
    )
    bp = harness.load_project(con)
    model = bp.model
    for name, why in bp.skipped.items():
        log(f"  left out (not supported yet): {name}: {why}")
    segs = [n for n in model.selected if model.kind(n) == "segment"]
    segmentations = [n for n in model.selected if model.kind(n) == "segmentation"]
    windowed = [
        n
        for n in model.selected
        if str(harness.BEHAVIORAL) in str(Path(model.definitions[n].span.file).resolve())
    ]
    if "windowed" in args.skipped and windowed:
        log(f"  leaving out the windowed segments (--skip windowed): {', '.join(windowed)}")
        model = dataclasses.replace(
            model, selected=tuple(n for n in model.selected if n not in windowed)
        )
        segs = [n for n in segs if n not in windowed]
        windowed = []
    log(
        f"  project: {len(segs)} segments ({len(windowed)} windowed: sliding/sequences), "
        f"{len(segmentations)} segmentations"
    )
    membership = harness.membership_sql(model)
    floor = harness.floor_sql(model)
    core_model = dataclasses.replace(
        model, selected=tuple(n for n in model.selected if n not in windowed)
    )
    core = harness.membership_sql(core_model)
    rfm_sql = harness.segmentation_sql(model, "rfm")
    per_segment = harness.per_segment_sqls(model)
    res: dict = {
        "scale": scale,
        "rows": counts,
        "segments": len(segs),
        "segmentations": len(segmentations),
        "windowed_segments": windowed,
        "left_out": bp.skipped,
    }

    if "check" not in args.skipped and scale > args.check_max_scale:
        log(f"  check skipped above scale {args.check_max_scale:g} (--check-max-scale)")
    elif "check" not in args.skipped:
        start = time.perf_counter()
        bad = harness.check_membership_matches_per_segment(con, model, membership, per_segment)
        res["check_mismatches"] = bad
        log(
            f"  check: membership query vs {len(per_segment)} per-segment queries: "
            + ("all agree" if not bad else f"DIFFER for {bad}")
            + f" ({time.perf_counter() - start:.1f}s)"
        )

    log(
        f"  timing floor / segql membership / segql without windowed / segql rfm only "
        f"({args.repeat} runs each, interleaved, after a warm-up)"
    )
    cases = {"floor": floor, "segql": membership, "segql_core": core, "segql_rfm": rfm_sql}
    if not windowed:
        del cases["segql_core"]
    cpu: dict[str, list[float]] = {}
    times = harness.measure(
        {k: (lambda s=s: harness.store(con, s)) for k, s in cases.items()},
        args.repeat,
        log=log,
        cpu=cpu,
    )
    t = {k: harness.median(v) for k, v in times.items()}
    res["times"] = {k: v for k, v in times.items()}
    res["median_s"] = dict(t)

    if "per-segment" not in args.skipped:
        reps = max(1, min(3, args.repeat))
        log(f"  timing {len(per_segment)} per-segment queries run one after another ({reps} runs)")
        ps = harness.measure(
            {"per_segment": lambda: harness.run_all(con, per_segment)},
            reps,
            warmup=0,
            log=log,
            cpu=cpu,
        )
        t["per_segment"] = harness.median(ps["per_segment"])
        res["median_s"]["per_segment"] = t["per_segment"]
        core_ps = {n: s for n, s in per_segment.items() if n not in windowed}
        if windowed:
            ps = harness.measure(
                {"per_segment_core": lambda: harness.run_all(con, core_ps)},
                reps,
                warmup=0,
                cpu=cpu,
            )
            t["per_segment_core"] = harness.median(ps["per_segment_core"])
            res["median_s"]["per_segment_core"] = t["per_segment_core"]

    if "pandas" not in args.skipped:
        res.update(bench_pandas(con, model, rfm_sql, args, t, cpu))

    if "memory" not in args.skipped:
        log(f"  peak memory (fresh process each, memory_limit {args.memory_limit})")
        mem = {
            "baseline": probe(db, args),
            "floor": probe(db, args, floor),
            "segql": probe(db, args, membership),
        }
        if windowed:
            mem["segql_core"] = probe(db, args, core)
        if "pandas" in t:
            mem["pandas_rfm"] = probe(db, args, pandas_rfm=True)
        res["memory"] = mem
        for k, v in mem.items():
            if v:
                log(f"    {k:<12} peak RSS {v['peak_rss_mb']:>8.0f} MB   ({v['seconds']:.2f}s)")
    res["median_s"] = {k: v for k, v in t.items()}
    res["median_cpu_s"] = {k: harness.median(v) for k, v in cpu.items()}
    return res, con


def bench_pandas(con, model, rfm_sql: str, args, t: dict, cpu: dict) -> dict:
    out: dict = {}
    try:
        import pandas  # noqa: F401
    except ImportError:
        log("  pandas not installed: pip install -e '.[bench]' (skipping the pandas comparison)")
        return out
    from . import pandas_rfm

    reps = max(1, min(3, args.repeat))
    frames: dict = {}

    def load():
        frames["c"], frames["o"] = pandas_rfm.load_frames(con)

    def compute():
        frames["df"] = pandas_rfm.rfm(frames["c"], frames["o"], harness.AS_OF)

    log(f"  timing pandas RFM ({reps} runs): load from DuckDB, then groupby/agg/rank/apply")
    load()
    pt = harness.measure({"pandas_load": load, "pandas": compute}, reps, warmup=0, log=log, cpu=cpu)
    t["pandas_load"] = harness.median(pt["pandas_load"])
    t["pandas"] = harness.median(pt["pandas"])
    # same labels as segql's rfm segmentation?
    harness.store(con, rfm_sql, "__bench_rfm")
    key = model.project.key
    seg = con.execute(f'SELECT "{key}", "rfm" FROM __bench_rfm').fetchall()
    mine = frames["df"]["rfm"].to_dict()
    agree = sum(1 for k, label in seg if mine.get(k) == label)
    out["pandas_agreement"] = {
        "entities": len(seg),
        "same_label": agree,
        "pandas_entities": len(mine),
    }
    log(
        f"    pandas labels equal segql's for {agree:,} of {len(seg):,} customers"
        + ("" if agree == len(seg) == len(mine) else "  <-- MISMATCH")
    )
    if "rfm-package" not in args.skipped:
        out["rfm_package"] = bench_rfm_package(frames["o"], t)
    return out


def bench_rfm_package(orders, t: dict) -> dict:
    from . import pandas_rfm

    try:
        import rfm  # noqa: F401
    except ImportError:
        log("    PyPI rfm package: not installed (pip install rfm)")
        return {"status": "not installed"}
    start = time.perf_counter()
    try:
        pandas_rfm.run_rfm_package(orders.dropna(subset=["amount"]), harness.AS_OF)
    except Exception as e:  # a third-party package: report whatever it raises
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        log(f"    PyPI rfm package: fails: {msg}")
        return {"status": "fails", "error": msg}
    seconds = time.perf_counter() - start
    t["rfm_package"] = seconds
    log(f"    PyPI rfm package: {seconds:.2f}s (one run)")
    return {"status": "works", "seconds": seconds}


def ratios(t: dict) -> dict:
    r = {}

    def ratio(name, a, b):
        if a in t and b in t and t[b] > 0:
            r[name] = t[a] / t[b]

    ratio("segql_vs_floor", "segql", "floor")
    ratio("segql_core_vs_floor", "segql_core", "floor")
    ratio("per_segment_vs_segql", "per_segment", "segql")
    ratio("per_segment_core_vs_segql_core", "per_segment_core", "segql_core")
    ratio("pandas_vs_segql_rfm", "pandas", "segql_rfm")
    if "pandas" in t and "pandas_load" in t and t.get("segql_rfm"):
        r["pandas_with_load_vs_segql_rfm"] = (t["pandas"] + t["pandas_load"]) / t["segql_rfm"]
    ratio("pandas_vs_segql_all", "pandas", "segql")
    ratio("rfm_package_vs_segql_rfm", "rfm_package", "segql_rfm")
    return r


def report(results: dict) -> None:
    log()
    log("=" * 78)
    m = results["machine"]
    log(
        f"machine: {m['cpus']} cpus, {m.get('ram_gb', '?')} GB RAM, python {m['python']}, "
        f"duckdb {m['duckdb']}, sqlglot {m['sqlglot']}, pandas {m.get('pandas', '-')}"
    )
    for s in results["scales"]:
        t, r = s["median_s"], s["ratios"]
        tc, rc = s.get("median_cpu_s", {}), s.get("ratios_cpu", {})
        ev = s["rows"]["web_events"] / 1e6
        log(
            f"\nscale {s['scale']:g} ({s['segments']} segments, {s['segmentations']} "
            f"segmentations; medians; ratio = segql ÷ floor, per-segment ÷ segql, "
            f"pandas and rfm ÷ segql RFM):"
        )
        log(f"  {'':<52} {'wall':>9} {'ratio':>8}  {'cpu':>8} {'ratio':>8}  {'wall/M events':>13}")
        rows = [
            ("floor: one grouped scan per source, 1 aggregate", "floor", None),
            ("segql: all segments, one membership query", "segql", "segql_vs_floor"),
            ("segql without the windowed pass", "segql_core", "segql_core_vs_floor"),
            ("one query per segment, run one after another", "per_segment", "per_segment_vs_segql"),
            ("  (without windowed segments)", "per_segment_core", "per_segment_core_vs_segql_core"),
            ("segql: the RFM segmentation alone", "segql_rfm", None),
            ("pandas RFM (compute, frames in memory)", "pandas", "pandas_vs_segql_rfm"),
            ("pandas RFM, reading frames from DuckDB", "pandas_load", None),
            ("PyPI rfm package", "rfm_package", "rfm_package_vs_segql_rfm"),
        ]
        for label, key, rk in rows:
            if key not in t:
                continue
            extra = f"{r[rk]:7.2f}x" if rk and rk in r else " " * 8
            c = f"{tc[key]:7.3f}s" if key in tc else " " * 8
            cx = f"{rc[rk]:7.2f}x" if rk and rk in rc else " " * 8
            log(f"  {label:<52} {t[key]:8.3f}s {extra}  {c} {cx}  {t[key] / ev:11.3f} s")
        log("  ratios (wall): " + ", ".join(f"{k} {v:.2f}x" for k, v in r.items()))
        log("  ratios (cpu):  " + ", ".join(f"{k} {v:.2f}x" for k, v in rc.items()))
    if results.get("compile"):
        log(
            "\ncompile time (parse + resolve + plan + generate) vs sqlglot parse+print "
            "of the generated SQL:"
        )
        for c in results["compile"]:
            log(
                f"  {c['segments']:>6} segments: segql {c['segql_cpu_s']:.3f}s cpu "
                f"({c['segql_s']:.3f}s wall), sqlglot {c['sqlglot_cpu_s']:.3f}s cpu, "
                f"ratio {c['ratio']:.2f}x ({c['ratio_no_collector']:.2f}x with sqlglot also "
                f"without the cycle collector), {c['us_per_segment']:.0f} us/segment, "
                f"SQL {c['sql_kb']:.0f} KB"
            )
    if len(results["scales"]) > 1:
        a, b = results["scales"][0], results["scales"][-1]
        log(f"\nscaling {a['scale']:g} → {b['scale']:g} (seconds per million events):")
        for k in ("floor", "segql", "segql_core", "per_segment", "pandas"):
            if k in a["median_s"] and k in b["median_s"]:
                pa = a["median_s"][k] / (a["rows"]["web_events"] / 1e6)
                pb = b["median_s"][k] / (b["rows"]["web_events"] / 1e6)
                log(f"  {k:<14} {pa:.4f} → {pb:.4f}  ({pb / pa:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict = {
        "machine": machine(),
        "as_of": harness.AS_OF.isoformat(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {
            "scales": args.scales,
            "repeat": args.repeat,
            "memory_limit": args.memory_limit,
            "threads": args.threads,
        },
        "scales": [],
    }
    con = None
    for scale in args.scales:
        res, con = bench_scale(scale, args)
        res["ratios"] = ratios(res["median_s"])
        res["ratios_cpu"] = ratios(res["median_cpu_s"])
        results["scales"].append(res)
    if args.sizes and "compile" not in args.skipped:
        log("compile benchmark")
        with tempfile.TemporaryDirectory() as tmp:
            results["compile"] = compile_bench.bench(
                args.sizes, Path(tmp), harness.PROJECT_DIR / "segql.yml", con, log=log
            )
    report(results)
    out = (
        Path(args.out)
        if args.out
        else Path(args.data_dir) / ("results-" + "_".join(f"{s:g}" for s in args.scales) + ".json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    log(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
