"""Clusters segmentations (LANGUAGE.md §14) in resolve: the features bound and
type-checked, K and the names checked, and the fit file that `segql fit`
wrote read and checked against the features' current definitions.

Every problem of a fit file is found here (validate reports it), so that code
generation only writes the assignment the fit describes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from decimal import Decimal
from pathlib import Path

from segql.errors import Diagnostics, Span
from segql.semantic.model import ANY, NUMBER, type_of
from segql.syntax import ast

MAX_K = 100  # more clusters than a person could name; the CASE chain grows as K²
FIT_KEYS = (
    "features",
    "definitions_hash",
    "scale",
    "centroids",
    "k",
    "as_of",
    "rows",
    "inertia",
    "silhouette",
    "segql_version",
)


def fit_path(root: Path, name: str) -> Path:
    """clusters/<name>.json beside segql.yml."""
    return Path(root) / "clusters" / f"{name}.json"


def canonical(node) -> object:
    """A node as plain JSON data without spans: what it means, not where it is
    written (the .seg and YAML forms of one definition give the same)."""
    if isinstance(node, ast.Node):
        out: list[object] = [type(node).__name__]
        for f in dataclasses.fields(node):  # type: ignore[arg-type]
            if f.name in ("span", "fit"):
                continue
            value = getattr(node, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                # a field left at its default says nothing: a new optional field
                # of the AST does not invalidate every fit file
                continue
            out.append([f.name, canonical(value)])
        return out
    if isinstance(node, tuple | list):
        return [canonical(x) for x in node]
    if isinstance(node, Decimal):
        return str(node)
    return node


def features_hash(features: tuple[ast.Expr, ...], used: dict[str, ast.Definition]) -> str:
    """SHA-256 of the features as written and of every definition they use,
    directly or not (`used`: name → definition as parsed). Whitespace, comments
    and moved lines change nothing; a changed trait a feature uses does."""
    data = {
        "features": [canonical(f) for f in features],
        "uses": {n: canonical(d) for n, d in sorted(used.items())},
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def feature_names(c: ast.Clusters, text: str | None) -> list[str]:
    """A name per feature for people (the fit file, the fit report): a bare
    name as written, else the expression's text as written, else feature_<i>."""
    out = []
    for i, f in enumerate(c.features, start=1):
        if isinstance(f, ast.Name):
            out.append(f.name)
            continue
        written = _written(text, f.span)
        out.append(" ".join(written.split()) if written else f"feature_{i}")
    return out


def _written(text: str | None, span: Span) -> str | None:
    if not text or not span.line or span.line != span.end_line:
        return None
    lines = text.splitlines()
    if span.line > len(lines):
        return None
    return lines[span.line - 1][span.col - 1 : span.end_col - 1] or None


def check_shape(d: ast.Segmentation, diags: Diagnostics, name_span: Span) -> None:
    """K ≥ 2; each name's number within 1..K and given once."""
    c = d.clusters
    assert c is not None
    if c.k < 2:
        diags.error(
            f"segmentation '{d.name}' needs at least 2 clusters, not {c.k}",
            name_span,
            "write e.g. 'by clusters(4)'",
        )
    elif c.k > MAX_K:
        diags.error(f"segmentation '{d.name}' has {c.k} clusters: at most {MAX_K}", name_span)
    seen: dict[int, ast.ClusterName] = {}
    for n in c.names:
        if c.k >= 2 and not 1 <= n.number <= c.k:
            diags.error(
                f"cluster {n.number} of '{d.name}' does not exist: its clusters are 1 to {c.k}",
                n.span,
            )
        elif n.number in seen:
            diags.error(
                f"cluster {n.number} of '{d.name}' is named twice "
                f"(also '{seen[n.number].label}' at line {seen[n.number].span.line})",
                n.span,
            )
        seen.setdefault(n.number, n)


def check_feature_type(bound: ast.Expr, index: int, name: str, diags: Diagnostics) -> None:
    t = type_of(bound)
    if t not in (NUMBER, ANY):
        article = "an" if t[:1] in "aeiou" else "a"
        diags.error(
            f"feature {index} of clusters segmentation '{name}' needs a number, got {article} {t}",
            bound.span,
            "k-means measures distances: every feature is a number (a trait, "
            "an aggregate, arithmetic)",
        )


def _refit(name: str) -> str:
    return f"run 'segql fit PATH --segmentation {name}' (with --sample, --db FILE or --target T)"


def read_fit(
    d: ast.Segmentation, root: Path, expected_hash: str, diags: Diagnostics, span: Span
) -> ast.ClusterFit | None:
    """The fit file of `d`, checked: present, well-formed, fitted with the same
    K, scale method and feature definitions. None (and an error) otherwise."""
    c = d.clusters
    assert c is not None
    path = fit_path(root, d.name)
    shown = f"clusters/{d.name}.json"
    if not path.is_file():
        diags.error(
            f"segmentation '{d.name}' has not been fitted: {shown} not found",
            span,
            _refit(d.name),
        )
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        diags.error(f"{shown} is not a fit file: {e}", span, _refit(d.name))
        return None
    problem = _malformed(data, len(c.features))
    if problem:
        diags.error(f"{shown} is not a fit file: {problem}", span, _refit(d.name))
        return None
    if data["k"] != c.k:
        diags.error(
            f"segmentation '{d.name}' has {c.k} clusters, but {shown} was fitted with {data['k']}",
            span,
            _refit(d.name),
        )
        return None
    if data["scale"]["method"] != c.scale_method:
        diags.error(
            f"segmentation '{d.name}' scales '{c.scale_method}', but {shown} was fitted "
            f"with '{data['scale']['method']}'",
            span,
            _refit(d.name),
        )
        return None
    if data["definitions_hash"] != expected_hash:
        diags.error(
            f"the features of segmentation '{d.name}' changed since {shown} was fitted",
            span,
            _refit(d.name),
        )
        return None
    return ast.ClusterFit(
        tuple(float(x) for x in data["scale"]["center"]),
        tuple(float(x) for x in data["scale"]["scale"]),
        tuple(tuple(float(x) for x in row) for row in data["centroids"]),
        span,
    )


def _numbers(xs, n: int) -> bool:
    return (
        isinstance(xs, list)
        and len(xs) == n
        and all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in xs
        )
    )


def _malformed(data, features: int) -> str | None:
    """What is wrong with a fit file's shape, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    missing = [k for k in ("definitions_hash", "scale", "centroids", "k") if k not in data]
    if missing:
        return "no " + ", ".join(f"'{k}'" for k in missing)
    k = data["k"]
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        return "'k' is not a number of clusters"
    scale = data["scale"]
    if not isinstance(scale, dict) or not {"method", "center", "scale"} <= set(scale):
        return "'scale' needs 'method', 'center' and 'scale'"
    if not _numbers(scale["center"], features) or not _numbers(scale["scale"], features):
        return f"'scale' needs {features} finite numbers in 'center' and in 'scale'"
    if any(s == 0 for s in scale["scale"]):
        return "a 'scale' of 0 (x' = (x − center) / scale)"
    rows = data["centroids"]
    if not isinstance(rows, list) or len(rows) != k or not all(_numbers(r, features) for r in rows):
        return f"'centroids' needs {k} lists of {features} finite numbers"
    if not isinstance(data["definitions_hash"], str):
        return "'definitions_hash' is not text"
    return None
