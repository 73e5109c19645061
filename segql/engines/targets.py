"""Targets (LANGUAGE.md §12): where segments run, named in segql.yml.

    targets:
      local: {engine: duckdb, path: warehouse.duckdb}       # the first: the default target
      pg:    {engine: postgres, dsn: "${SEGQL_PG_DSN}", schema: analytics}
      bq:    {engine: bigquery, dataset: shop.analytics, tables: {orders: shop.sales.orders}}

`parse_targets` checks the mapping when the project file is read (unknown
engine or setting, a password written in the file); `${NAME}` is replaced by
the environment only when a target is used (`setting`), so that a project
with a warehouse target still compiles on a laptop without its secrets.
Every value that came from the environment is a secret: engines pass it to
`redact` before any message is shown.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from segql.errors import Diagnostics, SegqlError, Span, did_you_mean
from segql.syntax.yamlsrc import mapping_items, scalar, span_of

if TYPE_CHECKING:
    from segql.project import Project

# engine -> its settings; `tables:` is allowed on every engine
SETTINGS: dict[str, tuple[str, ...]] = {
    "duckdb": ("path",),
    "postgres": ("dsn", "host", "port", "user", "password", "dbname", "schema"),
    "spark": ("master", "warehouse", "database"),
    "bigquery": ("project", "dataset"),
    "snowflake": ("database", "schema"),
    "trino": ("database", "schema"),
    "databricks": ("catalog", "schema"),
}
# the settings that qualify a bare table name, outermost first
QUALIFIERS: dict[str, tuple[str, ...]] = {
    "duckdb": (),
    "postgres": ("schema",),
    "spark": ("database",),
    "bigquery": ("project", "dataset"),
    "snowflake": ("database", "schema"),
    "trino": ("database", "schema"),
    "databricks": ("catalog", "schema"),
}
# engines segql connects to; the others only get SQL (`segql compile --target`)
RUNS_HERE = ("duckdb", "postgres", "spark")

_VAR = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a password written into segql.yml itself: in a DSN's `password=` or `user:password@`
_PLAIN_PASSWORD = re.compile(r"password\s*=|://[^/@:\s]*:[^/@\s]+@", re.IGNORECASE)


@dataclass(frozen=True)
class Setting:
    text: str  # as written: `${NAME}` not yet replaced
    span: Span


@dataclass(frozen=True)
class Target:
    name: str
    engine: str
    settings: dict[str, Setting]
    tables: dict[str, Setting]  # a table as segql.yml names it -> its name on this target
    span: Span  # the target's name in segql.yml
    # the project file's text, for errors raised when the target is used
    text: str = field(default="", compare=False, repr=False)

    @property
    def dialect(self) -> str:
        return self.engine  # every engine's SQL dialect has its name

    def setting(self, name: str, default: str | None = None) -> str | None:
        """A setting's value with `${NAME}` replaced from the environment; a
        missing variable is an error naming it, at the setting."""
        s = self.settings.get(name)
        return default if s is None else _interpolate(s, self.text)

    def secrets(self) -> list[str]:
        """Every value that comes from the environment, and passwords inside
        them (a driver's message may quote part of a DSN)."""
        found: list[str] = []
        for s in self.settings.values():
            for m in _VAR.finditer(s.text):
                value = os.environ.get(m.group(1), "")
                found.append(value)
                found += re.findall(r"password\s*=\s*'?([^'\s]+)", value, re.IGNORECASE)
                found += re.findall(r"://[^/@:\s]*:([^/@\s]+)@", value)
        # longest first, so that a password inside a DSN is not left half shown
        return sorted({x for x in found if len(x) >= 3}, key=len, reverse=True)

    def redact(self, message: str) -> str:
        for secret in self.secrets():
            message = message.replace(secret, "***")
        return message


def _interpolate(s: Setting, text: str) -> str:
    def value(m: re.Match) -> str:
        name = m.group(1)
        if not _NAME.fullmatch(name):
            raise SegqlError(
                f"'${{{name}}}' is not an environment variable name", s.span, text=text
            )
        if name not in os.environ:
            raise SegqlError(
                f"environment variable '{name}' is not set",
                s.span,
                (f"export {name}=… before running segql (${{…}} reads the environment)",),
                text=text,
            )
        return os.environ[name]

    return _VAR.sub(value, s.text)


def parse_targets(node: yaml.Node, file: str, text: str, diags: Diagnostics) -> dict[str, Target]:
    """The `targets:` mapping of segql.yml, every problem reported in `diags`."""
    if not isinstance(node, yaml.MappingNode):
        diags.error("'targets' must map target names to settings", span_of(node, file))
        return {}
    targets: dict[str, Target] = {}
    for k, v in mapping_items(node):
        name, span = scalar(k) or "", span_of(k, file)
        if name in targets:
            diags.error(f"duplicate target '{name}'", span)
        target = _target(name, span, v, file, text, diags)
        if target is not None:
            targets[name] = target
    return targets


def _target(
    name: str, span: Span, node: yaml.Node, file: str, text: str, diags: Diagnostics
) -> Target | None:
    if not isinstance(node, yaml.MappingNode):
        diags.error(f"target '{name}' must be a mapping with 'engine: …'", span_of(node, file))
        return None
    fields = {scalar(a) or "": (a, b) for a, b in mapping_items(node)}
    if "engine" not in fields:
        diags.error(
            f"target '{name}' needs 'engine: …'", span, "engines are " + ", ".join(SETTINGS)
        )
        return None
    engine = scalar(fields["engine"][1]) or ""
    if engine not in SETTINGS:
        hint = did_you_mean(engine, SETTINGS)
        diags.error(
            f"unknown engine '{engine}'" + (f" ({hint})" if hint else ""),
            span_of(fields["engine"][1], file),
            "engines are " + ", ".join(SETTINGS),
        )
        return None
    allowed = SETTINGS[engine]
    settings: dict[str, Setting] = {}
    tables: dict[str, Setting] = {}
    for key, (k, v) in fields.items():
        if key == "engine":
            continue
        if key == "tables":
            tables = _tables(v, name, file, diags)
            continue
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            diags.error(
                f"unknown setting '{key}' for a {engine} target" + (f" ({hint})" if hint else ""),
                span_of(k, file),
                f"{engine} targets take " + ", ".join((*allowed, "tables")),
            )
            continue
        value = scalar(v)
        if value is None or value == "":
            diags.error(f"'{key}' must be a single value", span_of(v, file))
            continue
        s = Setting(str(value), span_of(v, file))
        if _plain_secret(key, s.text):
            diags.error(
                f"a password written in {file}: secrets come only from the environment",
                s.span,
                f'write {key}: "${{NAME}}" and export NAME before running segql',
            )
            continue
        settings[key] = s
    return Target(name, engine, settings, tables, span, text)


def _plain_secret(key: str, value: str) -> bool:
    outside = _VAR.sub("", value)  # what is written, environment references aside
    if key == "password":
        return outside.strip() != ""
    return bool(_PLAIN_PASSWORD.search(outside))


def _tables(node: yaml.Node, target: str, file: str, diags: Diagnostics) -> dict[str, Setting]:
    if not isinstance(node, yaml.MappingNode):
        diags.error(
            f"'tables' of target '{target}' must map table names to names on the target",
            span_of(node, file),
        )
        return {}
    out: dict[str, Setting] = {}
    for k, v in mapping_items(node):
        value = scalar(v)
        if not value:
            diags.error("a table's name must be a single value", span_of(v, file))
            continue
        out[scalar(k) or ""] = Setting(str(value), span_of(k, file))
    return out


def check_table_names(targets: dict[str, Target], known: list[str], diags: Diagnostics) -> None:
    """Every `tables:` key names a table of segql.yml (a typo would silently
    leave the table unmapped)."""
    for t in targets.values():
        for name, s in t.tables.items():
            if name not in known:
                hint = did_you_mean(name, known)
                diags.error(
                    f"'{name}' in the tables of target '{t.name}' is not a table of segql.yml"
                    + (f" ({hint})" if hint else ""),
                    s.span,
                    "tables are " + ", ".join(known),
                )


def choose(project: Project, name: str | None) -> Target:
    """The target called `name`, or with None the default: the first one listed."""
    if not project.targets:
        what = f"no target '{name}'" if name else "no target"
        raise SegqlError(
            f"{what}: segql.yml has no 'targets:'",
            None,
            ("add targets: {local: {engine: duckdb, path: local.duckdb}} (docs/targets.md)",),
            usage=True,
        )
    if name is None:
        return next(iter(project.targets.values()))
    if name not in project.targets:
        hint = did_you_mean(name, project.targets)
        raise SegqlError(
            f"unknown target '{name}'" + (f" ({hint})" if hint else ""),
            None,
            ("targets are " + ", ".join(project.targets),),
            usage=True,
        )
    return project.targets[name]


def apply(project: Project, target: Target) -> Project:
    """The project as seen on `target`: bare table names qualified by its
    schema/dataset/database, single tables renamed by its `tables:`."""
    from segql.project import Table

    def on_target(table: Table) -> Table:
        return table if table.is_path else replace(table, name=table_name(target, table.name))

    sources = {n: replace(s, table=on_target(s.table)) for n, s in project.sources.items()}
    profiles = on_target(project.profiles) if project.profiles is not None else None
    return replace(project, sources=sources, profiles=profiles, dialect=target.dialect)


def table_name(target: Target, name: str) -> str:
    """A table's name on the target: from its `tables:`, else qualified by its
    schema/dataset/database unless already qualified."""
    if name in target.tables:
        return _interpolate(target.tables[name], target.text)
    prefix = [v for q in QUALIFIERS[target.engine] if (v := target.setting(q))]
    return name if "." in name else ".".join([*prefix, name])


def duckdb_path(target: Target, root: Path) -> str:
    """A DuckDB target's file, relative to the project folder."""
    path = target.setting("path", ":memory:") or ":memory:"
    return path if path == ":memory:" else str((root / path).resolve())


def file_target(path: str) -> Target:
    """`--db FILE`: a DuckDB target."""
    span = Span("--db", 1, 1, 1, 2)
    return Target("--db", "duckdb", {"path": Setting(path, span)}, {}, span)
