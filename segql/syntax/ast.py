"""The segql AST: frozen dataclasses, built by both front ends (.seg and YAML).

Every node carries a `span`; spans are excluded from equality so that the
`.seg` and `.yml` forms of one definition compare equal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from segql.errors import Span

NOSPAN = Span("<builtin>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NOSPAN, compare=False, repr=False)  # type: ignore[return-value]


class Node:
    span: Span


# ---------------------------------------------------------------- literals


@dataclass(frozen=True)
class Number(Node):
    value: Decimal
    span: Span = _span()


@dataclass(frozen=True)
class String(Node):
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Boolean(Node):
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class Null(Node):
    span: Span = _span()


@dataclass(frozen=True)
class DateLit(Node):
    value: dt.date
    span: Span = _span()


@dataclass(frozen=True)
class TimestampLit(Node):
    value: dt.datetime
    span: Span = _span()


UNITS = ("second", "minute", "hour", "day", "week", "month")

# seconds per unit: exact for second … week; a month and a year have no fixed
# length, so where one is needed (a half-life, ordering two windows) the mean
# Gregorian month / year is used
FIXED_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
MEAN_SECONDS = {**FIXED_SECONDS, "month": 2629746, "year": 31556952}


@dataclass(frozen=True)
class Duration(Node):
    """`N unit` — unit is one of UNITS (singular)."""

    amount: int
    unit: str
    span: Span = _span()


# ---------------------------------------------------------------- names and operators


@dataclass(frozen=True)
class Name(Node):
    """A bare name: trait, segment, segmentation, label, profile column, or
    (inside an aggregate) a source or one of its columns."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Column(Node):
    """`source.column`."""

    source: str
    column: str
    span: Span = _span()


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "not" | "-"
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / = != < <= > >= and or
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class InList(Node):
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Between(Node):
    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class IsNull(Node):
    operand: Expr
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Like(Node):
    operand: Expr
    pattern: Expr
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Call(Node):
    """A function on values: days_since, weekday, hour, date, coalesce, lower,
    abs, percentile, score."""

    func: str
    args: tuple[Expr, ...]
    span: Span = _span()


# ---------------------------------------------------------------- windows


@dataclass(frozen=True)
class RollingWindow(Node):
    """`last N units`: as_of - N < time <= as_of."""

    length: Duration
    span: Span = _span()


@dataclass(frozen=True)
class AgoWindow(Node):
    """`N to M units ago` (newer=N, older=M) or `before N units ago` (older=None)."""

    newer: Duration
    older: Duration | None
    span: Span = _span()


@dataclass(frozen=True)
class StaticWindow(Node):
    """`D1 to D2` (whole days, both included), `since D`, `before D`.

    start is inclusive, end is inclusive for `to` and exclusive for `before`.
    Values are dates or timestamps."""

    kind: str  # "range" | "since" | "before"
    start: dt.date | dt.datetime | None
    end: dt.date | dt.datetime | None
    span: Span = _span()


CALENDAR_UNITS = ("day", "week", "month", "year")


@dataclass(frozen=True)
class CalendarWindow(Node):
    """`today` (day, 0), `yesterday` (day, 1), `this week` (week, 0), `previous month`."""

    unit: str
    offset: int
    span: Span = _span()


@dataclass(frozen=True)
class SlidingWindow(Node):
    """`any 24 hours` (count only): most rows within one span of that length."""

    length: Duration
    span: Span = _span()


@dataclass(frozen=True)
class AnchoredWindow(Node):
    """`N to M units after ANCHOR` (`first M units after ANCHOR` is N = 0, first=True):
    anchor + N < time <= anchor + M, ANCHOR an instant per entity (LANGUAGE.md §17)."""

    start: Duration
    end: Duration
    anchor: Expr
    first: bool = False  # written `first M units after` (the formatter keeps the form)
    span: Span = _span()


Window = RollingWindow | AgoWindow | StaticWindow | CalendarWindow | SlidingWindow | AnchoredWindow


# ---------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class Aggregate(Node):
    """`func(value [where cond] [, param] [, window])`; value is a source Name
    (count, did, decayed_count) or an expression over one source's columns."""

    func: str
    value: Expr
    where: Expr | None = None
    window: Window | None = None
    half_life: Duration | None = None
    span: Span = _span()
    param: Expr | None = None  # an aggregate's own argument: quantile(x, p)


@dataclass(frozen=True)
class Step(Node):
    """One step of a sequence: a source with an optional filter."""

    source: Name
    where: Expr | None = None
    negated: bool = False
    span: Span = _span()
    # `then directly B`: the first row strictly later than the previous step, among
    # all rows of the sequence's sources, is a B row (LANGUAGE.md §17)
    directly: bool = False


@dataclass(frozen=True)
class Sequence(Node):
    """`did(A then [directly] B [then not C] [within D [on column]] [, window])`."""

    steps: tuple[Step, ...]
    within: Duration | None  # None: any time later, up to as_of (LANGUAGE.md §17)
    on: str | None = None
    window: Window | None = None
    span: Span = _span()


# ---------------------------------------------------------------- bound references
# The resolver replaces names by these (segql/semantic/resolve.py); they live here so
# that `Expr` covers parsed and resolved trees alike.


@dataclass(frozen=True)
class ProfileRef(Node):
    """A column of the profile table (an attribute of the entity)."""

    column: str
    type: str
    span: Span = _span()


@dataclass(frozen=True)
class SourceRef(Node):
    """A source as the value of count / did / decayed_count: its rows."""

    source: str
    span: Span = _span()


@dataclass(frozen=True)
class SourceCol(Node):
    """A column of a source row, inside an aggregate."""

    source: str
    column: str
    type: str
    span: Span = _span()


@dataclass(frozen=True)
class DefRef(Node):
    """A reference to a trait, segment or segmentation."""

    name: str
    kind: str  # "trait" | "segment" | "segmentation" | "split"
    type: str
    span: Span = _span()


@dataclass(frozen=True)
class LabelRef(Node):
    """A segmentation label used as a condition: the entity carries that label."""

    segmentation: str
    label: str
    span: Span = _span()


Expr = (
    Number
    | String
    | Boolean
    | Null
    | DateLit
    | TimestampLit
    | Duration
    | Name
    | Column
    | Unary
    | Binary
    | InList
    | Between
    | IsNull
    | Like
    | Call
    | Aggregate
    | Sequence
    | ProfileRef
    | SourceRef
    | SourceCol
    | DefRef
    | LabelRef
)


# ---------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Trait(Node):
    name: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Segment(Node):
    name: str
    expr: Expr
    title: str | None = None
    hypothesis: str | None = None
    channels: tuple[str, ...] = ()
    kpis: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class Rule(Node):
    label: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class CatchAll(Node):
    label: str
    span: Span = _span()


SCALE_METHODS = ("standard", "minmax", "none")  # a clusters segmentation's `scale`


@dataclass(frozen=True)
class ClusterName(Node):
    """`3 at_risk` in a clusters segmentation's `names { … }`: cluster 3's label."""

    number: int
    label: str
    span: Span = _span()


@dataclass(frozen=True)
class ClusterFit(Node):
    """What `segql fit` wrote (clusters/<name>.json, LANGUAGE.md §14), as resolve
    read it: never written in a file, so never printed by fmt. x' = (x − center)
    / scale per feature; `centroids` in the scaled space, cluster 1 first."""

    center: tuple[float, ...]
    scale: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    span: Span = _span()


@dataclass(frozen=True)
class Clusters(Node):
    """`by clusters(K) on (F1, F2, …) { scale M  names { 1 a  2 b } }` (§14).

    Fields as written: `k` the number of clusters, `features` the expressions
    (numbers), `scale` the method written (None: not written, i.e. standard),
    `names` the written labels in their written order. `fit` is None from the
    front ends; resolve fills it from the fit file."""

    k: int
    features: tuple[Expr, ...]
    scale: str | None = None  # "standard" | "minmax" | "none"; None = standard
    names: tuple[ClusterName, ...] = ()
    span: Span = _span()
    fit: ClusterFit | None = None

    @property
    def scale_method(self) -> str:
        return self.scale or "standard"

    def label(self, number: int) -> str:
        """Cluster `number`'s label (1-based): its name, else cluster_<n>."""
        for n in self.names:
            if n.number == number:
                return n.label
        return f"cluster_{number}"


@dataclass(frozen=True)
class Segmentation(Node):
    """`by priority` / `by weight`: `rules` in order. `by clusters`: no rules,
    `clusters` holds K, the features, scale and names (LANGUAGE.md §14)."""

    name: str
    by: str  # "priority" | "weight" | "clusters"
    rules: tuple[Rule, ...]
    catch_all: CatchAll | None = None
    span: Span = _span()
    clusters: Clusters | None = None  # set exactly when by == "clusters"


@dataclass(frozen=True)
class Group(Node):
    """One group of a split: `control 10%` (percent = Decimal("10"))."""

    name: str
    percent: Decimal
    span: Span = _span()


@dataclass(frozen=True)
class Split(Node):
    """`split NAME of SEGMENT [salt "…"] { GROUP N% … }` (LANGUAGE.md §13): each
    member of the segment gets the group of its hash bucket; others get null."""

    name: str
    of: Expr  # the segment: a Name as written, a DefRef once resolved
    groups: tuple[Group, ...]
    salt: str | None = None  # None: the split's name
    span: Span = _span()

    @property
    def salt_text(self) -> str:
        return self.name if self.salt is None else self.salt


Definition = Trait | Segment | Segmentation | Split


@dataclass(frozen=True)
class Module(Node):
    """The definitions of one file."""

    file: str
    definitions: tuple[Definition, ...]
    span: Span = _span()
    # the file's text as read: its errors are shown from it, never from the file
    # read again (it may have changed since)
    text: str = field(default="", compare=False, repr=False)
    # names of definitions (and labels) of the file that did not parse: they are
    # not in `definitions`, and resolve is silent about uses of them
    broken: tuple[str, ...] = ()


def defined_names(d: Definition) -> tuple[str, ...]:
    """The names a definition adds to the namespace: its own, and a segmentation's labels."""
    if isinstance(d, Segmentation):
        catch_all = (d.catch_all.label,) if d.catch_all is not None else ()
        named = tuple(n.label for n in d.clusters.names) if d.clusters is not None else ()
        return (d.name, *(r.label for r in d.rules), *named, *catch_all)
    return (d.name,)


def segmentation_labels(d: Segmentation) -> list[str]:
    """Every label a segmentation gives, in order: its rules' (a clusters
    segmentation's clusters, cluster 1 first), then `else`."""
    if d.clusters is not None:
        labels = [d.clusters.label(n) for n in range(1, d.clusters.k + 1)]
    else:
        labels = [r.label for r in d.rules]
    return labels + ([d.catch_all.label] if d.catch_all is not None else [])


def definition_exprs(d: Definition) -> list[Expr]:
    """The expressions a definition is computed from: a segmentation's rules, the
    segment a split divides, else its one expression."""
    if isinstance(d, Segmentation):
        if d.clusters is not None:
            return list(d.clusters.features)
        return [r.expr for r in d.rules]
    if isinstance(d, Split):
        return [d.of]
    return [d.expr]


def children(node: Node) -> list[Node]:
    """Direct child nodes, for generic walks."""
    out: list[Node] = []
    for name in node.__dataclass_fields__:  # type: ignore[attr-defined]
        if name == "span":
            continue
        value = getattr(node, name)
        if isinstance(value, Node):
            out.append(value)
        elif isinstance(value, tuple):
            out.extend(v for v in value if isinstance(v, Node))
    return out


def walk(node: Node):
    """Pre-order walk of a node and its descendants."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))
