"""The windowed pass: sliding `any` counts and sequences (LANGUAGE.md §6).

These need to compare rows with other rows of the same entity, which a grouped
aggregate cannot do. All sources they use are read ONCE, together, into
`windowed_rows` (UNION ALL, one 0/1 flag column per step), then window
functions over (key[, on-column]) ordered by the row's epoch microseconds find,
for each first-step row, what follows it; `windowed` groups the result per key.

Portability: frames are RANGE frames over an integer (epoch microseconds), not
interval frames, which BigQuery and Snowflake lack; "strictly later" is
`1 FOLLOWING` (one microsecond), "at most D later" is `D FOLLOWING`.

Sequences, for a first-step row a with time t:
- `A then B … within D`: the earliest completion of the remaining steps is
  found from the last step backwards (each step's earliest follow-up strictly
  later), and must be <= t + D;
- `A then not B within D`: no B in (t, t + D], and t + D <= as_of;
- `A then B then not C within D`: with b* the latest B in (t, t + D] and c* the
  latest C there, b* exists and no C after it: c* is null or c* <= b*.
"""

from __future__ import annotations

from sqlglot import exp

from segql import ast
from segql.errors import SegqlError
from segql.plan import AggSlot
from segql.sqlexpr import col, ident, number, ordered, table_expr
from segql.windows import bounds, condition

US = "us"  # epoch microseconds of the row
T = "t"  # the row's instant


def _span_of(n: ast.Aggregate) -> ast.Duration:
    """The D of `count(…, any D)`."""
    assert isinstance(n.window, ast.SlidingWindow)
    return n.window.length


def is_windowed(slot: AggSlot) -> bool:
    n = slot.node
    return isinstance(n, ast.Sequence) or isinstance(n.window, ast.SlidingWindow)


def micros(d: ast.Duration) -> int:
    if d.unit not in ast.FIXED_SECONDS:
        raise SegqlError(
            f"a span in {d.unit}s has no fixed length",
            d.span,
            ("write it in days or weeks, e.g. 30 days",),
        )
    return d.amount * ast.FIXED_SECONDS[d.unit] * 1_000_000


def _flag(cond: exp.Expr | None) -> exp.Expr:
    if cond is None:
        return number(1)
    return exp.Case(ifs=[exp.If(this=cond, true=number(1))], default=number(0))


def _frame(start, start_side, end, end_side) -> exp.WindowSpec:
    return exp.WindowSpec(
        kind="RANGE", start=start, start_side=start_side, end=end, end_side=end_side
    )


class WindowedPass:
    """Builds the windowed CTEs for the windowed slots of a plan."""

    def __init__(self, gen, slots: list[AggSlot]):
        self.gen = gen
        self.slots = slots
        self.flags: dict[tuple[str, str], tuple[str, ast.Expr | None]] = {}  # (slot, step) -> ...
        self.on_columns: list[str] = []
        for slot in slots:
            n = slot.node
            if isinstance(n, ast.Sequence):
                if n.on and n.on not in self.on_columns:
                    self.on_columns.append(n.on)
                negated = [s for s in n.steps if s.negated]
                if negated and len(n.steps) > 3:
                    raise SegqlError(
                        "'then not' after more than two steps is not supported", n.span
                    )
                if len(n.steps) < 2:
                    raise SegqlError("a sequence needs at least two steps", n.span)
                micros(n.within)
            else:
                micros(_span_of(n))

    # -- the rows: one branch per source, flags for every step
    def sources(self) -> list[str]:
        out: list[str] = []
        for slot in self.slots:
            n = slot.node
            names = (
                [s.source.name for s in n.steps] if isinstance(n, ast.Sequence) else [slot.source]
            )
            out.extend(x for x in names if x not in out)
        return out

    def steps(self, slot: AggSlot) -> list[tuple[str, ast.Expr | None]]:
        n = slot.node
        if isinstance(n, ast.Sequence):
            return [(s.source.name, s.where) for s in n.steps]
        return [(slot.source, n.where)]

    def flag_name(self, slot: AggSlot, i: int) -> str:
        return f"{slot.column}_s{i + 1}"

    def rows_branch(self, source: str) -> exp.Select:
        g = self.gen
        proj = g.project
        key = exp.column(ident(proj.key))
        t = g.row_time(source)
        cols: list[exp.Expr] = [
            exp.alias_(key.copy(), "k", quoted=True, copy=False),
            exp.alias_(t.copy(), T, quoted=True, copy=False),
            exp.alias_(g.dialect.epoch_us(t.copy()), US, quoted=True, copy=False),
        ]
        on: str | None
        for on in self.on_columns:
            has = on in g.model.source_columns.get(source, {}) or not g.model.source_columns.get(
                source
            )
            used = any(
                isinstance(s.node, ast.Sequence)
                and s.node.on == on
                and source in [st.source.name for st in s.node.steps]
                for s in self.slots
            )
            value = g.row_column(source, on) if (has and used) else exp.null()
            cols.append(exp.alias_(value, f"on_{on}", quoted=True, copy=False))
        # A row that is no step of any slot changes no window value (every window
        # aggregates flagged rows only): only rows with some flag set are read on.
        conds: list[exp.Expr] = []
        every_row = False
        for slot in self.slots:
            on = slot.node.on if isinstance(slot.node, ast.Sequence) else None
            for i, (src, where) in enumerate(self.steps(slot)):
                if src != source:
                    cols.append(
                        exp.alias_(number(0), self.flag_name(slot, i), quoted=True, copy=False)
                    )
                    continue
                parts = []
                if where is not None:
                    parts.append(g.rows.cond(where))
                if on is not None:
                    parts.append(
                        exp.not_(exp.Is(this=g.row_column(source, on), expression=exp.null()))
                    )
                start = self.window_start(slot, t)
                if start is not None:
                    parts.append(start)
                cond = exp.and_(*parts, copy=False) if parts else None
                if cond is None:
                    every_row = True
                else:
                    conds.append(cond.copy())
                cols.append(
                    exp.alias_(_flag(cond), self.flag_name(slot, i), quoted=True, copy=False)
                )
        keep: list[exp.Expr] = [
            exp.not_(exp.Is(this=key.copy(), expression=exp.null())),
            exp.LTE(this=t.copy(), expression=g.clock.as_of()),
        ]
        if conds and not every_row:
            keep.append(exp.paren(exp.or_(*conds, copy=False)))
        filters = exp.and_(*keep, copy=False)
        return (
            exp.select(*cols)
            .from_(table_expr(proj.sources[source].table), copy=False)
            .where(filters, copy=False)
        )

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

    def rows_cte(self) -> exp.Expr:
        branches = [self.rows_branch(s) for s in self.sources()]
        q: exp.Expr = branches[0]
        for b in branches[1:]:
            q = exp.union(q, b, distinct=False)
        return q

    # -- window columns
    def window(
        self, slot: AggSlot, this: exp.Expr, spec: exp.WindowSpec, desc: bool = False
    ) -> exp.Window:
        n = slot.node
        partition = [col("k")]
        if isinstance(n, ast.Sequence) and n.on:
            partition.append(col(f"on_{n.on}"))
        return exp.Window(
            this=this,
            partition_by=partition,
            # `us` is never null: no NULLS clause (BigQuery rejects one in windows)
            order=exp.Order(expressions=[ordered(col(US), desc)]),
            spec=spec,
        )

    def layers(self) -> list[list[exp.Expr]]:
        """Window columns, layer by layer (a later step's result feeds an earlier one)."""
        depth = max(
            len(self.steps(s)) - 1 if isinstance(s.node, ast.Sequence) else 1 for s in self.slots
        )
        layers: list[list[exp.Expr]] = [[] for _ in range(max(depth, 1))]
        for slot in self.slots:
            n = slot.node
            if not isinstance(n, ast.Sequence):
                d = number(micros(_span_of(n)))
                spec = _frame("CURRENT ROW", None, d, "FOLLOWING")
                w = self.window(slot, exp.Sum(this=col(self.flag_name(slot, 0))), spec)
                layers[0].append(exp.alias_(w, f"{slot.column}_w", quoted=True, copy=False))
                continue
            k = len(n.steps)
            d = number(micros(n.within))
            if n.steps[-1].negated:
                within = _frame(number(1), "FOLLOWING", d, "FOLLOWING")
                last = self.flag_name(slot, k - 1)
                layers[0].append(
                    exp.alias_(
                        self.window(slot, exp.Max(this=self._time_if(last)), within.copy()),
                        f"{slot.column}_c",
                        quoted=True,
                    )
                )
                if k == 3:
                    mid = self.flag_name(slot, 1)
                    layers[0].append(
                        exp.alias_(
                            self.window(slot, exp.Max(this=self._time_if(mid)), within.copy()),
                            f"{slot.column}_b",
                            quoted=True,
                        )
                    )
                continue
            # positive chain: r_j = earliest completion of steps j..k from a step-j row
            # "every later row", written as a frame growing from the partition's
            # start in descending time: PostgreSQL recomputes a frame ending at
            # UNBOUNDED FOLLOWING for each row (quadratic), not this one
            later = _frame("UNBOUNDED", "PRECEDING", number(1), "PRECEDING")
            prev = self._time_if(self.flag_name(slot, k - 1))
            for j in range(k - 2, -1, -1):  # steps k-1 … 1 (0-based j)
                layer = k - 2 - j
                earliest = self.window(slot, exp.Min(this=prev), later.copy(), desc=True)
                if j == 0:
                    layers[layer].append(
                        exp.alias_(earliest, f"{slot.column}_r", quoted=True, copy=False)
                    )
                else:
                    guarded = exp.Case(
                        ifs=[
                            exp.If(
                                this=exp.EQ(
                                    this=col(self.flag_name(slot, j)), expression=number(1)
                                ),
                                true=earliest,
                            )
                        ]
                    )
                    name = f"{slot.column}_r{j + 1}"
                    layers[layer].append(exp.alias_(guarded, name, quoted=True, copy=False))
                    prev = col(name)
        return layers

    def _time_if(self, flag: str) -> exp.Expr:
        return exp.Case(
            ifs=[exp.If(this=exp.EQ(this=col(flag), expression=number(1)), true=col(US))]
        )

    # -- per-key results
    def hit(self, slot: AggSlot) -> exp.Expr:
        g = self.gen
        n = slot.node
        if not isinstance(n, ast.Sequence):
            return exp.func("COALESCE", exp.Max(this=col(f"{slot.column}_w")), number(0))
        first = exp.EQ(this=col(self.flag_name(slot, 0)), expression=number(1))
        parts: list[exp.Expr] = [first]
        wc = condition(col(T), bounds(n.window, g.clock))
        if wc is not None:
            parts.append(wc)
        d = number(micros(n.within))
        deadline = exp.Add(this=col(US), expression=d)
        if n.steps[-1].negated:
            # the follow-up period has ended
            parts.append(exp.LTE(this=deadline.copy(), expression=g.clock.as_of_us()))
            c = col(f"{slot.column}_c")
            if len(n.steps) == 2:
                parts.append(exp.Is(this=c, expression=exp.null()))
            else:
                b = col(f"{slot.column}_b")
                parts.append(exp.not_(exp.Is(this=b.copy(), expression=exp.null())))
                parts.append(
                    exp.paren(
                        exp.or_(
                            exp.Is(this=c.copy(), expression=exp.null()),
                            exp.LTE(this=c.copy(), expression=b.copy()),
                        )
                    )
                )
        else:
            parts.append(exp.LTE(this=col(f"{slot.column}_r"), expression=deadline))
        return exp.Max(this=_flag(exp.and_(*parts, copy=False)))

    def ctes(self) -> list[tuple[str, exp.Expr]]:
        out: list[tuple[str, exp.Expr]] = [("windowed_rows", self.rows_cte())]
        prev = "windowed_rows"
        for i, cols in enumerate(self.layers(), start=1):
            name = f"windowed_{i}"
            out.append((name, exp.select(exp.Star(), *cols).from_(ident(prev), copy=False)))
            prev = name
        selects = [col("k")] + [
            exp.alias_(self.hit(s), s.column, quoted=True, copy=False) for s in self.slots
        ]
        out.append(
            (
                "windowed",
                exp.select(*selects).from_(ident(prev), copy=False).group_by(col("k"), copy=False),
            )
        )
        return out
