"""Engines behind one interface (segql/engines/base.py) and the targets of
segql.yml that name them (targets.py). DuckDB, PostgreSQL and Spark run here;
BigQuery, Snowflake, Trino and Databricks targets only give compile its
dialect and table names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from segql.engines.targets import RUNS_HERE, Target
from segql.errors import SegqlError

if TYPE_CHECKING:  # segql.project reads targets: no sqlglot import for that
    from segql.engines.base import Engine


def connect(target: Target, root: Path, read_only: bool = True) -> Engine:
    """Open the target's engine; `read_only` only matters to DuckDB files
    (preview never writes; other engines rely on the user's grants)."""
    if target.engine not in RUNS_HERE:
        raise SegqlError(
            f"target '{target.name}' is {target.engine}, which segql does not connect to",
            target.span,
            (
                f"segql runs on {', '.join(RUNS_HERE)}; "
                f"'segql compile --target {target.name}' writes the SQL for {target.engine}",
            ),
            text=target.text or None,
        )
    if target.engine == "duckdb":
        from segql.engines.duckdb import DuckDBEngine

        return DuckDBEngine(target, root, read_only)
    if target.engine == "postgres":
        from segql.engines.postgres import PostgresEngine

        return PostgresEngine(target)
    from segql.engines.spark import SparkEngine

    return SparkEngine(target, root)


__all__ = ["Target", "connect"]
