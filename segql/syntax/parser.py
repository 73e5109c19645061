"""Front end for `.seg` files: text → `ast.Module`.

Lark parses with the LALR grammar in grammar/segql.lark and builds the AST while
it parses (one builder method per rule, called at each reduction), so no
lark.Tree is made at all. Syntax errors are turned into
plain words, and parsing resumes at the next top-level definition so that one
run reports every broken definition of a file.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

import lark
from lark import Token

from segql.errors import Diagnostics, SegqlError, SegqlErrors, Span, did_you_mean
from segql.semantic.registry import AGGREGATES, FUNCTIONS, user_functions
from segql.syntax import ast

UNIT_NAMES = {u: u for u in (*ast.UNITS, "year")} | {u + "s": u for u in (*ast.UNITS, "year")}
TOP_LEVEL = re.compile(r"^[ \t]*(trait|segment|segmentation)\b", re.M)


def grammar_text() -> str:
    """The grammar, from the installed package or, in a source checkout, grammar/."""
    packaged = resources.files("segql").joinpath("grammar/segql.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "segql.lark").read_text("utf-8")


@cache
def _parser() -> tuple[lark.Lark, _Builder]:
    """The LALR parser (start symbols `start`, a file, and `expr`, one condition
    of a YAML file: one grammar analysis for both) and the builder its
    reductions call.

    Building the AST during the parse (Lark's `transformer=` option) instead of
    building a lark.Tree, propagating positions and transforming it afterwards
    halves the parse time (measured: docs/performance.md). Lark cannot give a
    rule's position to such a builder, so each reduction hands the builder the
    rule's full children, punctuation included, and the builder takes its span
    from their first and last positions the way Lark's propagate_positions does.
    """
    builder = _Builder()
    methods = _ReductionMethods(builder)
    parser = lark.Lark(
        grammar_text(),
        parser="lalr",
        maybe_placeholders=True,
        start=["start", "expr"],
        transformer=methods,
    )
    # every reduction's callback: remember its full children for the span.
    # The parser holds this same dict (Lark builds it once per instance).
    callbacks = parser._callbacks
    for rule, callback in callbacks.items():
        callbacks[rule] = _keeping_children(builder, callback)
    return parser, builder


def _lark() -> lark.Lark:
    """The Lark object (its grammar, terminals and rules)."""
    return _parser()[0]


def _parse(text: str, file: str, start: str, diags: Diagnostics, lines: int = 0):
    """Parse text into AST nodes; `lines`: lines of the file before text. Raises
    Lark's UnexpectedInput; the builder's errors go to diags."""
    parser, builder = _parser()
    with builder.lock:  # one builder: one parse at a time
        builder.reset(file, diags, lines)
        try:
            return parser.parse(text, start=start)
        finally:
            builder.reset("", Diagnostics(), 0)


def parse_module(text: str, file: str) -> ast.Module:
    """Parse one `.seg` file; raises SegqlErrors with every syntax error found."""
    module, errors = parse_module_recovering(text, file)
    if errors:
        raise SegqlErrors(errors)
    return module


def parse_module_recovering(text: str, file: str) -> tuple[ast.Module, list[SegqlError]]:
    """Parse one `.seg` file as far as it goes: a module of the definitions that
    parsed without error, the names of the others (`Module.broken`), and every
    error. The good definitions still resolve, so that a syntax error hides no
    other mistake of the file."""
    diags = Diagnostics()
    broken: list[str] = []
    definitions = _parse_recovering(text, file, "start", diags, broken)
    module = ast.Module(file, tuple(definitions), Span(file, 1, 1, 1, 1), text, tuple(broken))
    return module, [e.located({file: text}) for e in diags.errors]


def parse_expression(text: str, file: str, line: int = 1, col: int = 1) -> ast.Expr:
    """Parse one condition (YAML front end); positions are shifted to (line, col)
    of the string inside its file."""
    # pad so that Lark's own positions equal positions in the enclosing file
    padded = "\n" * (line - 1) + " " * (col - 1) + text
    diags = Diagnostics()
    try:
        node = _parse(padded, file, "expr", diags)
    except lark.exceptions.UnexpectedInput as e:
        diags = Diagnostics()  # errors of the builder up to the syntax error: repeated
        diags.extend([_syntax_error(e, padded, file, "expr")])
    diags.check()
    return node


MAX_SYNTAX_ERRORS = 50


def _parse_recovering(
    text: str, file: str, start: str, diags: Diagnostics, broken: list[str]
) -> list:
    # the builder's errors are kept only when the whole parse succeeds: after a
    # syntax error the definitions are parsed again, apart, and report them again
    found = Diagnostics()
    try:
        definitions = _parse(text, file, start, found)
    except lark.exceptions.UnexpectedInput as e:
        if len(TOP_LEVEL.findall(text, 1)) == 0:  # one definition: nothing to parse apart
            diags.extend([_syntax_error(e, text, file, start)])
            broken.extend(_names_written(text))
            return []
        return _parse_definitions_apart(text, file, start, diags, broken)
    diags.extend(found.errors)
    return _sound(definitions, found.errors, broken)


def _parse_definitions_apart(
    text: str, file: str, start: str, diags: Diagnostics, broken: list[str]
) -> list:
    """After a syntax error, parse each top-level definition on its own: every
    broken one is reported, in time linear in the size of the file."""
    starts = [m.start() for m in TOP_LEVEL.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)  # comments before the first definition
    out: list = []
    line, counted, errors = 0, 0, 0
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        line += text.count("\n", counted, begin)  # lines before this definition
        counted = begin
        chunk = text[begin:end]
        if errors >= MAX_SYNTAX_ERRORS:  # the rest is not parsed: not reported either
            broken.extend(_names_written(chunk))
            continue
        found = Diagnostics()
        try:
            definitions = _parse(chunk, file, start, found, lines=line)
        except lark.exceptions.UnexpectedInput as e:
            err = _syntax_error(e, chunk, file, start, last=end == len(text))
            diags.extend([_shift_error(err, line)])
            broken.extend(_names_written(chunk))
            errors += 1
            if errors == MAX_SYNTAX_ERRORS and end < len(text):
                at = line + chunk.count("\n") + 1
                diags.error(
                    f"too many syntax errors: stopped after {errors}", Span(file, at, 1, at, 2)
                )
            continue
        diags.extend(found.errors)
        out.extend(_sound(definitions, found.errors, broken))
    return out


def _sound(definitions: list, errors: list[SegqlError], broken: list[str]) -> list:
    """The definitions with no error inside. One with an error holds a placeholder
    (a null for an unknown function) that resolve would report again: its names
    go to `broken` instead."""
    out = []
    for d in definitions:
        if any(e.span is not None and _inside(e.span, d.span) for e in errors):
            broken.extend(ast.defined_names(d))
        else:
            out.append(d)
    return out


def _inside(inner: Span, outer: Span) -> bool:
    return (outer.line, outer.col) <= (inner.line, inner.col) <= (outer.end_line, outer.end_col)


_NAME = r"(`[^`\n]+`|[A-Za-z_][A-Za-z0-9_]*)"
_DEFINED_NAME = re.compile(r"^[ \t]*(?:trait|segment|segmentation)[ \t]+" + _NAME, re.M)
_LABEL = re.compile(r"^[ \t]*(?:else[ \t]+" + _NAME + "|" + _NAME + r"[ \t]*=(?!=))", re.M)


def _names_written(chunk: str) -> list[str]:
    """The names a definition that does not parse was meant to define, read from
    its text: its name, and a segmentation's labels (`label = …`, `else label`)."""
    names = [m.group(1) for m in _DEFINED_NAME.finditer(chunk)]
    if re.search(r"^[ \t]*segmentation\b", chunk, re.M):
        names += [m.group(1) or m.group(2) for m in _LABEL.finditer(chunk)]
    return [n[1:-1] if n.startswith("`") else n for n in names]


def _shift_error(err: SegqlError, lines: int) -> SegqlError:
    if not lines or err.span is None:
        return err
    s = err.span
    message = re.sub(
        r"opened at (\d+):", lambda m: f"opened at {int(m.group(1)) + lines}:", err.message
    )
    span = Span(s.file, s.line + lines, s.col, s.end_line + lines, s.end_col)
    return SegqlError(message, span, err.hints, err.code, err.usage)


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
    "CMP": "a comparison",
    "BY_KIND": "'by priority' or 'by weight'",
    "$END": "end of file",
}
# an expected set holding one of these can take any value: say "a value", not a list
_VALUE_STARTS = {"NAME", "QUOTED_NAME", "INT", "STRING", "LPAR"}
_LITERALS = {"DECIMAL", "DATE", "TIMESTAMP", "PERCENT"}
_DEFINITION_KEYWORDS = {"TRAIT", "SEGMENT", "SEGMENTATION"}
_WINDOW_KEYWORDS = ("last", "before", "since", "any", "within")
# keywords that follow a value: a misspelled word after a value is likelier one of these
_AFTER_VALUE = "and or in not between like is where then within on to ago".split()
_CLOSER = {"(": ")", "{": "}"}


def _describe(token_type: str) -> str:
    if token_type in _TOKEN_WORDS:
        return _TOKEN_WORDS[token_type]
    return f"'{token_type.lower().replace('_', ' ')}'"


def _keywords() -> tuple[str, ...]:
    """Every keyword of the grammar, for 'did you mean' on a misspelled one."""
    words = {
        str(t.pattern.value)
        for t in _lark().terminals
        if isinstance(t.pattern, lark.lexer.PatternStr) and str(t.pattern.value).isalpha()
    }
    return tuple(sorted(words | {"by", "priority", "weight", "is", "null", "then", "not"}))


def _found(tok: Token) -> str:
    """The unexpected token in words: name 'x', string "x", ')', 'segment'."""
    text = str(tok) if len(tok) <= 40 else str(tok)[:30] + "…"
    if tok.type == "$END":
        return "end of file"
    if tok.type == "NAME" and text in _keywords():
        return f"'{text}'"  # a keyword where the grammar cannot take it
    if tok.type in ("NAME", "QUOTED_NAME"):
        return f"name {text!r}"
    if tok.type in ("INT", "DECIMAL", "PERCENT"):
        return f"number {text}"
    if tok.type in ("STRING", "DATE", "TIMESTAMP", "UNIT"):
        return f"{_TOKEN_WORDS[tok.type].removeprefix('a ').split(' ')[0]} {text}"
    return repr(text) if "'" not in text else f'"{text}"'


def _scan(text: str, pos: int) -> tuple[list[tuple[str, int]], int]:
    """Brackets still open at pos (innermost last, with their offsets), and the
    offset just after the last token before pos; strings and comments skipped."""
    stack: list[tuple[str, int]] = []
    last_end = 0
    i = 0
    while i < pos and i < len(text):
        c = text[i]
        if c in "\"'`":
            j = i + 1
            while j < len(text) and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = min(j + 1, len(text))
            last_end = min(i, pos)
            continue
        if c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        if c in "({":
            stack.append((c, i))
        elif c in ")}" and stack and _CLOSER[stack[-1][0]] == c:
            stack.pop()
        if not c.isspace():
            last_end = i + 1
        i += 1
    return stack, last_end


def _line_col(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _next_definition(e: lark.exceptions.UnexpectedInput, text: str) -> int | None:
    """Offset of the keyword of the next definition when it cut the one before
    short (`segment a = 1 +` then `segment b = 2`), else None. The keyword may
    have been read as a name (keywords are names where the grammar takes no
    keyword): then the error is at the new definition's name."""
    tok = getattr(e, "token", None)
    if not isinstance(tok, Token) or tok.start_pos is None or tok.type == "$END":
        return None
    line_start = text.rfind("\n", 0, tok.start_pos) + 1
    if tok.type in _DEFINITION_KEYWORDS and not text[line_start : tok.start_pos].strip():
        return tok.start_pos
    if tok.type in ("NAME", "QUOTED_NAME"):
        m = re.search(r"(?:^|\n)[ \t]*(trait|segment|segmentation)[ \t]+\Z", text[: tok.start_pos])
        if m:
            return m.start(1)
    return None


def _syntax_error(
    e: lark.exceptions.UnexpectedInput,
    text: str,
    file: str,
    start: str = "start",
    last: bool = True,
) -> SegqlError:
    """A Lark error in plain words, at the exact token. `last`: text runs to the
    end of the file (else it is one definition, and the next one follows)."""
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return _bad_character(e, text, file)
    cut = _next_definition(e, text) if start == "start" else None
    if cut is not None:
        # what the unfinished definition lacks: parse up to the next keyword
        try:
            _parse(text[:cut], file, start, Diagnostics())
        except lark.exceptions.UnexpectedToken as inner:
            if inner.token.type == "$END":
                return _token_error(inner, text[:cut], file, ended_by_definition=True)
        except lark.exceptions.UnexpectedInput:
            pass
    return _token_error(e, text, file, ended_by_definition=not last)


def _token_error(
    e: lark.exceptions.UnexpectedInput, text: str, file: str, ended_by_definition: bool
) -> SegqlError:
    tok = e.token if isinstance(e, lark.exceptions.UnexpectedToken) else Token("$END", "")
    offset = len(text) if tok.type == "$END" else e.pos_in_stream or 0
    opened, last_end = _scan(text, offset)
    expected = {t for t in getattr(e, "expected", None) or () if not t.startswith("__")}
    if tok.type == "$END":
        start = last_end  # just after the last token of the unfinished definition
        length = 1
        found = "" if ended_by_definition else "end of file"
    else:
        start = offset
        length = max(1, len(str(tok)))
        found = _found(tok)
    line, col = _line_col(text, start)
    span = Span(file, line, col, line, col + length)
    hints: list[str] = []
    closer = _CLOSER[opened[-1][0]] if opened else None
    if tok.type == "NAME" and str(tok) == "by" and "BY_KIND" in expected:
        after = re.match(r"\s*(\S*)", text[tok.end_pos or 0 :])
        kind = after.group(1) if after else ""
        kind_at = text.index(kind, tok.end_pos or 0) if kind else tok.end_pos or 0
        line, col = _line_col(text, kind_at)
        span = Span(file, line, col, line, col + max(1, len(kind)))
        message = f"unknown segmentation kind '{kind}'" + _parenthesized(
            did_you_mean(kind, ("priority", "weight"))
        )
        hints.append("write 'by priority' or 'by weight'")
    elif "UNIT" in expected and tok.type == "NAME":
        message = f"unknown unit '{tok}'" + _parenthesized(_unit_hint(str(tok)))
        hints.append("units are " + ", ".join((*ast.UNITS, "year")))
    elif tok.type == "NAME" and (keyword := _keyword_hint(str(tok), expected)):
        message = f"unknown keyword '{tok}'" + _parenthesized(keyword)
    elif (misspelled := _misspelled_before(text, last_end, tok)) is not None:
        word, at, hint = misspelled
        line, col = _line_col(text, at)
        span = Span(file, line, col, line, col + len(word))
        message = f"unknown keyword '{word}'" + _parenthesized(hint)
    elif closer is not None and _describe_closer(closer) in expected:
        bracket, at = opened[-1]
        where = "{}:{}".format(*_line_col(text, at))
        message = f"expected '{closer}' to close '{bracket}' opened at {where}"
        if found:
            message += f", found {found}"
    elif (
        tok.type in ("RPAR", "RBRACE")
        and not any(_CLOSER[b] == str(tok) for b, _ in opened)
        and not expected & _VALUE_STARTS
    ):
        message = f"unmatched '{tok}'"
        hints.append(f"remove it, or add the '{'(' if str(tok) == ')' else '{'}' it closes")
    elif tok.type == "MINUS" and "INT" in expected and "NAME" not in expected:
        message = "a duration cannot be negative"
        hints.append("windows count back from as_of: write e.g. 'last 30 days'")
    else:
        words = sorted({_describe(t) for t in expected})
        if expected & _VALUE_STARTS:
            words = ["a value"] + sorted(
                {_describe(t) for t in expected if t in _TOKEN_WORDS and t != "$END"}
                - {_describe(t) for t in _VALUE_STARTS | _LITERALS}
            )
        if 0 < len(words) <= 3:
            message = f"expected {' or '.join(words)}" + (f", found {found}" if found else "")
        else:
            message = f"unexpected {found or 'end of definition'}"
            if 0 < len(words) <= 6:
                hints.append("expected " + ", ".join(words))
    hints.extend(_context_hints(text, tok, last_end))
    return SegqlError(message, span, tuple(h for h in hints if h))


def _context_hints(text: str, tok: Token, last_end: int) -> list[str]:
    """Likely causes told by what comes just before the unexpected token."""
    start = tok.start_pos
    if tok.type == "$END" or start is None or start == 0:
        return []
    before = text[:last_end]
    if text[start - 1] in "\"'" and start == last_end and tok.type == "NAME":
        return ["a string ends just before this: is a quote missing, or one too many?"]
    unit = re.search(r"\d\s+([a-z]+)\Z", before)
    if tok.type == "EQUAL" and unit and unit.group(1) in UNIT_NAMES:
        word = unit.group(1)
        return [f"'{word}' after a number is read as a unit: write the label as `{word}`"]
    if tok.type == "INT" and re.search(r"(?<![\w`])within\s*\Z", before):
        return [
            "'within' ends a sequence: did(a then b within 30 days); "
            "a window over the recent past is 'last 30 days'"
        ]
    window = re.search(r"(?<![\w`])last\s+(\d+)\s+([a-z]+)\Z", before)
    if str(tok) == "ago" and window:
        n, units = window.groups()
        return [
            f"'last {n} {units}' already counts back from now: drop 'ago'; "
            f"a window further back is e.g. '{n} to {int(n) * 2} {units} ago'"
        ]
    return []


def _misspelled_before(text: str, last_end: int, tok: Token) -> tuple[str, int, str] | None:
    """A misspelled window keyword read as a name, e.g. `lst 30 days`, `sinse 2024-01-01`:
    the error is at the number or date after it."""
    if tok.type not in ("INT", "DATE", "TIMESTAMP"):
        return None
    m = re.search(r"[A-Za-z_][A-Za-z0-9_]*\Z", text[:last_end])
    if m is None or m.group() in _keywords():
        return None
    hint = did_you_mean(m.group(), _WINDOW_KEYWORDS)
    return (m.group(), m.start(), hint) if hint else None


def _describe_closer(closer: str) -> str:
    return "RPAR" if closer == ")" else "RBRACE"


def _keyword_hint(word: str, expected: set[str]) -> str:
    """'did you mean' for a name where no name can stand: a misspelled keyword,
    looked for among the expected keywords, then those after a value, then all."""
    if "NAME" in expected or word in _keywords() or len(word) < 3:
        return ""
    wanted = [t.lower() for t in expected if t.isalpha() and t not in _TOKEN_WORDS]
    for pool in (wanted, _AFTER_VALUE, _keywords()):
        if hint := did_you_mean(word, pool):
            return hint
    return ""


def _parenthesized(hint: str) -> str:
    return f" ({hint})" if hint else ""


def _unit_hint(word: str) -> str:
    """'did you mean' among units, in the plural when the word looks plural."""
    plural = word.endswith(("s", "z"))
    return did_you_mean(word, [u for u in UNIT_NAMES if u.endswith("s") == plural])


def _bad_character(e: lark.exceptions.UnexpectedCharacters, text: str, file: str) -> SegqlError:
    pos = e.pos_in_stream or 0
    ch = text[pos] if pos < len(text) else ""
    line, col = _line_col(text, pos)
    end_of_line = text.find("\n", pos)
    end_of_line = len(text) if end_of_line < 0 else end_of_line
    if ch in "\"'":
        return SegqlError(
            "unterminated string",
            Span(file, line, col, line, col + (end_of_line - pos)),
            (f"end the string with {ch} on the same line (write a line break as \\n)",),
        )
    if ch == "`":
        return SegqlError(
            "unterminated `quoted name`",
            Span(file, line, col, line, col + (end_of_line - pos)),
            ("end the name with ` on the same line",),
        )
    hints = []
    allowed = sorted({_describe(t) for t in getattr(e, "allowed", None) or ()})
    if 0 < len(allowed) <= 6:
        hints.append("expected " + ", ".join(allowed))
    return SegqlError(
        f"unexpected character {ch!r}", Span(file, line, col, line, col + 1), tuple(hints)
    )


# ---------------------------------------------------------------- tree → AST


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


class _Builder:
    """Builds AST nodes; errors are collected in `diags` and a placeholder returned.

    Every rule method takes (meta, c): meta is the rule's full children (what its
    span is taken from), c the children the grammar keeps."""

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
            want = str(lo) if lo == hi else f"{lo} or more"
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
