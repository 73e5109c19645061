"""The project file `segql.yml`: entity, key, profiles, sources, universe,
timezone, dialect, database, targets — found in the current directory or the nearest
parent (or, failing that, beside the paths given), or named by --project."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from segql.engines.targets import Target, check_table_names, parse_targets
from segql.errors import Diagnostics, SegqlError, Span, did_you_mean
from segql.syntax import ast
from segql.syntax.yamlsrc import compose, mapping_items, scalar, span_of, value_start

PROJECT_FILE = "segql.yml"
TYPE_NAMES = ("number", "integer", "string", "boolean", "date", "timestamp")
_KEYS = (
    "entity",
    "key",
    "profiles",
    "sources",
    "universe",
    "timezone",
    "dialect",
    "database",
    "targets",
    "pii",
    "state_schema",
)


@dataclass(frozen=True)
class TimeColumn:
    """A column named in segql.yml, with where it is written (for errors about it)."""

    name: str
    span: Span = ast.NOSPAN


@dataclass(frozen=True)
class PointInTime:
    """When a profile row counts (LANGUAGE.md §2; profiles only): `created` (the
    entity joins the universe at that instant), and a history's `valid_from` /
    `valid_to` (the row holds from valid_from until valid_to, null = still)."""

    created: TimeColumn | None = None
    valid_from: TimeColumn | None = None
    valid_to: TimeColumn | None = None

    @property
    def history(self) -> bool:
        return self.valid_from is not None and self.valid_to is not None

    def columns(self) -> list[tuple[str, TimeColumn]]:
        """(setting, column) of every column named."""
        return [(k, c) for k in _POINT_IN_TIME if (c := getattr(self, k)) is not None]


_POINT_IN_TIME = ("created", "valid_from", "valid_to")


@dataclass(frozen=True)
class Table:
    """A table of the warehouse (or, on DuckDB, a CSV/Parquet path)."""

    name: str  # as written: `orders`, `analytics.orders`, `data/orders.parquet`
    declared: dict[str, str] = field(default_factory=dict)  # column -> type name
    span: Span = ast.NOSPAN
    point_in_time: PointInTime = PointInTime()  # profiles only

    @property
    def is_path(self) -> bool:
        return "/" in self.name or self.name.endswith((".csv", ".parquet", ".json"))

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.name,) if self.is_path else tuple(self.name.split("."))


@dataclass(frozen=True)
class Sessions:
    """`{sessions_of: PARENT, gap: D}` or `{sessions_of: PARENT, id: COLUMN}`
    (LANGUAGE.md §17): a source of one row per session of the parent's rows."""

    of: str  # the parent source
    gap: ast.Duration | None  # a row more than `gap` after the previous one starts a session
    id: str | None  # or: the parent's rows grouped by this column
    of_span: Span = ast.NOSPAN
    id_span: Span = ast.NOSPAN


# the columns of every sessions source besides first_<column> / last_<column>
SESSION_TIME = "time"
SESSION_COLUMNS = (SESSION_TIME, "ended_at", "duration_s", "rows")
SESSION_SETTINGS = ("sessions_of", "gap", "id")
SESSION_FIRST, SESSION_LAST = "first_", "last_"


def session_parent_column(column: str) -> tuple[bool, str] | None:
    """(first?, parent column) of a sessions source's first_<c> / last_<c>
    column, else None."""
    for prefix in (SESSION_FIRST, SESSION_LAST):
        if column.startswith(prefix) and len(column) > len(prefix):
            return prefix == SESSION_FIRST, column[len(prefix) :]
    return None


@dataclass(frozen=True)
class Source:
    name: str
    table: Table  # of a sessions source: its parent's (what a target renames, a test fills)
    time: str
    span: Span = ast.NOSPAN
    time_span: Span = ast.NOSPAN  # the `time:` value, for errors about the time column
    sessions: Sessions | None = None


@dataclass(frozen=True)
class Project:
    file: str
    root: Path
    entity: str
    key: str
    profiles: Table | None
    sources: dict[str, Source]
    universe: ast.Expr | None
    timezone: str
    dialect: str
    database: str | None  # absolute path of a DuckDB file, if any
    # the file's text as read, to show errors located in it (universe, tables)
    text: str = field(default="", compare=False, repr=False)
    # where it runs (segql/engines/targets.py), in the order written: the first is the default
    targets: dict[str, Target] = field(default_factory=dict, compare=False)
    # `pii:` columns -> where each is named: they leave segql only hashed (export, preview)
    pii: dict[str, Span] = field(default_factory=dict, compare=False)
    # the schema (Spark: database) holding `segql run`'s state tables (docs/run.md)
    state_schema: str = "segql"

    @property
    def tables(self) -> list[Table]:
        """Every table the project reads: the profiles, then the sources'."""
        profiles = [self.profiles] if self.profiles is not None else []
        return profiles + [s.table for s in self.sources.values() if s.sessions is None]


def find_project_file(explicit: str | None, paths: list[str]) -> Path:
    """`--project PATH`, else segql.yml in cwd or its nearest parent, else beside PATHs."""
    if explicit:
        p = Path(explicit)
        p = p / PROJECT_FILE if p.is_dir() else p
        if not p.is_file():
            raise SegqlError(f"project file '{explicit}' not found", usage=True)
        return p
    starts = [Path.cwd()] + [Path(x).resolve() for x in paths]
    for start in starts:
        d = start if start.is_dir() else start.parent
        for folder in (d, *d.parents):
            if (folder / PROJECT_FILE).is_file():
                return folder / PROJECT_FILE
    raise SegqlError(
        f"no {PROJECT_FILE} found in the current directory, its parents, or beside the paths",
        None,
        ("create segql.yml with 'entity', 'key' and 'sources', or pass --project PATH",),
    )


def _relative(path: Path) -> Path:
    """A project file under the current directory named relative to it, as a user
    would write it, so that messages say `segql.yml:3:11`."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def load_project(path: Path) -> Project:
    """Read and check segql.yml; raises SegqlErrors listing every problem."""
    file = str(_relative(path) if path.is_absolute() else path)
    from segql.syntax.text import read_source

    text = read_source(Path(file))  # a non-UTF-8 byte is reported at its line and column
    root_node = compose(text, file)
    diags = Diagnostics()
    if not isinstance(root_node, yaml.MappingNode):
        raise SegqlError(
            "the project file must be a mapping of settings", Span(file, 1, 1, 1, 2), text=text
        )
    items = {}
    for k, v in mapping_items(root_node):
        key = scalar(k) or ""
        if key not in _KEYS:
            hint = did_you_mean(key, _KEYS)
            diags.error(
                f"unknown setting '{key}'" + (f" ({hint})" if hint else ""),
                span_of(k, file),
                "settings are " + ", ".join(_KEYS),
            )
        items[key] = (k, v)

    def text_of(name: str, default: str | None = None, required: bool = False) -> str | None:
        if name not in items:
            if required:
                diags.error(f"missing setting '{name}'", Span(file, 1, 1, 1, 2))
            return default
        v = scalar(items[name][1])
        if v is None or v == "":
            diags.error(f"'{name}' must be a single value", span_of(items[name][1], file))
            return default
        return v

    entity = text_of("entity", "entity") or "entity"
    key = text_of("key", required=True) or "id"
    timezone = text_of("timezone", "UTC") or "UTC"
    if "timezone" in items:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(timezone, zoneinfo.available_timezones())
            diags.error(
                f"unknown timezone '{timezone}'" + (f" ({hint})" if hint else ""),
                span_of(items["timezone"][1], file),
                "a timezone is an IANA name such as UTC or Europe/Paris",
            )
    dialect = text_of("dialect", "duckdb") or "duckdb"
    if "dialect" in items:
        from segql.sql.dialects import DIALECTS

        if dialect not in DIALECTS:
            hint = did_you_mean(dialect, DIALECTS)
            diags.error(
                f"unknown dialect '{dialect}'" + (f" ({hint})" if hint else ""),
                span_of(items["dialect"][1], file),
                "dialects are " + ", ".join(DIALECTS),
            )
    database = text_of("database")
    if database is not None and database != ":memory:":
        database = str((path.parent / database).resolve())

    profiles = None
    if "profiles" in items:
        profiles = _table(items["profiles"][1], file, diags, "profiles", profile=True)

    sources: dict[str, Source] = {}
    if "sources" not in items:
        diags.error("missing setting 'sources'", Span(file, 1, 1, 1, 2))
    else:
        node = items["sources"][1]
        if not isinstance(node, yaml.MappingNode):
            diags.error("'sources' must map source names to tables", span_of(node, file))
        for k, v in mapping_items(node):
            name = scalar(k) or ""
            span = span_of(k, file)
            if name in sources:
                diags.error(f"duplicate source '{name}'", span)
            if isinstance(v, yaml.MappingNode) and any(
                scalar(a) == "sessions_of" for a, _ in mapping_items(v)
            ):
                sources[name] = _sessions(name, v, file, diags, span)
                continue
            table = _table(v, file, diags, name)
            fields = {scalar(a): b for a, b in mapping_items(v)}
            time = scalar(fields["time"]) if "time" in fields else None
            time_span = span_of(fields["time"], file) if "time" in fields else span
            if not time:
                diags.error(f"source '{name}' needs 'time: COLUMN'", span)
                time = "time"
            sources[name] = Source(name, table, time, span, time_span)

    sources = _session_parents(sources, diags)

    universe = None
    if "universe" in items:
        node = items["universe"][1]
        if isinstance(node, yaml.ScalarNode):
            from segql.syntax.parser import parse_expression

            line, col = value_start(node)
            try:
                universe = parse_expression(str(node.value), file, line, col)
            except SegqlError as e:
                diags.extend([e])
            except Exception as e:  # SegqlErrors
                diags.extend(getattr(e, "errors", []))
        else:
            diags.error("'universe' must be a condition", span_of(node, file))
    targets: dict[str, Target] = {}
    if "targets" in items:
        targets = parse_targets(items["targets"][1], file, text, diags)
        tables = [s.table.name for s in sources.values()]
        check_table_names(targets, tables + ([profiles.name] if profiles else []), diags)
    pii: dict[str, Span] = {}
    if "pii" in items:
        node = items["pii"][1]
        if not isinstance(node, yaml.SequenceNode):
            diags.error("'pii' must be a list of columns: pii: [email, phone]", span_of(node, file))
        else:
            for item in node.value:
                column = scalar(item) if isinstance(item, yaml.ScalarNode) else None
                if not column:
                    diags.error("a 'pii' entry must be a column name", span_of(item, file))
                else:
                    pii[column] = span_of(item, file)
    state_schema = text_of("state_schema", "segql") or "segql"
    diags.check({file: text})
    return Project(
        file,
        path.parent,
        entity,
        key,
        profiles,
        sources,
        universe,
        timezone,
        dialect,
        database,
        text,
        targets,
        pii,
        state_schema=state_schema,
    )


def _table(
    node: yaml.Node, file: str, diags: Diagnostics, what: str, profile: bool = False
) -> Table:
    span = span_of(node, file)
    if isinstance(node, yaml.ScalarNode):
        return Table(str(node.value), {}, span)
    fields = {scalar(a): b for a, b in mapping_items(node)}
    allowed = ("table", "time", "columns", *(_POINT_IN_TIME if profile else ()))
    for k, _ in mapping_items(node):
        if scalar(k) in _POINT_IN_TIME and not profile:
            diags.error(
                f"'{scalar(k)}' is a setting of the profiles table, not of a source",
                span_of(k, file),
                "a source's rows count from their 'time:'; 'created', 'valid_from' and "
                "'valid_to' say when a profile row counts",
            )
        elif scalar(k) not in allowed:
            diags.error(
                f"unknown setting '{scalar(k)}' in '{what}'",
                span_of(k, file),
                did_you_mean(scalar(k) or "", allowed),
            )
    name = scalar(fields["table"]) if "table" in fields else None
    if not name:
        diags.error(f"'{what}' needs 'table: NAME'", span)
        name = what
    declared: dict[str, str] = {}
    for k, v in mapping_items(fields.get("columns")) if "columns" in fields else []:
        t = (scalar(v) or "").lower()
        if t not in TYPE_NAMES:
            diags.error(
                f"unknown column type '{t}'", span_of(v, file), "types are " + ", ".join(TYPE_NAMES)
            )
        declared[scalar(k) or ""] = t
    # errors about the table (not found) point at its name
    table_span = span_of(fields["table"], file) if "table" in fields else span
    return Table(
        name, declared, table_span, _point_in_time(node, file, diags) if profile else PointInTime()
    )


def _point_in_time(node: yaml.Node, file: str, diags: Diagnostics) -> PointInTime:
    """`created`, `valid_from`, `valid_to` of the profiles table."""
    named: dict[str, TimeColumn] = {}
    keys: dict[str, Span] = {}
    for k, v in mapping_items(node):
        setting = scalar(k) or ""
        if setting not in _POINT_IN_TIME:
            continue
        keys[setting] = span_of(k, file)
        column = scalar(v)
        if not column:
            diags.error(f"'{setting}' must name a column", span_of(v, file))
            continue
        named[setting] = TimeColumn(column, span_of(v, file))
    # a history row needs both ends: one without the other is a mistake, not an open end
    for one, other in (("valid_from", "valid_to"), ("valid_to", "valid_from")):
        if one in keys and other not in keys:
            diags.error(
                f"'{one}' needs '{other}': a history names both (valid_to null marks the "
                "current row, as in a dbt snapshot)",
                keys[one],
            )
    return PointInTime(named.get("created"), named.get("valid_from"), named.get("valid_to"))


def _sessions(name: str, node: yaml.MappingNode, file: str, diags: Diagnostics, span: Span):
    """A sessions source as written; its parent is checked once every source is read
    (`_session_parents`), whatever their order."""
    from segql.syntax.parser import parse_expression

    fields = {scalar(a): (a, b) for a, b in mapping_items(node)}
    for k, _ in mapping_items(node):
        if scalar(k) not in SESSION_SETTINGS:
            diags.error(
                f"unknown setting '{scalar(k)}' in sessions source '{name}'",
                span_of(k, file),
                "a sessions source takes its rows, time and columns from its parent: "
                "its settings are " + ", ".join(SESSION_SETTINGS),
            )
    of_node = fields["sessions_of"][1]
    of = scalar(of_node) or ""
    if not of:
        diags.error("'sessions_of' must name a source", span_of(of_node, file))
    gap = None
    if "gap" in fields:
        gap_node = fields["gap"][1]
        text = scalar(gap_node) if isinstance(gap_node, yaml.ScalarNode) else None
        parsed = None
        if text:
            line, col = value_start(gap_node)
            try:
                parsed = parse_expression(text, file, line, col)
            except Exception:  # SegqlError(s): reported below as "not a duration"
                parsed = None
        if not isinstance(parsed, ast.Duration):
            diags.error("'gap' must be a duration, e.g. gap: 30 minutes", span_of(gap_node, file))
        elif parsed.unit not in ast.FIXED_SECONDS:
            diags.error(
                f"'gap' must be a fixed length (seconds to weeks), not {parsed.unit}s",
                span_of(gap_node, file),
                "a month has no fixed length; write the gap in days or weeks",
            )
        else:
            gap = parsed
    id_column, id_span = None, span
    if "id" in fields:
        id_node = fields["id"][1]
        id_column, id_span = scalar(id_node) or None, span_of(id_node, file)
        if not id_column:
            diags.error("'id' must name a column of the parent source", id_span)
    if "gap" in fields and "id" in fields:
        diags.error(
            f"sessions source '{name}' has both 'gap' and 'id': give one",
            span_of(fields["id"][0], file),
            "gap: sessions split by inactivity; id: sessions named by a column",
        )
    elif "gap" not in fields and "id" not in fields:
        diags.error(
            f"sessions source '{name}' needs 'gap: DURATION' or 'id: COLUMN'",
            span,
            f"e.g. {name}: {{sessions_of: {of or 'events'}, gap: 30 minutes}}",
        )
    sessions = Sessions(of, gap, id_column, span_of(of_node, file), id_span)
    return Source(name, Table(of), SESSION_TIME, span, span, sessions)


def _session_parents(sources: dict[str, Source], diags: Diagnostics) -> dict[str, Source]:
    """Each sessions source with its parent's table; the parent must be a source
    with a table of its own (sessions of sessions are not a thing)."""
    out = dict(sources)
    for name, src in sources.items():
        s = src.sessions
        if s is None or not s.of:
            continue
        parent = sources.get(s.of)
        if parent is None:
            hint = did_you_mean(s.of, [n for n in sources if n != name])
            diags.error(
                f"sessions_of: unknown source '{s.of}'" + (f" ({hint})" if hint else ""),
                s.of_span,
            )
        elif parent.sessions is not None:
            diags.error(
                f"sessions_of: '{s.of}' is itself a sessions source",
                s.of_span,
                "sessions are made of the rows of a source with a table",
            )
        else:
            out[name] = replace(src, table=parent.table)
    return out
