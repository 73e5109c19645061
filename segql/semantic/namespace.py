"""The resolver's namespace: every definition declared once (duplicates and
clashes reported), bound in dependency order, cycles found (a mixin of the
resolver)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial

from segql.errors import Span, narrow
from segql.semantic.model import ANY, DURATION, NUMBER, type_of
from segql.semantic.typecheck import a_
from segql.syntax import ast


def def_name_span(d: ast.Node, name: str, text: str | None) -> Span:
    """The name in a definition (after its keyword in .seg; YAML spans are the key)."""
    keyword = {
        ast.Trait: "trait",
        ast.Segment: "segment",
        ast.Segmentation: "segmentation",
        ast.Split: "split",
    }
    return narrow(text, d.span, name, skip=len(keyword.get(type(d), "")))


class Namespace:
    """Declares and binds the definitions of all modules."""

    def declare(self, modules: list[ast.Module]) -> None:
        seen: dict[str, Callable[[], Span]] = {}

        # `where` finds the name's span in the file text, only when an error needs it:
        # narrowing every definition re-read its whole file each time, which made
        # resolving quadratic in the file's size (benchmarks/compile_bench.py).
        def claim(name: str, where: Callable[[], Span], what: str) -> None:
            if name in seen:
                other = seen[name]()
                at = f"{other.file}:{other.line}:{other.col}"
                self.diags.error(
                    f"duplicate name '{name}' (also defined at {at})",
                    where(),
                    "traits, segments, segmentations and labels share one namespace",
                )
            elif name in self.profile_cols or name == self.project.key:
                self.diags.error(
                    f"{what} '{name}' clashes with the profile column '{name}'",
                    where(),
                    "definitions, labels and profile columns share one namespace: rename it",
                )
            elif name in self.project.sources:
                self.diags.error(f"{what} '{name}' clashes with the source '{name}'", where())
            else:
                seen[name] = where

        for module in modules:
            self.broken.update(module.broken)
            for d in module.definitions:
                where = partial(def_name_span, d, d.name, module.text)
                claim(d.name, where, type(d).__name__.lower())
                if d.name not in self.defs:
                    self.defs[d.name] = d
                if isinstance(d, ast.Segmentation):
                    labels: list[ast.Rule | ast.CatchAll | ast.ClusterName] = [*d.rules]
                    if d.clusters is not None:  # named clusters only: cluster_<n> is no name
                        labels.extend(d.clusters.names)
                    if d.catch_all is not None:
                        labels.append(d.catch_all)
                    for r in labels:
                        skip = len("else") if r is d.catch_all else 0
                        claim(r.label, partial(self.narrow, r.span, r.label, skip=skip), "label")
                        self.labels.setdefault(r.label, (d.name, r.span))

    # ------------------------------------------------------------ definitions

    def _depend(self, name: str, span: Span) -> None:
        if self.current is not None:
            self.deps.setdefault(self.current, set()).add(name)
            self.ref_spans.setdefault((self.current, name), span)

    def trait_type(self, name: str) -> str:
        if name not in self.bound:
            if name in self.in_progress:
                return ANY  # a cycle, reported by order()
            saved = self.current
            self.bound[name] = self.definition(self.defs[name])
            self.current = saved
        d = self.bound[name]
        return type_of(d.expr) if isinstance(d, ast.Trait) else ANY

    def bind_all(self) -> dict[str, ast.Definition]:
        for name, d in self.defs.items():
            if name not in self.bound:
                try:
                    self.bound[name] = self.definition(d)
                except RecursionError:
                    self.diags.error(
                        f"'{name}' is nested too deeply to compile",
                        def_name_span(d, name, self.sources.get(d.span.file)),
                        "split the expression into traits, or shorten the chain of "
                        "definitions that use one another",
                    )
                    self.current, self.in_progress = None, set()
                    break  # the rest would likely fail the same way
        return {n: self.bound[n] for n in self.defs if n in self.bound}

    def definition(self, d: ast.Definition) -> ast.Definition:
        self.in_progress.add(d.name)
        self.current = d.name
        self.deps.setdefault(d.name, set())
        if isinstance(d, ast.Segmentation) and d.clusters is not None:
            out: ast.Definition = self.clusters(d)
        elif isinstance(d, ast.Segmentation):
            rules = []
            for r in d.rules:
                bound = self.expr(r.expr)
                if d.by == "weight":
                    if type_of(bound) not in (NUMBER, ANY):
                        self.diags.error(
                            f"rule '{r.label}' of a 'by weight' segmentation needs a number, "
                            f"got {a_(type_of(bound))}",
                            r.expr.span,
                            "by weight, the rule with the largest number labels the entity",
                        )
                else:
                    self.expect_condition(bound, f"rule '{r.label}' needs")
                rules.append(dataclasses.replace(r, expr=bound))
            out = dataclasses.replace(d, rules=tuple(rules))
        elif isinstance(d, ast.Split):
            out = self.split(d)
        else:
            bound = self.expr(d.expr)
            if isinstance(d, ast.Segment):
                self.expect_condition(bound, f"segment '{d.name}' needs")
            elif type_of(bound) == DURATION:
                pass  # reported by expr()
            out = dataclasses.replace(d, expr=bound)
        self.current = None
        self.in_progress.discard(d.name)
        return out

    def order(self, bound: dict[str, ast.Definition]) -> list[str]:
        """Definitions in dependency order; cycles are errors."""
        done: list[str] = []
        state: dict[str, int] = {}

        def report(cycle: list[str]) -> None:
            edges = list(zip(cycle, cycle[1:], strict=False))
            spans = [self.ref_spans.get(edge, self.defs[edge[0]].span) for edge in edges]
            self.diags.error(
                f"'{cycle[0]}' is defined in terms of itself"
                if len(cycle) == 2
                else "cycle in definitions: " + " → ".join(cycle),
                spans[0],
                *(
                    f"'{a}' uses '{b}' at {s.file}:{s.line}:{s.col}"
                    for (a, b), s in list(zip(edges, spans, strict=True))[1:6]
                ),
            )

        # depth-first, post-order, with a stack of its own: chains of thousands of
        # definitions need no call stack
        for root in bound:
            if state.get(root) == 2:
                continue
            state[root] = 1
            path = [root]
            todo = [iter(sorted(self.deps.get(root, ())))]
            while todo:
                m = next(todo[-1], None)
                if m is None:
                    todo.pop()
                    n = path.pop()
                    state[n] = 2
                    done.append(n)
                elif m not in bound or state.get(m) == 2:
                    continue
                elif state.get(m) == 1:
                    report(path[path.index(m) :] + [m])
                else:
                    state[m] = 1
                    path.append(m)
                    todo.append(iter(sorted(self.deps.get(m, ()))))
        return done
