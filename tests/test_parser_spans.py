"""Positions of AST nodes and parse errors.

The parser builds the AST during Lark's parse and takes each node's span from the
rule's full children (punctuation included) — the way Lark's propagate_positions
does for trees. These pin the cases where the two could differ: brackets around a
sub-expression, keywords and braces at the edges of a rule, a repetition Lark
inlines (`kpis a, b`), definitions parsed apart after a syntax error, and parses
from several threads at once.
"""

from __future__ import annotations

import threading

import pytest

from segql.errors import SegqlErrors, Span
from segql.syntax import ast
from segql.syntax.parser import parse_expression, parse_module


def _span(node) -> tuple[int, int, int, int]:
    s = node.span
    return (s.line, s.col, s.end_line, s.end_col)


def test_a_binary_starting_with_brackets_covers_them() -> None:
    #          1234567890123456789012345678901
    text = "segment a = (x or y) and z"
    seg = parse_module(text, "f.seg").definitions[0]
    assert isinstance(seg, ast.Segment)
    both = seg.expr
    assert isinstance(both, ast.Binary) and both.op == "and"
    assert _span(both) == (1, 13, 1, 27)  # from '(' to the end of z
    assert _span(both.left) == (1, 14, 1, 20)  # the `or` itself: inside the brackets


def test_a_call_spans_its_name_to_its_closing_bracket() -> None:
    text = "segment a = count(orders where q > 1, last 30 days) >= 2"
    seg = parse_module(text, "f.seg").definitions[0]
    cmp = seg.expr
    assert isinstance(cmp, ast.Binary)
    agg = cmp.left
    assert isinstance(agg, ast.Aggregate)
    assert _span(agg) == (1, 13, 1, 52)
    assert agg.window is not None and _span(agg.window) == (1, 39, 1, 51)
    assert _span(seg) == (1, 1, 1, 57)  # from the keyword `segment`


def test_a_block_spans_keyword_to_brace_over_lines() -> None:
    text = "# c\nsegment b {\n  kpis x, y\n  where q\n}\n"
    seg = parse_module(text, "f.seg").definitions[0]
    assert _span(seg) == (2, 1, 5, 2)


def test_a_field_given_twice_is_underlined_to_its_last_name() -> None:
    # `kpis a, b`: Lark inlines the `, b` repetition; its names still end the span
    text = "segment b {\n  kpis a, bb\n  kpis c, dd\n  where q\n}\n"
    with pytest.raises(SegqlErrors) as e:
        parse_module(text, "f.seg")
    (err,) = e.value.errors
    assert "'kpis' is given twice" in err.message
    assert err.span == Span("f.seg", 3, 3, 3, 13)


def test_definitions_parsed_apart_keep_their_lines() -> None:
    # the syntax error on line 1 makes the parser parse each definition apart;
    # the invalid date of line 3 is reported once, at its place in the file
    text = "segment a = (\n\nsegment b = did(orders, since 2024-02-30)\n"
    with pytest.raises(SegqlErrors) as e:
        parse_module(text, "f.seg")
    messages = [(err.message, err.span.line if err.span else None) for err in e.value.errors]
    assert len(messages) == 2, messages
    assert messages[1] == ("invalid date '2024-02-30': February 2024 has 29 days", 3)
    assert e.value.errors[1].span == Span("f.seg", 3, 31, 3, 41)


def test_an_expression_in_a_yaml_file_has_file_positions() -> None:
    node = parse_expression("a and (b or c)", "s.yml", line=7, col=12)
    assert _span(node) == (7, 12, 7, 26)


def test_parses_from_several_threads_give_their_own_spans() -> None:
    results: dict[int, tuple] = {}

    def run(i: int) -> None:
        text = "\n" * i + f"segment s{i} = count(orders, last {i + 1} days) >= {i}\n"
        for _ in range(20):
            seg = parse_module(text, f"f{i}.seg").definitions[0]
            results[i] = (seg.name, seg.span.file, _span(seg))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(6):
        width = len(f"segment s{i} = count(orders, last {i + 1} days) >= {i}")
        assert results[i] == (f"s{i}", f"f{i}.seg", (i + 1, 1, i + 1, width + 1))
