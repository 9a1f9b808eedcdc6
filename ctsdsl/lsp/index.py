"""Where each name of a policy is defined and used, in every file of its overlay chain.

An overlay's names live in several files: `conversion_factor` is defined in cts-2024.cts,
overridden in cts-2026.cts and read in both. The index parses each file of the chain on its
own (the merged tree the checker sees has lost which file wrote what) and records every
occurrence of a name with its exact span, so that go-to-definition can jump from an overlay
into its parent and find-references can list the uses in every layer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..claims.fields import CLAIM, DOCUMENTATION, LINE, LIST, ROW, catalogue, inner_type, kind_of, list_of, row_of
from ..engine.loader import POLICY_SUFFIX, LoadedPolicy, find_parent, read_policy_text, tree_root
from ..errors import CtsdslError
from ..language import nodes as n
from ..language.parser import parse
from ..language.tables import resolve_data_path

# What a name stands for. The language's three namespaces (sources; rules and fees; values:
# parameters, tables and lets), and what else an editor can point at: a claim field, a table
# column, a built-in function, the parent `extends` names and a table's data file.
SOURCE, RULE, VALUE = "source", "rule", "value"
FIELD, COLUMN, FUNCTION, PARENT, DATA = "field", "column", "function", "parent", "data"

# How a name occurs: where it is defined, replaced by an overlay, switched off, or read.
DEFINITION, OVERRIDE, DISABLE, REFERENCE = "definition", "override", "disable", "reference"
_DEFINING = (DEFINITION, OVERRIDE)

# Names an expression reads that no policy defines: the record being decided, a fee's units,
# and an override's stand-in for its parent's expression.
_BUILT_IN_NAMES = frozenset({"claim", "line", "units_allowed", "inherited"})
_RECORDS = (CLAIM, LINE, DOCUMENTATION)
_GAP = re.compile(r"(?:\s|#[^\n]*)*")  # what may stand between a keyword and its name


@dataclass(frozen=True)
class Occurrence:
    """One place a name is written."""

    namespace: str
    name: str
    file: str
    span: n.Span  # of the name alone
    role: str = REFERENCE
    owner: str = ""  # a field's record (claim, line, documentation); a column's table
    target: str = ""  # for a parent or a data file: the file it names, when it exists


@dataclass(frozen=True)
class Symbol:
    """One top-level item of a file, for the editor's outline."""

    kind: str  # policy, source, param, table, let, rule, fee, disable
    name: str
    span: n.Span  # the whole item
    name_span: n.Span
    detail: str = ""


@dataclass
class FileIndex:
    """The occurrences and outline of one policy file."""

    path: str
    text: str
    occurrences: list[Occurrence] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)
    data_files: dict[str, str] = field(default_factory=dict)  # each table this file declares: its data file

    def at(self, line: int, column: int) -> Occurrence | None:
        """The occurrence under a 1-based position; the column just past a name counts, as editors put the cursor there."""
        for occ in self.occurrences:
            s = occ.span
            if (s.line, s.column) <= (line, column) <= (s.end_line, s.end_column):
                return occ
        return None


class _Text:
    """Offsets and 1-based positions of one text, as the parser counts them (lines end at \\n)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1

    def span(self, start: int, end: int) -> n.Span:
        line = _line_of(self.starts, start)
        end_line = _line_of(self.starts, end)
        return n.Span(line, start - self.starts[line - 1] + 1, end_line, end - self.starts[end_line - 1] + 1)


def _line_of(starts: list[int], offset: int) -> int:
    low, high = 0, len(starts) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if starts[mid] <= offset:
            low = mid
        else:
            high = mid - 1
    return low + 1


class _Builder:
    def __init__(self, path: str, text: str, parent: str | None) -> None:
        self.index = FileIndex(path, text)
        self.text = _Text(text)
        self.parent = parent

    def add(self, namespace: str, name: str, span: n.Span, role: str = REFERENCE, owner: str = "",
            target: str = "") -> None:
        if span.line:
            self.index.occurrences.append(Occurrence(namespace, name, self.index.path, span, role, owner, target))

    def name_after_keyword(self, item: n.Node, name: str) -> n.Span:
        """The span of `name` where it follows the keyword that opens `item` (`rule NAME`, `param NAME`)."""
        if not item.span.line:
            return n.NO_SPAN
        start = self.text.offset(item.span.line, item.span.column)
        keyword = re.compile(r"\w+").match(self.text.text, start)
        if keyword is None:
            return n.NO_SPAN
        at = _GAP.match(self.text.text, keyword.end())
        begin = at.end() if at else keyword.end()
        if not self.text.text.startswith(name, begin):
            return n.NO_SPAN
        return self.text.span(begin, begin + len(name))

    def quoted_after(self, span: n.Span) -> n.Span:
        """The first quoted string within `span` (a header's name, an `extends`, a table's file)."""
        if not span.line:
            return n.NO_SPAN
        start = self.text.offset(span.line, span.column)
        match = re.compile(r'"(?:\\.|[^"\\\n])*"').search(self.text.text, start)
        return self.text.span(match.start(), match.end()) if match else n.NO_SPAN

    def symbol(self, kind: str, name: str, item: n.Node, name_span: n.Span, detail: str = "") -> None:
        if item.span.line:
            self.index.symbols.append(Symbol(kind, name, item.span, name_span if name_span.line else item.span,
                                             detail))

    def cites(self, cites: Iterable[n.Citation]) -> None:
        for c in cites:
            self.add(SOURCE, c.source, c.span)

    def item(self, item: n.Item) -> None:
        if isinstance(item, n.PolicyHeader):
            self.header(item)
        elif isinstance(item, n.Source):
            at = self.name_after_keyword(item, item.id)
            self.add(SOURCE, item.id, at, DEFINITION)
            self.symbol("source", item.id, item, at, item.title)
        elif isinstance(item, n.Param):
            self.definition(VALUE, "param", item.name, item, item.override, item.type_name or "")
            self.cites(item.cites)
            for dated in item.dated:
                self.cites(dated.cites)
        elif isinstance(item, n.Table):
            self.definition(VALUE, "table", item.name, item, item.override, item.path)
            self.cites(item.cites)
            target, _ = resolve_data_path(Path(self.index.path), item.path)
            self.add(DATA, item.path, self.quoted_after(item.span), target=str(target) if target else "")
            self.index.data_files[item.name] = str(target) if target else ""
        elif isinstance(item, n.Let):
            self.definition(VALUE, "let", item.name, item, item.override)
            self.expr(item.expr, {})
        elif isinstance(item, (n.Rule, n.Fee)):
            kind = "rule" if isinstance(item, n.Rule) else "fee"
            self.definition(RULE, kind, item.id, item, item.override, item.title)
            self.cites(item.cites)
            self.rule_body(item)
        elif isinstance(item, n.Disable):
            at = self.name_after_keyword(item, item.rule)
            self.add(RULE, item.rule, at, DISABLE)
            self.symbol("disable", item.rule, item, at, item.reason)
            self.cites(item.cites)

    def header(self, header: n.PolicyHeader) -> None:
        self.symbol("policy", header.name, header, self.quoted_after(header.span), header.title)
        extends = dict(header.entry_spans).get("extends")
        if header.extends and extends is not None:
            self.add(PARENT, header.extends, self.quoted_after(extends), target=self.parent or "")

    def definition(self, namespace: str, kind: str, name: str, item: n.Node, override: bool, detail: str = "") -> None:
        at = self.name_after_keyword(item, name)
        self.add(namespace, name, at, OVERRIDE if override else DEFINITION)
        self.symbol(kind, name, item, at, ("override " if override else "") + detail)

    def rule_body(self, item: n.Rule | n.Fee) -> None:
        exprs: list[n.Expr | None] = [item.where]
        if isinstance(item, n.Rule):
            exprs += [item.when, item.outcome.units if item.outcome else None]
            if item.message is not None:
                exprs += [part for part in item.message.parts if not isinstance(part, str)]
        else:
            exprs.append(item.amount)
        for e in exprs:
            if e is not None:
                self.expr(e, {})

    def expr(self, e: n.Expr, env: dict[str, str]) -> None:
        """Record the names in `e`; `env` maps each quantifier variable in scope to the record it ranges over."""
        if isinstance(e, n.Name):
            if e.name not in env and e.name not in _BUILT_IN_NAMES:
                self.add(VALUE, e.name, e.span)
        elif isinstance(e, n.Attribute):
            self.expr(e.obj, env)
            record = _record(e.obj, env)
            at = n.Span(e.span.end_line, e.span.end_column - len(e.name), e.span.end_line, e.span.end_column)
            if record in _RECORDS:
                self.add(FIELD, e.name, at, owner=record)
            elif kind_of(record) == ROW:
                self.add(COLUMN, e.name, at, owner=inner_type(record))
        elif isinstance(e, n.Call):
            self.add(FUNCTION, e.func, n.Span(e.span.line, e.span.column, e.span.line, e.span.column + len(e.func)))
            for arg in e.args:
                self.expr(arg, env)
        elif isinstance(e, n.Quantifier):
            self.expr(e.collection, env)
            scope = {**env, e.var: LINE if _record(e.collection, env) == list_of(LINE) else ""}
            for part in (e.where, e.value):
                if part is not None:
                    self.expr(part, scope)
        else:
            for child in e.children():
                self.expr(child, env)  # type: ignore[arg-type]  # an expression's children are expressions


def _record(e: n.Expr, env: dict[str, str]) -> str:
    """What an expression holds, as far as fields go: a record, a list of lines, a table's row, or ''."""
    if isinstance(e, n.Name):
        return env.get(e.name, e.name if e.name in (CLAIM, LINE) else "")
    if isinstance(e, n.Attribute):
        fields = catalogue().get(_record(e.obj, env), {})
        found = fields.get(e.name)
        return found.type if found is not None and (found.type in _RECORDS or kind_of(found.type) == LIST) else ""
    if isinstance(e, n.Index) and isinstance(e.obj, n.Name) and e.obj.name not in env:
        return row_of(e.obj.name)  # only a table is indexed by a key
    return ""


@functools.lru_cache(maxsize=64)  # a parent is indexed once for all the overlays open on it
def index_file(path: str, text: str, parent: str | None = None) -> FileIndex:
    """Every occurrence and top-level item of one policy file.

    Raises:
        PolicySyntaxError: the text does not parse.
    """
    builder = _Builder(path, text, parent)
    for item in parse(text, path).items:
        builder.item(item)
    return builder.index


class PolicyIndex:
    """The names of a loaded policy across its overlay chain, and of the overlays that extend it.

    `files[0]` is the policy's own file, `files[1]` its parent, and so on; `overlays` are the
    files below it in its tree (they count for references only).
    """

    def __init__(self, loaded: LoadedPolicy, overlays: Sequence[FileIndex] = ()) -> None:
        self.loaded = loaded
        layers = loaded.layers
        self.files = [index_file(str(layer.path), layer.text, str(layers[i + 1].path) if i + 1 < len(layers) else None)
                      for i, layer in enumerate(layers)]
        self.overlays = list(overlays)

    def at(self, line: int, column: int) -> Occurrence | None:
        return self.files[0].at(line, column)

    def definitions(self, occ: Occurrence) -> list[Occurrence]:
        """Where the name in force at `occ` is defined: for an override or a disable, the item it replaces."""
        if occ.namespace in (PARENT, DATA):
            return [Occurrence(occ.namespace, occ.name, occ.target, n.Span(1, 1, 1, 1), DEFINITION)] if occ.target else []
        if occ.namespace == COLUMN:
            data = self.table_file(occ.owner)
            return [Occurrence(DATA, occ.owner, data, n.Span(1, 1, 1, 1), DEFINITION)] if data else []
        if occ.namespace not in (SOURCE, RULE, VALUE):
            return []
        layer = next((i for i, f in enumerate(self.files) if f.path == occ.file), 0)
        below = occ.role in (OVERRIDE, DISABLE)
        for f in self.files[layer + below:]:
            found = [o for o in f.occurrences if o.namespace == occ.namespace and o.name == occ.name
                     and o.role in _DEFINING]
            if found:
                return found[:1]
        return []

    def defining_layers(self, namespace: str, name: str) -> list[Occurrence]:
        """Each definition and override of a name, child first."""
        return [o for f in self.files for o in f.occurrences
                if o.namespace == namespace and o.name == name and o.role in _DEFINING]

    def references(self, occ: Occurrence, include_declaration: bool = True) -> list[Occurrence]:
        """Every occurrence of the same name, in the chain and in the overlays that extend it."""
        if occ.namespace in (PARENT, DATA):
            return []
        same = [o for f in (*self.files, *self.overlays) for o in f.occurrences
                if o.namespace == occ.namespace and o.name == occ.name and o.owner == occ.owner]
        return same if include_declaration else [o for o in same if o.role not in _DEFINING]

    def table_file(self, table: str) -> str:
        """The data file of a table, as the layer in force declares it ('' when it cannot be found)."""
        return next((f.data_files[table] for f in self.files if table in f.data_files), "")

    def item(self, namespace: str, name: str) -> n.Item | None:
        """The item in force for a name, as the checker merged the chain."""
        for item in self.loaded.policy.items:
            if namespace == SOURCE and isinstance(item, n.Source) and item.id == name:
                return item
            if namespace == RULE and isinstance(item, (n.Rule, n.Fee)) and item.id == name:
                return item
            if namespace == VALUE and isinstance(item, (n.Param, n.Table, n.Let)) and item.name == name:
                return item
        if namespace == RULE:  # a rule an overlay switched off is gone from the merged tree; its `disable` says why
            return next((i for i in self.loaded.policy.of_kind(n.Disable) if i.rule == name), None)
        return None


def overlays_of(path: Path) -> list[FileIndex]:
    """The policies in `path`'s tree that extend it, directly or through others, indexed from disk."""
    target = path.resolve()
    root, recursive = tree_root(target)
    parents: dict[Path, tuple[Path, str]] = {}
    for candidate in sorted((root.rglob if recursive else root.glob)("*" + POLICY_SUFFIX)):
        real = candidate.resolve()
        if real == target:
            continue
        try:
            text = read_policy_text(real)
            header = parse(text, str(real)).header
        except CtsdslError:
            continue  # a file that does not parse has no uses to list
        parent = find_parent(header.extends, real) if header and header.extends else None
        if parent is not None:
            parents[real] = (parent.resolve(), text)
    found: list[FileIndex] = []
    frontier, seen = {target}, {target}
    while frontier:
        children = sorted(child for child, (parent, _) in parents.items() if parent in frontier and child not in seen)
        seen.update(children)
        frontier = set(children)
        found.extend(index_file(str(child), parents[child][1], str(parents[child][0])) for child in children)
    return found
