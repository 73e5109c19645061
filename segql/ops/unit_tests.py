"""`segql test` (LANGUAGE.md §15): unit tests for segments, with given rows.

    tests:
      - name: a cart needs a day of follow-up before it counts
        as_of: 2024-06-01T00:00:00
        given:
          customers:  [{customer_id: c1, consent_marketing: true}]
          web_events: [{customer_id: c1, occurred_at: 2024-05-31T10:00:00, name: add_to_cart}]
        expect:
          cart_abandoners: []            # exactly these members
          lifecycle: {c1: browsers}      # labels of these keys

Given tables are the tables segql.yml names, their columns typed as the
project knows them (the database, schema.yml, `columns:`): a table or column
the project does not have, or a value of another type, is an error at its
line, before anything runs — never a silently empty result or a guessed type.
Omitted columns are null, tables not given are empty.

Each test writes its rows into scratch tables through the engine interface
(DuckDB in memory by default; on `--target` a scratch schema, dropped at the
end), runs the project's one membership query at as_of against them and
compares.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import yaml
from sqlglot import exp

from segql.engines.base import Engine
from segql.errors import Diagnostics, SegqlError, Span, did_you_mean
from segql.project import Project, Table
from segql.semantic.model import BOOLEAN, DATE, NUMBER, STRING, TIMESTAMP, Model
from segql.semantic.schema import Catalog, is_complete
from segql.syntax import ast
from segql.syntax.yamlsrc import compose, mapping_items, scalar, span_of

_KEYS = ("name", "as_of", "given", "expect")


@dataclass(frozen=True)
class Value:
    value: object
    span: Span


@dataclass(frozen=True)
class Row:
    table: str
    values: dict[str, Value]
    span: Span
    columns: dict[str, Span]  # where each column is named


@dataclass(frozen=True)
class Expect:
    output: str
    members: list[Value] | None  # a segment: exactly these
    labels: dict[object, tuple[Value, Value]] | None  # key -> (key, label)
    span: Span


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    as_of: dt.datetime
    given: dict[str, list[Row]]  # table as segql.yml names it -> rows
    expect: list[Expect]
    span: Span
    table_spans: dict[str, Span] = field(default_factory=dict)  # where `given` names each


@dataclass
class Failure:
    output: str
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    labels: list[tuple[object, object, object]] = field(default_factory=list)  # key, exp, got


@dataclass(frozen=True)
class Outcome:
    case: Case
    failures: tuple[Failure, ...]
    rows: dict  # key -> [(table, {column: value})] for the keys named in failures

    @property
    def passed(self) -> bool:
        return not self.failures


# ---------------------------------------------------------------- files


def is_test_file(path: Path) -> bool:
    """A YAML file whose top level holds `tests:`."""
    from segql.syntax.text import read_source

    if path.suffix.lower() not in (".yml", ".yaml"):
        return False
    try:
        data = yaml.safe_load(read_source(path))
    except (SegqlError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "tests" in data


def test_files(paths: list[str], root: Path) -> list[Path]:
    """The test files PATHs name (default: every one under the project root)."""
    found: list[Path] = []
    for given in paths or [str(root)]:
        p = Path(given)
        if p.is_dir():
            found += sorted(
                f
                for f in p.rglob("*")
                if f.suffix.lower() in (".yml", ".yaml")
                and not any(
                    part.startswith(".") or part in (".venv", "node_modules")
                    for part in f.relative_to(p).parts
                )
                and is_test_file(f)
            )
        elif not p.exists():
            raise SegqlError(f"no such file or folder '{given}'")
        elif not is_test_file(p):
            raise SegqlError(f"'{given}' holds no 'tests:'", None, ("see docs/workbench.md",))
        else:
            found.append(p)
    from segql.syntax.loader import display

    return list(dict.fromkeys(display(f) for f in found))


def read_cases(path: Path, timezone: str, diags: Diagnostics) -> tuple[list[Case], str]:
    """The tests of one file and its text; problems go to diags."""
    from segql import api
    from segql.syntax.text import read_source

    file = str(path)
    text = read_source(path)
    root = compose(text, file)
    cases: list[Case] = []
    tests = next((v for k, v in mapping_items(root) if scalar(k) == "tests"), None)
    if not isinstance(tests, yaml.SequenceNode):
        diags.error("'tests' must be a list of tests", span_of(tests or root, file))
        return cases, text
    for node in tests.value:
        fields = {scalar(k): (k, v) for k, v in mapping_items(node)}
        for k, _ in fields.values():
            if scalar(k) not in _KEYS:
                hint = did_you_mean(scalar(k) or "", _KEYS)
                diags.error(
                    f"unknown key '{scalar(k)}' in a test" + (f" ({hint})" if hint else ""),
                    span_of(k, file),
                    "a test has " + ", ".join(_KEYS),
                )
        span = span_of(node, file)
        missing = [k for k in _KEYS if k not in fields]
        if missing:
            diags.error(f"a test needs {', '.join(repr(m) for m in missing)}", span)
            continue
        name = scalar(fields["name"][1]) or ""
        when = _value(fields["as_of"][1])
        try:
            as_of = (
                api.parse_as_of(when.isoformat(), timezone)
                if isinstance(when, dt.date)
                else api.parse_as_of(str(when), timezone)
            )
        except SegqlError as e:
            diags.error(e.message, span_of(fields["as_of"][1], file), *e.hints)
            continue
        spans: dict[str, Span] = {}
        given = _given(fields["given"][1], file, diags, spans)
        expect = _expect(fields["expect"][1], file, diags)
        cases.append(Case(name, file, as_of, given, expect, span, spans))
    return cases, text


def _value(node: yaml.Node) -> object:
    """A YAML value as PyYAML types it (dates, numbers, booleans, strings)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _given(
    node: yaml.Node, file: str, diags: Diagnostics, spans: dict[str, Span]
) -> dict[str, list[Row]]:
    """Rows per table; `spans` gets where each table is named."""
    out: dict[str, list[Row]] = {}
    if not isinstance(node, yaml.MappingNode):
        diags.error("'given' maps tables to lists of rows", span_of(node, file))
        return out
    for k, v in mapping_items(node):
        table = scalar(k) or ""
        rows = out.setdefault(table, [])
        if not isinstance(v, yaml.SequenceNode):
            diags.error(f"'{table}' needs a list of rows", span_of(v, file))
            continue
        for r in v.value:
            if not isinstance(r, yaml.MappingNode):
                diags.error("a row is a mapping of columns to values", span_of(r, file))
                continue
            values = {
                scalar(c) or "": Value(_value(x), span_of(x, file)) for c, x in mapping_items(r)
            }
            columns = {scalar(c) or "": span_of(c, file) for c, _ in mapping_items(r)}
            rows.append(Row(table, values, span_of(r, file), columns))
        spans[table] = span_of(k, file)
    return out


def _expect(node: yaml.Node, file: str, diags: Diagnostics) -> list[Expect]:
    out: list[Expect] = []
    if not isinstance(node, yaml.MappingNode):
        diags.error(
            "'expect' maps segments to members, segmentations to labels", span_of(node, file)
        )
        return out
    for k, v in mapping_items(node):
        name, span = scalar(k) or "", span_of(k, file)
        if isinstance(v, yaml.SequenceNode):
            out.append(
                Expect(name, [Value(_value(x), span_of(x, file)) for x in v.value], None, span)
            )
        elif isinstance(v, yaml.MappingNode):
            labels = {}
            for key, label in mapping_items(v):
                kv = Value(_value(key), span_of(key, file))
                labels[normal(kv.value)] = (kv, Value(_value(label), span_of(label, file)))
            out.append(Expect(name, None, labels, span))
        else:
            diags.error(
                f"expect '{name}': a list of members (segment) or key: label (segmentation)",
                span_of(v, file),
            )
    return out


def normal(key: object) -> object:
    """Keys compared as values: 1, 1.0 and Decimal('1') are one key."""
    if isinstance(key, bool) or key is None:
        return key
    if isinstance(key, int | float | Decimal):
        f = float(key)
        return int(f) if f.is_integer() else f
    return key


# ---------------------------------------------------------------- checks


def check_cases(
    cases: list[Case], project: Project, catalog: Catalog, model: Model, diags: Diagnostics
) -> None:
    """Every given table and column exists, every value has its column's type,
    every expected output is a segment (list) or segmentation (labels)."""
    tables = {t.name: t for t in project.tables}
    sources = {s.name: s.table.name for s in project.sources.values()}
    for case in cases:
        for table, rows in case.given.items():
            if table in tables and not is_complete(catalog.columns(tables[table])):
                diags.error(
                    f"the columns of table '{table}' are not known, so its rows cannot be typed",
                    case.table_spans.get(table, case.span),
                    "write schema.yml with 'segql schema pull', or set 'database:' in segql.yml",
                )
                continue
            if table not in tables:
                span = case.table_spans.get(table, case.span)
                if table in sources:  # given rows belong to tables, as in the warehouse
                    message = (
                        f"'{table}' is a source: give the rows of its table '{sources[table]}'"
                    )
                else:
                    hint = did_you_mean(table, tables)
                    message = f"unknown table '{table}'" + (f" ({hint})" if hint else "")
                diags.error(message, span, "tables are " + ", ".join(tables))
                continue
            columns = catalog.columns(tables[table]) or {}
            for row in rows:
                for column, v in row.values.items():
                    if column not in columns:
                        hint = did_you_mean(column, columns)
                        diags.error(
                            f"table '{table}' has no column '{column}'"
                            + (f" ({hint})" if hint else ""),
                            row.columns[column],
                            "columns are " + ", ".join(columns),
                        )
                        continue
                    problem = _type_problem(v.value, columns[column])
                    if problem:
                        diags.error(f"'{column}' of '{table}' {problem}", v.span)
        for e in case.expect:
            d = model.definitions.get(e.output)
            kinds = (ast.Segment,) if e.members is not None else (ast.Segmentation, ast.Split)
            outputs = ast.Segment | ast.Segmentation | ast.Split
            if not isinstance(d, outputs):
                pool = [n for n, x in model.definitions.items() if isinstance(x, outputs)]
                hint = did_you_mean(e.output, pool)
                message = f"unknown segment or segmentation '{e.output}'"
                diags.error(message + (f" ({hint})" if hint else ""), e.span)
            elif not isinstance(d, kinds):
                what = "a list of members" if isinstance(d, ast.Segment) else "key: label pairs"
                diags.error(f"'{e.output}' is a {type(d).__name__.lower()}: expect {what}", e.span)


def _type_problem(value: object, language_type: str) -> str | None:
    if value is None:
        return None
    ok = {
        NUMBER: isinstance(value, int | float | Decimal) and not isinstance(value, bool),
        STRING: isinstance(value, str),
        BOOLEAN: isinstance(value, bool),
        DATE: isinstance(value, dt.date) and not isinstance(value, dt.datetime),
        TIMESTAMP: isinstance(value, dt.date),
        "timestamptz": isinstance(value, dt.date),
    }.get(language_type, True)
    if ok:
        return None
    shown = repr(value) if isinstance(value, str) else str(value)
    hint = f" (quote it: '{value}')" if language_type == STRING else ""
    return f"is a {language_type}, not {_kind(value)} {shown}{hint}"


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "the boolean"
    if isinstance(value, int | float | Decimal):
        return "the number"
    if isinstance(value, dt.datetime):
        return "the timestamp"
    if isinstance(value, dt.date):
        return "the date"
    return "the text"


# ---------------------------------------------------------------- running


def scratch(project: Project, schema: str) -> tuple[Project, dict[str, str]]:
    """The project reading scratch tables in `schema`: one per project table."""
    names: dict[str, str] = {}
    for i, t in enumerate(project.tables):
        if t.name not in names:
            base = "".join(c if c.isalnum() else "_" for c in t.parts[-1].rsplit("/", 1)[-1])
            names[t.name] = f"{schema}.t{i}_{base}"

    def moved(t: Table) -> Table:
        return replace(t, name=names[t.name])

    sources = {n: replace(s, table=moved(s.table)) for n, s in project.sources.items()}
    profiles = moved(project.profiles) if project.profiles is not None else None
    return replace(project, sources=sources, profiles=profiles, database=None), names


def scratch_schema() -> str:
    return f"segql_test_{secrets.token_hex(4)}"


def run_case(
    case: Case, model: Model, engine: Engine, catalog: Catalog, names: dict[str, str]
) -> Outcome:
    from segql import api
    from segql.sql.expressions import table_expr

    for table, scratch_name in names.items():
        columns = catalog.raw.get(table) or {}
        rows = case.given.get(table, [])
        batches = [[_row(r, columns) for r in rows]] if rows else []
        engine.write_table(table_expr(Table(scratch_name)), columns, batches)
    result = api.compile_model(model, engine.dialect.name, case.as_of)
    out_names = [c.name for c in result.outputs]
    rows = engine.fetch(result.tree)
    by_key = {normal(r[0]): dict(zip(out_names, r, strict=True)) for r in rows}
    failures = []
    for e in case.expect:
        if e.members is not None:
            got = {k for k, r in by_key.items() if r.get(e.output)}
            want = {normal(v.value) for v in e.members}
            if got != want:
                failures.append(
                    Failure(e.output, sorted(want - got, key=str), sorted(got - want, key=str))
                )
        else:
            wrong = [
                (kv.value, lab.value, (by_key.get(k) or {}).get(e.output))
                for k, (kv, lab) in (e.labels or {}).items()
                if (by_key.get(k) or {}).get(e.output) != lab.value
            ]
            if wrong:
                failures.append(Failure(e.output, labels=wrong))
    keys = {
        normal(k) for f in failures for k in (*f.missing, *f.unexpected, *(x[0] for x in f.labels))
    }
    shown = {}
    key = model.project.key
    for table, rows_ in case.given.items():
        for r in rows_:
            k = r.values.get(key)
            if k is not None and normal(k.value) in keys:
                shown.setdefault(normal(k.value), []).append(
                    (table, {c: v.value for c, v in r.values.items()})
                )
    return Outcome(case, tuple(failures), shown)


def _row(row: Row, columns: dict[str, exp.DataType]) -> tuple:
    return tuple(
        _cell(row.values[c].value, t) if c in row.values else None for c, t in columns.items()
    )


def _cell(value: object, t: exp.DataType) -> object:
    """A YAML value as the column holds it: a date given for a timestamp is its
    midnight; an instant with an offset, naive UTC unless the column keeps zones;
    a number as the column's kind of number (Spark accepts no other)."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        if t.is_type(exp.DataType.Type.DECIMAL):
            return Decimal(str(value))
        if t.is_type(*exp.DataType.REAL_TYPES):
            return float(value)
        if t.is_type(*exp.DataType.INTEGER_TYPES) and float(value).is_integer():
            return int(value)
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and not t.is_type(exp.DataType.Type.TIMESTAMPTZ):
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if (
        isinstance(value, dt.date)
        and t.is_type(*exp.DataType.TEMPORAL_TYPES)
        and not t.is_type(exp.DataType.Type.DATE)
    ):
        return dt.datetime(value.year, value.month, value.day)
    return value


def run_tests(paths: list[str], project: str | None = None, target: str | None = None):
    """Read, check and run the tests PATHs name; returns their Outcomes."""
    from segql import api
    from segql.engines import connect
    from segql.engines.duckdb import DuckDBEngine
    from segql.engines.targets import choose, file_target
    from segql.project import find_project_file, load_project

    proj = load_project(find_project_file(project, paths))
    files = test_files(paths, proj.root)
    if not files:
        raise SegqlError(
            "no tests found",
            None,
            ("write a YAML file with 'tests:' beside the definitions (docs/workbench.md)",),
        )
    diags, texts, cases = Diagnostics(), {proj.file: proj.text}, []
    for f in files:
        found, texts[str(f)] = read_cases(f, proj.timezone, diags)
        cases += found
    diags.check(texts)
    catalog = api.project_catalog(proj)
    schema = "segql_test" if target is None else scratch_schema()
    moved, names = scratch(proj, schema)
    model = api.load_with(moved, [str(proj.root)], catalog=catalog.renamed(names))
    check_cases(cases, proj, catalog, model, diags)
    diags.check(texts)
    if target is None:
        engine: Engine = DuckDBEngine(file_target(":memory:"), proj.root, read_only=False)
    else:
        engine = connect(choose(proj, target), proj.root, read_only=False)
    with engine:
        engine.execute(engine.dialect.create_schema(schema))
        try:
            return [run_case(c, model, engine, catalog, names) for c in cases]
        finally:
            engine.execute(engine.dialect.drop_schema(schema))


# ---------------------------------------------------------------- output


def _where(case: Case) -> str:
    return f"{case.file}:{case.span.line}"


def as_dict(outcomes: list[Outcome]) -> dict:
    from segql.ops.render import json_value

    return {
        "tests": [
            {
                "name": o.case.name,
                "file": o.case.file,
                "line": o.case.span.line,
                "passed": o.passed,
                "failures": [
                    {
                        "output": f.output,
                        "missing": [json_value(k) for k in f.missing],
                        "unexpected": [json_value(k) for k in f.unexpected],
                        "labels": [
                            {"key": json_value(k), "expected": e, "actual": a}
                            for k, e, a in f.labels
                        ],
                    }
                    for f in o.failures
                ],
                "rows": [
                    {
                        "key": json_value(k),
                        "table": t,
                        "row": {c: json_value(v) for c, v in r.items()},
                    }
                    for k, rows in o.rows.items()
                    for t, r in rows
                ],
            }
            for o in outcomes
        ],
        "passed": sum(o.passed for o in outcomes),
        "failed": sum(not o.passed for o in outcomes),
    }


def to_text(outcomes: list[Outcome]) -> str:
    lines = []
    for o in outcomes:
        if o.passed:
            lines.append(f"PASS {o.case.name}")
            continue
        lines.append(f"FAIL {o.case.name} ({_where(o.case)})")
        for f in o.failures:
            if f.missing:
                lines.append(f"  {f.output}: missing {', '.join(map(str, f.missing))}")
            if f.unexpected:
                lines.append(f"  {f.output}: unexpected {', '.join(map(str, f.unexpected))}")
            for k, want, got in f.labels:
                lines.append(f"  {f.output}: {k} expected {_shown(want)}, got {_shown(got)}")
        for k, rows in o.rows.items():
            lines.append(f"  rows of {k}:")
            lines += [f"    {t}: {_row_text(r)}" for t, r in rows]
    failed = sum(not o.passed for o in outcomes)
    n = len(outcomes)
    lines.append(f"{n} test{'s' if n != 1 else ''}, {failed} failed")
    return "\n".join(lines) + "\n"


def _shown(label: object) -> str:
    return "no label" if label is None else str(label)


def _row_text(row: dict) -> str:
    return "{" + ", ".join(f"{c}: {v}" for c, v in row.items()) + "}"
