"""Spark through pyspark (`pip install 'segql[spark]'`, Java 17).

A session already running in this process (a notebook, the tests) is used
and left running; one started here is stopped on close. A started session
keeps its tables in a Hive metastore (Derby) inside the `warehouse` folder, so
that tables written by one command (`segql sample`) are there for the next.
The session time zone is UTC: segql reads naive timestamps as UTC instants.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from sqlglot import exp

from segql.engines.base import Engine, missing_driver
from segql.engines.targets import Target
from segql.errors import SegqlError

LOCK_TABLE = "run_lock"


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

    # no multi-table transactions: a run commits by its `runs` row (docs/run.md)
    transactional = False

    @contextlib.contextmanager
    def exclusive(self, schema: str):
        """The run lock is a table, `run_lock` in the state schema: creating a
        table that exists fails in the metastore, so one run gets it. A run killed
        before dropping it leaves it: the error says how to remove it."""
        lock = exp.Table(
            this=exp.to_identifier(LOCK_TABLE, quoted=True),
            db=exp.to_identifier(schema, quoted=True),
        )
        holder = f"{socket.gethostname()} pid {os.getpid()}"
        columns = {
            "holder": exp.DataType.build("TEXT"),
            "started_at": exp.DataType.build("TIMESTAMP"),
        }
        create = self.dialect.create_table(lock, columns)[-1]  # no IF NOT EXISTS: it must fail
        self.execute(self.dialect.create_schema(schema))
        try:
            self.execute(create)
        except SegqlError:
            if self.columns(lock) is None:
                raise
            rows = self.fetch(exp.select("*").from_(lock.copy()))
            since = f" ({rows[0][0]}, since {rows[0][1]} UTC)" if rows else ""
            raise SegqlError(
                f"another segql run is writing the state in database '{schema}'{since}",
                None,
                (
                    "runs on one state go one at a time; if no run is going on, a killed "
                    f"run left its lock: DROP TABLE `{schema}`.`{LOCK_TABLE}`",
                ),
            ) from None
        try:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
            values = exp.Values(
                expressions=[
                    exp.Tuple(expressions=[exp.Literal.string(holder), self.dialect.instant(now)])
                ]
            )
            self.execute(exp.insert(values, lock.copy()))
            yield
        except BaseException:
            with contextlib.suppress(SegqlError):  # the error inside matters more
                self.execute(exp.Drop(tables=[lock.copy()], kind="TABLE", exists=True))
            raise
        self.execute(exp.Drop(tables=[lock], kind="TABLE", exists=True))

    def close(self) -> None:
        if self.owned:
            self.spark.stop()


def _utc(v):
    return v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v
