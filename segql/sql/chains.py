"""Sequences without `within` (LANGUAGE.md §17): `A then B` (B any time
strictly later, up to as_of), `A then directly B` (the next instant after A
among all rows of the sequence's sources holds a B row), `… then not C` (no C
strictly later), any number of steps.

Two forms, chosen by the physical plan (plan/physical.py):

- `extremes`, two steps, neither `directly`: no sort. Some A (in the window)
  precedes some B iff the earliest A precedes the latest B; some A has no B
  after it iff the latest A is not before the latest B (or there is no B).
- `instant_chain`, anything else: the rows of the sources grouped per
  (key, instant), one 0/1 flag per step (`…__times`); then, step by step,
  whether a match of the steps so far can end at that instant (`…__2`, …):
  - `then S`: S is at the instant and a match ended at some earlier instant
    (a running MAX over the instants before);
  - `then directly S`: S is at the instant and a match ended at the previous
    instant (LAG): the instants are those of every row of the sources, filters
    not applied, so the previous instant is "the row just before";
  - `then not S` (last): a match ends at the instant and no later instant has S.
  Greedy on the earliest A would be wrong for `directly` (an earlier A may be
  followed by something else, a later one by B): every instant where a match can
  end is carried, which is exact for any mix of the three.

"Strictly later" compares epoch microseconds, like the windowed pass: rows at
one instant are one row of the chain, so several rows sharing the instant after
A are all "next", and one B among them is enough (docs/language.md).

CTE names use a double underscore before their suffix, like windowed.py's: a
query's names (plan/names.py) never contain one, so no suffix here can meet
another read's name (`windowed_x_2` is the name a clash of `windowed_x` gets).
"""

from __future__ import annotations

from sqlglot import exp

from segql.plan.physical import Read
from segql.sql.expressions import coalesce, col, ident, number
from segql.sql.scans import Scans
from segql.sql.windowed import US, WindowedPass, _flag, _step
from segql.syntax import ast


def _is_one(e: exp.Expr) -> exp.Expr:
    return exp.EQ(this=e, expression=number(1))


def _rows_frame() -> exp.WindowSpec:
    """Every earlier instant: one row per instant, so ROWS 1 PRECEDING stops
    before the row's own instant."""
    return exp.WindowSpec(
        kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end=number(1), end_side="PRECEDING"
    )


class Chain(WindowedPass):
    """The CTEs of one `extremes` or `instant_chain` read."""

    def __init__(self, scans: Scans, read: Read, name: str):
        super().__init__(scans, read, name)
        n = self.slot.node
        assert isinstance(n, ast.Sequence) and n.within is None
        self.seq = n
        self.every_row = any(s.directly for s in n.steps)

    def _first(self) -> exp.Expr:
        """A row of the first step in the sequence's window."""
        wc = self.in_window(self.seq)
        first = _is_one(col(_step(0)))
        return first if wc is None else exp.and_(first, wc, copy=False)

    def _us_if(self, cond: exp.Expr) -> exp.Expr:
        return exp.Case(ifs=[exp.If(this=cond, true=col(US))])

    def extremes(self) -> exp.Expr:
        """`A then B`: min(A) < max(B); `A then not B`: max(A) >= max(B) or no B."""
        a_first = self._us_if(self._first())
        b = exp.Max(this=self._us_if(_is_one(col(_step(1)))))
        if self.seq.steps[1].negated:
            a = exp.Max(this=a_first)
            none_after = exp.or_(
                exp.Is(this=b.copy(), expression=exp.null()),
                exp.LTE(this=b.copy(), expression=a.copy()),
                copy=False,
            )
            cond = exp.and_(
                exp.not_(exp.Is(this=a.copy(), expression=exp.null())),
                exp.paren(none_after, copy=False),
                copy=False,
            )
        else:
            cond = exp.LT(this=exp.Min(this=a_first), expression=b)
        return _flag(cond)

    def window_over(
        self, this: exp.Expr, spec: exp.WindowSpec | None, desc: bool = False
    ) -> exp.Window:
        return self.window(self.slot, this, spec, desc)

    def instants(self, rows: str) -> exp.Select:
        """One row per (key, instant): whether a first step (in the window) and
        each later step is at that instant."""
        flags = [exp.Max(this=_flag(self._first()))]
        flags += [exp.Max(this=col(_step(i))) for i in range(1, len(self.seq.steps))]
        return (
            exp.select(
                col(self.key),
                col(US),
                *(exp.alias_(f, _step(i), quoted=True, copy=False) for i, f in enumerate(flags)),
            )
            .from_(ident(rows), copy=False)
            .group_by(col(self.key), col(US), copy=False)
        )

    def ended(self, i: int) -> str:
        """The column telling a match of steps 1…i+1 ends at the instant."""
        return _step(0) if i == 0 else f"e{i + 1}"

    def link(self, i: int) -> exp.Expr:
        """Whether a match of steps 1…i+1 ends at the instant (step i, 0-based, ≥ 1)."""
        step = self.seq.steps[i]
        before = col(self.ended(i - 1))
        here = _is_one(col(_step(i)))
        if step.negated:
            # nothing of step i at any later instant (written as earlier instants in
            # descending time: PostgreSQL recomputes a frame ending at UNBOUNDED
            # FOLLOWING for every row)
            later = self.window_over(exp.Max(this=col(_step(i))), _rows_frame(), desc=True)
            return _flag(
                exp.and_(
                    _is_one(before), exp.EQ(this=coalesce(later, number(0)), expression=number(0))
                )
            )
        if step.directly:
            prev = self.window_over(exp.Lag(this=before), None)
        else:
            prev = self.window_over(exp.Max(this=before), _rows_frame())
        return _flag(exp.and_(here, _is_one(prev)))

    def ctes(self) -> list[tuple[str, exp.Expr]]:
        name = self.cte_name
        rows = f"{name}__rows"
        out: list[tuple[str, exp.Expr]] = [(rows, self.rows(self.slot))]
        if self.read.form == "extremes":
            result: exp.Expr = self.extremes()  # already per key
            prev = rows
        else:
            # at most 7 characters after a 40-character name: with `segql1_windowed_`
            # before it, PostgreSQL's 63 (plan/names.py)
            prev = f"{name}__times"
            out.append((prev, self.instants(rows)))
            for i in range(1, len(self.seq.steps)):
                e = exp.alias_(self.link(i), self.ended(i), quoted=True, copy=False)
                layer = exp.select(exp.Star(), e).from_(ident(prev), copy=False)
                prev = f"{name}__{i + 1}"
                out.append((prev, layer))
            result = exp.Max(this=col(self.ended(len(self.seq.steps) - 1)))
        hit = exp.alias_(result, self.slot.column, quoted=True, copy=False)
        grouped = (
            exp.select(col(self.key), self.gen.comment(hit, self.slot))
            .from_(ident(prev), copy=False)
            .group_by(col(self.key), copy=False)
        )
        out.append((name, grouped))
        return out
