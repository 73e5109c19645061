"""The query: a Plan → one sqlglot query for a dialect (sql/result.py renders
it as text).

Query shape (names come from the definitions: plan/names.py):

    anchor_*, anchors  anchored windows' anchors, one instant per entity and
                    anchor, computed by a plan of their own (sql/anchors.py)
    sessions_<s>    the sessions of a sessions source, read by its reads as a
                    table (sessions.py, Scans.source_rows)
    universe        the entities (profile rows, or every key seen in a source);
                    with `created`, those created by as_of; of a history, the
                    row valid at as_of (rows_at_as_of)
    src_<source>    one grouped scan per source: every aggregate of every
                    segment as a conditional aggregate (CASE inside COUNT/SUM…)
    distinct_<a>    count_distinct of one value, for all its windows and filters
    value_<a>       first/last of a value (not the time)
    order_<a>       mode, median, quantile of one value (running counts by value)
    windowed_<a>    a sliding count or sequence (windowed.py, pairs.py)
    base            universe LEFT JOIN each of the above
    layer_1 … n     ranks and definitions, each computed once, in dependency order
    final SELECT    key + one column per segment / segmentation

Which CTE computes each aggregate, and in which form, is the physical plan
(plan/physical.py); this module and scans.py / windowed.py write what it
says. Each aggregate column and each output column carries a comment naming
the definitions it serves and where they are written.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlglot import exp

from segql.plan.explain import location
from segql.plan.logical import (
    AggSlot,
    BucketSlot,
    DefSlot,
    DistanceSlot,
    Plan,
    RankSlot,
    bucket_ranges,
    slot_key,
)
from segql.plan.physical import PhysicalPlan, Read, physical
from segql.project import Table
from segql.semantic.model import DefRef, ProfileRef
from segql.semantic.registry import AGGREGATES
from segql.sql import clusters
from segql.sql.anchors import anchor_ctes
from segql.sql.chains import Chain
from segql.sql.dialects import Dialect
from segql.sql.expressions import Translator, coalesce, col, ident, number, ordered, table_expr
from segql.sql.pairs import PairBuckets
from segql.sql.scans import QueryPart, RowScope, Scans
from segql.sql.windowed import WindowedPass
from segql.sql.windows import Clock
from segql.syntax import ast

# the names of the CTEs below; a project table of such a name would be shadowed
_INTERNAL = re.compile(
    r"universe|base|anchor\w*|(src|distinct|value|order|windowed|rank|layer|sessions)_\w*", re.I
)


def cte_prefix(tables) -> str:
    """A prefix for every CTE name such that none is the name of a project table
    (an unqualified table name inside the query would mean the CTE instead)."""
    names = [t.parts[-1].lower() for t in tables if not t.is_path and len(t.parts) == 1]
    prefix, i = "", 0
    while any(n.startswith(prefix) and _INTERNAL.fullmatch(n[len(prefix) :]) for n in names):
        i += 1
        prefix = f"segql{i}_"
    return prefix


def commented(e: exp.Expr, text: str) -> exp.Expr:
    """e with a SQL comment; a `*/` in a name or path cannot end it early."""
    e.add_comments([" " + text.replace("*/", "* /") + " "])
    return e


def slot_comment(root: Path):
    def comment(e: exp.Expr, slot: AggSlot) -> exp.Expr:
        """An aggregate's column, naming the definitions it serves and where."""
        users = ", ".join(f"{name} ({location(span, root)})" for name, span in slot.users)
        return commented(e, f"used by {users}") if users else e

    return comment


# ------------------------------------------------------------------ scopes


class UniverseScope(RowScope):
    """The universe condition: raw profile columns."""

    def profile(self, node: ProfileRef) -> exp.Expr:
        return col(node.column)


class LayerScope:
    """In base and the layers: every value is a column computed earlier."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def profile(self, node: ProfileRef) -> exp.Expr:
        key = self.plan.model.project.key
        if node.column == key and key not in self.plan.profile_columns:
            return col(self.plan.key)  # a split's key (the universe's own column)
        return col(self.plan.profile_columns[node.column])

    def source_col(self, node):
        raise AssertionError("source column outside an aggregate")  # the resolver forbids it

    def definition(self, node: DefRef) -> exp.Expr:
        return col(self.plan.defs[node.name].column)

    def aggregate(self, node) -> exp.Expr:
        slot = self.plan.aggregates[slot_key(node)]
        if isinstance(node, ast.Sequence) or AGGREGATES[node.func].condition:
            return exp.GT(this=col(slot.column), expression=number(0))
        return col(slot.column)

    def rank(self, node: ast.Call):
        slot = self.plan.ranks[node.args[0]]
        return col(f"{slot.column}_le"), col(f"{slot.column}_n")


# ------------------------------------------------------------------ generator


class Generator(QueryPart):
    """Writes the query the plan and its physical plan describe."""

    def __init__(self, plan: Plan, dialect: Dialect, clock: Clock, prefix: str | None = None):
        super().__init__(plan, dialect, clock)
        self.physical: PhysicalPlan = physical(plan, dialect.pair_buckets, dialect.percentile_disc)
        self.scans = Scans(plan, dialect, clock, slot_comment(self.project.root))
        self.layer = Translator(LayerScope(plan), dialect, clock, self.project.timezone)
        tables = [src.table for src in self.project.sources.values()]
        self.prefix = (
            prefix
            if prefix is not None
            else cte_prefix(tables + ([self.project.profiles] if self.project.profiles else []))
        )
        self.scans.prefix = self.prefix

    def cte(self, name: str) -> str:
        """The name of an internal CTE in this query."""
        return self.prefix + name

    # -- universe, base, layers
    def universe_cte(self) -> exp.Select:
        proj = self.project
        if proj.profiles is None:
            unions = [
                exp.select(col(self.key)).from_(ident(self.cte(f"src_{s}")), copy=False)
                for s, src in proj.sources.items()
                if src.sessions is None  # its parent's keys are all of its keys
            ]
            q: exp.Expr = unions[0]
            for u in unions[1:]:
                q = exp.union(q, u, distinct=True)
            if self.plan.profile_columns:  # without profiles, only the key can be named
                aliases = self.plan.profile_columns.values()
                keys = [exp.alias_(col(self.key), a, quoted=True, copy=False) for a in aliases]
                keyed = exp.Subquery(this=q, alias=exp.TableAlias(this=ident("keys")))
                q = exp.select(col(self.key), *keys).from_(keyed, copy=False)
            return q  # type: ignore[return-value]
        key = col(proj.key)
        selects = [exp.alias_(key.copy(), self.key, quoted=True, copy=False)]
        for column, alias in self.plan.profile_columns.items():
            value: exp.Expr = col(column)
            if self.model.profile_columns.get(column) == "timestamptz":
                value = self.dialect.from_timestamptz(value)
            selects.append(exp.alias_(value, alias, quoted=True, copy=False))
        has_key = exp.not_(exp.Is(this=key.copy(), expression=exp.null()))
        pit = proj.profiles.point_in_time
        rows: exp.Expr = table_expr(proj.profiles)
        conds: list[exp.Expr] = []
        if pit.history:
            rows, latest = self.rows_at_as_of(proj.profiles, has_key)
            conds.append(latest)
        else:
            conds.append(has_key)
        if pit.created is not None:
            # a null created: a row imported without the date counts as always there
            created = col(pit.created.name)
            conds.append(
                exp.or_(
                    exp.Is(this=created, expression=exp.null()),
                    exp.LTE(this=self.profile_instant(created.name), expression=self.clock.as_of()),
                    copy=False,
                )
            )
        if self.model.universe is not None:
            scope = UniverseScope(self.scans)
            universe = Translator(scope, self.dialect, self.clock, proj.timezone)
            conds.append(universe.filter(self.model.universe))
        return (
            exp.select(*selects)
            .from_(rows, copy=False)
            .where(exp.and_(*conds, copy=False), copy=False)
        )

    def profile_instant(self, column: str) -> exp.Expr:
        """A date or timestamp column of the profiles table as a naive UTC instant,
        read like a source's time column (a date: its local midnight)."""
        kind = self.model.profile_columns.get(column)
        if kind == "timestamptz":
            return self.dialect.from_timestamptz(col(column))
        if kind == "date":
            return self.dialect.local_date_start(col(column), self.project.timezone)
        return col(column)

    def rows_at_as_of(self, profiles: Table, has_key: exp.Expr) -> tuple[exp.Expr, exp.Expr]:
        """A history's rows valid at as_of (valid_from <= as_of < valid_to, a null
        valid_to: still valid), as a subquery of the raw columns the query reads
        and their number per key, and the condition that keeps one row per key.

        Overlapping rows are bad data; one is taken all the same, the same on every
        engine: the latest valid_from, then the open (or latest-ending) row, then
        the smallest values of the columns read, in name order (no NULLS clause,
        which BigQuery rejects in a window: `c IS NULL` orders the nulls last)."""
        pit = profiles.point_in_time
        assert pit.valid_from is not None and pit.valid_to is not None
        as_of = self.clock.as_of()
        valid_to = col(pit.valid_to.name)
        valid = exp.and_(
            has_key,
            exp.LTE(this=self.profile_instant(pit.valid_from.name), expression=as_of.copy()),
            exp.paren(
                exp.or_(
                    exp.Is(this=valid_to.copy(), expression=exp.null()),
                    exp.LT(this=as_of, expression=self.profile_instant(valid_to.name)),
                    copy=False,
                ),
                copy=False,
            ),
            copy=False,
        )
        read = sorted(self.profile_columns_read(profiles))
        flag = exp.Case(
            ifs=[exp.If(this=exp.Is(this=valid_to.copy(), expression=exp.null()), true=number(0))],
            default=number(1),
        )
        order = [
            ordered(col(pit.valid_from.name), desc=True),
            ordered(flag),
            ordered(valid_to, desc=True),
        ]
        for c in read:
            if c == self.project.key:  # one value per partition: orders nothing
                continue
            null = exp.Case(
                ifs=[exp.If(this=exp.Is(this=col(c), expression=exp.null()), true=number(1))],
                default=number(0),
            )
            order += [ordered(null), ordered(col(c))]
        row = "segql_row"
        while row in read:  # a column of that name is read: another name
            row += "_"
        number_rows = exp.Window(
            this=exp.RowNumber(),
            partition_by=[col(self.project.key)],
            order=exp.Order(expressions=order),
        )
        inner = (
            exp.select(*(col(c) for c in read), exp.alias_(number_rows, row, quoted=True))
            .from_(table_expr(profiles), copy=False)
            .where(valid, copy=False)
        )
        latest = exp.EQ(this=col(row), expression=number(1))
        return inner.subquery(ident("profile_at_as_of")), latest

    def profile_columns_read(self, profiles: Table) -> set[str]:
        """The raw profile columns the universe CTE reads: the key, every profile
        column used, the universe condition's and `created`."""
        out = {self.project.key, *self.plan.profile_columns}
        if self.model.universe is not None:
            out |= {n.column for n in ast.walk(self.model.universe) if isinstance(n, ProfileRef)}
        created = profiles.point_in_time.created
        if created is not None:
            out.add(created.name)
        return out

    def base_cte(self, by_cte: dict[str, tuple[AggSlot, ...]]) -> exp.Select:
        """universe LEFT JOIN every CTE with per-key aggregates (name → its slots)."""
        u = self.cte("universe")
        selects: list[exp.Expr] = [col(self.key, u)]
        selects += [col(alias, u) for alias in self.plan.profile_columns.values()]
        q = exp.select(*selects).from_(exp.Table(this=ident(u)), copy=False)
        for name, slots in by_cte.items():
            if not slots:
                continue
            for slot in slots:
                c = col(slot.column, name)
                node = slot.node
                zero = isinstance(node, ast.Sequence) or AGGREGATES[node.func].zero_if_empty
                value = coalesce(c, number(0)) if zero else c
                selects_expr = exp.alias_(value, slot.column, quoted=True, copy=False)
                q = q.select(selects_expr, copy=False)
            q = q.join(
                exp.Table(this=ident(name)),
                on=exp.EQ(this=col(self.key, u), expression=col(self.key, name)),
                join_type="LEFT",
                copy=False,
            )
        return q

    def layer_column(self, item: RankSlot | BucketSlot | DistanceSlot | DefSlot) -> list[exp.Expr]:
        t = self.layer
        if isinstance(item, BucketSlot):
            return [exp.alias_(self.bucket(item.split), item.column, quoted=True, copy=False)]
        if isinstance(item, DistanceSlot):
            c = item.segmentation.clusters
            assert c is not None
            values = [t.value(f) for f in c.features]
            return [
                exp.alias_(e, column, quoted=True, copy=False)
                for e, column in zip(clusters.distances(values, c), item.columns, strict=True)
            ]
        if isinstance(item, RankSlot):  # computed in rank_cte, joined on the value
            name = self.cte(item.column)
            return [
                exp.alias_(col("le", name), f"{item.column}_le", quoted=True, copy=False),
                exp.alias_(col("n", name), f"{item.column}_n", quoted=True, copy=False),
            ]
        d = item.definition
        if isinstance(d, ast.Segment):
            value = t.cond(d.expr)
        elif isinstance(d, ast.Segmentation):
            value = self.segmentation(d)
        elif isinstance(d, ast.Split):
            value = self.split(d)
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
        if d.clusters is not None:
            columns = [col(c) for c in self.plan.distances[d.name].columns]
            return clusters.label(columns, d)
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

    def bucket(self, d: ast.Split) -> exp.Expr:
        """md5_bucket(key, salt) of the members of the split's segment, else null."""
        key = ProfileRef(self.project.key, "any")  # any type: hashed as its text
        bucket = self.layer.value(ast.Call("md5_bucket", (key, ast.String(d.salt_text))))
        return exp.Case(ifs=[exp.If(this=self.layer.cond(d.of), true=bucket)])

    def split(self, d: ast.Split) -> exp.Expr:
        """LANGUAGE.md §13: the group whose range of buckets holds the member's,
        ranges taken in the written order; non-members and buckets past the last
        group get null."""
        bucket = col(self.plan.buckets[d.name].column)
        ifs = [
            exp.If(
                this=exp.LT(this=bucket.copy(), expression=number(end)),
                true=exp.Literal.string(group.name),
            )
            for group, (_, end) in zip(d.groups, bucket_ranges(d), strict=True)
        ]
        return exp.Case(ifs=ifs)

    def read_ctes(self, read: Read) -> list[tuple[str, exp.Expr]]:
        """The CTEs of one read, the last holding its per-key results."""
        name = self.cte(read.name)
        match read.form:
            case "grouped_scan":
                return [(name, self.scans.source_cte(read))]
            case "distinct_one" | "distinct_latest" | "distinct_marked":
                return [(name, self.scans.distinct_cte(read))]
            case "at_time":
                return [(name, self.scans.value_cte(read))]
            case "order_stat":
                return [(name, self.scans.order_stat_cte(read))]
        if read.form == "pair_buckets":
            return PairBuckets(self.scans, read, name).ctes()
        if read.form in ("extremes", "instant_chain"):
            return Chain(self.scans, read, name).ctes()
        return WindowedPass(self.scans, read, name).ctes()

    def aggregate_ctes(self) -> tuple[list[tuple[str, exp.Expr]], dict[str, tuple[AggSlot, ...]]]:
        """universe and every CTE of per-key aggregates, and which slots each holds."""
        ctes: list[tuple[str, exp.Expr]] = []
        by_cte: dict[str, tuple[AggSlot, ...]] = {}
        for read in self.physical.reads:
            ctes.extend(self.read_ctes(read))
            by_cte[self.cte(read.name)] = read.slots
        universe = (self.cte("universe"), self.universe_cte())
        if self.project.profiles is None:  # the universe is every key seen in a scan
            scans = sum(r.form == "grouped_scan" for r in self.physical.reads)
            ctes.insert(scans, universe)
        else:
            ctes.insert(0, universe)
        slots = tuple(s for r in self.physical.reads for s in r.slots)
        return self.scans.session_ctes(slots) + ctes, by_cte

    def output_comment(self, name: str) -> str:
        d = self.plan.defs[name].definition
        what = f"{type(d).__name__.lower()} {name}"
        if isinstance(d, ast.Split):
            assert isinstance(d.of, DefRef)
            what += f" of {d.of.name}"
        return f"{what} ({location(d.span, self.project.root)})"

    def body(self) -> tuple[list[tuple[str, exp.Expr]], str]:
        """Every CTE of the query, and the name of the last layer (every column)."""
        anchors: list[tuple[str, exp.Expr]] = []
        if self.plan.anchors:  # computed first: the reads of anchored windows join them
            anchors = anchor_ctes(self)
            self.scans.anchors_cte = self.cte("anchors")
        ctes, by_cte = self.aggregate_ctes()
        ctes = anchors + ctes
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
                rank = self.cte(r.column)
                ctes.append((rank, self.rank_cte(r, prev)))
                on = exp.EQ(this=self.layer.value(r.arg), expression=col("v", rank))
                layer = layer.join(ident(rank), on=on, join_type="LEFT", copy=False)
            ctes.append((name, layer))
            prev = name
        return ctes, prev

    def query(self) -> exp.Select:
        ctes, prev = self.body()
        key_out = exp.alias_(col(self.key), self.project.key, quoted=True, copy=False)
        if self.plan.mode == "segment":
            (name,) = self.plan.outputs
            members = commented(col(self.plan.defs[name].column), self.output_comment(name))
            final = exp.select(key_out).from_(ident(prev), copy=False).where(members, copy=False)
        else:
            outs = [
                commented(
                    exp.alias_(col(self.plan.defs[n].column), n, quoted=True, copy=False),
                    self.output_comment(n),
                )
                for n in self.plan.outputs
            ]
            final = exp.select(key_out, *outs).from_(ident(prev), copy=False)
        final = final.order_by(col(self.key), copy=False)
        for name, q in ctes:
            final = final.with_(ident(name), as_=q, copy=False)
        return final
