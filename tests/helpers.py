"""Table-driven language tests: compile a definition, run it on DuckDB over a few
hand-made rows, compare the members with hand-computed ones.

    check("count(orders) >= 2", {"orders": [...]}, {1, 3}, as_of="2024-05-01T12:00:00")

- `seg_source` is the text of one `.seg` file, or a dict file name → text (for
  definitions spread over several files). A text that starts with no
  definition keyword is a bare condition: `segment tested = <text>`.
- `data` maps a table (`customers`, `orders`, `events`) to its rows: a list of
  dicts whose columns take their types from `COLUMN_TYPES`, or `table("col TYPE,
  …", row, …)` with explicit types. Tables not given exist and are empty.
- The project (written to a temporary folder) has entity `customer`, key
  `customer_id`, profiles `customers`, sources `orders` (time `ordered_at`) and
  `events` (time `occurred_at`), and `timezone`; `project_extra` adds or
  replaces settings (a value of None removes one: `{"profiles": None}`).
- `as_of` is a string read as `--as-of` reads it (project time zone unless it
  carries an offset) or a naive UTC datetime.
- Output: `segment` names the segment or segmentation to compile (default: the
  last one in the text). A segment gives the set of member keys; a
  segmentation gives a dict key → label (None when no rule applies).

`check` asserts and returns the compiled SQL; `members` returns (result, SQL).
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import os
import re
import shutil
import tempfile
from ast import literal_eval as ast_literal_eval
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from segql import api
from segql.syntax import ast

# column name → DuckDB type, for tables given as plain lists of dicts
COLUMN_TYPES: dict[str, str] = {
    "customer_id": "INTEGER",
    "ordered_at": "TIMESTAMP",
    "occurred_at": "TIMESTAMP",
    "amount": "DOUBLE",
    "quantity": "INTEGER",
    "status": "VARCHAR",
    "sku": "VARCHAR",
    "name": "VARCHAR",
    "kind": "VARCHAR",
    "duration_s": "DOUBLE",
    "country": "VARCHAR",
    "email": "VARCHAR",
    "age": "INTEGER",
    "score": "DOUBLE",
    "consent": "BOOLEAN",
    "is_test": "BOOLEAN",
    "signup_date": "DATE",
    "signed_up_at": "TIMESTAMP",
    "plan": "VARCHAR",
}

# the columns every table has even when empty
BASE_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"customer_id": "INTEGER"},
    "orders": {"customer_id": "INTEGER", "ordered_at": "TIMESTAMP", "amount": "DOUBLE"},
    "events": {"customer_id": "INTEGER", "occurred_at": "TIMESTAMP", "name": "VARCHAR"},
}

SHORTHAND = "tested"  # the segment a bare condition defines
_DEFINITION = re.compile(r"^\s*(trait|segment|segmentation|split)\s", re.M)
_OUTPUT = re.compile(r"^\s*(?:segment|segmentation|split)\s+(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)", re.M)


@dataclass(frozen=True)
class Table:
    """Rows with explicit column types: `table("customer_id INTEGER, t TIMESTAMPTZ", (1, "…"))`."""

    columns: dict[str, str]
    rows: tuple[tuple[Any, ...], ...]


def table(columns: str, *rows: tuple | dict) -> Table:
    cols: dict[str, str] = {}
    for part in _split_columns(columns):
        part = part.strip()
        if part.startswith('"'):  # a quoted name: "first name" VARCHAR
            end = part.index('"', 1)
            name, typ = part[1:end], part[end + 1 :]
        else:
            name, _, typ = part.partition(" ")
        cols[name] = typ.strip()
    names = list(cols)
    tuples = tuple(
        tuple(r[c] if c in r else None for c in names) if isinstance(r, dict) else tuple(r)
        for r in rows
    )
    for r in tuples:
        assert len(r) == len(names), f"row {r} does not match columns {names}"
    return Table(cols, tuples)


def _split_columns(text: str) -> list[str]:
    """Split 'a INTEGER, b DECIMAL(10, 2)' on the commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p for p in [*parts, cur] if p.strip()]


def _as_table(name: str, spec: Table | list[dict]) -> Table:
    if isinstance(spec, Table):
        return spec
    cols = dict(BASE_COLUMNS.get(name, {}))
    for row in spec:
        for c in row:
            if c not in cols:
                assert c in COLUMN_TYPES, f"column '{c}' has no type: use table('{c} TYPE, …', …)"
                cols[c] = COLUMN_TYPES[c]
    names = list(cols)
    return Table(cols, tuple(tuple(r.get(c) for c in names) for r in spec))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_DATABASES: dict[str, duckdb.DuckDBPyConnection] = {}


def database(data: dict[str, Table | list[dict]]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the three tables (empty unless given) and any others.

    Compiled queries only read, so one database serves every test of the same data."""
    key = repr(sorted((name, _as_table(name, spec)) for name, spec in data.items()))
    if key not in _DATABASES:
        if len(_DATABASES) >= 32:
            _DATABASES.pop(next(iter(_DATABASES))).close()
        _DATABASES[key] = _create(data)
    return _DATABASES[key]


def _create(data: dict[str, Table | list[dict]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 1")  # a few rows: threads only add overhead
    specs = {name: _as_table(name, []) for name in BASE_COLUMNS}
    specs.update({name: _as_table(name, spec) for name, spec in data.items()})
    for name, t in specs.items():
        cols = ", ".join(f"{_quote(c)} {typ}" for c, typ in t.columns.items())
        con.execute(f"CREATE TABLE {_quote(name)} ({cols})")
        if t.rows:
            marks = ", ".join("?" for _ in t.columns)
            con.executemany(
                f"INSERT INTO {_quote(name)} VALUES ({marks})", [list(r) for r in t.rows]
            )
    return con


def project_settings(timezone: str = "UTC", extra: dict | None = None) -> dict:
    settings: dict[str, Any] = {
        "entity": "customer",
        "key": "customer_id",
        "profiles": "customers",
        "sources": {
            "orders": {"table": "orders", "time": "ordered_at"},
            "events": {"table": "events", "time": "occurred_at"},
        },
        "timezone": timezone,
    }
    for k, v in (extra or {}).items():
        if v is None:
            settings.pop(k, None)
        else:
            settings[k] = v
    return settings


_WORKDIR: list[Path] = []


def _workdir(files: dict[str, str]) -> Path:
    """One project folder per process, reused (creating and removing a folder per
    test is slow on some file systems); definition files of an earlier test are
    removed, since every file under the project root is loaded."""
    if not _WORKDIR:
        shm = Path("/dev/shm")  # memory-backed where there is one: writes cost ~nothing
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        root = Path(tempfile.mkdtemp(prefix="segql-lang-", dir=base))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _WORKDIR.append(root)
    root = _WORKDIR[0]
    for old in root.iterdir():
        if old.is_dir():  # clusters/ of fit files: written again when given
            shutil.rmtree(old)
        elif old.name != "segql.yml" and old.name not in files:
            old.unlink()
    return root


@functools.cache
def _project_text(timezone: str, extra: str) -> str:
    settings = project_settings(timezone, ast_literal_eval(extra))
    return yaml.safe_dump(settings, sort_keys=False)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # clusters/<name>.json
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def _files(seg_source: str | dict[str, str]) -> dict[str, str]:
    if isinstance(seg_source, dict):
        return seg_source
    if not _DEFINITION.search(seg_source):
        seg_source = f"segment {SHORTHAND} = {seg_source}"
    return {"defs.seg": seg_source}


def compile_sql(
    seg_source: str | dict[str, str],
    data: dict[str, Table | list[dict]],
    *,
    as_of: str | dt.datetime,
    segment: str | None = None,
    project_extra: dict | None = None,
    timezone: str = "UTC",
    dialect: str = "duckdb",
) -> tuple[str, str, duckdb.DuckDBPyConnection]:
    """(SQL, kind of output 'segment'|'segmentation', the loaded connection)."""
    files = _files(seg_source)
    if segment is None:
        names = [m for text in files.values() for m in _OUTPUT.findall(text)]
        assert names, "no segment or segmentation to compile"
        segment = names[-1].strip("`")
    con = database(data)
    root = _workdir(files)
    yml = root / "segql.yml"
    _write(yml, _project_text(timezone, repr(project_extra)))
    paths = []
    for name, text in files.items():
        _write(root / name, text)
        if not name.endswith(".json"):  # a fit file is no definitions file
            paths.append(str(root / name))
    model = api.load(paths, project=str(yml), con=con)
    when = api.parse_as_of(as_of, model.project.timezone) if isinstance(as_of, str) else as_of
    d = model.definitions.get(segment)
    # a split labels entities as a segmentation does (--segmentation takes both)
    kind = "segmentation" if isinstance(d, ast.Segmentation | ast.Split) else "segment"
    sql = api.compile_model(
        model,
        dialect,
        when,
        segment=segment if kind == "segment" else None,
        segmentation=segment if kind == "segmentation" else None,
    ).sql()
    return sql, kind, con


def members(seg_source, data, *, as_of, segment=None, project_extra=None, timezone="UTC"):
    """(members, SQL): a set of keys for a segment, a dict key → label for a segmentation."""
    sql, kind, con = compile_sql(
        seg_source,
        data,
        as_of=as_of,
        segment=segment,
        project_extra=project_extra,
        timezone=timezone,
    )
    rows = con.execute(sql).fetchall()
    if os.environ.get("SEGQL_ALSO_BIGQUERY", "") == "1":
        _same_on_bigquery(
            rows, con, seg_source, data, as_of, segment, project_extra, timezone, kind
        )
    if kind == "segment":
        keys = [r[0] for r in rows]
        assert len(keys) == len(set(keys)), f"a member appears twice: {keys}"
        return set(keys), sql
    labels = dict(rows)
    assert len(labels) == len(rows), f"an entity has two labels: {rows}"
    return labels, sql


_BIGQUERY: list[Any] = []


def _same_on_bigquery(rows, con, seg_source, data, as_of, segment, extra, timezone, kind) -> None:
    """SEGQL_ALSO_BIGQUERY=1: every hand-written case also runs its BigQuery SQL on the
    ZetaSQL reference implementation (tests/engines/bigquery.py, one server for the
    run) and must give DuckDB's answer. Off by default (CI runs the engine's own tests)."""
    from engines.bigquery import BigQueryServer, load_from_duckdb

    if not _BIGQUERY:
        server = BigQueryServer().__enter__()
        atexit.register(server.__exit__, None, None, None)
        _BIGQUERY.append(server)
    server = _BIGQUERY[0]
    bq_sql, _, _ = compile_sql(
        seg_source,
        data,
        as_of=as_of,
        segment=segment,
        project_extra=extra,
        timezone=timezone,
        dialect="bigquery",
    )
    load_from_duckdb(con, server, [r[0] for r in con.execute("SHOW TABLES").fetchall()])
    _, got = server.run(bq_sql)
    if kind == "segment":
        assert {r[0] for r in got} == {r[0] for r in rows}, f"BigQuery differs:\n{bq_sql}"
    else:
        assert dict(got) == dict(rows), f"BigQuery differs:\n{bq_sql}"


def check(
    seg_source, data, expected_members, *, as_of, segment=None, project_extra=None, timezone="UTC"
) -> str:
    """Assert the members (set) or labels (dict) equal the expected ones; returns the SQL."""
    got, sql = members(
        seg_source,
        data,
        as_of=as_of,
        segment=segment,
        project_extra=project_extra,
        timezone=timezone,
    )
    if isinstance(expected_members, dict):
        assert got == expected_members, f"\n{sql}"
    else:
        assert got == set(expected_members), f"\n{sql}"
    return sql


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "segments"


def copy_examples(root: Path, definitions: str = ".", tests: bool = False) -> Path:
    """The example project in `root`: segql.yml, schema.yml and the fit files
    (clusters/) there, the definition files in root/`definitions`, and with
    `tests` the unit tests (tests/)."""
    into = root / definitions
    into.mkdir(parents=True, exist_ok=True)
    for f in EXAMPLES.iterdir():
        if f.is_file():
            beside = f.name in ("segql.yml", "schema.yml") or f.suffix not in (".seg", ".yml")
            shutil.copy(f, (root if beside else into) / f.name)
    shutil.copytree(EXAMPLES / "clusters", root / "clusters")
    if tests:
        shutil.copytree(EXAMPLES / "tests", root / "tests")
    return root
