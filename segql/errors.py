"""Diagnostics: every user mistake becomes a SegqlError with a span, rendered as

    file:line:col: error: message
      <source line>
      ^^^^^
    help: ...

Errors are collected (`Diagnostics`) so that a run reports all of them at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(file: str, line: int, col: int) -> Span:
        return Span(file, line, col, line, col + 1)


@dataclass
class SegqlError(Exception):
    """A user error: bad definitions, bad data, bad usage."""

    message: str
    span: Span | None = None
    hints: tuple[str, ...] = ()
    code: str = "error"
    # usage errors (unknown flag or dialect) exit with 2, everything else with 1
    usage: bool = False
    # the text of span.file as it was read: the error is shown from it, never from
    # the file read again (it may have changed since, or be gone)
    text: str | None = field(default=None, compare=False, repr=False)
    # "warning": shown on stderr and the command goes on (--strict: an error)
    severity: str = "error"

    def __str__(self) -> str:
        return self.render()

    def located(self, sources: Mapping[str, str] | None) -> SegqlError:
        """This error, given the text of its file from sources (file -> text)
        unless it has one already."""
        if self.text is None and self.span is not None and sources:
            self.text = sources.get(self.span.file)
        return self

    def render(self, sources: Mapping[str, str] | None = None) -> str:
        if self.span is None:
            head = f"{self.severity}: {self.message}"
        else:
            where = f"{self.span.file}:{self.span.line}:{self.span.col}"
            head = f"{where}: {self.severity}: {self.message}"
        lines = [head]
        text = self.text
        if self.span is not None and sources:
            text = sources.get(self.span.file, text)
        if text is not None and self.span is not None:
            src_lines = text.splitlines()
            if 1 <= self.span.line <= len(src_lines):
                src = src_lines[self.span.line - 1].replace("\t", " ")
                start = self.span.col
                end = self.span.end_col if self.span.end_line == self.span.line else len(src) + 1
                width = max(1, min(end, len(src) + 1) - start)
                if len(src) > _MAX_SHOWN:  # a very long line: the part around the span
                    cut = max(0, start - 1 - _MAX_SHOWN // 4)
                    more = "…" if cut + _MAX_SHOWN < len(src) else ""
                    src = ("…" if cut else "") + src[cut : cut + _MAX_SHOWN] + more
                    start = start - cut + (1 if cut else 0)
                    width = min(width, _MAX_SHOWN - (start - 1))
                lines.append("  " + src)
                lines.append("  " + " " * (start - 1) + "^" * width)
        lines.extend(f"help: {h}" for h in self.hints)
        return "\n".join(lines)


_MAX_SHOWN = 160  # characters of a source line shown under an error


def narrow(text: str | None, span: Span, word: str, skip: int = 0, last: bool = False) -> Span:
    """The part of a one-line span where `word` (or `word` in backticks) is written,
    searching from `skip` characters in; the span itself when it is not found.
    `text` is the text of span.file as it was read (None: not known).

    Lets a check underline exactly a name inside a larger node: the column of
    `orders.amont`, the name of `segment x = ...`."""
    if text is None or span.line <= 0 or span.end_line != span.line:
        return span
    lines = text.splitlines()
    if not 1 <= span.line <= len(lines):
        return span
    segment = lines[span.line - 1][span.col - 1 : span.end_col - 1]
    found = [
        m
        for pattern in (
            r"`" + re.escape(word) + r"`",
            r"(?<![\w`])" + re.escape(word) + r"(?![\w`])",
        )
        for m in re.finditer(pattern, segment)
        if m.start() >= skip
    ]
    if not found:
        return span
    m = max(found, key=lambda m: m.start()) if last else min(found, key=lambda m: m.start())
    return Span(span.file, span.line, span.col + m.start(), span.line, span.col + m.end())


class SegqlErrors(Exception):
    """Several errors of one run, raised together, in file order. `sources`
    (file -> text) gives each error the text of its file unless it has one."""

    def __init__(self, errors: list[SegqlError], sources: Mapping[str, str] | None = None):
        self.errors = sorted((e.located(sources) for e in errors), key=_order)
        super().__init__("\n".join(e.render() for e in self.errors))

    @property
    def usage(self) -> bool:
        return all(e.usage for e in self.errors)


class SegqlWarning(UserWarning):
    """A warning about definitions or data (an unknown column type), issued with
    Python's `warnings` so that callers filter it the usual way; the CLI renders
    it like an error, and `--strict` turns it into one."""

    def __init__(self, diagnostic: SegqlError):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def issue_warnings(found: Iterable[SegqlError], sources: Mapping[str, str] | None = None) -> None:
    """Issue each warning; those the caller's filters turn into exceptions
    (`warnings.simplefilter("error", SegqlWarning)`: --strict) are raised
    together as errors, all at once like other errors."""
    import warnings

    failed = []
    for w in found:
        try:
            warnings.warn(SegqlWarning(w.located(sources)), stacklevel=2)
        except SegqlWarning:
            failed.append(SegqlError(w.message, w.span, w.hints, text=w.text))
    if failed:
        raise SegqlErrors(failed, sources)


def _order(e: SegqlError) -> tuple:
    s = e.span
    return (s is None, s.file if s else "", s.line if s else 0, s.col if s else 0, e.message)


@dataclass
class Diagnostics:
    """Collects errors of a stage; `check()` raises them all together."""

    errors: list[SegqlError] = field(default_factory=list)
    warnings: list[SegqlError] = field(default_factory=list)

    def warn(self, message: str, span: Span | None = None, *hints: str) -> None:
        w = SegqlError(message, span, tuple(h for h in hints if h), severity="warning")
        if w not in self.warnings:
            self.warnings.append(w)

    def error(self, message: str, span: Span | None = None, *hints: str) -> None:
        err = SegqlError(message, span, tuple(h for h in hints if h))
        if err not in self.errors:
            self.errors.append(err)

    def extend(self, errors: Iterable[SegqlError]) -> None:
        for e in errors:
            if e not in self.errors:
                self.errors.append(e)

    def check(self, sources: Mapping[str, str] | None = None) -> None:
        if self.errors:
            raise SegqlErrors(list(self.errors), sources)


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like word (difflib ratio >= cutoff), or None."""
    if len(word) > 64:  # no name is that long; difflib would take seconds
        return None
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'did you mean' hint text, or '' when nothing is close."""
    pool = set(candidates)
    close = closest(word, pool)
    if close is None and len(word) <= 64:  # else one that differs only in case
        close = {c.lower(): c for c in sorted(pool)}.get(word.lower())
    return f"did you mean '{close}'?" if close else ""
