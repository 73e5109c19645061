"""JSON Schemas of segql's YAML files (segql.yml, YAML definitions, unit tests),
for editors (yaml-language-server) and CI; `segql schema json` prints them.

They are built from the same constants the readers check against (settings,
engines, column types, definition fields), so a new setting cannot be
accepted by segql and refused by the schema or the other way round. Values
an editor shows as dates (as_of, given rows) are strings to a schema: YAML
timestamps are validated as text, as yaml-language-server reads them.
"""

from __future__ import annotations

from typing import Any

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
NAMES = ("project", "definitions", "tests")

_TEXT: dict[str, Any] = {"type": "string"}
# a condition: YAML reads `true`, `3` or `2024-01-01` as other types; segql takes their text
_CONDITION: dict[str, Any] = {"type": ["string", "number", "boolean"]}


def _mapping(values: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": values}


def _names() -> dict[str, Any]:
    """A list of names, or one name (channels, kpis)."""
    return {"oneOf": [_TEXT, {"type": "array", "items": _TEXT}]}


def project() -> dict[str, Any]:
    from segql.engines.targets import SETTINGS
    from segql.project import _KEYS, _POINT_IN_TIME, TYPE_NAMES
    from segql.sql.dialects import DIALECTS

    columns = _mapping({"enum": list(TYPE_NAMES)})
    table = {
        "type": "object",
        "required": ["table"],
        "properties": {"table": _TEXT, "columns": columns},
        "additionalProperties": False,
    }
    source = {**table, "required": ["table", "time"], "properties": {**table["properties"]}}
    source["properties"]["time"] = _TEXT
    # LANGUAGE.md §17: one row per session of another source's rows, by a gap or an id
    sessions = {
        "type": "object",
        "required": ["sessions_of"],
        "properties": {"sessions_of": _TEXT, "gap": _TEXT, "id": _TEXT},
        "oneOf": [{"required": ["gap"]}, {"required": ["id"]}],
        "additionalProperties": False,
    }
    # profiles: when a row counts (created; a history's valid_from and valid_to, together)
    profile = {**table, "properties": {**table["properties"], **{k: _TEXT for k in _POINT_IN_TIME}}}
    profile["dependentRequired"] = {"valid_from": ["valid_to"], "valid_to": ["valid_from"]}
    targets = [
        {
            "type": "object",
            "required": ["engine"],
            "properties": {
                "engine": {"const": engine},
                **{s: _TEXT for s in settings},
                "tables": _mapping(_TEXT),
            },
            "additionalProperties": False,
        }
        for engine, settings in SETTINGS.items()
    ]
    properties: dict[str, Any] = {
        "entity": _TEXT,
        "key": _TEXT,
        "profiles": {"oneOf": [_TEXT, profile]},
        "sources": _mapping(
            {"if": {"required": ["sessions_of"]}, "then": sessions, "else": source}
        ),
        "universe": _CONDITION,
        "timezone": _TEXT,
        "dialect": {"enum": list(DIALECTS)},
        "database": _TEXT,
        "targets": _mapping({"oneOf": targets}),
        "pii": {"type": "array", "items": _TEXT},
        "state_schema": _TEXT,
    }
    assert set(properties) == set(_KEYS), "segql.yml settings and the schema differ"
    return {
        "$schema": SCHEMA_URI,
        "title": "segql project file (segql.yml)",
        "type": "object",
        "required": ["key", "sources"],
        "properties": properties,
        "additionalProperties": False,
    }


def definitions() -> dict[str, Any]:
    from segql.syntax.ast import SCALE_METHODS
    from segql.syntax.yaml_front import (
        CLUSTERS_FIELDS,
        KINDS,
        SECTIONS,
        SEGMENT_FIELDS,
        SEGMENTATION_FIELDS,
        SPLIT_FIELDS,
    )

    segment_fields: dict[str, Any] = {
        "where": _CONDITION,
        "title": _TEXT,
        "hypothesis": _TEXT,
        "channels": _names(),
        "kpis": _names(),
    }
    segmentation_fields: dict[str, Any] = {
        "by": {"enum": [k for k in KINDS if k != "clusters"]},
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {**_mapping(_CONDITION), "minProperties": 1, "maxProperties": 1},
        },
        "else": _TEXT,
    }
    split_fields: dict[str, Any] = {
        "of": _TEXT,
        "salt": {"type": ["string", "number"]},  # `salt: 2024` is the text 2024
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                **_mapping({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?%$"}),
                "minProperties": 1,
                "maxProperties": 1,
            },
        },
    }
    assert set(split_fields) == set(SPLIT_FIELDS)
    assert set(segment_fields) == set(SEGMENT_FIELDS)
    assert set(segmentation_fields) == set(SEGMENTATION_FIELDS)
    clusters_fields: dict[str, Any] = {
        "by": {"const": "clusters"},
        "k": {"type": "integer", "minimum": 2},
        "features": {"oneOf": [_CONDITION, {"type": "array", "minItems": 1, "items": _CONDITION}]},
        "scale": {"enum": list(SCALE_METHODS)},
        "names": {
            "type": "object",
            "propertyNames": {"pattern": "^[0-9]+$"},
            "additionalProperties": _TEXT,
        },
        "else": _TEXT,
    }
    assert set(clusters_fields) == set(CLUSTERS_FIELDS)
    sections: dict[str, Any] = {
        "traits": _mapping(_CONDITION),
        "segments": _mapping(
            {
                "oneOf": [
                    _CONDITION,
                    {
                        "type": "object",
                        "required": ["where"],
                        "properties": segment_fields,
                        "additionalProperties": False,
                    },
                ]
            }
        ),
        "segmentations": _mapping(
            {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["rules"],
                        "properties": segmentation_fields,
                        "additionalProperties": False,
                    },
                    {  # LANGUAGE.md §14
                        "type": "object",
                        "required": ["by", "k", "features"],
                        "properties": clusters_fields,
                        "additionalProperties": False,
                    },
                ]
            }
        ),
        "splits": _mapping(
            {
                "type": "object",
                "required": ["of", "groups"],
                "properties": split_fields,
                "additionalProperties": False,
            }
        ),
    }
    assert set(sections) == set(SECTIONS)
    return {
        "$schema": SCHEMA_URI,
        "title": "segql definitions (YAML form)",
        "type": "object",
        "properties": sections,
        "additionalProperties": False,
    }


def tests() -> dict[str, Any]:
    from segql.ops.unit_tests import _KEYS

    scalar = {"type": ["string", "number", "boolean", "null"]}
    test = {
        "type": "object",
        "required": list(_KEYS),
        "properties": {
            "name": _TEXT,
            "as_of": _TEXT,
            "given": _mapping({"type": "array", "items": _mapping(scalar)}),
            "expect": _mapping({"oneOf": [{"type": "array", "items": scalar}, _mapping(scalar)]}),
        },
        "additionalProperties": False,
    }
    return {
        "$schema": SCHEMA_URI,
        "title": "segql unit tests (segql test)",
        "type": "object",
        "required": ["tests"],
        "properties": {"tests": {"type": "array", "items": test}},
        "additionalProperties": False,
    }


def schema(name: str) -> dict[str, Any]:
    return {"project": project, "definitions": definitions, "tests": tests}[name]()
