"""The dialect registry: every difference between engines lives here.

Each dialect builds the few typed expressions whose SQL differs by engine
(instants, time zones, epoch arithmetic, weekday) instead of letting sqlglot
transpile DuckDB text, which silently changes meaning on some engines.
The `lacks` lists name constructs an engine does not have; generated SQL must
never contain them (tests check this for engines that cannot run here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlglot import exp

from segql.errors import SegqlError


def _lit(s: str) -> exp.Literal:
    return exp.Literal.string(s)


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _sunday_first_to_iso(dow: exp.Expr) -> exp.Expr:
    """1 = Sunday … 7 = Saturday  →  1 = Monday … 7 = Sunday: (dow + 5) % 7 + 1."""
    shifted = exp.paren(exp.Add(this=dow, expression=exp.Literal.number(5)))
    return exp.Add(
        this=exp.Mod(this=shifted, expression=exp.Literal.number(7)),
        expression=exp.Literal.number(1),
    )


@dataclass(frozen=True)
class Dialect:
    name: str  # our name
    sqlglot: str  # sqlglot's dialect name
    support: str = "tested"  # tested (runs in CI) | generated (parse-back and lists only)
    # constructs this engine lacks (checked against generated SQL in tests)
    lacks: tuple[str, ...] = field(default_factory=tuple)

    # -- LIKE: `%` and `_` are a segql pattern's only special characters
    like_backslash_escapes = False  # the engine's LIKE escapes with backslash by default
    # MIN/MAX accept booleans (PostgreSQL has only bool_and/bool_or; Snowflake unverified)
    minmax_boolean = True
    # two-step sequences by time buckets and hash joins instead of a sorted window
    # (passes.pair_ctes): faster on DuckDB and Spark (docs/performance.md), the
    # engines whose joins are hash joins; unmeasured on BigQuery, Snowflake, Trino
    pair_buckets = True
    # an exact PERCENTILE_DISC aggregate (the ⌈p·n⌉-th smallest value for a p
    # exact in binary): median and such quantiles become one more column of the
    # grouped scan. Checked against the order statistic on DuckDB and PostgreSQL
    # (tests/test_language_functions17.py); BigQuery has it only as a window
    # function, Trino not at all, Spark's is unverified here, Snowflake's untested
    percentile_disc = False
    # CREATE TEMPORARY TABLE (Trino has none: a run's scratch tables are
    # ordinary tables of the state schema, dropped at its end)
    temporary_tables = True

    def number(self, text: str) -> exp.Expr:
        """A segql number literal (an exact decimal) as this engine reads it."""
        return exp.Literal.number(text)

    def like_pattern(self, pattern: exp.Expr) -> exp.Expr:
        """A pattern whose backslashes are ordinary characters on this engine."""
        if not self.like_backslash_escapes:
            return pattern
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            return _lit(pattern.this.replace("\\", "\\\\"))
        return exp.func("REPLACE", pattern, _lit("\\"), _lit("\\\\"))

    # -- instants: times are compared as naive UTC timestamps
    def instant_type(self) -> exp.DataType:
        return exp.DataType.build("TIMESTAMP")

    def instant(self, value: dt.datetime) -> exp.Expr:
        text = value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
        return exp.cast(_lit(text), self.instant_type())

    def date(self, value: dt.date) -> exp.Expr:
        return exp.cast(_lit(value.isoformat()), exp.DataType.build("DATE"))

    def now(self) -> exp.Expr:
        """The current instant as a naive UTC timestamp."""
        return exp.cast(
            exp.AtTimeZone(this=exp.CurrentTimestamp(), zone=_lit("UTC")), self.instant_type()
        )

    def from_timestamptz(self, col: exp.Expr) -> exp.Expr:
        return exp.AtTimeZone(this=col, zone=_lit("UTC"))

    # -- time zones: local wall-clock time of an instant, and back
    def to_local(self, ts: exp.Expr, tz: str) -> exp.Expr:
        if tz == "UTC":
            return ts
        utc = exp.AtTimeZone(this=ts, zone=_lit("UTC"))
        return exp.AtTimeZone(this=exp.paren(utc, copy=False), zone=_lit(tz))

    def from_local(self, local: exp.Expr, tz: str) -> exp.Expr:
        if tz == "UTC":
            return local
        zoned = exp.AtTimeZone(this=local, zone=_lit(tz))
        return exp.AtTimeZone(this=exp.paren(zoned, copy=False), zone=_lit("UTC"))

    def local_date_start(self, day: exp.Expr, tz: str) -> exp.Expr:
        """Instant at which a (local) DATE begins."""
        return self.from_local(exp.cast(day, self.local_type()), tz)

    def local_type(self) -> exp.DataType:
        return exp.DataType.build("TIMESTAMP")

    # -- arithmetic on instants
    def shift(self, ts: exp.Expr, amount: int, unit: str) -> exp.Expr:
        """ts + amount units (amount may be negative)."""
        unit_u = unit.upper()
        if unit_u == "WEEK":
            amount, unit_u = amount * 7, "DAY"
        if unit_u == "YEAR":
            amount, unit_u = amount * 12, "MONTH"
        interval = exp.Interval(this=_lit(str(abs(amount))), unit=exp.var(unit_u))
        return (
            exp.Sub(this=ts, expression=interval)
            if amount < 0
            else exp.Add(this=ts, expression=interval)
        )

    def shift_local(self, local: exp.Expr, amount: int, unit: str) -> exp.Expr:
        """A local wall-clock timestamp shifted by amount units."""
        return self.shift(local, amount, unit)

    def trunc(self, local: exp.Expr, unit: str) -> exp.Expr:
        """Start of the local day/ISO week/month/year holding a local timestamp."""
        return exp.TimestampTrunc(this=local, unit=_lit(unit.upper()))

    def epoch_us(self, ts: exp.Expr) -> exp.Expr:
        """Microseconds since 1970-01-01 of a naive UTC timestamp."""
        return _fn("EPOCH_US", ts)

    def isodow(self, local: exp.Expr) -> exp.Expr:
        return exp.Extract(this=exp.var("ISODOW"), expression=local)

    def hour(self, local: exp.Expr) -> exp.Expr:
        return exp.Extract(this=exp.var("HOUR"), expression=local)

    def date_part(self, unit: str, local: exp.Expr) -> exp.Expr:
        """year, month or day of a date or a local timestamp, as a number."""
        return exp.Extract(this=exp.var(unit.upper()), expression=local)

    def double(self) -> exp.DataType:
        return exp.DataType.build("DOUBLE")

    def int_div(self, x: exp.Expr, d: exp.Expr) -> exp.Expr:
        """x DIV d, exact, for a non-negative BIGINT x and a positive integer d
        (a double division is exact only below 2^53)."""
        return exp.IntDiv(this=exp.paren(x, copy=False), expression=d)

    def hex_to_int(self, digits: exp.Expr) -> exp.Expr:
        """The integer of 8 lowercase hex digits (md5_bucket): '0x…' cast to BIGINT."""
        return exp.cast(_hex_literal("0x", digits), exp.DataType.build("BIGINT"))

    def sha256_hex(self, text: exp.Expr) -> exp.Expr:
        """The lowercase hex SHA-256 of a text's UTF-8 bytes (pii columns)."""
        return _fn("SHA256", text)

    def pii_hash(self, value: exp.Expr) -> exp.Expr:
        """A `pii:` column as it leaves segql (LANGUAGE.md §13): the SHA-256 hex of
        the trimmed, lower-cased text, the form ad platforms match on; null stays null."""
        text = exp.cast(value, exp.DataType.build("TEXT"))
        return self.sha256_hex(exp.Lower(this=exp.Trim(this=text)))

    def unpivot(
        self, rows: exp.Query, columns: list[str], name: str, value: str
    ) -> exp.Expr | None:
        """`rows` with a row per (row, column) of `columns` whose value is not
        null: the other columns, `name` (the column's name) and `value`; None
        where the engine has no UNPIVOT (the caller filters each column apart)."""
        return None

    # -- statements (engines run them: segql/engines/base.py)

    def run_index(self, table: exp.Table) -> list[exp.Expr]:
        """Statements that let a read of one run's rows of an append-only state
        table (`changes`) skip the other runs' rows. None here: DuckDB's zone
        maps (min/max per row group) skip them by themselves, Spark's tables
        are partitioned by run_id; the warehouses of run scripts (BigQuery,
        Snowflake, Trino) are not measured here."""
        return []

    def temp_table(self, name: exp.Table, query: exp.Query) -> list[exp.Expr]:
        """A table of a query's rows that lives as long as the connection."""
        temp = exp.Properties(expressions=[exp.TemporaryProperty()])
        return [exp.Create(this=name, kind="TABLE", expression=query, properties=temp)]

    def drop_temp_table(self, name: exp.Table) -> exp.Expr:
        return _drop(name)

    def replace_table(self, name: exp.Table, query: exp.Query) -> list[exp.Expr]:
        """Statements that make `name` hold a query's rows; run in one transaction,
        a reader sees the old rows or the new ones."""
        return [exp.Create(this=name, kind="TABLE", expression=query, replace=True)]

    def build_table(self, name: exp.Table, query: exp.Query) -> list[exp.Expr]:
        """A table of a query's rows, made anew (a run's new membership, built
        beside the old one and swapped in by `rename_over`)."""
        create = exp.Create(this=name.copy(), kind="TABLE", expression=query)
        return [_drop(name), create]

    def rename_over(self, built: exp.Table, name: exp.Table) -> list[exp.Expr]:
        """Statements that put table `built` in the place of `name` (same schema):
        drop `name`, rename `built`; atomic inside a transaction (DuckDB, PostgreSQL)."""
        renamed = exp.Table(this=name.this.copy())
        rename = exp.Alter(this=built.copy(), kind="TABLE", actions=[exp.AlterRename(this=renamed)])
        return [_drop(name), rename]

    def create_table(self, name: exp.Table, columns: dict[str, exp.DataType]) -> list[exp.Expr]:
        """Drop `name` and create it empty with these columns (sample data)."""
        schema = exp.Schema(
            this=name.copy(),
            expressions=[
                exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=t.copy())
                for c, t in columns.items()
            ],
        )
        return [
            _drop(name),
            exp.Create(this=schema, kind="TABLE", properties=self._table_format()),
        ]

    def create_schema(self, name: str) -> exp.Expr:
        return exp.Create(this=exp.to_identifier(name, quoted=True), kind="SCHEMA", exists=True)

    def drop_schema(self, name: str) -> exp.Expr:
        """Drop a schema and everything in it (scratch schemas of `segql test`)."""
        schema = exp.Table(db=exp.to_identifier(name, quoted=True))
        return exp.Drop(tables=[schema], kind="SCHEMA", exists=True, cascade=True)

    def _table_format(self) -> exp.Properties | None:
        return None

    # -- run state (segql/ops/state.py): tables whose rows carry a run_id

    def create_state_table(
        self, name: exp.Table, columns: dict[str, exp.DataType] | exp.Query
    ) -> exp.Expr:
        """CREATE TABLE IF NOT EXISTS for a state table, from columns or a query's
        (empty) result."""
        return _create_if_missing(name, columns, self._table_format())

    def delete_runs(self, name: exp.Table, run_ids: list[int]) -> list[exp.Expr]:
        """Statements removing the rows of these runs from a state table."""
        if not run_ids:
            return []
        ids = [exp.Literal.number(r) for r in run_ids]
        where = exp.In(this=exp.column("run_id", quoted=True), expressions=ids)
        return [exp.Delete(this=name.copy(), where=exp.Where(this=where))]

    def clear_run(self, name: exp.Table, run_id: int) -> list[exp.Expr]:
        """Statements that make sure a state table holds no rows of `run_id`
        before a run writes them: nothing where a run is one transaction."""
        return []

    def add_columns(
        self, name: exp.Table, columns: dict[str, exp.DataType], if_missing: bool = False
    ) -> list[exp.Expr]:
        """ALTER TABLE … ADD COLUMN per column (`if_missing`: IF NOT EXISTS)."""
        return [
            exp.Alter(
                this=name.copy(),
                kind="TABLE",
                actions=[
                    exp.ColumnDef(
                        this=exp.to_identifier(c, quoted=True),
                        kind=t.copy(),
                        exists=if_missing or None,
                    )
                ],
            )
            for c, t in columns.items()
        ]

    # -- run scripts (`compile --run-script`, segql/ops/run_script.py)

    def fail(self, message: exp.Expr) -> exp.Expr:
        """An expression that stops the statement with `message` (a text) when
        evaluated (in a CASE branch: only when its condition holds). Without an
        error function: a cast of the message to an integer, whose error shows it."""
        return exp.cast(message, exp.DataType.build("BIGINT"))

    def begin(self) -> exp.Expr | None:
        """The statement opening a multi-table transaction; None where the script
        cannot have one (Trino: its connectors' limits, docs/run.md)."""
        return exp.Transaction()

    def commit(self) -> exp.Expr | None:
        return exp.Commit()


def _create_if_missing(
    name: exp.Table, columns: dict[str, exp.DataType] | exp.Query, props: exp.Properties | None
) -> exp.Create:
    if isinstance(columns, dict):
        schema = exp.Schema(
            this=name.copy(),
            expressions=[
                exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=t.copy())
                for c, t in columns.items()
            ],
        )
        return exp.Create(this=schema, kind="TABLE", exists=True, properties=props)
    return exp.Create(
        this=name.copy(), kind="TABLE", exists=True, expression=columns, properties=props
    )


def _swap(name: exp.Table, query: exp.Query, fmt: exp.Properties | None, qualified: bool):
    """Build `name` beside the old table, then drop the old one and rename the new.
    `qualified`: whether RENAME TO takes the schema too (Spark) or only the
    name (PostgreSQL keeps the schema)."""
    new = name.copy()
    new.set("this", exp.to_identifier(f"{name.name}__segql_new", quoted=True))
    renamed = name.copy() if qualified else exp.Table(this=name.this.copy())
    return [
        _drop(new),
        exp.Create(this=new.copy(), kind="TABLE", expression=query, properties=fmt),
        _drop(name),
        exp.Alter(this=new, kind="TABLE", actions=[exp.AlterRename(this=renamed)]),
    ]


def _drop(name: exp.Table, kind: str = "TABLE") -> exp.Drop:
    return exp.Drop(tables=[name.copy()], kind=kind, exists=True)


def _run_partition(run_id: int) -> exp.Partition:
    eq = exp.EQ(this=exp.column("run_id", quoted=True), expression=exp.Literal.number(run_id))
    return exp.Partition(expressions=[eq])


def _hex_literal(prefix: str, digits: exp.Expr) -> exp.Expr:
    return exp.DPipe(this=_lit(prefix), expression=digits, safe=True)


class DuckDB(Dialect):
    percentile_disc = True

    def trunc(self, local, unit):
        return exp.TimestampTrunc(this=local, unit=_lit(unit.upper()))

    def fail(self, message):
        return _fn("ERROR", message)

    def unpivot(self, rows, columns, name, value):
        # UNPIVOT … ON … INTO NAME … VALUE …: nulls are left out by default
        on = [exp.column(c, quoted=True) for c in columns]
        into = exp.UnpivotColumns(
            this=exp.column(name, quoted=True), expressions=[exp.column(value, quoted=True)]
        )
        pivot = exp.Pivot(this=exp.Subquery(this=rows), expressions=on, unpivot=True, into=into)
        return exp.Subquery(this=pivot)


class Postgres(Dialect):
    like_backslash_escapes = True
    minmax_boolean = False
    # with the default work_mem (4MB) PostgreSQL merge-joins the buckets after
    # external sorts: 2x slower than the window at scale 1 (docs/performance.md)
    pair_buckets = False
    percentile_disc = True

    def epoch_us(self, ts):
        # EXTRACT(EPOCH ...) is numeric (exact) since PostgreSQL 14
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=ts)
        return exp.cast(
            exp.Mul(this=seconds, expression=exp.Literal.number(1000000)),
            exp.DataType.build("BIGINT"),
        )

    def run_index(self, table):
        # a heap table has no zone maps: without an index, every run's sizes
        # (grouping this run's changes) would read every run's changes. A BRIN
        # index stores a min/max run_id per range of pages: tiny, cheap to keep
        # up on an append-only table whose run_id only grows; the pages a run
        # appends are read until summarized (autosummarize: by autovacuum)
        name = exp.to_identifier(f"{table.name}_run_id", quoted=True)
        params = exp.IndexParameters(
            using=exp.var("brin"),
            columns=[exp.Ordered(this=exp.column("run_id", quoted=True), nulls_first=False)],
            with_storage=[exp.Property(this=exp.var("autosummarize"), value=exp.var("on"))],
        )
        index = exp.Index(this=name, table=table.copy(), params=params)
        return [exp.Create(this=index, kind="INDEX", exists=True)]

    def unpivot(self, rows, columns, name, value):
        # no UNPIVOT: a LATERAL VALUES list of (column name, its value) per row
        def q(c: str, table: str) -> exp.Column:
            return exp.column(c, table=table, quoted=True)

        pairs = [exp.Tuple(expressions=[_lit(c), q(c, "r")]) for c in columns]
        alias = exp.TableAlias(
            this=exp.to_identifier("v", quoted=True),
            columns=[exp.to_identifier(n, quoted=True) for n in (name, value)],
        )
        values = exp.Lateral(this=exp.Subquery(this=exp.Values(expressions=pairs)), alias=alias)
        keep = [c for c in rows.named_selects if c not in columns]
        r = exp.alias_(exp.Subquery(this=rows), "r", quoted=True)
        out = (
            exp.select(*(q(c, "r") for c in keep), q(name, "v"), q(value, "v"), copy=False)
            .from_(r, copy=False)
            .join(values, join_type="cross", copy=False)
            .where(exp.Not(this=exp.Is(this=q(value, "v"), expression=exp.Null())), copy=False)
        )
        return exp.alias_(exp.Subquery(this=out), "u", quoted=True)  # PostgreSQL 15: named

    def hex_to_int(self, digits):
        # 'x…' is a bit-string literal; 32 bits cast to BIGINT stay unsigned
        bits = exp.cast(_hex_literal("x", digits), exp.DataType.build("BIT(32)"))
        return exp.cast(bits, exp.DataType.build("BIGINT"))

    def sha256_hex(self, text):
        # sha256() takes bytea: the text's UTF-8 bytes, whatever the server encoding
        digest = _fn("SHA256", _fn("CONVERT_TO", text, _lit("UTF8")))
        return _fn("ENCODE", digest, _lit("hex"))

    def replace_table(self, name, query):
        # no CREATE OR REPLACE TABLE; DDL is transactional, so the swap is atomic
        return _swap(name, query, None, qualified=False)


class BigQuery(Dialect):
    like_backslash_escapes = True

    def number(self, text):
        # a literal with a fraction is a FLOAT64 in BigQuery (1.005 is 1.00499…):
        # an exact NUMERIC where it fits (29 whole digits, 9 decimals), as on the
        # other engines, so that round(1.005, 2) is 1.01 everywhere
        whole, _, frac = text.lstrip("-").partition(".")
        if frac and len(frac) <= 9 and len(whole) <= 29 and "e" not in text.lower():
            return exp.cast(_lit(text), exp.DataType.build("DECIMAL"))
        return exp.Literal.number(text)

    def fail(self, message):
        return _fn("ERROR", message)

    # BigQuery's TIMESTAMP is an instant; sqlglot calls that TIMESTAMPTZ.
    def sha256_hex(self, text):
        return _fn("TO_HEX", _fn("SHA256", text))  # SHA256(STRING) hashes its UTF-8 bytes

    def instant_type(self):
        return exp.DataType.build("TIMESTAMPTZ")

    # A string without a zone is read in the default time zone, which a project, an
    # organization (default_time_zone) or a session (@@time_zone) may set: say UTC.
    def instant(self, value):
        text = value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
        return exp.cast(_lit(text + "+00"), self.instant_type())

    def local_type(self):
        return exp.DataType.build("DATETIME")

    def now(self):
        return exp.CurrentTimestamp()

    def from_timestamptz(self, col):
        return col

    def to_local(self, ts, tz):
        return _fn("DATETIME", ts, _lit(tz))

    def from_local(self, local, tz):
        return _fn("TIMESTAMP", local, _lit(tz))

    def local_date_start(self, day, tz):
        return _fn("TIMESTAMP", day, _lit(tz))

    def shift(self, ts, amount, unit):
        unit_u = {"week": "DAY", "year": "MONTH"}.get(unit, unit.upper())
        amount = amount * {"week": 7, "year": 12}.get(unit, 1)
        if unit_u == "MONTH":  # TIMESTAMP_ADD has no MONTH: go through DATETIME in UTC
            local = _fn(
                "DATETIME_ADD",
                _fn("DATETIME", ts, _lit("UTC")),
                exp.Interval(this=exp.Literal.number(amount), unit=exp.var("MONTH")),
            )
            return _fn("TIMESTAMP", local, _lit("UTC"))
        return _fn(
            "TIMESTAMP_ADD", ts, exp.Interval(this=exp.Literal.number(amount), unit=exp.var(unit_u))
        )

    def shift_local(self, local, amount, unit):
        return _fn(
            "DATETIME_ADD",
            local,
            exp.Interval(this=exp.Literal.number(amount), unit=exp.var(unit.upper())),
        )

    def trunc(self, local, unit):
        part = exp.var("ISOWEEK") if unit == "week" else exp.var(unit.upper())
        return _fn("DATETIME_TRUNC", local, part)

    def epoch_us(self, ts):
        return _fn("UNIX_MICROS", ts)

    def isodow(self, local):
        return _sunday_first_to_iso(exp.Extract(this=exp.var("DAYOFWEEK"), expression=local))


class Snowflake(Dialect):
    minmax_boolean = False

    def now(self):
        return exp.cast(
            _fn("CONVERT_TIMEZONE", _lit("UTC"), exp.CurrentTimestamp()),
            exp.DataType.build("TIMESTAMPNTZ"),
        )

    def instant_type(self):
        return exp.DataType.build("TIMESTAMPNTZ")

    def local_type(self):
        return exp.DataType.build("TIMESTAMPNTZ")

    def from_timestamptz(self, col):
        return exp.cast(
            _fn("CONVERT_TIMEZONE", _lit("UTC"), col), exp.DataType.build("TIMESTAMPNTZ")
        )

    def to_local(self, ts, tz):
        return ts if tz == "UTC" else _fn("CONVERT_TIMEZONE", _lit("UTC"), _lit(tz), ts)

    def from_local(self, local, tz):
        return local if tz == "UTC" else _fn("CONVERT_TIMEZONE", _lit(tz), _lit("UTC"), local)

    def shift(self, ts, amount, unit):
        return _fn("DATEADD", exp.var(unit.upper()), exp.Literal.number(amount), ts)

    def trunc(self, local, unit):
        # WEEK_START defaults to Monday (ISO) in Snowflake
        return _fn("DATE_TRUNC", _lit(unit.upper()), local)

    def epoch_us(self, ts):
        return _fn("DATE_PART", exp.var("EPOCH_MICROSECOND"), ts)

    def int_div(self, x, d):
        # sqlglot prints TRUNC(x / d), and x / d keeps only 6 decimals: (x - x % d) / d
        # is a multiple of d divided by d, exact at any scale
        x = exp.paren(x, copy=False)
        whole = exp.Sub(this=x, expression=exp.Mod(this=x.copy(), expression=d.copy()))
        quotient = exp.Div(this=exp.paren(whole, copy=False), expression=d)
        return exp.cast(quotient, exp.DataType.build("BIGINT"))

    def isodow(self, local):
        return _fn("DAYOFWEEKISO", local)

    def hex_to_int(self, digits):
        # MD5 gives lowercase digits; the X format element is documented with
        # uppercase ones, so the digits are made uppercase (unrun: no engine here)
        return _fn("TO_NUMBER", exp.Upper(this=digits), _lit("XXXXXXXX"))

    def sha256_hex(self, text):
        return _fn("SHA2", text, exp.Literal.number(256))


class Spark(Dialect):
    like_backslash_escapes = True

    # no transactions (segql run commits by its runs row, docs/run.md); a run
    # script would also need DELETE, which Spark's Parquet tables lack: use segql run
    def begin(self):
        return None

    def commit(self):
        return None

    # Spark TIMESTAMPs are read in the session time zone, which must be UTC.
    def now(self):
        return exp.CurrentTimestamp()

    def from_timestamptz(self, col):
        return col

    def to_local(self, ts, tz):
        return ts if tz == "UTC" else _fn("FROM_UTC_TIMESTAMP", ts, _lit(tz))

    def from_local(self, local, tz):
        return local if tz == "UTC" else _fn("TO_UTC_TIMESTAMP", local, _lit(tz))

    def trunc(self, local, unit):
        return _fn("DATE_TRUNC", _lit(unit.upper()), local)

    def epoch_us(self, ts):
        return _fn("UNIX_MICROS", ts)

    def isodow(self, local):
        return _sunday_first_to_iso(_fn("DAYOFWEEK", local))

    def hex_to_int(self, digits):
        base10 = _fn("CONV", digits, exp.Literal.number(16), exp.Literal.number(10))
        return exp.cast(base10, exp.DataType.build("BIGINT"))

    def sha256_hex(self, text):
        return _fn("SHA2", text, exp.Literal.number(256))

    def temp_table(self, name, query):
        # no temporary tables: a cached temporary view, computed once (eager)
        return [
            _drop(name, "VIEW"),
            exp.Cache(this=name, lazy=False, expression=query),
        ]

    def drop_temp_table(self, name):
        return _drop(name, "VIEW")

    def replace_table(self, name, query):
        # CREATE OR REPLACE TABLE … AS needs a v2 catalog (Delta); Spark has no
        # transactions, so a reader may see no table between the drop and the rename
        return _swap(name, query, self._table_format(), qualified=True)

    def _table_format(self):
        return exp.Properties(expressions=[exp.FileFormatProperty(this=exp.Var(this="PARQUET"))])

    def create_state_table(self, name, columns):
        # partitioned by run: a run's rows are dropped (a failed or replaced run,
        # an old membership) by dropping its partition, the only delete Spark's
        # Parquet tables have
        by_run = exp.PartitionedByProperty(
            this=exp.Schema(expressions=[exp.to_identifier("run_id", quoted=True)])
        )
        props = exp.Properties(expressions=[*self._table_format().expressions, by_run])
        return _create_if_missing(name, columns, props)

    def delete_runs(self, name, run_ids):
        return [
            exp.Alter(
                this=name.copy(),
                kind="TABLE",
                actions=[exp.DropPartition(expressions=[_run_partition(r)], exists=True)],
            )
            for r in run_ids
        ]

    def clear_run(self, name, run_id):
        # A run killed after its files reached the partition's folder but before
        # the partition was registered leaves files no query sees, which an
        # INSERT INTO the same run_id would adopt: register, then drop (which
        # deletes the folder of a managed table).
        add = exp.AddPartition(this=_run_partition(run_id), exists=True)
        return [
            exp.Alter(this=name.copy(), kind="TABLE", actions=[add]),
            *self.delete_runs(name, [run_id]),
        ]

    def hour(self, local):
        return _fn("HOUR", local)

    def date_part(self, unit, local):
        return _fn(unit.upper(), local)


class Trino(Dialect):
    temporary_tables = False

    def temp_table(self, name, query):
        return [_drop(name), exp.Create(this=name, kind="TABLE", expression=query)]

    def fail(self, message):
        return _fn("FAIL", message)

    # Trino's connectors that write (Iceberg, Delta Lake, Hive) accept writes only in
    # autocommit mode: a script has no transaction; its `runs` row commits it
    def begin(self):
        return None

    def commit(self):
        return None

    def now(self):
        return exp.cast(
            _fn("AT_TIMEZONE", exp.CurrentTimestamp(), _lit("UTC")), exp.DataType.build("TIMESTAMP")
        )

    def from_timestamptz(self, col):
        return exp.cast(_fn("AT_TIMEZONE", col, _lit("UTC")), exp.DataType.build("TIMESTAMP"))

    def to_local(self, ts, tz):
        if tz == "UTC":
            return ts
        zoned = _fn("AT_TIMEZONE", _fn("WITH_TIMEZONE", ts, _lit("UTC")), _lit(tz))
        return exp.cast(zoned, exp.DataType.build("TIMESTAMP"))

    def from_local(self, local, tz):
        if tz == "UTC":
            return local
        zoned = _fn("AT_TIMEZONE", _fn("WITH_TIMEZONE", local, _lit(tz)), _lit("UTC"))
        return exp.cast(zoned, exp.DataType.build("TIMESTAMP"))

    def shift(self, ts, amount, unit):
        return _fn("DATE_ADD", _lit(unit), exp.Literal.number(amount), ts)

    def trunc(self, local, unit):
        return _fn("DATE_TRUNC", _lit(unit), local)

    def epoch_us(self, ts):
        # to_unixtime is seconds as a double: exact to the microsecond for this era
        return exp.cast(
            _fn(
                "ROUND",
                exp.Mul(this=_fn("TO_UNIXTIME", ts), expression=exp.Literal.number(1000000)),
            ),
            exp.DataType.build("BIGINT"),
        )

    def int_div(self, x, d):
        # bigint / bigint divides integers; sqlglot's IntDiv goes through DOUBLE
        return exp.Div(this=exp.paren(x, copy=False), expression=d, typed=True)

    def isodow(self, local):
        return _fn("DAY_OF_WEEK", local)

    def hex_to_int(self, digits):
        return _fn("FROM_BASE", digits, exp.Literal.number(16))

    def sha256_hex(self, text):
        return _fn("LOWER", _fn("TO_HEX", _fn("SHA256", _fn("TO_UTF8", text))))


_COMMON_LACKS = ("NTILE", "FILTER (WHERE", "PERCENTILE_APPROX", "APPROX_")

DIALECTS: dict[str, Dialect] = {
    "duckdb": DuckDB("duckdb", "duckdb", "tested", _COMMON_LACKS),
    "postgres": Postgres("postgres", "postgres", "tested", _COMMON_LACKS),
    "bigquery": BigQuery(
        "bigquery", "bigquery", "generated", (*_COMMON_LACKS, "RANGE BETWEEN INTERVAL")
    ),
    "snowflake": Snowflake(
        "snowflake", "snowflake", "generated", (*_COMMON_LACKS, "RANGE BETWEEN INTERVAL")
    ),
    "spark": Spark("spark", "spark", "generated", _COMMON_LACKS),
    "databricks": Spark("databricks", "databricks", "generated", _COMMON_LACKS),
    "trino": Trino("trino", "trino", "generated", _COMMON_LACKS),
}


def get_dialect(name: str) -> Dialect:
    """The dialect called `name`; an unknown one is a usage error."""
    from segql.errors import did_you_mean

    if name not in DIALECTS:
        hint = did_you_mean(name, DIALECTS)
        msg = f"unknown dialect '{name}'" + (f" ({hint})" if hint else "")
        raise SegqlError(msg, None, ("dialects are " + ", ".join(DIALECTS),), usage=True)
    return DIALECTS[name]
