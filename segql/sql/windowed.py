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
from segql.sql.expressions import coalesce, col, ident, number, ordered, table_expr
from segql.sql.windows import bounds, condition
from segql.syntax import ast

US = "us"  # epoch microseconds of the row (the only time column: every column
# a window sorts costs; dropping the instant beside it saved 8% of a sequence)
ON = "on"  # a sequence's `on` column


def _span_of(n: ast.Aggregate) -> ast.Duration:
    """The D of `count(…, any D)`."""
    assert isinstance(n.window, ast.SlidingWindow)
    return n.window.length


# past these, "at least N" is computed from the count itself
MAX_THRESHOLD = 10_000
MAX_THRESHOLDS = 8


def at_least(slot: AggSlot) -> bool:
    """A sliding count only compared with numbers: computed as the largest
    threshold reached (plan.AggSlot), with LEAD over the rows sorted by time
    instead of a RANGE frame counting the rows within D of every row. The same
    answers; measured 2.2x less time on 1M orders (docs/performance.md)."""
    return (
        isinstance(slot.node, ast.Aggregate)
        and not slot.value_used
        and len(slot.thresholds) <= MAX_THRESHOLDS
        and max(slot.thresholds, default=0) <= MAX_THRESHOLD
    )


def is_pair(slot: AggSlot) -> bool:
    """A two-step sequence, `A then [not] B within D`: on engines with cheap hash
    joins, buckets of width D and two equality joins, no sort (pair_ctes)."""
    n = slot.node
    return isinstance(n, ast.Sequence) and len(n.steps) == 2


def is_windowed(slot: AggSlot) -> bool:
    n = slot.node
    return isinstance(n, ast.Sequence) or isinstance(n.window, ast.SlidingWindow)


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
    """Builds the windowed CTEs for the windowed slots of a plan."""

    def __init__(self, gen, slots: list[AggSlot]):
        self.gen = gen
        self.slots = slots
        for slot in slots:
            n = slot.node
            if isinstance(n, ast.Sequence):
                negated = [s for s in n.steps if s.negated]
                # checks.check_sequence_steps; the grammar requires a second step
                assert not (negated and len(n.steps) > 3), "'then not' after 3 steps"
                assert len(n.steps) >= 2, "a sequence of one step"
                micros(n.within)
            else:
                micros(_span_of(n))

    def name(self, slot: AggSlot) -> str:
        """The CTE with the slot's per-key result, in column `slot.column`."""
        return self.gen.cte(f"windowed_{slot.column}")

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
        narrow = at_least(slot)
        cols: list[exp.Expr] = [
            exp.alias_(key.copy(), "k", quoted=True, copy=False),
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
            .from_(table_expr(g.project.sources[source].table), copy=False)
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
        partition = [col("k")]
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
        if at_least(slot):
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
        if at_least(slot):
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

    # -- two-step sequences, without a sort
    def bucket(self, us: exp.Expr, d: int) -> exp.Expr:
        """(as_of - us) DIV D: rows are never after as_of, so an exact division of
        non-negative integers; a later row has a smaller (or the same) bucket."""
        age = exp.Sub(this=self.gen.clock.as_of_us(), expression=us)
        return self.gen.dialect.int_div(age, number(d))

    def step_rows(self, slot: AggSlot, i: int) -> exp.Select:
        """Key, [on,] epoch microseconds and bucket of the rows of step i: the first
        step's rows in the sequence's window, the second's from its start on."""
        g = self.gen
        n = slot.node
        assert isinstance(n, ast.Sequence)
        step = n.steps[i]
        source = step.source.name
        t = g.row_time(source)
        us = g.dialect.epoch_us(t.copy())
        cols = [
            exp.alias_(col(g.project.key), "k", quoted=True, copy=False),
            exp.alias_(us, US, quoted=True, copy=False),
            exp.alias_(self.bucket(us.copy(), micros(n.within)), "g", quoted=True, copy=False),
        ]
        if n.on is not None:
            cols.append(exp.alias_(g.row_column(source, n.on), ON, quoted=True, copy=False))
        since = condition(t, bounds(n.window, g.clock)) if i == 0 else self.window_start(slot, t)
        keep = g.scan_filters(source) + self.step_filters(slot, step.where, source, since)
        return (
            exp.select(*cols)
            .from_(table_expr(g.project.sources[source].table), copy=False)
            .where(exp.and_(*keep, copy=False), copy=False)
        )

    def pair_ctes(self, slot: AggSlot) -> list[tuple[str, exp.Expr]]:
        """`A then [not] B within D [on c]` by buckets of width D counted back from
        as_of. A B row strictly later than an A row and at most D after it is in
        A's bucket or the next later one. Two rows of one bucket are less than D
        apart, so in A's bucket some B qualifies iff the latest (hi) is later than
        A; every B of the next bucket is later than A, so there the earliest (lo)
        tells. One row per (key, [c,] bucket) of B and two equality joins: linear
        however the rows cluster. When both steps read one source it is read twice (two
        narrow filtered reads, where the window read it once).
        At scale 10, `view then orders within 2 days on sku`: 2.7 -> 1.8 CPU s
        against windows over the rows sorted by (key, sku, time)."""
        n = slot.node
        assert isinstance(n, ast.Sequence)
        name = self.name(slot)
        firsts, thens = f"{name}_rows", f"{name}_then"
        keys = ["k", ON, "g"] if n.on is not None else ["k", "g"]
        then_rows = exp.alias_(exp.paren(self.step_rows(slot, 1)), "then_rows", copy=False)
        thens_q = (
            exp.select(
                *[col(c) for c in keys],
                exp.alias_(exp.Min(this=col(US)), "lo", quoted=True, copy=False),
                exp.alias_(exp.Max(this=col(US)), "hi", quoted=True, copy=False),
            )
            .from_(then_rows, copy=False)
            .group_by(*[col(c) for c in keys], copy=False)
        )

        def join_on(alias: str, bucket: exp.Expr) -> exp.Expr:
            same = [exp.EQ(this=col(c, alias), expression=col(c, "first")) for c in keys[:-1]]
            same.append(exp.EQ(this=col("g", alias), expression=bucket))
            return exp.and_(*same, copy=False)

        d = number(micros(n.within))
        us = col(US, "first")
        found = exp.or_(
            exp.GT(this=col("hi", "same"), expression=us.copy()),
            exp.LTE(this=col("lo", "later"), expression=exp.Add(this=us.copy(), expression=d)),
            copy=False,
        )
        if n.steps[1].negated:
            ended = exp.LTE(
                this=exp.Add(this=us.copy(), expression=d.copy()),
                expression=self.gen.clock.as_of_us(),
            )
            hit = exp.and_(ended, exp.not_(coalesce(found, exp.false())))
        else:
            hit = found
        flag = exp.alias_(exp.Max(this=_flag(hit)), slot.column, quoted=True, copy=False)
        result = exp.select(col("k", "first"), flag).from_(_aliased(firsts, "first"), copy=False)
        # the B rows of A's bucket, and of the next later one (one less)
        later = exp.Sub(this=col("g", "first"), expression=number(1))
        for alias, bucket in (("same", col("g", "first")), ("later", later)):
            on = join_on(alias, bucket)
            result = result.join(_aliased(thens, alias), on=on, join_type="left", copy=False)
        result = result.group_by(col("k", "first"), copy=False)
        return [(firsts, self.step_rows(slot, 0)), (thens, thens_q), (name, result)]

    def ctes(self) -> list[tuple[str, exp.Expr]]:
        out: list[tuple[str, exp.Expr]] = []
        for slot in self.slots:
            if is_pair(slot) and self.gen.dialect.pair_buckets:
                out.extend(self.pair_ctes(slot))
                continue
            name = self.name(slot)
            prev = f"{name}_rows"
            out.append((prev, self.rows(slot)))
            for i, cols in enumerate(self.layers(slot), start=1):
                layer = exp.select(exp.Star(), *cols).from_(ident(prev), copy=False)
                out.append((f"{name}_{i}", layer))
                prev = f"{name}_{i}"
            result = exp.alias_(self.hit(slot), slot.column, quoted=True, copy=False)
            out.append(
                (
                    name,
                    exp.select(col("k"), result)
                    .from_(ident(prev), copy=False)
                    .group_by(col("k"), copy=False),
                )
            )
        return out
