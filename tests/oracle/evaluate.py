"""The oracle: membership of a resolved model over plain Python rows.

Written from ../shared/LANGUAGE.md, with loops and no SQL, sharing nothing with
the compiler beyond the AST and the bound reference nodes of segql.model.

Numbers are exact (int / Fraction) except where an engine computes in floating
point (true division, avg, decayed aggregates, DOUBLE columns): those values are
Python floats. A comparison whose float operand is within a relative 1e-9 of
the other operand cannot be decided without knowing the engine's rounding; it
raises `Uncertain`, and the oracle marks that entity's value of the definition
UNCERTAIN (the differential tests skip exactly those entity/definition pairs).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from segql.semantic.model import (
    DATE,
    TIMESTAMP,
    DefRef,
    LabelRef,
    Model,
    ProfileRef,
    SourceCol,
    SourceRef,
    type_of,
)
from segql.syntax import ast

from .timeutil import (
    HALF_LIFE_SECONDS,
    Interval,
    instant_of,
    literal_instant,
    microseconds,
    plus,
    to_local,
    window_interval,
)


class Uncertain(Exception):
    """The value depends on floating-point rounding the oracle does not model."""


class _Unknown:
    def __repr__(self) -> str:
        return "UNCERTAIN"


UNCERTAIN: Any = _Unknown()


@dataclass
class Evaluation:
    """What the oracle says for one as_of."""

    universe: set
    segments: dict[str, dict[Any, Any]] = field(default_factory=dict)  # name -> key -> bool|UNC
    segmentations: dict[str, dict[Any, Any]] = field(default_factory=dict)  # -> label|None|UNC

    def members(self, name: str) -> set:
        return {k for k, v in self.segments[name].items() if v is True}


# ------------------------------------------------------------------ values


class DataFloat(float):
    """A DOUBLE value as stored (not computed): the engine holds exactly this
    number. Arithmetic on it gives plain (approximate) floats."""


def number(v: Any) -> Any:
    """A data value as the oracle's number: exact unless the column is a float."""
    if isinstance(v, Decimal):
        return Fraction(v)
    if isinstance(v, float):
        return DataFloat(v)
    return v


def _exact(v: Any) -> bool:
    """The engine holds exactly this value: a stored DOUBLE, or an exact number
    that a double represents exactly (what a literal becomes when compared)."""
    if isinstance(v, DataFloat):
        return True
    if isinstance(v, float):
        return False
    return Fraction(float(v)) == v


def _is_num(v: Any) -> bool:
    return isinstance(v, int | Fraction | float) and not isinstance(v, bool)


def _near(a: Any, b: Any) -> bool:
    fa, fb = float(a), float(b)
    return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-9)


def compare(a: Any, b: Any, tz: str) -> int:
    """-1, 0, 1 for two non-null values; dates meet timestamps as instants."""
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        if isinstance(a, dt.datetime) != isinstance(b, dt.datetime):
            a, b = instant_of(a, tz), instant_of(b, tz)
    elif _is_num(a) and _is_num(b) and (isinstance(a, float) or isinstance(b, float)):
        if _near(a, b) and not (_exact(a) and _exact(b)):
            raise Uncertain()
    return (a > b) - (a < b)


def like(s: str, pattern: str) -> bool:
    """SQL LIKE: % any run, _ any one character, no escape character."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, s, flags=re.DOTALL) is not None


def arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if op == "/":
        if b == 0:
            return None
        if isinstance(a, float) or isinstance(b, float):
            return float(a) / float(b)
        return float(Fraction(a) / Fraction(b))
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b


# ------------------------------------------------------------------ the evaluator


@dataclass
class _Row:
    time: dt.datetime
    values: dict[str, Any]


class Oracle:
    """Evaluates every definition of a model for every universe entity at as_of.

    `tables` maps a table name (as written in segql.yml) to its rows (dicts of
    column -> Python value, as DuckDB returns them)."""

    def __init__(self, model: Model, tables: dict[str, list[dict]], as_of: dt.datetime):
        self.model = model
        self.project = model.project
        self.tz = self.project.timezone
        self.as_of = as_of
        self.key = self.project.key
        # visible source rows by entity: non-null key and time, time <= as_of
        self.rows: dict[str, dict[Any, list[_Row]]] = {}
        seen: set = set()
        for name, src in self.project.sources.items():
            if src.sessions is not None:
                continue  # made of its parent's visible rows, below
            by_key: dict[Any, list[_Row]] = defaultdict(list)
            for raw in tables.get(src.table.name, []):
                k, t = raw.get(self.key), raw.get(src.time)
                if k is None or t is None:
                    continue
                t = self._row_instant(t)
                if t > as_of:
                    continue
                values = {c: self._row_value(v) for c, v in raw.items()}
                values[src.time] = t
                by_key[k].append(_Row(t, values))
                seen.add(k)
            self.rows[name] = by_key
        for name, src in self.project.sources.items():
            if src.sessions is not None:
                self.rows[name] = self._sessions(src)
        # the universe
        self.profiles: dict[Any, dict] = {}
        if self.project.profiles is not None:
            self.universe: set = set()
            pit = self.project.profiles.point_in_time
            for k, raw in self._profile_rows(tables.get(self.project.profiles.name, [])):
                created = raw.get(pit.created.name) if pit.created is not None else None
                if created is not None and self._row_instant(created) > as_of:
                    continue  # not created yet (a null created: always there)
                row = {c: self._row_value(v) for c, v in raw.items()}
                self.profiles[k] = row
                if model.universe is None or self.cond(model.universe, _Env(k, row)):
                    self.universe.add(k)
        else:
            self.universe = seen
        self.memo: dict[tuple[str, Any], Any] = {}
        self.fits: dict[str, dict] = {}  # clusters segmentation -> its fit file, as read
        self.ranks: dict[ast.Node, dict[Any, Any]] = {}

    # -- data
    def _profile_rows(self, rows: list[dict]) -> list[tuple[Any, dict]]:
        """(key, row) of each entity's profile row at as_of: every row with a key,
        or of a history the row valid at as_of (valid_from <= as_of < valid_to,
        valid_to null = open); of overlapping rows the latest valid_from, then an
        open row, then the latest valid_to, then the smallest values of the
        profile columns the query reads (name order, nulls last)."""
        pit = self.project.profiles.point_in_time
        if not pit.history:
            return [(r[self.key], r) for r in rows if r.get(self.key) is not None]
        vf, vt = pit.valid_from.name, pit.valid_to.name
        read = sorted(self._profile_columns_read() - {self.key})
        best: dict[Any, tuple] = {}
        for r in rows:
            k, start, end = r.get(self.key), r.get(vf), r.get(vt)
            if k is None or start is None or self._row_instant(start) > self.as_of:
                continue
            if end is not None and not self.as_of < self._row_instant(end):
                continue
            # a sort key where smaller is preferred
            rank = (
                -microseconds(self._row_instant(start) - dt.datetime(1970, 1, 1)),
                end is not None,
                0
                if end is None
                else -microseconds(self._row_instant(end) - dt.datetime(1970, 1, 1)),
                *((r.get(c) is None, r.get(c) if r.get(c) is not None else 0) for c in read),
            )
            if k not in best or rank < best[k][0]:
                best[k] = (rank, r)
        return [(k, r) for k, (_, r) in best.items()]

    def _profile_columns_read(self) -> set[str]:
        """Profile columns of the definitions the outputs need, of the universe
        condition, and `created`."""
        seen: set[str] = set()
        stack = list(self.model.selected)
        exprs: list[ast.Node] = [self.model.universe] if self.model.universe else []
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            d = self.model.definitions[name]
            for e in ast.definition_exprs(d):
                exprs.append(e)
                for n in ast.walk(e):
                    if isinstance(n, DefRef):
                        stack.append(n.name)
                    elif isinstance(n, LabelRef):
                        stack.append(n.segmentation)
        out = {n.column for e in exprs for n in ast.walk(e) if isinstance(n, ProfileRef)}
        created = self.project.profiles.point_in_time.created
        return out | ({created.name} if created is not None else set())

    def _row_instant(self, t: Any) -> dt.datetime:
        if isinstance(t, dt.datetime):
            if t.tzinfo is not None:
                return t.astimezone(dt.UTC).replace(tzinfo=None)
            return t
        return instant_of(t, self.tz)  # a DATE time column: its local midnight

    def _row_value(self, v: Any) -> Any:
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            return v.astimezone(dt.UTC).replace(tzinfo=None)
        return number(v)

    def _sessions(self, src) -> dict[Any, list[_Row]]:
        """LANGUAGE.md §17: one row per session of the parent's visible rows (so a
        session open at as_of ends at its last row up to as_of). By gap: in time
        order, a row more than the gap after the previous one starts a session;
        by id: the rows of one non-null id value. A session's time is its first
        row's; first_<c> / last_<c> follow first() / last()."""
        s = src.sessions
        out: dict[Any, list[_Row]] = {}
        for k, rows in self.rows[s.of].items():
            groups: list[list[_Row]] = []
            if s.gap is not None:
                gap = dt.timedelta(seconds=s.gap.amount * ast.FIXED_SECONDS[s.gap.unit])
                for r in sorted(rows, key=lambda r: r.time):
                    if groups and r.time - groups[-1][-1].time <= gap:
                        groups[-1].append(r)
                    else:
                        groups.append([r])
            else:
                by_id: dict[Any, list[_Row]] = {}
                for r in rows:
                    if r.values.get(s.id) is not None:
                        by_id.setdefault(r.values[s.id], []).append(r)
                groups = list(by_id.values())
            sessions = []
            for g in groups:
                start, end = min(r.time for r in g), max(r.time for r in g)
                values = {
                    self.key: k,
                    "time": start,
                    "ended_at": end,
                    "duration_s": DataFloat(float(Fraction(microseconds(end - start), 10**6))),
                    "rows": len(g),
                }
                for c in {c for r in g for c in r.values} - {self.key}:
                    values[f"first_{c}"] = self._at(g, c, start, first=True)
                    values[f"last_{c}"] = self._at(g, c, end, first=False)
                sessions.append(_Row(start, values))
            if sessions:
                out[k] = sessions
        return out

    def _at(self, rows: list[_Row], column: str, t: dt.datetime, first: bool) -> Any:
        """The smallest (first) or largest (last) non-null value of rows at t."""
        best = None
        for r in rows:
            v = r.values.get(column)
            if r.time != t or v is None:
                continue
            c = 0 if best is None else compare(v, best, self.tz)
            if best is None or (c < 0 if first else c > 0):
                best = v
        return best

    # -- results
    def evaluate(self) -> Evaluation:
        out = Evaluation(set(self.universe))
        for name, d in self.model.definitions.items():
            if isinstance(d, ast.Segment):
                out.segments[name] = {k: self.definition(name, k) for k in self.universe}
            elif isinstance(d, ast.Segmentation | ast.Split):  # label columns alike
                out.segmentations[name] = {k: self.definition(name, k) for k in self.universe}
        return out

    def definition(self, name: str, key: Any) -> Any:
        """The value of a definition for an entity, or UNCERTAIN."""
        mk = (name, key)
        if mk not in self.memo:
            d = self.model.definitions[name]
            env = _Env(key, self.profiles.get(key))
            try:
                if isinstance(d, ast.Segment):
                    value: Any = self.cond(d.expr, env)
                elif isinstance(d, ast.Segmentation):
                    value = self.segmentation(d, env)
                elif isinstance(d, ast.Split):
                    value = self.split(d, env)
                elif type_of(d.expr) == "boolean":
                    value = self.cond(d.expr, env)  # a condition is true or false
                else:
                    value = self.value(d.expr, env)
            except Uncertain:
                value = UNCERTAIN
            self.memo[mk] = value
        return self.memo[mk]

    def _ref(self, name: str, env: _Env) -> Any:
        v = self.definition(name, env.key)
        if v is UNCERTAIN:
            raise Uncertain()
        return v

    def segmentation(self, d: ast.Segmentation, env: _Env) -> str | None:
        fallback = d.catch_all.label if d.catch_all else None
        if d.clusters is not None:
            return self.clusters(d, env, fallback)
        if d.by == "weight":
            best, best_w = None, None
            for r in d.rules:
                w = self.value(r.expr, env)
                if w is None:
                    continue
                if compare(w, 0, self.tz) <= 0:
                    continue
                if best_w is None or compare(w, best_w, self.tz) > 0:  # ties: earlier rule
                    best, best_w = r.label, w
            return best if best is not None else fallback
        for r in d.rules:
            if self.cond(r.expr, env):
                return r.label
        return fallback

    def clusters(self, d: ast.Segmentation, env: _Env, fallback: str | None) -> str | None:
        """LANGUAGE.md §14, from its words and the fit file as written (read here,
        not by segql): x' = (x − center) / scale, the nearest centroid by squared
        Euclidean distance, ties to the lower number; a null feature → else.
        Engines compute in doubles (the features cast to DOUBLE): so does this,
        and two distances within a relative 1e-9 are UNCERTAIN."""
        c = d.clusters
        assert c is not None
        if d.name not in self.fits:
            path = Path(self.model.project.root) / "clusters" / f"{d.name}.json"
            self.fits[d.name] = json.loads(path.read_text(encoding="utf-8"))
        fit = self.fits[d.name]
        xs = [self.value(f, env) for f in c.features]
        if any(x is None for x in xs):
            return fallback
        center, scale = fit["scale"]["center"], fit["scale"]["scale"]
        zs = [(float(x) - m) / s for x, m, s in zip(xs, center, scale, strict=True)]
        dists = [
            sum((z - m) ** 2 for z, m in zip(zs, row, strict=True)) for row in fit["centroids"]
        ]
        best = min(range(len(dists)), key=lambda j: (dists[j], j))
        for j, other in enumerate(dists):
            if j != best and abs(other - dists[best]) <= 1e-9 * max(1.0, abs(other)):
                raise Uncertain()
        number = best + 1
        names = {n.number: n.label for n in c.names}
        return names.get(number, f"cluster_{number}")

    def split(self, d: ast.Split, env: _Env) -> str | None:
        """LANGUAGE.md §13, from its words: hashlib's MD5 of `salt.key`, the first
        8 hex digits as an integer, mod 10000; groups take ranges in order."""
        assert isinstance(d.of, DefRef)
        if not self._ref(d.of.name, env):
            return None
        bucket = split_bucket(d.salt_text, env.key)
        start = Fraction(0)
        for g in d.groups:
            start += Fraction(g.percent) * 100  # 10% is buckets [0, 1000)
            if bucket < start:
                return g.name
        return None

    # -- conditions: never null
    def cond(self, e: ast.Expr, env: _Env) -> bool:
        match e:
            case ast.Binary(op="and", left=a, right=b):
                return self.cond(a, env) and self.cond(b, env)
            case ast.Binary(op="or", left=a, right=b):
                return self.cond(a, env) or self.cond(b, env)
            case ast.Unary(op="not", operand=a):
                return not self.cond(a, env)
            case ast.Binary(op=op, left=a, right=b) if op in ("=", "!=", "<", "<=", ">", ">="):
                x, y = self.value(a, env), self.value(b, env)
                if x is None or y is None:
                    return False
                c = compare(x, y, self.tz)
                return {
                    "=": c == 0,
                    "!=": c != 0,
                    "<": c < 0,
                    "<=": c <= 0,
                    ">": c > 0,
                    ">=": c >= 0,
                }[op]
            case ast.InList(operand=a, items=items, negated=neg):
                x = self.value(a, env)
                if x is None:
                    return False
                found = False
                for item in items:
                    y = self.value(item, env)
                    if y is not None and compare(x, y, self.tz) == 0:  # null items never match
                        found = True
                return found != neg
            case ast.Between(operand=a, low=lo, high=hi, negated=neg):
                x, low, high = self.value(a, env), self.value(lo, env), self.value(hi, env)
                if x is None or low is None or high is None:
                    return False
                inside = compare(low, x, self.tz) <= 0 and compare(x, high, self.tz) <= 0
                return inside != neg
            case ast.IsNull(operand=a, negated=neg):
                return (self.value(a, env) is None) != neg
            case ast.Like(operand=a, pattern=p, negated=neg):
                s, pat = self.value(a, env), self.value(p, env)
                if s is None or pat is None:
                    return False
                return like(s, pat) != neg
        v = self.value(e, env)
        return v is True

    # -- values: may be None
    def value(self, e: ast.Expr, env: _Env) -> Any:
        match e:
            case ast.Number(value=v):
                return Fraction(v)
            case ast.String(value=v) | ast.Boolean(value=v):
                return v
            case ast.Null():
                return None
            case ast.DateLit(value=v):
                return v
            case ast.TimestampLit(value=v):
                return literal_instant(v, self.tz)
            case ProfileRef(column=c):
                if c == self.key:
                    return env.key
                return (env.profile or {}).get(c)
            case SourceCol(column=c):
                assert env.row is not None, "source column outside an aggregate"
                return env.row.values.get(c)
            case DefRef(name=n):
                return self._ref(n, env)
            case LabelRef(segmentation=s, label=label):
                return self._ref(s, env) == label
            case ast.Unary(op="-", operand=a):
                x = self.value(a, env)
                return None if x is None else -x
            case ast.Binary(op=op, left=a, right=b) if op in ("+", "-", "*", "/"):
                return arith(op, self.value(a, env), self.value(b, env))
            case ast.Call():
                return self.call(e, env)
            case ast.Aggregate():
                return self.aggregate(e, env)
            case ast.Sequence():
                return self.sequence(e, env)
        # every other node is a condition
        return self.cond(e, env)

    def call(self, c: ast.Call, env: _Env) -> Any:
        f, args = c.func, c.args
        if f in ("percentile", "score"):
            le_n = self.rank(args[0], env.key)
            if le_n is None:
                return None
            le, n = le_n
            if f == "percentile":
                return Fraction(le, n)
            bins = int(args[1].value)  # type: ignore[union-attr]
            return math.ceil(Fraction(bins * le, n))
        if f == "coalesce":
            as_instant = any(type_of(a) == TIMESTAMP for a in args)
            for a in args:
                v = self.value(a, env)
                if v is not None:
                    if as_instant and type_of(a) in (DATE, TIMESTAMP):
                        return instant_of(v, self.tz)
                    return v
            return None
        x = self.value(args[0], env)
        if x is None:
            return None
        if f == "days_since":
            us = microseconds(self.as_of - instant_of(x, self.tz))
            return us // (86_400 * 1_000_000)
        if f == "weekday":
            day = x if not isinstance(x, dt.datetime) else to_local(x, self.tz)
            return day.isoweekday()
        if f == "hour":
            return to_local(x, self.tz).hour if isinstance(x, dt.datetime) else 0
        if f == "date":
            return to_local(x, self.tz).date() if isinstance(x, dt.datetime) else x
        if f == "lower":
            return x.lower()
        if f == "abs":
            return abs(x)
        return self.call17(f, x, args, env)

    def call17(self, f: str, x: Any, args: tuple, env: _Env) -> Any:
        """LANGUAGE.md §17 functions (x, the first argument, is not null)."""
        if f in ("year", "month", "day", "week"):
            day = to_local(x, self.tz).date() if isinstance(x, dt.datetime) else x
            if f == "week":  # the Monday its ISO week starts on
                return day - dt.timedelta(days=day.weekday())
            return getattr(day, f)
        if f in ("floor", "ceil"):
            whole = math.floor(x) if f == "floor" else math.ceil(x)
            if _computed_float(x) and _near(x, round(x)):
                raise Uncertain()  # an engine's x may be a rounding error away
            return DataFloat(whole) if isinstance(x, float) else whole
        if f == "round":
            return round_half_away(x, _places(args))
        if f in ("starts_with", "ends_with", "contains"):
            p = self.value(args[1], env)
            if p is None:
                return None
            if f == "starts_with":
                return x.startswith(p)
            if f == "ends_with":
                return x.endswith(p)
            return p in x
        raise NotImplementedError(f)

    # -- ranks across the universe (LANGUAGE.md §7)
    def rank(self, arg: ast.Expr, key: Any) -> tuple[int, int] | None:
        if arg not in self.ranks:
            values: dict[Any, Any] = {}
            unsure = False
            for k in self.universe:
                try:
                    values[k] = self.value(arg, _Env(k, self.profiles.get(k)))
                except Uncertain:
                    unsure = True
            known = {k: v for k, v in values.items() if v is not None}
            table: dict[Any, Any] = {}
            for k in self.universe:
                if unsure:
                    table[k] = UNCERTAIN
                    continue
                x = values[k]
                if x is None:
                    table[k] = None
                    continue
                le = 0
                try:
                    for other in known.values():
                        if compare(other, x, self.tz) <= 0:
                            le += 1
                    table[k] = (le, len(known))
                except Uncertain:  # a near tie with a float value: order unknown
                    table[k] = UNCERTAIN
            self.ranks[arg] = table
        v = self.ranks[arg].get(key)
        if v is UNCERTAIN:
            raise Uncertain()
        return v

    # -- aggregates (LANGUAGE.md §6)
    def _window(self, w) -> Interval:
        return window_interval(w, self.as_of, self.tz)

    def _anchored(self, w: ast.AnchoredWindow, env: _Env) -> Interval:
        """LANGUAGE.md §17: anchor + N < time <= anchor + M; a null anchor, no row;
        a date anchors at its local midnight."""
        anchor = self.value(w.anchor, _Env(env.key, env.profile))
        if anchor is None:
            return Interval(dt.datetime.max, False, None)
        a = instant_of(anchor, self.tz)
        low = plus(a, w.start.amount, w.start.unit)
        return Interval(low, False, plus(a, w.end.amount, w.end.unit), True)

    def _matching(self, source: str, where, window, env: _Env) -> list[_Row]:
        if isinstance(window, ast.AnchoredWindow):
            interval = self._anchored(window, env)
        else:
            interval = self._window(window)
        out = []
        for row in self.rows[source].get(env.key, []):
            if not interval.holds(row.time):
                continue
            if where is not None and not self.cond(where, env.with_row(row)):
                continue
            out.append(row)
        return out

    def aggregate(self, agg: ast.Aggregate, env: _Env) -> Any:
        source = _source(agg.value)
        rows = self._matching(source, agg.where, agg.window, env)
        f = agg.func
        if isinstance(agg.window, ast.SlidingWindow):
            return self._busiest(rows, agg.value, agg.window.length, env)
        if isinstance(agg.value, SourceRef):
            if f in ("count", "did"):
                return len(rows) if f == "count" else len(rows) >= 1
            if f == "decayed_count":
                return sum((self._weight(r, agg.half_life) for r in rows), 0.0)
            raise NotImplementedError(f)
        pairs = [(r, self.value(agg.value, env.with_row(r))) for r in rows]
        vals = [v for _, v in pairs if v is not None]
        if f == "count":
            return len(vals)
        if f == "count_distinct":
            distinct: list = []
            for v in vals:
                if not any(compare(v, d, self.tz) == 0 for d in distinct):
                    distinct.append(v)
            return len(distinct)
        if f == "sum":
            return sum(vals, 0)
        if f == "decayed_sum":
            return sum(
                (float(v) * self._weight(r, agg.half_life) for r, v in pairs if v is not None), 0.0
            )
        if not vals:
            return None
        if f in ("mode", "median", "quantile"):
            return self._order_statistic(agg, vals)
        if f == "avg":
            if any(isinstance(v, float) for v in vals):
                return math.fsum(float(v) for v in vals) / len(vals)
            return float(Fraction(sum(vals, 0), len(vals)))
        if f in ("min", "max"):
            best = vals[0]
            for v in vals[1:]:
                c = compare(v, best, self.tz)
                if (c < 0) if f == "min" else (c > 0):
                    best = v
            return best
        if f in ("first", "last"):
            # the value at the earliest (latest) row; ties at that time: the
            # smallest (largest) non-null value; null when all of them are null
            edge = (min if f == "first" else max)(r.time for r, _ in pairs)
            at_edge = [v for r, v in pairs if r.time == edge and v is not None]
            if not at_edge:
                return None
            best = at_edge[0]
            for v in at_edge[1:]:
                c = compare(v, best, self.tz)
                if (c < 0) if f == "first" else (c > 0):
                    best = v
            return best
        raise NotImplementedError(f)

    def _order_statistic(self, agg: ast.Aggregate, vals: list) -> Any:
        """LANGUAGE.md §17, from its words: mode, the most frequent value, ties to
        the smallest; median, the ⌈n/2⌉-th smallest; quantile(x, p), the
        ⌈p·n⌉-th smallest (vals: the non-null values, at least one)."""
        ordered = sorted(vals, key=functools.cmp_to_key(lambda a, b: compare(a, b, self.tz)))
        if agg.func == "mode":
            best, best_n, i = None, 0, 0
            while i < len(ordered):  # runs of equal values, smallest first
                j = i
                while j < len(ordered) and compare(ordered[j], ordered[i], self.tz) == 0:
                    j += 1
                if j - i > best_n:
                    best, best_n = ordered[i], j - i
                i = j
            return best
        if agg.func == "median":
            p = Fraction(1, 2)
        else:
            assert isinstance(agg.param, ast.Number)
            p = Fraction(agg.param.value)
        return ordered[math.ceil(p * len(ordered)) - 1]

    def _weight(self, row: _Row, half_life: ast.Duration | None) -> float:
        assert half_life is not None
        age_us = microseconds(self.as_of - row.time)
        hl_us = half_life.amount * HALF_LIFE_SECONDS[half_life.unit] * 1_000_000
        return 0.5 ** (age_us / hl_us)

    def _busiest(self, rows: list[_Row], value, length: ast.Duration, env: _Env) -> int:
        """`any D`: the most rows whose first and last are at most D apart."""
        if not isinstance(value, SourceRef):
            rows = [r for r in rows if self.value(value, env.with_row(r)) is not None]
        times = sorted(r.time for r in rows)
        best = 0
        for i, start in enumerate(times):
            end = plus(start, length.amount, length.unit)
            n = sum(1 for t in times[i:] if t <= end)
            best = max(best, n)
        return best

    # -- sequences (LANGUAGE.md §6)
    def sequence(self, seq: ast.Sequence, env: _Env) -> bool:
        steps = seq.steps
        first = self._matching(steps[0].source.name, steps[0].where, seq.window, env)
        later = [self._matching(s.source.name, s.where, None, env) for s in steps[1:]]
        on = seq.on

        def same(a: _Row, b: _Row) -> bool:
            if on is None:
                return True
            x, y = a.values.get(on), b.values.get(on)
            return x is not None and y is not None and compare(x, y, self.tz) == 0

        # `then directly` (LANGUAGE.md §17): the next instant after a row among every
        # row of the sequence's sources, filters not applied
        instants = sorted(
            {
                r.time
                for name in {s.source.name for s in steps}
                for r in self.rows[name].get(env.key, [])
            }
        )

        def next_instant(t: dt.datetime) -> dt.datetime | None:
            return next((u for u in instants if u > t), None)

        memo: dict[tuple, bool] = {}

        def chain(i: int, prev: _Row, start: _Row, deadline: dt.datetime | None) -> bool:
            """Steps i… can follow prev (all within the deadline of the first step;
            None: no `within`, any time up to as_of). What follows depends on prev's
            time only: remembered, or three steps over many rows take cubic time."""
            k = (i, prev.time, deadline, start.values.get(on) if on else None)
            if k not in memo:
                memo[k] = follows(i, prev, start, deadline)
            return memo[k]

        def follows(i: int, prev: _Row, start: _Row, deadline: dt.datetime | None) -> bool:
            if i == len(steps):
                return True
            step = steps[i]

            def in_time(r: _Row) -> bool:
                return prev.time < r.time and (deadline is None or r.time <= deadline)

            if step.negated:  # the last step: nothing in (prev.time, deadline]
                if deadline is not None and deadline > self.as_of:
                    return False  # the follow-up period has not ended
                return not any(in_time(r) and same(start, r) for r in later[i - 1])
            nxt = next_instant(prev.time) if step.directly else None
            return any(
                in_time(r)
                and (not step.directly or r.time == nxt)
                and same(start, r)
                and chain(i + 1, r, start, deadline)
                for r in later[i - 1]
            )

        for a in first:
            if on is not None and a.values.get(on) is None:
                continue  # rows without a value in the `on` column take no part
            w = seq.within
            deadline = plus(a.time, w.amount, w.unit) if w is not None else None
            if chain(1, a, a, deadline):
                return True
        return False


def _computed_float(x: Any) -> bool:
    """A double computed by the engine (not stored): its last bits may differ."""
    return isinstance(x, float) and not isinstance(x, DataFloat)


def _places(args: tuple) -> int:
    if len(args) < 2:
        return 0
    d = args[1]
    if isinstance(d, ast.Unary):
        return -int(d.operand.value)  # type: ignore[attr-defined]
    return int(d.value)  # type: ignore[attr-defined]


def round_half_away(x: Any, d: int) -> Any:
    """LANGUAGE.md §17 round(x, d), from its words: x to d decimal places, a half
    away from zero. A double x is scaled, floored and divided in doubles (the
    engine's arithmetic, each step correctly rounded); an exact x exactly; with
    d > 0 the result is a double (a division)."""
    neg = x < 0
    a = abs(x)
    if d < 0:
        y: Any = float(a) / 10**-d  # the engine divides a double
    elif isinstance(x, float):
        y = float(a) * 10**d
    else:
        y = Fraction(a) * 10**d
    r = math.floor(y)
    if _computed_float(x) and abs((y - r) - 0.5) <= 1e-9 * max(1.0, abs(float(y))):
        raise Uncertain()  # an engine's x may be a rounding error away
    whole = r + (1 if y - r >= Fraction(1, 2) else 0)
    if d > 0:
        out: Any = float(whole) / 10**d
    elif d < 0:
        out = float(whole * 10**-d)
    else:
        out = float(whole) if isinstance(x, float) else whole
    if neg:
        out = -out
    # once `whole` is known, each engine computes exactly this double
    return DataFloat(out) if isinstance(out, float) else out


@dataclass
class _Env:
    key: Any
    profile: dict | None
    row: _Row | None = None

    def with_row(self, row: _Row) -> _Env:
        return _Env(self.key, self.profile, row)


def _source(value: ast.Expr) -> str:
    for n in ast.walk(value):
        if isinstance(n, SourceRef | SourceCol):
            return n.source
    raise ValueError("aggregate without a source")


def split_bucket(salt: str, key: Any) -> int:
    """A key's bucket in a split: its text is the decimal text of an integer key."""
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise TypeError(f"a split hashes integer and string keys, not {key!r}")
    text = f"{salt}.{key}"
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 10000


def evaluate(model: Model, tables: dict[str, list[dict]], as_of: dt.datetime) -> Evaluation:
    """Membership of every segment and label of every segmentation at as_of."""
    return Oracle(model, tables, as_of).evaluate()
