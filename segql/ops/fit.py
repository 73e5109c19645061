"""`segql fit` (LANGUAGE.md §14): k-means for a clusters segmentation.

    segql fit PATH… [--segmentation N] [--k 2..10] [--target T | --db FILE | --sample]
              [--as-of TS]

The features are computed on the engine by the compiled SQL: a query built
from the same plan as membership, whose outputs are the segmentation's
features (one number column each) instead of its label. The rows are fetched,
scaled, and fitted with scikit-learn's KMeans (k-means++, random_state 0,
10 restarts); clusters are numbered by size, largest first. The fit file,
clusters/<name>.json beside segql.yml, is written whole or not at all.

With a range of k (`--k 2..10`) the fit only reports inertia and silhouette
per k and draws the elbow; it writes no fit file (the number of clusters is
the segmentation's `clusters(K)`, chosen by a person from that report).

scikit-learn comes from the optional extra `segql[ml]`; compile never imports
it (assignment is plain SQL arithmetic: sql/clusters.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from segql.errors import SegqlError, did_you_mean
from segql.semantic.clusters import feature_names, fit_path
from segql.semantic.model import NUMBER, Model
from segql.syntax import ast

SEED = 0  # k-means++ seeds and the silhouette sample: the same fit every time
RESTARTS = 10
SILHOUETTE_ROWS = 10_000  # silhouette is O(n²): measured on a fixed sample beyond this


def _sklearn():
    try:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score
    except ImportError:
        raise SegqlError("segql fit needs scikit-learn: pip install 'segql[ml]'", None) from None
    return KMeans, silhouette_score


# ------------------------------------------------------------------ the features query


def feature_columns(model: Model, name: str) -> list[str]:
    """The output names of the features query: <name>_feature_<i>, made unique."""
    d = model.definitions[name]
    assert isinstance(d, ast.Segmentation) and d.clusters is not None
    out = []
    for i in range(1, len(d.clusters.features) + 1):
        column = f"{name}_feature_{i}"
        while column in model.definitions:
            column += "_"
        out.append(column)
    return out


def features_query(model: Model, name: str, dialect: str, as_of: dt.datetime | None) -> exp.Query:
    """key + one number column per feature of clusters segmentation `name`, one
    row per universe entity: the membership query's plan with the features as
    outputs (each a trait of the model, computed as the segmentation's would be)."""
    from segql.plan.logical import plan
    from segql.sql.dialects import get_dialect
    from segql.sql.query import Generator
    from segql.sql.windows import FixedClock, LiveClock

    d = model.definitions[name]
    assert isinstance(d, ast.Segmentation) and d.clusters is not None
    columns = feature_columns(model, name)
    traits = {c: ast.Trait(c, f, d.span) for c, f in zip(columns, d.clusters.features, strict=True)}
    extended = dataclasses.replace(
        model,
        definitions={**model.definitions, **traits},
        types={**model.types, **dict.fromkeys(columns, NUMBER)},
    )
    dia = get_dialect(dialect)
    tz = model.project.timezone
    clock = FixedClock(as_of, tz, dia) if as_of is not None else LiveClock(tz, dia)
    return Generator(plan(extended, tuple(columns), "membership"), dia, clock).query()


# ------------------------------------------------------------------ fitting


@dataclass(frozen=True)
class Scaling:
    method: str
    center: list[float]
    scale: list[float]


def scaling(X, method: str) -> Scaling:
    """x' = (x − center) / scale per column; a column with one value (no spread)
    gets scale 1, so it neither divides by zero nor weighs in."""
    import numpy as np

    if method == "standard":
        center, spread = X.mean(axis=0), X.std(axis=0)  # population standard deviation
    elif method == "minmax":
        center, spread = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
    else:
        center, spread = np.zeros(X.shape[1]), np.ones(X.shape[1])
    spread = np.where(spread > 0, spread, 1.0)
    return Scaling(method, [float(x) for x in center], [float(x) for x in spread])


@dataclass(frozen=True)
class KFit:
    k: int
    centroids: list[list[float]]  # scaled space, by size (largest first)
    sizes: list[int]
    inertia: float
    silhouette: float | None


def fit_k(Xs, k: int) -> KFit:
    """k-means on the scaled rows; clusters renumbered by size, largest first
    (equal sizes: by centroid, so the numbering never depends on the seed's order)."""
    import numpy as np
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    KMeans, silhouette_score = _sklearn()
    # one thread: sums in one order, so the same centroids to the last bit on any
    # machine (the fit file is committed and compared); also much faster on a
    # busy machine (docs/performance.md)
    with threadpool_limits(limits=1):
        km = KMeans(n_clusters=k, init="k-means++", n_init=RESTARTS, random_state=SEED).fit(Xs)
    sizes = np.bincount(km.labels_, minlength=k)
    order = sorted(range(k), key=lambda j: (-int(sizes[j]), list(km.cluster_centers_[j])))
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    labels = rank[km.labels_]
    silhouette = None
    distinct = len(set(labels.tolist()))
    if 2 <= distinct < len(Xs):
        n = min(SILHOUETTE_ROWS, len(Xs))
        with threadpool_limits(limits=1):
            silhouette = float(
                silhouette_score(
                    Xs, labels, sample_size=n if n < len(Xs) else None, random_state=SEED
                )
            )
    return KFit(
        k,
        [[float(x) for x in km.cluster_centers_[j]] for j in order],
        [int(sizes[j]) for j in order],
        float(km.inertia_),
        silhouette,
    )


@dataclass(frozen=True)
class FitResult:
    name: str
    features: list[str]
    rows: int  # entities with every feature
    universe: int  # entities fetched
    scaling: Scaling
    fits: list[KFit]  # one, or one per k of a range
    path: Path | None  # the fit file written (None for a range of k)
    plot: Path | None = None
    plot_problem: str | None = None
    seconds_query: float = 0.0
    seconds_fit: float = 0.0
    labels: tuple[str, ...] = ()  # cluster 1's label first

    def centroids_in_units(self, f: KFit) -> list[list[float]]:
        s = self.scaling
        return [
            [m * sc + c for m, sc, c in zip(row, s.scale, s.center, strict=True)]
            for row in f.centroids
        ]


def parse_k(text: str | None) -> tuple[int, int] | None:
    """`--k 4` or `--k 2..10` → (low, high); None when not given."""
    if text is None:
        return None
    low, sep, high = text.strip().partition("..")
    try:
        lo = int(low)
        hi = int(high) if sep else lo
    except ValueError:
        raise SegqlError(
            f"invalid --k '{text}'",
            None,
            ("write a number of clusters, e.g. 4, or a range: 2..10",),
            usage=True,
        ) from None
    if lo < 2 or hi < lo or hi > 100:
        raise SegqlError(
            f"invalid --k '{text}'", None, ("k is from 2 to 100, a range low..high",), usage=True
        )
    return lo, hi


def clusters_to_fit(model: Model, segmentation: str | None) -> list[str]:
    pool = [
        n
        for n, d in model.definitions.items()
        if isinstance(d, ast.Segmentation) and d.clusters is not None
    ]
    if segmentation is not None:
        if segmentation in model.definitions and segmentation not in pool:
            what = model.kind(segmentation)
            if what == "segmentation":
                what = f"segmentation by {model.definitions[segmentation].by}"  # type: ignore[union-attr]
            raise SegqlError(f"'{segmentation}' is a {what}, not a clusters segmentation")
        if segmentation not in pool:
            hint = did_you_mean(segmentation, pool)
            raise SegqlError(
                f"unknown clusters segmentation '{segmentation}'" + (f" ({hint})" if hint else "")
            )
        return [segmentation]
    selected = [n for n in model.selected if n in pool]
    if not selected:
        raise SegqlError(
            "no clusters segmentation in the given paths",
            None,
            ("write one as 'segmentation NAME by clusters(K) on (…) { }' (docs/clusters.md)",),
        )
    return selected


def fit_one(
    model: Model,
    engine,
    name: str,
    as_of: dt.datetime,
    ks: tuple[int, int] | None,
    plot: Path | None = None,
) -> FitResult:
    """Compute the features on the engine, fit, and write the fit file (a single k)."""
    import time

    import numpy as np

    _sklearn()  # a clear error before the query runs
    d = model.definitions[name]
    assert isinstance(d, ast.Segmentation) and d.clusters is not None
    c = d.clusters
    if ks is not None and ks[0] == ks[1] and ks[0] != c.k:
        raise SegqlError(
            f"segmentation '{name}' has clusters({c.k}), not {ks[0]}",
            None,
            (f"write clusters({ks[0]}) in its definition, or explore with --k 2..10",),
            usage=True,
        )
    started = time.perf_counter()
    rows = engine.fetch(features_query(model, name, engine.dialect.name, as_of))
    fetched = time.perf_counter()
    values = [r[1:] for r in rows]
    complete = [v for v in values if all(x is not None for x in v)]
    X = np.array(complete, dtype=float).reshape(len(complete), len(c.features))
    low, high = ks if ks is not None and ks[0] != ks[1] else (c.k, c.k)
    if len(X) < high:
        raise SegqlError(
            f"only {len(X)} entities have every feature of '{name}': too few for {high} clusters",
            d.span,
        )
    s = scaling(X, c.scale_method)
    Xs = (X - np.array(s.center)) / np.array(s.scale)
    fits = [fit_k(Xs, k) for k in range(low, high + 1)]
    done = time.perf_counter()
    names = feature_names(c, model.sources.get(d.span.file))
    if low != high:
        where = plot or fit_path(model.project.root, name).with_name(f"{name}-elbow.png")
        drawn, problem = elbow_plot(fits, name, where)
        return FitResult(
            name,
            names,
            len(X),
            len(rows),
            s,
            fits,
            None,
            drawn,
            problem,
            fetched - started,
            done - fetched,
        )
    path = write_fit(model, name, names, as_of, len(X), s, fits[0])
    labels = tuple(c.label(j) for j in range(1, c.k + 1))
    return FitResult(
        name,
        names,
        len(X),
        len(rows),
        s,
        fits,
        path,
        None,
        None,
        fetched - started,
        done - fetched,
        labels,
    )


def fit_document(
    model: Model, name: str, names: list[str], as_of: dt.datetime, rows: int, s: Scaling, f: KFit
) -> dict:
    """The fit file's content (LANGUAGE.md §14), keys in the documented order."""
    return {
        "features": names,
        "definitions_hash": model.cluster_hashes[name],
        "scale": {"method": s.method, "center": s.center, "scale": s.scale},
        "centroids": f.centroids,
        "k": f.k,
        "as_of": as_of.isoformat(sep="T"),
        "rows": rows,
        "sizes": f.sizes,
        "inertia": f.inertia,
        "silhouette": f.silhouette,
        "segql_version": _version(),
    }


def write_fit(model, name, names, as_of, rows, s, f) -> Path:
    from segql.ops.files import replacing

    path = fit_path(model.project.root, name)
    path.parent.mkdir(exist_ok=True)
    text = fit_text(fit_document(model, name, names, as_of, rows, s, f))
    with replacing(path) as out:
        out.write(text)
    return path


def fit_text(doc: dict) -> str:
    """JSON with one line per key, a line per centroid: a refit reads as a diff."""

    def one(v) -> str:
        return json.dumps(v, separators=(", ", ": "))

    lines = []
    for key, value in doc.items():
        if key == "centroids":
            rows = ",\n".join(f"    {one(r)}" for r in value)
            lines.append(f'  "centroids": [\n{rows}\n  ]')
        elif key == "scale":
            parts = ",\n".join(f"    {one(k)}: {one(v)}" for k, v in value.items())
            lines.append(f'  "scale": {{\n{parts}\n  }}')
        else:
            lines.append(f"  {one(key)}: {one(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("segql")
    except PackageNotFoundError:
        return "unknown"


def elbow_plot(fits: list[KFit], name: str, path: Path) -> tuple[Path | None, str | None]:
    """Inertia and silhouette per k as a PNG; (None, why) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, "no elbow plot: matplotlib is not installed (pip install matplotlib)"
    from segql.ops.files import replacing

    ks = [f.k for f in fits]
    fig, left = plt.subplots(figsize=(6, 3.6), dpi=100)
    left.plot(ks, [f.inertia for f in fits], marker="o", color="tab:blue")
    left.set_xlabel("k (clusters)")
    left.set_ylabel("inertia (within-cluster sum of squares)", color="tab:blue")
    right = left.twinx()
    right.plot(
        ks,
        [f.silhouette if f.silhouette is not None else math.nan for f in fits],
        marker="s",
        color="tab:orange",
    )
    right.set_ylabel("silhouette", color="tab:orange")
    left.set_title(f"{name}: choosing k")
    left.set_xticks(ks)
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    with replacing(path, "wb") as out:
        # no timestamps in the file: the same fit draws the same bytes
        fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
    return path, None


def fit(
    paths: list[str],
    project: str | None = None,
    segmentation: str | None = None,
    k: str | None = None,
    target: str | None = None,
    db: str | None = None,
    sample: bool = False,
    scale: float = 0.01,
    as_of: str | None = None,
    plot: str | None = None,
) -> list[FitResult]:
    """The CLI's fit: open the data, load the definitions (no fit file needed),
    fit each clusters segmentation asked for."""
    from segql import api
    from segql.ops.preview import _as_of, one_source, open_data
    from segql.project import find_project_file, load_project

    ks = parse_k(k)
    one_source(target, db, sample)
    _sklearn()
    proj = load_project(find_project_file(project, paths))
    when, _ = _as_of(as_of, proj, sample)
    proj, engine, _ = open_data(proj, target, db, sample, scale, lambda _m: None)
    with engine:
        model = api.load_with(proj, paths or [str(proj.root)], engine, check_fits=False)
        names = clusters_to_fit(model, segmentation)
        if ks is not None and ks[0] != ks[1] and len(names) > 1:
            raise SegqlError(
                "--k with a range takes one segmentation: add --segmentation N", usage=True
            )
        return [fit_one(model, engine, n, when, ks, Path(plot) if plot else None) for n in names]


def render(r: FitResult) -> str:
    """The fit report: per k inertia and silhouette; for the fit written, each
    centroid in the features' own units."""
    lines = [
        f"{r.name}: {r.rows:,} of {r.universe:,} entities have every feature "
        f"({', '.join(r.features)}); scale {r.scaling.method}"
    ]
    if r.path is None:
        lines.append(f"{'k':>3}  {'inertia':>14}  {'silhouette':>10}")
        for f in r.fits:
            sil = f"{f.silhouette:.4f}" if f.silhouette is not None else "-"
            lines.append(f"{f.k:>3}  {f.inertia:>14.4f}  {sil:>10}")
        lines.append(f"elbow plot: {r.plot}" if r.plot else (r.plot_problem or ""))
        lines.append("no fit file written: choose K in clusters(K), then run segql fit without --k")
        return "\n".join(x for x in lines if x) + "\n"
    f = r.fits[0]
    sil = f"{f.silhouette:.4f}" if f.silhouette is not None else "-"
    lines.append(f"k {f.k}: inertia {f.inertia:.4f}, silhouette {sil}")
    width = max(10, *(len(n) for n in r.features))
    lines.append(
        f"{'cluster':<24} {'size':>8} {'share':>7}  "
        + "  ".join(f"{n:>{width}}" for n in r.features)
    )
    for j, (row, size) in enumerate(zip(r.centroids_in_units(f), f.sizes, strict=True), start=1):
        share = size / r.rows if r.rows else 0
        lines.append(
            f"{j} {r.labels[j - 1] if r.labels else '':<21} {size:>8,} {share:>7.1%}  "
            + "  ".join(f"{_num(x):>{width}}" for x in row)
        )
    lines.append(f"wrote {r.path}")
    return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 1e12 else f"{x:.4g}"
