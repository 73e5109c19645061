"""The command line (LANGUAGE.md §11): a thin typer layer over `segql.api`.

Every command body runs inside `_handled`, the one place that turns exceptions
into output and an exit status:

    0  success
    1  a user error in definitions or data (rendered as file:line:col: error: …)
    2  a usage error: unknown flag or option value (typer), no command, unknown
       dialect, bad --as-of, --segment with --segmentation, --db with --sample, …
    3  an internal error (a bug in segql): one line, and a hint to rerun with
       --debug, which re-raises every exception with its traceback
  130  interrupted (Ctrl-C)

Heavy modules (segql.api → sqlglot, lark; duckdb; rich) are imported inside the
commands, so that `segql --help` only pays for typer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")

app = typer.Typer(
    name="segql",
    help="Segments as code: compile segment definitions to warehouse SQL.",
    no_args_is_help=True,
    add_completion=False,
    # plain tracebacks under --debug, and no rich import for every run
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class _Argument(typer.core.TyperArgument):
    """An argument shown the usual way, `PATH...`: Typer's own shows `{PATH}...` in
    the usage line and `PATH <list[str]>` in the list of arguments."""

    def _usage_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return self._usage_display_name()

    def display_type_rich(self, ctx) -> str:
        return ""  # the help text says what it takes


class _Command(typer.core.TyperCommand):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:  # Typer makes them, and takes no class for them
            if type(param) is typer.core.TyperArgument:
                param.__class__ = _Argument


@dataclass
class Globals:
    project: str | None = None
    debug: bool = False
    strict: bool = False


# options every command accepts, before or after the command name
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        metavar="PATH",
        help="segql.yml (or its folder); default: nearest segql.yml upwards",
    ),
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="re-raise errors with a traceback instead of rendering")
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="treat warnings (an unknown column type) as errors"),
]
PathsArg = Annotated[
    list[str], typer.Argument(metavar="PATH", help=".seg/.yml files or folders of them")
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        metavar="NAME",
        help="a target of segql.yml (its engine, dialect and table names)",
    ),
]
TraitsOpt = Annotated[
    bool,
    typer.Option("--traits", help="add every trait of the PATHs as a column (its value)"),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TS",
        help="evaluate at this date or timestamp (project time zone unless it has an offset)",
    ),
]
# the data options of the commands that read data (preview has its own --db help)
DbOpt = Annotated[str | None, typer.Option("--db", metavar="FILE", help="DuckDB file")]
SampleOpt = Annotated[bool, typer.Option("--sample", help="on the built-in generated sample data")]
ScaleOpt = Annotated[
    float | None,
    typer.Option("--scale", metavar="X", help="sample size (1 = 100k customers); default 0.01"),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("segql")
        except PackageNotFoundError:
            v = "unknown"
        typer.echo(f"segql {v}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
    strict: StrictOpt = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="show the version")
    ] = False,
) -> None:
    ctx.obj = Globals(project, debug, strict)


def _globals(ctx: typer.Context, project: str | None, debug: bool, strict: bool = False) -> Globals:
    g = ctx.obj if isinstance(ctx.obj, Globals) else Globals()
    return Globals(project or g.project, debug or g.debug, strict or g.strict)


def _handled(g: Globals, body: Callable[[], T]) -> T:
    """Run a command body; render diagnostics and exit with the documented status."""
    from segql.errors import SegqlError, SegqlErrors

    try:
        return _warned(g, body)
    except (typer.Exit, typer.Abort):  # Exit is a RuntimeError: let it through
        raise
    except (SegqlError, SegqlErrors) as e:
        if g.debug:
            raise
        from segql.ops.render import render_errors

        text, code = render_errors(e)
        sys.stderr.write(text)
        raise typer.Exit(code) from None
    except BrokenPipeError:
        # the reader went away (`segql compile … | head`): no traceback, no flush error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if g.debug:
            raise
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None
    except Exception as e:
        if g.debug:
            raise
        sys.stderr.write(
            f"internal error: {type(e).__name__}: {e}\n"
            "this is a bug in segql: rerun with --debug for the traceback and report it\n"
        )
        raise typer.Exit(3) from None


def _warned(g: Globals, body: Callable[[], T]) -> T:
    """Run a body; its warnings (segql.errors.SegqlWarning) go to stderr, or with
    --strict are raised as errors."""
    import warnings

    from segql.errors import SegqlWarning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("error" if g.strict else "always", SegqlWarning)
        try:
            return body()
        finally:
            for w in seen:
                if isinstance(w.message, SegqlWarning):
                    sys.stderr.write(w.message.diagnostic.render() + "\n")


def _usage(message: str, *hints: str):
    from segql.errors import SegqlError

    return SegqlError(message, None, hints, usage=True)


def _check_as_of(as_of: str | None) -> None:
    """A malformed --as-of is a usage error before any work (the time zone is
    applied later, once the project is read)."""
    if as_of is not None:
        from segql import api

        api.parse_as_of(as_of, "UTC")


class TextOrJson(StrEnum):
    """--format of commands with a text and a json output."""

    table = "table"
    json = "json"


TextOrJsonOpt = Annotated[TextOrJson, typer.Option("--format", help="output format")]


@app.command(cls=_Command)
def validate(
    ctx: typer.Context,
    paths: PathsArg,
    fmt: Annotated[
        TextOrJson,
        typer.Option("--format", help="table (text) or json: diagnostics for editors and CI"),
    ] = TextOrJson.table,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Parse, resolve and type-check definitions; report every error."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        from segql import api
        from segql.syntax.ast import Segment, Segmentation, Split, Trait

        if fmt is TextOrJson.json:
            _validate_json(g, list(paths))
            return
        model = api.validate(list(paths), g.project)
        kinds = [(Trait, "trait"), (Segment, "segment"), (Segmentation, "segmentation")]
        parts = []
        for cls, word in kinds:
            n = sum(isinstance(d, cls) for d in model.definitions.values())
            parts.append(f"{n} {word}{'s' if n != 1 else ''}")
        splits = sum(isinstance(d, Split) for d in model.definitions.values())
        if splits:  # named only where there are some
            parts.append(f"{splits} split{'s' if splits != 1 else ''}")
        typer.echo("ok: " + ", ".join(parts))

    _handled(g, run)


def _validate_json(g: Globals, paths: list[str]) -> None:
    """Every diagnostic (errors and warnings) as json on stdout; exit 1 on errors."""
    import json
    import warnings

    from segql import api
    from segql.errors import SegqlError, SegqlErrors, SegqlWarning

    found: list = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("error" if g.strict else "always", SegqlWarning)
        try:
            api.validate(paths, g.project)
        except SegqlErrors as e:
            if e.usage:
                raise
            found += e.errors
        except SegqlError as e:
            if e.usage:
                raise
            found.append(e)
    found += [w.message.diagnostic for w in seen if isinstance(w.message, SegqlWarning)]
    out = [
        {
            "file": d.span.file if d.span else None,
            "line": d.span.line if d.span else None,
            "col": d.span.col if d.span else None,
            "end_line": d.span.end_line if d.span else None,
            "end_col": d.span.end_col if d.span else None,
            "severity": d.severity,
            "message": d.message,
            "help": list(d.hints),
        }
        for d in found
    ]
    errors = sum(d.severity == "error" for d in found)
    doc = {"ok": errors == 0, "errors": errors, "warnings": len(found) - errors, "diagnostics": out}
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    if errors:
        raise typer.Exit(1)


@app.command(cls=_Command)
def compile(
    ctx: typer.Context,
    paths: PathsArg,
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect",
            metavar="D",
            help="duckdb, postgres, bigquery, snowflake, "
            "spark, databricks, trino; default: the project's",
        ),
    ] = None,
    as_of: AsOfOpt = None,
    segment: Annotated[
        str | None, typer.Option("--segment", metavar="N", help="one segment: its members' keys")
    ] = None,
    segmentation: Annotated[
        str | None,
        typer.Option("--segmentation", metavar="N", help="one segmentation or split: key, label"),
    ] = None,
    traits: TraitsOpt = False,
    trait: Annotated[
        str | None,
        typer.Option("--trait", metavar="N", help="one trait: key and value of every entity"),
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", metavar="FILE", help="write the SQL here, not stdout")
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="print the plan instead: each read, its aggregates, and why"
        ),
    ] = False,
    script: Annotated[
        bool, typer.Option("--script", help="end the statement with ';' (default: none)")
    ] = False,
    run_script: Annotated[
        bool,
        typer.Option(
            "--run-script",
            help="print the whole of a `segql run` (state tables, membership, changes, "
            "sizes, runs row) as one script in the dialect, for a scheduler (docs/run.md)",
        ),
    ] = False,
    target: TargetOpt = None,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print the SQL of the definitions (only SQL on stdout). Without --as-of the
    query uses the engine's current time, so a scheduled query stays live. No
    trailing ';' unless --script, so the query can be wrapped."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        from segql import api

        if segment is not None and segmentation is not None:
            raise _usage("--segment and --segmentation cannot be used together")
        one = [f for f, v in (("--segment", segment), ("--segmentation", segmentation)) if v]
        if trait is not None and one:
            raise _usage(f"{one[0]} and --trait cannot be used together")
        if traits and (one or trait is not None):
            raise _usage(
                f"--traits adds columns to the membership: not with {(one or ['--trait'])[0]}"
            )
        _check_as_of(as_of)
        if run_script and (segment or segmentation or explain or script):
            raise _usage("--run-script takes no --segment, --segmentation, --explain or --script")
        if run_script:
            from segql.ops.run_script import run_script as make

            _write(make(list(paths), g.project, target, dialect, as_of), out)
            return
        if explain:
            sys.stdout.write(
                api.explain_plan(
                    list(paths),
                    project=g.project,
                    dialect=dialect,
                    segment=segment,
                    segmentation=segmentation,
                    target=target,
                    traits=traits,
                    trait=trait,
                )
            )
            return
        sql = api.compile(
            list(paths),
            project=g.project,
            dialect=dialect,
            as_of=as_of,
            segment=segment,
            segmentation=segmentation,
            target=target,
            traits=traits,
            trait=trait,
        ).sql(script=script)
        _write(sql, out)

    _handled(g, run)


def _write(sql: str, out: str | None) -> None:
    """SQL to stdout, or to a file written only once compiled: an error never
    truncates an old file."""
    from segql.errors import SegqlError

    if out is None:
        sys.stdout.write(sql)
        sys.stdout.flush()
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(sql)
    except OSError as e:
        raise SegqlError(f"cannot write '{out}': {e.strerror or e}") from None


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command(cls=_Command)
def preview(
    ctx: typer.Context,
    paths: PathsArg,
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="FILE", help="DuckDB file; default: the project's database"),
    ] = None,
    sample: SampleOpt = False,
    scale: ScaleOpt = None,
    as_of: AsOfOpt = None,
    fmt: Annotated[Format, typer.Option("--format", help="output format")] = Format.table,
    show: Annotated[
        int, typer.Option("--show", metavar="N", min=0, help="list N member keys per segment")
    ] = 0,
    show_pii: Annotated[
        bool, typer.Option("--show-pii", help="show a pii: key as it is, not hashed")
    ] = False,
    traits: Annotated[
        bool,
        typer.Option(
            "--traits", help="a value summary per trait: nulls, min/max/mean or top values"
        ),
    ] = False,
    target: TargetOpt = None,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run the definitions on a target (DuckDB files read-only) and summarize sizes,
    shares and overlap. Without --as-of: now, or with --sample the sample's fixed
    date (2025-07-01)."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        from segql.ops import preview as pv
        from segql.ops import render

        if scale is not None and not sample:
            raise _usage("--scale only applies with --sample")
        _check_as_of(as_of)

        def go(progress: pv.Progress | None = None) -> pv.PreviewResult:
            return pv.preview(
                list(paths),
                project=g.project,
                db=db,
                sample=sample,
                scale=0.01 if scale is None else scale,
                as_of=as_of,
                show=show,
                show_pii=show_pii,
                progress=progress,
                target=target,
                traits=traits,
            )

        if sys.stderr.isatty():  # progress goes to stderr, and only for a person watching
            from rich.console import Console

            with Console(stderr=True).status("reading the project") as status:
                result = go(status.update)
        else:
            result = go()
        if fmt is Format.json:
            sys.stdout.write(render.to_json(result))
        elif fmt is Format.csv:
            sys.stdout.write(render.to_csv(result))
        else:
            from rich.console import Console

            render.print_table(result, Console())
        sys.stdout.flush()

    _handled(g, run)


@app.command(cls=_Command)
def fit(
    ctx: typer.Context,
    paths: PathsArg,
    segmentation: Annotated[
        str | None,
        typer.Option("--segmentation", metavar="N", help="the clusters segmentation to fit"),
    ] = None,
    k: Annotated[
        str | None,
        typer.Option(
            "--k", metavar="K|LO..HI", help="a range reports inertia and silhouette per k (elbow)"
        ),
    ] = None,
    db: DbOpt = None,
    sample: SampleOpt = False,
    scale: ScaleOpt = None,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot", metavar="FILE", help="elbow plot PNG (default clusters/N-elbow.png)"
        ),
    ] = None,
    as_of: AsOfOpt = None,
    target: TargetOpt = None,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Fit k-means for clusters segmentations: features computed on the engine,
    clusters/<name>.json written beside segql.yml (needs segql[ml])."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        from segql.ops import fit as fitting

        if scale is not None and not sample:
            raise _usage("--scale only applies with --sample")
        _check_as_of(as_of)
        results = fitting.fit(
            list(paths),
            project=g.project,
            segmentation=segmentation,
            k=k,
            target=target,
            db=db,
            sample=sample,
            scale=0.01 if scale is None else scale,
            as_of=as_of,
            plot=plot,
        )
        for r in results:
            sys.stdout.write(fitting.render(r))
        sys.stdout.flush()

    _handled(g, run)


@app.command(cls=_Command)
def sample(
    ctx: typer.Context,
    target: TargetOpt = None,
    db: Annotated[
        str | None, typer.Option("--db", metavar="FILE", help="a DuckDB file to write to")
    ] = None,
    scale: Annotated[
        float,
        typer.Option("--scale", metavar="X", help="sample size (1 = 100k customers)"),
    ] = 0.01,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write the built-in sample tables (customers, orders, web_events) into a
    target: DuckDB, PostgreSQL or Spark. Existing tables of those names are replaced."""
    g = _globals(ctx, project, debug)

    def run() -> None:
        from pathlib import Path

        from segql.engines import connect
        from segql.engines.targets import choose, file_target
        from segql.ops.sample import write_sample
        from segql.project import find_project_file, load_project

        if (target is None) == (db is None):
            raise _usage("give one of --target NAME or --db FILE")
        if not (scale > 0 and scale <= 100):  # also rejects NaN
            raise _usage(f"--scale must be in (0, 100], got {scale}")
        if db is not None:
            t, root = file_target(str(Path(db).resolve())), Path.cwd()
        else:
            proj = load_project(find_project_file(g.project, []))
            t, root = choose(proj, target), proj.root
        with connect(t, root, read_only=False) as engine:
            names = write_sample(engine, scale)
        sys.stderr.write(f"wrote {', '.join(names)} (scale {scale:g}) to {engine.description}\n")

    _handled(g, run)


@app.command(cls=_Command)
def diff(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="definitions to compare (default: all of the project)"),
    ] = None,
    as_of: Annotated[
        list[str] | None,
        typer.Option(
            "--as-of", metavar="TS", help="twice: compare the membership at these two instants"
        ),
    ] = None,
    db: DbOpt = None,
    sample: SampleOpt = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="RUN|AS_OF", help="a run of the state (default: the one before --to)"
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--to", metavar="RUN|AS_OF", help="a run of the state (default: the last)"),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="COLUMN", help="composition drift over a profile column"),
    ] = None,
    fmt: TextOrJsonOpt = TextOrJson.table,
    fail_on_drift: Annotated[
        float | None,
        typer.Option(
            "--fail-on-drift",
            metavar="PSI",
            help="exit 4 when any PSI reaches this (0.1 moderate, 0.25 major drift)",
        ),
    ] = None,
    target: TargetOpt = None,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compare memberships: of two runs of a target's state (default: the last
    two; --from/--to), or at two --as-of on data. Sizes, entered, exited,
    Jaccard per segment; label shares, transitions, PSI and Jensen-Shannon
    distance per segmentation; composition drift with --by. Exit 4 with
    --fail-on-drift when drift reaches it."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        from segql.ops import diff as df
        from segql.ops import render_diff

        for a in as_of or []:
            _check_as_of(a)
        if as_of or sample:  # two instants on data: no state needed
            if since is not None or until is not None:
                raise _usage("--from/--to compare runs; --as-of compares instants: not both")
            result = df.stateless(
                list(paths or []),
                list(as_of or []),
                project=g.project,
                db=db,
                sample=sample,
                target=target,
                by=by,
            )
        else:  # two runs of the target's state (default: the last two)
            result = df.between_runs(g.project, target, db, since, until, by)
        if fmt is TextOrJson.json:
            sys.stdout.write(render_diff.to_json(result))
        else:
            from rich.console import Console

            render_diff.print_tables(result, Console())
        sys.stdout.flush()
        if fail_on_drift is not None and result.worst_psi() >= fail_on_drift:
            sys.stderr.write(
                f"drift: PSI {result.worst_psi():.4f} reaches --fail-on-drift {fail_on_drift:g}\n"
            )
            raise typer.Exit(4)

    _handled(g, run)


@app.command(cls=_Command)
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="a segment, segmentation or split")],
    db: DbOpt = None,
    fmt: TextOrJsonOpt = TextOrJson.table,
    plot: Annotated[
        str | None, typer.Option("--plot", metavar="FILE.png", help="draw the sizes per run")
    ] = None,
    target: TargetOpt = None,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Size per run of a segment (per label of a segmentation or split): as_of,
    members, share, entered, exited, from the state of segql run."""
    g = _globals(ctx, project, debug)

    def run() -> None:
        from segql.ops import history as hs

        _, engine, state = hs.open_state(g.project, target, db)
        with engine:
            points = hs.history(state, name)
        if fmt is TextOrJson.json:
            import json

            sys.stdout.write(json.dumps(hs.as_dict(name, points), indent=2) + "\n")
        else:
            sys.stdout.write(hs.to_text(name, points))
        if plot is not None:
            hs.draw(name, points, plot)
            sys.stderr.write(f"wrote {plot}\n")

    _handled(g, run)


@app.command("test", cls=_Command)
def test_command(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="test files or folders (default: the project's)"),
    ] = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="table (text) or json")] = (
        TextOrJson.table
    ),
    target: TargetOpt = None,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run the unit tests (YAML files with 'tests:'): given rows, expected members
    and labels. DuckDB in memory unless --target. Exit 1 when a test fails."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        import json

        from segql.ops import unit_tests

        outcomes = unit_tests.run_tests(list(paths or []), g.project, target)
        if fmt is TextOrJson.json:
            sys.stdout.write(json.dumps(unit_tests.as_dict(outcomes), indent=2, default=str) + "\n")
        else:
            sys.stdout.write(unit_tests.to_text(outcomes))
        sys.stdout.flush()
        if not all(o.passed for o in outcomes):
            raise typer.Exit(1)

    _handled(g, run)


@app.command(cls=_Command)
def fmt(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help=".seg files or folders (default: the project's)"),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="change nothing; exit 1 listing the files to reformat")
    ] = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Rewrite .seg files in the canonical layout, every comment kept (YAML is left alone)."""
    g = _globals(ctx, project, debug)

    def run() -> None:
        from segql.errors import SegqlErrors
        from segql.ops.fmt import format_files, seg_files

        changed, errors = format_files(seg_files(list(paths or []), g.project), check)
        for path in changed:
            typer.echo(f"{'would reformat' if check else 'reformatted'} {path}")
        if errors:
            raise SegqlErrors(errors)
        if check and changed:
            raise typer.Exit(1)

    _handled(g, run)


@app.command(cls=_Command)
def docs(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="definitions (default: all of the project)"),
    ] = None,
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="where to write the pages")] = (
        "segql-docs"
    ),
    db: Annotated[
        str | None, typer.Option("--db", metavar="FILE", help="a DuckDB file with run state")
    ] = None,
    target: TargetOpt = None,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write a static HTML catalog (opens from disk, no network): a searchable
    index, and per definition its title, hypothesis, channels, KPIs, definition,
    what it uses and what uses it, and its SQL in every dialect; with --target
    or --db, sizes per run and the overlap of segments from segql run's state."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        from pathlib import Path

        from segql import api
        from segql.catalog.build import write
        from segql.project import find_project_file, load_project

        proj = load_project(find_project_file(g.project, list(paths or [])))
        model = api.load_with(proj, list(paths or [str(proj.root)]))
        history, overlap = {}, None
        if target is not None or db is not None:  # sizes per run and overlaps from the state
            from segql.catalog.build import from_state
            from segql.ops import history as hs

            _, engine, state = hs.open_state(g.project, target, db)
            with engine:
                history, overlap = from_state(state)
        written = write(model, Path(out), history, overlap)
        sys.stderr.write(f"wrote {len(written)} files to {out} (open {Path(out) / 'index.html'})\n")

    _handled(g, run)


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"
    json = "json"  # one document: what was exported (title, channels, …), then its rows


@app.command(cls=_Command)
def export(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="a segment, segmentation, split or trait")
    ],
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="definitions (default: all of the project)"),
    ] = None,
    out: Annotated[
        str, typer.Option("--out", metavar="FILE", help="the file to write (whole or not at all)")
    ] = ...,  # type: ignore[assignment]
    fmt: Annotated[
        ExportFormat | None,
        typer.Option("--format", help="file format (default csv; jsonl with --changes)"),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", metavar="C1,C2", help="profile columns to add"),
    ] = None,
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    sample: SampleOpt = False,
    show_pii: Annotated[
        bool, typer.Option("--show-pii", help="write pii: columns as they are, not hashed")
    ] = False,
    changes: Annotated[
        bool,
        typer.Option("--changes", help="the last run's entries and exits, as JSON lines"),
    ] = False,
    target: TargetOpt = None,
    strict: StrictOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write a segment's members (or a segmentation's or split's labels, or a
    trait's values) to a file for the tools that act on them; pii: columns
    leave only as SHA-256 hex."""
    g = _globals(ctx, project, debug, strict)

    def run() -> None:
        from segql.ops.export import export as write_export

        _check_as_of(as_of)
        wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else []
        chosen = fmt.value if fmt is not None else ("jsonl" if changes else "csv")
        done = write_export(
            name,
            out,
            chosen,
            list(paths or []),
            project=g.project,
            target=target,
            db=db,
            sample=sample,
            as_of=as_of,
            columns=wanted,
            show_pii=show_pii,
            changes=changes,
        )
        sys.stderr.write(f"wrote {done.rows:,} rows ({', '.join(done.columns)}) to {done.path}\n")

    _handled(g, run)


schema_app = typer.Typer(
    help="Column types kept in git (schema.yml), for compiling where no database is.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(schema_app, name="schema")


@schema_app.command("pull", cls=_Command)
def schema_pull(
    ctx: typer.Context,
    target: TargetOpt = None,
    db: Annotated[
        str | None, typer.Option("--db", metavar="FILE", help="a DuckDB file to read")
    ] = None,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write schema.yml beside segql.yml: the columns and types of every table the
    project reads, as the target reports them (default: the first target, else
    the project's database). Compile reads it when no database is reachable."""
    g = _globals(ctx, project, debug)

    def run() -> None:
        from pathlib import Path

        from segql.engines.targets import choose, file_target
        from segql.ops.schema_pull import pull
        from segql.project import find_project_file, load_project

        if target is not None and db is not None:
            raise _usage("--target and --db cannot be used together")
        proj = load_project(find_project_file(g.project, []))
        if db is not None:
            t = file_target(str(Path(db).resolve()))
        elif target is None and not proj.targets and proj.database:
            t = file_target(proj.database)
        else:
            t = choose(proj, target)
        path, n = pull(proj, t)
        sys.stderr.write(f"wrote {path} ({n} table{'s' if n != 1 else ''}, from {t.engine})\n")

    _handled(g, run)


@schema_app.command("json", cls=_Command)
def schema_json(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="project, definitions or tests (default: all three)"),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Print the JSON Schema of segql.yml, of YAML definitions or of test files
    (for editors: yaml-language-server)."""
    g = _globals(ctx, None, debug)

    def run() -> None:
        import json

        from segql.syntax import json_schema

        if name is not None and name not in json_schema.NAMES:
            raise _usage(f"unknown schema '{name}'", "schemas are " + ", ".join(json_schema.NAMES))
        if name is not None:
            doc = json_schema.schema(name)
        else:
            doc = {n: json_schema.schema(n) for n in json_schema.NAMES}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")

    _handled(g, run)


@app.command(cls=_Command)
def init(
    ctx: typer.Context,
    folder: Annotated[
        str, typer.Argument(metavar="DIR", help="where to create the project (default: here)")
    ] = ".",
    debug: DebugOpt = False,
) -> None:
    """Create a project (segql.yml, schema.yml, a definitions file, a test) that
    validates, previews on the built-in sample and passes its test at once."""
    g = _globals(ctx, None, debug)

    def run() -> None:
        from pathlib import Path

        from segql.ops.init import init as scaffold

        for path in scaffold(Path(folder)):
            sys.stderr.write(f"wrote {path}\n")
        sys.stderr.write("next: segql validate . && segql preview . --sample && segql test\n")

    _handled(g, run)


class RunFormat(StrEnum):
    table = "table"
    json = "json"


DbOpt = Annotated[
    str | None, typer.Option("--db", metavar="FILE", help="a DuckDB file (the data and the state)")
]


@app.command(cls=_Command)
def run(
    ctx: typer.Context,
    paths: PathsArg,
    target: TargetOpt = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace the run at the same as_of")
    ] = False,
    fmt: Annotated[RunFormat, typer.Option("--format", help="output format")] = RunFormat.table,
    traits: TraitsOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Evaluate the definitions at as_of (default: now) on a target and write the
    state: membership, changes, sizes, runs, in one atomic step (docs/run.md)."""
    g = _globals(ctx, project, debug)

    def body() -> None:
        from segql.ops import run as rn
        from segql.ops import run_render

        _check_as_of(as_of)
        result = _with_status(
            lambda step: rn.run(
                list(paths), g.project, target, db, as_of, force, step, traits=traits
            )
        )
        run_render.emit([result], fmt.value)

    _handled(g, body)


@app.command(cls=_Command)
def backfill(
    ctx: typer.Context,
    paths: PathsArg,
    start: Annotated[str, typer.Option("--from", metavar="D1", help="the first as_of")],
    end: Annotated[str, typer.Option("--to", metavar="D2", help="the last as_of (inclusive)")],
    every: Annotated[
        str, typer.Option("--every", metavar="DURATION", help="1 day, 7 days, 2 weeks, 1 month…")
    ],
    target: TargetOpt = None,
    db: DbOpt = None,
    fmt: Annotated[RunFormat, typer.Option("--format", help="output format")] = RunFormat.table,
    traits: TraitsOpt = False,
    project: ProjectOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run at --from, --from + --every, … --to in order (history for a new
    project); runs already made are skipped, so it resumes where it stopped."""
    g = _globals(ctx, project, debug)

    def body() -> None:
        from segql.ops import backfill as bf
        from segql.ops import run_render

        _check_as_of(start)
        _check_as_of(end)
        bf.parse_every(every)
        with run_render.progress_bar() as advance:
            results = bf.backfill(
                list(paths),
                start,
                end,
                every,
                g.project,
                target,
                db,
                run_render.note,
                advance,
                traits=traits,
            )
        if not results:
            sys.stderr.write("nothing to do: every as_of is before the last run's\n")
            return
        run_render.emit(results, fmt.value, last_only=fmt.value == "table")

    _handled(g, body)


def _with_status(go: Callable[[Callable[[str], None] | None], T]) -> T:
    """Progress on stderr, and only for a person watching."""
    if not sys.stderr.isatty():
        return go(None)
    from rich.console import Console

    with Console(stderr=True).status("reading the project") as status:
        return go(status.update)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="segql")


if __name__ == "__main__":
    main()
