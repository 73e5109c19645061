"""Front end for YAML definition files (LANGUAGE.md §4): text → `ast.Module`.

The YAML form builds exactly the AST the `.seg` form builds. Conditions are
parsed by the `.seg` expression grammar (`parser.parse_expression`) from the
node's raw source text, so that errors point at the line and column inside
the YAML file, and so that YAML's own typing (`1`, `yes`, `1.5`) never gets
in the way. Every error of the file is collected and raised together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import yaml

from segql.errors import Diagnostics, SegqlError, SegqlErrors, Span, did_you_mean
from segql.syntax import ast
from segql.syntax.parser import parse_expression
from segql.syntax.yamlsrc import compose, span_of

SECTIONS = ("traits", "segments", "segmentations", "splits")
SEGMENT_FIELDS = ("where", "title", "hypothesis", "channels", "kpis")
SEGMENTATION_FIELDS = ("by", "rules", "else")
# `features`, not `on`: YAML 1.1 reads a bare `on` key as the boolean true
CLUSTERS_FIELDS = ("by", "k", "features", "scale", "names", "else")
SPLIT_FIELDS = ("of", "salt", "groups")
_PERCENT = re.compile(r"\d+(\.\d+)?%")  # the grammar's PERCENT
KINDS = ("priority", "weight", "clusters")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTED = re.compile(r"`[^`\n]+`")  # the grammar's QUOTED_NAME


def parse_yaml_module(text: str, file: str) -> ast.Module:
    """Parse one YAML definitions file; raises SegqlErrors with every error found."""
    module, errors = parse_yaml_module_recovering(text, file)
    if errors:
        raise SegqlErrors(errors)
    return module


def parse_yaml_module_recovering(text: str, file: str) -> tuple[ast.Module, list[SegqlError]]:
    """Parse one YAML definitions file as far as it goes: a module of the
    definitions without error, the names of the others (`Module.broken`), and
    every error (as the `.seg` front end)."""
    try:
        root = compose(text, file)
    except SegqlError as e:  # not YAML: no definition is read, all are broken
        broken = tuple(m.group(1).strip("`") for m in _KEY.finditer(text))
        return ast.Module(file, (), Span(file, 1, 1, 1, 1), text, broken), [e]
    builder = _Builder(text, file)
    definitions = builder.module(root)
    module = ast.Module(file, tuple(definitions), Span(file, 1, 1, 1, 1), text, builder.broken)
    return module, [e.located({file: text}) for e in builder.diags.errors]


# a key of a YAML file that does not compose: a definition's name or a rule's label
# among them, told apart no further (a field name like `where` is no definition's)
_KEY = re.compile(r"^[ \t-]*(`[^`\n]+`|[A-Za-z_][A-Za-z0-9_]*)[ \t]*:", re.M)


def _eoc(text: str) -> str:
    return text.replace("end of file", "end of the condition")


def _is_null(node: yaml.Node) -> bool:
    """An empty value (`key:` or `~`), which PyYAML composes as a null scalar."""
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null") and not node.style


class _Builder:
    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.diags = Diagnostics()
        self.broken: tuple[str, ...] = ()  # names of definitions with an error

    def error(self, message: str, node: yaml.Node, *hints: str) -> None:
        self.diags.error(message, span_of(node, self.file), *hints)

    # ------------------------------------------------------------ structure

    def items(self, node: yaml.MappingNode, where: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping, in file order. PyYAML would
        silently keep the last of duplicate keys, hiding a definition: report it."""
        first: dict[str, int] = {}
        out = []
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                self.error(f"keys in {where} must be names", k)
                continue
            if k.value in first:
                hint = f"'{k.value}' is first given on line {first[k.value]}"
                self.error(f"duplicate key '{k.value}' in {where}", k, hint)
                continue
            first[k.value] = k.start_mark.line + 1
            out.append((k.value, k, v))
        return out

    def module(self, root: yaml.Node | None) -> list[ast.Definition]:
        if root is None or _is_null(root):  # empty, or only comments
            return []
        if not isinstance(root, yaml.MappingNode):
            self.error(
                "a definitions file maps 'traits', 'segments', 'segmentations', 'splits'", root
            )
            return []
        build: dict[str, Callable[[str, yaml.Node, yaml.Node], ast.Definition]] = {
            "traits": self.trait,
            "segments": self.segment,
            "segmentations": self.segmentation,
            "splits": self.split,
        }
        out: list[ast.Definition] = []
        for section, key, body in self.items(root, "the file"):
            if section not in SECTIONS:
                hint = did_you_mean(section, SECTIONS) or "sections are " + ", ".join(SECTIONS)
                self.error(f"unknown section '{section}'", key, hint)
                continue
            if _is_null(body):
                continue
            if not isinstance(body, yaml.MappingNode):
                self.error(f"'{section}' must map names to definitions", body)
                continue
            for text, k, v in self.items(body, f"'{section}'"):
                name = self.name(text, k)
                if name is None:
                    continue
                errors = len(self.diags.errors)
                d = build[section](name, k, v)
                # one with an error holds a placeholder resolve would report again
                if len(self.diags.errors) > errors:
                    self.broken += ast.defined_names(d)
                else:
                    out.append(d)
        return out

    def name(self, text: str, node: yaml.Node) -> str | None:
        if _IDENT.fullmatch(text):
            return text
        if _QUOTED.fullmatch(text):
            return text[1:-1]
        hint = "a name is letters, digits and _, not starting with a digit, or `quoted`"
        self.error(f"'{text}' is not a valid name", node, hint)
        return None

    # ------------------------------------------------------------ definitions

    def trait(self, name: str, key: yaml.Node, value: yaml.Node) -> ast.Trait:
        return ast.Trait(name, self.condition(value, f"trait '{name}'"), span_of(key, self.file))

    def segment(self, name: str, key: yaml.Node, value: yaml.Node) -> ast.Segment:
        span = span_of(key, self.file)
        if not isinstance(value, yaml.MappingNode):
            return ast.Segment(name, self.condition(value, f"segment '{name}'"), span=span)
        fields = self.fields(value, SEGMENT_FIELDS, f"segment '{name}'")
        if "where" in fields:
            expr = self.condition(fields["where"], f"'where' of segment '{name}'")
        else:
            self.error(f"segment '{name}' has no 'where' condition", key)
            expr = ast.Boolean(False, span)
        return ast.Segment(
            name,
            expr,
            self.text_field(fields.get("title"), "title"),
            self.text_field(fields.get("hypothesis"), "hypothesis"),
            self.names(fields.get("channels"), "channels"),
            self.names(fields.get("kpis"), "kpis"),
            span,
        )

    def segmentation(self, name: str, key: yaml.Node, value: yaml.Node) -> ast.Segmentation:
        span = span_of(key, self.file)
        what = f"segmentation '{name}'"
        if not isinstance(value, yaml.MappingNode):
            self.error(f"{what} must be a mapping with 'rules' (and 'by', 'else')", value)
            return ast.Segmentation(name, "priority", (), None, span)
        by = "priority"
        by_node = next((v for k, v in value.value if getattr(k, "value", None) == "by"), None)
        if by_node is not None:
            by = by_node.value if isinstance(by_node, yaml.ScalarNode) else ""
            if by not in KINDS:
                self.error(
                    f"unknown segmentation kind '{by}'",
                    by_node,
                    did_you_mean(by, KINDS),
                    "'by' is priority, weight or clusters",
                )
                by = "priority"
        allowed = CLUSTERS_FIELDS if by == "clusters" else SEGMENTATION_FIELDS
        fields = self.fields(value, allowed, what)
        clusters = self.clusters(fields, key, what) if by == "clusters" else None
        rules = self.rules(fields.get("rules"), key, what) if clusters is None else ()
        catch_all = None
        if "else" in fields:
            node = fields["else"]
            if not isinstance(node, yaml.ScalarNode) or _is_null(node):
                self.error(f"'else' of {what} must be a label", node)
            elif (label := self.name(node.value, node)) is not None:
                else_key = next(k for k, v in value.value if v is node)
                catch_all = ast.CatchAll(label, self.between(else_key, node))
        return ast.Segmentation(name, by, rules, catch_all, span, clusters)

    def clusters(self, fields: dict, key: yaml.Node, what: str) -> ast.Clusters:
        """`by: clusters`, `k: 4`, `features: [recency, …]`, `scale: standard`,
        `names: {1: champions, …}` (LANGUAGE.md §14; docs/clusters.md)."""
        span = span_of(key, self.file)
        k = 0
        node = fields.get("k")
        if node is None:
            self.error(f"{what} has no 'k': the number of clusters", key)
        elif not isinstance(node, yaml.ScalarNode) or not node.value.isdigit():
            self.error(f"'k' of {what} must be a whole number, e.g. 4", node)
        else:
            k = int(node.value)
        features: list[ast.Expr] = []
        node = fields.get("features")
        if node is None or _is_null(node):
            self.error(f"{what} has no 'features': the numbers it clusters on", key)
        else:
            items = node.value if isinstance(node, yaml.SequenceNode) else [node]
            for item in items:
                features.append(self.condition(item, f"a feature of {what}"))
        scale = None
        node = fields.get("scale")
        if node is not None:
            word = node.value if isinstance(node, yaml.ScalarNode) else ""
            if word not in ast.SCALE_METHODS:
                self.error(
                    f"unknown scale '{word}'",
                    node,
                    did_you_mean(word, ast.SCALE_METHODS),
                    "scale is standard, minmax or none",
                )
            else:
                scale = word
        names: list[ast.ClusterName] = []
        node = fields.get("names")
        if node is not None and not _is_null(node):
            if not isinstance(node, yaml.MappingNode):
                self.error(
                    f"'names' of {what} maps cluster numbers to labels, e.g. 1: champions", node
                )
            else:
                for k_node, v_node in node.value:
                    number = getattr(k_node, "value", "")
                    if not isinstance(k_node, yaml.ScalarNode) or not number.isdigit():
                        self.error(f"a cluster number is a whole number, not '{number}'", k_node)
                        continue
                    if not isinstance(v_node, yaml.ScalarNode) or _is_null(v_node):
                        self.error(f"the name of cluster {number} must be a label", v_node)
                        continue
                    label = self.name(v_node.value, v_node)
                    if label is not None:
                        names.append(
                            ast.ClusterName(int(number), label, self.between(k_node, v_node))
                        )
        return ast.Clusters(k, tuple(features), scale, tuple(names), span)

    def rules(self, node: yaml.Node | None, key: yaml.Node, what: str) -> tuple[ast.Rule, ...]:
        if node is None or _is_null(node):
            self.error(f"{what} has no rules", key)
            return ()
        if not isinstance(node, yaml.SequenceNode):
            # a mapping would do, but YAML mappings are unordered and priority is order
            self.error(
                f"'rules' of {what} must be a list", node, "write each rule as '- label: condition'"
            )
            return ()
        out = []
        for item in node.value:
            if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
                self.error(f"a rule of {what} is one 'label: condition'", item)
                continue
            for text, k, v in self.items(item, what):
                label = self.name(text, k)
                if label is not None:
                    expr = self.condition(v, f"rule '{label}'")
                    out.append(ast.Rule(label, expr, self.between(k, v)))
        if not node.value:
            self.error(f"{what} has no rules", key)
        return tuple(out)

    def split(self, name: str, key: yaml.Node, value: yaml.Node) -> ast.Split:
        span = span_of(key, self.file)
        what = f"split '{name}'"
        if not isinstance(value, yaml.MappingNode):
            self.error(f"{what} must be a mapping with 'of' and 'groups' (and 'salt')", value)
            return ast.Split(name, ast.Name("?", span), (), None, span)
        fields = self.fields(value, SPLIT_FIELDS, what)
        of: ast.Expr = ast.Name("?", span)
        node = fields.get("of")
        if node is None:
            self.error(f"{what} has no 'of': the segment it divides", key)
        elif not isinstance(node, yaml.ScalarNode) or _is_null(node):
            self.error(f"'of' of {what} must be a segment's name", node)
        elif (segment := self.name(node.value, node)) is not None:
            of = ast.Name(segment, span_of(node, self.file))
        salt = None
        if "salt" in fields:
            node = fields["salt"]
            if not isinstance(node, yaml.ScalarNode) or _is_null(node):
                self.error(f"'salt' of {what} must be text", node)
            else:
                salt = node.value  # as written: `salt: 2024` is the text 2024
        groups = self.groups(fields.get("groups"), key, what)
        return ast.Split(name, of, groups, salt, span)

    def groups(self, node: yaml.Node | None, key: yaml.Node, what: str) -> tuple[ast.Group, ...]:
        empty = isinstance(node, yaml.SequenceNode) and not node.value
        if node is None or _is_null(node) or empty:
            self.error(f"{what} has no groups", key)
            return ()
        if not isinstance(node, yaml.SequenceNode):
            # groups take bucket ranges in order: a list, as rules are
            self.error(
                f"'groups' of {what} must be a list", node, "write each group as '- name: 10%'"
            )
            return ()
        out = []
        for item in node.value:
            if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
                self.error(f"a group of {what} is one 'name: N%'", item)
                continue
            for text, k, v in self.items(item, what):
                group = self.name(text, k)
                share = v.value if isinstance(v, yaml.ScalarNode) else ""
                if not _PERCENT.fullmatch(share):
                    self.error(f"the share of group '{text}' must be a percent, e.g. 10%", v)
                elif group is not None:
                    out.append(ast.Group(group, Decimal(share[:-1]), self.between(k, v)))
        return tuple(out)

    # ------------------------------------------------------------ values

    def fields(self, node: yaml.MappingNode, allowed: tuple[str, ...], what: str) -> dict:
        out = {}
        for field, key, value in self.items(node, what):
            if field not in allowed:
                self.error(
                    f"unknown field '{field}' in {what}",
                    key,
                    did_you_mean(field, allowed),
                    "fields are " + ", ".join(allowed),
                )
                continue
            out[field] = value
        return out

    def text_field(self, node: yaml.Node | None, field: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            self.error(f"'{field}' must be text", node)
            return None
        # a `>` block keeps its final newline; it is never part of a title
        return node.value.strip()

    def names(self, node: yaml.Node | None, field: str) -> tuple[str, ...]:
        if node is None:
            return ()
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: list[str] = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode) or _is_null(item):
                self.error(f"'{field}' must be a name or a list of names", item)
                continue
            # `channels: email, push` reads like the .seg form, so accept commas too
            for part in item.value.split(","):
                name = self.name(part.strip(), item)
                if name is not None:
                    out.append(name)
        return tuple(out)

    def between(self, first: yaml.Node, last: yaml.Node) -> Span:
        s, e = first.start_mark, last.end_mark
        return Span(self.file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)

    def condition(self, node: yaml.Node, what: str) -> ast.Expr:
        placeholder = ast.Null(span_of(node, self.file))
        if not isinstance(node, yaml.ScalarNode):
            self.error(f"{what} must be a condition, not a list or mapping", node)
            return placeholder
        source, index = self.source(node)
        if source.strip() in ("", "~"):  # `~` is YAML's null, not a condition
            self.error(f"{what} has no condition", node)
            return placeholder
        line = self.text.count("\n", 0, index) + 1
        col = index - (self.text.rfind("\n", 0, index) + 1) + 1
        try:
            return parse_expression(source, self.file, line, col)
        except SegqlErrors as e:
            errors = e.errors
        except SegqlError as e:
            errors = [e]
        # the parser was given one condition: its "end of file" is the condition's end
        self.diags.extend(
            replace(e, message=_eoc(e.message), hints=tuple(map(_eoc, e.hints))) for e in errors
        )
        return placeholder

    def source(self, node: yaml.ScalarNode) -> tuple[str, int]:
        """The condition's text and its index in the file.

        Raw source is used wherever it means the same as the value, so that
        positions on every line of a multi-line condition are exact; the
        grammar ignores the line breaks and indentation YAML would fold."""
        start, end = node.start_mark.index, node.end_mark.index
        start = self.skip_properties(start, end)
        if node.style in ("|", ">"):
            body = self.text.find("\n", start, end)  # content starts after the indicator line
            return ("", start) if body < 0 else (self.text[body + 1 : end].rstrip(), body + 1)
        if node.style in ('"', "'"):
            inner = self.text[start + 1 : end - 1]
            escaped = "\\" in inner if node.style == '"' else "''" in inner
            # escapes make raw text and value differ: use the value (columns may shift)
            return (node.value if escaped else inner.rstrip()), start + 1
        return self.text[start:end].rstrip(), start

    def skip_properties(self, start: int, end: int) -> int:
        """A node's mark starts at its anchor (`&a`) or tag (`!!str`), if any."""
        text = self.text
        while start < end and text[start] in "&!":
            while start < end and not text[start].isspace():
                start += 1
            while start < end and text[start].isspace():
                start += 1
        return start
