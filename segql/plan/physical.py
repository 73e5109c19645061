"""The physical plan: how each aggregate of the logical plan is computed on a
dialect, decided here, before any SQL is written, and printed by
`segql compile --explain` (plan/explain.py).

Each `Read` is one CTE of per-key results with the form the generator writes
(segql/sql/scans.py, windowed.py, pairs.py) and why that form was chosen.
The choices, and what they were measured against, are in
docs/performance.md:

- every aggregate a grouped scan can compute is one column of the source's
  grouped scan, shared by every definition that uses it;
- count_distinct of one value gets (key, value) pairs apart from the scan;
- first/last of a value other than the time: the rows at that time;
- mode, median and quantile of one value (any windows and filters): one read
  of (key, value) counts and running counts sorted by value (order_stat);
  but median and quantiles whose p is exact in binary, on engines with an
  exact PERCENTILE_DISC aggregate: one more column of the grouped scan;
- a sliding count compared only with numbers: "at least N" by LEAD; any
  other sliding count: a RANGE frame;
- a two-step sequence on engines with cheap hash joins: buckets; any other
  sequence with `within`: window functions over its step rows sorted by time;
- a sequence without `within` (LANGUAGE.md §17): two steps, none `directly`,
  are the extremes of each step per key (no sort); any other: each step's
  matches carried over the key's instants in time order (`then`: a running
  MAX, `directly`: LAG, `then not`: nothing later).
"""

from __future__ import annotations

from dataclasses import dataclass

from segql.plan.logical import AggSlot, Plan
from segql.semantic.registry import AGGREGATES
from segql.syntax import ast
from segql.syntax.ast import SourceCol

# past these, "at least N" is computed from the count itself
MAX_THRESHOLD = 10_000
MAX_THRESHOLDS = 8

# what each form does, for --explain
FORMS = {
    "grouped_scan": "one GROUP BY key over the source; each aggregate is a conditional "
    "aggregate (CASE inside COUNT/SUM/...)",
    "distinct_one": "(key, value) pairs of the rows counted, then pairs counted per key",
    "distinct_latest": "(key, value) pairs with their latest time, counted per window "
    "(every window only has a start and the filter is shared)",
    "distinct_marked": "(key, value) pairs with a 0/1 mark per window and filter, "
    "marks counted per key",
    "at_time": "the first/last time per key, then MIN/MAX of the values of the rows at that time",
    "at_least": "rows sorted by time per key; LEAD tells whether N rows fall within the "
    "span (only compared with numbers: only thresholds matter)",
    "sliding_count": "a RANGE frame counts the rows within the span after each row; "
    "the busiest span per key",
    "pair_buckets": "rows in buckets of the 'within' span; each first-step row joined "
    "with its own and the next bucket's earliest and latest second step; no sort",
    "sorted_window": "window functions over the step rows sorted by time per key, "
    "from the last step back",
    "extremes": "per key one grouped read of both steps' rows, no sort: A then B is "
    "min(A) < max(B); A then not B is max(A) >= max(B) (a B at A's instant is not later), "
    "or no B",
    "instant_chain": "the rows of the sequence's sources grouped by instant per key; each "
    "step's matches carried forward over the instants (then: any earlier instant, "
    "directly: the previous instant, then not: no later instant has the step)",
    "order_stat": "a count per (key, value) for each statistic's window and filter, "
    "running counts sorted by value per key; the value where the running count reaches "
    "the rank (median, quantile) or the largest count, smallest value first (mode)",
}


@dataclass(frozen=True)
class Read:
    """One CTE of per-key aggregates."""

    form: str
    name: str  # the CTE's name (the generator may prefix it)
    source: str  # the source read (a sequence's first step's source)
    slots: tuple[AggSlot, ...]
    why: str


@dataclass
class PhysicalPlan:
    plan: Plan
    reads: list[Read]

    def read_of(self, slot: AggSlot) -> Read:
        return next(r for r in self.reads if any(s is slot for s in r.slots))


def open_ended(w: ast.Window | None) -> bool:
    """A window with a start only (as_of bounds every read from above)."""
    match w:
        case ast.AgoWindow() | ast.AnchoredWindow():
            return False
        case ast.StaticWindow(end=e):
            return e is None
        case ast.CalendarWindow(offset=k):
            return k == 0
    return True


def is_windowed(slot: AggSlot) -> bool:
    n = slot.node
    return isinstance(n, ast.Sequence) or isinstance(n.window, ast.SlidingWindow)


def at_least(slot: AggSlot) -> bool:
    """A sliding count only compared with few, small numbers (plan.AggSlot)."""
    return (
        isinstance(slot.node, ast.Aggregate)
        and not slot.value_used
        and len(slot.thresholds) <= MAX_THRESHOLDS
        and max(slot.thresholds, default=0) <= MAX_THRESHOLD
    )


def _windowed(slot: AggSlot, pair_buckets: bool, name: str) -> Read:
    n = slot.node
    if isinstance(n, ast.Aggregate):
        if at_least(slot):
            marks = ", ".join(map(str, sorted(slot.thresholds)))
            why = f"only compared with numbers: at least {marks} rows"
            return Read("at_least", name, slot.source, (slot,), why)
        why = "its value is used" if slot.value_used else "too many thresholds"
        return Read("sliding_count", name, slot.source, (slot,), why)
    if n.within is None:
        if len(n.steps) == 2 and not n.steps[1].directly:
            why = "two steps without 'within': the earliest A and the latest B tell"
            return Read("extremes", name, slot.source, (slot,), why)
        why = "'directly'" if any(s.directly for s in n.steps) else "more than two steps"
        return Read("instant_chain", name, slot.source, (slot,), why + " without 'within'")
    if len(n.steps) == 2 and pair_buckets:
        return Read("pair_buckets", name, slot.source, (slot,), "two steps; hash joins are cheap")
    why = (
        "more than two steps"
        if len(n.steps) > 2
        else "two steps, but this engine sorts cheaper than it joins buckets"
    )
    return Read("sorted_window", name, slot.source, (slot,), why)


def percentile_in_scan(slot: AggSlot, percentile_disc: bool) -> bool:
    """median/quantile as PERCENTILE_DISC in the grouped scan: the engine has an
    exact one and p is exact in binary (½, ¼, ¾, …), so that the engine's
    floating-point p·n is the exact ⌈p·n⌉ (0.3 × 10 is 3.0000000000000004).
    Measured 1.8–5.6× faster than the order_stat read (docs/performance.md)."""
    n = slot.node
    if not percentile_disc or not isinstance(n, ast.Aggregate):
        return False
    rank = AGGREGATES[n.func].rank
    p = rank(n) if rank is not None else None
    return p is not None and p.denominator & (p.denominator - 1) == 0


def physical(plan: Plan, pair_buckets: bool, percentile_disc: bool = False) -> PhysicalPlan:
    """The reads computing every aggregate slot of the plan, in a stable order:
    grouped scans by source, then count_distinct pairs, first/last values and
    windowed constructs in the order their slots were planned."""
    needs_all = plan.model.project.profiles is None  # the universe is every key seen
    # a sessions source sees no key its parent does not: it adds none to the universe
    has_table = {n for n, src in plan.model.project.sources.items() if src.sessions is None}
    scans: list[Read] = []
    distinct: dict[tuple, list[AggSlot]] = {}  # (source, value) -> slots
    valued: dict[tuple, list[AggSlot]] = {}  # (source, func, window, where) -> slots
    ordered: dict[tuple, list[AggSlot]] = {}  # (source, value) -> slots
    windowed: list[Read] = []
    for source, slots in plan.by_source().items():
        grouped = []
        # values some order_stat read sorts anyway (a mode, a p not exact in
        # binary): their medians and quantiles join it, one read of the value
        sorted_anyway = {
            s.node.value
            for s in slots
            if not is_windowed(s)
            and AGGREGATES[s.node.func].form == "order_stat"  # type: ignore[union-attr]
            and not percentile_in_scan(s, percentile_disc)
        }
        for s in slots:
            n = s.node
            if is_windowed(s):
                windowed.append(_windowed(s, pair_buckets, f"windowed_{s.column}"))
            elif AGGREGATES[n.func].form == "distinct":  # type: ignore[union-attr]
                distinct.setdefault((source, n.value), []).append(s)  # type: ignore[union-attr]
            elif percentile_in_scan(s, percentile_disc) and n.value not in sorted_anyway:  # type: ignore[union-attr]
                grouped.append(s)
            elif AGGREGATES[n.func].form == "order_stat":  # type: ignore[union-attr]
                ordered.setdefault((source, n.value), []).append(s)  # type: ignore[union-attr]
            elif _at_time(plan, s):
                valued.setdefault((source, n.func, n.window, n.where), []).append(s)  # type: ignore[union-attr]
            else:
                grouped.append(s)
        if grouped or (needs_all and source in has_table):
            why = (
                f"{len(grouped)} aggregate(s) in one read"
                if grouped
                else "no aggregates, but the universe is every key seen in a source"
            )
            scans.append(Read("grouped_scan", f"src_{source}", source, tuple(grouped), why))
    reads = scans
    for (source, _), slots in distinct.items():
        form, why = _distinct_form(slots)
        reads.append(Read(form, f"distinct_{slots[0].column}", source, tuple(slots), why))
    for (source, func, *_), slots in valued.items():
        why = f"{func} of a value other than {source}'s time"
        reads.append(Read("at_time", f"value_{slots[0].column}", source, tuple(slots), why))
    for (source, _), slots in ordered.items():
        funcs = ", ".join(dict.fromkeys(s.node.func for s in slots))  # type: ignore[union-attr]
        why = f"{len(slots)} exact order statistic(s) ({funcs}) of one value in one read"
        reads.append(Read("order_stat", f"order_{slots[0].column}", source, tuple(slots), why))
    return PhysicalPlan(plan, reads + windowed)


def _at_time(plan: Plan, slot: AggSlot) -> bool:
    """first/last of a value other than its source's time (of the time itself it
    is a MIN/MAX in the grouped scan)."""
    n = slot.node
    if not isinstance(n, ast.Aggregate) or AGGREGATES[n.func].form != "at_time":
        return False
    time = plan.model.project.sources[slot.source].time
    return not (isinstance(n.value, SourceCol) and n.value.column == time)


def _distinct_form(slots: list[AggSlot]) -> tuple[str, str]:
    if len(slots) == 1:
        return "distinct_one", "one count: every row read is a row counted"
    wheres = {s.node.where for s in slots}  # type: ignore[union-attr]
    if len(wheres) == 1 and all(open_ended(s.node.window) for s in slots):
        return "distinct_latest", f"{len(slots)} counts of one value, windows with a start only"
    return "distinct_marked", f"{len(slots)} counts of one value with different bounds or filters"
