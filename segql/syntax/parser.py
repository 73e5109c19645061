"""Front end for `.seg` files: text → `ast.Module`.

Lark parses with the LALR grammar in grammar/segql.lark and builds the AST while
it parses (one builder method per rule, called at each reduction), so no
lark.Tree is made at all. Syntax errors are turned into
plain words, and parsing resumes at the next top-level definition so that one
run reports every broken definition of a file.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

import lark
from lark import Token

from segql.errors import Diagnostics, SegqlError, SegqlErrors, Span, did_you_mean
from segql.syntax import ast
from segql.syntax.build import (
    UNIT_NAMES,
    _Builder,
    _keeping_children,
    _parenthesized,
    _ReductionMethods,
    _unit_hint,
)

# `split` starts a definition only as `split NAME of` (a label may be called split)
TOP_LEVEL = re.compile(r"^[ \t]*(trait|segment|segmentation|split(?=\s+\S+\s+of\b))\b", re.M)


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
_DEFINED_NAME = re.compile(r"^[ \t]*(?:trait|segment|segmentation|split)[ \t]+" + _NAME, re.M)
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
    "_SPLIT": "'split'",  # keywords only in a split's shape (the grammar's lookaheads)
    "_OF": "'of'",
    "_SALT": "'salt'",
    "$END": "end of file",
}
# an expected set holding one of these can take any value: say "a value", not a list
_VALUE_STARTS = {"NAME", "QUOTED_NAME", "INT", "STRING", "LPAR"}
_LITERALS = {"DECIMAL", "DATE", "TIMESTAMP", "PERCENT"}
_DEFINITION_KEYWORDS = {"TRAIT", "SEGMENT", "SEGMENTATION", "_SPLIT"}
_WINDOW_KEYWORDS = ("last", "before", "since", "any", "within")
# keywords that follow a value: a misspelled word after a value is likelier one of these
_AFTER_VALUE = "and or in not between like is where then within on to ago".split()
_CLOSER = {"(": ")", "{": "}"}
# inside the braces of a split, where a number can only be a group's share
_IN_SPLIT = re.compile(r"(?:^|\n)[ \t]*split\b[^{}]*\{[^{}]*\Z")


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
    words |= {"by", "priority", "weight", "is", "null", "then", "not", "split", "of", "salt"}
    return tuple(sorted(words))


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
        m = re.search(
            r"(?:^|\n)[ \t]*(trait|segment|segmentation|split)[ \t]+\Z", text[: tok.start_pos]
        )
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
    elif tok.type in ("INT", "DECIMAL") and _IN_SPLIT.search(text, 0, offset):
        message = f"a group's share is a percent: write {tok}%"
        hints.append("a split's groups are written 'name N%', e.g. control 10%")
    elif tok.type == "NAME" and str(tok) == "split" and "_SPLIT" in expected:
        message = "a split is written 'split NAME of SEGMENT { GROUP N% … }'"
        hints.append('e.g. split cart_test of cart_abandoners salt "x" { control 10% email 90% }')
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
    if str(tok) == "directly" and not re.search(r"(?<![\w`])then\s*\Z", before):
        return ["'directly' follows 'then': did(a then directly b)"]
    step = re.search(r"(?<![\w`])then\s+([A-Za-z]+)\s*\Z", before)
    if tok.type == "NAME" and step and (hint := did_you_mean(step.group(1), ["directly"])):
        return [f"'{step.group(1)}' is read as a source: {hint}"]
    if str(tok) == "on" and re.search(r"(?<![\w`])then\b", before):
        return ["'on COLUMN' comes after 'within': did(a then b within 7 days on sku)"]
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
    wanted += [t[1:].lower() for t in expected if t in ("_SPLIT", "_OF", "_SALT")]
    for pool in (wanted, _AFTER_VALUE, _keywords()):
        if hint := did_you_mean(word, pool):
            return hint
    return ""


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
