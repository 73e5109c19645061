"""The rows of a sessions source (LANGUAGE.md §17 `sessions_of`): one CTE per
sessions source a query reads, `sessions_<name>`, one row per session of its
parent's rows, which every read of the source then reads like a table
(`Scans.source_rows`).

Only the parent's rows a read of the parent would see make sessions: a key, and
time <= as_of. A session still going on at as_of is cut there, so no result
depends on rows after as_of (docs/language.md, "Sessions").

- `gap: D`: per key, rows in time order; a row more than D after the previous
  row starts a session (exactly D: the same session). LAG over epoch
  microseconds, then a running SUM of the starts over a RANGE frame, so rows at
  one instant always share their session whichever order a sort gives them.
- `id: COLUMN`: per key, the rows of one id value (null ids are no session):
  a GROUP BY, no sort.

Per session: time (its first row's), ended_at (its last's), duration_s, rows,
and first_<c> / last_<c> only for the columns the query reads, by the rule of
first/last: the value at the earliest (latest) instant, on a tie the smallest
(largest) non-null one: MIN(CASE WHEN t = first instant THEN c END).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlglot import exp

from segql.project import SESSION_TIME
from segql.project import session_parent_column as parent_column
from segql.sql.expressions import col, ident, number, ordered, table_expr
from segql.syntax.ast import SourceCol

if TYPE_CHECKING:
    from segql.sql.scans import Scans


def _a(e: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(e, name, quoted=True, copy=False)


def sessions_cte(
    scans: Scans, source: str, columns: set[str], floor: dt.datetime | None = None
) -> exp.Select:
    """The sessions of `source`, with first_/last_ of `columns` (names of the
    sessions source's columns the query reads). `floor`: no aggregate reads a
    session starting before it (Scans.sessions_floor); by a gap, the parent's
    rows from floor - gap on tell those sessions apart exactly (a session
    started earlier and still going at floor has a row in [floor - gap, floor),
    so what is left of it starts before floor too, and no read sees it)."""
    src = scans.project.sources[source]
    s = src.sessions
    assert s is not None
    parent = s.of
    key = scans.project.key
    t = scans.row_time(parent)
    # internal names only (k, t, us, …, v0 …): a parent column may be called anything
    wanted = sorted(c for c in columns if parent_column(c) is not None)
    values = {c: f"v{i}" for i, c in enumerate(wanted)}
    raw = [
        _a(col(key), "k"),
        _a(t.copy(), "t"),
        _a(scans.dialect.epoch_us(t), "us"),
        *[_a(scans.row_column(parent, parent_column(c)[1]), v) for c, v in values.items()],  # type: ignore[index]
    ]
    filters = scans.scan_filters(parent)
    if floor is not None and s.gap is not None:
        since = floor - dt.timedelta(microseconds=_gap_us(s.gap))
        filters.append(exp.GTE(this=t.copy(), expression=scans.dialect.instant(since)))
    if s.id is not None:
        raw.append(_a(scans.row_column(parent, s.id), "session"))
        filters.append(exp.not_(exp.Is(this=scans.row_column(parent, s.id), expression=exp.null())))
    rows: exp.Expr = (
        exp.select(*raw)
        .from_(table_expr(scans.project.sources[parent].table), copy=False)
        .where(exp.and_(*filters, copy=False), copy=False)
    )
    inner: list[exp.Expr] = [col("k"), col("t"), col("us"), *[col(v) for v in values.values()]]
    if s.gap is not None:
        rows = _numbered(rows, inner, _gap_us(s.gap))
    firsts = {parent_column(c)[0] for c in values}  # type: ignore[index]
    if values:  # the first / last instant of each row's session, for first_ / last_
        bounds = [
            _a(exp.Window(this=agg(this=col("t")), partition_by=[col("k"), col("session")]), b)
            for first, agg, b in ((True, exp.Min, "t0"), (False, exp.Max, "t1"))
            if first in firsts
        ]
        rows = exp.select(*inner, col("session"), *bounds).from_(
            exp.Subquery(this=rows, alias=exp.TableAlias(this=ident("session_rows"))), copy=False
        )
    us_span = exp.Sub(this=exp.Max(this=col("us")), expression=exp.Min(this=col("us")))
    out: list[exp.Expr] = [
        _a(col("k"), key),
        _a(exp.Min(this=col("t")), SESSION_TIME),
        _a(exp.Max(this=col("t")), "ended_at"),
        _a(
            exp.Div(this=exp.cast(us_span, scans.dialect.double()), expression=number(1_000_000)),
            "duration_s",
        ),
        _a(exp.Count(this=exp.Star()), "rows"),
    ]
    for c, v in values.items():
        first, _ = parent_column(c)  # type: ignore[misc]
        at = exp.EQ(this=col("t"), expression=col("t0" if first else "t1"))
        picked = exp.Case(ifs=[exp.If(this=at, true=col(v))])
        out.append(_a(scans.minmax(first, picked, _typed(scans, source, c)), c))
    return (
        exp.select(*out)
        .from_(exp.Subquery(this=rows, alias=exp.TableAlias(this=ident("sessions"))), copy=False)
        .group_by(col("k"), col("session"), copy=False)
    )


def _gap_us(gap) -> int:
    from segql.sql.windowed import micros

    return micros(gap)


def _numbered(rows: exp.Expr, inner: list[exp.Expr], gap_us: int) -> exp.Select:
    """Each row with its session's number per key: a row more than the gap after
    the previous one (or the first) starts one."""
    by_key = [col("k")]
    previous = exp.Window(
        this=exp.Lag(this=col("us")),
        partition_by=by_key,
        order=exp.Order(expressions=[ordered(col("us"))]),
    )
    # LAG null (the first row): the comparison is null, so ELSE: a start
    close = exp.LTE(this=exp.Sub(this=col("us"), expression=previous), expression=number(gap_us))
    starts = exp.Case(ifs=[exp.If(this=close, true=number(0))], default=number(1))
    marked = exp.select(*[c.copy() for c in inner], _a(starts, "starts")).from_(
        exp.Subquery(this=rows, alias=exp.TableAlias(this=ident("parent_rows"))), copy=False
    )
    # RANGE: rows at one instant are peers and get one number, whichever of them the
    # LAG's sort put first
    running = exp.Window(
        this=exp.Sum(this=col("starts")),
        partition_by=[col("k")],
        order=exp.Order(expressions=[ordered(col("us"))]),
        spec=exp.WindowSpec(
            kind="RANGE", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
        ),
    )
    return exp.select(*[c.copy() for c in inner], _a(running, "session")).from_(
        exp.Subquery(this=marked, alias=exp.TableAlias(this=ident("marked_rows"))), copy=False
    )


def _typed(scans: Scans, source: str, column: str) -> SourceCol:
    """A node standing for the column's value, for minmax's choice on booleans."""
    t = scans.model.source_columns.get(source, {}).get(column, "any")
    return SourceCol(source, column, t)
