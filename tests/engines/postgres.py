"""Throw-away PostgreSQL server for tests, and a DuckDB -> PostgreSQL table loader.

Usage::

    from engines.postgres import PostgresServer, available, load_from_duckdb

    if (reason := available()) is not None:
        pytest.skip(reason)
    with PostgresServer() as pg:
        with pg.connect() as conn:
            load_from_duckdb(duck_con, conn, ["customers", "order"])
            conn.execute("SELECT count(*) FROM customers")

The server lives in a fresh temporary directory (data directory + unix socket, no TCP
listener), runs with durability switched off (fsync, synchronous_commit,
full_page_writes) and TimeZone=UTC, and is thrown away by ``stop()``.

PostgreSQL refuses to run as root: when the tests run as root, initdb/postgres/pg_ctl
are run as the ``postgres`` OS user and the temporary directory is created under /tmp
and chown'ed to that user. The switch is done by ``subprocess`` itself (``user=``,
``group=``, ``extra_groups=``, i.e. setuid in the child before exec) rather than through
``runuser``/``su``: that way the process we hold *is* the postmaster, so it can always be
signalled directly and never outlives us as the orphan of a killed wrapper.
"""

from __future__ import annotations

import atexit
import datetime as dt
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

__all__ = ["PostgresServer", "PostgresStartError", "available", "find_bindir", "load_from_duckdb"]

PG_OS_USER = "postgres"  # OS account used when running as root
SUPERUSER = "postgres"  # database superuser created by initdb
DATABASE = "postgres"
PORT = 5432  # only names the socket file (.s.PGSQL.5432); there is no TCP listener

_REQUIRED_BINARIES = ("initdb", "postgres", "pg_ctl")


class PostgresStartError(RuntimeError):
    """The server could not be initialised or did not come up in time."""


# --------------------------------------------------------------------------- discovery


def _version_key(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); /usr/lib/postgresql/9.6/bin -> (9, 6)
    name = Path(path).parent.name
    return tuple(int(p) for p in re.findall(r"\d+", name)) or (0,)


def _has_binaries(bindir: str | Path) -> bool:
    return all(os.access(Path(bindir) / b, os.X_OK) for b in _REQUIRED_BINARIES)


def find_bindir() -> Path | None:
    """Directory holding initdb/postgres/pg_ctl: newest /usr/lib/postgresql/*/bin, else
    ``pg_config --bindir`` (on Debian that is the client-only /usr/bin, hence the check)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if _has_binaries(candidate):
            return Path(candidate)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_binaries(out):
            return Path(out)
    return None


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _user_kwargs() -> dict[str, Any]:
    """subprocess kwargs that run the child as PG_OS_USER when we are root (else none)."""
    if not _running_as_root():
        return {}
    pw = pwd.getpwnam(PG_OS_USER)
    return {
        "user": pw.pw_uid,
        "group": pw.pw_gid,
        "extra_groups": os.getgrouplist(pw.pw_name, pw.pw_gid),  # drop root's groups
    }


def available() -> str | None:
    """None if a server can be started here, else a human-readable reason why not."""
    if find_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found in "
            "/usr/lib/postgresql/*/bin or `pg_config --bindir`; install the `postgresql` package"
        )
    if _running_as_root():
        try:
            pwd.getpwnam(PG_OS_USER)
        except KeyError:
            return f"running as root and there is no {PG_OS_USER!r} OS user to run PostgreSQL as"
    return None


# --------------------------------------------------------------------------- the server

_LIVE_SERVERS: set[PostgresServer] = set()


@atexit.register
def _stop_leftover_servers() -> None:
    # Safety net: never leave a postmaster behind if a test session forgot stop().
    for server in list(_LIVE_SERVERS):
        try:
            server.stop()
        except Exception:  # best effort at interpreter exit
            pass


class PostgresServer:
    """A private PostgreSQL server in a temp dir, reachable only via its unix socket."""

    def __init__(
        self,
        bindir: str | Path | None = None,
        *,
        start_timeout: float = 30.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        """``bindir``: where initdb/postgres/pg_ctl live (default: ``find_bindir()``);
        ``settings``: extra/overriding ``postgres -c name=value`` server settings."""
        self._bindir = Path(bindir) if bindir is not None else None
        self.start_timeout = start_timeout
        self.extra_settings = dict(settings or {})
        self.base_dir: Path | None = None  # temp dir; also the unix socket directory
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self.startup_seconds: float | None = None

    # -- paths -----------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._require_started().joinpath("data")

    @property
    def socket_dir(self) -> Path:
        return self._require_started()

    @property
    def log_path(self) -> Path:
        return self._require_started().joinpath("postgres.log")

    @property
    def conninfo(self) -> str:
        """libpq connection string for the superuser on database ``postgres``."""
        return make_conninfo(host=str(self.socket_dir), port=PORT, dbname=DATABASE, user=SUPERUSER)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _require_started(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("PostgresServer is not started")
        return self.base_dir

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> PostgresServer:
        if self.base_dir is not None:
            raise RuntimeError("PostgresServer already started")
        reason = available()
        if self._bindir is not None and not _has_binaries(self._bindir):
            reason = f"{self._bindir} does not contain {', '.join(_REQUIRED_BINARIES)}"
        if reason is not None:
            raise PostgresStartError(reason)
        bindir = self._bindir or find_bindir()
        assert bindir is not None

        t0 = time.monotonic()
        as_root = _running_as_root()
        # /tmp (mode 1777) is traversable by the postgres user when we are root, and keeps
        # the socket path well under the ~107-byte unix socket limit (unlike a long TMPDIR).
        base = Path(
            tempfile.mkdtemp(prefix="segql-pg-", dir="/tmp" if os.path.isdir("/tmp") else None)
        )
        self.base_dir = base
        _LIVE_SERVERS.add(self)
        try:
            if as_root:
                pw = pwd.getpwnam(PG_OS_USER)
                os.chown(base, pw.pw_uid, pw.pw_gid)
            os.chmod(base, 0o755)

            self._run(
                [
                    str(bindir / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", SUPERUSER,
                    "-A", "trust",
                    "-E", "UTF8",
                    "--locale=C",
                    # byte-order collation, but Unicode case mapping for lower()
                    "--lc-ctype=C.UTF-8",
                    "--no-sync",
                    "--no-instructions",
                ],
                what="initdb",
            )  # fmt: skip

            settings = {
                "listen_addresses": "",
                "unix_socket_directories": str(base),
                "port": str(PORT),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "wal_level": "minimal",
                "max_wal_senders": "0",
                "TimeZone": "UTC",
                "log_timezone": "UTC",
                **self.extra_settings,
            }
            argv = [str(bindir / "postgres"), "-D", str(self.data_dir)]
            for key, value in settings.items():
                argv += ["-c", f"{key}={value}"]
            self._log_file = open(self.log_path, "ab")  # closed in stop()
            self._proc = subprocess.Popen(
                argv,
                **_user_kwargs(),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                cwd=base,
                env=self._env(),
            )
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m immediate``) and delete its directory.

        Idempotent. If pg_ctl cannot do it (e.g. the postmaster has not written its pid
        file yet), the postmaster -- our direct child -- gets SIGQUIT, then SIGKILL."""
        base = self.base_dir
        if base is None:
            return
        try:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                stopped_by_pg_ctl = False
                bindir = self._bindir or find_bindir()
                if bindir is not None and (base / "data" / "postmaster.pid").exists():
                    try:
                        res = subprocess.run(
                            [str(bindir / "pg_ctl"), "stop", "-D", str(base / "data"),
                             "-m", "immediate", "-w", "-t", "30"],
                            **_user_kwargs(),
                            stdin=subprocess.DEVNULL,
                            capture_output=True,
                            cwd=base,
                            env=self._env(),
                            timeout=60,
                        )  # fmt: skip
                        stopped_by_pg_ctl = res.returncode == 0
                    except (OSError, subprocess.SubprocessError):
                        pass
                signals = [signal.SIGQUIT, signal.SIGKILL]
                if stopped_by_pg_ctl:
                    signals.insert(0, None)  # just reap it
                for sig in signals:
                    if sig is not None and proc.poll() is None:
                        proc.send_signal(sig)
                    try:
                        proc.wait(timeout=10)
                        break
                    except subprocess.TimeoutExpired:
                        continue
        finally:
            self._proc = None
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            shutil.rmtree(base, ignore_errors=True)
            self.base_dir = None
            _LIVE_SERVERS.discard(self)

    def restart(self) -> None:
        """Stop the server the hard way (SIGQUIT: immediate shutdown, every session
        cut off, crash recovery at the next start) and start it again on the same
        data directory and socket."""
        proc = self._proc
        if proc is None or self.base_dir is None:
            raise RuntimeError("PostgresServer is not started")
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=30)
        self._proc = subprocess.Popen(
            proc.args,
            **_user_kwargs(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.base_dir,
            env=self._env(),
        )
        self._wait_until_ready()

    # -- connections -------------------------------------------------------------
    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """New autocommit connection to database ``postgres`` as the superuser."""
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.conninfo, **kwargs)

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    def _env() -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        return env

    def _run(self, argv: list[str], *, what: str) -> None:
        res = subprocess.run(
            argv,
            **_user_kwargs(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            env=self._env(),
            timeout=120,
        )
        if res.returncode != 0:
            raise PostgresStartError(
                f"{what} failed with exit code {res.returncode}:\n"
                f"$ {shlex.join(argv)}\n{res.stdout}{res.stderr}"
            )

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<could not read {self.log_path}: {exc}>"

    def _wait_until_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise PostgresStartError(
                    f"postgres exited with code {code} during startup. Server log "
                    f"({self.log_path}):\n{self._read_log()}"
                )
            try:
                with psycopg.connect(self.conninfo, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise PostgresStartError(
                    f"postgres did not accept connections within {self.start_timeout:.0f}s "
                    f"(last error: {last_error}). Server log ({self.log_path}):\n"
                    f"{self._read_log()}"
                )
            time.sleep(0.02)

    def __repr__(self) -> str:
        state = f"socket_dir={str(self.base_dir)!r}" if self.base_dir else "stopped"
        return f"<PostgresServer {state}>"


# --------------------------------------------------------------------------- DuckDB -> PG

_SIMPLE_TYPES: dict[str, str] = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "UBIGINT": "numeric(20,0)",
    "UINTEGER": "bigint",
    "USMALLINT": "integer",
    "UTINYINT": "smallint",
    "HUGEINT": "numeric(39,0)",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMPTZ": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "BLOB": "bytea",
}
_DECIMAL_RE = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _pg_type(duck_type: str, *, table: str, column: str) -> str:
    t = duck_type.strip().upper()
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    m = _DECIMAL_RE.fullmatch(t)
    if m:
        return f"numeric({int(m.group(1))},{int(m.group(2))})"
    raise TypeError(
        f"load_from_duckdb: no PostgreSQL mapping for DuckDB type {duck_type!r} "
        f"(table {table!r}, column {column!r})"
    )


def _duck_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_type(pg_type: str) -> str:
    # type names for Copy.set_types(): drop typmods, "numeric(10,2)" -> "numeric"
    return pg_type.split("(", 1)[0]


def load_from_duckdb(
    duck_con: Any, pg_conn: psycopg.Connection[Any], tables: Sequence[str] | Iterable[str]
) -> None:
    """Copy DuckDB tables into PostgreSQL under the same (exactly quoted) names.

    Each target table is dropped and re-created with mapped column types, then filled
    with a binary ``COPY ... FROM STDIN``. ``tables`` are plain table names resolved in
    DuckDB's current schema; names may be reserved words or contain spaces/quotes.
    Works whether or not ``pg_conn`` is in autocommit mode (each table is one
    transaction)."""
    for table in tables:
        columns = duck_con.execute(f"DESCRIBE {_duck_ident(table)}").fetchall()
        names = [str(row[0]) for row in columns]
        pg_types = [_pg_type(str(row[1]), table=table, column=str(row[0])) for row in columns]

        # DuckDB needs pytz to hand TIMESTAMPTZ values to Python: fetch epoch micros instead.
        select_items: list[str] = []
        tz_positions: list[int] = []
        for i, (name, pg_type) in enumerate(zip(names, pg_types, strict=True)):
            if pg_type == "timestamptz":
                select_items.append(f"epoch_us({_duck_ident(name)})")
                tz_positions.append(i)
            else:
                select_items.append(_duck_ident(name))

        table_id = sql.Identifier(table)
        create = sql.SQL("CREATE TABLE {} ({})").format(
            table_id,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
                for n, t in zip(names, pg_types, strict=True)
            ),
        )
        copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            table_id, sql.SQL(", ").join(sql.Identifier(n) for n in names)
        )

        result = duck_con.execute(f"SELECT {', '.join(select_items)} FROM {_duck_ident(table)}")
        with pg_conn.transaction(), pg_conn.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table_id))
            cur.execute(create)
            if not names:
                continue
            with cur.copy(copy_stmt) as copy:
                copy.set_types([_copy_type(t) for t in pg_types])
                while batch := result.fetchmany(10_000):
                    if tz_positions:
                        batch = [_fix_timestamptz(row, tz_positions) for row in batch]
                    for row in batch:
                        copy.write_row(row)


def _fix_timestamptz(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in positions:
        us = values[i]
        if us is not None:
            values[i] = _EPOCH + dt.timedelta(microseconds=us)
    return tuple(values)
