"""Output of `segql run` and `segql backfill`: a summary per run (tables, or
json), and backfill's progress bar on stderr."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from segql.ops.render import WARNINGS, _count, _share, percent

if TYPE_CHECKING:
    from segql.ops.run import RunResult, Size


def _size(s: Size) -> dict:
    out = {} if s.label is None else {"label": s.label}
    return {
        **out,
        "members": s.members,
        "share": _share(s.share),
        "entered": s.entered,
        "exited": s.exited,
        "warning": s.warning,
    }


def as_dict(r: RunResult) -> dict:
    return {
        "status": r.status,
        "run_id": r.run_id,
        "as_of": r.as_of.isoformat() + "Z",
        "previous_run": r.previous,
        "replaced_run": r.replaced,
        "data": r.data,
        "state_schema": r.schema,
        "entity": r.entity,
        "key": r.key,
        "universe": r.universe,
        "segments": [{"name": s.name, **_size(s)} for s in r.segments],
        "segmentations": [
            {"name": name, "labels": [_size(s) for s in sizes]} for name, sizes in r.segmentations
        ],
    }


def emit(results: list[RunResult], fmt: str, last_only: bool = False) -> None:
    if fmt == "json":
        doc = as_dict(results[0]) if len(results) == 1 else [as_dict(r) for r in results]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from rich.console import Console

        console = Console()
        if last_only and len(results) > 1:
            made = sum(r.status == "ok" for r in results)
            console.print(f"{made} runs written, {len(results) - made} already there; the last:")
        for r in results[-1:] if last_only else results:
            print_table(r, console)
    sys.stdout.flush()


def print_table(r: RunResult, console) -> None:
    from rich.table import Table
    from rich.text import Text

    when = r.as_of.isoformat(sep=" ") + " UTC"
    if r.status == "noop":
        head = f"nothing to do: run {r.run_id} already evaluated these definitions at {when}"
        console.print(Text(head + " (--force to run again)", "yellow"))
    else:
        how = f" (replaces run {r.replaced})" if r.replaced is not None else ""
        since = f", changes since run {r.previous}" if r.previous is not None else ", first run"
        console.print(Text.assemble(("run ", "bold"), f"{r.run_id} at {when}{how}{since}"))
    console.print(Text.assemble(("state ", "bold"), f"{r.data}, schema '{r.schema}'"))
    console.print(Text.assemble(("universe ", "bold"), _count(r.universe, r.entity)))

    def table(title: str, first: str, sizes, name_of) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold")
        for c in (first, "members", "share", "entered", "exited"):
            t.add_column(c, justify="left" if c == first else "right")
        warned = any(s.warning for s in sizes)
        if warned:
            t.add_column("warning")
        for s in sizes:
            row: list = [name_of(s), f"{s.members:,}", percent(s.share), f"+{s.entered:,}"]
            row.append(f"-{s.exited:,}")
            if warned:
                row.append(Text("! " + WARNINGS[s.warning], "yellow") if s.warning else "")
            t.add_row(*row)
        return t

    if r.segments:
        console.print(table("Segments", "segment", r.segments, lambda s: s.name))
    for name, sizes in r.segmentations:
        console.print(table(f"Segmentation {name}", "label", sizes, lambda s: s.label))


def note(message: str) -> None:
    """Backfill's messages besides the bar: only those worth reading later."""
    if message.startswith("skipping"):
        sys.stderr.write(message + "\n")


@contextlib.contextmanager
def progress_bar() -> Iterator:
    """advance(done, total, result) for backfill: a bar on a terminal, else a
    line per run, on stderr."""
    if not sys.stderr.isatty():

        def line(done: int, total: int, r: RunResult) -> None:
            what = "skipped (already run)" if r.status == "noop" else f"run {r.run_id}"
            sys.stderr.write(f"[{done}/{total}] as_of {r.as_of.isoformat(sep=' ')}: {what}\n")
            sys.stderr.flush()

        yield line
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("", total=None)

        def advance(done: int, total: int, r: RunResult) -> None:
            bar.update(task, completed=done, total=total, description=r.as_of.isoformat(sep=" "))

        yield advance
