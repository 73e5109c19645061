"""LANGUAGE.md §2, point in time: `created` puts an entity in the universe from
that instant on; a history (`valid_from`, `valid_to`) gives every profile
attribute the value valid at as_of. Hand-computed members on DuckDB, and the
same expectations on PostgreSQL, Spark and BigQuery's SQL (ZetaSQL) (marker
`engines`)."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import check, compile_sql, table

T = dt.datetime  # as_of values: naive UTC instants

# created as a TIMESTAMP (naive UTC), as a DATE, and null
#  1  created 2024-03-01 10:00        5  signup 2024-03-02 (a DATE)
#  2  created 2024-03-01 12:00        6  signup 2024-03-03
#  3  created 2024-03-01 12:00:00.000001
#  4  created null: always there
CREATED = {
    "customers": table(
        "customer_id INTEGER, signed_up_at TIMESTAMP, signup_date DATE",
        (1, "2024-03-01 10:00:00", "2024-03-01"),
        (2, "2024-03-01 12:00:00", "2024-03-01"),
        (3, "2024-03-01 12:00:00.000001", "2024-03-01"),
        (4, None, None),
        (5, None, "2024-03-02"),
        (6, None, "2024-03-03"),
    ),
}
BY_TIME = {"profiles": {"table": "customers", "created": "signed_up_at"}}
BY_DATE = {"profiles": {"table": "customers", "created": "signup_date"}}
NEW_YORK = "America/New_York"  # 2024-03-02 starts at 05:00 UTC there

# (project settings, timezone, as_of, members of `true`)
CREATED_CASES = [
    (BY_TIME, "UTC", T(2024, 3, 1, 9, 59, 59), {4, 5, 6}),  # 5 and 6: null signed_up_at
    (BY_TIME, "UTC", T(2024, 3, 1, 10), {1, 4, 5, 6}),  # at created: in (time <= as_of)
    (BY_TIME, "UTC", T(2024, 3, 1, 12), {1, 2, 4, 5, 6}),
    (BY_TIME, "UTC", T(2024, 3, 1, 12, 0, 0, 1), {1, 2, 3, 4, 5, 6}),
    # the time zone does not move a timestamp
    (BY_TIME, NEW_YORK, T(2024, 3, 1, 12), {1, 2, 4, 5, 6}),
    # a date: its local midnight
    (BY_DATE, "UTC", T(2024, 2, 29, 23, 59, 59), {4}),
    (BY_DATE, "UTC", T(2024, 3, 2, 4), {1, 2, 3, 4, 5}),
    (BY_DATE, NEW_YORK, T(2024, 3, 2, 4, 59, 59), {1, 2, 3, 4}),  # 23:59:59 on March 1st
    (BY_DATE, NEW_YORK, T(2024, 3, 2, 5), {1, 2, 3, 4, 5}),
    (BY_DATE, NEW_YORK, T(2024, 3, 3, 5), {1, 2, 3, 4, 5, 6}),
]


@pytest.mark.parametrize(("extra", "tz", "as_of", "expected"), CREATED_CASES)
def test_created_starts_membership(extra, tz, as_of, expected):
    check("true", CREATED, expected, as_of=as_of, project_extra=extra, timezone=tz)


def test_created_and_the_universe_condition():
    # the universe condition still applies; `not` stays inside the universe
    extra = {**BY_TIME, "universe": "signed_up_at is not null"}
    check("true", CREATED, {1, 2}, as_of=T(2024, 3, 1, 12), project_extra=extra)
    check("not true", CREATED, set(), as_of=T(2024, 3, 1, 12), project_extra=extra)


def test_created_timestamptz_is_an_instant():
    data = {
        "customers": table(
            "customer_id INTEGER, created TIMESTAMPTZ",
            (1, "2024-03-01 07:00:00-05"),  # 12:00 UTC
            (2, "2024-03-01 13:00:00+01"),  # 12:00 UTC
            (3, "2024-03-01 12:00:01+00"),
        )
    }
    extra = {"profiles": {"table": "customers", "created": "created"}}
    for tz in ("UTC", NEW_YORK):
        check("true", data, {1, 2}, as_of=T(2024, 3, 1, 12), project_extra=extra, timezone=tz)


# A history (the shape of a dbt snapshot: valid_to null on the current row)
#  1  free [01-01, 02-01), pro [02-01, …)          attribute changes at 02-01
#  2  free [01-10, 01-20)                          no valid row before 01-10 or from 01-20
#  3  basic [01-01, …), pro [01-05, …)             overlap: the latest valid_from wins
#  4  b [01-01, …), a [01-01, …), z [01-01, 03-01) overlap on valid_from: an open row,
#                                                  then the smallest value
#  5  pro with a null valid_from                   never valid
#  6  pro [01-01, …), created 01-20                in the universe from 01-20
#  7  free [01-01, 01-01)                          an empty span: never valid
HISTORY = {
    "customers": table(
        "customer_id INTEGER, plan VARCHAR, valid_from TIMESTAMP, valid_to TIMESTAMP, "
        "signed_up_at TIMESTAMP",
        (1, "free", "2024-01-01", "2024-02-01", None),
        (1, "pro", "2024-02-01", None, None),
        (2, "free", "2024-01-10", "2024-01-20", None),
        (3, "basic", "2024-01-01", None, None),
        (3, "pro", "2024-01-05", None, None),
        (4, "b", "2024-01-01", None, None),
        (4, "a", "2024-01-01", None, None),
        (4, "z", "2024-01-01", "2024-03-01", None),
        (5, "pro", None, None, None),
        (6, "pro", "2024-01-01", None, "2024-01-20"),
        (7, "free", "2024-01-01", "2024-01-01", None),
    ),
    "orders": [
        {"customer_id": 1, "ordered_at": "2024-01-02 00:00:00", "amount": 5},
        {"customer_id": 2, "ordered_at": "2024-01-02 00:00:00", "amount": 5},
    ],
}
SNAPSHOT = {
    "profiles": {
        "table": "customers",
        "valid_from": "valid_from",
        "valid_to": "valid_to",
        "created": "signed_up_at",
    }
}
PLANS = """segmentation plans {
  free = plan = "free"
  basic = plan = "basic"
  pro = plan = "pro"
  a = plan = "a"
  b = plan = "b"
  z = plan = "z"
}"""

# (as_of, plan of each entity in the universe)
HISTORY_CASES = [
    (T(2023, 12, 31), {}),
    (T(2024, 1, 3), {1: "free", 3: "basic", 4: "a"}),
    (T(2024, 1, 10), {1: "free", 2: "free", 3: "pro", 4: "a"}),  # at 2's valid_from
    (T(2024, 1, 19, 23, 59, 59, 999999), {1: "free", 2: "free", 3: "pro", 4: "a"}),
    (T(2024, 1, 20), {1: "free", 3: "pro", 4: "a", 6: "pro"}),  # at 2's valid_to: gone
    (T(2024, 1, 31, 23, 59, 59), {1: "free", 3: "pro", 4: "a", 6: "pro"}),
    (T(2024, 2, 1), {1: "pro", 3: "pro", 4: "a", 6: "pro"}),  # 1's new row
    (T(2024, 6, 1), {1: "pro", 3: "pro", 4: "a", 6: "pro"}),
]


@pytest.mark.parametrize(("as_of", "expected"), HISTORY_CASES)
def test_history_gives_the_row_valid_at_as_of(as_of, expected):
    check(PLANS, HISTORY, expected, as_of=as_of, project_extra=SNAPSHOT)


@pytest.mark.parametrize(
    ("universe", "condition", "as_of", "expected"),
    [
        # the universe condition reads the as_of row
        ('plan = "pro"', "true", T(2024, 1, 15), {3}),  # 6 is not created yet
        ('plan = "pro"', "true", T(2024, 2, 1), {1, 3, 6}),
        ('plan != "pro"', "true", T(2024, 1, 15), {1, 2, 4}),
        ('plan != "pro"', "not did(orders)", T(2024, 1, 15), {4}),
        ('plan != "pro"', "did(orders)", T(2024, 2, 1), set()),  # 1 is pro by then
        (None, 'did(orders) and plan = "free"', T(2024, 1, 15), {1, 2}),
        (None, 'did(orders) and plan = "free"', T(2024, 2, 1), set()),
    ],
)
def test_history_universe_and_conditions(universe, condition, as_of, expected):
    extra = {**SNAPSHOT, "universe": universe}
    check(condition, HISTORY, expected, as_of=as_of, project_extra=extra)


def test_history_with_dates_in_the_project_time_zone():
    data = {
        "customers": table(
            "customer_id INTEGER, plan VARCHAR, valid_from DATE, valid_to DATE",
            (1, "free", "2024-01-01", "2024-02-01"),
            (1, "pro", "2024-02-01", None),
        )
    }
    extra = {"profiles": {"table": "customers", "valid_from": "valid_from", "valid_to": "valid_to"}}
    # February starts at 05:00 UTC in New York
    for as_of, plan in ((T(2024, 2, 1, 4, 59, 59), "free"), (T(2024, 2, 1, 5), "pro")):
        check(PLANS, data, {1: plan}, as_of=as_of, project_extra=extra, timezone=NEW_YORK)


def test_without_as_of_the_engine_clock_decides():
    """compile without --as-of: the engine's current timestamp (all rows are past)."""
    got_sql, _, con = compile_sql(PLANS, HISTORY, as_of=None, project_extra=SNAPSHOT)
    assert "CURRENT_TIMESTAMP" in got_sql
    assert dict(con.execute(got_sql).fetchall()) == {1: "pro", 3: "pro", 4: "a", 6: "pro"}


def test_yaml_definitions_read_the_as_of_row():
    yml = 'segments:\n  pro:\n    title: Pro now\n    where: plan = "pro"\n'
    check(
        {"defs.yml": yml}, HISTORY, {3}, as_of=T(2024, 1, 15), project_extra=SNAPSHOT, segment="pro"
    )


# ------------------------------------------------------------------ engines

ENGINE_CASES = (
    [
        ("true", CREATED, BY_TIME, "UTC", as_of, expected)
        for _, _, as_of, expected in CREATED_CASES[:4]
    ]
    + [
        ("true", CREATED, BY_DATE, tz, as_of, expected)
        for extra, tz, as_of, expected in CREATED_CASES[5:]
    ]
    + [(PLANS, HISTORY, SNAPSHOT, "UTC", as_of, expected) for as_of, expected in HISTORY_CASES]
    + [
        (
            'did(orders) and plan = "free"',
            HISTORY,
            {**SNAPSHOT, "universe": 'plan != "pro"'},
            "UTC",
            T(2024, 1, 15),
            {1, 2},
        ),
    ]
)


def _result(rows, expected):
    return dict(rows) if isinstance(expected, dict) else {r[0] for r in rows}


@pytest.mark.engines
@pytest.mark.parametrize(("source", "data", "extra", "tz", "as_of", "expected"), ENGINE_CASES)
def test_postgres(postgres, source, data, extra, tz, as_of, expected):
    from engines.postgres import load_from_duckdb

    sql, _, con = compile_sql(
        source, data, as_of=as_of, project_extra=extra, timezone=tz, dialect="postgres"
    )
    with postgres.connect() as pg:
        load_from_duckdb(con, pg, [t for t in ("customers", "orders", "events") if t in data])
        assert _result(pg.execute(sql).fetchall(), expected) == expected


@pytest.mark.engines
@pytest.mark.parametrize(("source", "data", "extra", "tz", "as_of", "expected"), ENGINE_CASES)
def test_spark(spark, source, data, extra, tz, as_of, expected):
    from engines import spark as spark_engine

    sql, _, con = compile_sql(
        source, data, as_of=as_of, project_extra=extra, timezone=tz, dialect="spark"
    )
    for name in ("customers", "orders", "events"):
        columns = [(r[0], r[1]) for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
        cur = con.execute(f'SELECT * FROM "{name}"')
        rows = [dict(zip([c for c, _ in columns], r, strict=True)) for r in cur.fetchall()]
        spark_engine.load_rows(spark, name, columns, rows)
    assert _result([tuple(r) for r in spark.sql(sql).collect()], expected) == expected


@pytest.mark.engines
@pytest.mark.parametrize(("source", "data", "extra", "tz", "as_of", "expected"), ENGINE_CASES)
def test_bigquery(bigquery, source, data, extra, tz, as_of, expected):
    """BigQuery's SQL on the ZetaSQL reference implementation."""
    from engines.bigquery import load_from_duckdb

    sql, _, con = compile_sql(
        source, data, as_of=as_of, project_extra=extra, timezone=tz, dialect="bigquery"
    )
    load_from_duckdb(con, bigquery, ["customers", "orders", "events"])
    assert _result(bigquery.run(sql)[1], expected) == expected


# ------------------------------------------------------------------ every dialect

WAREHOUSE = """key: customer_id
profiles:
  table: customers
  created: signup_date
  valid_from: dbt_valid_from
  valid_to: dbt_valid_to
  columns: {signup_date: date, dbt_valid_from: timestamp, dbt_valid_to: timestamp}
sources:
  orders: {table: orders, time: ordered_at}
universe: plan != "test"
timezone: Europe/Paris
"""


@pytest.mark.parametrize("as_of", ["2024-06-01T00:00:00", None])
def test_every_dialect_compiles_and_parses_back(tmp_path, as_of):
    """No database: the columns are taken as declared (or unchecked); every
    dialect's query parses back, and a DATE `created` is its local midnight."""
    import sqlglot

    from segql import api
    from segql.sql.dialects import DIALECTS

    (tmp_path / "segql.yml").write_text(WAREHOUSE)
    (tmp_path / "a.seg").write_text('segment pro = plan = "pro" and did(orders)\n')
    project = str(tmp_path / "segql.yml")
    for name, d in DIALECTS.items():
        sql = api.compile([str(tmp_path / "a.seg")], project=project, dialect=name, as_of=as_of)
        text = sql.sql()
        assert len(sqlglot.parse(text, read=d.sqlglot)) == 1
        assert "ROW_NUMBER() OVER" in text and '"dbt_valid_to" IS NULL' in text.replace("`", '"')
    bigquery = api.compile([str(tmp_path / "a.seg")], project=project, dialect="bigquery")
    # BigQuery: the date's midnight in the zone is a TIMESTAMP, compared with TIMESTAMPs
    assert "TIMESTAMP(`signup_date`, 'Europe/Paris') <= CURRENT_TIMESTAMP()" in bigquery.sql()


def test_settings_are_kept_on_the_profiles_table(tmp_path):
    from segql.project import load_project

    (tmp_path / "segql.yml").write_text(WAREHOUSE)
    pit = load_project(tmp_path / "segql.yml").profiles.point_in_time
    assert (pit.created.name, pit.valid_from.name, pit.valid_to.name) == (
        "signup_date",
        "dbt_valid_from",
        "dbt_valid_to",
    )
    assert pit.history and (pit.valid_to.span.line, pit.valid_to.span.col) == (6, 13)


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ("{table: customers, valid_to: t}", "'valid_to' needs 'valid_from'"),
        ("{table: customers, created: [a, b]}", "'created' must name a column"),
        ("{table: customers, creatd: t}", "did you mean 'created'?"),
    ],
)
def test_bad_settings(tmp_path, profiles, message):
    from segql.errors import SegqlErrors
    from segql.project import load_project

    text = f"key: customer_id\nprofiles: {profiles}\nsources:\n  orders: {{table: o, time: t}}\n"
    (tmp_path / "segql.yml").write_text(text)
    with pytest.raises(SegqlErrors) as e:
        load_project(tmp_path / "segql.yml")
    assert any(message in (err.message + " ".join(err.hints)) for err in e.value.errors)
