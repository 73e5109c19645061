"""Two-step sequences without a sort: `A then [not] B within D [on c]` by
buckets of width D (the physical plan's pair_buckets form, chosen where hash
joins are cheap: `Dialect.pair_buckets`)."""

from __future__ import annotations

from sqlglot import exp

from segql.plan.logical import AggSlot
from segql.sql.expressions import coalesce, col, number
from segql.sql.windowed import ON, US, WindowedPass, _aliased, _flag, micros
from segql.sql.windows import bounds, condition
from segql.syntax import ast


class PairBuckets(WindowedPass):
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
            exp.alias_(col(g.project.key), self.key, quoted=True, copy=False),
            exp.alias_(us, US, quoted=True, copy=False),
            exp.alias_(self.bucket(us.copy(), micros(n.within)), "g", quoted=True, copy=False),
        ]
        if n.on is not None:
            cols.append(exp.alias_(g.row_column(source, n.on), ON, quoted=True, copy=False))
        since = condition(t, bounds(n.window, g.clock)) if i == 0 else self.window_start(slot, t)
        keep = g.scan_filters(source) + self.step_filters(slot, step.where, source, since)
        return (
            exp.select(*cols)
            .from_(g.source_rows(source), copy=False)
            .where(exp.and_(*keep, copy=False), copy=False)
        )

    def ctes(self) -> list[tuple[str, exp.Expr]]:
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
        slot, name = self.slot, self.cte_name
        n = slot.node
        assert isinstance(n, ast.Sequence)
        firsts, thens = f"{name}_rows", f"{name}_then"
        keys = [self.key, ON, "g"] if n.on is not None else [self.key, "g"]
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
        result = exp.select(col(self.key, "first"), self.gen.comment(flag, slot)).from_(
            _aliased(firsts, "first"), copy=False
        )
        # the B rows of A's bucket, and of the next later one (one less)
        later = exp.Sub(this=col("g", "first"), expression=number(1))
        for alias, bucket in (("same", col("g", "first")), ("later", later)):
            on = join_on(alias, bucket)
            result = result.join(_aliased(thens, alias), on=on, join_type="left", copy=False)
        result = result.group_by(col(self.key, "first"), copy=False)
        return [(firsts, self.step_rows(slot, 0)), (thens, thens_q), (name, result)]
