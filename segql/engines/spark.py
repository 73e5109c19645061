"""Spark through pyspark (`pip install 'segql[spark]'`, Java 17).

A session already running in this process (a notebook, the tests) is used
and left running; one started here is stopped on close. A started session
keeps its tables in a Hive metastore (Derby) inside the `warehouse` folder, so
that tables written by one command (`segql sample`) are there for the next.
The session time zone is UTC: segql reads naive timestamps as UTC instants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from sqlglot import exp

from segql.engines.base import Engine, missing_driver
from segql.engines.targets import Target


class SparkEngine(Engine):
    def __init__(self, target: Target, root: Path):
        super().__init__(target)
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise missing_driver("spark", "pyspark") from None
        self.owned = False
        self.spark = SparkSession.getActiveSession()
        if self.spark is None:
            self.spark = self._start(SparkSession, root)
            self.owned = True

    def _start(self, session_class, root: Path):
        warehouse = (root / (self.target.setting("warehouse") or "spark-warehouse")).resolve()
        master = self.target.setting("master") or "local[2]"
        metastore = f"jdbc:derby:;databaseName={warehouse / 'metastore_db'};create=true"
        builder = (
            session_class.builder.master(master)
            .appName("segql")
            .config("spark.sql.warehouse.dir", str(warehouse))
            .config("spark.sql.catalogImplementation", "hive")
            .config("spark.hadoop.javax.jdo.option.ConnectionURL", metastore)
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
        if master.startswith("local"):
            # 200 shuffle partitions (the default, sized for clusters) make every
            # join of the membership query 200 tiny tasks on one machine
            builder = builder.config("spark.sql.shuffle.partitions", "4")
        try:
            spark = builder.getOrCreate()
        except Exception as e:  # no Java, a bad master URL: one line, no JVM trace
            raise self.error("could not start a session", e) from None
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    def _driver_errors(self):
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        return (PySparkException, Py4JError)

    def _run(self, sql: str, fetch: bool) -> list[tuple] | None:
        df = self.spark.sql(sql)
        return [tuple(r) for r in df.collect()] if fetch else None

    def columns(self, table: exp.Table) -> dict[str, str] | None:
        query = exp.select("*").from_(table.copy()).limit(0)
        try:
            return dict(self.spark.sql(self.sql(query)).dtypes)
        except self._driver_errors():
            return None

    def tables(self, schema: str | None = None) -> list[str]:
        try:
            return sorted(t.name for t in self.spark.catalog.listTables(schema))
        except self._driver_errors():
            return []

    def load_rows(self, table: exp.Table, batches: Iterable[list[tuple]]) -> None:
        name = self.sql(table)
        schema = self.spark.table(name).schema
        for rows in batches:
            # pyspark reads a naive datetime in the machine's zone: say it is UTC
            data = [tuple(_utc(v) for v in row) for row in rows]
            try:
                self.spark.createDataFrame(data, schema).write.insertInto(name)
            except self._driver_errors() as e:
                raise self.error("could not load rows", e) from None

    def close(self) -> None:
        if self.owned:
            self.spark.stop()


def _utc(v):
    return v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v
