"""The AST builder: what Lark calls for each grammar rule during the LALR parse
(segql/syntax/parser.py sets it up). One class per part of the language,
combined in `_Builder`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
from decimal import Decimal

import lark
from lark import Token

from segql.errors import Diagnostics, Span, did_you_mean
from segql.semantic.registry import AGGREGATES, FUNCTIONS, user_functions
from segql.syntax import ast
from segql.syntax.ast import SCALE_METHODS

UNIT_NAMES = {u: u for u in (*ast.UNITS, "year")} | {u + "s": u for u in (*ast.UNITS, "year")}


def _parenthesized(hint: str) -> str:
    return f" ({hint})" if hint else ""


def _unit_hint(word: str) -> str:
    """'did you mean' among units, in the plural when the word looks plural."""
    plural = word.endswith(("s", "z"))
    return did_you_mean(word, [u for u in UNIT_NAMES if u.endswith("s") == plural])


def _date_problem(text: str) -> str:
    """Why a date or timestamp of the right shape is impossible, in words."""
    import calendar

    year, month, day = (int(x) for x in text[:10].split("-"))
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if not 1 <= day <= days:
        return f"{calendar.month_name[month]} {year} has {days} days"
    if year < 1:
        return "there is no year 0"
    return "hours are 00-23, minutes and seconds 00-59"


def _unquote_name(t: Token) -> str:
    s = str(t)
    return s[1:-1] if s.startswith("`") else s


_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}


_ESCAPE = re.compile(r"\\(.)", re.S)


def _keeping_children(builder: _Builder, callback):
    """A reduction's callback that first hands the builder the rule's full children."""

    def reduce(children: list):
        builder.children = children
        result = callback(children)
        if len(children) > 1 and any(result is c for c in children):
            # a `?rule` that passed one child through, e.g. `( expr )`: its
            # parent's span covers the brackets (Lark's "container"). The node
            # is kept with it: a freed node's id could be another node's later
            builder.containers[id(result)] = (result, builder.span_of(children))
        return result

    return reduce


class _ReductionMethods:
    """What Lark calls per rule: the builder's method of the rule's name, with the
    rule's full children (for its span) and the children the grammar keeps."""

    def __init__(self, builder: _Builder):
        self._builder = builder

    def __getattr__(self, name: str):
        method = getattr(self._builder, name, None)
        if name.startswith("_") or method is None:
            raise AttributeError(name)
        builder = self._builder
        return lambda kept: method(builder.children, kept)


class _Positions:
    """Where things are: spans from Lark's children, and errors collected in
    `diags` (the rule methods return a placeholder after an error)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset("", Diagnostics(), 0)

    def reset(self, file: str, diags: Diagnostics, lines: int) -> None:
        self.file = file
        self.diags = diags
        self.lines = lines  # of the file before the parsed text
        self.children: list = []
        self.containers: dict[int, tuple[object, Span]] = {}

    def span_of(self, children) -> Span:
        first = self._edge(children, 0)
        last = self._edge(reversed(children), 1)
        if first is None or last is None:
            return ast.NOSPAN
        return Span(self.file, first[0], first[1], last[0], last[1])

    def _edge(self, items, end: int) -> tuple[int, int] | None:
        """(line, col) of the start (end=0) or end (end=1) of the first item that
        has a position: a token, an AST node, a span at a tuple's end, or the
        items of a list, a tuple or a Tree."""
        for x in items:
            if isinstance(x, Token):  # the lexer gives every token its position
                if end:
                    return (x.end_line or 0) + self.lines, x.end_column or 0
                return (x.line or 0) + self.lines, x.column or 0
            span = x if isinstance(x, Span) else getattr(x, "span", None)
            if span is not None:
                if id(x) in self.containers:
                    span = self.containers[id(x)][1]
                if not span.line:  # ast.NOSPAN
                    continue
                return (span.end_line, span.end_col) if end else (span.line, span.col)
            if isinstance(x, lark.Tree):  # a repetition (`("," name)*`) Lark inlines
                x = x.children
            if isinstance(x, list | tuple):
                found = self._edge(reversed(x) if end else x, end)
                if found is not None:
                    return found
        return None

    def _span(self, meta) -> Span:
        return self.span_of(meta)

    def _tok_span(self, t: Token) -> Span:
        line = (t.line or 0) + self.lines
        return Span(
            self.file, line, t.column or 0, (t.end_line or 0) + self.lines, t.end_column or 0
        )

    def _error(self, message: str, span: Span, *hints: str) -> None:
        self.diags.error(message, span, *hints)


class _Values(_Positions):
    """Names, literals and operators."""

    # -- names and literals
    def name(self, meta, c):
        return ast.Name(_unquote_name(c[0]), self._span(meta))

    def number(self, meta, c):
        return ast.Number(Decimal(str(c[0])), self._span(meta))

    def percent(self, meta, c):
        return ast.Number(Decimal(str(c[0])[:-1]) / 100, self._span(meta))

    def string(self, meta, c):
        raw = str(c[0])[1:-1]

        def unescape(m: re.Match) -> str:
            nxt = m.group(1)
            if nxt not in _ESCAPES:
                span, i = self._span(meta), m.start()
                self._error(
                    f"unknown escape '\\{nxt}' in string",
                    Span(self.file, span.line, span.col + i + 1, span.line, span.col + i + 3),
                    "escapes are \\\" \\' \\\\ \\n \\t",
                )
            return _ESCAPES.get(nxt, nxt)

        # one pass in C: a long string literal must not take seconds
        value = _ESCAPE.sub(unescape, raw) if "\\" in raw else raw
        return ast.String(value, self._span(meta))

    def true(self, meta, c):
        return ast.Boolean(True, self._span(meta))

    def false(self, meta, c):
        return ast.Boolean(False, self._span(meta))

    def null(self, meta, c):
        return ast.Null(self._span(meta))

    def _when(self, t: Token):
        s = str(t)
        try:
            if "T" in s:
                return dt.datetime.fromisoformat(s)
            return dt.date.fromisoformat(s)
        except ValueError:
            what = "timestamp" if "T" in s else "date"
            self._error(f"invalid {what} '{s}': {_date_problem(s)}", self._tok_span(t))
            return dt.date(1970, 1, 1)

    def date(self, meta, c):
        v = self._when(c[0])
        return ast.DateLit(v, self._span(meta))

    def timestamp(self, meta, c):
        v = self._when(c[0])
        if not isinstance(v, dt.datetime):
            v = dt.datetime.combine(v, dt.time())
        return ast.TimestampLit(v, self._span(meta))

    def _unit(self, t: Token | None, amount_span: Span) -> str:
        if t is None:
            return "day"
        word = str(t)
        if word in UNIT_NAMES:
            return UNIT_NAMES[word]
        self._error(
            f"unknown unit '{word}'" + _parenthesized(_unit_hint(word)),
            self._tok_span(t),
            "units are " + ", ".join((*ast.UNITS, "year")),
        )
        return "day"

    def duration(self, meta, c):
        amount, unit = c
        span = self._span(meta)
        return ast.Duration(int(str(amount)), self._unit(unit, span), span)

    # -- operators
    def bare_name(self, meta, c):
        return c[0]

    def column(self, meta, c):
        return ast.Column(c[0].name, c[1].name, self._span(meta))

    def or_(self, meta, c):
        return ast.Binary("or", c[0], c[1], self._span(meta))

    def and_(self, meta, c):
        return ast.Binary("and", c[0], c[1], self._span(meta))

    def not_(self, meta, c):
        return ast.Unary("not", c[0], self._span(meta))

    def neg(self, meta, c):
        return ast.Unary("-", c[0], self._span(meta))

    def compare(self, meta, c):
        op = {"==": "=", "<>": "!="}.get(str(c[1]), str(c[1]))
        return ast.Binary(op, c[0], c[2], self._span(meta))

    def compare_eq(self, meta, c):
        return ast.Binary("=", c[0], c[1], self._span(meta))

    def _arith(self, op: str, meta, c) -> ast.Binary:
        return ast.Binary(op, c[0], c[1], self._span(meta))

    def add(self, meta, c):
        return self._arith("+", meta, c)

    def sub(self, meta, c):
        return self._arith("-", meta, c)

    def mul(self, meta, c):
        return self._arith("*", meta, c)

    def div(self, meta, c):
        return self._arith("/", meta, c)

    def expr_list(self, meta, c):
        return tuple(c)

    def in_(self, meta, c):
        return ast.InList(c[0], c[1], False, self._span(meta))

    def not_in(self, meta, c):
        return ast.InList(c[0], c[2], True, self._span(meta))

    def between(self, meta, c):
        return ast.Between(c[0], c[1], c[2], False, self._span(meta))

    def not_between(self, meta, c):
        return ast.Between(c[0], c[2], c[3], True, self._span(meta))

    def is_null(self, meta, c):
        return ast.IsNull(c[0], False, self._span(meta))

    def is_not_null(self, meta, c):
        return ast.IsNull(c[0], True, self._span(meta))

    def like(self, meta, c):
        return ast.Like(c[0], c[1], False, self._span(meta))

    def not_like(self, meta, c):
        return ast.Like(c[0], c[2], True, self._span(meta))


class _Calls(_Positions):
    """Windows, function calls, aggregates and sequences."""

    # -- windows
    def rolling(self, meta, c):
        return ast.RollingWindow(c[1], self._span(meta))

    def count_part(self, meta, c):
        return c  # [INT, NAME|None]

    def ago(self, meta, c):
        (amount, unit_tok), older = c
        span = self._span(meta)
        unit = self._unit(unit_tok, span) if unit_tok is not None else older.unit
        newer = ast.Duration(int(str(amount)), unit, self._tok_span(amount))
        return ast.AgoWindow(newer, older, span)

    def before_ago(self, meta, c):
        return ast.AgoWindow(c[0], None, self._span(meta))

    def date_range(self, meta, c):
        return ast.StaticWindow("range", self._when(c[0]), self._when(c[1]), self._span(meta))

    def since(self, meta, c):
        return ast.StaticWindow("since", self._when(c[0]), None, self._span(meta))

    def before_date(self, meta, c):
        return ast.StaticWindow("before", None, self._when(c[0]), self._span(meta))

    def today(self, meta, c):
        return ast.CalendarWindow("day", 0, self._span(meta))

    def yesterday(self, meta, c):
        return ast.CalendarWindow("day", 1, self._span(meta))

    def _period(self, meta, t: Token, offset: int):
        word = str(t)
        unit = UNIT_NAMES.get(word, word)
        if unit not in ast.CALENDAR_UNITS:
            self._error(
                f"unknown calendar period '{word}'",
                self._tok_span(t),
                did_you_mean(word, ast.CALENDAR_UNITS),
                "periods are day, week, month, year",
            )
            unit = "day"
        return ast.CalendarWindow(unit, offset, self._span(meta))

    def this_period(self, meta, c):
        return self._period(meta, c[0], 0)

    def previous_period(self, meta, c):
        return self._period(meta, c[0], 1)

    def sliding(self, meta, c):
        return ast.SlidingWindow(c[0], self._span(meta))

    def after(self, meta, c):
        (amount, unit_tok), end, anchor = c
        span = self._span(meta)
        unit = self._unit(unit_tok, span) if unit_tok is not None else end.unit
        start = ast.Duration(int(str(amount)), unit, self._tok_span(amount))
        return ast.AnchoredWindow(start, end, anchor, False, span)

    def first_after(self, meta, c):
        _, (amount, unit_tok), anchor = c
        span = self._span(meta)
        if unit_tok is None:
            self._error(
                f"'first {amount} after' needs a unit",
                self._tok_span(amount),
                f"write e.g. 'first {amount} days after …'",
            )
        unit = self._unit(unit_tok, span) if unit_tok is not None else "day"
        end = ast.Duration(int(str(amount)), unit, self._tok_span(amount))
        start = ast.Duration(0, unit, self._tok_span(amount))
        return ast.AnchoredWindow(start, end, anchor, True, span)

    def window(self, meta, c):  # pragma: no cover - every window has an alias
        return c[0]

    # -- calls
    def filtered(self, meta, c):
        return ("filtered", c[0], c[1], self._span(meta))

    def step(self, meta, c):
        return ast.Step(c[0], c[1], False, self._span(meta))

    def sequence(self, meta, c):
        head = c[0]
        where = None
        if isinstance(head, tuple):
            _, head, where, _ = head
        if not isinstance(head, ast.Name):
            self._error("a sequence step is a source name", _arg_span(head, self._span(meta)))
            head = ast.Name("?", _arg_span(head, self._span(meta)))
        steps = [ast.Step(head, where, False, self._span(meta))]
        i = 1
        words = ("THEN", "THEN_NOT", "THEN_DIRECTLY", "THEN_NOT_DIRECTLY")
        while i < len(c) and isinstance(c[i], Token) and c[i].type in words:
            step, word = c[i + 1], c[i].type
            if word == "THEN_NOT_DIRECTLY":
                self._error(
                    "'then not directly' is not supported",
                    self._tok_span(c[i]),
                    "write 'then not B' (no B afterwards) or 'then directly B'",
                )
            negated = word in ("THEN_NOT", "THEN_NOT_DIRECTLY")
            directly = word == "THEN_DIRECTLY"
            steps.append(dataclasses.replace(step, negated=negated, directly=directly))
            i += 2
        rest = [x for x in c[i:] if x is not None]
        within = rest[0] if rest else None
        on = rest[2].name if len(rest) > 2 else None
        return ast.Sequence(tuple(steps), within, on, None, self._span(meta))

    def args(self, meta, c):
        return list(c)

    def call(self, meta, c):
        fname = c[0]
        if isinstance(fname, Token):  # `last(...)`: the keyword as a function name
            fname = ast.Name(str(fname), self._tok_span(fname))
        args = c[1] or []
        span = self._span(meta)
        if fname.name in AGGREGATES:
            return self._aggregate(fname, args, span)
        fn = FUNCTIONS.get(fname.name)
        if fn is not None and not fn.internal:
            return self._value_call(fname, args, span)
        functions = user_functions()
        self._error(
            f"unknown function '{fname.name}'"
            + _parenthesized(did_you_mean(fname.name, [*AGGREGATES, *functions])),
            fname.span,
            f"aggregates are {', '.join(AGGREGATES)}; functions are {', '.join(functions)}",
        )
        return ast.Null(span)

    def _value_call(self, fname: ast.Name, args: list, span: Span):
        fn = FUNCTIONS[fname.name]
        lo, hi = fn.min_args, fn.max_args
        exprs = []
        for a in args:
            if isinstance(a, tuple) or not _is_expr(a):
                self._error(
                    f"{fname.name}() takes values, not a window, filter or sequence",
                    _arg_span(a, span),
                )
                continue
            exprs.append(a)
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} or {hi}" if hi == lo + 1 else f"{lo} or more"
            self._error(f"{fname.name}() takes {want} argument(s), got {len(args)}", span)
        return ast.Call(fname.name, tuple(exprs), span)

    def _aggregate(self, fname: ast.Name, args: list, span: Span):
        func = fname.name
        fn = AGGREGATES[func]
        if not args:
            self._error(f"{func}() needs a source or a value", span)
            return ast.Null(span)
        first, rest = args[0], args[1:]
        window = None
        half_life = None
        param = None
        if fn.parameter is not None:  # quantile(x, p [, window])
            if rest and _is_expr(rest[0]) and not _is_window(rest[0]):
                param, rest = rest[0], rest[1:]
            else:
                self._error(
                    f"{func}() needs {fn.parameter} after the value, e.g. "
                    f"{func}(orders.amount, 0.9)",
                    span,
                )
        for a in rest:
            if _is_window(a):
                if window is not None:
                    self._error(f"{func}() takes at most one window", a.span)
                window = a
            elif isinstance(a, ast.Duration) and fn.half_life and half_life is None:
                half_life = a
            elif isinstance(a, ast.Duration):
                self._error(
                    f"unexpected duration in {func}()",
                    a.span,
                    f"a rolling window is written 'last {a.amount} {a.unit}s'",
                )
            else:
                self._error(f"unexpected argument to {func}()", _arg_span(a, span))
        if fn.half_life and half_life is None:
            self._error(f"{func}() needs a half-life, e.g. {func}(…, 30 days)", span)
        if isinstance(first, ast.Sequence):
            if not fn.sequences:
                self._error("a sequence ('a then b') is only allowed inside did()", first.span)
            if half_life is not None:
                self._error("a sequence takes no half-life", half_life.span)
            return ast.Sequence(first.steps, first.within, first.on, window, span)
        where = None
        if isinstance(first, tuple):
            _, first, where, _ = first
        if not _is_expr(first):
            self._error(f"{func}() needs a source or a value first", _arg_span(first, span))
            return ast.Null(span)
        return ast.Aggregate(func, first, where, window, half_life, span, param=param)


class _Definitions(_Positions):
    """Traits, segments, segmentations and splits."""

    # -- definitions
    def trait(self, meta, c):
        return ast.Trait(c[0].name, c[1], self._span(meta))

    def segment_short(self, meta, c):
        return ast.Segment(c[0].name, c[1], span=self._span(meta))

    def segment_block(self, meta, c):
        name: ast.Name = c[0]
        fields: dict = {}
        for key, value, span in c[1:]:
            if key in fields:
                self._error(f"'{key}' is given twice in segment '{name.name}'", span)
            fields[key] = value
        span = self._span(meta)
        if "where" not in fields:
            self._error(f"segment '{name.name}' has no 'where' condition", name.span)
            fields["where"] = ast.Boolean(False, span)
        return ast.Segment(
            name.name,
            fields["where"],
            fields.get("title"),
            fields.get("hypothesis"),
            fields.get("channels", ()),
            fields.get("kpis", ()),
            span,
        )

    def item_title(self, meta, c):
        return ("title", c[0].value, self._span(meta))

    def item_hypothesis(self, meta, c):
        return ("hypothesis", c[0].value, self._span(meta))

    def item_channels(self, meta, c):
        return ("channels", tuple(n.name for n in c), self._span(meta))

    def item_kpis(self, meta, c):
        return ("kpis", tuple(n.name for n in c), self._span(meta))

    def item_where(self, meta, c):
        return ("where", c[0], self._span(meta))

    def rule(self, meta, c):
        return ast.Rule(c[0].name, c[1], self._span(meta))

    def catch_all(self, meta, c):
        return ast.CatchAll(c[0].name, self._span(meta))

    def segmentation(self, meta, c):
        name, by, *rest = c
        catch_all = rest[-1] if rest and isinstance(rest[-1], ast.CatchAll) else None
        rules = tuple(r for r in rest if isinstance(r, ast.Rule))
        kind = str(by).split()[-1] if by is not None else "priority"
        span = self._span(meta)
        if not rules:
            self._error(f"segmentation '{name.name}' has no rules", name.span)
        return ast.Segmentation(name.name, kind, rules, catch_all, span)

    def clusters(self, meta, c):
        name, k, _on, features, *rest = c
        catch_all = rest[-1] if rest and isinstance(rest[-1], ast.CatchAll) else None
        scale, names = None, []
        for item in rest:
            if isinstance(item, tuple) and item[0] == "scale":
                scale = item[1]
            elif isinstance(item, tuple) and item[0] == "names":
                names.extend(item[1])
        span = self._span(meta)
        clusters = ast.Clusters(int(str(k)), tuple(features), scale, tuple(names), span)
        return ast.Segmentation(name.name, "clusters", (), catch_all, span, clusters)

    def cluster_scale(self, meta, c):
        word = c[0]
        if word.name not in SCALE_METHODS:
            self._error(
                f"unknown scale '{word.name}'",
                word.span,
                *filter(None, [did_you_mean(word.name, SCALE_METHODS)]),
                "scale is standard, minmax or none",
            )
            return ("scale", None)
        return ("scale", word.name)

    def cluster_names(self, meta, c):
        return ("names", tuple(c))

    def cluster_name(self, meta, c):
        return ast.ClusterName(int(str(c[0])), c[1].name, self._span(meta))

    def group(self, meta, c):
        return ast.Group(c[0].name, Decimal(str(c[1])[:-1]), self._span(meta))

    def split(self, meta, c):
        name, of, salt, *groups = c
        if not groups:
            self._error(f"split '{name.name}' has no groups", name.span)
        text = salt.value if salt is not None else None
        return ast.Split(name.name, of, tuple(groups), text, self._span(meta))

    def start(self, meta, c):
        return list(c)


class _Builder(_Definitions, _Calls, _Values):
    """Builds AST nodes; errors are collected in `diags` and a placeholder returned.

    Every rule method takes (meta, c): meta is the rule's full children (what its
    span is taken from), c the children the grammar keeps."""


def _is_window(a) -> bool:
    return isinstance(
        a,
        ast.RollingWindow
        | ast.AgoWindow
        | ast.StaticWindow
        | ast.CalendarWindow
        | ast.SlidingWindow
        | ast.AnchoredWindow,
    )


def _is_expr(a) -> bool:
    return isinstance(a, ast.Node) and not _is_window(a) and not isinstance(a, ast.Step)


def _arg_span(a, default: Span) -> Span:
    if isinstance(a, tuple):
        return a[3]
    return getattr(a, "span", default)
