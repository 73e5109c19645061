"""Clusters: what `segql fit` costs next to scikit-learn alone plus the feature
query, and what assigning clusters in SQL adds to the membership query
(docs/performance.md, "Clusters").

    python -m benchmarks.clusters_bench --scale 1 [--threads 2] [--repeat 5]

On the built-in sample (segql.ops.sample; scale 1 = 100k customers) and the
personas example (examples/segments/personas.seg), in one process, median of
--repeat runs:

- feature query: the features of personas, computed and fetched (the query
  `segql fit` runs);
- scikit-learn: scaling + KMeans(k-means++, 10 restarts) + silhouette on the
  fetched rows, nothing else;
- segql fit: the whole fit (query, fetch, fit, the fit file written) on a copy of
  the example project, so the committed fit file is never touched;
- assignment: the personas query (features, distances, label) against its
  features alone, and the example project's membership query with and without
  personas.seg.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "segments"


def _median(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        f()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _count_all(con, query_sql: str, columns: list[str]) -> None:
    """Run a query to the end, every output column read (DuckDB drops unread ones)."""
    counted = ", ".join(f'count("{c}")' for c in columns)
    con.execute(f"SELECT count(*), {counted} FROM ({query_sql}) AS q").fetchall()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.clusters_bench", description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    import numpy as np

    from segql import api
    from segql.engines.duckdb import wrap
    from segql.ops import fit as fitting
    from segql.ops.sample import SAMPLE_AS_OF, sample_database
    from segql.project import load_project

    con = sample_database(scale=args.scale)
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    proj = load_project(EXAMPLE / "segql.yml")
    engine = wrap(con, proj.root)
    everything = [str(EXAMPLE)]
    model = api.load_with(proj, everything, engine)
    d = model.definitions["personas"].clusters  # type: ignore[union-attr]
    features_sql = engine.sql(fitting.features_query(model, "personas", "duckdb", SAMPLE_AS_OF))
    rows: list = []

    def query() -> None:
        rows[:] = engine.fetch(features_sql)

    query()
    X = np.array([r[1:] for r in rows if None not in r[1:]], dtype=float)

    def sklearn_only() -> None:
        s = fitting.scaling(X, d.scale_method)
        fitting.fit_k((X - np.array(s.center)) / np.array(s.scale), d.k)

    # interleaved, one thread for scikit-learn: on a shared machine the three
    # timings of one round see the same load
    import sklearn.cluster  # noqa: F401 -- loaded first, so that the limit reaches its OpenMP
    from threadpoolctl import threadpool_limits

    times: dict[str, list[float]] = {"query": [], "sklearn": [], "fit": []}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        copy = Path(tmp) / "segments"
        shutil.copytree(EXAMPLE, copy)
        cproj = load_project(copy / "segql.yml")
        cmodel = api.load_with(cproj, [str(copy)], engine, check_fits=False)
        for _ in range(args.repeat):
            times["query"].append(_median(query, 1))
            times["sklearn"].append(_median(sklearn_only, 1))
            times["fit"].append(
                _median(lambda: fitting.fit_one(cmodel, engine, "personas", SAMPLE_AS_OF, None), 1)
            )
    t_query, t_sklearn, t_fit = (statistics.median(times[k]) for k in ("query", "sklearn", "fit"))

    label_sql = api.compile_model(model, "duckdb", SAMPLE_AS_OF, segmentation="personas").sql()
    feature_columns = fitting.feature_columns(model, "personas")
    t_features = _median(lambda: _count_all(con, features_sql, feature_columns), args.repeat)
    t_label = _median(lambda: _count_all(con, label_sql, ["personas"]), args.repeat)

    full = api.compile_model(model, "duckdb", SAMPLE_AS_OF)
    others = [
        str(p)
        for p in sorted(EXAMPLE.glob("*.seg")) + sorted(EXAMPLE.glob("*.yml"))
        if p.name not in ("personas.seg", "segql.yml", "schema.yml")
    ]
    without = api.compile_model(api.load_with(proj, others, engine), "duckdb", SAMPLE_AS_OF)
    t_with = _median(
        lambda: _count_all(con, full.sql(), [c.name for c in full.outputs]), args.repeat
    )
    t_without = _median(
        lambda: _count_all(con, without.sql(), [c.name for c in without.outputs]), args.repeat
    )
    result = {
        "scale": args.scale,
        "entities_fitted": len(X),
        "feature_query_s": t_query,
        "sklearn_s": t_sklearn,
        "segql_fit_s": t_fit,
        "fit_overhead": t_fit / (t_query + t_sklearn),
        "personas_features_s": t_features,
        "personas_label_s": t_label,
        "label_vs_features": t_label / t_features,
        "membership_with_s": t_with,
        "membership_without_s": t_without,
        "membership_ratio": t_with / t_without,
    }
    for k, v in result.items():
        print(f"{k:>22}: {v:.3f}" if isinstance(v, float) else f"{k:>22}: {v}")
    con.close()
    return result


if __name__ == "__main__":
    main()
