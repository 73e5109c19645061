"""Plot time vs scale from results JSON files of `python -m benchmarks.run`.

    python -m benchmarks.plot benchmarks/data/results-1_10.json [more.json …] \
        --out docs/performance.png

Every scale found in the files is one point per series (a later file wins a tie).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SERIES = [
    ("floor", "floor: one grouped scan per source", "#999999", "--"),
    ("segql_core", "segql, all segments but the windowed ones", "#1f77b4", "-"),
    ("segql", "segql, all segments (one query)", "#08306b", "-"),
    ("per_segment", "one query per segment", "#d62728", "-"),
    ("segql_rfm", "segql, RFM segmentation", "#2ca02c", "-"),
    ("pandas", "pandas, RFM segmentation", "#ff7f0e", "-"),
    ("rfm_package", "PyPI rfm package", "#8c564b", ":"),
]


def load(paths: list[str]) -> dict[float, dict]:
    by_scale: dict[float, dict] = {}
    for p in paths:
        for s in json.loads(Path(p).read_text(encoding="utf-8"))["scales"]:
            by_scale[s["scale"]] = s
    return dict(sorted(by_scale.items()))


def plot(paths: list[str], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = load(paths)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for key, label, color, style in SERIES:
        pts = [
            (s["rows"]["web_events"] / 1e6, s["median_s"][key])
            for s in scales.values()
            if key in s["median_s"]
        ]
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        ax.plot(xs, ys, style, marker="o", color=color, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("web events (millions); orders = events / 5, customers = events / 50")
    ax.set_ylabel("seconds (median)")
    ax.set_title("segql on DuckDB vs the floor and the alternatives")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.plot")
    ap.add_argument("results", nargs="+")
    ap.add_argument("--out", default="docs/performance.png")
    args = ap.parse_args(argv)
    plot(args.results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
