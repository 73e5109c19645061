"""A local Spark session for tests (pyspark, Java 17), and a loader of rows.

One session per test run: starting Spark takes ~10 s. The session time zone is
UTC, as segql requires on Spark (LANGUAGE: naive TIMESTAMP columns hold UTC
instants).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from typing import Any

_SESSION: Any = None


def available() -> str | None:
    """None when a local Spark session can be started here, else the reason."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (java not on PATH, JAVA_HOME unset)"
    return None


def session():
    """The shared local SparkSession (started on first use, stopped at exit)."""
    global _SESSION
    if _SESSION is None:
        import atexit

        from pyspark.sql import SparkSession

        _SESSION = (
            SparkSession.builder.master("local[2]")
            .appName("segql-tests")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.driver.memory", "1g")
            .config("spark.sql.adaptive.enabled", "false")
            .getOrCreate()
        )
        _SESSION.sparkContext.setLogLevel("ERROR")
        atexit.register(stop)
    return _SESSION


def stop() -> None:
    global _SESSION
    if _SESSION is not None:
        _SESSION.stop()
        _SESSION = None


_TYPES = {
    "INTEGER": "IntegerType",
    "BIGINT": "LongType",
    "VARCHAR": "StringType",
    "BOOLEAN": "BooleanType",
    "TIMESTAMP": "TimestampType",
    "DOUBLE": "DoubleType",
    "DATE": "DateType",
}


def load_rows(spark, table: str, columns: list[tuple[str, str]], rows: list[dict]) -> None:
    """Register rows as the temporary view `table` with the given (DuckDB) types.

    Naive datetimes are UTC instants: they are passed to Spark as aware UTC
    values so that pyspark does not read them in the machine's local zone."""
    from pyspark.sql import types as T

    fields = []
    for name, typ in columns:
        if typ.startswith("DECIMAL"):
            p, s = typ[typ.index("(") + 1 : -1].split(",")
            spark_type = T.DecimalType(int(p), int(s))
        else:
            spark_type = getattr(T, _TYPES[typ])()
        fields.append(T.StructField(name, spark_type, True))
    schema = T.StructType(fields)

    def value(v: Any) -> Any:
        if isinstance(v, dt.datetime) and v.tzinfo is None:
            return v.replace(tzinfo=dt.UTC)
        return v

    data = [tuple(value(r.get(name)) for name, _ in columns) for r in rows]
    spark.createDataFrame(data, schema).createOrReplaceTempView(table)
