"""`segql docs --out DIR`: one page per trait, segment and segmentation, and an
index to search and filter them by channel and KPI.

Everything a page shows comes from the resolved model: the marketing context
(title, hypothesis, channels, KPIs), the definition as written (the text the
loader read), what it uses and what uses it (its references), its SQL in every
dialect (compile), and with a target its size history and entered/exited per
run (the `sizes` of `segql run`) and the overlap of segments. The output is
deterministic: the same project gives the same bytes, so the catalog can be
published from CI and diffed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from segql.errors import SegqlError
from segql.plan.explain import location
from segql.semantic.model import Model
from segql.sql.dialects import DIALECTS
from segql.syntax import ast

STATIC = ("catalog.css", "catalog.js")


@dataclass
class Entry:
    name: str
    kind: str  # trait | segment | segmentation | split
    where: str  # file:line, the file relative to the project root
    source: str  # the definition as written
    title: str | None = None
    hypothesis: str | None = None
    channels: tuple[str, ...] = ()
    kpis: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    uses: list[str] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)
    sql: dict[str, str] = field(default_factory=dict)  # dialect -> SQL
    history: list[dict] = field(default_factory=list)  # per run: as_of, members, entered, exited

    @property
    def page(self) -> str:
        return page_name(self.name)


def page_name(name: str) -> str:
    """A file name for a definition: names are identifiers or `quoted`, so keep
    letters, digits and _ and spell the rest as code points (unique, stable)."""
    safe = "".join(c if c.isalnum() and c.isascii() or c == "_" else f"-{ord(c):x}-" for c in name)
    return f"{safe}.html"


def entries(model: Model) -> list[Entry]:
    """Every definition of the model, in file order, with its references both ways."""
    from segql import api

    out: dict[str, Entry] = {}
    for name, d in sorted(model.definitions.items(), key=lambda x: _position(x[1])):
        kind = type(d).__name__.lower()
        e = Entry(name, kind, location(d.span, model.project.root), _source(model, d))
        if isinstance(d, ast.Segment):
            e.title, e.hypothesis, e.channels, e.kpis = d.title, d.hypothesis, d.channels, d.kpis
        if isinstance(d, ast.Segmentation):
            e.labels = tuple(ast.segmentation_labels(d))
        if isinstance(d, ast.Split):
            e.labels = tuple(f"{g.name} {g.percent}%" for g in d.groups)
        e.uses = sorted(_references(d) - {name})
        out[name] = e
    for e in out.values():
        for used in e.uses:
            if used in out:
                out[used].used_by.append(e.name)
    for e in out.values():
        e.used_by.sort()
        if e.kind in ("segment", "segmentation", "split"):
            for dialect in DIALECTS:
                # a split compiles as a segmentation does: key and group
                one = {"segment": e.name} if e.kind == "segment" else {"segmentation": e.name}
                e.sql[dialect] = api.compile_model(model, dialect, **one).sql()
    return list(out.values())


def _position(d: ast.Definition) -> tuple:
    return (d.span.file, d.span.line, d.span.col)


def _references(d: ast.Definition) -> set[str]:
    found = set()
    for node in ast.walk(d):
        if isinstance(node, ast.DefRef):
            found.add(node.name)
        elif isinstance(node, ast.LabelRef):
            found.add(node.segmentation)
    return found


def _source(model: Model, d: ast.Definition) -> str:
    """The definition's lines as the loader read them. A YAML definition's span is
    its key: its lines run on while they are indented deeper than the key."""
    text = model.sources.get(d.span.file) or ""
    lines = text.splitlines()
    if not lines:
        return ""
    first = d.span.line - 1
    if d.span.file.endswith((".yml", ".yaml")):
        indent = d.span.col - 1
        last = first
        while last + 1 < len(lines) and (
            not lines[last + 1].strip()
            or len(lines[last + 1]) - len(lines[last + 1].lstrip()) > indent
        ):
            last += 1
        while last > first and not lines[last].strip():
            last -= 1
        return "\n".join(line[indent:] for line in lines[first : last + 1])
    return "\n".join(lines[first : d.span.end_line])


def write(
    model: Model,
    out: Path,
    history: dict[str, list[dict]] | None = None,
    overlap: dict | None = None,
) -> list[Path]:
    """Render the catalog into `out` (created; its old pages replaced)."""
    import jinja2

    found = entries(model)
    for e in found:
        e.history = (history or {}).get(e.name, [])
    shown = {e.name for e in found}
    if overlap is not None:  # the segments of the run that are still defined
        kept = [n for n in overlap["segments"] if n in shown]
        overlap = {**overlap, "segments": kept}
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("segql.catalog", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["page"] = page_name
    project = model.project
    common = {
        "entity": project.entity,
        "key": project.key,
        "dialects": DIALECTS,
        "names": {e.name for e in found},
        "overlap": overlap,
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SegqlError(f"cannot write to '{out}': {e.strerror or e}") from None
    written = []
    index = [
        {
            "name": e.name,
            "kind": e.kind,
            "page": e.page,
            "title": e.title or "",
            "hypothesis": e.hypothesis or "",
            "channels": list(e.channels),
            "kpis": list(e.kpis),
        }
        for e in found
    ]
    pages = {
        "index.html": env.get_template("index.html").render(
            entries=found,
            data=json.dumps(index, sort_keys=True),
            channels=sorted({c for e in found for c in e.channels}),
            kpis=sorted({k for e in found for k in e.kpis}),
            **common,
        )
    }
    for e in found:
        pages[e.page] = env.get_template("definition.html").render(entry=e, **common)
    for name, html in pages.items():
        (out / name).write_text(html, encoding="utf-8")
        written.append(out / name)
    for name in STATIC:
        target = out / name
        with (Path(__file__).parent / "static" / name).open("rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        written.append(target)
    return written


def from_state(state) -> tuple[dict[str, list[dict]], dict | None]:
    """Size history per definition (every run, from `sizes`) and the overlap of
    segments in the last run's membership (members in both, per pair), read
    from the state of `segql run`; nothing when there is no run yet."""
    from sqlglot import exp

    from segql.ops import history as hs
    from segql.ops import state as st
    from segql.ops.render import percent
    from segql.sql.expressions import col, ident

    runs = st.runs(state)
    if not runs:
        return {}, None
    history = {
        name: [
            {
                "as_of": p.as_of.isoformat(sep=" "),
                "label": p.label,
                "members": p.members,
                "share": percent(p.share),
                "entered": p.entered,
                "exited": p.exited,
            }
            for p in points
        ]
        for name, points in hs.sized_runs(state).items()
    }
    last = runs[-1]
    segments = [o for o, k in hs.outputs_of(state).items() if k == "segment"]
    if not segments:
        return history, None
    m = exp.Subquery(
        this=st.membership_of(state, last.run_id), alias=exp.TableAlias(this=ident("m"))
    )
    pairs = [(a, b) for i, a in enumerate(segments) for b in segments[i:]]
    both = [
        exp.Sum(
            this=exp.Case(
                ifs=[exp.If(this=exp.and_(col(a), col(b)), true=exp.Literal.number(1))],
                default=exp.Literal.number(0),
            )
        )
        for a, b in pairs
    ]
    row = state.engine.fetch(exp.select(*both).from_(m))[0]
    counts = {a: {} for a in segments}
    for (a, b), n in zip(pairs, row, strict=True):
        counts[a][b] = counts[b][a] = int(n or 0)
    overlap = {"as_of": last.as_of.isoformat(sep=" "), "segments": segments, "counts": counts}
    return history, overlap
