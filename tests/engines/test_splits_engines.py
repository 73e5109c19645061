"""Splits on every engine here: the same key gets the same bucket as Python's
hashlib (LANGUAGE.md §13) on PostgreSQL, Spark and BigQuery's ZetaSQL, for the
§13 vectors and 10,000 generated keys (ASCII, Unicode, empty, long, the text
of integers) and for integer keys (cast to text by the engine itself).

The SQL is the registry's md5_bucket exactly as a split writes it
(tests/test_splits.bucket_select: a key of unknown type, cast to text).
"""

from __future__ import annotations

import random

import pytest
from oracle.evaluate import split_bucket
from test_splits import VECTORS, bucket_select, sample_keys

pytestmark = pytest.mark.engines

SALT = "spring_test"


def string_keys() -> list[str]:
    return sorted(set(sample_keys(random.Random(7), 10_000)))


def integer_keys() -> list[int]:
    rng = random.Random(11)
    keys = {0, 1, -1, 42, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63)}
    while len(keys) < 10_000:
        keys.add(rng.randrange(-(10**15), 10**15))
    return sorted(keys)


def want(salt: str, keys) -> dict:
    return {k: split_bucket(salt, k) for k in keys}


def test_vectors_are_in_the_samples():
    assert {k for _, k, _ in VECTORS} <= set(string_keys())
    for salt, key, bucket in VECTORS:
        assert split_bucket(salt, key) == bucket


def test_postgres(postgres):
    strings, integers = string_keys(), integer_keys()
    with postgres.connect() as pg:
        for table, pg_type, keys in (
            ("str_keys", "text", strings),
            ("int_keys", "bigint", integers),
        ):
            pg.execute(f"CREATE TEMP TABLE {table} (customer_id {pg_type})")
            with pg.cursor().copy(f"COPY {table} (customer_id) FROM STDIN") as copy:
                for k in keys:
                    copy.write_row((k,))
            for salt in (SALT, "x", "Ä-ö ✓"):
                rows = pg.execute(bucket_select("postgres", salt, "any", table)).fetchall()
                assert dict(rows) == want(salt, keys), (table, salt)


def test_spark(spark):
    from engines.spark import load_rows

    for table, typ, keys in (
        ("str_keys", "VARCHAR", string_keys()),
        ("int_keys", "BIGINT", integer_keys()),
    ):
        load_rows(spark, table, [("customer_id", typ)], [{"customer_id": k} for k in keys])
        for salt in (SALT, "Ä-ö ✓"):
            rows = spark.sql(bucket_select("spark", salt, "any", table)).collect()
            assert {r[0]: r[1] for r in rows} == want(salt, keys), (table, salt)


def test_bigquery(bigquery):
    """ZetaSQL takes at most 4 MB per request: the keys go in batches."""
    for typ, keys in (("VARCHAR", string_keys()), ("BIGINT", integer_keys())):
        got: dict = {}
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            bigquery.load("keys", [("customer_id", typ)], [{"customer_id": k} for k in batch])
            _, rows = bigquery.run(bucket_select("bigquery", SALT, "any", "keys"))
            got.update(dict(rows))
        assert got == want(SALT, keys), typ
