"""Output of `segql diff`: json and rich tables."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from segql.ops import drift
from segql.ops.preview import share_warning
from segql.ops.render import WARNINGS, percent

if TYPE_CHECKING:
    from rich.console import Console

    from segql.ops.diff import DiffResult, Distribution


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _label(value: object) -> object:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def _drift(d: Distribution) -> dict:
    return {"psi": _r(d.psi), "js": _r(d.js), "drift": drift.level(d.psi)}


def _shares(d: Distribution) -> list[dict]:
    b, a = drift.shares(d.before), drift.shares(d.after)
    return [
        {
            "value": _label(v),
            "before": nb,
            "after": na,
            "share_before": _r(sb),
            "share_after": _r(sa),
        }
        for v, nb, na, sb, sa in zip(d.values, d.before, d.after, b, a, strict=True)
    ]


def as_dict(r: DiffResult) -> dict:
    return {
        "before": r.before,
        "after": r.after,
        "key": r.key,
        "universe": {"before": r.universe[0], "after": r.universe[1]},
        "segments": [
            {
                "name": s.name,
                "before": s.before,
                "after": s.after,
                "entered": s.entered,
                "exited": s.exited,
                "jaccard": _r(s.jaccard),
                "warning": share_warning(s.after, r.universe[1]),
                **_drift(s.share),
            }
            for s in r.segments
        ],
        "segmentations": [
            {
                "name": m.name,
                "labels": [{"label": x.pop("value"), **x} for x in _shares(m.labels)],
                "transitions": [
                    {
                        "from": lb,
                        "to": la,
                        "from_universe": pb,
                        "to_universe": pa,
                        "entities": n,
                    }
                    for lb, la, pb, pa, n in m.transitions
                ],
                **_drift(m.labels),
            }
            for m in r.segmentations
        ],
        "composition": [
            {"segment": c.segment, "by": c.column, "values": _shares(c.values), **_drift(c.values)}
            for c in r.composition
        ],
    }


def to_json(r: DiffResult) -> str:
    return json.dumps(as_dict(r), indent=2) + "\n"


def print_tables(r: DiffResult, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    doc = as_dict(r)
    console.print(Text.assemble(("from ", "bold"), r.before, ("  to ", "bold"), r.after))
    console.print(Text.assemble(("universe ", "bold"), f"{r.universe[0]:,} → {r.universe[1]:,}"))
    if doc["segments"]:
        t = Table(title="Segments", title_justify="left", title_style="bold")
        for c in ("segment", "before", "after", "entered", "exited", "jaccard", "psi", ""):
            t.add_column(c, justify="left" if c in ("segment", "") else "right")
        for s in doc["segments"]:
            t.add_row(
                s["name"],
                f"{s['before']:,}",
                f"{s['after']:,}",
                f"{s['entered']:,}",
                f"{s['exited']:,}",
                "-" if s["jaccard"] is None else f"{s['jaccard']:.3f}",
                f"{s['psi']:.4f}",
                _flag(s["drift"], s["warning"]),
            )
        console.print(t)
    for m in doc["segmentations"]:
        console.print(_distribution_table(f"Segmentation {m['name']}", "label", m["labels"], m))
        if m["transitions"]:
            t = Table(title=f"Transitions of {m['name']}", title_justify="left")
            for c in ("before", "after", "entities"):
                t.add_column(c, justify="right" if c == "entities" else "left")
            for x in m["transitions"]:
                t.add_row(
                    _place(x["from"], x["from_universe"]),
                    _place(x["to"], x["to_universe"]),
                    f"{x['entities']:,}",
                )
            console.print(t)
    for c in doc["composition"]:
        title = f"Composition of {c['segment']} by {c['by']}"
        console.print(_distribution_table(title, c["by"], c["values"], c))


def _flag(level: str, warning: str | None) -> str:
    parts = [] if level == "stable" else [f"{level} drift"]
    if warning:
        parts.append(WARNINGS[warning])
    return "; ".join(parts)


def _place(label: object, in_universe: bool) -> str:
    if not in_universe:
        return "(not in universe)"
    return "(no label)" if label is None else str(label)


def _distribution_table(title: str, what: str, rows: list[dict], summary: dict):
    from rich.table import Table

    caption = f"PSI {summary['psi']:.4f} ({summary['drift']}), JS {summary['js']:.4f}"
    t = Table(title=title, title_justify="left", title_style="bold", caption=caption)
    for c in (what, "before", "share", "after", "share"):
        t.add_column(c, justify="left" if c == what else "right")
    for x in rows:
        value = x.get("label", x.get("value"))
        t.add_row(
            "(none)" if value is None else str(value),
            f"{x['before']:,}",
            percent(x["share_before"]),
            f"{x['after']:,}",
            percent(x["share_after"]),
        )
    return t
