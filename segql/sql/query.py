"""Generate: a Plan → one sqlglot query → SQL text for a dialect.

Query shape (CTE names are stable):

    universe        the entities (profile rows, or every key seen in a source)
    src_<source>    one grouped scan per source: every aggregate of every
                    segment as a conditional aggregate (CASE inside COUNT/SUM…)
    distinct_<a>    count_distinct of one value, for all its windows and filters:
                    (key, value) pairs first, then counted per key
    value_<a>       first/last of a value (not the time): the rows at the first or
                    last time per key, then MIN/MAX of the value over those rows
    windowed_<a>    a sliding count or sequence (passes.py)
    base            universe LEFT JOIN each src_<source>
    layer_1 … n     ranks and definitions, each computed once, in dependency order
    final SELECT    key + one column per segment / segmentation
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from segql.plan.logical import AggSlot, DefSlot, Plan, RankSlot, slot_key
from segql.semantic.model import BOOLEAN, DefRef, ProfileRef, SourceCol, SourceRef, type_of
from segql.sql.dialects import Dialect
from segql.sql.expressions import Translator, coalesce, col, ident, number, ordered, table_expr
from segql.sql.windowed import WindowedPass, is_windowed
from segql.sql.windows import Clock, bounds, condition
from segql.syntax import ast

KEY = "k"

# the names of the CTEs below; a project table of such a name would be shadowed
_INTERNAL = re.compile(r"universe|base|(src|distinct|value|windowed|rank|layer)_\w*", re.I)


def cte_prefix(tables) -> str:
    """A prefix for every CTE name such that none is the name of a project table
    (an unqualified table name inside the query would mean the CTE instead)."""
    names = [t.parts[-1].lower() for t in tables if not t.is_path and len(t.parts) == 1]
    prefix, i = "", 0
    while any(n.startswith(prefix) and _INTERNAL.fullmatch(n[len(prefix) :]) for n in names):
        i += 1
        prefix = f"segql{i}_"
    return prefix


def _when(cond: exp.Expr, value: exp.Expr | None = None) -> exp.Case:
    """CASE WHEN cond THEN value (1) END: NULL where cond does not hold."""
    return exp.Case(ifs=[exp.If(this=cond, true=number(1) if value is None else value)])


# ------------------------------------------------------------------ scopes


@dataclass
class RowScope:
    """Inside a source scan: names are the raw columns of the source table."""

    gen: Generator

    def profile(self, node):  # the resolver forbids profile columns in rows
        raise TypeError("profile column in a row condition")

    def source_col(self, node: SourceCol) -> exp.Expr:
        return self.gen.row_column(node.source, node.column)

    def definition(self, node):
        raise TypeError("definition in a row condition")

    def aggregate(self, node):
        raise TypeError("nested aggregate")

    def rank(self, node):
        raise TypeError("rank in a row condition")


@dataclass
class UniverseScope(RowScope):
    """The universe condition: raw profile columns."""

    def profile(self, node: ProfileRef) -> exp.Expr:
        return col(node.column)


@dataclass
class LayerScope:
    """In base and the layers: every value is a column computed earlier."""

    plan: Plan

    def profile(self, node: ProfileRef) -> exp.Expr:
        return col(self.plan.profile_columns[node.column])

    def source_col(self, node):
        raise TypeError("source column outside an aggregate")

    def definition(self, node: DefRef) -> exp.Expr:
        return col(self.plan.defs[node.name].column)

    def aggregate(self, node) -> exp.Expr:
        slot = self.plan.aggregates[slot_key(node)]
        if isinstance(node, ast.Sequence) or node.func == "did":
            return exp.GT(this=col(slot.column), expression=number(0))
        return col(slot.column)

    def rank(self, node: ast.Call):
        slot = self.plan.ranks[node.args[0]]
        return col(f"{slot.column}_le"), col(f"{slot.column}_n")


# ------------------------------------------------------------------ generator


class Generator:
    def __init__(self, plan: Plan, dialect: Dialect, clock: Clock):
        self.plan = plan
        self.model = plan.model
        self.project = plan.model.project
        self.dialect = dialect
        self.clock = clock
        tz = self.project.timezone
        self.rows = Translator(RowScope(self), dialect, clock, tz)
        self.layer = Translator(LayerScope(plan), dialect, clock, tz)
        tables = [src.table for src in self.project.sources.values()]
        self.prefix = cte_prefix(
            tables + ([self.project.profiles] if self.project.profiles else [])
        )

    def cte(self, name: str) -> str:
        """The name of an internal CTE in this query."""
        return self.prefix + name

    # -- row level
    def row_column(self, source: str, column: str) -> exp.Expr:
        src = self.project.sources[source]
        if column == src.time and self.model.time_types.get(source) != "date":
            return self.row_time(source)  # a DATE time column stays a date as a value
        if self.model.source_columns.get(source, {}).get(column) == "timestamptz":
            return self.dialect.from_timestamptz(col(column))
        return col(column)

    def row_time(self, source: str) -> exp.Expr:
        """The row's time as a naive UTC instant."""
        src = self.project.sources[source]
        kind = self.model.time_types.get(source, "timestamp")
        t = col(src.time)
        if kind == "timestamptz":
            return self.dialect.from_timestamptz(t)
        if kind == "date":
            return self.dialect.local_date_start(t, self.project.timezone)
        return t

    def row_condition(self, source: str, window, where) -> exp.Expr | None:
        parts = []
        wc = condition(self.row_time(source), bounds(window, self.clock))
        if wc is not None:
            parts.append(wc)
        if where is not None:
            parts.append(self.rows.filter(where))
        if not parts:
            return None
        return exp.and_(*parts, copy=False) if len(parts) > 1 else parts[0]

    def minmax(self, func: str, x: exp.Expr, value: ast.Node) -> exp.Expr:
        """MIN (min, first) or MAX (max, last) of x; of booleans, on engines without
        MIN/MAX of booleans, BOOL_AND / BOOL_OR (the same, for true > false)."""
        low = func in ("min", "first")
        if type_of(value) == BOOLEAN and not self.dialect.minmax_boolean:
            return exp.LogicalAnd(this=x) if low else exp.LogicalOr(this=x)
        return exp.Min(this=x) if low else exp.Max(this=x)

    # -- the grouped scan of one source
    def aggregate_expr(self, slot: AggSlot) -> exp.Expr:
        """The slot's aggregate over the source's rows (first/last of a value other
        than the time: value_cte)."""
        node = slot.node
        assert isinstance(node, ast.Aggregate)  # sequences go to the windowed pass
        rc = self.row_condition(slot.source, node.window, node.where)
        func = node.func

        # called once per slot: rc is its own, no copy needed
        def when(value: exp.Expr) -> exp.Expr:
            return value if rc is None else _when(rc, value)

        if isinstance(node.value, SourceRef):
            v: exp.Expr = number(1)
        else:
            v = self.rows.value(node.value)
        if func in ("count", "did"):
            if rc is None and isinstance(node.value, SourceRef):
                return exp.Count(this=exp.Star())
            return exp.Count(this=when(v))
        if func in ("sum", "avg"):
            return (exp.Sum if func == "sum" else exp.Avg)(this=when(v))
        if func in ("min", "max", "first", "last"):  # first/last here: of the time
            return self.minmax(func, when(v), node.value)
        if func in ("decayed_count", "decayed_sum"):
            hl = node.half_life
            assert hl is not None  # the parser requires a half-life
            per_us = ast.MEAN_SECONDS[hl.unit] * 1_000_000 * hl.amount
            age = exp.Sub(
                this=self.clock.as_of_us(),
                expression=self.dialect.epoch_us(self.row_time(slot.source)),
            )
            half_lives = exp.Div(
                this=exp.cast(exp.paren(age), self.dialect.double()), expression=number(per_us)
            )
            # PostgreSQL raises an error when POWER underflows (DuckDB gives 0):
            # past 1000 half-lives the weight stays at 2^-1000, i.e. nothing
            capped = exp.func("LEAST", half_lives, number(1000))
            weight = exp.Pow(this=exp.Literal.number("0.5"), expression=capped)
            term = weight if func == "decayed_count" else exp.Mul(this=v, expression=weight)
            return exp.Sum(this=when(term))
        raise AssertionError(f"{func}() has no grouped form")  # every one has (above)

    def source_cte(self, source: str, slots: list[AggSlot]) -> exp.Select:
        src = self.project.sources[source]
        key = col(self.project.key)
        t = self.row_time(source)
        filters = self.scan_filters(source)
        floor = self.scan_floor(slots)
        if floor is not None:
            filters.append(exp.GTE(this=t.copy(), expression=self.dialect.instant(floor)))
        selects: list[exp.Expr] = [exp.alias_(key.copy(), KEY, quoted=True, copy=False)]
        for slot in slots:
            agg = self.aggregate_expr(slot)
            selects.append(exp.alias_(agg, slot.column, quoted=True, copy=False))
        return (
            exp.select(*selects)
            .from_(table_expr(src.table), copy=False)
            .where(exp.and_(*filters), copy=False)
            .group_by(key.copy(), copy=False)
        )

    def scan_filters(self, source: str) -> list[exp.Expr]:
        """Every read of a source: rows with a key, not after as_of."""
        t = self.row_time(source)
        key = col(self.project.key)
        return [
            exp.not_(exp.Is(this=key, expression=exp.null())),
            exp.LTE(this=t, expression=self.clock.as_of()),
        ]

    def distinct_cte(self, source: str, slots: list[AggSlot]) -> exp.Select:
        """count_distinct of one value expression, for each slot's window and filter.

        A DISTINCT aggregate inside the grouped scan hashes every row of the source,
        in or out of its window, in a hash table of its own; here only the rows some
        slot counts are read, reduced to one (key, value) row with a 0/1 mark per
        slot (or, when every window only has a start, the pair's latest time), then
        counted per key. Measured on the benchmark project: 2.5x less
        time for its two count_distinct of dates at scale 10 (docs/performance.md).
        """
        node = slots[0].node
        assert isinstance(node, ast.Aggregate)
        key = col(self.project.key)
        v = self.rows.value(node.value)
        windows = [bounds(s.node.window, self.clock) for s in slots]  # type: ignore[union-attr]
        wheres = {s.node.where for s in slots}  # type: ignore[union-attr]
        # One slot: every row read is one it counts. Every window only has a start
        # and the filter is shared: a (key, value) pair is in a window iff its
        # latest row is, so the pairs carry their latest time instead of a mark
        # per slot computed on every row (26% less time for the benchmark's two
        # date counts, scale 1). Else: a 0/1 mark per slot.
        alone = len(slots) == 1
        by_time = not alone and len(wheres) == 1 and all(b.upper is None for b in windows)
        t = self.row_time(source)
        marks: list[exp.Expr] = []
        conds: list[exp.Expr] = []
        for slot, b in zip(slots, windows, strict=True):
            assert isinstance(slot.node, ast.Aggregate)
            if by_time:
                rc = condition(t, b)
            else:
                rc = self.row_condition(source, slot.node.window, slot.node.where)
            if rc is not None:
                conds.append(rc)
            if not (by_time or alone):
                mark = number(1) if rc is None else _when(rc.copy())
                marks.append(exp.alias_(mark, f"h_{slot.column}", quoted=True))
        filters = self.scan_filters(source)
        filters.append(exp.not_(exp.Is(this=v.copy(), expression=exp.null())))
        if by_time and node.where is not None:
            filters.append(self.rows.filter(node.where))
        if len(conds) == len(slots):  # else some slot counts every row
            filters.append(exp.paren(exp.or_(*conds, copy=False)))
        if by_time:
            marks.append(exp.alias_(t.copy(), "t", quoted=True))
        # grouped by columns of a subquery, never by the value expression itself:
        # a constant would be read as a column position (GROUP BY 2)
        rows = (
            exp.select(
                exp.alias_(key, KEY, quoted=True),
                exp.alias_(v, "v", quoted=True),
                *marks,
            )
            .from_(table_expr(self.project.sources[source].table), copy=False)
            .where(exp.and_(*filters, copy=False), copy=False)
        )
        marked = [m.alias for m in marks]
        pairs = (
            exp.select(
                col(KEY), *[exp.alias_(exp.Max(this=col(m)), m, quoted=True) for m in marked]
            )
            .from_(rows.subquery(ident("distinct_rows")), copy=False)
            .group_by(col(KEY), col("v"), copy=False)
        )

        def count(slot: AggSlot) -> exp.Expr:
            if alone:
                return exp.Count(this=exp.Star())
            if not by_time:
                return exp.Count(this=col(f"h_{slot.column}"))
            window = slot.node.window  # type: ignore[union-attr]
            c = condition(col("t"), bounds(window, self.clock))  # fresh bound expressions
            return exp.Count(this=exp.Star() if c is None else _when(c))

        counts = [exp.alias_(count(s), s.column, quoted=True) for s in slots]
        return (
            exp.select(col(KEY), *counts)
            .from_(pairs.subquery(ident("pairs")), copy=False)
            .group_by(col(KEY), copy=False)
        )

    def value_at_time(self, slot: AggSlot) -> bool:
        """Whether a slot is first/last of a value other than its source's time
        (computed in value_cte; of the time itself it is a MIN/MAX in the scan)."""
        n = slot.node
        if not isinstance(n, ast.Aggregate) or n.func not in ("first", "last"):
            return False
        src = self.project.sources[slot.source]
        return not (isinstance(n.value, SourceCol) and n.value.column == src.time)

    def value_cte(self, source: str, slots: list[AggSlot]) -> exp.Select:
        """first/last of values, for slots with one function, window and filter.

        The value at the earliest (latest) row; rows at that same time: the
        smallest (largest) non-null value, null if all are null — i.e. MIN (MAX) of
        the value over the rows at the first (last) time. Two narrow reads and a
        join: a window over the source sorted every row with every column the
        grouped scan needs (at scale 10, 2.7 CPU s per value vs 0.6 this way).
        """
        node = slots[0].node
        assert isinstance(node, ast.Aggregate)
        time_agg = exp.Min if node.func == "first" else exp.Max
        key = col(self.project.key)
        t = self.row_time(source)
        filters = self.scan_filters(source)
        rc = self.row_condition(source, node.window, node.where)
        if rc is not None:
            filters.append(rc)
        table = self.project.sources[source].table

        def rows(values: list[exp.Expr]) -> exp.Subquery:
            # every expression over the source is evaluated here, under its own
            # alias: the join below refers to aliases only, whatever the columns
            q = (
                exp.select(
                    exp.alias_(key.copy(), KEY, quoted=True),
                    exp.alias_(t.copy(), "t", quoted=True),
                    *values,
                )
                .from_(table_expr(table), copy=False)
                .where(exp.and_(*[f.copy() for f in filters], copy=False), copy=False)
            )
            return q.subquery(ident("rows" if values else "times"))

        # the slots share func, window and where (query() groups them): only the
        # value differs
        value_of = {s.column: s.node.value for s in slots if isinstance(s.node, ast.Aggregate)}
        values = [
            exp.alias_(self.rows.value(v), f"v_{c}", quoted=True) for c, v in value_of.items()
        ]
        at = (
            exp.select(col(KEY), exp.alias_(time_agg(this=col("t")), "t", quoted=True))
            .from_(rows([]), copy=False)
            .group_by(col(KEY), copy=False)
        )
        on = exp.and_(
            exp.EQ(this=col(KEY, "rows"), expression=col(KEY, "at_time")),
            exp.EQ(this=col("t", "rows"), expression=col("t", "at_time")),
        )
        return (
            exp.select(
                col(KEY, "rows"),
                *[
                    exp.alias_(self.minmax(node.func, col(f"v_{c}", "rows"), v), c, quoted=True)
                    for c, v in value_of.items()
                ],
            )
            .from_(rows(values), copy=False)
            .join(at.subquery(ident("at_time")), on=on, join_type="INNER", copy=False)
            .group_by(col(KEY, "rows"), copy=False)
        )

    def scan_floor(self, slots: list[AggSlot]) -> dt.datetime | None:
        """The earliest instant any aggregate of a source looks at, when every one
        has a window with a known start: older rows are skipped in the scan.
        Without profiles the universe needs every key, so nothing is skipped."""
        if self.project.profiles is None or not slots:
            return None
        starts = []
        for slot in slots:
            node = slot.node
            window = node.window if isinstance(node, ast.Aggregate) else None
            start = bounds(window, self.clock).lower_value
            if start is None:
                return None
            starts.append(start)
        return min(starts)

    # -- universe, base, layers
    def universe_cte(self) -> exp.Select:
        proj = self.project
        if proj.profiles is None:
            unions = [
                exp.select(col(KEY)).from_(ident(self.cte(f"src_{s}")), copy=False)
                for s in proj.sources
            ]
            q: exp.Expr = unions[0]
            for u in unions[1:]:
                q = exp.union(q, u, distinct=True)
            if self.plan.profile_columns:  # without profiles, only the key can be named
                aliases = self.plan.profile_columns.values()
                keys = [exp.alias_(col(KEY), a, quoted=True, copy=False) for a in aliases]
                keyed = exp.Subquery(this=q, alias=exp.TableAlias(this=ident("keys")))
                q = exp.select(col(KEY), *keys).from_(keyed, copy=False)
            return q  # type: ignore[return-value]
        key = col(proj.key)
        selects = [exp.alias_(key.copy(), KEY, quoted=True, copy=False)]
        for column, alias in self.plan.profile_columns.items():
            value: exp.Expr = col(column)
            if self.model.profile_columns.get(column) == "timestamptz":
                value = self.dialect.from_timestamptz(value)
            selects.append(exp.alias_(value, alias, quoted=True, copy=False))
        cond: exp.Expr = exp.not_(exp.Is(this=key.copy(), expression=exp.null()))
        if self.model.universe is not None:
            universe = Translator(UniverseScope(self), self.dialect, self.clock, proj.timezone)
            cond = exp.and_(cond, universe.filter(self.model.universe))
        return (
            exp.select(*selects)
            .from_(table_expr(proj.profiles), copy=False)
            .where(cond, copy=False)
        )

    def base_cte(self, by_cte: dict[str, list[AggSlot]]) -> exp.Select:
        """universe LEFT JOIN every CTE with per-key aggregates (name → its slots)."""
        u = self.cte("universe")
        selects: list[exp.Expr] = [col(KEY, u)]
        selects += [col(alias, u) for alias in self.plan.profile_columns.values()]
        q = exp.select(*selects).from_(exp.Table(this=ident(u)), copy=False)
        for name, slots in by_cte.items():
            if not slots:
                continue
            for slot in slots:
                c = col(slot.column, name)
                zero = isinstance(slot.node, ast.Sequence) or slot.node.func in (
                    "count",
                    "count_distinct",
                    "did",
                    "sum",
                    "decayed_count",
                    "decayed_sum",
                )
                value = coalesce(c, number(0)) if zero else c
                selects_expr = exp.alias_(value, slot.column, quoted=True, copy=False)
                q = q.select(selects_expr, copy=False)
            q = q.join(
                exp.Table(this=ident(name)),
                on=exp.EQ(this=col(KEY, u), expression=col(KEY, name)),
                join_type="LEFT",
                copy=False,
            )
        return q

    def layer_column(self, item: RankSlot | DefSlot) -> list[exp.Expr]:
        t = self.layer
        if isinstance(item, RankSlot):  # computed in rank_cte, joined on the value
            name = self.cte(f"rank_{item.column}")
            return [
                exp.alias_(col("le", name), f"{item.column}_le", quoted=True, copy=False),
                exp.alias_(col("n", name), f"{item.column}_n", quoted=True, copy=False),
            ]
        d = item.definition
        if isinstance(d, ast.Segment):
            value = t.cond(d.expr)
        elif isinstance(d, ast.Segmentation):
            value = self.segmentation(d)
        elif self.model.types.get(d.name) == "boolean":
            value = t.cond(d.expr)
        else:
            value = t.value(d.expr)
        return [exp.alias_(value, item.column, quoted=True, copy=False)]

    def rank_cte(self, item: RankSlot, prev: str) -> exp.Select:
        """For each distinct non-null value v of a rank's argument in `prev`: how
        many entities have a value <= v (le), and how many have one at all (n).

        Grouping by the value first keeps the window narrow: a window over the
        layer itself would sort every column of every entity (measured at scale 10:
        2.1 CPU s per rank that way, 0.46 s this way, join included)."""
        x = self.layer.value(item.arg)
        # grouped by a column of a subquery, never by x itself: a constant x
        # would be read as a column position (GROUP BY 2) or rejected (GROUP BY 2.5)
        values = (
            exp.select(exp.alias_(x.copy(), "v", quoted=True))
            .from_(ident(prev), copy=False)
            .where(exp.not_(exp.Is(this=x, expression=exp.null())), copy=False)
        )
        count = exp.Count(this=exp.Star())
        # values are distinct and never null: a ROWS frame is exact and no NULLS clause
        running = exp.WindowSpec(
            kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
        )
        le = exp.Window(
            this=exp.Sum(this=count.copy()),
            order=exp.Order(expressions=[ordered(col("v"))]),
            spec=running,
        )
        n = exp.Window(this=exp.Sum(this=count))
        # a SUM of counts is HUGEINT on DuckDB and NUMERIC on PostgreSQL: slow in
        # the score arithmetic (20% of an RFM query), and a count fits a BIGINT
        bigint = exp.DataType.build("BIGINT")
        return (
            exp.select(
                col("v"),
                exp.alias_(exp.cast(le, bigint), "le", quoted=True, copy=False),
                exp.alias_(exp.cast(n, bigint.copy()), "n", quoted=True, copy=False),
            )
            .from_(values.subquery(ident("rank_values")), copy=False)
            .group_by(col("v"), copy=False)
        )

    def segmentation(self, d: ast.Segmentation) -> exp.Expr:
        t = self.layer
        ifs = []
        if d.by == "weight":
            weights = [coalesce(t.value(r.expr), number(0)) for r in d.rules]
            for i, r in enumerate(d.rules):
                w = weights[i]
                parts: list[exp.Expr] = [exp.GT(this=w.copy(), expression=number(0))]
                for j, other in enumerate(weights):
                    if j < i:
                        parts.append(exp.GT(this=w.copy(), expression=other.copy()))
                    elif j > i:
                        parts.append(exp.GTE(this=w.copy(), expression=other.copy()))
                ifs.append(exp.If(this=exp.and_(*parts), true=exp.Literal.string(r.label)))
        else:
            for r in d.rules:
                ifs.append(exp.If(this=t.cond(r.expr), true=exp.Literal.string(r.label)))
        default = exp.Literal.string(d.catch_all.label) if d.catch_all else None
        return exp.Case(ifs=ifs, default=default)

    def aggregate_ctes(self) -> tuple[list[tuple[str, exp.Expr]], dict[str, list[AggSlot]]]:
        """universe and every CTE of per-key aggregates, and which slots each holds:
        the grouped scan per source, and apart from it what a grouped scan does
        badly — count_distinct, first/last of a value, sliding counts, sequences."""
        by_source = self.plan.by_source()
        distinct: dict[tuple, list[AggSlot]] = {}  # (source, value) -> slots
        valued: dict[tuple, list[AggSlot]] = {}  # (source, func, window, where) -> slots
        windowed: list[AggSlot] = []
        scanned: dict[str, list[AggSlot]] = {}
        for src, slots in by_source.items():
            scanned[src] = []
            for s in slots:
                n = s.node
                if is_windowed(s):
                    windowed.append(s)
                elif isinstance(n, ast.Aggregate) and n.func == "count_distinct":
                    distinct.setdefault((src, n.value), []).append(s)
                elif isinstance(n, ast.Aggregate) and self.value_at_time(s):
                    valued.setdefault((src, n.func, n.window, n.where), []).append(s)
                else:
                    scanned[src].append(s)
        ctes: list[tuple[str, exp.Expr]] = []
        needs_all = self.project.profiles is None  # the universe is every key seen
        for source, slots in scanned.items():
            if slots or needs_all:
                ctes.append((self.cte(f"src_{source}"), self.source_cte(source, slots)))
        universe = (self.cte("universe"), self.universe_cte())
        ctes.insert(0, universe) if not needs_all else ctes.append(universe)
        by_cte = {self.cte(f"src_{source}"): slots for source, slots in scanned.items()}
        for (source, _), slots in distinct.items():
            name = self.cte(f"distinct_{slots[0].column}")
            ctes.append((name, self.distinct_cte(source, slots)))
            by_cte[name] = slots
        for (source, *_), slots in valued.items():
            name = self.cte(f"value_{slots[0].column}")
            ctes.append((name, self.value_cte(source, slots)))
            by_cte[name] = slots
        if windowed:
            wp = WindowedPass(self, windowed)
            ctes.extend(wp.ctes())
            by_cte.update({wp.name(s): [s] for s in windowed})
        return ctes, by_cte

    def query(self) -> exp.Select:
        ctes, by_cte = self.aggregate_ctes()
        prev = self.cte("base")
        ctes.append((prev, self.base_cte(by_cte)))
        for i, items in enumerate(self.plan.layers(), start=1):
            ranks = [item for item in items if isinstance(item, RankSlot)]
            everything = exp.Column(this=exp.Star(), table=ident(prev)) if ranks else exp.Star()
            cols: list[exp.Expr] = [everything]
            for item in items:
                cols.extend(self.layer_column(item))
            name = self.cte(f"layer_{i}")
            layer = exp.select(*cols).from_(ident(prev), copy=False)
            for r in ranks:
                rank = self.cte(f"rank_{r.column}")
                ctes.append((rank, self.rank_cte(r, prev)))
                on = exp.EQ(this=self.layer.value(r.arg), expression=col("v", rank))
                layer = layer.join(ident(rank), on=on, join_type="LEFT", copy=False)
            ctes.append((name, layer))
            prev = name
        key_out = exp.alias_(col(KEY), self.project.key, quoted=True, copy=False)
        if self.plan.mode == "segment":
            (name,) = self.plan.outputs
            final = (
                exp.select(key_out)
                .from_(ident(prev), copy=False)
                .where(col(self.plan.defs[name].column), copy=False)
            )
        else:
            outs = [
                exp.alias_(col(self.plan.defs[n].column), n, quoted=True, copy=False)
                for n in self.plan.outputs
            ]
            final = exp.select(key_out, *outs).from_(ident(prev), copy=False)
        final = final.order_by(col(KEY), copy=False)
        for name, q in ctes:
            final = final.with_(ident(name), as_=q, copy=False)
        return final


def generate(plan: Plan, dialect: Dialect, clock: Clock) -> str:
    """SQL text of the plan for the dialect: deterministic and pretty-printed."""
    tree = Generator(plan, dialect, clock).query()
    try:
        return (
            tree.sql(
                dialect=dialect.sqlglot,
                copy=False,  # the tree is built for this call; copying it was 1/4 of compiling
                pretty=True,
                identify=True,
                unsupported_level=ErrorLevel.RAISE,
            )
            + ";\n"
        )
    except UnsupportedError as e:
        # a construct the dialect class builds but sqlglot cannot write: a bug
        raise AssertionError(f"cannot express this on {dialect.name}: {e}") from e
