"""Running a generated case: load the data, compile, run on an engine, compare
with the oracle, and check the properties that need no oracle.

Counts: a *case* is one output (a segment or a segmentation) of one generated
project at one as_of, compared on one engine for every universe entity.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot.tokens import TokenType

from segql import api
from segql.semantic.model import Model
from segql.sql.dialects import DIALECTS
from segql.syntax.ast import Segment, Segmentation

from .evaluate import UNCERTAIN, Evaluation, evaluate
from .gen import COLUMNS, Case

PARSE_BACK = ("bigquery", "snowflake", "trino", "databricks", "spark")


@dataclass
class Stats:
    examples: int = 0
    cases: Counter = field(default_factory=Counter)  # engine -> cases compared
    entities: Counter = field(default_factory=Counter)  # engine -> entity values compared
    uncertain: int = 0  # oracle values skipped (floating-point near ties)
    partitions: int = 0  # (p, not p) pairs checked
    split: int = 0  # cases where the oracle puts some entities in and some out
    parsed_back: Counter = field(default_factory=Counter)  # dialect -> queries parsed back
    constructs: set = field(default_factory=set)  # language constructs compiled

    def line(self) -> str:
        engines = ", ".join(
            f"{e}: {n} cases / {self.entities[e]} entity values"
            for e, n in sorted(self.cases.items())
        )
        back = ", ".join(f"{d} {n}" for d, n in sorted(self.parsed_back.items()))
        return (
            f"{self.examples} generated projects; {engines}; {self.partitions} partition "
            f"checks; {self.split} cases with members and non-members; {self.uncertain} "
            f"uncertain oracle values skipped; parsed back: {back}"
        )


@dataclass
class Engine:
    """A SQL engine to compare with the oracle."""

    name: str
    dialect: str
    load: Callable[[duckdb.DuckDBPyConnection, Case], None]
    run: Callable[[str], tuple[list[str], list[tuple]]]


class Mismatch(AssertionError):
    pass


# ------------------------------------------------------------------ DuckDB


def duckdb_with(case: Case) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the case's tables (all three, empty when absent)."""
    con = duckdb.connect()
    for table, cols in COLUMNS.items():
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in cols)})")
        rows = case.tables.get(table, [])
        if rows:
            marks = ", ".join("?" for _ in cols)
            con.executemany(
                f"INSERT INTO {table} VALUES ({marks})", [[r[c] for c, _ in cols] for r in rows]
            )
    return con


def duckdb_engine(holder: dict) -> Engine:
    def run(sql: str):
        cur = holder["con"].execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()

    return Engine("duckdb", "duckdb", lambda con, case: holder.__setitem__("con", con), run)


# ------------------------------------------------------------------ one case


def load_model(case: Case, con, root: Path) -> Model:
    (root / "segql.yml").write_text(case.yaml(), encoding="utf-8")
    paths = []
    for name, text in case.files.items():
        (root / name).write_text(text, encoding="utf-8")
        paths.append(str(root / name))
    if case.fits:
        write_fits(case, con, root, paths)
    return api.load(paths, str(root / "segql.yml"), con=con)


def write_fits(case: Case, con, root: Path, paths: list[str]) -> None:
    """The generated fit files, each with the hash of its features as loaded
    (a clusters segmentation compiles only with a fit of its current features)."""
    import json

    from segql.project import load_project

    unfitted = api.load_with(load_project(root / "segql.yml"), paths, con, check_fits=False)
    (root / "clusters").mkdir(exist_ok=True)
    for name, fit in case.fits.items():
        if name not in unfitted.cluster_hashes:  # dropped by the minimiser
            continue
        doc = {"definitions_hash": unfitted.cluster_hashes[name], **fit}
        (root / "clusters" / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")


def run_case(case: Case, engines: list[Engine], stats: Stats, parse_back: int = 1) -> None:
    """Compile and run the case on each engine and compare with the oracle;
    every `parse_back`-th case (0: never) also checks the other dialects."""
    con = duckdb_with(case)
    # the project folder lives as long as the case: the oracle reads fit files there
    folder = tempfile.TemporaryDirectory()
    try:
        model = load_model(case, con, Path(folder.name))
        stats.constructs.update(constructs(model))
        if any(f.endswith(".yml") for f in case.files):
            stats.constructs.add("yaml form")
        for engine in engines:
            engine.load(con, case)
        tables = {t: [dict(r) for r in rows] for t, rows in case.tables.items()}
        for as_of in case.as_ofs:
            expected = evaluate(model, tables, as_of)
            for engine in engines:
                sql = api.compile_model(model, engine.dialect, as_of).sql()
                if as_of == case.as_ofs[0]:
                    again = api.compile_model(model, engine.dialect, as_of).sql()
                    assert sql == again, f"compiling twice differs on {engine.dialect}"
                names, rows = engine.run(sql)
                compare(case, model, expected, names, rows, engine.name, as_of, stats, sql)
        if parse_back and stats.examples % parse_back == 0:
            # alternately a fixed as_of and the engine's clock (LiveClock)
            live = (stats.examples // parse_back) % 2 == 1
            check_parse_back(model, None if live else case.as_ofs[0], stats)
        stats.examples += 1
    finally:
        con.close()
        folder.cleanup()


def constructs(model: Model) -> set[str]:
    """The language constructs a model uses (for the coverage check)."""
    from segql.semantic.model import DefRef, LabelRef, ProfileRef
    from segql.syntax import ast

    seen: set[str] = set()
    sources = model.project.sources

    def of_sessions(e) -> bool:
        """Whether e reads a sessions source (§17 constructs together)."""
        return any(
            isinstance(m, ast.SourceRef | ast.SourceCol) and sources[m.source].sessions is not None
            for m in ast.walk(e)
        )

    profiles = model.project.profiles
    if profiles is not None and profiles.point_in_time.created is not None:
        seen.add("created")
    if profiles is not None and profiles.point_in_time.history:
        seen.add("history")
    for d in model.definitions.values():
        seen.add(type(d).__name__.lower() + (f" by {d.by}" if isinstance(d, Segmentation) else ""))
        if isinstance(d, Segmentation) and d.catch_all is not None:
            seen.add("else")
        if isinstance(d, ast.Split):
            seen.add("split salt" if d.salt is not None else "split default salt")
        for e in ast.definition_exprs(d):
            for n in ast.walk(e):
                match n:
                    case ast.Aggregate(func=f, window=w, where=cond):
                        seen.add(f"{f}()")
                        if cond is not None:
                            seen.add("where")
                        if w is not None:
                            seen.add(type(w).__name__)
                            if isinstance(w, ast.CalendarWindow):
                                seen.add(f"calendar {w.unit}")
                                seen.add("calendar previous" if w.offset else "calendar this")
                            if isinstance(w, ast.StaticWindow):
                                seen.add(f"static {w.kind}")
                            if isinstance(w, ast.AnchoredWindow):
                                if of_sessions(n.value):
                                    seen.add("anchored window over sessions")
                                if of_sessions(w.anchor):
                                    seen.add("anchor over sessions")
                    case ast.Sequence(steps=steps, on=on, window=w):
                        seen.add(f"sequence of {len(steps)}")
                        if steps[-1].negated:
                            seen.add("then not")
                        if n.within is None:
                            seen.add("sequence without within")
                            if steps[-1].negated and len(steps) > 2:
                                seen.add("then not after a chain")
                        if any(s.directly for s in steps):
                            seen.add("then directly")
                        if on is not None:
                            seen.add("on")
                        if w is not None:
                            seen.add("sequence window")
                        if isinstance(w, ast.AnchoredWindow):
                            seen.add("anchored sequence window")
                        over = [sources[s.source.name].sessions is not None for s in steps]
                        if any(over):
                            seen.add("sequence over sessions")
                            if any(s.directly for s in steps) and n.within is None:
                                seen.add("then directly over sessions")
                            if over[0] and isinstance(w, ast.AnchoredWindow):
                                seen.add("anchored sequence over sessions")
                    case ast.SourceRef(source=src) | ast.SourceCol(source=src):
                        sessions = model.project.sources[src].sessions
                        if sessions is not None:
                            seen.add("sessions by " + ("gap" if sessions.gap else "id"))
                    case ast.Call(func=f):
                        seen.add(f"{f}()")
                    case ast.Binary(op=op) | ast.Unary(op=op):
                        seen.add(op)
                    case ast.InList(negated=neg):
                        seen.add("not in" if neg else "in")
                    case ast.Between(negated=neg):
                        seen.add("not between" if neg else "between")
                    case ast.Like(negated=neg):
                        seen.add("not like" if neg else "like")
                    case ast.IsNull(negated=neg):
                        seen.add("is not null" if neg else "is null")
                    case DefRef(kind=kind):
                        seen.add(f"{kind} reference")
                    case LabelRef():
                        seen.add("label reference")
                    case ProfileRef():
                        seen.add("profile column")
    return seen


def outputs(model: Model) -> list[str]:
    return list(model.selected)


def compare(
    case: Case,
    model: Model,
    expected: Evaluation,
    names: list[str],
    rows: list[tuple],
    engine: str,
    as_of: dt.datetime,
    stats: Stats,
    sql: str,
) -> None:
    key = model.project.key
    want_names = [key, *outputs(model)]

    def fail(what: str, entity: Any = None) -> None:
        detail = [f"{engine} disagrees with the oracle at as_of {as_of.isoformat()}: {what}"]
        if entity is not None:
            detail.append(f"entity {entity!r}; its rows:")
            for table, trows in case.tables.items():
                detail += [f"  {table}: {r}" for r in trows if r.get(key) == entity]
        detail += ["", case.describe(), "", sql]
        raise Mismatch("\n".join(detail))

    if names != want_names:
        fail(f"columns {names} != {want_names}")
    got: dict[Any, tuple] = {}
    for r in rows:
        if r[0] in got:
            fail(f"entity {r[0]!r} appears twice")
        got[r[0]] = r[1:]
    if set(got) != expected.universe:
        fail(
            f"universe: engine has {sorted(got, key=repr)}, oracle has "
            f"{sorted(expected.universe, key=repr)}"
        )
    for i, name in enumerate(outputs(model)):
        d = model.definitions[name]
        oracle = expected.segments[name] if isinstance(d, Segment) else expected.segmentations[name]
        for k, values in got.items():
            want = oracle[k]
            if want is UNCERTAIN:
                stats.uncertain += 1
                continue
            have = values[i]
            if have != want or type(have) is not type(want):
                fail(f"{name}: engine {have!r}, oracle {want!r}\n  {case.sources.get(name)}", k)
            stats.entities[engine] += 1
        stats.cases[engine] += 1
        if len({v for v in oracle.values() if v is not UNCERTAIN}) > 1:
            stats.split += 1
        if isinstance(d, Segmentation):
            allowed = {r.label for r in d.rules} | ({d.catch_all.label} if d.catch_all else set())
            if d.clusters is not None:
                allowed |= {d.clusters.label(j) for j in range(1, d.clusters.k + 1)}
            for k, values in got.items():
                label = values[i]
                if label is None and d.catch_all is not None:
                    fail(f"{name} leaves an entity unlabelled despite 'else'", k)
                if label is not None and label not in allowed:
                    fail(f"{name} gives an unknown label {label!r}", k)
    index = {n: i for i, n in enumerate(outputs(model))}
    for p, n in case.pairs:
        for k, values in got.items():
            a, b = values[index[p]], values[index[n]]
            if not ((a is True and b is False) or (a is False and b is True)):
                fail(
                    f"partition: {p} = {a!r} and {n} = not ({p}) = {b!r}\n  {case.sources.get(p)}",
                    k,
                )
        stats.partitions += 1


# ------------------------------------------------------------------ other dialects


def _norm(text: str) -> str:
    return " ".join(text.upper().replace("(", " ( ").replace(")", " ) ").split())


def _without_strings(sql: str, dialect: str) -> str:
    """SQL text with string literals and quoted identifiers blanked (user text
    may legitimately contain words such as NTILE), normalised for searching."""
    out = []
    for tok in sqlglot.tokenize(sql, read=dialect):
        if tok.token_type in (
            TokenType.STRING,
            TokenType.NATIONAL_STRING,
            TokenType.RAW_STRING,
            TokenType.IDENTIFIER,
        ):
            out.append("x")
        else:
            out.append(tok.text)
    return _norm(" ".join(out))


def check_parse_back(model: Model, as_of: dt.datetime | None, stats: Stats) -> None:
    """Every query for an engine we cannot run parses back in that dialect, is
    deterministic, and contains none of the constructs the engine lacks."""
    for i, name in enumerate(PARSE_BACK):
        d = DIALECTS[name]
        for when in (as_of,):
            sql = api.compile_model(model, name, when).sql()
            if i == stats.examples % len(PARSE_BACK):  # compiling twice: one dialect a time
                again = api.compile_model(model, name, when).sql()
                assert sql == again, f"{name}: not deterministic"
            try:
                trees = sqlglot.parse(sql, read=d.sqlglot)
            except sqlglot.errors.ParseError as e:
                raise AssertionError(f"{name} query does not parse back: {e}\n{sql}") from None
            assert len([t for t in trees if t is not None]) == 1, f"{name}: not one statement"
            text = _without_strings(sql, d.sqlglot)
            for lack in d.lacks:
                assert _norm(lack) not in text, f"{name} query uses {lack!r}:\n{sql}"
            stats.parsed_back[name] += 1


# ------------------------------------------------------------------ minimising


def _rebuild(case: Case, sources: dict[str, str], **changes) -> Case:
    pairs = [(p, n) for p, n in case.pairs if p in sources and n in sources]
    files = {"a.seg": "\n\n".join(sources.values()) + "\n"}
    fields = dict(case.__dict__, files=files, sources=dict(sources), pairs=pairs)
    fields.update(changes)
    return Case(**fields)


def minimise(case: Case, fails: Callable[[Case], bool], budget: int = 400) -> Case:
    """A smaller case that still fails: greedy removal of as_of instants,
    definitions and rows (definitions others need make the case invalid, which
    counts as not failing)."""
    tries = 0

    def check(c: Case) -> bool:
        nonlocal tries
        tries += 1
        return fails(c)

    case = _rebuild(case, case.sources)
    for a in case.as_ofs:
        if len(case.as_ofs) > 1 and check(_rebuild(case, case.sources, as_ofs=[a])):
            case = _rebuild(case, case.sources, as_ofs=[a])
            break
    changed = True
    while changed and tries < budget:
        changed = False
        for name in list(case.sources):
            if len(case.sources) == 1 or tries >= budget:
                break
            rest = {n: t for n, t in case.sources.items() if n != name}
            candidate = _rebuild(case, rest)
            if check(candidate):
                case, changed = candidate, True
        for table in list(case.tables):
            rows = case.tables[table]
            chunk = max(1, len(rows) // 2)
            while chunk >= 1 and tries < budget:
                i = 0
                while i < len(rows) and tries < budget:
                    fewer = rows[:i] + rows[i + chunk :]
                    candidate = _rebuild(case, case.sources, tables={**case.tables, table: fewer})
                    if check(candidate):
                        case, rows, changed = candidate, fewer, True
                    else:
                        i += chunk
                chunk //= 2
    return case


def failing(engines: list[Engine], kind: type[BaseException]) -> Callable[[Case], bool]:
    """A predicate for `minimise`: the case still fails the same way."""

    def fails(c: Case) -> bool:
        try:
            run_case(c, engines, Stats(), parse_back=0)
        except kind:
            return True
        except Exception:
            return False
        return False

    return fails


def check_case(case: Case, engines: list[Engine], stats: Stats, parse_back: int = 1) -> None:
    """run_case; on a mismatch or an engine error, minimise the case and report
    the small one (with the original failure)."""
    try:
        run_case(case, engines, stats, parse_back)
    except Exception as first:
        kind = type(first)
        small = minimise(case, failing(engines, kind))
        try:
            run_case(small, engines, Stats(), parse_back=0)
        except kind as e:
            raise Mismatch(
                f"minimised case ({kind.__name__}):\n{e}\n\n{small.describe()}\n\n"
                f"--- original failure ---\n{first}"
            ) from None
        raise
