"""Plan: what the membership query must compute, independent of dialect.

- which definitions are needed (the selection and what it refers to),
- one slot per distinct aggregate, grouped by source (one grouped scan each),
- one slot per distinct rank argument (percentile and score share it),
- the layer of every computed column: a definition or rank is computed one
  layer after everything it refers to, so each is evaluated once and referred
  to by name, however many segments use it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeGuard

from segql.errors import Span
from segql.plan.names import Namer, aggregate_words, value_words
from segql.semantic.model import DefRef, LabelRef, Model, ProfileRef, source_of
from segql.semantic.registry import AGGREGATES, FUNCTIONS
from segql.syntax import ast

# the columns of the SQL stage's inner queries (scans, pairs, windows): the
# key's column takes another name than these
INTERNAL_COLUMNS = re.compile(r"(?i)(v|t|us|on|g|lo|hi|w|r|b|c|le|n|[srnm]\d+|[hv]_.*)")


@dataclass
class AggSlot:
    column: str  # named after the aggregate: orders_count_last_30_days (plan/names.py)
    node: ast.Aggregate | ast.Sequence
    source: str
    # the definitions computed from it, each with where it is written
    users: list[tuple[str, Span]] = field(default_factory=list)
    # A sliding count (`count(x, any D)`) only ever compared with numbers needs
    # only "at least N rows within D" for the N where a comparison's answer can
    # change: `thresholds`. Its column is then the largest such N reached (not
    # the count), which every one of those comparisons answers alike, and is
    # far cheaper to compute (plan/physical.py: at_least). `value_used`: some use needs the count.
    value_used: bool = False
    thresholds: set[int] = field(default_factory=set)


@dataclass
class RankSlot:
    column: str  # rank_<what is ranked> → its _le and _n columns
    arg: ast.Expr
    layer: int = 0


@dataclass
class DefSlot:
    column: str
    name: str
    definition: ast.Definition
    layer: int = 0


@dataclass
class BucketSlot:
    """A split's bucket (md5_bucket of the key) for the members of its segment,
    computed one layer before the split's group so that it is hashed once."""

    column: str  # <split>_bucket
    split: ast.Split
    layer: int = 0


@dataclass
class DistanceSlot:
    """A clusters segmentation's squared distance to each centroid, one column
    per cluster, computed one layer before its label: the label compares the
    columns (K² comparisons of names, not of K-term sums)."""

    columns: tuple[str, ...]  # <segmentation>_distance_<n>, cluster 1 first
    segmentation: ast.Segmentation
    layer: int = 0


@dataclass
class Plan:
    model: Model
    outputs: tuple[str, ...]  # selected segments/segmentations, in order
    mode: str  # "membership" | "segment" | "segmentation"
    key: str = "key"  # the key's column in every per-key CTE
    profile_columns: dict[str, str] = field(default_factory=dict)  # column -> its alias
    aggregates: dict[ast.Node, AggSlot] = field(default_factory=dict)
    ranks: dict[ast.Node, RankSlot] = field(default_factory=dict)
    defs: dict[str, DefSlot] = field(default_factory=dict)
    buckets: dict[str, BucketSlot] = field(default_factory=dict)  # split -> its bucket
    distances: dict[str, DistanceSlot] = field(default_factory=dict)  # clusters -> distances
    names: Namer = field(default_factory=Namer)
    # anchored windows' anchors (LANGUAGE.md §17) -> their column in the anchors
    # CTE, each evaluated once per entity by a plan of its own (sql/anchors.py)
    anchors: dict[ast.Node, str] = field(default_factory=dict)
    # their names after ANCHOR_PREFIX (`key` is the anchors' key: segql_anchor_key)
    anchor_names: Namer = field(default_factory=lambda: Namer(reserved=("key",)))
    using: DefSlot | None = None  # the definition whose slots are being collected

    def by_source(self) -> dict[str, list[AggSlot]]:
        out: dict[str, list[AggSlot]] = {s: [] for s in self.model.project.sources}
        for slot in self.aggregates.values():
            out[slot.source].append(slot)
        return out

    def layers(self) -> list[list[RankSlot | BucketSlot | DistanceSlot | DefSlot]]:
        top = max(
            [0, *(s.layer for s in self.defs.values()), *(r.layer for r in self.ranks.values())]
        )
        out: list[list[RankSlot | BucketSlot | DistanceSlot | DefSlot]] = [[] for _ in range(top)]
        for r in self.ranks.values():
            out[r.layer - 1].append(r)
        for b in self.buckets.values():
            out[b.layer - 1].append(b)
        for c in self.distances.values():
            out[c.layer - 1].append(c)
        for d in self.defs.values():
            out[d.layer - 1].append(d)
        return out


def plan(model: Model, outputs: tuple[str, ...], mode: str = "membership") -> Plan:
    """Collect the slots and layers needed to compute `outputs`."""
    key = model.project.key
    p = Plan(model, outputs, mode, key=key if not INTERNAL_COLUMNS.fullmatch(key) else "entity_key")
    p.names = Namer((p.key,))
    closure = _closure(model, outputs)
    needed = [n for n in model.definitions if n in closure]
    # definitions are named first: a definition's column is its name whenever
    # it is a plain word
    for name in needed:  # dependency order: referred-to first
        column = p.names.name(name, fallback="definition")
        p.defs[name] = DefSlot(column, name, model.definitions[name])
    for name in needed:
        slot = p.using = p.defs[name]
        d = slot.definition
        exprs = ast.definition_exprs(d)
        slot.layer = 1 + max([0, *(_level(p, e) for e in exprs)])
        if isinstance(d, ast.Split):
            column = p.names.name(f"{name}_bucket", fallback="bucket")
            p.buckets[name] = BucketSlot(column, d, slot.layer)
            slot.layer += 1
        if isinstance(d, ast.Segmentation) and d.clusters is not None:
            columns = tuple(
                p.names.name(f"{name}_distance_{n}", fallback="distance")
                for n in range(1, d.clusters.k + 1)
            )
            p.distances[name] = DistanceSlot(columns, d, slot.layer)
            slot.layer += 1
    p.using = None
    if model.universe is not None:
        _collect(p, model.universe)
    return p


BUCKETS = 10000  # a split's buckets: 0.01% each (LANGUAGE.md §13)


def bucket_ranges(split: ast.Split) -> list[tuple[int, int]]:
    """Each group's buckets [start, end): contiguous ranges in the written order,
    so that a group added after the others, from the rest, moves no one."""
    out, start = [], 0
    for g in split.groups:
        end = start + int(g.percent * BUCKETS / 100)
        out.append((start, end))
        start = end
    return out


def slot_key(node: ast.Aggregate | ast.Sequence) -> ast.Aggregate | ast.Sequence:
    """The slot an aggregate is computed in: `did(x, w)` is `count(x, w) > 0`, so
    both share the count's column (registry: planned_as)."""
    if isinstance(node, ast.Aggregate):
        planned_as = AGGREGATES[node.func].planned_as
        if planned_as is not None:
            return dataclasses.replace(node, func=planned_as)
    return node


def _closure(model: Model, outputs: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        d = model.definitions[n]
        exprs = ast.definition_exprs(d)
        for e in exprs:
            for node in _outside_anchors(e):
                if isinstance(node, DefRef):
                    stack.append(node.name)
                elif isinstance(node, LabelRef):
                    stack.append(node.segmentation)
    return seen


def _outside_anchors(e: ast.Node):
    """ast.walk, but not into anchored windows' anchors: they are computed by the
    anchors' own plan (sql/anchors.py), not in this one's layers."""
    stack = [e]
    while stack:
        n = stack.pop()
        yield n
        kids = ast.children(n)
        if isinstance(n, ast.AnchoredWindow):
            kids = [k for k in kids if k is not n.anchor]
        stack.extend(reversed(kids))


def _collect(p: Plan, e: ast.Expr) -> None:
    for node in ast.walk(e):
        if isinstance(node, ProfileRef) and node.column not in p.profile_columns:
            p.profile_columns[node.column] = p.names.name(node.column, fallback="column")


def _slot(p: Plan, e: ast.Aggregate | ast.Sequence) -> AggSlot:
    key = slot_key(e)
    if key not in p.aggregates:
        source = source_of(e) if isinstance(e, ast.Aggregate) else e.steps[0].source.name
        column = p.names.name(aggregate_words(key), fallback="aggregate")
        p.aggregates[key] = AggSlot(column, key, source)
    slot = p.aggregates[key]
    if isinstance(e.window, ast.AnchoredWindow):
        _anchor(p, e.window.anchor)
    if p.using is not None and all(u != p.using.name for u, _ in slot.users):
        slot.users.append((p.using.name, e.span))
    return slot


# the anchors' columns are read beside a source's own columns (a join): a
# prefix no column of a project's tables is expected to have
ANCHOR_PREFIX = "segql_anchor_"


def _anchor(p: Plan, anchor: ast.Node) -> None:
    if anchor in p.anchors:
        return
    if isinstance(anchor, ast.Aggregate | ast.Sequence):
        words = aggregate_words(anchor)  # orders_first_ordered_at
    else:
        words = value_words(anchor)
    p.anchors[anchor] = ANCHOR_PREFIX + p.anchor_names.name(words)


_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _sliding_count(e: ast.Node) -> TypeGuard[ast.Aggregate]:
    return (
        isinstance(e, ast.Aggregate)
        and e.func == "count"
        and isinstance(e.window, ast.SlidingWindow)
    )


def _number(e: ast.Node) -> Decimal | None:
    """The value of a number literal, or of a negated one."""
    if isinstance(e, ast.Number):
        return e.value
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Number):
        return -e.operand.value
    return None


def breakpoints(op: str, c: Decimal) -> set[int]:
    """The counts m >= 1 at which `m op c` changes its answer from m - 1 to m."""
    if op in (">=", "<"):  # true from ceil(c) on
        at = {math.ceil(c)}
    elif op in (">", "<="):  # true from floor(c) + 1 on
        at = {math.floor(c) + 1}
    elif c == c.to_integral_value():  # = and !=: at c and just after it
        at = {int(c), int(c) + 1}
    else:  # = or != a fraction: the same answer for every count
        at = set()
    return {m for m in at if m >= 1}


def _level(p: Plan, e: ast.Node) -> int:
    """Register the slots e needs and return the layer its inputs are ready at."""
    match e:
        case ast.Binary(op=op, left=a, right=b) if op in _FLIPPED and (
            (_sliding_count(a) and _number(b) is not None)
            or (_sliding_count(b) and _number(a) is not None)
        ):
            if not _sliding_count(a):  # `3 <= count(…)`: the count on the left
                a, b, op = b, a, _FLIPPED[op]
            assert isinstance(a, ast.Aggregate)
            c = _number(b)
            assert c is not None
            _slot(p, a).thresholds |= breakpoints(op, c)
            return 0
        case ast.Between(operand=a, low=lo, high=hi) if (
            _sliding_count(a) and _number(lo) is not None and _number(hi) is not None
        ):
            low, high = _number(lo), _number(hi)
            assert low is not None and high is not None
            # (not) low <= count <= high
            _slot(p, a).thresholds |= breakpoints(">=", low) | breakpoints("<=", high)
            return 0
        case ast.Aggregate() | ast.Sequence():
            _slot(p, e).value_used = True
            return 0
        case ProfileRef():
            _collect(p, e)
            return 0
        case DefRef(name=n):
            return p.defs[n].layer
        case LabelRef(segmentation=n):
            return p.defs[n].layer
        case ast.Call(func=f, args=args) if FUNCTIONS[f].ranked:
            arg = args[0]
            if arg not in p.ranks:
                # register the ranks inside arg first: they take the lower numbers
                level = 1 + _level(p, arg)
                column = p.names.name(f"rank_{value_words(arg)}", fallback="rank")
                p.names.taken |= {f"{column}_le".lower(), f"{column}_n".lower()}
                p.ranks[arg] = RankSlot(column, arg, level)
            slot = p.ranks[arg]
            return max(slot.layer, *(_level(p, a) for a in args[1:])) if args[1:] else slot.layer
    return max([0, *(_level(p, c) for c in ast.children(e))])
