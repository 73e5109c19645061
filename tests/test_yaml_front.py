"""The YAML front end: same AST as the .seg form, errors at positions inside the YAML file."""

from __future__ import annotations

import textwrap

import pytest

from segql.errors import SegqlErrors, Span
from segql.syntax import ast
from segql.syntax.parser import parse_module
from segql.syntax.yaml_front import parse_yaml_module


def seg(text: str) -> tuple[ast.Definition, ...]:
    return parse_module(textwrap.dedent(text), "defs.seg").definitions


def yml(text: str) -> tuple[ast.Definition, ...]:
    return parse_yaml_module(textwrap.dedent(text), "defs.yml").definitions


def errors(text: str) -> list:
    with pytest.raises(SegqlErrors) as info:
        parse_yaml_module(textwrap.dedent(text), "defs.yml")
    return info.value.errors


def at(text: str) -> list[tuple[int, int, str]]:
    return [(e.span.line, e.span.col, e.message) for e in errors(text)]


# ---------------------------------------------------------------- parity with .seg

PARITY = {
    "trait": (
        "trait recency = days_since(last(orders.ordered_at))",
        """
        traits:
          recency: days_since(last(orders.ordered_at))
        """,
    ),
    "short segment": (
        "segment recent_buyers = count(orders, last 30 days) >= 1",
        """
        segments:
          recent_buyers: count(orders, last 30 days) >= 1
        """,
    ),
    "block segment with metadata": (
        """
        segment high_value {
          title "High-value customers"
          hypothesis "High spenders respond to early access to launches"
          channels email, push
          kpis conversion_rate
          where sum(orders.amount, last 90 days) > 1000 and country in ("US", "CA")
        }
        """,
        """
        segments:
          high_value:
            title: High-value customers
            hypothesis: "High spenders respond to early access to launches"
            channels: [email, push]
            kpis: conversion_rate
            where: sum(orders.amount, last 90 days) > 1000 and country in ("US", "CA")
        """,
    ),
    "segmentation by priority with else": (
        """
        segmentation lifecycle by priority {
          vip     = high_value and recent_buyers
          at_risk = frequency >= 3 and recency > 60
          else browsers
        }
        """,
        """
        segmentations:
          lifecycle:
            by: priority
            rules:
              - vip: high_value and recent_buyers
              - at_risk: frequency >= 3 and recency > 60
            else: browsers
        """,
    ),
    "segmentation, priority by default, without else": (
        """
        segmentation lifecycle {
          new = days_since(first(orders.ordered_at)) <= 30
        }
        """,
        """
        segmentations:
          lifecycle:
            rules:
              - new: days_since(first(orders.ordered_at)) <= 30
        """,
    ),
    "segmentation by weight": (
        """
        segmentation viewing by weight {
          movie_watchers = count(events where kind = "movie")
          documentaries  = 1.5 * count(events where kind = "documentary")
          else unclassified
        }
        """,
        """
        segmentations:
          viewing:
            by: weight
            rules:
              - movie_watchers: count(events where kind = "movie")
              - documentaries: 1.5 * count(events where kind = "documentary")
            else: unclassified
        """,
    ),
    "split": (
        """
        split cart_test of cart_abandoners salt "cart-2024-spring" {
          control 10%
          email   45%
          sms     44.99%
        }
        split holdout of buyers { held 5% }
        """,
        """
        splits:
          cart_test:
            of: cart_abandoners
            salt: cart-2024-spring
            groups:
              - control: 10%
              - email: 45%
              - sms: 44.99%
          holdout:
            of: buyers
            groups:
              - held: 5%
        """,
    ),
    "sequence": (
        """
        segment cart_abandoners =
          did(events where name = "add_to_cart" then not orders within 1 day, last 7 days)
        segment funnel =
          did(events where name = "view" then events then orders within 7 days on sku)
        """,
        """
        segments:
          cart_abandoners:
            did(events where name = "add_to_cart" then not orders within 1 day, last 7 days)
          funnel: did(events where name = "view" then events then orders within 7 days on sku)
        """,
    ),
    "percentile and score": (
        """
        segment engaged = percentile(sum(events.duration_s, last 30 days)) > 80%
        trait m = score(monetary, 5)
        """,
        """
        segments:
          engaged: percentile(sum(events.duration_s, last 30 days)) > 80%
        traits:
          m: score(monetary, 5)
        """,
    ),
    "scalars YAML would read as numbers, booleans, null": (
        "trait a = 1\ntrait b = 1.5\ntrait c = true\ntrait d = yes\ntrait e = null\n",
        "traits:\n  a: 1\n  b: 1.5\n  c: true\n  d: yes\n  e: null\n",
    ),
}

WINDOWS = [
    "last 30 days",
    "30 to 90 days ago",
    "before 30 days ago",
    "2024-04-01 to 2024-04-30",
    "2024-04-01T12:30:00 to 2024-04-02T00:00",
    "since 2024-01-01",
    "before 2024-01-01",
    "today",
    "yesterday",
    "this week",
    "previous week",
    "this month",
    "previous month",
    "this year",
    "previous year",
    "any 24 hours",
]
for _w in WINDOWS:
    PARITY[f"window {_w}"] = (
        f"segment s = count(orders, {_w}) > 2",
        f"segments:\n  s: count(orders, {_w}) > 2\n",
    )


@pytest.mark.parametrize("case", PARITY)
def test_yaml_builds_the_same_ast_as_seg(case: str) -> None:
    seg_text, yml_text = PARITY[case]
    expected = seg(seg_text)
    assert expected  # the .seg side parsed something
    assert yml(yml_text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "count(orders,\n    last 30 days) >= 1",  # plain, multi-line
        '"count(orders, last 30 days) >= 1"',
        "'count(orders, last 30 days) >= 1'",
        "|\n    count(orders, last 30 days)\n      >= 1",
        ">-\n    count(orders,\n    last 30 days) >= 1\n",
        "&anchor !!str count(orders, last 30 days) >= 1",
    ],
)
def test_every_scalar_style_gives_the_same_condition(value: str) -> None:
    assert yml(f"segments:\n  s: {value}\n") == seg("segment s = count(orders, last 30 days) >= 1")


def test_spans_of_definitions_rules_and_catch_all() -> None:
    module = parse_yaml_module(
        "traits:\n  t: 1\nsegmentations:\n  s:\n    rules:\n      - a: t > 1\n    else: b\n",
        "d.yml",
    )
    trait, segmentation = module.definitions
    assert module.file == "d.yml"
    assert trait.span == Span("d.yml", 2, 3, 2, 4)  # the key
    assert segmentation.span == Span("d.yml", 4, 3, 4, 4)
    assert segmentation.rules[0].span == Span("d.yml", 6, 9, 6, 17)
    assert segmentation.catch_all.span == Span("d.yml", 7, 5, 7, 12)
    assert trait.expr.span == Span("d.yml", 2, 6, 2, 7)  # expression spans are in the file


def test_empty_file_and_comments_only_are_empty_modules() -> None:
    assert parse_yaml_module("", "e.yml") == ast.Module("e.yml", ())
    assert parse_yaml_module("# nothing yet\n\n", "e.yml").definitions == ()
    assert parse_yaml_module("segments:\n", "e.yml").definitions == ()


# ---------------------------------------------------------------- error positions


def test_error_in_plain_scalar() -> None:
    assert at("segments:\n  a: count(orders, last 30 dys) >= 1\n") == [
        (2, 28, "unknown unit 'dys' (did you mean 'days'?)")
    ]


def test_error_on_second_line_of_plain_scalar() -> None:
    assert at("segments:\n  a: count(orders,\n     last 30 dys) >= 1\n") == [
        (3, 14, "unknown unit 'dys' (did you mean 'days'?)")
    ]


def test_error_in_quoted_scalar() -> None:
    assert at('segments:\n  a: "x >>= 1"\n') == [(2, 10, "expected a value, found '>='")]
    assert at("segments:\n  a: 'x and\n    y >>= 1'\n") == [(3, 8, "expected a value, found '>='")]


def test_error_on_second_line_of_literal_block() -> None:
    text = "segments:\n  a: |\n    count(orders)\n      >>= 2\n"
    assert at(text) == [(4, 8, "expected a value, found '>='")]


def test_error_in_folded_block() -> None:
    text = "segments:\n  a: >\n    x and\n    y + )\n"
    assert at(text) == [(4, 9, "expected a value, found ')'")]


def test_dangling_operator_is_the_end_of_the_condition() -> None:
    ((line, col, message),) = at("segments:\n  a: x >\n  b: y\n")
    assert (line, col) == (2, 9)  # just after the last token
    assert message == "expected a value, found end of the condition"


def test_duplicate_keys_are_errors() -> None:
    text = """
    segments:
      a: x > 1
      a: x > 2
    traits:
      t: 1
    segments:
      b:
        where: x
        where: y
    """
    found = {(line, col, message) for line, col, message in at(text)}
    assert found == {
        (4, 3, "duplicate key 'a' in 'segments'"),
        (7, 1, "duplicate key 'segments' in the file"),
    }
    text = "segments:\n  b:\n    where: x\n    where: y\n"
    assert at(text) == [(4, 5, "duplicate key 'where' in segment 'b'")]


def test_unknown_top_level_key_suggests() -> None:
    (err,) = errors("sgments:\n  a: x\n")
    assert (err.span.line, err.span.col, err.message) == (1, 1, "unknown section 'sgments'")
    assert err.hints == ("did you mean 'segments'?",)


def test_yaml_syntax_error_line() -> None:
    (err,) = errors("segments:\n  a: x\n  b: [unclosed\n  c: y\n")
    assert err.message.startswith("invalid YAML")
    assert err.span.file == "defs.yml"
    assert err.span.line == 4


def test_all_errors_of_a_file_together() -> None:
    text = """
    segments:
      a: count(orders, last 3 dys)
      b:
        title: no condition here
        wher: x > 1
    segmentations:
      s:
        by: wieght
        rules: {x: 1}
      t: {}
    """
    messages = [m for _, _, m in at(text)]
    assert messages == [
        "unknown unit 'dys' (did you mean 'days'?)",
        "segment 'b' has no 'where' condition",
        "unknown field 'wher' in segment 'b'",
        "unknown segmentation kind 'wieght'",
        "'rules' of segmentation 's' must be a list",
        "segmentation 't' has no rules",
    ]


def test_bad_shapes() -> None:
    text = """
    traits:
      t: [1, 2]
      9lives: 1
    segmentations:
      s:
        rules:
          - a: x
            b: y
          - c:
          - d: ~
        else: [z]
    """
    assert at(text) == [
        (3, 6, "trait 't' must be a condition, not a list or mapping"),
        (4, 3, "'9lives' is not a valid name"),
        (8, 9, "a rule of segmentation 's' is one 'label: condition'"),
        (10, 11, "rule 'c' has no condition"),  # where it is missing
        (11, 12, "rule 'd' has no condition"),
        (12, 11, "'else' of segmentation 's' must be a label"),
    ]


def test_file_must_be_a_mapping() -> None:
    assert at("- a\n- b\n") == [
        (1, 1, "a definitions file maps 'traits', 'segments', 'segmentations', 'splits'")
    ]
