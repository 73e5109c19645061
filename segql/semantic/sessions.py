"""Checks of a sessions source (LANGUAGE.md §17 `sessions_of`) against its parent's
columns; project.py checks what needs no table (the parent exists, gap or id)."""

from __future__ import annotations

from segql.errors import Diagnostics, did_you_mean
from segql.project import SESSION_COLUMNS, Source, session_parent_column
from segql.semantic.schema import is_complete


def check_sessions(src: Source, parent: dict[str, str] | None, key: str, diags: Diagnostics):
    s = src.sessions
    assert s is not None
    if s.id is not None and is_complete(parent) and s.id not in (parent or {}):
        hint = did_you_mean(s.id, parent or {})
        diags.error(
            f"id: unknown column '{s.id}' in source '{s.of}'" + (f" ({hint})" if hint else ""),
            s.id_span,
        )
    if s.id is not None and s.id == key:
        diags.error(
            f"id: '{key}' is the key: sessions by id are grouped per key already",
            s.id_span,
            "name the column that tells one session from another, e.g. session_id",
        )
    # the key is a column of the sessions under its own name: it cannot be one of theirs
    of_parent = session_parent_column(key)
    derived = key in SESSION_COLUMNS or (of_parent is not None and of_parent[1] in (parent or {}))
    if derived:
        diags.error(
            f"the key column '{key}' has the name of a column of sessions source '{src.name}'",
            src.span,
            "a sessions source has " + ", ".join(SESSION_COLUMNS) + ", first_<column> and "
            "last_<column>: rename the key column in a view",
        )


def session_hint(src: Source, column: str, cols: dict[str, str]) -> str | None:
    """A column of a sessions source's parent named without first_/last_."""
    if src.sessions is None or f"first_{column}" not in cols:
        return None
    return f"a session has first_{column} and last_{column}, of its first and last row"


def may_be_column(src: Source, column: str) -> bool:
    """Of a source whose columns are not all known: could `column` be one? Of a
    sessions source only its own columns and first_<c> / last_<c> can."""
    if src.sessions is None or column in SESSION_COLUMNS:
        return True
    return session_parent_column(column) is not None
