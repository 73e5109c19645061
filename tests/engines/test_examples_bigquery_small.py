"""The examples of test_examples_bigquery.SMALL on DuckDB and on BigQuery (the
ZetaSQL reference implementation) over a smaller sample: the same rows."""

from __future__ import annotations

import pytest

from segql.ops.sample import sample_database

from .bigquery import BigQueryServer, load_from_duckdb
from .test_examples_bigquery import SEED, SMALL, TABLES, same_rows

pytestmark = pytest.mark.engines


@pytest.mark.parametrize("stem", sorted(SMALL))
def test_example_same_rows_on_a_smaller_sample(stem: str, bigquery: BigQueryServer) -> None:
    duck = sample_database(SMALL[stem], SEED)
    try:
        load_from_duckdb(duck, bigquery, TABLES)
        same_rows(stem, duck, bigquery)
    finally:
        bigquery.clear()
        duck.close()
