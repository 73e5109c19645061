"""`segql schema pull`: the column types of every table the project reads, as
a target's engine reports them, written to schema.yml for git
(semantic/schema_file.py reads it back)."""

from __future__ import annotations

from pathlib import Path

from segql.engines import connect
from segql.engines.targets import Target, apply
from segql.errors import Diagnostics
from segql.ops.files import replacing
from segql.project import Project
from segql.semantic import schema_file
from segql.semantic.schema import engine_columns


def pull(project: Project, target: Target) -> tuple[Path, int]:
    """Write schema.yml beside segql.yml; returns its path and how many tables
    it describes. CSV/Parquet paths are left out: compile reads those itself.
    Nothing is written unless every table is found."""
    on_target = apply(project, target)
    diags = Diagnostics()
    tables: dict[str, dict[str, str]] = {}
    with connect(target, project.root) as engine:
        for mine, there in zip(project.tables, on_target.tables, strict=True):
            if mine.is_path or mine.name in tables:
                continue
            cols = engine_columns(engine, there, project.root, diags)
            if cols is not None:
                tables[mine.name] = cols
        dialect = engine.dialect.name
    diags.check({project.file: project.text})
    path = schema_file.path_of(project.root)
    with replacing(path) as f:
        f.write(schema_file.render(dialect, tables, target.engine))
    return path, len(tables)
