"""The workbench around the language (LANGUAGE.md §15-16, issue 17): JSON
Schemas every example validates against, `segql init`, `validate --format
json`, and the pre-commit hooks."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from segql.cli import app
from segql.syntax import json_schema

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples" / "segments"


class _TextTimestamps(yaml.SafeLoader):
    """YAML as an editor's schema check sees it: timestamps stay text."""


_TextTimestamps.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path: Path) -> object:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TextTimestamps)  # noqa: S506


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json_schema.schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def yaml_files() -> list[Path]:
    found = [p for p in ROOT.rglob("*.yml") if ".venv" not in p.parts and ".cache" not in p.parts]
    return sorted(
        p for p in found if "errors" not in p.parts
    )  # the error catalogue is wrong on purpose


def kind(path: Path) -> str | None:
    doc = load(path)
    if path.name == "segql.yml":
        return "project"
    if isinstance(doc, dict) and "tests" in doc:
        return "tests"
    if isinstance(doc, dict) and {"traits", "segments", "segmentations"} & set(doc):
        return "definitions"
    return None


def test_every_yaml_file_of_the_repository_validates():
    checked = {"project": 0, "definitions": 0, "tests": 0}
    for path in yaml_files():
        what = kind(path)
        if what is None:
            continue
        errors = list(validator(what).iter_errors(load(path)))
        assert not errors, f"{path}: {errors[0].message}"
        checked[what] += 1
    assert all(checked.values()), checked


@pytest.mark.parametrize(
    ("name", "doc", "fragment"),
    [
        ("project", {"key": "id", "sources": {}, "dialekt": "duckdb"}, "dialekt"),
        ("project", {"key": "id", "sources": {}, "targets": {"x": {"engine": "oracle"}}}, ""),
        ("project", {"key": "id", "sources": {"o": {"table": "o"}}}, "time"),
        # sessions as a source (LANGUAGE.md §17): a gap or an id, not both, no table
        ("project", {"key": "id", "sources": {"s": {"sessions_of": "o"}}}, ""),
        (
            "project",
            {"key": "id", "sources": {"s": {"sessions_of": "o", "gap": "1 day", "id": "x"}}},
            "",
        ),
        (
            "project",
            {"key": "id", "sources": {"s": {"sessions_of": "o", "id": "x", "table": "t"}}},
            "table",
        ),
        ("definitions", {"segments": {"x": {"title": "no where"}}}, ""),
        ("definitions", {"segmentations": {"x": {"by": "size", "rules": [{"a": "true"}]}}}, ""),
        ("tests", {"tests": [{"name": "x", "as_of": "2024-01-01", "given": {}}]}, "expect"),
    ],
)
def test_invalid_documents_are_rejected(name, doc, fragment):
    errors = list(validator(name).iter_errors(doc))
    assert errors
    assert any(fragment in e.message for e in errors) or not fragment


def test_schema_json_prints_the_three_schemas():
    r = CliRunner().invoke(app, ["schema", "json"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert list(doc) == ["project", "definitions", "tests"]
    assert json.loads(CliRunner().invoke(app, ["schema", "json", "tests"]).stdout) == doc["tests"]
    r = CliRunner().invoke(app, ["schema", "json", "test"])
    assert r.exit_code == 2 and "schemas are project, definitions, tests" in r.stderr


def test_init_makes_a_project_that_validates_and_passes_its_test(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    r = runner.invoke(app, ["--strict", "validate", "."])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["test"])
    assert r.exit_code == 0 and r.stdout.endswith("1 test, 0 failed\n"), r.output
    r = runner.invoke(app, ["preview", ".", "--sample", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["segments"][0]["members"] > 0
    for path in tmp_path.rglob("*.yml"):
        what = kind(path)
        if what is not None:
            assert not list(validator(what).iter_errors(load(path))), path
    # nothing is overwritten
    before = (tmp_path / "segments.seg").read_text()
    r = runner.invoke(app, ["init"])
    assert r.exit_code == 1 and "not overwriting segql.yml" in r.stderr
    assert (tmp_path / "segments.seg").read_text() == before


def test_validate_json_gives_every_diagnostic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(app, ["init"])
    (tmp_path / "schema.yml").unlink()  # unknown time types: warnings
    (tmp_path / "bad.seg").write_text("segment x = count(order) > 1\n")
    r = CliRunner().invoke(app, ["validate", ".", "--format", "json"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert (doc["ok"], doc["errors"]) == (False, 1)
    error = next(d for d in doc["diagnostics"] if d["severity"] == "error")
    assert error == {
        "file": "bad.seg",
        "line": 1,
        "col": 19,
        "end_line": 1,
        "end_col": 24,
        "severity": "error",
        "message": "unknown source 'order' (did you mean 'orders'?)",
        "help": [],
    }
    (tmp_path / "bad.seg").unlink()
    doc = json.loads(CliRunner().invoke(app, ["validate", ".", "--format", "json"]).stdout)
    assert doc["ok"] and doc["warnings"] == 2
    assert {d["severity"] for d in doc["diagnostics"]} == {"warning"}
    assert doc["diagnostics"][0]["file"] == "segql.yml" and doc["diagnostics"][0]["help"]
    r = CliRunner().invoke(app, ["validate", ".", "--format", "json", "--strict"])
    assert r.exit_code == 1 and json.loads(r.stdout)["errors"] == 2


def test_pre_commit_hooks_run_in_the_example_project(monkeypatch):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["segql-fmt", "segql-validate", "segql-test"]
    monkeypatch.chdir(EXAMPLES)
    for hook in hooks:
        program, *args = shlex.split(hook["entry"])
        assert program == "segql" and hook["language"] == "python"
        if hook["id"] == "segql-fmt":  # rewrites the files it is given: here, checks them
            assert hook["pass_filenames"] and hook["files"] == r"\.seg$"
            args += ["--check", *sorted(str(p) for p in Path().glob("*.seg"))]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, (hook["id"], r.output)


def test_preview_shows_the_marketing_context(monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    r = CliRunner().invoke(app, ["preview", ".", "--sample", "--format", "json"])
    segments = {s["name"]: s for s in json.loads(r.stdout)["segments"]}
    high = segments["high_value"]  # language.seg: title, hypothesis, channels, kpis
    assert high["title"] == "High-value customers"
    assert high["hypothesis"] == "High spenders respond to early access to launches"
    assert high["channels"] == ["email", "push"]
    assert high["kpis"] == ["conversion_rate", "average_order_value"]
    assert segments["recent_buyers"]["title"] is None and segments["recent_buyers"]["kpis"] == []
    r = CliRunner().invoke(app, ["preview", ".", "--sample"], env={"COLUMNS": "200"})
    assert "High-value customers · email, push · conversion_rate, average_order_value" in r.stdout
