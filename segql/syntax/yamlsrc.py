"""YAML with positions: PyYAML's composed nodes, so errors can point into the file."""

from __future__ import annotations

import re

import yaml

from segql.errors import SegqlError, Span


def compose(text: str, file: str) -> yaml.Node | None:
    """Compose a YAML document; YAML syntax errors become SegqlError at their line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise _yaml_error(e, text, file) from None
    except yaml.YAMLError as e:
        raise SegqlError(f"invalid YAML: {e}", Span(file, 1, 1, 1, 2), text=text) from None


# PyYAML's token names, in words
_YAML_WORDS = {
    "'<stream end>'": "end of file",
    "<stream end>": "end of file",
    "end of stream": "end of file",
    "<block end>": "the end of the indented block",
    "'<block mapping start>'": "a key indented differently",
    "'<block sequence start>'": "a list item indented differently",
    "'<scalar>'": "more text",
    "'?'": "a key",
    "'-'": "a list item",
}
_YAML_HINTS = {
    "mapping values are not allowed here": "a value holding ': ' must be quoted: a: \"x: y\"",
    "that cannot start any token": "YAML is indented with spaces, not tabs",
    "expected <block end>": "keys of one mapping must line up; list items and keys cannot mix",
}


def _yaml_error(e: yaml.MarkedYAMLError, text: str, file: str) -> SegqlError:
    """A PyYAML error in words, at the line it names (not past the end of the file)."""
    mark = e.problem_mark or e.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    lines = text.splitlines()
    if lines and line > len(lines):  # at the end of the stream: the end of the last line
        line = max((i + 1 for i, x in enumerate(lines) if x.strip()), default=1)
        col = len(lines[line - 1]) + 1
    problem = e.problem or e.context or "invalid YAML"
    for word, plain_words in _YAML_WORDS.items():
        problem = problem.replace(word, plain_words)
    problem = problem.replace("but got", "found").replace("but found", "found")
    hints = [h for key, h in _YAML_HINTS.items() if key in (e.problem or "")]
    span = Span(file, line, col, line, col + 1)
    indented = _indented_key(e, lines, line, col)
    if indented is not None:  # not a value holding ': ' but a key indented too far
        key, key_col = indented
        span = Span(file, line, key_col, line, key_col + len(key))
        problem = f"'{key}' is indented more than the line above"
        hints = [
            f"keys of one mapping line up: indent '{key}' like the key above it "
            "(indented further, YAML reads the line as more of the value above)"
        ]
    if e.context and e.context_mark is not None and e.problem:
        at = f"{e.context_mark.line + 1}:{e.context_mark.column + 1}"
        what = _YAML_CONTEXTS.get(e.context, e.context.replace("while ", ""))
        hints.append(f"{what} started at {at}")
    return SegqlError(f"invalid YAML: {problem}", span, tuple(hints), text=text)


def _indented_key(
    e: yaml.MarkedYAMLError, lines: list[str], line: int, col: int
) -> tuple[str, int] | None:
    """The key (and its column) of `key: value` when PyYAML's "mapping values are not allowed here"
    is at its colon and the line is indented more than the one above: a key
    meant to line up with the one above, read as the rest of that key's value."""
    if e.problem != "mapping values are not allowed here" or not 1 < line <= len(lines):
        return None
    m = re.fullmatch(r"([ \t]*)([^\s:#-][^:#]*?)[ \t]*", lines[line - 1][: col - 1])
    above = next((x for x in reversed(lines[: line - 1]) if x.strip()), "")
    if m is None or len(m.group(1)) <= len(above) - len(above.lstrip()):
        return None
    return m.group(2), len(m.group(1)) + 1


_YAML_CONTEXTS = {
    "while parsing a flow sequence": "the '[' list",
    "while parsing a flow mapping": "the '{' mapping",
    "while scanning a quoted scalar": "the quoted text",
    "while scanning a double-quoted scalar": "the quoted text",
    "while scanning a single-quoted scalar": "the quoted text",
    "while parsing a block mapping": "the mapping",
    "while parsing a block collection": "the list",
}


def span_of(node: yaml.Node, file: str) -> Span:
    s, e = node.start_mark, node.end_mark
    return Span(file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)


def value_start(node: yaml.ScalarNode) -> tuple[int, int]:
    """(line, col), 1-based, of the first character of a scalar's value.

    Plain scalars start at the mark; quoted ones one character later. Block
    scalars (| and >) start on the next line; callers handle those separately."""
    mark = node.start_mark
    if node.style in ('"', "'"):
        return mark.line + 1, mark.column + 2
    return mark.line + 1, mark.column + 1


def mapping_items(node: yaml.Node) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def scalar(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def plain(node: yaml.Node):
    """Python value of a node (positions dropped)."""
    return yaml.SafeLoader("").construct_object(node, deep=True) if node is not None else None
