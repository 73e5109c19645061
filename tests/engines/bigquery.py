"""BigQuery's SQL executed on the ZetaSQL reference implementation, for tests.

ZetaSQL is the analyzer and reference evaluator of GoogleSQL, BigQuery's SQL
dialect. The npm package `@fivetrandevelopers/zetasql` ships ZetaSQL's
`remote_server` (a gRPC "local service") for Linux x86-64 with its .proto
files. This module

- fetches the package with `npm pack` into a cache directory (tests/.cache/
  zetasql/VERSION, gitignored; SEGQL_ZETASQL_CACHE moves tests/.cache/zetasql)
  and unpacks the Linux server and the protos there;
- compiles the .proto files with grpcio-tools into the same cache (a folder per
  grpcio-tools version: the generated code must match the protobuf runtime);
- starts `remote_server.so HOST PORT` on a free local port (one server per
  test session, stopped at the end: `BigQueryServer` is a context manager);
- evaluates a query with `EvaluateQuery` over in-memory tables: a
  `SimpleCatalogProto` of typed tables, `table_content` rows, the language
  options of `GetLanguageOptions(maximum_features=true)` in PRODUCT_EXTERNAL
  mode and the default time zone UTC (BigQuery's; ZetaSQL's own default is
  America/Los_Angeles);
- converts the answer back to Python values (int, str, bool, float,
  Decimal, datetime.date, naive UTC datetime.datetime).

Column types are given as DuckDB types (as in tests/oracle/gen.py COLUMNS) and
mapped to INT64, STRING, BOOL, FLOAT64, NUMERIC, TIMESTAMP and DATE.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

PACKAGE = "@fivetrandevelopers/zetasql"
VERSION = "1.13.0"
ROOT = Path(__file__).resolve().parents[1]  # tests/
CACHE = Path(os.environ.get("SEGQL_ZETASQL_CACHE", ROOT / ".cache" / "zetasql")) / VERSION
# our side accepts large messages; the server keeps gRPC's default limit of 4 MB for
# what it receives, i.e. a query with all its tables (docs/testing.md)
MAX_MESSAGE = 256 * 1024 * 1024
SERVER_MAX_MESSAGE = 4 * 1024 * 1024

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
_NANO = Decimal(10) ** 9


class BigQueryError(RuntimeError):
    """An error reported by the ZetaSQL server (analysis or evaluation)."""


def available() -> str | None:
    """None when the ZetaSQL server can be prepared here, else the reason."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        here = f"{sys.platform} {platform.machine()}"
        return f"the packaged ZetaSQL server is Linux x86-64 only (here {here})"
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError:
        return "grpcio / grpcio-tools are not installed (the dev extra)"
    if not (CACHE / "package" / "lib" / "zetasql" / "remote_server.so").exists():
        if shutil.which("npm") is None:
            return "npm is not on PATH (needed once to fetch the ZetaSQL server)"
    return None


# ------------------------------------------------------------------ preparing


def _server_dir() -> Path:
    return CACHE / "package" / "lib" / "zetasql"


def prepare() -> Path:
    """Fetch and unpack the npm package and compile the protos (once; cached)."""
    binary = _server_dir() / "remote_server.so"
    if not binary.exists():
        if shutil.which("npm") is None:
            raise RuntimeError(f"npm is not on PATH: cannot fetch {PACKAGE} into {CACHE}")
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            done = subprocess.run(
                ["npm", "pack", "--silent", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp],
                capture_output=True,
                text=True,
                cwd=tmp,
            )
            if done.returncode != 0:
                raise RuntimeError(f"npm pack {PACKAGE}@{VERSION} failed: {done.stderr.strip()}")
            (tgz,) = Path(tmp).glob("*.tgz")
            with tarfile.open(tgz) as tar:
                # only the Linux x86-64 server and the protos (the rest is ~170 MB)
                members = [
                    m
                    for m in tar.getmembers()
                    if m.name.startswith("package/lib/zetasql/protos/")
                    or m.name == "package/lib/zetasql/remote_server.so"
                ]
                tar.extractall(tmp, members=members, filter="data")
            shutil.rmtree(CACHE / "package", ignore_errors=True)
            os.replace(Path(tmp) / "package", CACHE / "package")
        binary.chmod(0o755)
    gen = _gen_dir()
    if not (gen / "local_service_pb2_grpc.py").exists():
        _compile_protos(gen)
    return binary


def _gen_dir() -> Path:
    from importlib.metadata import version

    return CACHE / f"gen-grpcio-tools-{version('grpcio-tools')}"


def _compile_protos(gen: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    protos = _server_dir() / "protos"
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    files = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    rc = protoc.main(
        [
            "protoc",
            f"-I{protos}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
            *files,
        ]
    )
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"protoc failed ({rc}) on {protos}")
    shutil.rmtree(gen, ignore_errors=True)
    os.replace(tmp, gen)


def _modules():
    """The generated modules (local_service_pb2, its grpc stub, value and type pb2)."""
    gen = str(_gen_dir())
    if gen not in sys.path:
        sys.path.insert(0, gen)
    names = (
        "local_service_pb2",
        "local_service_pb2_grpc",
        "zetasql.public.value_pb2",
        "zetasql.public.type_pb2",
        "zetasql.public.options_pb2",
        "zetasql.public.simple_table_pb2",
        "zetasql.proto.simple_catalog_pb2",
        "zetasql.proto.options_pb2",
    )
    return [importlib.import_module(n) for n in names]


# ------------------------------------------------------------------ values


def encode_numeric(value: Decimal | int) -> bytes:
    """NUMERIC as ZetaSQL's proto bytes: the value × 10^9 as a little-endian
    two's-complement integer in as few bytes as hold it (NumericValue::
    SerializeAsProtoBytes)."""
    scaled = Decimal(value) * _NANO
    if scaled != scaled.to_integral_value():
        raise ValueError(f"NUMERIC has 9 decimal places: {value}")
    n = int(scaled)
    length = max(1, (n.bit_length() + 8) // 8)
    return n.to_bytes(length, "little", signed=True)


def decode_numeric(data: bytes) -> Decimal:
    return Decimal(int.from_bytes(data, "little", signed=True)) / _NANO


_KINDS = {
    "INTEGER": "TYPE_INT64",
    "BIGINT": "TYPE_INT64",
    "VARCHAR": "TYPE_STRING",
    "BOOLEAN": "TYPE_BOOL",
    "DOUBLE": "TYPE_DOUBLE",
    "TIMESTAMP": "TYPE_TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TYPE_TIMESTAMP",  # BigQuery's TIMESTAMP is an instant
    "DATE": "TYPE_DATE",
}


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return "TYPE_NUMERIC"
    return _KINDS[t]


def _to_proto(value: Any, kind: str, value_pb2) -> Any:
    v = value_pb2.ValueProto()
    if value is None:
        return v  # no field set: NULL of the column's type
    if kind == "TYPE_INT64":
        v.int64_value = int(value)
    elif kind == "TYPE_STRING":
        v.string_value = value
    elif kind == "TYPE_BOOL":
        v.bool_value = bool(value)
    elif kind == "TYPE_DOUBLE":
        v.double_value = float(value)
    elif kind == "TYPE_NUMERIC":
        v.numeric_value = encode_numeric(value)
    elif kind == "TYPE_TIMESTAMP":
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        delta = value - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        v.timestamp_value.seconds = micros // 1_000_000
        v.timestamp_value.nanos = (micros % 1_000_000) * 1000
    elif kind == "TYPE_DATE":
        v.date_value = (value - _EPOCH_DATE).days
    else:
        raise ValueError(kind)
    return v


def _from_proto(v: Any, kind: int, type_pb2) -> Any:
    field = v.WhichOneof("value")
    if field is None:
        return None
    if field == "int64_value":
        return v.int64_value
    if field == "string_value":
        return v.string_value
    if field == "bool_value":
        return v.bool_value
    if field == "double_value":
        return v.double_value
    if field == "numeric_value":
        return decode_numeric(v.numeric_value)
    if field == "timestamp_value":
        ts = v.timestamp_value
        return _EPOCH + dt.timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)
    if field == "date_value":
        return _EPOCH_DATE + dt.timedelta(days=v.date_value)
    if field == "int32_value":
        return v.int32_value
    if field == "uint64_value":
        return v.uint64_value
    raise ValueError(f"unsupported result value {field} ({type_pb2.TypeKind.Name(kind)})")


# ------------------------------------------------------------------ server


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies (Linux
    PR_SET_PDEATHSIG), so that a killed pytest leaves no server behind."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BigQueryServer:
    """A private ZetaSQL remote_server, started on enter and stopped on exit.

    `load(table, columns, rows)` registers a table (columns as (name, DuckDB
    type) pairs, rows as dicts); `run(sql)` evaluates a query over the loaded
    tables and returns (column names, rows of Python values)."""

    def __init__(self, default_timezone: str | None = None) -> None:
        # BigQuery's default time zone is UTC unless a project, an organization or a
        # session sets another; SEGQL_BIGQUERY_TIMEZONE runs a whole session in another
        self.default_timezone = default_timezone or os.environ.get("SEGQL_BIGQUERY_TIMEZONE", "UTC")
        self.proc: subprocess.Popen | None = None
        self.tables: dict[str, tuple[list[tuple[str, str]], list[Any]]] = {}
        self.log = b""

    def __enter__(self) -> BigQueryServer:
        binary = prepare()
        (
            self._ls,
            self._grpc_mod,
            self._value,
            self._type,
            _opts,
            self._table,
            self._catalog,
            self._options,
        ) = _modules()
        import grpc

        port = _free_port()
        self.logfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(binary), "127.0.0.1", str(port)],
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.max_receive_message_length", MAX_MESSAGE),
            ],
        )
        try:
            grpc.channel_ready_future(self.channel).result(timeout=60)
        except grpc.FutureTimeoutError:
            self.__exit__(None, None, None)
            raise RuntimeError("the ZetaSQL server did not start within 60 s") from None
        self.stub = self._grpc_mod.ZetaSqlLocalServiceStub(self.channel)
        lang = self.stub.GetLanguageOptions(self._ls.LanguageOptionsRequest(maximum_features=True))
        lang.product_mode = _opts.PRODUCT_EXTERNAL
        self.language = lang
        return self

    def __exit__(self, *exc: object) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
            self.channel = None
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    # -------------------------------------------------------------- tables

    def load(self, table: str, columns: list[tuple[str, str]], rows: list[dict]) -> None:
        kinds = [(name, _kind(t)) for name, t in columns]
        data = self._ls.TableData()
        for r in rows:
            row = data.row.add()
            for name, kind in kinds:
                row.cell.append(_to_proto(r.get(name), kind, self._value))
        self.tables[table] = (kinds, data)

    def clear(self) -> None:
        self.tables.clear()

    def _catalog_proto(self):
        cat = self._catalog.SimpleCatalogProto(name="segql")
        cat.builtin_function_options.language_options.CopyFrom(self.language)
        for name, (kinds, _) in self.tables.items():
            t = cat.table.add(name=name)
            for col, kind in kinds:
                c = t.column.add(name=col)
                c.type.type_kind = self._type.TypeKind.Value(kind)
        return cat

    def run(self, sql: str) -> tuple[list[str], list[tuple]]:
        import grpc

        req = self._ls.EvaluateQueryRequest(sql=sql)
        req.options.language_options.CopyFrom(self.language)
        req.options.default_timezone = self.default_timezone
        req.simple_catalog.CopyFrom(self._catalog_proto())
        for name, (_, data) in self.tables.items():
            req.table_content[name].table_data.CopyFrom(data)
        if req.ByteSize() > SERVER_MAX_MESSAGE:
            raise BigQueryError(
                f"the query with its tables is {req.ByteSize()} bytes: more than the ZetaSQL "
                f"server accepts ({SERVER_MAX_MESSAGE}); use less data"
            )
        try:
            resp = self.stub.EvaluateQuery(req)
        except grpc.RpcError as e:
            raise BigQueryError(f"{e.code().name}: {e.details()}") from None
        columns = resp.prepared.columns
        names = [c.name for c in columns]
        kinds = [c.type.type_kind for c in columns]
        rows = [
            tuple(_from_proto(v, k, self._type) for v, k in zip(r.cell, kinds, strict=True))
            for r in resp.content.table_data.row
        ]
        return names, rows


def load_from_duckdb(duck, server: BigQueryServer, tables) -> None:
    """Load DuckDB tables into the server (replacing what it held), keeping types."""
    server.clear()
    for table in tables:
        columns = [(name, typ) for name, typ, *_ in duck.execute(f'DESCRIBE "{table}"').fetchall()]
        cur = duck.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cur.description]
        server.load(table, columns, [dict(zip(names, r, strict=True)) for r in cur.fetchall()])
