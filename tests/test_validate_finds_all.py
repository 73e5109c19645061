"""Validate finds everything compile would (DESIGN.md: "Codegen only writes what
the plan says; it never rejects input"): whenever resolve accepts definitions,
compiling them succeeds for every dialect.

- explicit cases, one per check that code generation used to make (each also
  has its exact text in the error catalogue, tests/errors/, run by validate);
- a property: generated definitions aimed at those limits (sequences of 2 to 5
  steps, `then not` anywhere, every unit of `within` and `any`, nesting around
  the depth limit, universe conditions), and the fuzzers' grammar walk, compile
  everywhere whenever they resolve (fuzz_harness.compile_everywhere).
"""

from __future__ import annotations

import dataclasses

import fuzz_harness as fh
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_error_catalogue import CASES, HERE, _command

from segql.errors import SegqlErrors
from segql.semantic.checks import MAX_DEPTH, depth
from segql.semantic.resolve import resolve
from segql.syntax.parser import parse_expression, parse_module


def _errors(text: str, universe: str | None = None) -> list[str]:
    """The messages resolve reports for a .seg text; compiles it everywhere when
    it resolves (compile must then succeed)."""
    project = fh.PROJECT
    if universe is not None:
        project = dataclasses.replace(project, universe=parse_expression(universe, "segql.yml"))
    try:
        model = resolve([parse_module(text, fh.SEG_FILE)], project, fh.CATALOG)
    except SegqlErrors as e:
        return [err.message for err in e.errors]
    fh.compile_everywhere(model)
    return []


# ---------------------------------------------------------------- the moved checks


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "segment x = did(events then orders then events then not orders within 1 day)",
            "'then not' after more than two steps is not supported",
        ),
        (
            "segment x = did(orders then orders within 2 months)",
            "'within' takes seconds, minutes, hours, days or weeks: a month has no fixed length",
        ),
        (
            "segment x = count(orders, any 1 year) > 2",
            "'any' takes seconds, minutes, hours, days or weeks: a year has no fixed length",
        ),
        (
            "segment x = " + "not " * MAX_DEPTH + "age > 18",
            f"'x' is nested too deeply to compile ({MAX_DEPTH + 2} levels; at most {MAX_DEPTH})",
        ),
        (
            "trait t = " + " + ".join(["age"] * (MAX_DEPTH + 1)) + "\nsegment x = t > 1",
            f"'t' is nested too deeply to compile ({MAX_DEPTH + 1} levels; at most {MAX_DEPTH})",
        ),
        (
            "segmentation x by priority {\n  a = age > 1\n  b = "
            + "abs(" * MAX_DEPTH
            + "age"
            + ")" * MAX_DEPTH
            + " > 1\n}",
            f"'x' is nested too deeply to compile ({MAX_DEPTH + 2} levels; at most {MAX_DEPTH})",
        ),
    ],
    ids=["then-not-after-three", "within-months", "any-years", "not-chain", "sum", "rule"],
)
def test_validate_reports(text: str, message: str) -> None:
    assert message in _errors(text)


@pytest.mark.parametrize(
    ("universe", "message"),
    [
        ("consent_marketing and count(orders) >= 1", "it cannot use count()"),
        ("did(orders then events within 1 day)", "it cannot use did()"),
        ("percentile(age) > 50%", "it cannot use percentile()"),
        ("score(age, 4) = 4", "it cannot use score()"),
        (" or ".join(["age > 1"] * MAX_DEPTH), "'universe' is nested too deeply"),
    ],
    ids=["count", "sequence", "percentile", "score", "deep"],
)
def test_validate_reports_in_the_universe(universe: str, message: str) -> None:
    errors = _errors("segment s = age > 1", universe)
    assert any(message in e for e in errors), errors


def test_at_the_limits_compiles_everywhere() -> None:
    """What the checks let through compiles: MAX_DEPTH levels of the operators
    that cost sqlglot most, 'then not' after two steps, 'within' in weeks."""
    n = MAX_DEPTH
    for condition in [
        "not " * (n - 2) + "age > 18",  # a comparison and its operands: two more levels
        " / ".join(["age"] * (n - 1)) + " > 1",
        " or ".join(["age > 1"] * (n - 1)),
        "count(orders where " + " and ".join(["amount > 1"] * (n - 3)) + ") > 1",
        " + ".join(["days_since(signup_at)"] * (n - 2)) + " > 1",
    ]:
        assert depth(parse_expression(condition, "x.seg")) == MAX_DEPTH
        assert _errors(f"segment x = {condition}") == [], condition
    assert _errors("segment x = did(events then orders then not events within 2 weeks)") == []


@pytest.mark.parametrize("timezone", ["UTC", "America/New_York", "Australia/Adelaide"])
def test_windows_past_the_calendar_compile(timezone: str) -> None:
    """Bounds before year 1 or after 9999 (Python's datetime range) are valid
    input: the fixed clock clamps them instead of failing."""
    project = dataclasses.replace(fh.PROJECT, timezone=timezone)
    text = "\n".join(
        f"segment s{i} = {c}"
        for i, c in enumerate(
            [
                "count(orders, last 1000000000000 days) > 1",
                "count(orders, last 10000 years) > 1",
                "count(orders, 10 to 1000000 years ago) > 1",
                "count(orders, 9999-12-31 to 9999-12-31) > 1",
                "count(orders, since 0001-01-01) > 1 and signup_at > 0001-01-01",
                "signup_at < 9999-12-31 or signup_at < 9999-12-31T23:59:59",
            ]
        )
    )
    fh.compile_everywhere(resolve([parse_module(text, fh.SEG_FILE)], project, fh.CATALOG))


def test_depth_counts_levels_without_recursion() -> None:
    e = parse_expression("(" * 5000 + "age" + ")" * 5000 + " > 1", "x.seg")
    assert depth(e) == 2  # parentheses are free
    chain = parse_expression(" + ".join(["1"] * 5000), "x.seg")
    assert depth(chain) == 5000  # deeper than Python's stack, counted all the same


def test_catalogue_finds_them_by_validate() -> None:
    """Every definition error of the catalogue is found by validate: only errors
    about what to compile (a dialect, a target, --segment naming a segmentation,
    nothing selected) are compile's own."""
    compiled = {case.stem for case in CASES if _command(case)[0] == "compile"}
    assert compiled == {
        "compile_nothing_selected",
        "compile_segment_is_segmentation",
        "compile_segmentation_is_segment",
        "compile_segment_is_split",
        "unknown_dialect",
        # --target: which target to compile for, and its environment variables
        "target_unknown_name",
        "target_env_missing",
    }
    for case in ("sequence_then_not_after_three_steps", "sequence_within_month",
                 "nested_too_deeply", "universe_aggregate", "universe_rank"):  # fmt: skip
        assert (HERE / f"{case}.txt").exists(), case


# ---------------------------------------------------------------- the property

UNITS = ["second", "minutes", "hour", "days", "week", "month", "years"]
STEP = st.sampled_from(
    ["orders", "events", 'events where name = "view"', "orders where amount > 5"]
)


@st.composite
def sequence(draw) -> str:
    steps = draw(st.lists(STEP, min_size=2, max_size=5))
    text = steps[0]
    for s in steps[1:]:
        text += draw(st.sampled_from([" then ", " then not "])) + s
    text += f" within {draw(st.integers(1, 3))} {draw(st.sampled_from(UNITS))}"
    if draw(st.booleans()):
        text += " on sku"
    return f"did({text}{draw(st.sampled_from(['', ', last 7 days', ', any 1 day']))})"


@st.composite
def nested(draw) -> str:
    n = draw(st.integers(MAX_DEPTH - 6, MAX_DEPTH + 2))
    kind = draw(st.sampled_from(["not", "minus", "abs", "and", "div", "coalesce", "where"]))
    return {
        "not": "not " * n + "age > 18",
        "minus": "-" * n + "age > 18",
        "abs": "abs(" * n + "age" + ")" * n + " > 18",
        "and": " and ".join(["age > 18"] * n),
        "div": " / ".join(["age"] * n) + " > 1",
        "coalesce": "coalesce(" * n + "age" + ", 1)" * n + " > 18",
        "where": "count(orders where " + " or ".join(["amount > 1"] * n) + ") > 1",
    }[kind]


@st.composite
def sliding(draw) -> str:
    unit = draw(st.sampled_from(UNITS))
    return f"count(events, any {draw(st.integers(0, 3))} {unit}) > {draw(st.integers(0, 3))}"


UNIVERSES = st.none() | st.sampled_from(
    ["consent_marketing", "count(orders) > 1", "percentile(age) > 50%", "age > 18 and not is_test"]
)


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(st.lists(sequence() | nested() | sliding(), min_size=1, max_size=3), UNIVERSES)
def test_resolved_definitions_compile_everywhere(conditions: list[str], universe) -> None:
    text = "\n".join(f"segment s{i} = {c}" for i, c in enumerate(conditions))
    _errors(text, universe)


@settings(max_examples=100, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(st.randoms(use_true_random=False))
def test_random_definitions_compile_everywhere(rng) -> None:
    """The fuzzers' grammar walk: whatever resolves compiles (run_seg raises when
    compile reports an error resolve did not)."""
    fh.run_seg(fh.random_text(rng))
