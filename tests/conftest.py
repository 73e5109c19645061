"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# tests/ is on sys.path (pytest's default "prepend" import mode), so tests/engines is
# importable as the package `engines`.
from engines.postgres import PostgresServer, available


def engines_required() -> bool:
    """CI sets SEGQL_REQUIRE_ENGINES=1: missing engines are then a failure, not a skip."""
    return os.environ.get("SEGQL_REQUIRE_ENGINES", "") == "1"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the whole test session (see tests/engines/postgres.py).

    Skips the requesting test when no server can be started here, unless
    SEGQL_REQUIRE_ENGINES=1, in which case the test fails."""
    reason = available()
    if reason is not None:
        if engines_required():
            pytest.fail(f"SEGQL_REQUIRE_ENGINES=1 but PostgreSQL is unavailable: {reason}")
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def spark():
    """The shared local Spark session (tests/engines/spark.py); skips like postgres."""
    from engines import spark as spark_engine

    reason = spark_engine.available()
    if reason is not None:
        if engines_required():
            pytest.fail(f"SEGQL_REQUIRE_ENGINES=1 but Spark is unavailable: {reason}")
        pytest.skip(f"Spark unavailable: {reason}")
    return spark_engine.session()


@pytest.fixture(scope="session")
def bigquery():
    """A private ZetaSQL server evaluating BigQuery's SQL (tests/engines/bigquery.py)
    for the whole session; skips like postgres."""
    from engines import bigquery as bigquery_engine

    reason = bigquery_engine.available()
    if reason is not None:
        if engines_required():
            pytest.fail(f"SEGQL_REQUIRE_ENGINES=1 but BigQuery (ZetaSQL) is unavailable: {reason}")
        pytest.skip(f"BigQuery (ZetaSQL) unavailable: {reason}")
    with bigquery_engine.BigQueryServer() as server:
        yield server
