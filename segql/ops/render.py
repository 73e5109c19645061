"""Output of `segql preview`: json, csv and rich tables, and of diagnostics.

Shares are fractions of the universe (0.25 = 25%) in json and csv, rounded to
six decimals, and null/empty when the universe is empty. Trait values
(`--traits`) are written as json values: numbers as numbers, dates and
timestamps as ISO text.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

from segql.errors import SegqlError, SegqlErrors

if TYPE_CHECKING:  # rich is imported lazily: compile and --help must start fast
    from rich.console import Console

    from segql.ops.preview import (
        PreviewResult,
        SegmentationSummary,
        SplitSummary,
        TraitSummary,
    )

WARNINGS = {"small": "under 1% of the universe", "large": "over 50% of the universe"}


def _share(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def json_value(value):
    """A member key as a json value: numbers and strings as they are, others as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    return str(value)


def _value(v):
    """A trait's value as a json value."""
    from decimal import Decimal

    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return json_value(v)


def as_dict(r: PreviewResult) -> dict:
    """The json document, keys in a fixed order; `splits` only when there are
    some (a group's share is of its split's members, beside the written target),
    `traits` only with --traits."""
    doc = {
        "as_of": r.as_of.isoformat() + "Z",
        "as_of_source": r.as_of_source,
        "data": r.data,
        "entity": r.entity,
        "key": r.key,
        "universe": r.universe,
        "segments": [
            {
                "name": s.name,
                "members": s.members,
                "share": _share(s.share),
                "warning": s.warning,
                "examples": [json_value(k) for k in s.examples],
                "title": s.title,
                "hypothesis": s.hypothesis,
                "channels": list(s.channels),
                "kpis": list(s.kpis),
            }
            for s in r.segments
        ],
        "segmentations": [
            {
                "name": m.name,
                "by": m.by,
                "labels": [
                    {
                        "label": lab.label,
                        "members": lab.members,
                        "share": _share(lab.share),
                        "matched": lab.matched,
                        "catch_all": lab.catch_all,
                    }
                    for lab in m.labels
                ],
                "unlabeled": m.unlabeled,
                "overlap": m.overlap,
            }
            for m in r.segmentations
        ],
    }
    if r.splits:
        doc["splits"] = [
            {
                "name": sp.name,
                "of": sp.segment,
                "members": sp.members,
                "groups": [
                    {
                        "group": g.group,
                        "members": g.members,
                        "share": _share(g.share),
                        "target": _share(g.target),
                    }
                    for g in sp.groups
                ],
                "rest": sp.rest,
            }
            for sp in r.splits
        ]
    if r.traits:
        doc["traits"] = [
            {
                "name": t.name,
                "type": t.type,
                "values": t.values,
                "nulls": t.nulls,
                "min": _value(t.min),
                "max": _value(t.max),
                "mean": _share(t.mean),  # rounded to 6 decimals, as shares
                "top": [{"value": _value(v), "count": n} for v, n in t.top],
            }
            for t in r.traits
        ]
    return doc


def to_json(r: PreviewResult) -> str:
    return json.dumps(as_dict(r), indent=2) + "\n"


def to_csv(r: PreviewResult) -> str:
    """Rows kind,name,label,members,share. Kinds: universe, segment, label,
    unlabeled (null label: no `else`), overlap (matched more than one rule),
    split (label: the segment it divides), group, rest (a split's members in no group);
    with --traits per trait: trait (label: its type; members: entities with a
    value), trait_nulls, trait_min / trait_max / trait_mean (label: the value),
    trait_top (label: a value; members: its count)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["kind", "name", "label", "members", "share"])

    def share(n: int) -> str:
        return "" if not r.universe else repr(round(n / r.universe, 6))

    w.writerow(["universe", r.entity, "", r.universe, share(r.universe)])
    for s in r.segments:
        w.writerow(["segment", s.name, "", s.members, share(s.members)])
    for m in r.segmentations:
        for lab in m.labels:
            w.writerow(["label", m.name, lab.label, lab.members, share(lab.members)])
        w.writerow(["unlabeled", m.name, "", m.unlabeled, share(m.unlabeled)])
        w.writerow(["overlap", m.name, "", m.overlap, share(m.overlap)])
    for sp in r.splits:
        w.writerow(["split", sp.name, sp.segment, sp.members, share(sp.members)])
        for g in sp.groups:
            w.writerow(["group", sp.name, g.group, g.members, share(g.members)])
        w.writerow(["rest", sp.name, "", sp.rest, share(sp.rest)])
    for t in r.traits:
        w.writerow(["trait", t.name, t.type, t.values, share(t.values)])
        w.writerow(["trait_nulls", t.name, "", t.nulls, share(t.nulls)])
        mean = _share(t.mean)
        for kind, v in (("trait_min", t.min), ("trait_max", t.max), ("trait_mean", mean)):
            if v is not None:
                w.writerow([kind, t.name, _text(v), "", ""])
        for v, n in t.top:
            w.writerow(["trait_top", t.name, _text(v), n, share(n)])
    return out.getvalue()


def _text(v) -> str:
    """A trait value in csv and tables: booleans as true/false, others as json has them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    shown = _value(v)
    return repr(shown) if isinstance(shown, float) else str(shown)


def percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _count(n: int, entity: str) -> str:
    return f"{n:,} {entity if n == 1 else _plural(entity)}"


def _plural(word: str) -> str:
    """The plural of an entity name: customers, entities (the default name), boxes."""
    if word.endswith("y") and word[-2:-1] not in ("", *"aeiou"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def print_table(r: PreviewResult, console: Console) -> None:
    """Rich tables: a header, the segments, then one table per segmentation."""
    from rich.table import Table
    from rich.text import Text

    when = r.as_of.isoformat(sep=" ") + " UTC"
    note = {"sample": " (the sample's fixed date; --as-of to change)", "now": " (now)"}
    console.print(Text.assemble(("as_of ", "bold"), when + note.get(r.as_of_source, "")))
    console.print(Text.assemble(("data ", "bold"), r.data))
    console.print(Text.assemble(("universe ", "bold"), _count(r.universe, r.entity)))
    if r.segments:
        warned = any(s.warning for s in r.segments)
        examples = any(s.examples for s in r.segments)
        titled = any(s.title or s.channels or s.kpis for s in r.segments)
        t = Table(title="Segments", title_justify="left", title_style="bold")
        t.add_column("segment")
        t.add_column("members", justify="right")
        t.add_column("share", justify="right")
        if warned:
            t.add_column("warning")
        if examples:
            t.add_column("smallest keys")
        if titled:
            t.add_column("title · channels · kpis")
        for s in r.segments:
            row: list = [s.name, f"{s.members:,}", percent(s.share)]
            if warned:
                row.append(Text("! " + WARNINGS[s.warning], "yellow") if s.warning else "")
            if examples:
                row.append(", ".join(map(str, s.examples)))
            if titled:
                row.append(_context(s))
            t.add_row(*row)
        console.print(t)
    for m in r.segmentations:
        console.print(_segmentation_table(m, r.universe))
        if m.by == "clusters":  # the nearest centroid: no rule, no overlap
            continue
        settled = "priority" if m.by == "priority" else "the largest weight"
        console.print(
            f"overlap: {_count(m.overlap, r.entity)} matched more than one rule, "
            f"settled by {settled}"
        )
    for sp in r.splits:
        console.print(_split_table(sp))
        console.print(f"shares of the {_count(sp.members, r.entity)} in {sp.segment}")
    if r.traits:
        console.print(_traits_table(r.traits))


def _traits_table(traits: tuple[TraitSummary, ...]):
    from rich.table import Table

    t = Table(title="Traits", title_justify="left", title_style="bold")
    t.add_column("trait")
    t.add_column("type")
    t.add_column("values", justify="right")
    t.add_column("nulls", justify="right")
    t.add_column("min · max · mean  /  top values")
    for s in traits:
        if s.top:
            about = ", ".join(f"{_text(v)} ({n:,})" for v, n in s.top)
        else:
            parts = [_text(v) for v in (s.min, s.max) if v is not None]
            if s.mean is not None:
                parts.append(f"mean {s.mean:,.4g}")
            about = " · ".join(parts)
        t.add_row(s.name, s.type, f"{s.values:,}", f"{s.nulls:,}", about)
    return t


def _context(s) -> str:
    parts = [s.title or ""]
    if s.channels:
        parts.append(", ".join(s.channels))
    if s.kpis:
        parts.append(", ".join(s.kpis))
    return " · ".join(p for p in parts if p)


def _segmentation_table(m: SegmentationSummary, universe: int):
    from rich.table import Table

    t = Table(title=f"Segmentation {m.name} (by {m.by})", title_justify="left", title_style="bold")
    t.add_column("label")
    t.add_column("members", justify="right")
    t.add_column("share", justify="right")
    t.add_column("rule matched", justify="right")  # before priority / weights settled it
    for lab in m.labels:
        name = f"{lab.label} (else)" if lab.catch_all else lab.label
        matched = "" if lab.matched is None else f"{lab.matched:,}"
        t.add_row(name, f"{lab.members:,}", percent(lab.share), matched)
    if not m.has_else:
        share = m.unlabeled / universe if universe else None
        t.add_row("(no label)", f"{m.unlabeled:,}", percent(share), "", style="yellow")
    return t


def _split_table(s: SplitSummary):
    from rich.table import Table

    title = f"Split {s.name} of {s.segment}"
    t = Table(title=title, title_justify="left", title_style="bold")
    t.add_column("group")
    t.add_column("members", justify="right")
    t.add_column("share", justify="right")  # of the split's members
    t.add_column("target", justify="right")
    for g in s.groups:
        t.add_row(g.group, f"{g.members:,}", percent(g.share), percent(g.target))
    if s.rest:
        share = s.rest / s.members if s.members else None
        t.add_row("(no group)", f"{s.rest:,}", percent(share), "", style="yellow")
    return t


def render_errors(err: SegqlError | SegqlErrors) -> tuple[str, int]:
    """Diagnostics text for stderr (every error, then a count) and the exit status:
    2 when every error is a usage error, else 1."""
    errors = err.errors if isinstance(err, SegqlErrors) else [err]
    text = "\n".join(e.render() for e in errors)
    n = len(errors)
    text += f"\n{n} error{'s' if n != 1 else ''}\n"
    return text, 2 if all(e.usage for e in errors) else 1


__all__ = ["as_dict", "to_json", "to_csv", "print_table", "render_errors"]
