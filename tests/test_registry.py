"""The registry of functions and aggregates (segql/semantic/registry.py): every
stage reads it, and md5_bucket, the split hash of LANGUAGE.md §13, was added
through it alone (plus one dialect hook per engine spelling)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from segql import api
from segql.errors import SegqlError, SegqlErrors, Span
from segql.semantic.registry import AGGREGATES, FUNCTIONS, user_functions
from segql.sql.dialects import DIALECTS, get_dialect
from segql.sql.expressions import Translator
from segql.sql.windows import FixedClock
from segql.syntax import ast
from segql.syntax.parser import parse_module

SPAN = Span("t.seg", 1, 1, 1, 2)

# LANGUAGE.md §13: (salt, key) -> bucket; the first 8 hex digits in comments
VECTORS = [
    ("spring_test", "c1", 6977),  # 458ad741
    ("spring_test", "42", 2188),  # b380077c
    ("spring_test", "Ä-ö 7", 1346),  # d9d36af2
    ("x", "", 9221),  # fd3500a5
]


def bucket_sql(dialect: str, key: ast.Expr, salt: str) -> str:
    d = get_dialect(dialect)
    t = Translator(None, d, FixedClock(dt.datetime(2024, 1, 1), "UTC", d), "UTC")  # type: ignore[arg-type]
    call = ast.Call("md5_bucket", (key, ast.String(salt, SPAN)), SPAN)
    return "SELECT " + t.value(call).sql(dialect=d.sqlglot)


def key_of(text: str) -> ast.Expr:
    return ast.String(text, SPAN)


@pytest.mark.parametrize(("salt", "key", "bucket"), VECTORS)
def test_md5_bucket_vectors_duckdb(salt, key, bucket):
    got = duckdb.connect().execute(bucket_sql("duckdb", key_of(key), salt)).fetchone()
    assert got == (bucket,)


def test_md5_bucket_of_an_integer_key_is_the_bucket_of_its_text():
    """An integer key is hashed as the engine's text of it: 42 -> '42'."""
    got = duckdb.connect().execute(bucket_sql("duckdb", ast.Number(42, SPAN), "spring_test"))
    assert got.fetchone() == (2188,)


def test_md5_bucket_null_key_has_no_bucket():
    got = duckdb.connect().execute(bucket_sql("duckdb", ast.Null(SPAN), "spring_test"))
    assert got.fetchone() == (None,)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_md5_bucket_compiles_for_every_dialect(dialect):
    sql = bucket_sql(dialect, key_of("c1"), "spring_test")
    assert "MD5" in sql.upper()


@pytest.mark.engines
def test_md5_bucket_vectors_postgres(postgres):
    with postgres.connect() as pg:
        for salt, key, bucket in VECTORS:
            got = pg.execute(bucket_sql("postgres", key_of(key), salt)).fetchone()
            assert got == (bucket,), (salt, key)
        got = pg.execute(bucket_sql("postgres", ast.Number(42, SPAN), "spring_test")).fetchone()
        assert got == (2188,)


@pytest.mark.engines
def test_md5_bucket_vectors_spark(spark):
    for salt, key, bucket in VECTORS:
        got = spark.sql(bucket_sql("spark", key_of(key), salt)).collect()
        assert [tuple(r) for r in got] == [(bucket,)], (salt, key)


def test_md5_bucket_is_internal():
    """Users cannot call it (yet): splits build it. The message lists what exists."""
    with pytest.raises(SegqlErrors) as e:
        parse_module('segment s = md5_bucket("a", "b") < 10\n', "t.seg")
    (err,) = e.value.errors
    assert err.message == "unknown function 'md5_bucket'"
    assert "md5_bucket" not in " ".join(err.hints)


def test_unknown_function_lists_the_functions():
    with pytest.raises(SegqlErrors) as e:
        parse_module("segment s = lowr(1) = 1\n", "t.seg")
    (err,) = e.value.errors
    assert err.message == "unknown function 'lowr' (did you mean 'lower'?)"
    (hint,) = err.hints
    assert hint.startswith("aggregates are count, count_distinct, ")
    assert hint.endswith("; functions are " + ", ".join(user_functions()))
    assert "days_since" in user_functions()


def test_every_entry_is_complete():
    for name, fn in FUNCTIONS.items():
        assert fn.name == name and fn.max_args >= fn.min_args >= 1 and callable(fn.sql)
    for name, agg in AGGREGATES.items():
        assert agg.name == name
        assert agg.rows or agg.values
        # computed in its own grouped expression, another's slot, or a form of its own
        if agg.planned_as is None:
            assert agg.grouped is not None or agg.form != "grouped", name
        else:
            assert AGGREGATES[agg.planned_as].grouped is not None


def test_a_function_argument_type_error_is_worded_from_its_entry(tmp_path, monkeypatch):
    (tmp_path / "segql.yml").write_text(
        "entity: customer\nkey: id\nprofiles: customers\n"
        "sources:\n  orders: {table: orders, time: at}\n"
    )
    (tmp_path / "a.seg").write_text('segment s = abs("x") > 1 and days_since(3) > 1\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises((SegqlErrors, SegqlError)) as e:
        api.validate(["a.seg"])
    errors = e.value.errors if isinstance(e.value, SegqlErrors) else [e.value]
    messages = [x.message for x in errors]
    assert "abs() needs a number, got a string" in messages
    assert "days_since() needs a date or timestamp, got a number" in messages


@pytest.mark.engines
def test_md5_bucket_vectors_bigquery(bigquery):
    """On BigQuery's own SQL (the ZetaSQL reference implementation)."""
    for salt, key, bucket in VECTORS:
        _, rows = bigquery.run(bucket_sql("bigquery", key_of(key), salt))
        assert rows == [(bucket,)], (salt, key)
    _, rows = bigquery.run(bucket_sql("bigquery", ast.Number(42, SPAN), "spring_test"))
    assert rows == [(2188,)]
