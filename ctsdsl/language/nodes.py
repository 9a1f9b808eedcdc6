"""Syntax tree of a policy file.

Every construct is a frozen dataclass holding the `Span` it came from. Spans are
left out of equality, so two trees that differ only in layout compare equal: the
formatter and the semantic diff both rely on that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union, cast

# Where a node stands is the errors' own type: a diagnostic and a node point at text the same way.
from ..errors import NO_SPAN, Span


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


class Node:
    """Base of all syntax-tree nodes: children are the dataclass fields that hold nodes."""

    __slots__ = ()
    span: Span

    def children(self) -> Iterator[Node]:
        """Yield the direct child nodes, in field order."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def walk(self) -> Iterator[Node]:
        """Yield this node and every node below it, depth first, parents first."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))

    def find_all(self, kind: type[Node]) -> Iterator[Node]:
        """Yield every node of the given class at or below this one."""
        return (node for node in self.walk() if isinstance(node, kind))


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant. `kind` is one of int, number, money, string, date, bool.

    Numbers and money hold `Decimal`, dates hold the ISO string (ISO dates order
    correctly as strings, which keeps evaluation free of date parsing).
    """

    value: Decimal | int | str | bool | None
    kind: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SetLiteral(Node):
    items: tuple[Literal, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Attribute(Node):
    obj: Expr
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Index(Node):
    obj: Expr
    key: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: str
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # or and == != < <= > >= in "not in" + - * /
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    test: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Quantifier(Node):
    """`any`, `all`, `none` or `count` over a collection, or `sum` of `value`."""

    kind: str
    var: str
    collection: Expr
    where: Expr | None
    value: Expr | None = None  # only for sum
    span: Span = _span()


Expr = Union[Literal, SetLiteral, Name, Attribute, Index, Call, Unary, Binary, Conditional, Quantifier]


def rebuild(expr: Expr, make: Callable[[Expr, dict[str, Any]], Expr]) -> Expr:
    """`expr` rebuilt bottom-up: `make(node, children)` builds each node anew, given its fields that
    hold expressions (one, or a tuple of them) already rebuilt. Nodes are frozen, so this is how an
    expression is edited: an overlay's `inherited` put in, a template's spans moved into place."""
    children: dict[str, Any] = {}
    for f in dataclasses.fields(expr):
        value = getattr(expr, f.name)
        if isinstance(value, Node):  # an expression's node fields hold expressions
            children[f.name] = rebuild(cast(Expr, value), make)
        elif isinstance(value, tuple) and any(isinstance(v, Node) for v in value):
            children[f.name] = tuple(rebuild(cast(Expr, v), make) if isinstance(v, Node) else v for v in value)
    return make(expr, children)

# Operator spelling in the language, shared by the formatter, diff and messages.
BINARY_OPS = ("or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "/")


# ---------------------------------------------------------------- policy items


@dataclass(frozen=True, slots=True)
class Citation(Node):
    source: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Template(Node):
    """A message: literal text and `{expression}` holes, in order."""

    parts: tuple[Union[str, Expr], ...]
    raw: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PolicyHeader(Node):
    name: str
    title: str = ""
    payer: str = ""
    version: str = ""
    effective_from: str = ""
    effective_to: str | None = None
    extends: str | None = None
    governs: tuple[str, ...] = ()
    changes: str = ""
    note: str = ""
    # Where each entry of the block stood, for the formatter to keep comments beside them.
    entry_spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Source(Node):
    id: str
    title: str = ""
    url: str = ""
    date: str | None = None
    confidence: str | None = None
    note: str = ""
    # Where each entry of the block stood, for the formatter to keep comments beside them.
    entry_spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DatedValue(Node):
    start: str
    end: str | None
    value: Literal | SetLiteral
    cites: tuple[Citation, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Param(Node):
    """A named constant, or a value that changes by date (`dated` non-empty)."""

    name: str
    type_name: str | None
    value: Literal | SetLiteral | None
    dated: tuple[DatedValue, ...] = ()
    cites: tuple[Citation, ...] = ()
    override: bool = False
    origin: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Table(Node):
    name: str
    path: str
    key: str
    dated_by: str | None = None
    cites: tuple[Citation, ...] = ()
    override: bool = False
    origin: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Let(Node):
    name: str
    expr: Expr
    override: bool = False
    origin: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ReasonCode(Node):
    system: str  # CARC, RARC, or a group code such as CO or PR
    code: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Outcome(Node):
    """What a rule does when it fires: deny, reduce (to `units`), warn or info."""

    kind: str
    units: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rule(Node):
    id: str
    title: str = ""
    cites: tuple[Citation, ...] = ()
    scope: str = "line"  # "line" or "claim"
    where: Expr | None = None
    when: Expr | None = None
    outcome: Outcome | None = None
    reasons: tuple[ReasonCode, ...] = ()
    message: Template | None = None
    note: str = ""
    stage: str | None = None  # None: the first stage
    override: bool = False
    origin: str = field(default="", compare=False)
    given: tuple[str, ...] = field(default=(), compare=False)
    # Where each entry of the block stood, for the formatter to keep comments beside them.
    entry_spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Fee(Node):
    id: str
    title: str = ""
    cites: tuple[Citation, ...] = ()
    where: Expr | None = None
    amount: Expr | None = None
    note: str = ""
    override: bool = False
    origin: str = field(default="", compare=False)
    given: tuple[str, ...] = field(default=(), compare=False)
    # Where each entry of the block stood, for the formatter to keep comments beside them.
    entry_spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Disable(Node):
    """In an overlay: switch off a rule of the parent, saying why and on whose authority."""

    rule: str
    reason: str
    cites: tuple[Citation, ...] = ()
    origin: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DeclaredField(Node):
    """A claim or line field a policy reads beyond the base schema: `field line.prior_auth_number { ... }`.

    `type_name` is string, int, number, bool or date; a string may have a `pattern` (a JSON
    Schema pattern), a number `low` and `high` (inclusive)."""

    record: str  # "claim" or "line"
    name: str
    title: str = ""
    type_name: str = ""
    pattern: str | None = None
    low: Literal | None = None
    high: Literal | None = None
    example: Literal | None = None  # a valid value: the schema's example, and what diff's witnesses carry
    cites: tuple[Citation, ...] = ()
    note: str = ""
    origin: str = field(default="", compare=False)
    entry_spans: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)
    span: Span = _span()

    @property
    def path(self) -> str:
        return f"{self.record}.{self.name}"


@dataclass(frozen=True, slots=True)
class Stages(Node):
    """The order rules run in, by stage name; an overlay may add stages, keeping its parent's order."""

    names: tuple[str, ...]
    name_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)
    origin: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Fact(Node):
    """One fact of the service: a claim field (`line.minutes`), or some values of a list field
    (`line.modifiers in {"CQ", "CO"}`: those modifiers may be neither added nor removed)."""

    field: Expr
    values: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Facts(Node):
    """The claim fields a corrected claim may not change, because they record what happened."""

    facts: tuple[Fact, ...]
    cites: tuple[Citation, ...] = ()
    origin: str = field(default="", compare=False)
    span: Span = _span()


Item = Union[PolicyHeader, Source, Param, Table, Let, Rule, Fee, Disable, Facts, Stages, DeclaredField]


@dataclass(frozen=True, slots=True)
class Policy(Node):
    """A whole policy file, items in file order."""

    items: tuple[Item, ...]
    source_name: str = field(default="<string>", compare=False)
    span: Span = _span()

    @property
    def header(self) -> PolicyHeader | None:
        return next((i for i in self.items if isinstance(i, PolicyHeader)), None)

    def of_kind(self, kind: type[Node]) -> list:
        """The top-level items of one kind, in file order."""
        return [i for i in self.items if isinstance(i, kind)]
