"""LANGUAGE.md §17: value functions (year, month, day, week, floor, ceil, round,
starts_with, ends_with, contains) and exact order statistics (mode, median,
quantile), hand-computed at their edges, run on DuckDB (and on BigQuery's
ZetaSQL with SEGQL_ALSO_BIGQUERY=1)."""

from __future__ import annotations

import pytest
from helpers import check, table

from segql import api
from segql.errors import SegqlError, SegqlErrors

AS_OF = "2024-05-10T12:00:00"

# ------------------------------------------------------------------ functions

# id | x      | s        | d          | t (UTC)
#  1 | 2.5    | "a%b"    | 2024-04-07 | 2024-01-01 03:00:00  (Sun Dec 31 22:00 in New York)
#  2 | -2.5   | "a_b"    | 2023-01-01 | 2024-04-08 00:30:00  (Sun Apr 7 20:30 in New York)
#  3 | null   | null     | null       | null
#  4 | 1.005  | "%"      | 2024-12-30 | 2024-12-30 04:59:59  (Sun Dec 29 23:59:59 in New York)
#  5 | -0.5   | ""       | 2021-01-03 | 2021-01-04 05:00:00  (Mon Jan 4 00:00 in New York)
PEOPLE = {
    "customers": table(
        "customer_id INTEGER, x DOUBLE, n DECIMAL(10,3), s VARCHAR, d DATE, t TIMESTAMP",
        (1, 2.5, 2.5, "a%b", "2024-04-07", "2024-01-01 03:00:00"),
        (2, -2.5, -2.5, "a_b", "2023-01-01", "2024-04-08 00:30:00"),
        (3, None, None, None, None, None),
        (4, 1.005, 1.005, "%", "2024-12-30", "2024-12-30 04:59:59"),
        (5, -0.5, -0.5, "", "2021-01-03", "2021-01-04 05:00:00"),
    )
}
NY = "America/New_York"

CALENDAR = [
    # of a date: no time zone involved
    ("year(d) = 2024", {1, 4}, "UTC"),
    ("month(d) = 1", {2, 5}, "UTC"),
    ("day(d) = 30", {4}, "UTC"),
    # week: the Monday its ISO week starts on, never a Sunday-first week
    ("week(d) = 2024-04-01", {1}, "UTC"),  # Sunday 2024-04-07: the week of Mon Apr 1
    ("week(d) = 2022-12-26", {2}, "UTC"),  # Sunday 2023-01-01: the week before the year
    ("week(d) = 2024-12-30", {4}, "UTC"),  # a Monday: itself; ISO week 1 of 2025
    ("week(d) = 2020-12-28", {5}, "UTC"),  # Sunday 2021-01-03: across the year boundary
    ("weekday(d) = 7", {1, 2, 5}, "UTC"),
    ("week(d) is null", {3}, "UTC"),
    ("not (year(d) = 2024)", {2, 3, 5}, "UTC"),  # null: false, so `not` flips
    # of an instant: local time in the project time zone
    ("year(t) = 2023", {1}, NY),  # 2024-01-01 03:00 UTC is 2023-12-31 in New York
    ("year(t) = 2024", {1, 2, 4}, "UTC"),
    ("month(t) = 12 and day(t) = 31", {1}, NY),
    ("day(t) = 7", {2}, NY),
    ("day(t) = 8", {2}, "UTC"),
    ("week(t) = 2023-12-25", {1}, NY),  # Sunday Dec 31 local
    ("week(t) = 2024-01-01", {1}, "UTC"),  # Monday Jan 1 in UTC
    ("week(t) = 2024-04-01", {2}, NY),  # Sunday Apr 7 20:30 local
    ("week(t) = 2024-04-08", {2}, "UTC"),
    ("week(t) = 2024-12-23", {4}, NY),  # Sunday Dec 29 23:59:59 local
    ("week(t) = 2021-01-04", {5}, NY),  # local midnight Monday: that very week
    ("week(t) = week(d)", {4}, "UTC"),
    ("year(t) is null", {3}, NY),
]


@pytest.mark.parametrize(("cond", "expected", "tz"), CALENDAR)
def test_calendar_parts(cond, expected, tz):
    check(cond, PEOPLE, expected, as_of=AS_OF, timezone=tz)


def test_week_of_a_timestamp_read_in_the_project_time_zone_across_the_year():
    """Kolkata (+05:30): 2024-12-29 19:00 UTC is Monday 2024-12-30 00:30 local,
    the ISO week that ends in 2025."""
    people = {
        "customers": table(
            "customer_id INTEGER, t TIMESTAMP",
            (1, "2024-12-29 19:00:00"),
            (2, "2024-12-29 18:00:00"),  # Sunday 23:30 local
        )
    }
    check("week(t) = 2024-12-30", people, {1}, as_of=AS_OF, timezone="Asia/Kolkata")
    check("week(t) = 2024-12-23", people, {2}, as_of=AS_OF, timezone="Asia/Kolkata")
    check(
        "year(week(t)) = 2024 and month(t) = 12",
        people,
        {1, 2},
        as_of=AS_OF,
        timezone="Asia/Kolkata",
    )


ROUNDING = [
    # halves go away from zero, on doubles and on decimals
    ("round(x) = 3", {1}),
    ("round(x) = -3", {2}),
    ("round(x) = -1", {5}),  # -0.5 -> -1, not -0
    ("round(n) = 3", {1}),
    ("round(n) = -3", {2}),
    ("round(n) = -1", {5}),
    ("round(x, 0) = 3", {1}),
    ("round(n, 2) = 1.01", {4}),  # the decimal 1.005 is a half
    ("round(x, 2) = 1.0", {4}),  # the double 1.005 is 1.00499999999999989...
    ("round(n, 1) = -2.5", {2}),
    ("round(x * 100, -2) = 300", {1}),  # 250 -> 300
    ("round(x * 100, -2) = -300", {2}),
    ("round(x, 2) = x", {1, 2, 5}),
    ("round(x) is null", {3}),
    ("floor(x) = 2", {1}),
    ("floor(x) = -3", {2}),
    ("floor(x) = -1", {5}),
    ("ceil(x) = 3", {1}),
    ("ceil(x) = -2", {2}),
    ("ceil(x) = 0", {5}),
    ("ceil(n) = 2", {4}),
    ("floor(n) = 1", {4}),
    ("not (floor(x) = 2)", {2, 3, 4, 5}),
]


@pytest.mark.parametrize(("cond", "expected"), ROUNDING)
def test_rounding(cond, expected):
    check(cond, PEOPLE, expected, as_of=AS_OF)


TEXT = [
    # plain text: % and _ are ordinary characters in both the text and the pattern
    ('starts_with(s, "a")', {1, 2}),
    ('starts_with(s, "a%")', {1}),
    ('starts_with(s, "a_")', {2}),
    ('starts_with(s, "%")', {4}),
    ('starts_with(s, "_")', set()),
    ('ends_with(s, "%b")', {1}),
    ('ends_with(s, "_b")', {2}),
    ('ends_with(s, "%")', {4}),
    ('contains(s, "%")', {1, 4}),
    ('contains(s, "_")', {2}),
    ('contains(s, "%b")', {1}),
    ('contains(s, "a%b")', {1}),
    ('contains(s, "ab")', set()),
    ('contains(s, "A")', set()),  # case matters
    # the empty text starts, ends and is contained in every text
    ('starts_with(s, "")', {1, 2, 4, 5}),
    ('ends_with(s, "")', {1, 2, 4, 5}),
    ('contains(s, "")', {1, 2, 4, 5}),
    # a pattern longer than the text
    ('starts_with(s, "a%bc")', set()),
    ('ends_with(s, "xa%b")', set()),
    # null text or pattern: false, and `not` flips
    ('not starts_with(s, "a")', {3, 4, 5}),
    ("contains(s, s)", {1, 2, 4, 5}),
    ('contains("a%b", s)', {1, 4, 5}),
    ('contains(s, "a") is null', {3}),
]


@pytest.mark.parametrize(("cond", "expected"), TEXT)
def test_text_functions(cond, expected):
    check(cond, PEOPLE, expected, as_of=AS_OF)


def test_text_functions_over_source_rows():
    orders = [
        {"customer_id": 1, "ordered_at": "2024-05-01 00:00:00", "sku": "50%_off"},
        {"customer_id": 2, "ordered_at": "2024-05-01 00:00:00", "sku": "500_off"},
        {"customer_id": 3, "ordered_at": "2024-05-01 00:00:00", "sku": "back\\slash"},
    ]
    data = {"customers": [{"customer_id": i} for i in (1, 2, 3)], "orders": orders}
    check('did(orders where contains(sku, "%_"))', data, {1}, as_of=AS_OF)
    check('did(orders where starts_with(sku, "50"))', data, {1, 2}, as_of=AS_OF)
    check('did(orders where ends_with(sku, "\\\\slash"))', data, {3}, as_of=AS_OF)
    check('count(orders where not contains(sku, "%")) = 1', data, {2, 3}, as_of=AS_OF)


# ------------------------------------------------------------------ errors


def _errors(tmp_path, monkeypatch, text: str) -> list[str]:
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: id\nprofiles: customers\n"
        "sources:\n  orders: {table: orders, time: at}\n"
    )
    (tmp_path / "a.seg").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises((SegqlErrors, SegqlError)) as e:
        api.validate(["a.seg"])
    errors = e.value.errors if isinstance(e.value, SegqlErrors) else [e.value]
    return [f"{x.span.line}:{x.span.col} {x.message}" if x.span else x.message for x in errors]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('segment s = year("x") = 1\n', "1:18 year() needs a date or timestamp, got a string"),
        (
            "segment s = week(3) = 2024-01-01\n",
            "1:18 week() needs a date or timestamp, got a number",
        ),
        ('segment s = floor("x") = 1\n', "1:19 floor() needs a number, got a string"),
        (
            "segment s = round(1.5, 1.5) = 1\n",
            "1:24 round() takes its decimal places as a whole "
            "number from -9 to 9, written as a number",
        ),
        (
            "segment s = round(1.5, 10) = 1\n",
            "1:24 round() takes its decimal places as a whole "
            "number from -9 to 9, written as a number",
        ),
        ("segment s = round(1, 2, 3) = 1\n", "1:13 round() takes 1 or 2 argument(s), got 3"),
        ('segment s = starts_with(1, "a")\n', "1:25 starts_with() needs a string, got a number"),
        ('segment s = contains("a")\n', "1:13 contains() takes 2 argument(s), got 1"),
        ('segment s = ends_with("a", 2024-01-01)\n', "1:28 ends_with() needs a string, got a date"),
    ],
)
def test_function_errors(tmp_path, monkeypatch, text, message):
    assert message in _errors(tmp_path, monkeypatch, text)


# ------------------------------------------------------------------ order statistics


def _orders(*rows) -> list[dict]:
    """(customer, day of May 2024, amount) -> order rows at midnight."""
    return [
        {"customer_id": c, "ordered_at": f"2024-05-{d:02d} 00:00:00", "amount": a}
        for c, d, a in rows
    ]


# 1: 3, 1, 2, 2 (even: 4 values)   2: 5, null (one value)   3: no orders
# 4: 7, 9, 8 (odd)                 5: 4, 6, 4, 6, null (a tie in mode: 4 and 6)
# 6: null only                     7: -1, -3 (negatives)
ORDERS = _orders(
    (1, 1, 3.0), (1, 2, 1.0), (1, 3, 2.0), (1, 9, 2.0),
    (2, 1, 5.0), (2, 2, None),
    (4, 1, 7.0), (4, 2, 9.0), (4, 9, 8.0),
    (5, 1, 4.0), (5, 2, 6.0), (5, 3, 4.0), (5, 4, 6.0), (5, 5, None),
    (6, 1, None),
    (7, 8, -1.0), (7, 9, -3.0),
)  # fmt: skip
DATA = {"customers": [{"customer_id": i} for i in range(1, 8)], "orders": ORDERS}

ORDER_STATS = [
    # median: the lower median, the ⌈n/2⌉-th smallest (never an average)
    ("median(orders.amount) = 2", {1}),  # 1 2 2 3: the 2nd
    ("median(orders.amount) = 5", {2}),  # the one value; the null is skipped
    ("median(orders.amount) = 8", {4}),  # 7 8 9: the 2nd
    ("median(orders.amount) = 4", {5}),  # 4 4 6 6: the 2nd, not 5
    ("median(orders.amount) = -3", {7}),  # -3 -1: the 1st, not -2
    ("median(orders.amount) is null", {3, 6}),  # no values: null
    ("not (median(orders.amount) > 0)", {3, 6, 7}),
    # quantile: the ⌈p·n⌉-th smallest
    ("quantile(orders.amount, 1) = 3", {1}),  # the largest
    ("quantile(orders.amount, 1) = 9", {4}),
    ("quantile(orders.amount, 1) = 6", {5}),
    ("quantile(orders.amount, 0.001) = 1", {1}),  # a tiny p: the smallest
    ("quantile(orders.amount, 0.001) = 7", {4}),
    ("quantile(orders.amount, 0.25) = 1", {1}),  # ⌈1⌉ = 1st of 4
    ("quantile(orders.amount, 0.26) = 2", {1}),  # ⌈1.04⌉ = 2nd of 4
    ("quantile(orders.amount, 0.75) = 2", {1}),  # ⌈3⌉ = 3rd: 1 2 2 3
    ("quantile(orders.amount, 0.76) = 3", {1}),
    ("quantile(orders.amount, 90%) = 9", {4}),  # ⌈2.7⌉ = 3rd of 3
    ("quantile(orders.amount, 0.5) = median(orders.amount)", {1, 2, 4, 5, 7}),
    ("quantile(orders.amount, 0.9) is null", {3, 6}),
    # mode: the most frequent value, ties to the smallest
    ("mode(orders.amount) = 2", {1}),
    ("mode(orders.amount) = 4", {5}),  # 4 and 6 twice each: the smaller
    ("mode(orders.amount) = 7", {4}),  # all once: the smallest
    ("mode(orders.amount) = -3", {7}),
    ("mode(orders.amount) is null", {3, 6}),
    # windows and filters, as for every aggregate
    ("median(orders.amount, last 7 days) = -3", {7}),  # 8th and 9th only
    ("median(orders.amount, last 7 days) = 2", {1}),  # 1: only the 2.0 of the 9th
    ("median(orders.amount, last 7 days) = 8", {4}),
    ("median(orders.amount, last 7 days) = 6", {5}),  # 6.0 and a null
    ("median(orders.amount, last 7 days) is null", {2, 3, 6}),
    ("quantile(orders.amount where amount > 1, 1, 2024-05-01 to 2024-05-02) = 3", {1}),
    ("mode(orders.amount where amount != 4) = 6", {5}),
    ("mode(orders.amount, 2024-05-02 to 2024-05-31) = 2", {1}),  # 1 2 2
    ("median(orders.amount where amount < 0) = -3", {7}),
    # several statistics of one value in one query, with different windows
    (
        "median(orders.amount) = 2 and quantile(orders.amount, 1, last 7 days) = 2"
        " and mode(orders.amount) = 2",
        {1},
    ),
]


@pytest.mark.parametrize(("cond", "expected"), ORDER_STATS)
def test_order_statistics(cond, expected):
    check(cond, DATA, expected, as_of=AS_OF)


def test_order_statistics_of_strings_and_times():
    orders = [
        {"customer_id": 1, "ordered_at": "2024-05-01 00:00:00", "sku": "b"},
        {"customer_id": 1, "ordered_at": "2024-05-02 00:00:00", "sku": "a"},
        {"customer_id": 1, "ordered_at": "2024-05-03 00:00:00", "sku": "b"},
        {"customer_id": 1, "ordered_at": "2024-05-04 00:00:00", "sku": "c"},
        {"customer_id": 2, "ordered_at": "2024-05-04 00:00:00", "sku": "z"},
    ]
    data = {"customers": [{"customer_id": i} for i in (1, 2)], "orders": orders}
    check('mode(orders.sku) = "b"', data, {1}, as_of=AS_OF)
    check('median(orders.sku) = "b"', data, {1}, as_of=AS_OF)  # a b b c: the 2nd
    check('quantile(orders.sku, 1) = "c"', data, {1}, as_of=AS_OF)
    check("median(orders.ordered_at) = 2024-05-02", data, {1}, as_of=AS_OF)
    check("quantile(orders.ordered_at, 1) = 2024-05-04", data, {1, 2}, as_of=AS_OF)
    check("mode(date(orders.ordered_at)) = 2024-05-01", data, {1}, as_of=AS_OF)


def test_order_statistics_are_one_read_in_explain():
    from helpers import compile_sql

    sql, _, _ = compile_sql(
        "median(orders.amount) > 1 and quantile(orders.amount, 0.9, last 30 days) > 1"
        " and mode(orders.amount where amount > 0) > 1",
        DATA,
        as_of=AS_OF,
    )
    # one read of orders, never an engine's percentile
    assert sql.count('FROM "orders"') == 1, sql
    for word in ("PERCENTILE", "QUANTILE(", "MEDIAN(", "APPROX", "MODE("):
        assert word not in sql.upper(), word


@pytest.mark.parametrize(
    ("dialect", "in_scan"),
    [("duckdb", True), ("postgres", True), ("spark", False), ("bigquery", False), ("trino", False)],
)
def test_median_is_a_column_of_the_grouped_scan_where_percentile_disc_is_exact(dialect, in_scan):
    """PERCENTILE_DISC on engines whose one is exact (checked by the table above on
    DuckDB, by the engine tests on PostgreSQL) and only for p exact in binary; a
    p like 0.9 (0.9 × 10 = 9.000000000000002 in binary) keeps the order_stat read."""
    from helpers import compile_sql

    sql, _, _ = compile_sql(
        "median(orders.amount) > 1 and quantile(orders.amount, 0.75, last 30 days) > 1"
        " and sum(orders.amount) > 1",
        DATA,
        as_of=AS_OF,
        dialect=dialect,
    )
    upper = sql.upper()
    assert ("PERCENTILE_DISC" in upper or "QUANTILE_DISC" in upper) == in_scan, sql
    assert ("ORDER_ORDERS" in upper) != in_scan, sql  # the order_stat read otherwise
    sql, _, _ = compile_sql("quantile(orders.amount, 0.9) > 1", DATA, as_of=AS_OF, dialect=dialect)
    assert "PERCENTILE" not in sql.upper() and "QUANTILE_DISC" not in sql.upper()


def test_explain_shows_the_order_stat_form(tmp_path, monkeypatch):
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: id\nprofiles: customers\n"
        "sources:\n  orders: {table: orders, time: at}\n"
    )
    (tmp_path / "a.seg").write_text(
        "segment a = median(orders.x) > 1 and mode(orders.x, last 7 days) > 1\n"
        "segment b = quantile(orders.x, 90%) > 1 and sum(orders.x) > 1\n"
    )
    monkeypatch.chdir(tmp_path)
    text = api.explain_plan(["a.seg"], dialect="duckdb")
    assert "order_stat (3 exact order statistic(s) (median, mode, quantile) of one value" in text
    assert "grouped_scan" in text  # sum stays in the grouped scan


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "segment s = quantile(orders.x, 0) > 1\n",
            "1:32 quantile() needs p, a number with "
            "0 < p <= 1, written as a number: e.g. 0.9 or 90%",
        ),
        (
            "segment s = quantile(orders.x, 1.5) > 1\n",
            "1:32 quantile() needs p, a number with "
            "0 < p <= 1, written as a number: e.g. 0.9 or 90%",
        ),
        (
            "segment s = quantile(orders.x, 2/3) > 1\n",
            "1:32 quantile() needs p, a number with "
            "0 < p <= 1, written as a number: e.g. 0.9 or 90%",
        ),
        (
            "segment s = quantile(orders.x, last 3 days) > 1\n",
            "1:13 quantile() needs p after the value, e.g. quantile(orders.amount, 0.9)",
        ),
        (
            "segment s = quantile(orders.x) > 1\n",
            "1:13 quantile() needs p after the value, e.g. quantile(orders.amount, 0.9)",
        ),
        (
            "segment s = median(orders) > 1\n",
            "1:20 median() needs a value, e.g. median(orders.<column>)",
        ),
        ("segment s = median(orders.x, 0.5) > 1\n", "1:30 unexpected argument to median()"),
        (
            "segment s = mode(orders.x, any 2 days) > 1\n",
            "1:28 'any 2 days' (the busiest span) only works with count(), not mode()",
        ),
    ],
)
def test_order_statistic_errors(tmp_path, monkeypatch, text, message):
    assert message in _errors(tmp_path, monkeypatch, text)


# ------------------------------------------------------------------ every engine agrees

import datetime as dt  # noqa: E402
from decimal import Decimal  # noqa: E402

from segql.errors import Span  # noqa: E402
from segql.sql.dialects import get_dialect  # noqa: E402
from segql.sql.expressions import Translator  # noqa: E402
from segql.sql.windows import FixedClock  # noqa: E402
from segql.syntax import ast  # noqa: E402

_S = Span("t.seg", 1, 1, 1, 2)


def _n(v: str) -> ast.Expr:
    if v.startswith("-"):
        return ast.Unary("-", ast.Number(Decimal(v[1:]), _S), _S)
    return ast.Number(Decimal(v), _S)


def _double(a: str, b: str) -> ast.Expr:
    return ast.Binary("/", _n(a), _n(b), _S)  # true division: a double


def _call(f: str, *args: ast.Expr) -> ast.Call:
    return ast.Call(f, tuple(args), _S)


def _str(v: str) -> ast.Expr:
    return ast.String(v, _S)


def _date(v: str) -> ast.Expr:
    return ast.DateLit(dt.date.fromisoformat(v), _S)


def _ts(v: str) -> ast.Expr:  # read in the project time zone, as written
    return ast.TimestampLit(dt.datetime.fromisoformat(v), _S)


# (expression, expected) in the time zone America/New_York
VECTORS = [
    (_call("round", _n("2.5")), 3),
    (_call("round", _n("-2.5")), -3),
    (_call("round", _n("0.5")), 1),
    (_call("round", _n("-0.5")), -1),
    (_call("round", _double("5", "2")), 3),  # a double half
    (_call("round", _double("-5", "2")), -3),
    (_call("round", _double("-1", "2")), -1),
    (_call("round", _n("1.005"), _n("2")), 1.01),
    (_call("round", _n("-1.25"), _n("1")), -1.3),
    (_call("round", _double("5", "4"), _n("1")), 1.3),  # 1.25 as a double
    (_call("round", _n("1250"), _n("-2")), 1300),
    (_call("round", _n("-1249.9"), _n("-2")), -1200),
    (_call("floor", _n("-2.5")), -3),
    (_call("ceil", _n("-2.5")), -2),
    (_call("floor", _double("7", "2")), 3),
    (_call("ceil", _double("7", "2")), 4),
    (_call("week", _date("2021-01-03")), "2020-12-28"),  # a Sunday, across the year
    (_call("week", _date("2024-12-31")), "2024-12-30"),
    (_call("week", _date("2024-04-07")), "2024-04-01"),
    (_call("week", _date("2024-04-08")), "2024-04-08"),  # a Monday: itself
    (_call("week", _ts("2023-12-31T23:30:00")), "2023-12-25"),  # Sunday night, local
    (_call("week", _ts("2024-01-01T00:00:00")), "2024-01-01"),
    (_call("year", _ts("2023-12-31T23:30:00")), 2023),
    (_call("month", _ts("2023-12-31T23:30:00")), 12),
    (_call("day", _ts("2024-03-10T03:30:00")), 10),  # the DST morning in New York
    (_call("year", _date("2024-02-29")), 2024),
    (_call("day", _date("2024-02-29")), 29),
    (_call("starts_with", _str("a%b"), _str("a%")), True),
    (_call("starts_with", _str("a_b"), _str("a%")), False),
    (_call("starts_with", _str("abc"), _str("a_")), False),
    (_call("ends_with", _str("a%b"), _str("%b")), True),
    (_call("ends_with", _str("ab"), _str("abc")), False),
    (_call("ends_with", _str("x\\y"), _str("\\y")), True),
    (_call("contains", _str("a_b"), _str("%")), False),
    (_call("contains", _str("a%b"), _str("%")), True),
    (_call("contains", _str("abc"), _str("")), True),
    (_call("starts_with", _str(""), _str("")), True),
    (_call("contains", _str("日本🙂x"), _str("🙂")), True),
    (_call("ends_with", _str("日本🙂"), _str("本🙂")), True),
    (_call("starts_with", _str("Ünï"), _str("Ün")), True),
    (_call("contains", _str("MiXeD"), _str("mix")), False),
]


def vectors_sql(dialect: str) -> str:
    d = get_dialect(dialect)
    tz = "America/New_York"
    t = Translator(None, d, FixedClock(dt.datetime(2024, 5, 1), tz, d), tz)  # type: ignore[arg-type]
    cols = [t.value(e).as_(f"c{i}") for i, (e, _) in enumerate(VECTORS)]
    return exp_select(cols).sql(dialect=d.sqlglot)


def exp_select(cols):
    from sqlglot import exp

    return exp.select(*cols)


def _normal(v):
    if isinstance(v, dt.datetime | dt.date):
        return str(v)[:10]
    if isinstance(v, bool) or isinstance(v, str):
        return v
    return round(float(v), 9)


def _same(got_row) -> None:
    want = [_normal(w) for _, w in VECTORS]
    got = [_normal(g) for g in got_row]
    bad = [(i, w, g) for i, (w, g) in enumerate(zip(want, got, strict=True)) if w != g]
    assert not bad, bad


def test_function_vectors_duckdb():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    _same(con.execute(vectors_sql("duckdb")).fetchone())


@pytest.mark.engines
def test_function_vectors_postgres(postgres):
    with postgres.connect() as pg:
        _same(pg.execute(vectors_sql("postgres")).fetchone())


@pytest.mark.engines
def test_function_vectors_spark(spark):
    (row,) = spark.sql(vectors_sql("spark")).collect()
    _same(tuple(row))


@pytest.mark.engines
def test_function_vectors_bigquery(bigquery):
    _, rows = bigquery.run(vectors_sql("bigquery"))
    _same(rows[0])
