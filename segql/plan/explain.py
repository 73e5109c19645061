"""`segql compile --explain`: the physical plan for people.

Per source, the reads of it and the aggregates each computes, with the
definitions that use each aggregate; per windowed construct its form and
why; and what is shared (an aggregate serving several definitions is
computed once).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from segql.errors import Span
from segql.plan.logical import BUCKETS, bucket_ranges
from segql.plan.physical import FORMS, PhysicalPlan, Read
from segql.syntax import ast


def location(span: Span, root: Path) -> str:
    """file:line, the file relative to the project root: the same text wherever
    the project is checked out and however its paths were given."""
    return f"{_relative(span.file, root)}:{span.line}"


@functools.lru_cache(maxsize=1024)
def _relative(file: str, root: Path) -> str:
    # cached: resolving a path asks the file system, once per file is enough
    path = Path(file)
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(root.resolve())
    return path.as_posix()


def explain(pp: PhysicalPlan, dialect: str) -> str:
    plan = pp.plan
    root = plan.model.project.root
    lines = [f"plan for {dialect}: {', '.join(plan.outputs) or '(nothing)'}", ""]
    for source, src in plan.model.project.sources.items():
        reads = [r for r in pp.reads if r.source == source]
        if not reads:
            continue
        what = f"sessions of {src.sessions.of}" if src.sessions else f"table {src.table.name}"
        lines.append(f"source {source} ({what})")
        for read in reads:
            lines.extend(_read(read, root))
        lines.append("")
    shared = [s for s in plan.aggregates.values() if len(s.users) > 1]
    if shared:
        lines.append("shared (computed once, used by several definitions):")
        lines.extend(f"  {s.column}: {len(s.users)} definitions" for s in shared)
    else:
        lines.append("shared: no aggregate is used by more than one definition")
    if plan.anchors:
        lines.append(
            "anchors (anchored windows: computed once per entity before the reads, "
            "joined on the key by each read they bound):"
        )
        lines.extend(f"  {column}" for column in plan.anchors.values())
    if plan.ranks:
        lines.append("ranks (one per ranked value, shared by percentile and score):")
        lines.extend(f"  {r.column}" for r in plan.ranks.values())
    if plan.buckets:
        lines.append("splits (bucket = md5 of 'salt.key', first 8 hex digits, mod 10000):")
        lines.extend(_split(b.split, plan.model.project.key, root) for b in plan.buckets.values())
    if plan.distances:
        lines.append("clusters (nearest centroid of the fit file, squared distance, scaled):")
        lines.extend(_clusters(c.segmentation, c.columns, root) for c in plan.distances.values())
    return "\n".join(lines).rstrip() + "\n"


def _clusters(d: ast.Segmentation, columns: tuple[str, ...], root: Path) -> str:
    """`  personas (file:line): 4 clusters over 3 features, scale standard; distances
    personas_distance_1..4, ties to the lower number`."""
    c = d.clusters
    assert c is not None
    where = location(d.span, root)
    return (
        f"  {d.name} ({where}): {c.k} clusters over {len(c.features)} features, scale "
        f"{c.scale_method}; distances {columns[0]}..{columns[-1]}, ties to the lower number"
    )


def _split(split: ast.Split, key: str, root: Path) -> str:
    """`  cart_test of cart_abandoners (file:line): salt 'x' on customer_id; control
    0-999, email 1000-5499, rest: no group`."""
    ranges = [
        f"{g.name} {start}-{end - 1}"
        for g, (start, end) in zip(split.groups, bucket_ranges(split), strict=True)
    ]
    end = bucket_ranges(split)[-1][1] if split.groups else 0
    if end < BUCKETS:
        ranges.append(f"{end}-{BUCKETS - 1} no group")
    of = split.of.name if isinstance(split.of, ast.DefRef) else "?"
    where = location(split.span, root)
    return f"  {split.name} of {of} ({where}): salt {split.salt_text!r} on {key}; " + ", ".join(
        ranges
    )


def _read(read: Read, root: Path) -> list[str]:
    out = [f"  {read.name}: {read.form} ({read.why})", f"    {FORMS[read.form]}"]
    if not read.slots:
        out.append("    (no aggregates)")
    for slot in read.slots:
        users = ", ".join(f"{name} ({location(span, root)})" for name, span in slot.users)
        out.append(f"    {slot.column}: used by {users or '(the universe)'}")
    return out
