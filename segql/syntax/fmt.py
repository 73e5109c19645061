"""`segql fmt`: `.seg` text in one canonical layout, every comment kept.

The layout is printed from the parsed (unresolved) AST, so spelling is
canonical (lower-case keywords, `"…"` strings, `!=`, plural units); the
source text is read again only for what the AST forgets: the comments (from
the lexer), a number's spelling (`10%`, `1.50`), and whether a segment was
written as a block. Layout (docs/workbench.md, `segql fmt`):

- one definition per line when it fits in WIDTH columns; runs of one-line
  traits or segments (no blank line or comment between them) align their `=`;
- a longer one puts its condition on the next line, two spaces in, and breaks
  it before each top-level `and`/`or` (continuation at the same indent; a
  nested chain that is still too long breaks two spaces further in);
- blocks (`segment x {…}`, segmentations, splits) hold one item per line, two
  spaces in; rule labels and group names are padded to align;
- blank lines between definitions and between block items are kept, at most
  one; none inside a condition.

Comments: each is printed once, in source order, before the line of the element
it precedes (a definition, block item, rule, group, or operand of a broken
condition), or at the end of the line it ended. A comment inside an element
printed on one line (inside a call's arguments) moves to just before that line.

Every formatting is checked: the result parses to the same definitions (spans
aside) and holds the same comments, else it is an error and nothing is
written. Adding a node kind to the language is one `_expr` case (and, for a
definition, one `_definition` case).
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from lark import Token

from segql.errors import SegqlError, SegqlErrors, Span
from segql.syntax import ast
from segql.syntax.parser import _lark, parse_module

WIDTH = 100

# words that lex as keywords where a name can stand (in expression position):
# such names are written in backticks. Units are keywords only after a number:
# only a rule label can follow one (the previous rule's last value)
KEYWORDS = frozenset(
    "trait segment segmentation title hypothesis channels kpis where else or and not in "
    "between like true false null within on last to ago before since today yesterday this "
    "previous any then".split()
)
UNIT_WORDS = frozenset(w + s for w in (*ast.UNITS, "year") for s in ("", "s"))
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# binding strength: an operand weaker than its place needs parentheses
_OR, _AND, _NOT, _CMP, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}
_BINARY = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT}


def name(n: str, label: bool = False) -> str:
    """A name as written: in backticks when it is not an identifier or would lex as a keyword."""
    if _IDENT.fullmatch(n) and n not in KEYWORDS and not (label and n in UNIT_WORDS):
        return n
    return f"`{n}`"


def _function(n: str) -> str:
    # a function name is followed by `(`: a keyword there (`last(…)`) is still a call
    return n if _IDENT.fullmatch(n) else f"`{n}`"


def string(s: str) -> str:
    body = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{body}"'


def duration(d: ast.Duration) -> str:
    return f"{d.amount} {d.unit}{'' if d.amount == 1 else 's'}"


def when(v: dt.date) -> str:
    if not isinstance(v, dt.datetime):
        return v.isoformat()
    spec = "minutes" if not v.second and not v.microsecond else "auto"
    return v.isoformat(timespec=spec)


def _precedence(e: ast.Node) -> int:
    if isinstance(e, ast.Binary):
        return _BINARY.get(e.op, _CMP)
    if isinstance(e, ast.Unary):
        return _NOT if e.op == "not" else _UNARY
    if isinstance(e, ast.InList | ast.Between | ast.IsNull | ast.Like):
        return _CMP
    return _ATOM


def _start(span: Span) -> tuple[int, int]:
    return (span.line, span.col)


def _end(span: Span) -> tuple[int, int]:
    return (span.end_line, span.end_col)


@dataclass
class _Line:
    """A printed line and the source element it stands for (where its comments go)."""

    indent: int
    text: str
    start: tuple[int, int]
    end: tuple[int, int]
    blank: bool = False  # a blank line before it in the source is kept
    comment_indent: int | None = None  # of comments before it, when not its own


class _Source:
    """The source text's tokens and comments, by position."""

    def __init__(self, text: str):
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.blank_lines = [i for i, line in enumerate(text.split("\n"), 1) if not line.strip()]
        tokens = list(_lark().lex(text, dont_ignore=True))
        self.comments = [t for t in tokens if t.type == "COMMENT"]
        self.tokens = [t for t in tokens if t.type not in ("WS", "COMMENT")]
        self.token_at = [(t.line, t.column) for t in self.tokens]
        self.comment_at = [(t.line, t.column) for t in self.comments]

    def slice(self, span: Span) -> str:
        a = self.line_starts[span.line - 1] + span.col - 1
        b = self.line_starts[span.end_line - 1] + span.end_col - 1
        return self.text[a:b]

    def first_token(self, after: tuple[int, int], type_: str) -> Token | None:
        for t in self.tokens[bisect.bisect_left(self.token_at, after) :]:
            if t.type == type_:
                return t
        return None

    def tokens_in(self, a: tuple[int, int], b: tuple[int, int]) -> list[Token]:
        return self.tokens[
            bisect.bisect_left(self.token_at, a) : bisect.bisect_left(self.token_at, b)
        ]

    def any_comment(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        """A comment strictly between a and b."""
        i = bisect.bisect_right(self.comment_at, a)
        return i < len(self.comment_at) and self.comment_at[i] < b


def _token_end(t: Token) -> tuple[int, int]:
    return (t.end_line or 0, t.end_column or 0)


class _Printer:
    def __init__(self, source: _Source):
        self.src = source
        self.pending = list(reversed(source.comments))  # next comment last
        self.out: list[str] = []
        self.src_line = 0  # last source line printed: blank lines are kept after it

    # ------------------------------------------------------------ comments and lines

    def _comments_before(self, pos: tuple[int, int], indent: int, blanks: bool) -> None:
        while self.pending and (self.pending[-1].line, self.pending[-1].column) < pos:
            c = self.pending.pop()
            self._blank(c.line, blanks)
            self.out.append(" " * indent + str(c).rstrip())
            self.src_line = c.line

    def _blank(self, line: int, blanks: bool) -> None:
        if blanks and self.out and self.src_line and line > self.src_line + 1:
            if self._blank_in_source(self.src_line, line):
                self.out.append("")

    def _blank_in_source(self, after: int, before: int) -> bool:
        blank = self.src.blank_lines
        return blank[bisect.bisect_right(blank, after) : bisect.bisect_left(blank, before)] != []

    def _emit(self, lines: list[_Line], until=None) -> None:
        """Print lines, each after the comments before its element's end and with
        the comment that ends its element's source line."""
        for i, ln in enumerate(lines):
            at = ln.indent if ln.comment_indent is None else ln.comment_indent
            self._comments_before(ln.start, at, ln.blank)
            self._blank(ln.start[0], ln.blank)
            self._comments_before(ln.end, at, False)  # inside: moved before the line
            text = " " * ln.indent + ln.text
            nxt = lines[i + 1].start if i + 1 < len(lines) else until
            if self.pending:
                c = self.pending[-1]
                where = (c.line, c.column)
                if c.line == ln.end[0] and where >= ln.end and (nxt is None or where < nxt):
                    self.pending.pop()
                    text += "  " + str(c).rstrip()
            self.out.append(text)
            self.src_line = max(self.src_line, ln.end[0])

    # ------------------------------------------------------------ expressions

    def _expr(self, e: ast.Node) -> str:
        """One expression on one line. A new node kind is one case here."""
        match e:
            case ast.Binary(op, left, right):
                p = _precedence(e)
                if p == _CMP:
                    return f"{self._at(left, _SUM)} {op} {self._at(right, _SUM)}"
                return f"{self._at(left, p)} {op} {self._at(right, p + 1)}"
            case ast.Unary("not", operand):
                # `not (a < b)`: parentheses the grammar does not need, but clearer
                if _precedence(operand) == _CMP:
                    return f"not ({self._expr(operand)})"
                return "not " + self._at(operand, _NOT)
            case ast.Unary(_, operand):
                return "-" + self._at(operand, _UNARY)
            case ast.InList(operand, items, negated):
                listed = ", ".join(self._expr(i) for i in items)
                return f"{self._at(operand, _SUM)} {'not in' if negated else 'in'} ({listed})"
            case ast.Between(operand, low, high, negated):
                word = "not between" if negated else "between"
                bounds = f"{self._at(low, _SUM)} and {self._at(high, _SUM)}"
                return f"{self._at(operand, _SUM)} {word} {bounds}"
            case ast.IsNull(operand, negated):
                return f"{self._at(operand, _SUM)} {'is not null' if negated else 'is null'}"
            case ast.Like(operand, pattern, negated):
                word = "not like" if negated else "like"
                return f"{self._at(operand, _SUM)} {word} {self._at(pattern, _SUM)}"
            case ast.Call(func, args):
                return f"{_function(func)}({', '.join(self._expr(a) for a in args)})"
            case ast.Aggregate(func, value, where, window, half_life):
                first = self._expr(value) + (f" where {self._expr(where)}" if where else "")
                # an aggregate's own argument (quantile's p) comes before the window
                rest = [self._expr(e.param)] if e.param is not None else []
                rest += [self._window(window)] if window else []
                rest += [duration(half_life)] if half_life else []
                return f"{_function(func)}({', '.join([first, *rest])})"
            case ast.Sequence():
                return " ".join(p for p in self._sequence(e) if p)
            case ast.Name(n):
                return name(n)
            case ast.Column(source, column):
                return f"{name(source)}.{name(column)}"
            case ast.Number(value):
                return self._number(e, value)
            case ast.String(value):
                return string(value)
            case ast.Boolean(value):
                return "true" if value else "false"
            case ast.Null():
                return "null"
            case ast.DateLit(value) | ast.TimestampLit(value):
                return when(value)
            case ast.Duration():
                return duration(e)
        raise SegqlError(f"segql fmt cannot print a {type(e).__name__}")

    def _at(self, e: ast.Node, least: int) -> str:
        """e where the grammar takes an operand binding at least `least`."""
        text = self._expr(e)
        return text if _precedence(e) >= least else f"({text})"

    def _number(self, e: ast.Number, value: Decimal) -> str:
        # as written (`10%`, `1.50`) when the source says so
        if e.span.line:
            written = self.src.slice(e.span)
            if re.fullmatch(r"\d+(\.\d+)?", written) and Decimal(written) == value:
                return written
            if re.fullmatch(r"\d+(\.\d+)?%", written) and Decimal(written[:-1]) / 100 == value:
                return written
        return format(value, "f")

    def _sequence(self, e: ast.Sequence) -> tuple[str, str]:
        """`did(steps` and `within … [on …][, window])`: a long one breaks between them;
        without `within`, `did(steps,` and `window)` (no window: one piece)."""
        steps = " ".join(self._step(s, i) for i, s in enumerate(e.steps))
        window = f", {self._window(e.window)}" if e.window else ""
        if e.within is None:
            if e.window is None:
                return f"did({steps})", ""
            return f"did({steps},", f"{self._window(e.window)})"
        within = f"within {duration(e.within)}" + (f" on {name(e.on)}" if e.on else "")
        return f"did({steps}", within + window + ")"

    def _step(self, s: ast.Step, i: int) -> str:
        word = "" if i == 0 else "then not " if s.negated else "then "
        if s.directly:
            word = "then directly "
        # after `then`, a source named `directly` would lex as the keyword
        src = name(s.source.name)
        if i and src == "directly":
            src = "`directly`"
        return word + src + (f" where {self._expr(s.where)}" if s.where else "")

    def _window(self, w: ast.Node) -> str:
        match w:
            case ast.RollingWindow(length):
                return f"last {duration(length)}"
            case ast.AgoWindow(newer, None):
                return f"before {duration(newer)} ago"
            case ast.AgoWindow(newer, older):
                n = str(newer.amount) if newer.unit == older.unit else duration(newer)
                return f"{n} to {duration(older)} ago"
            case ast.StaticWindow("range", start, end):
                return f"{when(start)} to {when(end)}"
            case ast.StaticWindow("since", start, _):
                return f"since {when(start)}"
            case ast.StaticWindow("before", _, end):
                return f"before {when(end)}"
            case ast.CalendarWindow("day", 0):
                return "today"
            case ast.CalendarWindow("day", 1):
                return "yesterday"
            case ast.CalendarWindow(unit, offset):
                return f"{'previous' if offset else 'this'} {unit}"
            case ast.SlidingWindow(length):
                return f"any {duration(length)}"
            case ast.AnchoredWindow(start, end, anchor, first):
                after = f"after {self._at(anchor, _ATOM)}"
                if first:
                    return f"first {duration(end)} {after}"
                n = str(start.amount) if start.unit == end.unit else duration(start)
                return f"{n} to {duration(end)} {after}"
        raise SegqlError(f"segql fmt cannot print a {type(w).__name__}")

    # ------------------------------------------------------------ broken conditions

    def _lines(
        self, e, indent: int, cont: int, prefix: str = "", suffix: str = "", least: int = 0
    ) -> list[_Line]:
        """e as lines: one when it fits and no comment sits between its operands,
        else broken before each `and`/`or` of its top chain (continuation at `cont`)."""
        flat = prefix + self._at(e, least) + suffix
        chain = isinstance(e, ast.Binary) and e.op in ("and", "or")
        operands = _chain(e) if chain else [e]
        # up to the last operand's end: a comment before a closing `)` trails the line
        between = chain and self.src.any_comment(_end(operands[0].span), _end(operands[-1].span))
        p = _precedence(e)
        if indent + len(flat) <= WIDTH and not between:
            return [_Line(indent, flat, _start(e.span), _end(e.span))]
        if isinstance(e, ast.Binary) and p == _CMP and p >= least:
            # `a > b` too long: before the operator, like `and`
            return [
                _Line(indent, prefix + self._at(e.left, _SUM), _start(e.span), _end(e.left.span)),
                _Line(
                    cont,
                    f"{e.op} {self._at(e.right, _SUM)}{suffix}",
                    _start(e.right.span),
                    _end(e.span),
                ),
            ]
        if isinstance(e, ast.Sequence):
            head, tail = self._sequence(e)  # `within` under the first step
            if not tail:
                return [_Line(indent, prefix + head + suffix, _start(e.span), _end(e.span))]
            return [
                _Line(indent, prefix + head, _start(e.span), _end(e.span)),
                _Line(indent + len(prefix) + 4, tail + suffix, _end(e.span), _end(e.span)),
            ]
        if not chain:
            return [_Line(indent, flat, _start(e.span), _end(e.span))]
        if p < least:
            prefix, suffix = prefix + "(", ")" + suffix
        out = self._lines(operands[0], indent, cont + 2, prefix, "", p)
        for i, o in enumerate(operands[1:], 1):
            last = i == len(operands) - 1
            out += self._lines(o, cont, cont + 2, e.op + " ", suffix if last else "", p + 1)
        return out

    # ------------------------------------------------------------ definitions

    def module(self, m: ast.Module) -> str:
        defs = list(m.definitions)
        runs = self._aligned_runs(defs)
        for i, d in enumerate(defs):
            until = _start(defs[i + 1].span) if i + 1 < len(defs) else None
            lines = self._definition(d, runs.get(i, 0))
            lines[0].blank = True
            self._emit(lines, until=until)
        self._comments_before((1 << 30, 0), 0, True)
        return "\n".join(self.out) + "\n" if self.out else ""

    def _definition(self, d: ast.Definition, pad: int) -> list[_Line]:
        """A definition's lines. A new definition kind is one case here."""
        match d:
            case ast.Trait(n, expr):
                return self._short("trait", n, expr, d, pad)
            case ast.Segment(n, expr) if not self._is_block(d):
                return self._short("segment", n, expr, d, pad)
            case ast.Segment():
                return self._segment_block(d)
            case ast.Segmentation():
                return self._segmentation(d)
            case ast.Split():
                return self._split(d)
        raise SegqlError(f"segql fmt cannot print a {type(d).__name__}")

    def _is_block(self, d: ast.Segment) -> bool:
        if d.title or d.hypothesis or d.channels or d.kpis:
            return True
        eq = self.src.first_token(_start(d.span), "EQUAL")
        brace = self.src.first_token(_start(d.span), "LBRACE")
        return brace is not None and (
            eq is None or (brace.line, brace.column) < (eq.line, eq.column)
        )

    def _one_line(self, d: ast.Definition) -> tuple[str, str] | None:
        """(keyword, condition) of a trait or short segment that fits on a line, else None."""
        if isinstance(d, ast.Trait):
            kw = "trait"
        elif isinstance(d, ast.Segment) and not self._is_block(d):
            kw = "segment"
        else:
            return None
        if self.src.any_comment(self._head_end(d), _end(d.span)):
            return None  # a comment in the condition: it goes on lines of its own
        body = self._expr(d.expr)
        return (kw, body) if len(f"{kw} {name(d.name)} = {body}") <= WIDTH else None

    def _head_end(self, d) -> tuple[int, int]:
        eq = self.src.first_token(_start(d.span), "EQUAL")
        return _token_end(eq) if eq is not None else _start(d.span)

    def _short(self, kw: str, n: str, expr, d, pad: int) -> list[_Line]:
        if self._one_line(d) is not None:
            head = f"{kw} {name(n).ljust(pad)} = "
            return [_Line(0, head + self._expr(expr), _start(d.span), _end(d.span))]
        head = _Line(0, f"{kw} {name(n)} =", _start(d.span), self._head_end(d))
        return [head, *self._lines(expr, 2, 2)]

    def _aligned_runs(self, defs: list) -> dict[int, int]:
        """Name widths of runs of one-line definitions of one kind, with no blank
        line or comment between them: their `=` align."""
        widths: dict[int, int] = {}
        run: list[int] = []

        def close():
            w = max((len(name(defs[j].name)) for j in run), default=0)
            widths.update(dict.fromkeys(run, w) if len(run) > 1 else {})
            run.clear()

        for i, d in enumerate(defs):
            one = self._one_line(d)
            if run:
                prev = defs[run[-1]]
                joined = (
                    one is not None
                    and one[0] == self._one_line(prev)[0]
                    # on the next line, or on the same one (printed on the next)
                    and d.span.line <= prev.span.end_line + 1
                    # a comment inside d is printed before it: it ends the run too
                    and not self.src.any_comment(_end(prev.span), _end(d.span))
                )
                if not joined:
                    close()
            if one is not None:
                run.append(i)
        close()
        return widths

    def _segment_block(self, d: ast.Segment) -> list[_Line]:
        # items in source order: from the keywords at the block's top level
        body_at = self.src.first_token(_start(d.span), "LBRACE")
        toks = self.src.tokens_in(_token_end(body_at), _end(d.span))[:-1]  # without `}`
        where_span = d.expr.span
        starts = [
            i
            for i, t in enumerate(toks)
            if t.type in ("TITLE", "HYPOTHESIS", "CHANNELS", "KPIS", "WHERE")
            and not (_start(where_span) <= (t.line, t.column) < _end(where_span))
            and _depth(toks[:i]) == 0
        ]
        items = []
        for k, i in enumerate(starts):
            j = starts[k + 1] if k + 1 < len(starts) else len(toks)
            a, b = (toks[i].line, toks[i].column), _token_end(toks[j - 1])
            items.append((toks[i].type.lower(), a, b))
        lines: list[list[_Line]] = []
        for kind, a, b in items:
            if kind == "where":
                ls = self._lines(d.expr, 2, 4, "where ")
                ls[0].start = a
                lines.append(ls)
                continue
            value = {
                "title": lambda: string(d.title or ""),
                "hypothesis": lambda: string(d.hypothesis or ""),
                "channels": lambda: ", ".join(name(c) for c in d.channels),
                "kpis": lambda: ", ".join(name(k) for k in d.kpis),
            }[kind]()
            lines.append([_Line(2, f"{kind} {value}", a, b)])
        return self._braced(f"segment {name(d.name)}", d, lines)

    def _segmentation(self, d: ast.Segmentation) -> list[_Line]:
        if d.clusters is not None:
            return self._clusters(d, d.clusters)
        width = max((len(name(r.label, label=True)) for r in d.rules), default=0)
        items = []
        for r in d.rules:
            prefix = f"{name(r.label, label=True).ljust(width)} = "
            ls = self._lines(r.expr, 2, 4, prefix)
            ls[0].start = _start(r.span)
            items.append(ls)
        if d.catch_all is not None:
            c = d.catch_all
            items.append([_Line(2, f"else {name(c.label)}", _start(c.span), _end(c.span))])
        return self._braced(f"segmentation {name(d.name)} by {d.by}", d, items)

    def _clusters(self, d: ast.Segmentation, c: ast.Clusters) -> list[_Line]:
        """`by clusters(K) on (F, …) { scale M  names { 1 a  2 b }  else L }`."""
        items = []
        if c.scale is not None:
            items.append([_Line(2, f"scale {c.scale}", _start(c.span), _start(c.span))])
        if c.names:
            names = "  ".join(f"{n.number} {name(n.label)}" for n in c.names)
            first, last = c.names[0], c.names[-1]
            items.append([_Line(2, f"names {{ {names} }}", _start(first.span), _end(last.span))])
        if d.catch_all is not None:
            e = d.catch_all
            items.append([_Line(2, f"else {name(e.label)}", _start(e.span), _end(e.span))])
        features = ", ".join(self._expr(f) for f in c.features)
        head = f"segmentation {name(d.name)} by clusters({c.k}) on ({features})"
        return self._braced(head, d, items)

    def _split(self, d: ast.Split) -> list[_Line]:
        width = max((len(name(g.name)) for g in d.groups), default=0)
        items = [
            [_Line(2, f"{name(g.name).ljust(width)} {g.percent}%", _start(g.span), _end(g.span))]
            for g in d.groups
        ]
        salt = f" salt {string(d.salt)}" if d.salt is not None else ""
        return self._braced(f"split {name(d.name)} of {self._expr(d.of)}{salt}", d, items)

    def _braced(self, head: str, d, items: list[list[_Line]]) -> list[_Line]:
        brace = self.src.first_token(_start(d.span), "LBRACE")
        head_end = _token_end(brace) if brace is not None else _start(d.span)
        out = [_Line(0, head + " {", _start(d.span), head_end)]
        for i, ls in enumerate(items):
            ls[0].blank = i > 0  # none just after the `{`
            out += ls
        end = _end(d.span)
        out.append(_Line(0, "}", (end[0], end[1] - 1), end, comment_indent=2))
        return out


def format_text(text: str, file: str) -> str:
    """text in the canonical layout. Raises SegqlErrors when it does not parse,
    SegqlError when the result would not mean the same (a bug in fmt)."""
    module = parse_module(text, file)
    source = _Source(text)
    out = _Printer(source).module(module)
    check(text, out, file, module)
    return out


def check(before: str, after: str, file: str, module: ast.Module | None = None) -> None:
    """after holds the definitions and comments of before, or SegqlError."""
    module = module or parse_module(before, file)
    try:
        again = parse_module(after, file)
    except (SegqlError, SegqlErrors) as e:  # the result must parse
        raise SegqlError(f"segql fmt would break '{file}': {e}") from None
    if again.definitions != module.definitions:
        raise SegqlError(f"segql fmt would change the definitions of '{file}'")
    kept = [str(c).rstrip() for c in _Source(after).comments]
    if kept != [str(c).rstrip() for c in _Source(before).comments]:
        raise SegqlError(f"segql fmt would move or lose comments of '{file}'")


def _chain(e: ast.Binary) -> list:
    """Operands of a left-nested chain of one operator: a and b and c → [a, b, c]."""
    out = []
    while isinstance(e.left, ast.Binary) and e.left.op == e.op:
        out.append(e.right)
        e = e.left
    return [e.left, e.right, *reversed(out)]


def _depth(tokens: list[Token]) -> int:
    return sum(1 if t.type == "LPAR" else -1 if t.type == "RPAR" else 0 for t in tokens)
