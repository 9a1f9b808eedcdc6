"""Turn Lark's parse tree into the `nodes` syntax tree.

This is a separate pass rather than a transformer handed to `Lark(...)`, because
only a separate pass receives each subtree's `meta` (its position).
Problems that the grammar allows but a policy must not have (an entry given
twice in one block, a rule without an outcome) are collected as diagnostics
rather than raised, so the checker can report them all together.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lark import Token, Transformer, Tree, v_args

from ..errors import Diagnostic
from . import nodes as n

_CMP = {
    "cmp_eq": "==", "cmp_ne": "!=", "cmp_lt": "<", "cmp_le": "<=", "cmp_gt": ">",
    "cmp_ge": ">=", "cmp_in": "in", "cmp_not_in": "not in",
}
_ARITH = {"op_add": "+", "op_sub": "-", "op_mul": "*", "op_div": "/", "op_or": "or", "op_and": "and"}
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def span_of(meta_or_token) -> n.Span:
    if isinstance(meta_or_token, Token):
        return n.Span(meta_or_token.line or 0, meta_or_token.column or 0,
                      meta_or_token.end_line or 0, meta_or_token.end_column or 0)
    if getattr(meta_or_token, "empty", True):
        return n.NO_SPAN
    return n.Span(meta_or_token.line, meta_or_token.column, meta_or_token.end_line, meta_or_token.end_column)


def unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def _binary(op: str):
    def build(self, meta, children):
        left, right = children
        return n.Binary(op, left, right, span=span_of(meta))
    return v_args(meta=True)(build)


def _entry_spans(entries: list) -> tuple:
    return tuple((e.key, e.span) for e in entries if isinstance(e, _Entry))


class _Entry:
    """One `keyword value` line of a block, before it is folded into its node."""

    __slots__ = ("key", "value", "span")

    def __init__(self, key: str, value: Any, span: n.Span) -> None:  # value's type depends on key
        self.key, self.value, self.span = key, value, span


class TreeToNodes(Transformer):
    """Lark tree → `nodes.Policy`. `parse_template` parses `{...}` holes in messages."""

    def __init__(self, source_name: str, parse_template: Callable[[Token], n.Template] | None) -> None:
        super().__init__(visit_tokens=False)
        self.source_name = source_name
        self.problems: list[Diagnostic] = []
        self._parse_template = parse_template

    # ------------------------------------------------------------ helpers

    def _problem(self, code: str, message: str, span: n.Span, hint: str = "") -> None:
        self.problems.append(Diagnostic(code, message, self.source_name, span, hint))

    def _fold(self, what: str, entries: list[_Entry], allowed_twice: tuple[str, ...] = ()) -> dict:
        """Entries of a block into a dict, reporting any given twice."""
        seen: dict[str, _Entry] = {}
        for entry in entries:
            if entry.key in seen and entry.key not in allowed_twice:
                self._problem("duplicate-entry", f"{what} gives `{entry.key}` more than once", entry.span,
                              f"keep one `{entry.key}`; the first is at line {seen[entry.key].span.line}")
                continue
            seen[entry.key] = entry
        return {k: e.value for k, e in seen.items()}

    # ------------------------------------------------------------ file

    @v_args(meta=True)
    def start(self, meta, items):
        return n.Policy(tuple(items), source_name=self.source_name, span=span_of(meta))

    # ------------------------------------------------------------ block entries

    @v_args(meta=True)
    def entry_title(self, meta, c):
        return _Entry("title", unquote(c[0]), span_of(meta))

    @v_args(meta=True)
    def entry_payer(self, meta, c):
        return _Entry("payer", unquote(c[0]), span_of(meta))

    @v_args(meta=True)
    def entry_version(self, meta, c):
        return _Entry("version", unquote(c[0]), span_of(meta))

    @v_args(meta=True)
    def entry_effective(self, meta, c):
        return _Entry("effective", (str(c[0]), str(c[1]) if len(c) > 1 else None), span_of(meta))

    @v_args(meta=True)
    def entry_extends(self, meta, c):
        return _Entry("extends", unquote(c[0]), span_of(meta))

    @v_args(meta=True)
    def entry_governs(self, meta, c):
        return _Entry("governs", c[0], span_of(meta))

    @v_args(meta=True)
    def entry_changes(self, meta, c):
        return _Entry("changes", "".join(unquote(t) for t in c), span_of(meta))

    @v_args(meta=True)
    def entry_note(self, meta, c):
        return _Entry("note", "".join(unquote(t) for t in c), span_of(meta))

    @v_args(meta=True)
    def entry_url(self, meta, c):
        return _Entry("url", unquote(c[0]), span_of(meta))

    @v_args(meta=True)
    def entry_date(self, meta, c):
        return _Entry("date", str(c[0]), span_of(meta))

    @v_args(meta=True)
    def entry_confidence(self, meta, c):
        return _Entry("confidence", str(c[0]), span_of(meta))

    @v_args(meta=True)
    def cites(self, meta, c):
        return _Entry("cites", tuple(n.Citation(str(t), span=span_of(t)) for t in c), span_of(meta))

    @v_args(meta=True)
    def scope_claim(self, meta, c):
        return _Entry("applies", ("claim", None), span_of(meta))

    @v_args(meta=True)
    def scope_line(self, meta, c):
        return _Entry("applies", ("line", c[0] if c else None), span_of(meta))

    def where(self, c):
        return c[0]

    @v_args(meta=True)
    def entry_when(self, meta, c):
        return _Entry("when", c[0], span_of(meta))

    @v_args(meta=True)
    def outcome_deny(self, meta, c):
        return _Entry("outcome", n.Outcome("deny", span=span_of(meta)), span_of(meta))

    @v_args(meta=True)
    def outcome_reduce(self, meta, c):
        return _Entry("outcome", n.Outcome("reduce", c[0], span=span_of(meta)), span_of(meta))

    @v_args(meta=True)
    def outcome_warn(self, meta, c):
        return _Entry("outcome", n.Outcome("warn", span=span_of(meta)), span_of(meta))

    @v_args(meta=True)
    def outcome_info(self, meta, c):
        return _Entry("outcome", n.Outcome("info", span=span_of(meta)), span_of(meta))

    @v_args(meta=True)
    def entry_reason(self, meta, c):
        return _Entry("reason", tuple(c), span_of(meta))

    @v_args(meta=True)
    def reason_code(self, meta, c):
        return n.ReasonCode(str(c[0]), str(c[1]), span=span_of(meta))

    @v_args(meta=True)
    def entry_message(self, meta, c):
        parts: list = []
        raw = []
        assert self._parse_template is not None, "only a policy has messages, and to_nodes gives it a parser"
        for token in c:
            template = self._parse_template(token)
            raw.append(template.raw)
            for part in template.parts:
                if isinstance(part, str) and parts and isinstance(parts[-1], str):
                    parts[-1] += part
                else:
                    parts.append(part)
        return _Entry("message", n.Template(tuple(parts), raw="".join(raw), span=span_of(meta)), span_of(meta))

    @v_args(meta=True)
    def entry_amount(self, meta, c):
        return _Entry("amount", c[0], span_of(meta))

    def string_list(self, c):
        return tuple(unquote(t) for t in c)

    # ------------------------------------------------------------ items

    @v_args(meta=True)
    def policy(self, meta, c):
        name, entries = unquote(c[0]), c[1:]
        f = self._fold(f'policy "{name}"', entries)
        start, end = f.get("effective", ("", None))
        return n.PolicyHeader(
            name, title=f.get("title", ""), payer=f.get("payer", ""), version=f.get("version", ""),
            effective_from=start, effective_to=end, extends=f.get("extends"),
            governs=f.get("governs", ()), changes=f.get("changes", ""), note=f.get("note", ""),
            span=span_of(meta), entry_spans=_entry_spans(entries))

    @v_args(meta=True)
    def source(self, meta, c):
        name, entries = str(c[0]), c[1:]
        f = self._fold(f"source `{name}`", entries)
        return n.Source(name, title=f.get("title", ""), url=f.get("url", ""), date=f.get("date"),
                        confidence=f.get("confidence"), note=f.get("note", ""), span=span_of(meta),
                        entry_spans=_entry_spans(entries))

    def type_ann(self, c):
        return str(c[0])

    @v_args(meta=True)
    def param_plain(self, meta, c):
        name = str(c[0])
        rest = list(c[1:])
        type_name = rest.pop(0) if rest and isinstance(rest[0], str) else None
        value = rest.pop(0)
        cites = rest.pop(0).value if rest else ()
        return n.Param(name, type_name, value, (), cites, span=span_of(meta))

    @v_args(meta=True)
    def param_dated(self, meta, c):
        name = str(c[0])
        rest = list(c[1:])
        type_name = rest.pop(0) if rest and isinstance(rest[0], str) else None
        return n.Param(name, type_name, None, tuple(rest), (), span=span_of(meta))

    @v_args(meta=True)
    def dated_value(self, meta, c):
        start = str(c[0])
        rest = list(c[1:])
        end = str(rest.pop(0)) if rest and isinstance(rest[0], Token) else None
        value = rest.pop(0)
        cites = rest.pop(0).value if rest else ()
        return n.DatedValue(start, end, value, cites, span=span_of(meta))

    @v_args(meta=True)
    def table(self, meta, c):
        name, path, key = str(c[0]), unquote(c[1]), str(c[2])
        dated_by, cites = None, ()
        for extra in c[3:]:
            if isinstance(extra, _Entry):
                cites = extra.value
            else:
                dated_by = extra
        return n.Table(name, path, key, dated_by, cites, span=span_of(meta))

    def dated_by(self, c):
        return str(c[0])

    @v_args(meta=True)
    def let(self, meta, c):
        return n.Let(str(c[0]), c[1], span=span_of(meta))

    @v_args(meta=True)
    def rule(self, meta, c):
        name, entries = str(c[0]), c[1:]
        span = span_of(meta)
        outcomes = [e for e in entries if e.key == "outcome"]
        if len(outcomes) > 1:
            self._problem("duplicate-entry", f"rule `{name}` has more than one outcome", outcomes[1].span,
                          "a rule does one thing: deny, reduce units to ..., warn or info; split it into two rules")
        f = self._fold(f"rule `{name}`", [e for e in entries if e.key != "outcome"])
        scope, where = f.get("applies", ("line", None))
        return n.Rule(
            name, title=f.get("title", ""), cites=f.get("cites", ()), scope=scope, where=where,
            when=f.get("when"), outcome=outcomes[0].value if outcomes else None,
            reasons=f.get("reason", ()), message=f.get("message"), note=f.get("note", ""), stage=f.get("stage"),
            span=span,
            given=tuple(sorted(set(f) | ({"outcome"} if outcomes else set()))), entry_spans=_entry_spans(entries))

    @v_args(meta=True)
    def fee(self, meta, c):
        name, entries = str(c[0]), c[1:]
        f = self._fold(f"fee `{name}`", entries)
        scope, where = f.get("applies", ("line", None))
        return n.Fee(name, title=f.get("title", ""), cites=f.get("cites", ()), where=where,
                     amount=f.get("amount"), note=f.get("note", ""), span=span_of(meta), given=tuple(sorted(f)),
                     entry_spans=_entry_spans(entries))

    def override(self, c):
        return dataclasses.replace(c[0], override=True)

    @v_args(meta=True)
    def disable(self, meta, c):
        name, rest = str(c[0]), c[1:]
        cites = rest.pop().value
        return n.Disable(name, "".join(unquote(t) for t in rest), cites, span=span_of(meta))

    @v_args(meta=True)
    def field(self, meta, c):
        record, name, entries = str(c[0]), str(c[1]), c[2:]
        f = self._fold(f"field `{record}.{name}`", entries)
        type_name, bound = f.get("type", ("", None))
        pattern = bound[1] if bound and bound[0] == "pattern" else None
        low, high = (bound[1], bound[2]) if bound and bound[0] == "range" else (None, None)
        return n.DeclaredField(record, name, title=f.get("title", ""), type_name=type_name, pattern=pattern,
                               low=low, high=high, example=f.get("example"), cites=f.get("cites", ()),
                               note=f.get("note", ""),
                               span=span_of(meta), entry_spans=_entry_spans(entries))

    @v_args(meta=True)
    def entry_example(self, meta, c):
        return _Entry("example", c[0], span_of(meta))

    @v_args(meta=True)
    def entry_type(self, meta, c):
        return _Entry("type", (str(c[0]), c[1] if len(c) > 1 else None), span_of(meta))

    def bound_pattern(self, c):
        return ("pattern", unquote(c[0]))

    def bound_range(self, c):
        return ("range", c[0], c[1])

    @v_args(meta=True)
    def stages(self, meta, c):
        return n.Stages(tuple(str(t) for t in c), tuple(span_of(t) for t in c), span=span_of(meta))

    @v_args(meta=True)
    def entry_stage(self, meta, c):
        return _Entry("stage", str(c[0]), span_of(meta))

    @v_args(meta=True)
    def facts(self, meta, c):
        return n.Facts(tuple(c[:-1]), c[-1].value, span=span_of(meta))

    @v_args(meta=True)
    def fact(self, meta, c):
        return n.Fact(c[0], c[1] if len(c) > 1 else None, span=span_of(meta))

    # ------------------------------------------------------------ expressions

    @v_args(meta=True)
    def int_lit(self, meta, c):
        return n.Literal(int(c[0]), "int", span=span_of(meta))

    @v_args(meta=True)
    def number_lit(self, meta, c):
        return n.Literal(Decimal(str(c[0])), "number", span=span_of(meta))

    @v_args(meta=True)
    def money_lit(self, meta, c):
        return n.Literal(Decimal(str(c[0])[1:]), "money", span=span_of(meta))

    @v_args(meta=True)
    def neg_int_lit(self, meta, c):
        return n.Literal(-int(c[0]), "int", span=span_of(meta))

    @v_args(meta=True)
    def neg_number_lit(self, meta, c):
        return n.Literal(-Decimal(str(c[0])), "number", span=span_of(meta))

    @v_args(meta=True)
    def neg_money_lit(self, meta, c):
        return n.Literal(-Decimal(str(c[0])[1:]), "money", span=span_of(meta))

    @v_args(meta=True)
    def string_lit(self, meta, c):
        return n.Literal(unquote(c[0]), "string", span=span_of(meta))

    @v_args(meta=True)
    def date_lit(self, meta, c):
        return n.Literal(str(c[0]), "date", span=span_of(meta))

    @v_args(meta=True)
    def true_lit(self, meta, c):
        return n.Literal(True, "bool", span=span_of(meta))

    @v_args(meta=True)
    def false_lit(self, meta, c):
        return n.Literal(False, "bool", span=span_of(meta))

    @v_args(meta=True)
    def set_lit(self, meta, c):
        return n.SetLiteral(tuple(x for x in c if x is not None), span=span_of(meta))

    @v_args(meta=True)
    def name(self, meta, c):
        return n.Name(str(c[0]), span=span_of(meta))

    @v_args(meta=True)
    def attribute(self, meta, c):
        return n.Attribute(c[0], str(c[1]), span=span_of(meta))

    @v_args(meta=True)
    def index(self, meta, c):
        return n.Index(c[0], c[1], span=span_of(meta))

    @v_args(meta=True)
    def call(self, meta, c):
        return n.Call(str(c[0]), tuple(x for x in c[1:] if x is not None), span=span_of(meta))

    @v_args(meta=True)
    def op_neg(self, meta, c):
        return n.Unary("-", c[0], span=span_of(meta))

    @v_args(meta=True)
    def op_not(self, meta, c):
        return n.Unary("not", c[0], span=span_of(meta))

    @v_args(meta=True)
    def conditional(self, meta, c):
        return n.Conditional(c[0], c[1], c[2], span=span_of(meta))

    def _quantifier(self, kind, meta, c):
        var, collection = str(c[0]), c[1]
        where = c[2] if len(c) > 2 else None
        return n.Quantifier(kind, var, collection, where, span=span_of(meta))

    @v_args(meta=True)
    def q_any(self, meta, c):
        return self._quantifier("any", meta, c)

    @v_args(meta=True)
    def q_all(self, meta, c):
        return self._quantifier("all", meta, c)

    @v_args(meta=True)
    def q_none(self, meta, c):
        return self._quantifier("none", meta, c)

    @v_args(meta=True)
    def q_count(self, meta, c):
        return self._quantifier("count", meta, c)

    @v_args(meta=True)
    def q_sum(self, meta, c):
        value, var, collection = c[0], str(c[1]), c[2]
        where = c[3] if len(c) > 3 else None
        return n.Quantifier("sum", var, collection, where, value, span=span_of(meta))


for _rule, _op in {**_CMP, **_ARITH}.items():
    setattr(TreeToNodes, _rule, _binary(_op))


def to_nodes(tree: Tree, source_name: str, parse_template: Callable[[Token], n.Template]
             ) -> tuple[n.Policy, list[Diagnostic]]:
    """Transform a parse tree from the `start` symbol; returns the policy and the structural problems found."""
    transformer = TreeToNodes(source_name, parse_template)
    policy = transformer.transform(tree)
    return policy, transformer.problems


def to_expr(tree: Tree, source_name: str) -> n.Expr:
    """Transform a parse tree from the `expr` symbol (which holds no message to parse as a template)."""
    expr = TreeToNodes(source_name, None).transform(tree)
    assert not isinstance(expr, n.Policy), "the `expr` symbol transforms to an expression"
    return expr
