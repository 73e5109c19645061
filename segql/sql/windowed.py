"""The windowed pass: sliding `any` counts and sequences (LANGUAGE.md §6).

These need to compare rows with other rows of the same entity, which a grouped
aggregate cannot do. Each such aggregate (one per distinct sliding count or
sequence, however many segments use it) gets its own chain of CTEs:
`windowed_<a>_rows` reads only the rows that are one of its steps (UNION ALL of
its sources, one 0/1 flag column per step), window functions over
(key[, on-column]) ordered by the row's epoch microseconds find, for each
first-step row, what follows it (`windowed_<a>_1` …), and `windowed_<a>` groups
the result per key.

Why a chain per aggregate and not one shared read of every windowed source:
every window sorts the rows it sees with every column they carry, so a shared
read made each window sort the rows and flags of all the others. Measured on
the benchmark project at scale 1 (five windowed aggregates): 3.3 CPU s shared,
0.85 CPU s apart (docs/performance.md).

Portability: frames are RANGE frames over an integer (epoch microseconds), not
interval frames, which BigQuery and Snowflake lack; "strictly later" is
`1 FOLLOWING` (one microsecond), "at most D later" is `D FOLLOWING`.

Two-step sequences (`A then [not] B within D`) need no sort where hash joins
are cheap (`Dialect.pair_buckets`): rows are put in buckets of width D, and each
A row is joined with its own and the next bucket's earliest and latest B
(`pair_ctes`).

Otherwise, for a first-step row a with time t:
- `A then B … within D`: the earliest completion of the remaining steps is
  found from the last step backwards (each step's earliest follow-up strictly
  later), and must be <= t + D;
- `A then not B within D`: no B in (t, t + D], and t + D <= as_of;
- `A then B then not C within D`: with b* the latest B in (t, t + D] and c* the
  latest C there, b* exists and no C after it: c* is null or c* <= b*.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from segql.plan.logical import AggSlot
from segql.plan.physical import Read
from segql.sql.expressions import coalesce, col, ident, number, ordered
from segql.sql.scans import Scans
from segql.sql.windows import bounds, condition
from segql.syntax import ast

US = "us"  # epoch microseconds of the row (the only time column: every column
# a window sorts costs; dropping the instant beside it saved 8% of a sequence)
ON = "on"  # a sequence's `on` column


def _span_of(n: ast.Aggregate) -> ast.Duration:
    """The D of `count(…, any D)`."""
    assert isinstance(n.window, ast.SlidingWindow)
    return n.window.length


def micros(d: ast.Duration) -> int:
    assert d.unit in ast.FIXED_SECONDS, "resolve rejects months and years here"
    return d.amount * ast.FIXED_SECONDS[d.unit] * 1_000_000


def _flag(cond: exp.Expr | None) -> exp.Expr:
    if cond is None:
        return number(1)
    return exp.Case(ifs=[exp.If(this=cond, true=number(1))], default=number(0))


def _frame(start, start_side, end, end_side) -> exp.WindowSpec:
    return exp.WindowSpec(
        kind="RANGE", start=start, start_side=start_side, end=end, end_side=end_side
    )


def _aliased(cte: str, alias: str) -> exp.Table:
    return exp.Table(this=ident(cte), alias=exp.TableAlias(this=ident(alias)))


def _step(i: int) -> str:
    """The flag column of step i (0-based) in a slot's rows."""
    return f"s{i + 1}"


class WindowedPass:
    """Builds the CTEs of one windowed read (sliding count or sequence) in the
    form the physical plan chose: at_least, sliding_count or sorted_window
    here, pair_buckets in pairs.py."""

    def __init__(self, scans: Scans, read: Read, name: str):
        self.gen = scans
        self.read = read
        self.slot = read.slots[0]
        self.cte_name = name
        self.narrow = read.form == "at_least"  # only thresholds: only key and time
        self.key = scans.key
        n = self.slot.node
        if isinstance(n, ast.Sequence):
            # checks.check_sequence_steps; the grammar requires a second step
            negated = [s for s in n.steps if s.negated]
            assert not (negated and len(n.steps) > 3), "'then not' after 3 steps"
            assert len(n.steps) >= 2, "a sequence of one step"

    # -- the rows of one slot: a branch per source of its steps, a flag per step
    def steps(self, slot: AggSlot) -> list[tuple[str, ast.Expr | None]]:
        n = slot.node
        if isinstance(n, ast.Sequence):
            return [(s.source.name, s.where) for s in n.steps]
        return [(slot.source, n.where)]

    def rows_branch(self, slot: AggSlot, source: str) -> exp.Select:
        g = self.gen
        key = col(g.project.key)
        t = g.row_time(source)
        # "at least N": every row read is a row counted; only key and time are sorted
        narrow = self.narrow
        cols: list[exp.Expr] = [
            exp.alias_(key.copy(), self.key, quoted=True, copy=False),
            exp.alias_(g.dialect.epoch_us(t.copy()), US, quoted=True, copy=False),
        ]
        on = slot.node.on if isinstance(slot.node, ast.Sequence) else None
        if on is not None:
            cols.append(exp.alias_(g.row_column(source, on), ON, quoted=True, copy=False))
        # Only rows that are a step are read on: a row with every flag 0 changes
        # no window value, since every window aggregates flagged rows only.
        conds: list[exp.Expr] = []
        every_row = False
        for i, (src, where) in enumerate(self.steps(slot)):
            flag: exp.Expr = number(0)
            if src == source:
                parts = self.step_filters(slot, where, source, self.window_start(slot, t))
                cond = exp.and_(*parts, copy=False) if parts else None
                if cond is None:
                    every_row = True
                else:
                    conds.append(cond.copy())
                flag = _flag(cond)
            if not narrow:
                cols.append(exp.alias_(flag, _step(i), quoted=True, copy=False))
        keep = g.scan_filters(source)
        if conds and not every_row:
            keep.append(exp.paren(exp.or_(*conds, copy=False)))
        return (
            exp.select(*cols)
            .from_(g.source_rows(source), copy=False)
            .where(exp.and_(*keep, copy=False), copy=False)
        )

    def step_filters(
        self, slot: AggSlot, where: ast.Expr | None, source: str, since: exp.Expr | None
    ) -> list[exp.Expr]:
        """What makes a row of `source` a step: its `where`, a value in the `on`
        column, and the time condition `since`."""
        parts = [self.gen.rows.filter(where)] if where is not None else []
        on = slot.node.on if isinstance(slot.node, ast.Sequence) else None
        if on is not None:
            present = exp.Is(this=self.gen.row_column(source, on), expression=exp.null())
            parts.append(exp.not_(present))
        if since is not None:
            parts.append(since)
        return parts

    def window_start(self, slot: AggSlot, t: exp.Expr) -> exp.Expr | None:
        """A sequence's first step starts in its window and every later step follows
        it: no step of the sequence is a row before the window's start."""
        n = slot.node
        if not isinstance(n, ast.Sequence):
            return None
        b = bounds(n.window, self.gen.clock)
        if b.lower is None:
            return None
        op = exp.GTE if b.lower_inclusive else exp.GT
        return op(this=t.copy(), expression=b.lower.copy())

    def rows(self, slot: AggSlot) -> exp.Expr:
        sources: list[str] = []
        for src, _ in self.steps(slot):
            if src not in sources:
                sources.append(src)
        q: exp.Expr = self.rows_branch(slot, sources[0])
        for src in sources[1:]:
            q = exp.union(q, self.rows_branch(slot, src), distinct=False)
        return q

    # -- window columns
    def window(
        self, slot: AggSlot, this: exp.Expr, spec: exp.WindowSpec | None, desc: bool = False
    ) -> exp.Window:
        n = slot.node
        partition = [col(self.key)]
        if isinstance(n, ast.Sequence) and n.on:
            partition.append(col(ON))
        return exp.Window(
            this=this,
            partition_by=partition,
            # `us` is never null: no NULLS clause (BigQuery rejects one in windows)
            order=exp.Order(expressions=[ordered(col(US), desc)]),
            spec=spec,
        )

    def layers(self, slot: AggSlot) -> list[list[exp.Expr]]:
        """The slot's window columns, layer by layer (a later step's result feeds
        an earlier one)."""
        n = slot.node
        if self.narrow:
            # the time of the row N-1 rows later, for each threshold N >= 2
            leads = [
                exp.alias_(
                    self.window(slot, exp.Lead(this=col(US), offset=number(m - 1)), None),
                    f"n{m}",
                    quoted=True,
                    copy=False,
                )
                for m in sorted(slot.thresholds)
                if m >= 2
            ]
            return [leads] if leads else []
        if not isinstance(n, ast.Sequence):
            d = number(micros(_span_of(n)))
            spec = _frame("CURRENT ROW", None, d, "FOLLOWING")
            w = self.window(slot, exp.Sum(this=col(_step(0))), spec)
            return [[exp.alias_(w, "w", quoted=True, copy=False)]]
        k = len(n.steps)
        d = number(micros(n.within))
        if n.steps[-1].negated:
            # c: the latest last step within D after the row; b: the latest B
            within = _frame(number(1), "FOLLOWING", d, "FOLLOWING")
            latest = [(k - 1, "c"), (1, "b")] if k == 3 else [(k - 1, "c")]
            return [
                [
                    exp.alias_(
                        self.window(slot, exp.Max(this=self._time_if(_step(i))), within.copy()),
                        name,
                        quoted=True,
                        copy=False,
                    )
                    for i, name in latest
                ]
            ]
        # positive chain: r_j = earliest completion of steps j..k from a step-j row
        # "every later row", written as a frame growing from the partition's
        # start in descending time: PostgreSQL recomputes a frame ending at
        # UNBOUNDED FOLLOWING for each row (quadratic), not this one
        later = _frame("UNBOUNDED", "PRECEDING", number(1), "PRECEDING")
        prev = self._time_if(_step(k - 1))
        layers: list[list[exp.Expr]] = []
        for j in range(k - 2, -1, -1):  # steps k-1 … 1 (0-based j)
            earliest = self.window(slot, exp.Min(this=prev), later.copy(), desc=True)
            if j == 0:
                layers.append([exp.alias_(earliest, "r", quoted=True, copy=False)])
                continue
            step_row = exp.EQ(this=col(_step(j)), expression=number(1))
            guarded = exp.Case(ifs=[exp.If(this=step_row, true=earliest)])
            name = f"r{j + 1}"
            layers.append([exp.alias_(guarded, name, quoted=True, copy=False)])
            prev = col(name)
        return layers

    def _time_if(self, flag: str) -> exp.Expr:
        return exp.Case(
            ifs=[exp.If(this=exp.EQ(this=col(flag), expression=number(1)), true=col(US))]
        )

    def reached(self, slot: AggSlot) -> exp.Expr:
        """The largest threshold N reached from this row: N rows within D of it
        (sorted by time, the row N-1 later is at most D later), else 1 when 1 is a
        threshold (the row itself), else 0."""
        assert isinstance(slot.node, ast.Aggregate)
        d = number(micros(_span_of(slot.node)))
        least = 1 if 1 in slot.thresholds else 0
        ifs = [
            exp.If(
                this=exp.LTE(
                    this=exp.Sub(this=col(f"n{m}"), expression=col(US)), expression=d.copy()
                ),
                true=number(m),
            )
            for m in sorted(slot.thresholds, reverse=True)
            if m >= 2
        ]
        return exp.Case(ifs=ifs, default=number(least)) if ifs else number(least)

    # -- per-key result
    def hit(self, slot: AggSlot) -> exp.Expr:
        g = self.gen
        n = slot.node
        if self.narrow:
            return exp.Max(this=self.reached(slot))
        if not isinstance(n, ast.Sequence):
            return coalesce(exp.Max(this=col("w")), number(0))
        first = exp.EQ(this=col(_step(0)), expression=number(1))
        parts: list[exp.Expr] = [first]
        # the first step's window, on the rows' epoch microseconds
        w = bounds(n.window, g.clock)
        micros_of = g.dialect.epoch_us
        wc = condition(
            col(US),
            dataclasses.replace(
                w,
                lower=micros_of(w.lower) if w.lower is not None else None,
                upper=micros_of(w.upper) if w.upper is not None else None,
            ),
        )
        if wc is not None:
            parts.append(wc)
        d = number(micros(n.within))
        deadline = exp.Add(this=col(US), expression=d)
        if n.steps[-1].negated:
            # the follow-up period has ended
            parts.append(exp.LTE(this=deadline.copy(), expression=g.clock.as_of_us()))
            b, c = col("b"), col("c")
            if len(n.steps) == 2:
                parts.append(exp.Is(this=c, expression=exp.null()))
            else:
                parts.append(exp.not_(exp.Is(this=b, expression=exp.null())))
                parts.append(
                    exp.paren(
                        exp.or_(
                            exp.Is(this=c.copy(), expression=exp.null()),
                            exp.LTE(this=c.copy(), expression=b.copy()),
                        )
                    )
                )
        else:
            parts.append(exp.LTE(this=col("r"), expression=deadline))
        return exp.Max(this=_flag(exp.and_(*parts, copy=False)))

    def ctes(self) -> list[tuple[str, exp.Expr]]:
        slot, name = self.slot, self.cte_name
        prev = f"{name}_rows"
        out: list[tuple[str, exp.Expr]] = [(prev, self.rows(slot))]
        for i, cols in enumerate(self.layers(slot), start=1):
            layer = exp.select(exp.Star(), *cols).from_(ident(prev), copy=False)
            out.append((f"{name}_{i}", layer))
            prev = f"{name}_{i}"
        result = exp.alias_(self.hit(slot), slot.column, quoted=True, copy=False)
        grouped = (
            exp.select(col(self.key), self.gen.comment(result, slot))
            .from_(ident(prev), copy=False)
            .group_by(col(self.key), copy=False)
        )
        out.append((name, grouped))
        return out
