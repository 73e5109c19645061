"""Front end for `.seg` files: text → `ast.Module`.

Lark parses with the LALR grammar in grammar/segql.lark; a Transformer builds
the AST so that no lark.Tree leaves this module. Syntax errors are turned into
plain words, and parsing resumes at the next top-level definition so that one
run reports every broken definition of a file.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path

import lark
from lark import Token, Transformer, v_args

from segql import ast
from segql.errors import Diagnostics, SegqlError, Span, did_you_mean

VALUE_FUNCTIONS = {
    # name: (min args, max args)
    "days_since": (1, 1),
    "weekday": (1, 1),
    "hour": (1, 1),
    "date": (1, 1),
    "coalesce": (1, 64),
    "lower": (1, 1),
    "abs": (1, 1),
    "percentile": (1, 1),
    "score": (2, 2),
}
UNIT_NAMES = {u: u for u in (*ast.UNITS, "year")} | {u + "s": u for u in (*ast.UNITS, "year")}
TOP_LEVEL = re.compile(r"^[ \t]*(trait|segment|segmentation)\b", re.M)


def grammar_text() -> str:
    """The grammar, from the installed package or, in a source checkout, grammar/."""
    packaged = resources.files("segql").joinpath("grammar/segql.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "segql.lark").read_text("utf-8")


@lru_cache(maxsize=None)
def _lark(start: str = "start") -> lark.Lark:
    return lark.Lark(
        grammar_text(),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        start=start,
    )


def parse_module(text: str, file: str) -> ast.Module:
    """Parse one `.seg` file; raises SegqlErrors with every syntax error found."""
    diags = Diagnostics()
    definitions = _parse_recovering(text, file, "start", diags)
    diags.check()
    return ast.Module(file, tuple(definitions), Span(file, 1, 1, 1, 1))


def parse_expression(text: str, file: str, line: int = 1, col: int = 1) -> ast.Expr:
    """Parse one condition (YAML front end); positions are shifted to (line, col)
    of the string inside its file."""
    # pad so that Lark's own positions equal positions in the enclosing file
    padded = "\n" * (line - 1) + " " * (col - 1) + text
    diags = Diagnostics()
    try:
        tree = _lark("expr").parse(padded)
    except lark.exceptions.UnexpectedInput as e:
        diags.extend([_syntax_error(e, padded, file)])
        diags.check()
    builder = _Builder(file, diags)
    node = builder.transform(tree)
    diags.check()
    return node


def _parse_recovering(text: str, file: str, start: str, diags: Diagnostics) -> list:
    work = text
    for _ in range(10_000):
        try:
            tree = _lark(start).parse(work)
        except lark.exceptions.UnexpectedInput as e:
            diags.extend([_syntax_error(e, work, file)])
            blanked = _blank_chunk(work, e.pos_in_stream or 0)
            if blanked == work:
                return []
            work = blanked
            continue
        builder = _Builder(file, diags)
        result = builder.transform(tree)
        return list(result.children) if isinstance(result, lark.Tree) else list(result)
    return []


def _blank_chunk(text: str, pos: int) -> str:
    """Blank out (keeping newlines, so positions stay) the definition holding pos."""
    starts = [m.start() for m in TOP_LEVEL.finditer(text)]
    begin = max((s for s in starts if s <= pos), default=0)
    end = min((s for s in starts if s > pos), default=len(text))
    if begin == end:
        end = len(text)
    chunk = re.sub(r"[^\n]", " ", text[begin:end])
    return text[:begin] + chunk + text[end:]


# ---------------------------------------------------------------- syntax errors

_TOKEN_WORDS = {
    "NAME": "a name",
    "QUOTED_NAME": "a `quoted name`",
    "INT": "a number",
    "DECIMAL": "a number",
    "STRING": "a string",
    "DATE": "a date",
    "TIMESTAMP": "a timestamp",
    "PERCENT": "a percent",
    "UNIT": "a unit (days, weeks, …)",
    "RPAR": "')'",
    "LPAR": "'('",
    "RBRACE": "'}'",
    "LBRACE": "'{'",
    "COMMA": "','",
    "EQUAL": "'='",
    "DOT": "'.'",
    "$END": "end of file",
}


def _describe(token_type: str) -> str:
    if token_type in _TOKEN_WORDS:
        return _TOKEN_WORDS[token_type]
    return f"'{token_type.lower().replace('_', ' ')}'"


def _unclosed_paren(text: str, pos: int) -> tuple[int, int] | None:
    """(line, col) of the innermost '(' still open at pos, ignoring strings and comments."""
    stack: list[int] = []
    i = 0
    while i < pos and i < len(text):
        c = text[i]
        if c in "\"'`":
            j = i + 1
            while j < len(text) and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        if c == "(":
            stack.append(i)
        elif c == ")" and stack:
            stack.pop()
        i += 1
    if not stack:
        return None
    at = stack[-1]
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return line, col


def _syntax_error(e: lark.exceptions.UnexpectedInput, text: str, file: str) -> SegqlError:
    line, col = e.line, e.column
    if line is None or line < 1:  # end of input
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
    expected: set[str] = set()
    if isinstance(e, lark.exceptions.UnexpectedToken):
        expected = {t for t in e.expected if not t.startswith("__")}
        tok = e.token
        if tok.type == "$END":
            what = "unexpected end of file"
            length = 1
        else:
            if tok.type in ("NAME", "QUOTED_NAME"):
                what = f"unexpected name {str(tok)!r}"
            elif tok.type in _TOKEN_WORDS:
                what = f"unexpected {_TOKEN_WORDS[tok.type].removeprefix('a ')} {str(tok)!r}"
            else:
                what = f"unexpected {str(tok)!r}"
            length = max(1, len(str(tok)))
    elif isinstance(e, lark.exceptions.UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        what = f"unexpected character {ch!r}"
        length = 1
        expected = set(getattr(e, "allowed", None) or ())
    else:
        what = "unexpected end of file"
        length = 1
        expected = set(getattr(e, "expected", None) or ())
    hints: list[str] = []
    paren = _unclosed_paren(text, e.pos_in_stream or len(text))
    if "RPAR" in expected and paren is not None:
        message = f"expected ')' to close '(' opened at {paren[0]}:{paren[1]}"
        message = f"{message}, found {what.removeprefix('unexpected ')}"
    elif "UNIT" in expected and isinstance(e, lark.exceptions.UnexpectedToken) and str(
        e.token
    ).isidentifier():
        message = f"unknown unit '{e.token}'"
        hints.append(did_you_mean(str(e.token), UNIT_NAMES))
        hints.append("units are " + ", ".join((*ast.UNITS, "year")))
    else:
        message = what
        words = sorted({_describe(t) for t in expected})
        if 0 < len(words) <= 6:
            hints.append("expected " + ", ".join(words))
    hints = [h for h in hints if h]
    return SegqlError(message, Span(file, line, col, line, col + length), tuple(hints))


# ---------------------------------------------------------------- tree → AST


def _tok_span(file: str, t: Token) -> Span:
    return Span(file, t.line or 0, t.column or 0, t.end_line or 0, t.end_column or 0)


def _unquote_name(t: Token) -> str:
    s = str(t)
    return s[1:-1] if s.startswith("`") else s


_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}


@v_args(meta=True)
class _Builder(Transformer):
    """Builds AST nodes; errors are collected in `diags` and a placeholder returned."""

    def __init__(self, file: str, diags: Diagnostics):
        super().__init__()
        self.file = file
        self.diags = diags

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return ast.NOSPAN
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _error(self, message: str, span: Span, *hints: str) -> None:
        self.diags.error(message, span, *hints)

    # -- names and literals
    def name(self, meta, c):
        return ast.Name(_unquote_name(c[0]), self._span(meta))

    def number(self, meta, c):
        return ast.Number(Decimal(str(c[0])), self._span(meta))

    def percent(self, meta, c):
        return ast.Number(Decimal(str(c[0])[:-1]) / 100, self._span(meta))

    def string(self, meta, c):
        raw = str(c[0])[1:-1]
        out, i = [], 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                if nxt not in _ESCAPES:
                    span = self._span(meta)
                    self._error(
                        f"unknown escape '\\{nxt}' in string",
                        Span(self.file, span.line, span.col + i + 1, span.line, span.col + i + 3),
                        "escapes are \\\" \\' \\\\ \\n \\t",
                    )
                out.append(_ESCAPES.get(nxt, nxt))
                i += 2
            else:
                out.append(ch)
                i += 1
        return ast.String("".join(out), self._span(meta))

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
            self._error(f"invalid date '{s}'", _tok_span(self.file, t))
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
            f"unknown unit '{word}'",
            _tok_span(self.file, t),
            did_you_mean(word, UNIT_NAMES),
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

    def _arith(op):  # noqa: N805 - helper building a method
        def method(self, meta, c):
            return ast.Binary(op, c[0], c[1], self._span(meta))

        return method

    add = _arith("+")
    sub = _arith("-")
    mul = _arith("*")
    div = _arith("/")

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

    # -- windows
    def rolling(self, meta, c):
        return ast.RollingWindow(c[1], self._span(meta))

    def count_part(self, meta, c):
        return c  # [INT, NAME|None]

    def ago(self, meta, c):
        (amount, unit_tok), older = c
        span = self._span(meta)
        unit = self._unit(unit_tok, span) if unit_tok is not None else older.unit
        newer = ast.Duration(int(str(amount)), unit, _tok_span(self.file, amount))
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
                _tok_span(self.file, t),
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
        while i < len(c) and isinstance(c[i], Token) and c[i].type in ("THEN", "THEN_NOT"):
            step = c[i + 1]
            if c[i].type == "THEN_NOT":
                step = ast.Step(step.source, step.where, True, step.span)
            steps.append(step)
            i += 2
        within = c[i]
        on = c[i + 2].name if len(c) > i + 2 and c[i + 2] is not None else None
        return ast.Sequence(tuple(steps), within, on, None, self._span(meta))

    def args(self, meta, c):
        return list(c)

    def call(self, meta, c):
        fname = c[0]
        if isinstance(fname, Token):  # `last(...)`: the keyword as a function name
            fname = ast.Name(str(fname), _tok_span(self.file, fname))
        args = c[1] or []
        span = self._span(meta)
        if fname.name in ast.AGGREGATES:
            return self._aggregate(fname, args, span)
        if fname.name in VALUE_FUNCTIONS:
            return self._value_call(fname, args, span)
        self._error(
            f"unknown function '{fname.name}'",
            fname.span,
            did_you_mean(fname.name, [*ast.AGGREGATES, *VALUE_FUNCTIONS]),
        )
        return ast.Null(span)

    def _value_call(self, fname: ast.Name, args: list, span: Span):
        lo, hi = VALUE_FUNCTIONS[fname.name]
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
            want = str(lo) if lo == hi else f"{lo} or more"
            self._error(f"{fname.name}() takes {want} argument(s), got {len(args)}", span)
        return ast.Call(fname.name, tuple(exprs), span)

    def _aggregate(self, fname: ast.Name, args: list, span: Span):
        func = fname.name
        if not args:
            self._error(f"{func}() needs a source or a value", span)
            return ast.Null(span)
        first, rest = args[0], args[1:]
        window = None
        half_life = None
        for a in rest:
            if _is_window(a):
                if window is not None:
                    self._error(f"{func}() takes at most one window", a.span)
                window = a
            elif isinstance(a, ast.Duration) and func.startswith("decayed_") and half_life is None:
                half_life = a
            elif isinstance(a, ast.Duration):
                self._error(
                    f"unexpected duration in {func}()",
                    a.span,
                    f"a rolling window is written 'last {a.amount} {a.unit}s'",
                )
            else:
                self._error(f"unexpected argument to {func}()", _arg_span(a, span))
        if func.startswith("decayed_") and half_life is None:
            self._error(f"{func}() needs a half-life, e.g. {func}(…, 30 days)", span)
        if isinstance(first, ast.Sequence):
            if func != "did":
                self._error("a sequence ('then … within') is only allowed inside did()", first.span)
            if half_life is not None:
                self._error("a sequence takes no half-life", half_life.span)
            return ast.Sequence(first.steps, first.within, first.on, window, span)
        where = None
        if isinstance(first, tuple):
            _, first, where, _ = first
        if not _is_expr(first):
            self._error(f"{func}() needs a source or a value first", _arg_span(first, span))
            return ast.Null(span)
        return ast.Aggregate(func, first, where, window, half_life, span)

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

    def start(self, meta, c):
        return list(c)


def _is_window(a) -> bool:
    return isinstance(
        a,
        ast.RollingWindow
        | ast.AgoWindow
        | ast.StaticWindow
        | ast.CalendarWindow
        | ast.SlidingWindow,
    )


def _is_expr(a) -> bool:
    return isinstance(a, ast.Node) and not _is_window(a) and not isinstance(a, ast.Step)


def _arg_span(a, default: Span) -> Span:
    if isinstance(a, tuple):
        return a[3]
    return getattr(a, "span", default)
