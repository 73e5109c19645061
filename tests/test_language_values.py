"""LANGUAGE.md §5: literals, operators, functions on values and two-valued logic,
over profile columns of a few hand-made customers."""

from __future__ import annotations

import pytest
from helpers import check, table

AS_OF = "2024-05-10T12:00:00"

# id | a    | b | x    | s       | flag  | d          | t
#  1 | 1    | 2 | 1.5  | "Alice" | true  | 2024-04-01 | 2024-04-01 12:30:00
#  2 | 3    | 0 | -2.0 | "bob"   | false | 2024-04-30 | 2024-04-29 23:59:59
#  3 | null | 4 | null | null    | null  | null       | null
#  4 | 6    | 3 | 0.0  | "a%b"   | true  | 2024-05-01 | 2024-05-01 00:00:00
PEOPLE = {
    "customers": table(
        "customer_id INTEGER, a INTEGER, b INTEGER, x DOUBLE, s VARCHAR, flag BOOLEAN, "
        "d DATE, t TIMESTAMP",
        (1, 1, 2, 1.5, "Alice", True, "2024-04-01", "2024-04-01 12:30:00"),
        (2, 3, 0, -2.0, "bob", False, "2024-04-30", "2024-04-29 23:59:59"),
        (3, None, 4, None, None, None, None, None),
        (4, 6, 3, 0.0, "a%b", True, "2024-05-01", "2024-05-01 00:00:00"),
    )
}
ALL = {1, 2, 3, 4}

OPERATORS = [
    # arithmetic
    ("a + b = 3", {1, 2}),  # 1+2, 3+0; 6+3 = 9; null + 4 = null
    ("a - b < 0", {1}),  # 1-2 = -1
    ("a * b = 18", {4}),
    ("-a < -2", {2, 4}),  # -3, -6
    ("a + b * 2 = 5", {1}),  # * binds tighter: 1 + 4; 3 + 0; 6 + 6
    ("(a + b) * 2 = 6", {1, 2}),  # (1+2)*2, (3+0)*2
    ("a - b - 1 = -2", {1}),  # left associative: (1-2)-1
    # true division, also int / int; division by zero is null
    ("a / b = 0.5", {1}),  # 1/2 = 0.5, never integer 0
    ("a / b = 2", {4}),  # 6/3
    ("a / b > 0", {1, 4}),  # 3/0 is null: not > 0
    ("not (a / b > 0)", {2, 3}),  # two-valued: not flips membership exactly
    ("a / b is null", {2, 3}),  # 3/0 and null/4
    ("a / b is not null", {1, 4}),
    ("7 / 2 = 3.5", ALL),
    ("1 / 0 is null", ALL),
    ("b / a > 1", {1}),  # 2/1 = 2; 0/3 = 0; 4/null = null; 3/6 = 0.5
    # comparisons (a missing operand makes every comparison false)
    ("a = 3", {2}),
    ("a != 3", {1, 4}),
    ("a < 3", {1}),
    ("a <= 3", {1, 2}),
    ("a > 3", {4}),
    ("a >= 3", {2, 4}),
    ("not (a = 3)", {1, 3, 4}),
    ("not (a != 3)", {2, 3}),
    ("x > 0", {1}),
    ("x = 0", {4}),
    ("x < 0", {2}),
    ('s = "bob"', {2}),
    ('s != "bob"', {1, 4}),
    ('s < "b"', {1, 4}),  # "Alice" and "a%b" sort before "b"
    # in / not in: a missing operand is false; null items never match
    ("a in (1, 6)", {1, 4}),
    ("a not in (1, 6)", {2}),  # 3 is null: false
    ("not (a in (1, 6))", {2, 3}),
    ("a in (1, null)", {1}),
    ("a not in (1, null)", {2, 4}),
    ("a in (null)", set()),
    ("a in (b, 6)", {4}),  # 1 ∉ (2, 6); 3 ∉ (0, 6); 6 ∈ (3, 6)
    ("a in (b + 1)", set()),  # 1 vs 3, 3 vs 1, 6 vs 4
    ("b in (a + 1)", {1}),  # 2 = 1 + 1
    ('s in ("Alice", "bob")', {1, 2}),
    ('s not in ("Alice")', {2, 4}),
    ("a in (3)", {2}),
    # between: inclusive at both ends
    ("a between 1 and 3", {1, 2}),
    ("a not between 1 and 3", {4}),
    ("not (a between 1 and 3)", {3, 4}),
    ("a between 2 and 5", {2}),
    ("x between -2 and 0", {2, 4}),  # -2.0 and 0.0 are the ends
    ("a between b and 6", {2, 4}),  # 1 ∉ [2, 6]; 3 ∈ [0, 6]; 6 ∈ [3, 6]
    ("a not between b and 6", {1}),
    ('s between "a" and "b"', {4}),  # "a%b"; "Alice" < "a" (upper case first); "bob" > "b"
    # is null / is not null
    ("s is null", {3}),
    ("s is not null", {1, 2, 4}),
    ("not s is null", {1, 2, 4}),  # not applies to the whole comparison
    ("flag is null", {3}),
    # like
    ('s like "A%"', {1}),
    ('s like "%b%"', {2, 4}),
    ('s like "_ob"', {2}),
    ('s like "a%b"', {4}),  # '%' in the pattern is the wildcard: a…b
    ('s not like "A%"', {2, 4}),  # null s: false
    ('not (s like "A%")', {2, 3, 4}),
    ('lower(s) like "a%"', {1, 4}),
    # and / or / not
    ("a = 1 or b = 4", {1, 3}),
    ("a = 1 and b = 2", {1}),
    ("a = 1 or a = 3 and b = 4", {1}),  # and binds tighter than or
    ("(a = 1 or a = 3) and b = 0", {2}),
    ("not (a = 1 or a = 3)", {3, 4}),
    ("not a = 1", {2, 3, 4}),
    ("not not a = 1", {1}),
    ("a > 100 or not (a > 100)", ALL),  # excluded middle holds even for null a
    ("flag", {1, 4}),
    ("not flag", {2, 3}),
    ("flag = true", {1, 4}),
    ("flag = false", {2}),
    ("flag != true", {2}),
    ("flag and a > 1", {4}),
    ("flag or a = 3", {1, 2, 4}),
    ("true", ALL),
    ("false", set()),
    ("not false", ALL),
]


@pytest.mark.parametrize(("condition", "expected"), OPERATORS)
def test_operators(condition: str, expected: set[int]) -> None:
    check(condition, PEOPLE, expected, as_of=AS_OF)


# Items that are null when the query runs never match, like a literal null item.
# id | a    | b
#  1 | 1    | null
#  2 | 6    | null
#  3 | null | 1
#  4 | 1    | 1
IN_NULLS = {
    "customers": table(
        "customer_id INTEGER, a INTEGER, b INTEGER",
        (1, 1, None),
        (2, 6, None),
        (3, None, 1),
        (4, 1, 1),
    )
}

IN_LISTS = [
    ("a in (b, 6)", {2, 4}),
    ("a not in (b, 6)", {1}),  # 1: no item equals 1; 3: a is missing
    ("not (a in (b, 6))", {1, 3}),
    ("a in (b)", {4}),
    ("a not in (b)", {1, 2}),
    ("a not in (b, null)", {1, 2}),
    ("a in (null)", set()),
    ("a not in (null)", {1, 2, 4}),  # no item can equal a; 3: a is missing
    ("a not in (1, null)", {2}),
    ("b not in (a)", {3}),
]


@pytest.mark.parametrize(("condition", "expected"), IN_LISTS)
def test_in_lists_with_null_items(condition: str, expected: set[int]) -> None:
    check(condition, IN_NULLS, expected, as_of=AS_OF)


@pytest.mark.parametrize(("condition", "expected"), OPERATORS)
def test_not_flips_membership(condition: str, expected: set[int]) -> None:
    """Two-valued logic: members(p) and members(not p) partition the universe."""
    check(f"not ({condition})", PEOPLE, ALL - set(expected), as_of=AS_OF)


LITERALS = [
    # numbers and percents (20% = 0.2)
    ("50% = 0.5", ALL),
    ("12.5% * 8 = 1", ALL),
    ("x > 50%", {1}),  # 1.5
    ("a / b = 50%", {1}),
    ("x >= 150%", {1}),
    ("0.1 + 0.2 > 0.3 - 0.0001", ALL),
    ("2.50 = 2.5", ALL),
    # dates compare with date columns
    ("d = 2024-04-01", {1}),
    ("d < 2024-04-30", {1}),
    ("d between 2024-04-01 and 2024-04-30", {1, 2}),
    ("d >= 2024-05-01", {4}),
    ("d != 2024-05-01", {1, 2}),
    # timestamps, with and without seconds, compare with timestamp columns
    ("t = 2024-04-01T12:30:00", {1}),
    ("t = 2024-04-01T12:30", {1}),
    ("t >= 2024-04-29T23:59:59", {2, 4}),
    ("t < 2024-05-01T00:00", {1, 2}),
    ("t > 2024-04-29T23:59:58.5", {2, 4}),
    # a date meets a timestamp as its (local) midnight
    ("t > 2024-04-30", {4}),  # 2024-04-29 23:59:59 is before 2024-04-30 00:00
    ("t >= 2024-05-01", {4}),  # exactly midnight
    ("t < 2024-05-01", {1, 2}),
    ("t between 2024-04-01 and 2024-04-30", {1, 2}),  # 12:30 on 04-01 ≥ its midnight
    ("d < t", {1}),  # 04-01 00:00 < 04-01 12:30; 04-30 00:00 > 04-29 23:59:59; equal on 4
    ("null is null", ALL),
    ("coalesce(a, null, 9) = 9", {3}),
]


@pytest.mark.parametrize(("condition", "expected"), LITERALS)
def test_literals(condition: str, expected: set[int]) -> None:
    check(condition, PEOPLE, expected, as_of=AS_OF)


# id | s
#  1 | say "hi"
#  2 | it's
#  3 | back\slash
#  4 | line<newline>break
#  5 | x' OR '1'='1
TEXTS = {
    "customers": table(
        "customer_id INTEGER, s VARCHAR",
        (1, 'say "hi"'),
        (2, "it's"),
        (3, "back\\slash"),
        (4, "line\nbreak"),
        (5, "x' OR '1'='1"),
    )
}

STRINGS = [
    (r'''s = "say \"hi\""''', {1}),
    (r"""s = 'say "hi"'""", {1}),
    (r"""s = 'it\'s'""", {2}),
    (r'''s = "it's"''', {2}),
    (r'''s = "back\\slash"''', {3}),
    (r'''s = "line\nbreak"''', {4}),
    (r'''s = "x' OR '1'='1"''', {5}),  # quoting cannot be escaped
    (r"""s = 'x\' OR \'1\'=\'1'""", {5}),
    (r'''s = "' OR 1=1 --"''', set()),
    (r"""s = "a\\" or true""", {1, 2, 3, 4, 5}),  # `\\` ends the string; `or true` is segql
    (r'''s like "%\"%"''', {1}),
    (r'''s like "%'%"''', {2, 5}),
]


@pytest.mark.parametrize(("condition", "expected"), STRINGS)
def test_string_escapes(condition: str, expected: set[int]) -> None:
    check(condition, TEXTS, expected, as_of=AS_OF)


# columns whose names are keywords or not identifiers
ODD = {
    "customers": table(
        'customer_id INTEGER, "first name" VARCHAR, "select" INTEGER, "last" INTEGER, '
        '"Order" INTEGER',
        (1, "Ann", 1, 2, 3),
        (2, "Bo", 2, 1, 3),
    ),
    "orders": table(
        'customer_id INTEGER, ordered_at TIMESTAMP, amount DOUBLE, "select" INTEGER, '
        '"total value" DOUBLE',
        (1, "2024-05-01 00:00:00", 1.0, 1, 10.0),
        (2, "2024-05-01 00:00:00", 1.0, 2, 20.0),
        (2, "2024-05-02 00:00:00", 1.0, 2, 5.0),
    ),
}

BACKTICKS = [
    ('`first name` = "Ann"', {1}),
    ("`select` > 1", {2}),
    ("`last` = 2", {1}),
    ("`Order` = 3", {1, 2}),
    ("`select` + `last` = 3", {1, 2}),
    ("count(orders where `select` = 2) = 2", {2}),
    ("sum(orders.`total value`) = 25", {2}),
    ("sum(orders.`total value` where `select` = 1) = 10", {1}),
    ("last(orders.`total value`) = 5", {2}),
]


@pytest.mark.parametrize(("condition", "expected"), BACKTICKS)
def test_backtick_names(condition: str, expected: set[int]) -> None:
    check(condition, ODD, expected, as_of=AS_OF)


def test_backtick_definition_names() -> None:
    # definitions named by keywords, in backticks where they are defined and used
    check("segment `where` = a > 1\nsegment picked = `where`", PEOPLE, {2, 4}, as_of=AS_OF)
    check("trait `last` = a * 2\nsegment picked = `last` = 2", PEOPLE, {1}, as_of=AS_OF)
    check(
        "segment `where` = a > 1\nsegment picked = `where` and not `where`",
        PEOPLE,
        set(),
        as_of=AS_OF,
    )


# days_since: whole 24-hour periods from t to as_of (floor); as_of 2024-05-10 12:00
#  1 | 2024-05-09 12:00:00  exactly 24h        → 1
#  2 | 2024-05-09 12:01:00  23h59m             → 0
#  3 | 2024-05-08 12:00:00  48h                → 2
#  4 | 2024-05-08 12:00:01  47h59m59s          → 1
#  5 | 2024-05-10 12:00:00  as_of itself       → 0
#  6 | null                                    → null
#  7 | 2024-05-11 00:00:00  12h after as_of    → floor(-0.5) = -1
#  8 | 2024-04-10 12:00:00.000001  30 days less 1 µs → 29
# d (DATE, its midnight): 05-09 → 36h → 1; 05-10 → 12h → 0; 04-10 → 30.5 days → 30
TIMES = {
    "customers": table(
        "customer_id INTEGER, t TIMESTAMP, d DATE",
        (1, "2024-05-09 12:00:00", "2024-05-09"),
        (2, "2024-05-09 12:01:00", "2024-05-10"),
        (3, "2024-05-08 12:00:00", "2024-04-10"),
        (4, "2024-05-08 12:00:01", None),
        (5, "2024-05-10 12:00:00", None),
        (6, None, None),
        (7, "2024-05-11 00:00:00", None),
        (8, "2024-04-10 12:00:00.000001", None),  # 30 days minus 1 µs → 29
    )
}

DAYS_SINCE = [
    ("days_since(t) = 1", {1, 4}),
    ("days_since(t) = 0", {2, 5}),
    ("days_since(t) = 2", {3}),
    ("days_since(t) = -1", {7}),
    ("days_since(t) = 29", {8}),
    ("days_since(t) is null", {6}),
    ("days_since(t) >= 0", {1, 2, 3, 4, 5, 8}),
    ("not (days_since(t) < 1)", {1, 3, 4, 6, 8}),  # null: the comparison is false, not flips
    ("days_since(d) = 1", {1}),
    ("days_since(d) = 0", {2}),
    ("days_since(d) = 30", {3}),
    ("days_since(2024-05-09T12:00:00) = 1", set(range(1, 9))),
    ("days_since(2024-05-01) = 9", set(range(1, 9))),  # 9.5 days
]


@pytest.mark.parametrize(("condition", "expected"), DAYS_SINCE)
def test_days_since(condition: str, expected: set[int]) -> None:
    check(condition, TIMES, expected, as_of=AS_OF)


# 2024-05-06 is a Monday, 2024-05-12 a Sunday, 2024-05-01 a Wednesday
CLOCK = {
    "customers": table(
        "customer_id INTEGER, t TIMESTAMP, d DATE, s VARCHAR, a INTEGER, b INTEGER, x DOUBLE",
        (1, "2024-05-06 00:00:00", "2024-05-06", "MiXeD", -3, None, -2.5),
        (2, "2024-05-12 23:59:59", "2024-05-12", "lower", None, None, 2.5),
        (3, "2024-05-01 10:30:00", "2024-05-01", None, 4, 7, None),
    )
}

FUNCTIONS = [
    ("weekday(t) = 1", {1}),
    ("weekday(t) = 7", {2}),
    ("weekday(t) = 3", {3}),
    ("weekday(d) = 7", {2}),
    ("weekday(d) between 1 and 5", {1, 3}),
    ("weekday(2024-05-12) = 7", {1, 2, 3}),
    ("hour(t) = 0", {1}),
    ("hour(t) = 23", {2}),
    ("hour(t) = 10", {3}),
    ("date(t) = 2024-05-12", {2}),
    ("date(t) = d", {1, 2, 3}),
    ("date(t) < 2024-05-06", {3}),
    ("coalesce(a, 0) = 0", {2}),
    ("coalesce(a, b) = -3", {1}),
    ("coalesce(b, a) = 7", {3}),
    ("coalesce(a, b, 5) = 5", {2}),
    ('coalesce(s, "none") = "none"', {3}),
    ("coalesce(b, 1) = 1", {1, 2}),
    ('lower(s) = "mixed"', {1}),
    ('lower(s) = "lower"', {2}),
    ("lower(s) is null", {3}),
    ("abs(a) = 3", {1}),
    ("abs(x) = 2.5", {1, 2}),
    ("abs(a - 10) = 6", {3}),
    ("abs(a) is null", {2}),
]


@pytest.mark.parametrize(("condition", "expected"), FUNCTIONS)
def test_functions(condition: str, expected: set[int]) -> None:
    check(condition, CLOCK, expected, as_of=AS_OF)
