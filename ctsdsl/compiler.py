"""Compile a checked policy into one Python function that evaluates a claim.

Why generate source rather than nest closures: a claim runs every rule on every
line, and a closure per node costs a Python call per node, several times what a
person would write by hand (see benchmarks/). Generated source is what a person
would write: one loop over the lines, each rule an `if`.

Safety: the source is produced only from the checked syntax tree. Every
identifier in it is either fixed here or a policy name that matched the
grammar's NAME pattern and is prefixed (`v_`), and every literal is written
with `repr` or hoisted into the namespace as a constant; no policy text is ever
pasted into the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from . import nodes as n
from .checker import CheckedPolicy
from .fields import CLAIM, DOCUMENTATION, LINE, catalogue
from .functions import FUNCTIONS

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def safe_ident(prefix: str, name: str) -> str:
    if not _IDENT.match(name):  # the grammar guarantees this; the compiler does not trust it
        raise ValueError(f"not an identifier: {name!r}")
    return f"{prefix}{name}"


@dataclass
class Generated:
    """The generated module: its source and the constants it needs."""

    source: str
    namespace: dict
    rules: list[n.Rule]
    fees: list[n.Fee]


class _Scope:
    """Variables visible to an expression: language name -> (python dict var, python index var, type)."""

    def __init__(self, vars_: dict[str, tuple[str, str | None, str]], date_var: str) -> None:
        self.vars = vars_
        self.date_var = date_var

    def bind(self, name: str, typ: str) -> _Scope:
        py = safe_ident("v_", name)
        return _Scope({**self.vars, name: (py, py + "_i" if typ == LINE else None, typ)}, self.date_var)


class Compiler:
    """Generates the evaluation function. `trace=True` also records values read, for explain and coverage."""

    def __init__(self, checked: CheckedPolicy, trace: bool = False) -> None:
        self.checked = checked
        self.policy = checked.policy
        self.trace = trace
        self.consts: dict[object, str] = {}
        self.namespace: dict = {"Decimal": Decimal}
        self.lines: list[str] = []
        self.params = {p.name: p for p in self.policy.of_kind(n.Param)}
        self.lets = {l.name: l for l in self.policy.of_kind(n.Let)}
        self.tables = {t.name for t in self.policy.of_kind(n.Table)}

    # ------------------------------------------------------------ output helpers

    def const(self, value: object) -> str:
        key = (type(value).__name__, value if not isinstance(value, (set, frozenset)) else tuple(sorted(value)))
        if key not in self.consts:
            name = f"K{len(self.consts)}"
            self.consts[key] = name
            self.namespace[name] = value
        return self.consts[key]

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    # ------------------------------------------------------------ expressions

    def read(self, label: str, code: str) -> str:
        if not self.trace:
            return code
        return f"_rd(TR, {label!r}, {code})"

    def expr(self, e: n.Expr, scope: _Scope) -> str:
        method = getattr(self, "expr_" + type(e).__name__.lower())
        return method(e, scope)

    def expr_literal(self, e: n.Literal, scope: _Scope) -> str:
        if isinstance(e.value, Decimal):
            return self.const(e.value)
        return repr(e.value)

    def expr_setliteral(self, e: n.SetLiteral, scope: _Scope) -> str:
        return self.const(frozenset(i.value for i in e.items))

    def expr_name(self, e: n.Name, scope: _Scope) -> str:
        name = e.name
        if name in scope.vars:
            return scope.vars[name][0]
        if name in self.params:
            param = self.params[name]
            if param.dated:
                return self.read(name, f"{safe_ident('P_', name)}({scope.date_var})")
            return self.read(name, safe_ident("P_", name))
        if name in self.lets:
            return self.read(name, f"({self.expr(self.lets[name].expr, scope)})")
        if name in self.tables:
            return safe_ident("T_", name)
        raise ValueError(f"unresolved name {name}")  # the checker rejects this first

    def record_of(self, e: n.Expr, scope: _Scope) -> tuple[str, str, str | None] | None:
        """For `claim`, `line`, a bound variable or `claim.documentation`: (kind, python var, index var)."""
        if isinstance(e, n.Name) and e.name in scope.vars:
            py, idx, typ = scope.vars[e.name]
            return typ, py, idx
        if isinstance(e, n.Attribute) and e.name == "documentation" and isinstance(e.obj, n.Name) \
                and e.obj.name == "claim":
            return DOCUMENTATION, "doc", None
        return None

    def expr_attribute(self, e: n.Attribute, scope: _Scope) -> str:
        record = self.record_of(e.obj, scope)
        label = _label(e)
        if record is not None:
            kind, py, idx = record
            fields = catalogue()[kind]
            f = fields[e.name]
            if kind == CLAIM and e.name == "lines":
                return "lines"
            if kind == CLAIM and e.name == "documentation":
                return "doc"
            if kind == LINE and e.name == "index":
                return self.read(label, idx)
            if kind == LINE and e.name == "date_of_service":
                code = "ldos" if py == "ln" else f"{py}.get('date_of_service', dos)"
                return self.read(label, code)
            if kind == CLAIM and e.name == "date_of_service":
                return self.read(label, "dos")
            if f.default is not None:
                default = f.default if not isinstance(f.default, list) else tuple(f.default)
                return self.read(label, f"{py}.get({e.name!r}, {default!r})")
            if f.optional:
                return self.read(label, f"{py}.get({e.name!r})")
            return self.read(label, f"{py}[{e.name!r}]")
        # a table row: obj is Index(table, key)
        return self.read(label, f"{self.expr(e.obj, scope)}[{e.name!r}]")

    def expr_index(self, e: n.Index, scope: _Scope) -> str:
        table = self.expr(e.obj, scope)
        return f"_row({table}, {self.expr(e.key, scope)}, {scope.date_var})"

    def expr_call(self, e: n.Call, scope: _Scope) -> str:
        fn = FUNCTIONS[e.func]
        name = safe_ident("F_", fn.name)
        self.namespace[name] = fn.impl
        return f"{name}({', '.join(self.expr(a, scope) for a in e.args)})"

    def expr_unary(self, e: n.Unary, scope: _Scope) -> str:
        op = "not " if e.op == "not" else "-"
        return f"({op}{self.expr(e.operand, scope)})"

    def expr_binary(self, e: n.Binary, scope: _Scope) -> str:
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        if e.op in ("in", "not in") and isinstance(e.right, n.Name) and e.right.name in self.tables:
            test = f"{right}.has({left}, {scope.date_var})"
            return test if e.op == "in" else f"(not {test})"
        if e.op == "/":
            return f"_div({left}, {right})"
        return f"({left} {e.op} {right})"

    def expr_conditional(self, e: n.Conditional, scope: _Scope) -> str:
        return f"({self.expr(e.then, scope)} if {self.expr(e.test, scope)} else {self.expr(e.otherwise, scope)})"

    def expr_quantifier(self, e: n.Quantifier, scope: _Scope) -> str:
        collection = self.expr(e.collection, scope)
        elem_type = "line" if collection == "lines" else "value"
        inner = scope.bind(e.var, LINE if elem_type == "line" else "value")
        py, idx, _ = inner.vars[e.var]
        loop = f"for {idx}, {py} in enumerate({collection})" if idx else f"for {py} in {collection}"
        cond = f" if {self.expr(e.where, inner)}" if e.where is not None else ""
        if e.kind == "any":
            return f"any(True {loop}{cond})"
        if e.kind == "none":
            return f"(not any(True {loop}{cond}))"
        if e.kind == "all":
            where = self.expr(e.where, inner)
            return f"all({where} {loop})"
        if e.kind == "count":
            return f"sum(1 {loop}{cond})"
        return f"sum(({self.expr(e.value, inner)} {loop}{cond}), 0)"

    def template(self, t: n.Template | None, scope: _Scope) -> str:
        if t is None:
            return "''"
        parts = [repr(p) if isinstance(p, str) else f"_s({self.expr(p, scope)})" for p in t.parts]
        return "''.join((" + ", ".join(parts) + ",))" if parts else "''"

    # ------------------------------------------------------------ the evaluation function

    def generate(self) -> Generated:
        rules = self.policy.of_kind(n.Rule)
        fees = self.policy.of_kind(n.Fee)
        header = self.policy.header
        self.namespace["GOVERNED"] = frozenset(header.governs if header else ())
        for p in self.params.values():
            if p.dated:
                entries = sorted(((d.start, d.end, _literal_value(d.value)) for d in p.dated), reverse=True)
                self.namespace[safe_ident("P_", p.name)] = _dated_lookup(p.name, tuple(entries))
            else:
                self.namespace[safe_ident("P_", p.name)] = _literal_value(p.value)

        claim_scope = _Scope({"claim": ("c", None, CLAIM)}, "dos")
        line_scope = _Scope({"claim": ("c", None, CLAIM), "line": ("ln", "i", LINE)}, "ldos")

        self.emit(0, "def evaluate(c):")
        self.emit(1, "lines = c['lines']")
        self.emit(1, "dos = c['date_of_service']")
        self.emit(1, "doc = c.get('documentation') or EMPTY")
        self.emit(1, "n = len(lines)")
        self.emit(1, "F = []")
        self.emit(1, "den = [False] * n")
        self.emit(1, "al = [ln['units'] for ln in lines]")
        self.emit(1, "gov = [ln['code'] in GOVERNED for ln in lines]")
        if self.trace:
            self.emit(1, "EV = []")
        claim_rules = [(k, r) for k, r in enumerate(rules) if r.scope == "claim"]
        line_rules = [(k, r) for k, r in enumerate(rules) if r.scope == "line"]
        if claim_rules:
            self.emit(1, "if any(gov):")
            self.emit(2, "i = None")
            for k, rule in claim_rules:
                self.rule_body(2, k, rule, claim_scope)
        self.emit(1, "for i, ln in enumerate(lines):")
        self.emit(2, "if not gov[i]:")
        self.emit(3, "continue")
        self.emit(2, "ldos = ln.get('date_of_service', dos)")
        for k, rule in line_rules:
            self.rule_body(2, k, rule, line_scope)
        self.fee_body(fees, line_scope)
        self.emit(1, "return F, den, al, gov, amt" + (", EV" if self.trace else ""))
        return Generated("\n".join(self.lines) + "\n", self.namespace, rules, fees)

    def rule_body(self, depth: int, k: int, rule: n.Rule, scope: _Scope) -> None:
        if rule.outcome is None:
            return
        self.emit(depth, "try:")
        d = depth + 1
        if self.trace:
            self.emit(d, "TR = []")
        applies = self.expr(rule.where, scope) if rule.where is not None else "True"
        when = self.expr(rule.when, scope) if rule.when is not None else "True"
        message = self.template(rule.message, scope)
        kind = rule.outcome.kind
        if self.trace:
            self.emit(d, f"ap = {applies}")
            self.emit(d, f"fired = bool(ap and {when})")
            cond = "fired"
        else:
            cond = f"({applies}) and ({when})" if rule.where is not None else when
        if kind == "reduce":
            self.emit(d, f"if {cond}:")
            self.emit(d + 1, f"u = max(0, {self.expr(rule.outcome.units, scope)})")
            self.emit(d + 1, "if u < ln['units']:")
            self.emit(d + 2, f"F.append(({k}, i, {message}{', TR' if self.trace else ''}))")
            self.emit(d + 2, "if u < al[i]:")
            self.emit(d + 3, "al[i] = u")
            if self.trace:
                self.emit(d + 1, "else:")
                self.emit(d + 2, "fired = False")
        else:
            self.emit(d, f"if {cond}:")
            self.emit(d + 1, f"F.append(({k}, i, {message}{', TR' if self.trace else ''}))")
            if kind == "deny":
                if rule.scope == "claim":
                    self.emit(d + 1, "den = [d or g for d, g in zip(den, gov)]")
                else:
                    self.emit(d + 1, "den[i] = True")
        if self.trace:
            self.emit(d, f"EV.append(({k}, i, bool(ap), fired, TR))")
        self.emit(depth, "except Exception as exc:")
        self.emit(depth + 1, f"raise _fail({k}, i, exc) from None")

    def fee_body(self, fees: list[n.Fee], scope: _Scope) -> None:
        # Fees come after every rule has run on every line, so a fee sees final units.
        self.emit(1, "amt = [None] * n")
        self.emit(1, "for i, ln in enumerate(lines):")
        self.emit(2, "if not gov[i]:")
        self.emit(3, "continue")
        self.emit(2, "if den[i] or al[i] <= 0:")
        self.emit(3, "amt[i] = ZERO")
        self.emit(3, "continue")
        self.emit(2, "ldos = ln.get('date_of_service', dos)")
        self.emit(2, "units_allowed = al[i]")
        fee_scope = _Scope({**scope.vars, "units_allowed": ("units_allowed", None, "int")}, scope.date_var)
        self.namespace["ZERO"] = Decimal("0.00")
        for j, fee in enumerate(fees):
            if fee.amount is None:
                continue
            if self.trace:
                self.emit(2, "TR = []")
            self.emit(2, "try:")
            applies = self.expr(fee.where, fee_scope) if fee.where is not None else "True"
            self.emit(3, f"if {applies}:")
            self.emit(4, f"amt[i] = {self.expr(fee.amount, fee_scope)}")
            if self.trace:
                self.emit(4, f"EV.append(({-1 - j}, i, True, True, TR))")
            self.emit(4, "continue")
            self.emit(2, "except Exception as exc:")
            self.emit(3, f"raise _fail({-1 - j}, i, exc) from None")


def _label(e: n.Expr) -> str:
    from .formatter import format_expr
    return format_expr(e)


def _literal_value(v: n.Literal | n.SetLiteral | None) -> object:
    if isinstance(v, n.SetLiteral):
        return frozenset(i.value for i in v.items)
    return None if v is None else v.value


class DatedLookupError(LookupError):
    pass


def _dated_lookup(name: str, entries: tuple):
    """A function date -> value over (start, end, value) entries, newest first."""
    def lookup(date: str):
        for start, end, value in entries:
            if start <= date:
                if end is None or date <= end:
                    return value
                break
        raise DatedLookupError(f"parameter `{name}` has no value on {date}")
    lookup.entries = entries
    return lookup
