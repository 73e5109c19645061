"""Resolve: bind every name, check types, find duplicates and cycles.

Input: the parsed modules, the project and its catalog of column types.
Output: a `Model` whose expressions hold reference nodes instead of names.
Every problem is collected and reported at once.
"""

from __future__ import annotations

import dataclasses
from functools import partial

from segql.errors import Diagnostics, Span, closest, did_you_mean, narrow
from segql.project import Project, Table
from segql.semantic import checks
from segql.semantic import clusters as cluster_checks
from segql.semantic.model import (
    ANY,
    BOOLEAN,
    DATE,
    NUMBER,
    STRING,
    TIMESTAMP,
    DefRef,
    LabelRef,
    Model,
    ProfileRef,
    SourceCol,
    SourceRef,
    type_of,
)
from segql.semantic.namespace import Namespace, def_name_span
from segql.semantic.registry import AGGREGATES, FUNCTIONS
from segql.semantic.schema import Catalog, is_complete, key_text_problem, session_columns
from segql.semantic.sessions import check_sessions, may_be_column, session_hint
from segql.semantic.typecheck import TypeChecks
from segql.syntax import ast

LABELED = ("segmentation", "split")  # definitions whose value is a label


def _lang(column_type: str) -> str:
    """Language type of a catalog type: a TIMESTAMPTZ column is a timestamp (the
    generator converts it to UTC; the catalog keeps the difference)."""
    return TIMESTAMP if column_type == "timestamptz" else column_type


def _with_hint(message: str, hint: str) -> str:
    return f"{message} ({hint})" if hint else message


def _invalid(span: Span) -> ast.Expr:
    """Stands in for an expression whose error is already reported: typed 'any',
    so that nothing built on it is reported again (no 'comparison with null')."""
    return ProfileRef("", ANY, span)


class _Resolver(Namespace, TypeChecks):
    """Binds names to reference nodes and checks every definition."""

    def __init__(
        self, project: Project, catalog: Catalog, diags: Diagnostics, sources: dict[str, str]
    ):
        self.project = project
        self.diags = diags
        self.sources = sources  # file -> text as read, to find a name in a span
        self.broken: set[str] = set()  # names of definitions that did not parse
        self.defs: dict[str, ast.Definition] = {}
        self.labels: dict[str, tuple[str, Span]] = {}  # label -> segmentation
        # unknown name -> the definition or label it is a near miss of (near_miss)
        self.near_misses: dict[str, str | None] = {}
        profiles = catalog.columns(project.profiles) if project.profiles else None
        self.profile_cols: dict[str, str] = dict(profiles or {})
        self.profiles_complete = is_complete(profiles)
        if project.profiles is None:
            self.profile_cols = {}
            self.profiles_complete = True
        self.source_cols: dict[str, dict[str, str]] = {}
        self.source_complete: dict[str, bool] = {}
        self.time_types: dict[str, str] = {}
        for name, src in project.sources.items():
            cols = catalog.columns(src.table)
            if src.sessions is not None:
                check_sessions(src, cols, project.key, diags)
                cols = session_columns(cols, project.key)
            self.source_cols[name] = dict(cols or {})
            self.source_complete[name] = is_complete(cols)
            time_span = src.time_span if src.time_span.line else src.span
            self._check_column(name, src.time, time_span, "time column")
            self._check_column(name, project.key, src.span, "key column")
            t = self.source_cols[name].get(src.time, ANY)
            self.time_types[name] = t if t in ("timestamptz", DATE, TIMESTAMP) else TIMESTAMP
            if t == ANY:
                self.unknown_time_type(f"time column '{src.time}' of source '{name}'", time_span)
            if t not in ("timestamptz", DATE, TIMESTAMP, ANY):
                diags.error(
                    f"time column '{src.time}' of source '{name}' is not a date or timestamp",
                    time_span,
                )
        if project.profiles is not None and self.profiles_complete:
            if project.key not in self.profile_cols:
                diags.error(
                    _with_hint(
                        f"key column '{project.key}' not found in profiles table",
                        did_you_mean(project.key, self.profile_cols),
                    ),
                    project.profiles.span,
                )
        for column, span in project.pii.items():  # pii: columns of the profiles, or the key
            if column == project.key or (
                project.profiles is not None and not self.profiles_complete
            ):
                continue
            if column not in self.profile_cols:
                hint = did_you_mean(column, self.profile_cols)
                diags.error(
                    _with_hint(f"pii column '{column}' is not a profile column", hint), span
                )
        if project.profiles is not None:
            self._check_point_in_time(project.profiles)
        # the key is a profile column (every entity has it), not a name to define
        self.profile_cols.pop(project.key, None)
        self.key_problem = key_text_problem(project, catalog)  # for splits
        self.deps: dict[str, set[str]] = {}
        self.ref_spans: dict[tuple[str, str], Span] = {}  # (user, used) -> first use
        self.current: str | None = None
        self.bound: dict[str, ast.Definition] = {}
        self.in_progress: set[str] = set()
        self.unfittable: set[str] = set()  # clusters segmentations with an error

    def unknown_time_type(self, what: str, span: Span) -> None:
        """A date or timestamp column of unknown type is read as a naive UTC
        timestamp; said out loud, because a DATE column would compile to
        different SQL (LANGUAGE.md §2: the SQL never changes silently with
        where it was compiled)."""
        self.diags.warn(
            f"the type of {what} is unknown: it is read as a naive UTC timestamp",
            span,
            "write its type to schema.yml with 'segql schema pull --target NAME', "
            "or declare it under 'columns:' in segql.yml",
        )

    def _check_column(self, source: str, column: str, span: Span, what: str) -> None:
        if self.source_complete[source] and column not in self.source_cols[source]:
            hint = did_you_mean(column, self.source_cols[source])
            self.diags.error(
                _with_hint(f"{what} '{column}' not found in source '{source}'", hint), span
            )

    def _check_point_in_time(self, profiles: Table) -> None:
        """created / valid_from / valid_to: columns of the profiles table holding
        instants (checked when its columns are known)."""
        for setting, column in profiles.point_in_time.columns():
            span = column.span if column.span.line else profiles.span
            if self.profiles_complete and column.name not in self.profile_cols:
                hint = did_you_mean(column.name, self.profile_cols)
                self.diags.error(
                    _with_hint(
                        f"{setting} column '{column.name}' not found in profiles table", hint
                    ),
                    span,
                )
                continue
            t = self.profile_cols.get(column.name, ANY)
            if t not in ("timestamptz", DATE, TIMESTAMP, ANY):
                self.diags.error(
                    f"{setting} column '{column.name}' of the profiles table is not a date or "
                    f"timestamp (it is a {t})",
                    span,
                )
            elif t == ANY:
                self.unknown_time_type(f"{setting} column '{column.name}' of the profiles", span)

    def narrow(self, span: Span, word: str, skip: int = 0, last: bool = False) -> Span:
        return narrow(self.sources.get(span.file), span, word, skip, last)

    # ------------------------------------------------------------ splits

    def split(self, d: ast.Split) -> ast.Split:
        """Bind the segment a split divides; check its groups and the key it hashes."""
        of = d.of
        assert isinstance(of, ast.Name)  # the front ends give a name
        bound: ast.Expr = _invalid(of.span)
        target = self.defs.get(of.name)
        segments = [n for n, x in self.defs.items() if isinstance(x, ast.Segment)]
        if isinstance(target, ast.Segment):
            self._depend(of.name, of.span)
            bound = DefRef(of.name, "segment", BOOLEAN, of.span)
        elif target is not None or of.name in self.labels:
            if target is not None:
                what = type(target).__name__.lower()
            else:
                what = f"label of segmentation '{self.labels[of.name][0]}'"
            self.diags.error(
                _with_hint(
                    f"'{of.name}' is a {what}: a split divides a segment",
                    did_you_mean(of.name, segments),
                ),
                of.span,
            )
        elif of.name not in self.broken:
            pool = segments if segments else list(self.defs)
            self.diags.error(
                _with_hint(f"unknown segment '{of.name}'", did_you_mean(of.name, pool)), of.span
            )
        checks.check_groups(d, self.diags)
        if self.key_problem is not None:
            self.diags.error(
                f"split '{d.name}' needs an integer or string key: {self.key_problem}",
                def_name_span(d, d.name, self.sources.get(d.span.file)),
                "the same key must hash to the same group on every engine, and the "
                "text of a decimal, float or date differs between engines",
            )
        return dataclasses.replace(d, of=bound)

    # ------------------------------------------------------------ clusters

    def clusters(self, d: ast.Segmentation) -> ast.Segmentation:
        """Bind and type-check a clusters segmentation's features; check K and names."""
        c = d.clusters
        assert c is not None
        errors = len(self.diags.errors)
        bound = []
        for i, f in enumerate(c.features, start=1):
            b = self.expr(f)
            cluster_checks.check_feature_type(b, i, d.name, self.diags)
            bound.append(b)
        cluster_checks.check_shape(d, self.diags, self.segmentation_name(d))
        if len(self.diags.errors) > errors:  # its fit file would only add noise
            self.unfittable.add(d.name)
        return dataclasses.replace(d, clusters=dataclasses.replace(c, features=tuple(bound)))

    def segmentation_name(self, d: ast.Segmentation) -> Span:
        """The name of a segmentation written over several lines (its first line)."""
        s = d.span
        first = Span(s.file, s.line, s.col, s.line, s.col + 10_000)
        found = self.narrow(first, d.name, skip=len("segmentation"))
        return d.span if found == first else found

    def fit_clusters(self, bound: dict[str, ast.Definition], check_fits: bool) -> dict[str, str]:
        """Each clusters segmentation's features hash; with check_fits, its fit
        file read and checked, and attached to the bound definition."""
        hashes = {}
        for name, d in list(bound.items()):
            if not isinstance(d, ast.Segmentation) or d.clusters is None:
                continue
            used, todo = {}, list(self.deps.get(name, ()))
            while todo:
                n = todo.pop()
                if n not in used and n in self.defs:
                    used[n] = self.defs[n]
                    todo.extend(self.deps.get(n, ()))
            written = self.defs[name]
            assert isinstance(written, ast.Segmentation) and written.clusters is not None
            hashes[name] = cluster_checks.features_hash(written.clusters.features, used)
            if not check_fits or name in self.unfittable:
                continue
            span = self.segmentation_name(d)
            fit = cluster_checks.read_fit(d, self.project.root, hashes[name], self.diags, span)
            if fit is not None:
                bound[name] = dataclasses.replace(
                    d, clusters=dataclasses.replace(d.clusters, fit=fit)
                )
        return hashes

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Expr, source: str | None = None) -> ast.Expr:
        """Bind names in e. `source` is set inside an aggregate's value/where."""
        match e:
            case ast.Name(name=name):
                return self.name(name, e.span, source)
            case ast.Column(source=src, column=col):
                return self.column(src, col, e.span, source)
            case ast.Aggregate():
                return self.aggregate(e, source)
            case ast.Sequence():
                return self.sequence(e, source)
            case ast.Duration():
                self.diags.error(
                    "a duration is only allowed in a window, 'within' or a half-life", e.span
                )
                return _invalid(e.span)
            case ast.Call(func=f, args=args):
                if FUNCTIONS[f].ranked and source is not None:
                    self.diags.error(
                        f"{f}() ranks entities; it cannot be used inside an aggregate", e.span
                    )
                bound = tuple(self.expr(a, source) for a in args)
                call = dataclasses.replace(e, args=bound)
                self.check_call(call)
                return call
            case _:
                kids: dict[str, ast.Expr | tuple[ast.Expr, ...]] = {}
                for fld in dataclasses.fields(e):  # type: ignore[arg-type]
                    v = getattr(e, fld.name)
                    if isinstance(v, ast.Node):
                        kids[fld.name] = self.expr(v, source)  # type: ignore[arg-type]
                    elif isinstance(v, tuple) and v and isinstance(v[0], ast.Node):
                        kids[fld.name] = tuple(self.expr(x, source) for x in v)
                node = dataclasses.replace(e, **kids) if kids else e  # type: ignore[arg-type]
                self.check_operator(node)
                return node

    def near_miss(self, name: str) -> str | None:
        """The definition or label an unknown name is one letter or two away from.
        Asked once per name: a name used in 300 segments of a 1,000-definition
        project took 0.9 s asked each time."""
        if name not in self.near_misses:
            self.near_misses[name] = closest(name, [*self.defs, *self.labels], cutoff=0.85)
        return self.near_misses[name]

    def name(self, name: str, span: Span, source: str | None) -> ast.Expr:
        if source is not None:
            if name in self.source_cols[source] or (
                not self.source_complete[source]
                and may_be_column(self.project.sources[source], name)
                and name not in self.defs
                and name not in self.profile_cols
                and name not in self.labels
            ):
                return SourceCol(source, name, _lang(self.source_cols[source].get(name, ANY)), span)
            if name in self.broken and name not in self.defs and name not in self.labels:
                return _invalid(span)  # its definition did not parse: reported there
            if name in self.profile_cols:
                self.profile_column_in_source(name, span, source)
                return _invalid(span)
            if name not in self.defs and name not in self.labels:
                hint = self.column_hint(source, name)
                self.diags.error(
                    _with_hint(f"unknown column '{name}' in source '{source}'", hint), span
                )
                return SourceCol(source, name, ANY, span)
            self.diags.error(
                f"'{name}' is not a column of source '{source}': inside an aggregate's "
                "value and 'where', names are the source's columns",
                span,
            )
            return _invalid(span)
        # a definition or label that clashes with a profile column is reported once
        # (declare); the name stays the column's, so nothing else is reported
        if name in self.defs and name not in self.profile_cols:
            d = self.defs[name]
            self._depend(name, span)
            kind = type(d).__name__.lower()
            typ = BOOLEAN if kind == "segment" else STRING if kind in LABELED else ANY
            if kind == "trait":
                typ = self.trait_type(name)
            return DefRef(name, kind, typ, span)
        if name in self.labels and name not in self.profile_cols:
            seg, _ = self.labels[name]
            self._depend(seg, span)
            return LabelRef(seg, name, span)
        if name in self.profile_cols:
            return ProfileRef(name, _lang(self.profile_cols[name]), span)
        if name in self.broken:
            return _invalid(span)  # its definition did not parse: reported there
        if self.project.profiles is not None and not self.profiles_complete:
            # no database to check against: an unknown name is taken as a profile
            # column, unless it is one letter or two away from a definition
            close = self.near_miss(name)
            if close:
                self.diags.error(
                    f"unknown name '{name}' (did you mean '{close}'?)",
                    span,
                    "if it is a profile column, declare it under 'profiles: columns:' "
                    "in segql.yml, or give segql a database to read column names from",
                )
                return _invalid(span)
            return ProfileRef(name, ANY, span)
        if name == self.project.key:
            return ProfileRef(name, ANY, span)
        if name in self.project.sources:
            self.diags.error(
                f"'{name}' is a source: use it inside an aggregate, e.g. count({name})", span
            )
            return _invalid(span)
        pool = [*self.defs, *self.labels, *self.profile_cols]
        self.diags.error(_with_hint(f"unknown name '{name}'", did_you_mean(name, pool)), span)
        return _invalid(span)

    def column_hint(self, source: str, name: str) -> str:
        """'did you mean …' for an unknown column; of a sessions source, a column of
        its parent is named by what the sessions have of it."""
        cols = self.source_cols[source]
        return session_hint(self.project.sources[source], name, cols) or did_you_mean(name, cols)

    def profile_column_in_source(self, name: str, span: Span, source: str) -> None:
        cols = list(self.source_cols[source])  # in the table's order
        listed = ": " + ", ".join(cols[:6]) + (", …" if len(cols) > 6 else "") if cols else ""
        self.diags.error(
            f"'{name}' is a profile column, not a column of source '{source}'",
            span,
            "an aggregate's row condition ('where') and value see only the columns of "
            f"'{source}'{listed}",
            "a condition on a profile column goes outside the aggregate, "
            f"e.g. count({source} where …) >= 1 and {name} = …",
        )

    def column(self, src: str, col: str, span: Span, source: str | None) -> ast.Expr:
        if src not in self.project.sources:
            hint = did_you_mean(src, self.project.sources)
            self.diags.error(_with_hint(f"unknown source '{src}'", hint), self.narrow(span, src))
            return _invalid(span)
        if source is None:
            self.diags.error(
                f"'{src}.{col}' is a column of source rows: use it inside an aggregate, "
                f"e.g. last({src}.{col})",
                span,
            )
            return _invalid(span)
        if src != source:
            self.diags.error(
                f"an aggregate reads one source: '{src}.{col}' is not a column of '{source}'", span
            )
            return _invalid(span)
        cols = self.source_cols[src]
        maybe = may_be_column(self.project.sources[src], col)
        if (self.source_complete[src] or not maybe) and col not in cols:
            hint = self.column_hint(src, col)
            self.diags.error(
                _with_hint(f"unknown column '{col}' in source '{src}'", hint),
                self.narrow(span, col, last=True),
            )
        return SourceCol(src, col, _lang(cols.get(col, ANY)), span)

    def _source_of_value(self, v: ast.Expr) -> str | None:
        if isinstance(v, ast.Name) and v.name in self.project.sources:
            return v.name
        found = [n for n in ast.walk(v) if isinstance(n, ast.Column)]
        if found:
            src = found[0].source
            if src not in self.project.sources:
                hint = did_you_mean(src, self.project.sources)
                self.diags.error(
                    _with_hint(f"unknown source '{src}'", hint),
                    self.narrow(found[0].span, src),
                )
            return src
        if isinstance(v, ast.Name):
            hint = did_you_mean(v.name, self.project.sources)
            self.diags.error(_with_hint(f"unknown source '{v.name}'", hint), v.span)
        else:
            self.diags.error(
                "an aggregate needs a source, or a value over one source's columns "
                "written qualified, e.g. sum(orders.amount)",
                v.span,
            )
        return None

    def aggregate(self, agg: ast.Aggregate, outer: str | None) -> ast.Expr:
        if outer is not None:
            self.diags.error("aggregates cannot be nested", agg.span)
            return _invalid(agg.span)
        source = self._source_of_value(agg.value)
        if source is None or source not in self.project.sources:
            return _invalid(agg.span)
        fn = AGGREGATES[agg.func]
        if isinstance(agg.value, ast.Name) and agg.value.name == source:
            value: ast.Expr = SourceRef(source, agg.value.span)
            if not fn.rows:
                self.diags.error(
                    f"{agg.func}() needs a value, e.g. {agg.func}({source}.<column>)",
                    agg.value.span,
                )
        else:
            value = self.expr(agg.value, source)
            if not fn.values:
                self.diags.error(
                    f"{agg.func}() takes a source, e.g. {agg.func}({source})", agg.value.span
                )
        where = self.where(agg.where, source)
        window = self.window(agg.window)
        self.check_window(window, agg.func)
        if agg.half_life is not None:
            self.check_duration(agg.half_life, "half-life")
        for message, span in fn.check(agg) if fn.check else ():
            self.diags.error(message, span)
        vt = type_of(value)
        if fn.numbers and vt not in (NUMBER, ANY):
            self.diags.error(f"{agg.func}() needs numbers, got a {vt}", agg.value.span)
        return dataclasses.replace(agg, value=value, where=where, window=window)

    def window(self, w: ast.Window | None) -> ast.Window | None:
        """An anchored window's anchor bound like any value outside an aggregate:
        a profile column, a trait, first(…)/last(…) of a source's time."""
        if not isinstance(w, ast.AnchoredWindow):
            return w
        return dataclasses.replace(w, anchor=self.expr(w.anchor))

    def where(self, cond: ast.Expr | None, source: str) -> ast.Expr | None:
        if cond is None:
            return None
        bound = self.expr(cond, source)
        self.expect_condition(bound, "'where' needs")
        return bound

    def sequence(self, seq: ast.Sequence, outer: str | None) -> ast.Expr:
        if outer is not None:
            self.diags.error("aggregates cannot be nested", seq.span)
            return _invalid(seq.span)
        steps = []
        for i, step in enumerate(seq.steps):
            src = step.source.name
            if src not in self.project.sources:
                hint = did_you_mean(src, self.project.sources)
                self.diags.error(_with_hint(f"unknown source '{src}'", hint), step.source.span)
                steps.append(step)
                continue
            if step.negated and i != len(seq.steps) - 1:
                self.diags.error("'then not' is only allowed on the last step", step.span)
            if seq.on is not None:
                self._check_column(src, seq.on, step.source.span, "column")
            steps.append(dataclasses.replace(step, where=self.where(step.where, src)))
        if seq.steps[0].negated:
            self.diags.error("the first step of a sequence cannot be negated", seq.steps[0].span)
        checks.check_sequence_steps(seq, self.diags)
        if seq.within is not None:
            self.check_duration(seq.within, "'within'")
            self.check_fixed_length(seq.within, "'within'")
        window = self.window(seq.window)
        self.check_window(window, "did")
        return dataclasses.replace(seq, steps=tuple(steps), window=window)


def resolve(
    modules: list[ast.Module],
    project: Project,
    catalog: Catalog,
    selected_files: set[str] | None = None,
    check_fits: bool = True,
) -> Model:
    """Bind names and check the definitions of all modules; raises SegqlErrors.
    `check_fits=False` (segql fit) reads no clusters fit file."""
    diags = Diagnostics()
    # the texts as read: errors are shown from them, never from the files read again
    sources = {project.file: project.text, **{m.file: m.text for m in modules}}
    r = _Resolver(project, catalog, diags, sources)
    r.declare(modules)
    bound = r.bind_all()
    hashes = r.fit_clusters(bound, check_fits)
    _check_depths(bound, diags, sources)
    universe = None
    if project.universe is not None:
        if project.profiles is None:
            diags.error("'universe' needs a profiles table", project.universe.span)
        else:
            saved_defs, saved_labels = r.defs, r.labels
            r.defs, r.labels = {}, {}  # the universe is a condition on profile columns only
            universe = r.expr(project.universe)
            r.expect_condition(universe)
            checks.check_universe(universe, diags)
            span = project.universe.span
            checks.check_depth("'universe'", [universe], lambda: span, diags)
            r.defs, r.labels = saved_defs, saved_labels
    order = r.order(bound)
    diags.check(sources)
    selected = tuple(
        d.name
        for m in modules
        if selected_files is None or m.file in selected_files
        for d in m.definitions
        if isinstance(d, ast.Segment | ast.Segmentation | ast.Split)
    )
    selected_traits = tuple(
        d.name
        for m in modules
        if selected_files is None or m.file in selected_files
        for d in m.definitions
        if isinstance(d, ast.Trait) and d.name in bound
    )
    return Model(
        project=project,
        definitions={n: bound[n] for n in order},
        profile_columns=dict(r.profile_cols),
        source_columns=r.source_cols,
        time_types=r.time_types,
        selected=selected,
        universe=universe,
        types={n: _def_type(bound[n]) for n in order},
        sources=sources,
        warnings=tuple(diags.warnings),
        selected_traits=selected_traits,
        cluster_hashes=hashes,
    )


def _check_depths(
    bound: dict[str, ast.Definition], diags: Diagnostics, sources: dict[str, str | None]
) -> None:
    for name, d in bound.items():
        exprs = ast.definition_exprs(d)
        where = partial(def_name_span, d, name, sources.get(d.span.file))
        checks.check_depth(f"'{name}'", exprs, where, diags)


def _def_type(d: ast.Definition) -> str:
    if isinstance(d, ast.Segment):
        return BOOLEAN
    if isinstance(d, ast.Segmentation | ast.Split):
        return STRING
    return type_of(d.expr)
