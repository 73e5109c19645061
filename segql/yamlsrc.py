"""YAML with positions: PyYAML's composed nodes, so errors can point into the file."""

from __future__ import annotations

import yaml

from segql.errors import SegqlError, Span


def compose(text: str, file: str) -> yaml.Node | None:
    """Compose a YAML document; YAML syntax errors become SegqlError at their line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise SegqlError(f"invalid YAML: {problem}", Span(file, line, col, line, col + 1)) from None
    except yaml.YAMLError as e:
        raise SegqlError(f"invalid YAML: {e}", Span(file, 1, 1, 1, 2)) from None


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
