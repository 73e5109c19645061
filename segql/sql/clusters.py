"""A clusters segmentation's assignment (LANGUAGE.md §14) as plain arithmetic.

One layer computes each entity's squared Euclidean distance to every centroid
in the fit's scaled space, x' = (x − center) / scale; the next layer labels it
with the nearest cluster:

    CASE WHEN d1 IS NULL THEN <else, or NULL>       -- a feature is null
         WHEN d1 <= d2 AND d1 <= d3 … THEN <cluster 1>
         WHEN d2 <= d3 AND … THEN <cluster 2>
         …
         ELSE <cluster K> END

Cluster j wins when it is no farther than every later cluster; an earlier
cluster at the same distance has already won (ties to the lower number).
Every distance is null exactly when a feature is. Features are cast to
DOUBLE, so the arithmetic is the same IEEE arithmetic on every engine; the
constants are written as the shortest decimal that reads back as the same
double (Python's repr).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from segql.syntax import ast


def _double(x: float) -> exp.Expr:
    return exp.Literal.number(repr(float(x)))


def _minus(e: exp.Expr, c: float) -> exp.Expr:
    """e − c, written e + |c| for a negative c (no `- -1.5` in the text)."""
    if c < 0:
        return exp.Add(this=e, expression=_double(-c))
    return exp.Sub(this=e, expression=_double(c))


def distances(values: Sequence[exp.Expr], c: ast.Clusters) -> list[exp.Expr]:
    """Per cluster, Σ ((x − center) / scale − centroid)² over the features;
    `values` are the features' values in the layer."""
    fit = c.fit
    assert fit is not None, "resolve attaches the fit file or reports it"
    double = exp.DataType.build("DOUBLE")
    scaled = [
        exp.Div(
            this=exp.Paren(this=_minus(exp.cast(v, double.copy()), center)),
            expression=_double(scale),
        )
        for v, center, scale in zip(values, fit.center, fit.scale, strict=True)
    ]
    out: list[exp.Expr] = []
    for centroid in fit.centroids:
        terms = [
            exp.Pow(this=exp.Paren(this=_minus(z.copy(), m)), expression=exp.Literal.number(2))
            for z, m in zip(scaled, centroid, strict=True)
        ]
        total: exp.Expr = terms[0]
        for t in terms[1:]:
            total = exp.Add(this=total, expression=t)
        out.append(total)
    return out


def label(columns: Sequence[exp.Expr], d: ast.Segmentation) -> exp.Expr:
    """The nearest cluster's label from the distance columns (cluster 1 first)."""
    c = d.clusters
    assert c is not None
    otherwise: exp.Expr = (
        exp.Literal.string(d.catch_all.label) if d.catch_all is not None else exp.null()
    )
    ifs = [exp.If(this=exp.Is(this=columns[0].copy(), expression=exp.null()), true=otherwise)]
    for j in range(len(columns) - 1):
        nearer = [
            exp.LTE(this=columns[j].copy(), expression=columns[i].copy())
            for i in range(j + 1, len(columns))
        ]
        ifs.append(exp.If(this=exp.and_(*nearer), true=exp.Literal.string(c.label(j + 1))))
    return exp.Case(ifs=ifs, default=exp.Literal.string(c.label(len(columns))))
