"""What may be written at the cursor: fields after `line.`, columns after `fees[...].`, names, keywords.

Completion works on text that does not parse (`line.` is half an expression), so the context
comes from the text before the cursor; the names come from the last version of the policy
that did parse, which the server keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..claims.fields import CLAIM, DOCUMENTATION, LINE, catalogue
from ..language import nodes as n
from ..language.functions import FUNCTIONS
from ..language.parser import BLOCK_KEYWORDS
from .index import PolicyIndex

# The words of an expression, which the grammar spells out as keywords.
EXPRESSION_KEYWORDS = ("if", "then", "else", "and", "or", "not", "in", "where", "for", "any", "all", "none",
                       "count", "sum", "true", "false")
_RECORDS = (CLAIM, LINE, DOCUMENTATION)
_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*|[{}]')
_OPEN_STRING = re.compile(r'"(?:\\.|[^"\\\n])*$')


@dataclass(frozen=True)
class Completion:
    """One thing the editor may offer."""

    label: str
    kind: str  # field, column, param, table, let, function, keyword, source, rule, fee, variable
    detail: str = ""
    documentation: str = ""


def complete(text: str, offset: int, index: PolicyIndex | None) -> list[Completion]:
    """What may be written at `offset` in `text`, most specific first; empty where nothing fits (a comment)."""
    before = text[:offset]
    line_start = before.rfind("\n") + 1
    if "#" in _outside_strings(before[line_start:]):
        return []
    open_string = _OPEN_STRING.search(before, line_start)
    if open_string is not None:
        # Inside a message, only a {hole} holds an expression.
        hole = before[open_string.start():].rsplit("{", 1)
        if len(hole) < 2 or "}" in hole[1]:
            return []
        before = hole[1]
    return list(_complete(before, text[:offset], index))


def _outside_strings(line: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\\n])*"?', '""', line)


def _complete(before: str, whole: str, index: PolicyIndex | None) -> Iterator[Completion]:
    column = re.search(r"(\w+)\s*\[[^\[\]\n]*\]\s*\.\s*\w*$", before)
    if column is not None:
        yield from _columns(index, column.group(1))
        return
    path = re.search(r"((?:\w+\s*\.\s*)+)\w*$", before)
    if path is not None:
        names = [w.strip() for w in path.group(1).split(".")[:-1]]
        record = _record_of(names, whole)
        if record in _RECORDS:
            # The policy's own catalogue (with the fields it declares) when it loaded, else the base one.
            fields = index.loaded.checked.fields if index is not None else catalogue()
            for field in fields[record].values():
                yield Completion(field.name, "field", field.type, field.description)
        return
    if re.search(r"\bcites\s+(?:\w+\s*,\s*)*\w*$", before):
        yield from _sources(index)
        return
    override = re.search(r"\b(?:override\s+(rule|fee|param|table|let)|(disable))\s+\w*$", before)
    if override is not None:
        yield from _parents(index, override.group(1) or "rule")
        return
    if re.search(r"\b(?:rule|fee|param|table|let|source|policy|from|key|dated)\s+\w*$", before):
        return  # a new name, or a file or column to be typed out
    block = _enclosing_block(whole)
    for word in BLOCK_KEYWORDS.get(block, ()):
        yield Completion(word, "keyword")
    if block in ("policy", "source"):
        return
    yield from _names(index, block)


def _record_of(names: list[str], whole: str) -> str:
    """What `a.b.c` names: the claim, a line, the documentation, or '' for anything else."""
    first, *rest = names
    if first in (CLAIM, LINE):
        record = first
    elif re.search(rf"\b{re.escape(first)}\s+in\s+claim\s*\.\s*lines\b", whole):
        record = LINE  # a quantifier's variable over the claim's lines
    else:
        return ""
    for name in rest:
        field = catalogue().get(record, {}).get(name)
        if field is None or field.type not in _RECORDS:
            return ""
        record = field.type
    return record


def _enclosing_block(text: str) -> str:
    """The kind of block open at the end of `text` (rule, fee, source, policy), or 'top'."""
    depth = 0
    for m in reversed(list(_TOKEN.finditer(text))):
        if m.group(0) == "}":
            depth += 1
        elif m.group(0) == "{":
            if depth == 0:
                head = re.search(r"(\w+)\s+(?:\"[^\"]*\"|\w+)\s*$", text[:m.start()])
                return head.group(1) if head and head.group(1) in BLOCK_KEYWORDS else "expression"
            depth -= 1
    return "top"


def _columns(index: PolicyIndex | None, table: str) -> Iterator[Completion]:
    data = index.loaded.checked.tables.get(table) if index else None
    for name, typ in (data.columns.items() if data else ()):
        yield Completion(name, "column", typ, f"a column of table `{table}`")


def _sources(index: PolicyIndex | None) -> Iterator[Completion]:
    for source in index.loaded.policy.of_kind(n.Source) if index else ():
        yield Completion(source.id, "source", source.title, source.url)


def _parents(index: PolicyIndex | None, kind: str) -> Iterator[Completion]:
    """The items of one kind an overlay may override (or, for rules, disable): those of its parents."""
    if index is None:
        return
    seen: set[str] = set()
    for f in index.files[1:]:
        for symbol in f.symbols:
            if symbol.kind == kind and symbol.name not in seen:
                seen.add(symbol.name)
                yield Completion(symbol.name, kind, symbol.detail)


def _names(index: PolicyIndex | None, block: str) -> Iterator[Completion]:
    """Everything an expression may read: the policy's values, the records, the built-in functions."""
    if index is not None:
        checked = index.loaded.checked
        for item in index.loaded.policy.items:
            if isinstance(item, n.Param):
                yield Completion(item.name, "param", checked.param_types.get(item.name, ""))
            elif isinstance(item, n.Let):
                yield Completion(item.name, "let", checked.let_types.get(item.name, ""))
            elif isinstance(item, n.Table):
                yield Completion(item.name, "table", f'table from "{item.path}"')
    yield Completion(CLAIM, "variable", "the claim being decided")
    yield Completion(LINE, "variable", "the line being decided, in a rule or fee that applies to lines")
    if block == "fee":
        yield Completion("units_allowed", "variable", "the units left after the rules' reductions")
    for function in FUNCTIONS.values():
        yield Completion(function.name, "function", function.doc.split(":", 1)[0], function.doc)
    for word in EXPRESSION_KEYWORDS:
        yield Completion(word, "keyword")
