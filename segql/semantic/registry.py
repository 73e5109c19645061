"""Every function and aggregate of the language, each known in one place.

An entry says what the parser checks (its name, how many arguments), what the
resolver checks (argument types, extra rules), the type of its result, its
value over no rows, how the planner computes it, and how SQL writes it (with
the dialect hooks of segql.sql.dialects where engines differ). The stages
look entries up here and know no function by name, so adding one is adding
an entry (and a dialect hook when engines spell it differently).

SQL builders receive the stage's translator (`t`: value(), instant(),
dialect, clock, scope; see segql.sql.expressions) or, for grouped aggregates,
the query generator (`g`: row_time(), minmax(), dialect, clock); they are
typed loosely here so that this module imports nothing from the SQL stage.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlglot import exp

from segql.errors import Span
from segql.semantic.types import ANY, BOOLEAN, DATE, NULL, NUMBER, STRING, TIMELIKE, TIMESTAMP
from segql.syntax import ast
from segql.syntax.ast import SourceRef

US_PER_DAY = 86_400_000_000


def number(v) -> exp.Literal:
    return exp.Literal.number(v)


# ------------------------------------------------------------------ value functions


@dataclass(frozen=True)
class Param:
    """What an argument accepts, and how an error names it."""

    accepts: tuple[str, ...]
    what: str


TIME = Param(TIMELIKE, "a date or timestamp")
NUMERIC = Param((NUMBER,), "a number")
TEXT = Param((STRING,), "a string")
KEYLIKE = Param((STRING, NUMBER), "a string or a number")


@dataclass(frozen=True)
class Function:
    """A value function `name(args)`."""

    name: str
    params: tuple[Param | None, ...]  # per argument (None: any type); the last repeats
    max_args: int
    result: Callable[[list[str]], str]  # the argument types -> the result type
    sql: Callable[[Any, ast.Call], exp.Expr]
    # further rules: (message, span) for each mistake in a call
    check: Callable[[ast.Call], list[tuple[str, Span]]] | None = None
    same_kind: bool = False  # every argument of one kind (coalesce)
    # computed over the whole universe: planned as a rank of its first argument
    ranked: bool = False
    # not for user code (no name a user can write): built by the compiler itself
    internal: bool = False
    optional: int = 0  # how many of the last params may be left out: round(x[, d])

    @property
    def min_args(self) -> int:
        return len(self.params) - self.optional

    def param(self, i: int) -> Param | None:
        return self.params[min(i, len(self.params) - 1)] if self.params else None


def _fixed(t: str) -> Callable[[list[str]], str]:
    return lambda _types: t


def _first_known(types: list[str]) -> str:
    known = [t for t in types if t not in (NULL, ANY)]
    return known[0] if known else ANY


def _days_since(t, c: ast.Call) -> exp.Expr:
    diff = exp.Sub(this=t.clock.as_of_us(), expression=t.dialect.epoch_us(t.instant(c.args[0])))
    days = exp.Div(this=exp.paren(diff), expression=exp.Literal.number(f"{US_PER_DAY}.0"))
    return exp.cast(exp.Floor(this=days), exp.DataType.build("BIGINT"))


def _weekday(t, c: ast.Call) -> exp.Expr:
    d, (x,) = t.dialect, c.args
    if t.type_of(x) == DATE:
        return d.isodow(exp.cast(t.value(x), d.local_type()))
    return d.isodow(d.to_local(t.instant(x), t.tz))


def _hour(t, c: ast.Call) -> exp.Expr:
    (x,) = c.args
    if t.type_of(x) == DATE:  # midnight, but null stays null
        missing = exp.Is(this=t.value(x), expression=exp.null())
        return exp.Case(ifs=[exp.If(this=missing, true=exp.null())], default=number(0))
    return t.dialect.hour(t.dialect.to_local(t.instant(x), t.tz))


def _date(t, c: ast.Call) -> exp.Expr:
    (x,) = c.args
    if t.type_of(x) == DATE:
        return t.value(x)
    return exp.cast(t.dialect.to_local(t.instant(x), t.tz), exp.DataType.build("DATE"))


def _local(t, x: ast.Expr) -> exp.Expr:
    """A date or an instant as a local wall-clock timestamp (project time zone)."""
    d = t.dialect
    if t.type_of(x) == DATE:
        return exp.cast(t.value(x), d.local_type())
    return d.to_local(t.instant(x), t.tz)


def _part(unit: str) -> Callable[[Any, ast.Call], exp.Expr]:
    """year(t), month(t), day(t): of a date, or of an instant in local time."""

    def sql(t, c: ast.Call) -> exp.Expr:
        (x,) = c.args
        if t.type_of(x) == DATE:
            return t.dialect.date_part(unit, t.value(x))
        return t.dialect.date_part(unit, _local(t, x))

    return sql


def _week(t, c: ast.Call) -> exp.Expr:
    """The date of the Monday starting the ISO week that holds t (local time)."""
    (x,) = c.args
    return exp.cast(t.dialect.trunc(_local(t, x), "week"), exp.DataType.build("DATE"))


def _rounding(fn: type[exp.Func]) -> Callable[[Any, ast.Call], exp.Expr]:
    return lambda t, c: fn(this=t.value(c.args[0]))


def _round(t, c: ast.Call) -> exp.Expr:
    """round(x, d): x to d decimal places, a half away from zero, built from
    FLOOR so that every engine agrees (their ROUND differ: PostgreSQL rounds a
    double half to even, a numeric half away from zero). With y = |x| × 10^d
    and r = FLOOR(y): sign(x) × (r + (1 if y − r ≥ 0.5)) / 10^d; the part
    y − r is in [0, 1), so comparing it with 0.5 is exact on every engine.
    d > 0 gives a double (as `/` does), d ≤ 0 the type of x."""
    x = t.value(c.args[0])
    d = _round_places(c)
    scale = number(10 ** abs(d))
    magnitude: exp.Expr = exp.Abs(this=x.copy())
    if d > 0:
        magnitude = exp.Mul(this=magnitude, expression=scale.copy())
    elif d < 0:
        magnitude = exp.Div(this=exp.cast(magnitude, t.dialect.double()), expression=scale.copy())
    y = exp.paren(magnitude, copy=False)
    r = exp.Floor(this=y)
    part = exp.Sub(this=y.copy(), expression=r.copy())
    half_up = exp.GTE(this=part, expression=exp.Literal.number("0.5"))
    bump = exp.Case(ifs=[exp.If(this=half_up, true=number(1))], default=number(0))
    rounded: exp.Expr = exp.paren(exp.Add(this=r.copy(), expression=bump), copy=False)
    if d > 0:
        rounded = exp.Div(this=exp.cast(rounded, t.dialect.double()), expression=scale)
    elif d < 0:
        rounded = exp.Mul(this=rounded, expression=scale)
    return exp.Mul(this=exp.Sign(this=x), expression=exp.paren(rounded, copy=False))


MAX_PLACES = 9


def _round_places(c: ast.Call) -> int:
    if len(c.args) < 2:
        return 0
    d = c.args[1]
    sign = 1
    if isinstance(d, ast.Unary) and d.op == "-":
        d, sign = d.operand, -1
    assert isinstance(d, ast.Number)  # _round_check checks it
    return sign * int(d.value)


def _round_check(c: ast.Call) -> list[tuple[str, Span]]:
    if len(c.args) != 2:
        return []
    d = c.args[1]
    lit = d.operand if isinstance(d, ast.Unary) and d.op == "-" else d
    if isinstance(lit, ast.Number) and lit.value == int(lit.value) and int(lit.value) <= MAX_PLACES:
        return []
    return [
        (
            f"round() takes its decimal places as a whole number from -{MAX_PLACES} "
            f"to {MAX_PLACES}, written as a number",
            d.span,
        )
    ]


def _starts_with(t, c: ast.Call) -> exp.Expr:
    """Plain text, no pattern characters: the first LENGTH(p) characters are p."""
    s, p = (t.value(a) for a in c.args)
    head = exp.Substring(this=s, start=number(1), length=exp.Length(this=p.copy()))
    return exp.EQ(this=head, expression=p)


def _ends_with(t, c: ast.Call) -> exp.Expr:
    """The last LENGTH(p) characters are p (s at least as long as p: a start
    before the first character means different things on different engines)."""
    s, p = (t.value(a) for a in c.args)
    n_s, n_p = exp.Length(this=s.copy()), exp.Length(this=p.copy())
    start = exp.Add(this=exp.Sub(this=n_s.copy(), expression=n_p.copy()), expression=number(1))
    tail = exp.Substring(this=s, start=start, length=n_p.copy())
    return exp.and_(exp.GTE(this=n_s, expression=n_p), exp.EQ(this=tail, expression=p), copy=False)


def _contains(t, c: ast.Call) -> exp.Expr:
    """p occurs in s; the empty text occurs in every text (an engine's position
    of '' is not relied on)."""
    s, p = (t.value(a) for a in c.args)
    found = exp.GT(this=exp.StrPosition(this=s.copy(), substr=p.copy()), expression=number(0))
    empty = exp.EQ(this=exp.Length(this=p), expression=number(0))
    known = exp.GTE(this=exp.Length(this=s), expression=number(0))  # null when s is
    return exp.Case(ifs=[exp.If(this=empty, true=known)], default=found)


def _coalesce(t, c: ast.Call) -> exp.Expr:
    # dates meet timestamps as instants, as in comparisons
    as_instant = any(t.type_of(a) == TIMESTAMP for a in c.args)
    vals = [t.instant(a) if as_instant and t.type_of(a) in TIMELIKE else t.value(a) for a in c.args]
    return exp.Coalesce(this=vals[0], expressions=vals[1:])


def _percentile(t, c: ast.Call) -> exp.Expr:
    le, n = t.scope.rank(c)
    return exp.Div(this=exp.cast(le, t.dialect.double()), expression=n)


def _score(t, c: ast.Call) -> exp.Expr:
    le, n = t.scope.rank(c)
    bins = c.args[1]
    assert isinstance(bins, ast.Number)  # _score_bins checks it
    return score_case(le, n, int(bins.value))


def _score_bins(c: ast.Call) -> list[tuple[str, Span]]:
    if len(c.args) != 2:
        return []
    n = c.args[1]
    if isinstance(n, ast.Number) and n.value == int(n.value) and n.value >= 2:
        return []
    return [("score() needs a whole number of bins, 2 or more", n.span)]


def score_case(le: exp.Expr, n: exp.Expr, bins: int) -> exp.Expr:
    """ceil(bins × le / n) with integer comparisons only: exact at the bin edges,
    the same on every engine (no NTILE, no floating point)."""
    case = exp.Case()
    scaled = exp.Mul(this=number(bins), expression=le.copy())
    for k in range(1, bins):
        limit = exp.Mul(this=number(k), expression=n.copy())
        case = case.when(exp.LTE(this=scaled.copy(), expression=limit), number(k), copy=False)
    case = case.else_(number(bins), copy=False)
    null = exp.Is(this=le.copy(), expression=exp.null())
    return exp.Case(ifs=[exp.If(this=null, true=exp.null())], default=case)


def _md5_bucket(t, c: ast.Call) -> exp.Expr:
    """LANGUAGE.md §13: the first 8 hex digits of the lowercase MD5 of the UTF-8
    text `salt || '.' || key` as an integer, mod 10000. MD5 itself is portable
    through sqlglot; reading hex as an integer is a dialect hook."""
    key, salt = (t.value(a) for a in c.args)
    if t.type_of(c.args[0]) != STRING:  # the engine's text of an integer key
        key = exp.cast(key, exp.DataType.build("TEXT"))
    text = exp.DPipe(
        this=exp.DPipe(this=salt, expression=exp.Literal.string("."), safe=True),
        expression=key,
        safe=True,
    )
    digits = exp.Substring(this=exp.MD5(this=text), start=number(1), length=number(8))
    return exp.Mod(this=exp.paren(t.dialect.hex_to_int(digits)), expression=number(10000))


def _fn(name: str, params: tuple, result, sql, max_args: int | None = None, **kw) -> Function:
    return Function(name, params, len(params) if max_args is None else max_args, result, sql, **kw)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        _fn("days_since", (TIME,), _fixed(NUMBER), _days_since),
        _fn("weekday", (TIME,), _fixed(NUMBER), _weekday),
        _fn("hour", (TIME,), _fixed(NUMBER), _hour),
        _fn("date", (TIME,), _fixed(DATE), _date),
        _fn("coalesce", (None,), _first_known, _coalesce, max_args=64, same_kind=True),
        _fn("lower", (TEXT,), _fixed(STRING), lambda t, c: exp.Lower(this=t.value(c.args[0]))),
        _fn("abs", (NUMERIC,), _fixed(NUMBER), lambda t, c: exp.Abs(this=t.value(c.args[0]))),
        # LANGUAGE.md §17
        _fn("year", (TIME,), _fixed(NUMBER), _part("year")),
        _fn("month", (TIME,), _fixed(NUMBER), _part("month")),
        _fn("day", (TIME,), _fixed(NUMBER), _part("day")),
        _fn("week", (TIME,), _fixed(DATE), _week),
        _fn("floor", (NUMERIC,), _fixed(NUMBER), _rounding(exp.Floor)),
        _fn("ceil", (NUMERIC,), _fixed(NUMBER), _rounding(exp.Ceil)),
        _fn("round", (NUMERIC, NUMERIC), _fixed(NUMBER), _round, optional=1, check=_round_check),
        _fn("starts_with", (TEXT, TEXT), _fixed(BOOLEAN), _starts_with),
        _fn("ends_with", (TEXT, TEXT), _fixed(BOOLEAN), _ends_with),
        _fn("contains", (TEXT, TEXT), _fixed(BOOLEAN), _contains),
        _fn("percentile", (NUMERIC,), _fixed(NUMBER), _percentile, ranked=True),
        _fn("score", (NUMERIC, None), _fixed(NUMBER), _score, check=_score_bins, ranked=True),
        # the split hash (§13); splits build it, users cannot write it yet
        _fn("md5_bucket", (KEYLIKE, TEXT), _fixed(NUMBER), _md5_bucket, internal=True),
    )
}


# ------------------------------------------------------------------ aggregates


@dataclass(frozen=True)
class AggregateFunction:
    """An aggregate `name(source or value [where …] [, window])` over one source."""

    name: str
    rows: bool  # takes a source itself (its rows): count(orders)
    values: bool  # takes a value over the source's columns: sum(orders.amount)
    numbers: bool  # the value must be a number
    result: Callable[[str], str]  # the value's type -> the result type
    zero_if_empty: bool  # 0 over no rows (else null)
    # the grouped-scan expression: (generator, slot, value, row condition) -> SQL;
    # None when the aggregate is computed in another one's slot (planned_as)
    grouped: Callable[[Any, Any, exp.Expr, exp.Expr | None], exp.Expr] | None
    planned_as: str | None = None  # did(x, w) is count(x, w) > 0: the count's slot
    condition: bool = False  # a condition: true when its planned aggregate is > 0
    sequences: bool = False  # takes a sequence: did(a then b within 1 day)
    sliding: bool = False  # takes `any D` (the busiest span)
    half_life: bool = False  # needs a half-life: decayed_count(x, 30 days)
    # planned apart from the grouped scan: "distinct" (count_distinct: pairs per
    # key), "at_time" (first/last of a value other than the time: the rows at
    # the first/last time), "order_stat" (mode, median, quantile: counts per
    # value, running counts sorted by value)
    form: str = "grouped"
    # an argument of its own after the value, named so in errors: quantile(x, p)
    parameter: str | None = None
    # further rules: (message, span) for each mistake in a call
    check: Callable[[ast.Aggregate], list[tuple[str, Span]]] | None = None
    # order statistics: the rank picked among the n sorted non-null values,
    # as the fraction p of ⌈p·n⌉ (None: the most frequent value, mode)
    rank: Callable[[ast.Aggregate], Fraction | None] | None = None


def _when(rc: exp.Expr | None, value: exp.Expr) -> exp.Expr:
    """value where the row condition holds, else NULL (so aggregates skip it)."""
    return value if rc is None else exp.Case(ifs=[exp.If(this=rc, true=value)])


def _count(g, slot, v: exp.Expr, rc: exp.Expr | None) -> exp.Expr:
    if rc is None and isinstance(slot.node.value, SourceRef):
        return exp.Count(this=exp.Star())
    return exp.Count(this=_when(rc, v))


def _minmax(g, slot, v: exp.Expr, rc: exp.Expr | None) -> exp.Expr:
    # first/last here: of the time itself, its MIN/MAX
    low = slot.node.func in ("min", "first")
    return g.minmax(low, _when(rc, v), slot.node.value)


def _decayed(g, slot, v: exp.Expr, rc: exp.Expr | None) -> exp.Expr:
    """Each row weighs 2^-(age / half-life)."""
    node = slot.node
    hl = node.half_life
    assert hl is not None  # the parser requires a half-life
    per_us = ast.MEAN_SECONDS[hl.unit] * 1_000_000 * hl.amount
    age = exp.Sub(this=g.clock.as_of_us(), expression=g.dialect.epoch_us(g.row_time(slot.source)))
    half_lives = exp.Div(
        this=exp.cast(exp.paren(age), g.dialect.double()), expression=number(per_us)
    )
    # PostgreSQL raises an error when POWER underflows (DuckDB gives 0):
    # past 1000 half-lives the weight stays at 2^-1000, i.e. nothing
    capped = exp.func("LEAST", half_lives, number(1000))
    weight = exp.Pow(this=exp.Literal.number("0.5"), expression=capped)
    # decayed_count weighs rows (its value is the source), decayed_sum values
    term = weight if isinstance(node.value, SourceRef) else exp.Mul(this=v, expression=weight)
    return exp.Sum(this=_when(rc, term))


def _sum(g, slot, v: exp.Expr, rc: exp.Expr | None) -> exp.Expr:
    return exp.Sum(this=_when(rc, v))


def _avg(g, slot, v: exp.Expr, rc: exp.Expr | None) -> exp.Expr:
    return exp.Avg(this=_when(rc, v))


def _percentile_disc(g, slot, v: exp.Expr, rc: exp.Expr | None) -> exp.Expr:
    """median/quantile inside the grouped scan (plan/physical.py:
    percentile_in_scan): PERCENTILE_DISC skips the nulls of rows not read."""
    p = AGGREGATES[slot.node.func].rank(slot.node)
    with decimal.localcontext(prec=80):  # p = a / 2^k has an exact decimal form
        text = str(decimal.Decimal(p.numerator) / decimal.Decimal(p.denominator))
    return exp.PercentileDisc(this=_when(rc, v), expression=exp.Literal.number(text))


def _quantile_p(node: ast.Aggregate) -> Fraction | None:
    p = node.param
    assert isinstance(p, ast.Number)  # _check_p checks it
    return Fraction(p.value)


def _check_p(node: ast.Aggregate) -> list[tuple[str, Span]]:
    """p of quantile(x, p): a number literal with 0 < p <= 1 (a percent too)."""
    p = node.param
    if p is None:
        return []
    if isinstance(p, ast.Number) and 0 < p.value <= 1:
        if Fraction(p.value).denominator <= 10**9:
            return []
        return [(f"{node.func}() takes p with at most 9 decimals", p.span)]
    return [
        (
            f"{node.func}() needs p, a number with 0 < p <= 1, written as a number: "
            "e.g. 0.9 or 90%",
            p.span,
        )
    ]


def _same(t: str) -> str:
    return t  # the result has the value's type


A = AggregateFunction
AGGREGATES: dict[str, AggregateFunction] = {
    a.name: a
    for a in (
        A("count", rows=True, values=True, numbers=False, result=_fixed(NUMBER),
          zero_if_empty=True, grouped=_count, sliding=True),
        A("count_distinct", rows=False, values=True, numbers=False, result=_fixed(NUMBER),
          zero_if_empty=True, grouped=None, form="distinct"),
        A("sum", rows=False, values=True, numbers=True, result=_fixed(NUMBER),
          zero_if_empty=True, grouped=_sum),
        A("avg", rows=False, values=True, numbers=True, result=_fixed(NUMBER),
          zero_if_empty=False, grouped=_avg),
        A("min", rows=False, values=True, numbers=False, result=_same,
          zero_if_empty=False, grouped=_minmax),
        A("max", rows=False, values=True, numbers=False, result=_same,
          zero_if_empty=False, grouped=_minmax),
        A("first", rows=False, values=True, numbers=False, result=_same,
          zero_if_empty=False, grouped=_minmax, form="at_time"),
        A("last", rows=False, values=True, numbers=False, result=_same,
          zero_if_empty=False, grouped=_minmax, form="at_time"),
        # LANGUAGE.md §17: exact order statistics of the non-null values
        A("mode", rows=False, values=True, numbers=False, result=_same,
          zero_if_empty=False, grouped=None, form="order_stat", rank=lambda node: None),
        A("median", rows=False, values=True, numbers=False, result=_same,
          zero_if_empty=False, grouped=_percentile_disc, form="order_stat",
          rank=lambda node: Fraction(1, 2)),
        A("quantile", rows=False, values=True, numbers=False, result=_same,
          zero_if_empty=False, grouped=_percentile_disc, form="order_stat", parameter="p",
          check=_check_p, rank=_quantile_p),
        A("did", rows=True, values=False, numbers=False, result=_fixed(BOOLEAN),
          zero_if_empty=True, grouped=None, planned_as="count", condition=True,
          sequences=True),
        A("decayed_count", rows=True, values=False, numbers=False, result=_fixed(NUMBER),
          zero_if_empty=True, grouped=_decayed, half_life=True),
        A("decayed_sum", rows=False, values=True, numbers=True, result=_fixed(NUMBER),
          zero_if_empty=True, grouped=_decayed, half_life=True),
    )
}  # fmt: skip


def user_functions() -> list[str]:
    """The value functions a user can call (internal ones are not named)."""
    return [n for n, f in FUNCTIONS.items() if not f.internal]
