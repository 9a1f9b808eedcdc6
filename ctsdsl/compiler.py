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

The plain mode (`trace=False`) does what a careful person would do by hand,
without changing what any rule means:

* each claim and line field is read once into a local;
* each `let`, each table row looked up by a key that does not depend on a
  quantifier's variable, and each dated parameter is computed at most once per
  line, per claim, or per *period* (a stretch of dates over which no dated
  value or table row changes), on first use, so short-circuits still guard it;
* a quantifier over `claim.lines` whose `where` starts with equalities
  (`o.code == primary_code and o.date_of_service == line.date_of_service`)
  looks in an index of the lines built once per claim, instead of scanning
  every line for every line;
* fees are computed in the last stage's loop, reusing what its rules computed.

Stages (`stages a, b` and a rule's `stage b`) run one after another, each its claim rules and
then its line rules on every line; a rule of a later stage reads what earlier stages decided
(`o.denied`, `o.units_allowed`) from a copy taken as its stage starts (`sden`, `sal`), so the
order of lines and rules within a stage never changes what it reads. A `let` that reads those
is memoized per stage, not per claim.

The trace mode keeps one expression per rule, so each rule records every value
it reads. It memoizes the same lets, rows and dated values, each with the reads
that computed it, and replays those reads wherever the memo answers: a rule's
record is what it would be without the memo, while a claim total over 1000 lines
is still summed once, not once per line.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass
from decimal import Decimal

from . import nodes as n
from .checker import CheckedPolicy
from .fields import BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, NUMBER, OUTCOMES, STRING, catalogue
from .functions import FUNCTIONS
from .runtime import UNSET, PeriodRows, Result, period_dates, period_of, period_starts
from .tables import TableData
from .printer import format_expr

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # fullmatch: `$` would let a final newline through
# The only operators that reach the generated code; the transformer's tables hold no others.
_BINARY_OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "and", "or"})
_QUANTIFIERS = frozenset({"any", "all", "none", "count", "sum"})


def safe_ident(prefix: str, name: str) -> str:
    if not _IDENT.fullmatch(name):  # the grammar guarantees this; the compiler does not trust it
        raise ValueError(f"not an identifier: {name!r}")
    return f"{prefix}{name}"


@dataclass
class Program:
    """A compiled policy: the generated source, the constants and tables it reads, and its rules.

    `load(namespace)` executes the source in `namespace` (runtime.namespace: the helpers and the
    allowlisted builtins) and returns `evaluate(claim) -> runtime.Result`.
    """

    source: str
    namespace: dict
    rules: list[n.Rule]
    fees: list[n.Fee]
    filename: str = "<compiled policy>"

    def load(self, runtime_names: dict) -> Callable[[Mapping[str, Any]], Result]:
        scope = {**runtime_names, **self.namespace}
        code = compile(self.source, self.filename, "exec")
        exec(code, scope)  # noqa: S102 - source generated from the checked tree only (module docstring)
        return scope["evaluate"]


class _Scope:
    """Variables visible to an expression: language name -> (python dict var, python index var, type).

    `date_var` and `period_var` name the date that dated lookups use (the line's or
    the claim's) and its period; `memo` is False inside a comprehension's iterable,
    where Python forbids the `:=` that memo slots need.
    """

    def __init__(self, vars_: dict[str, tuple[str, str | None, str]], date_var: str, period_var: str = "cp",
                 memo: bool = True) -> None:
        self.vars = vars_
        self.date_var = date_var
        self.period_var = period_var
        self.memo = memo

    def bind(self, name: str, typ: str) -> _Scope:
        py = safe_ident("v_", name)
        # "vi_": with `py + "_i"`, a variable `o`'s index would be a variable named `o_i`.
        index = safe_ident("vi_", name) if typ == LINE else None
        return _Scope({**self.vars, name: (py, index, typ)}, self.date_var,
                      self.period_var, self.memo)

    def without_memo(self) -> _Scope:
        return _Scope(self.vars, self.date_var, self.period_var, memo=False)


# What an expression depends on (see `Compiler.deps`): the current line, the date of
# dated lookups, what earlier stages decided, or a quantifier's variable ("v:" + its name).
_LINE, _DATE, _OUTCOME = "line", "date", "outcome"
# Field types whose values hash consistently with `==`, so lines can be indexed by them.
_KEY_TYPES = frozenset({STRING, DATE, INT, BOOL})
# Built-ins that cannot raise on any value of the right type.
_TOTAL_FUNCTIONS = frozenset({"missing", "coalesce"})


class Compiler:
    """Generates the evaluation function. `trace=True` also records values read, for explain and coverage."""

    def __init__(self, checked: CheckedPolicy, trace: bool = False) -> None:
        self.checked = checked
        self.policy = checked.policy
        self.trace = trace
        self.fast = not trace
        self.consts: dict[object, str] = {}
        self.namespace: dict = {"Decimal": Decimal}
        self.lines: list[str] = []
        self.params = {p.name: p for p in self.policy.of_kind(n.Param)}
        self.lets = {l.name: l for l in self.policy.of_kind(n.Let)}
        self.tables = {t.name for t in self.policy.of_kind(n.Table)}
        # Plain mode only: locals read once, memo slots, line indexes.
        self.claim_fields: dict[str, str] = {}  # local -> code reading it
        self.line_fields: dict[str, str] = {}
        self.slots: dict[tuple, tuple[str, str]] = {}  # what is memoized -> (variable, level)
        self.indexes: dict[str, int] = {}  # key function source -> index number
        self.buckets = 0
        self.at_depth = 0
        self._deps: dict[str, frozenset] = {}
        self._safe: dict[str, bool] = {}

    # ------------------------------------------------------------ output helpers

    def const(self, value: object) -> str:
        key = (type(value).__name__, value if not isinstance(value, (set, frozenset)) else tuple(sorted(value)))
        if key not in self.consts:
            name = f"K{len(self.consts)}"
            self.consts[key] = name
            self.namespace[name] = value
        return self.consts[key]

    def emit(self, depth: int, text: str) -> None:
        self.lines.extend(_wrapped("    " * depth + text))

    # ------------------------------------------------------------ what expressions depend on

    def deps(self, e: n.Expr | None) -> frozenset:
        """The line, date and quantifier variables an expression depends on (see `_LINE`, `_DATE`)."""
        if e is None or isinstance(e, (n.Literal, n.SetLiteral)):
            return frozenset()
        if isinstance(e, n.Name):
            if e.name == "line":
                return frozenset({_LINE})
            if e.name == "claim" or e.name in self.tables:
                return frozenset()
            if e.name in self.params:
                return frozenset({_DATE}) if self.params[e.name].dated else frozenset()
            if e.name in self.lets:
                if e.name not in self._deps:
                    self._deps[e.name] = frozenset()  # the checker has rejected cycles; this only stops recursion
                    self._deps[e.name] = self.deps(self.lets[e.name].expr)
                return self._deps[e.name]
            return frozenset({"v:" + e.name})
        if isinstance(e, n.Attribute):
            if _reads_outcome(e):
                return self.deps(e.obj) | {_OUTCOME}
            return self.deps(e.obj)
        if isinstance(e, n.Index):
            return self.deps(e.obj) | self.deps(e.key) | {_DATE}
        if isinstance(e, n.Call):
            return frozenset().union(*(self.deps(a) for a in e.args))
        if isinstance(e, n.Unary):
            return self.deps(e.operand)
        if isinstance(e, n.Binary):
            out = self.deps(e.left) | self.deps(e.right)
            if e.op in ("in", "not in") and isinstance(e.right, n.Name) and e.right.name in self.tables:
                out |= {_DATE}
            return out
        if isinstance(e, n.Conditional):
            return self.deps(e.test) | self.deps(e.then) | self.deps(e.otherwise)
        if isinstance(e, n.Quantifier):
            inner = self.deps(e.where) | self.deps(e.value)
            return self.deps(e.collection) | (inner - {"v:" + e.var})
        raise TypeError(f"unknown node {e!r}")  # pragma: no cover - the grammar has no other

    def safe(self, e: n.Expr) -> bool:
        """Whether evaluating `e` on a valid claim can never raise (so it may be skipped or moved)."""
        if isinstance(e, (n.Literal, n.SetLiteral)):
            return True
        if isinstance(e, n.Name):
            if e.name in self.params:
                return not self.params[e.name].dated
            if e.name in self.lets:
                if e.name not in self._safe:
                    self._safe[e.name] = False
                    self._safe[e.name] = self.safe(self.lets[e.name].expr)
                return self._safe[e.name]
            return True
        if isinstance(e, n.Attribute):
            return not isinstance(e.obj, n.Index) and self.safe(e.obj)
        if isinstance(e, n.Call):
            return e.func in _TOTAL_FUNCTIONS and all(self.safe(a) for a in e.args)
        if isinstance(e, n.Unary):
            return e.op == "not" and self.safe(e.operand)
        if isinstance(e, n.Binary):
            return e.op in ("and", "or", "==", "!=", "in", "not in") and self.safe(e.left) and self.safe(e.right)
        if isinstance(e, n.Conditional):
            return self.safe(e.test) and self.safe(e.then) and self.safe(e.otherwise)
        return False

    def memo(self, key: tuple, e_deps: frozenset, scope: _Scope, compute) -> str:
        """`compute()`'s code, evaluated at most once per line, claim or period (by `e_deps`)."""
        if not scope.memo or any(d.startswith("v:") for d in e_deps):
            return compute()
        level = "line" if _LINE in e_deps else "period" if _DATE in e_deps else "claim"
        if _OUTCOME in e_deps and level != "line":  # a line's slots are fresh in each stage's loop anyway
            level = "stage " + level
        if level.endswith("period"):
            key = (*key, scope.date_var)
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = (f"{'D' if level.endswith('period') else 'M'}{len(self.slots)}", level)
        var = slot[0]
        # Traced, a slot holds (value, the reads that computed it): _ms sets the rule's reads
        # aside, _mc takes what `compute` read and puts them back, _mr replays them.
        value = f"_mc(TR, _ms(TR), {compute()})" if self.trace else compute()
        if level.endswith("period"):
            p = scope.period_var
            code = f"({var}[{p}] if {p} in {var} else {var}.setdefault({p}, {value}))"
        else:
            code = f"({var} if {var} is not _U else ({var} := {value}))"
        return f"_mr(TR, {code})" if self.trace else code

    # ------------------------------------------------------------ expressions

    def read(self, label: str, code: str, line: str | None = None) -> str:
        """`code`, recording its value under `label` when tracing; `line` names the index variable
        of the quantified line it was read from (`o.units` says which line `o` was)."""
        if not self.trace:
            return code
        if line is not None:
            return f"_rdl(TR, {label!r}, {line}, {code})"
        return f"_rd(TR, {label!r}, {code})"

    def quantified_line(self, e: n.Expr, scope: _Scope) -> str | None:
        """The index variable of the one quantified line `e` depends on (`rvu[o.code].total_nf`: o's)."""
        bound = [scope.vars[d[2:]][1] for d in self.deps(e) if d.startswith("v:") and d[2:] in scope.vars]
        lines = [index for index in bound if index is not None]
        return lines[0] if len(lines) == 1 else None

    def expr(self, e: n.Expr, scope: _Scope) -> str:
        method = getattr(self, "expr_" + type(e).__name__.lower())
        return method(e, scope)

    def expr_literal(self, e: n.Literal, scope: _Scope) -> str:
        if isinstance(e.value, Decimal):
            return self.const(e.value)
        if e.value is not None and type(e.value) not in (bool, int, str):  # types whose repr is a Python literal
            raise TypeError(f"unexpected literal {e.value!r}")
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
                # Its value in each period, found when compiling: a list index, not a search by date.
                values, p = safe_ident("PV_", name), scope.period_var
                return self.read(name, f"({values}[{p}] if {values}[{p}] is not _U else _nv({name!r}, {scope.date_var}))")
            return self.read(name, safe_ident("P_", name))
        if name in self.lets:
            return self.read(name, self.memo(("let", name), self.deps(e), scope,
                                             lambda: f"({self.expr(self.lets[name].expr, scope)})"))
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
            if kind == LINE and e.name in OUTCOMES:  # as the stages before this one left it
                assert idx is not None, "every line variable has an index variable (see _Scope.bind)"
                return self.read(label, f"{'sden' if e.name == 'denied' else 'sal'}[{idx}]")
            fields = self.checked.fields[kind]
            f = fields[e.name]
            if kind == CLAIM and e.name == "lines":
                return "lines"
            if kind == CLAIM and e.name == "documentation":
                return "doc"
            if kind == LINE and e.name == "index":
                assert idx is not None, "every line variable has an index variable (see _Scope.bind)"
                return self.read(label, idx, idx)
            if kind == LINE and e.name == "date_of_service":
                code = "ldos" if py == "ln" else f"{py}.get('date_of_service', dos)"
                return self.read(label, code, None if py == "ln" else idx)
            if kind == CLAIM and e.name == "date_of_service":
                return self.read(label, "dos")
            if f.default is not None:
                default = f.default if not isinstance(f.default, list) else tuple(f.default)
                code = f"{py}.get({e.name!r}, {default!r})"
            elif f.optional:
                code = f"{py}.get({e.name!r})"
            else:
                code = f"{py}[{e.name!r}]"
            if f.type == NUMBER:  # JSON gives 800.5 as a float; money arithmetic needs Decimal
                code = f"_num({code})"
            if self.fast and py in ("c", "doc", "ln"):
                local = safe_ident({"c": "c_", "doc": "d_", "ln": "l_"}[py], e.name)
                (self.line_fields if py == "ln" else self.claim_fields)[local] = code
                return local
            return self.read(label, code, None if py == "ln" else idx)
        # a table row: obj is Index(table, key)
        return self.read(label, f"{self.expr(e.obj, scope)}[{e.name!r}]", self.quantified_line(e, scope))

    def rows(self, table: n.Expr, scope: _Scope) -> str:
        """The rows of a table in force in the scope's period, by key (see `runtime.PeriodRows`)."""
        assert isinstance(table, n.Name) and table.name in self.tables, "the checker admits only a table here"
        rows = safe_ident("R_", table.name)
        return f"{rows}[{scope.period_var}]" if self.checked.tables[table.name].dated_by else rows

    def expr_index(self, e: n.Index, scope: _Scope) -> str:
        # A missing row raises MissingRowError (PeriodRows.__missing__). The key is written once,
        # so a row whose key is another row's cell (`t[t[k].x]`) costs code linear in the nesting.
        return f"{self.rows(e.obj, scope)}[{self.expr(e.key, scope)}]"

    def expr_call(self, e: n.Call, scope: _Scope) -> str:
        if self.fast and e.func == "missing":
            return f"({self.expr(e.args[0], scope)} is None)"
        if e.func == "at":
            # Another date than the scope's: memo slots are keyed by the scope's date or period, so
            # inside `at` everything is computed afresh on the given date, which is computed once
            # and handed, with its period, to a function of both.
            self.at_depth += 1
            date_var, period_var = f"AD{self.at_depth}", f"AP{self.at_depth}"
            inner = self.expr(e.args[1], _Scope(scope.vars, date_var, period_var, memo=False))
            self.at_depth -= 1
            return f"_at(lambda {date_var}, {period_var}: {inner}, {self.expr(e.args[0], scope)}, _period)"
        if e.func == "round" and isinstance(e.args[1], n.Literal) and type(e.args[1].value) is int \
                and 0 <= e.args[1].value <= 12:
            # The usual round(x, 2): its quantum built once, the Decimal case first (as round_half_up).
            quantum = self.const(Decimal(1).scaleb(-e.args[1].value))
            return f"_round_to({self.expr(e.args[0], scope)}, {quantum})"
        fn = FUNCTIONS[e.func]
        name = safe_ident("F_", fn.name)
        self.namespace[name] = fn.impl
        return f"{name}({', '.join(self.expr(a, scope) for a in e.args)})"

    def expr_unary(self, e: n.Unary, scope: _Scope) -> str:
        op = "not " if e.op == "not" else "-"  # nothing else reaches the code, whatever e.op holds
        return f"({op}{self.expr(e.operand, scope)})"

    def expr_binary(self, e: n.Binary, scope: _Scope) -> str:
        if e.op in ("in", "not in") and isinstance(e.right, n.Name) and e.right.name in self.tables:
            return f"({self.expr(e.left, scope)} {e.op} {self.rows(e.right, scope)})"
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        if e.op == "/":
            return f"_div({left}, {right})"
        if e.op not in _BINARY_OPS:
            raise ValueError(f"unknown operator {e.op!r}")
        return f"({left} {e.op} {right})"

    def expr_conditional(self, e: n.Conditional, scope: _Scope) -> str:
        return f"({self.expr(e.then, scope)} if {self.expr(e.test, scope)} else {self.expr(e.otherwise, scope)})"

    def expr_quantifier(self, e: n.Quantifier, scope: _Scope) -> str:
        if e.kind not in _QUANTIFIERS:
            raise ValueError(f"unknown quantifier {e.kind!r}")
        collection = self.expr(e.collection, scope.without_memo())
        elem_type = "line" if collection == "lines" else "value"
        inner = scope.bind(e.var, LINE if elem_type == "line" else "value")
        py, idx, _ = inner.vars[e.var]
        if collection == "lines" and scope.memo and e.kind != "all" and e.where is not None:
            indexed = self.indexed_quantifier(e, scope, inner)
            if indexed is not None:
                return indexed
        loop = f"for {idx}, {py} in enumerate({collection})" if idx else f"for {py} in {collection}"
        cond = f" if {self.expr(e.where, inner)}" if e.where is not None else ""
        return _quantify(e.kind, loop, cond, lambda: self.expr(_given(e.where), inner),
                         lambda: self.expr(_given(e.value), inner))

    def indexed_quantifier(self, e: n.Quantifier, scope: _Scope, inner: _Scope) -> str | None:
        """`e` looking only at the lines its leading equalities select, from an index built once per claim.

        An equality `o.f == E` may serve as a key when nothing skipped by moving it
        first could have raised: it is the first test, or every test before it is a
        key or safe, and E itself is safe.
        """
        conjuncts = _conjuncts(_given(e.where))
        keys: list[tuple[n.Expr, n.Expr]] = []
        rest: list[n.Expr] = []
        blocked = False
        for j, test in enumerate(conjuncts):
            key = None if blocked else self.key_equality(test, e.var)
            if key is not None and (j == 0 or (self.safe(key[1]) and all(self.safe(t) for t in rest))):
                keys.append(key)
                continue
            rest.append(test)
            blocked = blocked or not self.safe(test)
        if not keys:
            return None
        py, idx, _ = inner.vars[e.var]
        # The key function runs outside any rule (on every line, once per claim): it records no reads.
        traced, self.trace = self.trace, False
        try:
            fields = [self.expr(f, inner) for f, _ in keys]
        finally:
            self.trace = traced
        key_code = fields[0] if len(fields) == 1 else "(" + ", ".join(fields) + ")"
        source = f"def IXK{{}}({py}, dos):\n    return {key_code}\n"
        number = self.indexes.setdefault(source, len(self.indexes))
        wanted = [self.expr(value, scope) for _, value in keys]
        wanted_code = wanted[0] if len(wanted) == 1 else "(" + ", ".join(wanted) + ")"
        bucket = f"B{self.buckets}"
        self.buckets += 1
        loop = f"for {idx}, {py} in {bucket}"
        where = _conjoin(rest)
        cond = f" if {self.expr(where, inner)}" if where is not None else ""
        body = _quantify(e.kind, loop, cond, lambda: self.expr(_given(e.where), inner),
                         lambda: self.expr(_given(e.value), inner))
        empty = {"any": "False", "none": "True", "count": "0", "sum": "0"}[e.kind]
        return f"({body} if ({bucket} := _bucket(IX, {number}, IXK{number}, lines, dos, {wanted_code})) else {empty})"

    def key_equality(self, test: n.Expr, var: str) -> tuple[n.Expr, n.Expr] | None:
        """(`o.f`, E) when `test` is `o.f == E` or `E == o.f` with E free of quantifier variables."""
        if not (isinstance(test, n.Binary) and test.op == "=="):
            return None
        for field_side, other in ((test.left, test.right), (test.right, test.left)):
            if isinstance(field_side, n.Attribute) and isinstance(field_side.obj, n.Name) \
                    and field_side.obj.name == var and field_side.name != "index":
                f = self.checked.fields[LINE].get(field_side.name)
                if f is not None and f.type in _KEY_TYPES \
                        and not any(d.startswith("v:") for d in self.deps(other)):
                    return field_side, other
        return None

    def template(self, t: n.Template | None, scope: _Scope) -> str:
        if t is None:
            return "''"
        parts = [repr(p) if isinstance(p, str) else f"_s({self.expr(p, scope)})" for p in t.parts]
        return "''.join((" + ", ".join(parts) + ",))" if parts else "''"

    # ------------------------------------------------------------ the evaluation function

    def generate(self) -> Program:
        rules = self.policy.of_kind(n.Rule)
        fees = self.policy.of_kind(n.Fee)
        header = self.policy.header
        self.namespace["GOVERNED"] = frozenset(header.governs if header else ())
        bounds = self.period_bounds()
        starts = period_starts(bounds)
        self.namespace["_period"] = period_of(bounds)
        for p in self.params.values():
            if p.dated:
                self.namespace[safe_ident("PV_", p.name)] = [_value_on(p, start) for start in starts]
            else:
                self.namespace[safe_ident("P_", p.name)] = _literal_value(p.value)
        for table in self.checked.tables.values():
            self.namespace[safe_ident("R_", table.name)] = _rows_by_period(table, bounds)
        claim_scope = _Scope({"claim": ("c", None, CLAIM)}, "dos", "cp")
        line_scope = _Scope({"claim": ("c", None, CLAIM), "line": ("ln", "i", LINE)}, "ldos", "lp")
        stages = self.checked.stages or ("",)
        stage_of = {name: s for s, name in enumerate(stages)}
        by_stage: list[tuple[list, list]] = [([], []) for _ in stages]
        for k, r in enumerate(rules):
            by_stage[stage_of.get(r.stage or "", 0)][r.scope == "line"].append((k, r))
        # The bodies first: they decide which locals, memo slots and indexes the prologues set up.
        bodies = [(self.collect(lambda: self.rule_bodies(claim_rules, claim_scope)) if claim_rules else None,
                   self.collect(lambda: self.rule_bodies(line_rules, line_scope)) if line_rules else None)
                  for claim_rules, line_rules in by_stage]
        fee_body = self.collect(lambda: self.fee_body(fees, line_scope))
        reads_outcomes = any(_OUTCOME in self._item_deps(item) for item in (*rules, *fees))
        fee_outcomes = any(_OUTCOME in self._item_deps(f) for f in fees)
        # See the module's docstring: the fee in the last stage's loop, even one without line rules
        # (a claim rule of it may still deny), unless the fee reads other lines' outcomes.
        fused = self.fast and not fee_outcomes
        if fused:
            bodies[-1] = (bodies[-1][0], (bodies[-1][1] or []) + fee_body)

        self.lines = []
        for source, number in self.indexes.items():
            self.lines.extend(source.replace("IXK{}", f"IXK{number}").splitlines())
            self.lines.append("")
        self.emit_head()
        for local, code in self.claim_fields.items():
            self.emit(1, f"{local} = {code}")
        self.emit_claim_slots()
        if self.indexes:
            self.emit(1, f"IX = [None] * {len(self.indexes)}")
        if self.trace:
            self.emit(1, "EV = []")
        for s, (claim_body, line_body) in enumerate(bodies):
            # The first stage reads no outcome (the checker sees to it), so it needs no copy of them.
            if reads_outcomes and s > 0 and (claim_body is not None or line_body is not None):
                self.emit_stage_start(s)
            if claim_body is not None:  # a claim with no governed line is not the policy's to judge
                self.emit(1, "if any(gov):")
                self.emit(2, "i = None")
                self.lines.extend(claim_body)
            if line_body is not None:
                self.emit_line_loop()
                self.lines.extend(line_body)
        if fused:
            self.emit(1, "return Result(F, den, al, gov, amt, None)")
        else:
            # Fees in a loop of their own, after every rule has run on every line.
            if fee_outcomes:
                self.emit(1, "sden, sal = den, al")
            self.emit_line_loop()
            self.lines.extend(fee_body)
            self.emit(1, f"return Result(F, den, al, gov, amt, {'EV' if self.trace else 'None'})")
        return Program("\n".join(self.lines) + "\n", self.namespace, rules, fees,
                       f"<compiled {self.checked.policy.source_name}>")

    def rule_bodies(self, rules: list[tuple[int, n.Rule]], scope: _Scope) -> None:
        for k, rule in rules:
            self.rule_body(2, k, rule, scope)

    def collect(self, emit_all: Callable[[], None]) -> list[str]:
        """The lines `emit_all` emits, set aside rather than added to the output."""
        self.lines = []
        emit_all()
        return self.lines

    def emit_head(self) -> None:
        """`def evaluate(c):` and the locals both modes start from."""
        self.emit(0, "def evaluate(c):")
        for text in ("lines = c['lines']", "dos = c['date_of_service']", "doc = c.get('documentation') or EMPTY",
                     "n = len(lines)", "F = []", "den = [False] * n", "al = [ln['units'] for ln in lines]",
                     "gov = [ln['code'] in GOVERNED for ln in lines]", "amt = [None] * n", "cp = _period(dos)"):
            self.emit(1, text)

    def emit_line_loop(self) -> None:
        """The head of a loop over the governed lines: the line's date, period, locals and fresh memo slots."""
        self.emit(1, "for i, ln in enumerate(lines):")
        self.emit(2, "if not gov[i]:")
        self.emit(3, "continue")
        self.emit(2, "ldos = ln.get('date_of_service', dos)")
        self.emit(2, "lp = cp if ldos == dos else _period(ldos)")
        for local, code in self.line_fields.items():
            self.emit(2, f"{local} = {code}")
        for var, level in self.slots.values():
            if level == "line":
                self.emit(2, f"{var} = _U")

    def emit_claim_slots(self, stage: bool = False) -> None:
        """Fresh claim and period memo slots: once a claim, or (`stage`) those of lets that read outcomes."""
        for var, level in self.slots.values():
            if level.startswith("stage ") != stage:
                continue
            if level.endswith("claim"):
                self.emit(1, f"{var} = _U")
            elif level.endswith("period"):
                self.emit(1, f"{var} = {{}}")

    def emit_stage_start(self, stage: int) -> None:
        """What earlier stages decided, as this stage's rules read it, and slots that must be computed anew."""
        self.emit(1, f"# stage {stage + 1}" + (f": {self.checked.stages[stage]}" if self.checked.stages else ""))
        self.emit(1, "sden, sal = den[:], al[:]")
        self.emit_claim_slots(stage=True)

    def _item_deps(self, item: n.Rule | n.Fee) -> frozenset:
        parts: list[n.Expr | None] = [item.where]
        if isinstance(item, n.Rule):
            parts += [item.when, item.outcome.units if item.outcome else None]
            parts += [p for p in (item.message.parts if item.message else ()) if not isinstance(p, str)]
        else:
            parts.append(item.amount)
        return frozenset().union(*(self.deps(p) for p in parts))

    def period_bounds(self) -> tuple[str, ...]:
        """Dates where some dated value or table row may change: a period lies between two of them.

        A date at or after a bound is in the next period. A value that ends on E
        changes after E: the bound is E + "\\0", which sorts after E and before E's next day.
        """
        bounds = set()
        for p in self.params.values():
            for d in p.dated or ():
                bounds.add(d.start)
                if d.end is not None:
                    bounds.add(d.end + "\0")
        for table in self.checked.tables.values():
            if table.dated_by:
                bounds.update(start for versions in table.rows.values() for start, _ in versions)
        return tuple(sorted(bounds))

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
        elif rule.where is not None:
            cond = f"({applies}) and ({when})" if rule.when is not None else applies
        else:
            cond = when
        if kind == "reduce":
            billed = self.expr(n.Attribute(n.Name("line"), "units"), scope) if self.fast else "ln['units']"
            self.emit(d, f"if {cond}:")
            self.emit(d + 1, f"u = max(0, {self.expr(_given(rule.outcome.units), scope)})")
            self.emit(d + 1, f"if u < {billed}:")
            self.emit(d + 2, f"F.append(({k}, i, {message}, {'TR' if self.trace else 'None'}))")
            self.emit(d + 2, "if u < al[i]:")
            self.emit(d + 3, "al[i] = u")
            if self.trace:
                self.emit(d + 1, "else:")
                self.emit(d + 2, "fired = False")
        else:
            self.emit(d, f"if {cond}:")
            self.emit(d + 1, f"F.append(({k}, i, {message}, {'TR' if self.trace else 'None'}))")
            if kind == "deny":
                if rule.scope == "claim":
                    self.emit(d + 1, "den = [d or g for d, g in zip(den, gov)]")
                else:
                    self.emit(d + 1, "den[i] = True")
        if self.trace:  # a reduce also says the units it computed, for explain's data
            computed = ", (u if fired else None)" if kind == "reduce" else ""
            self.emit(d, f"EV.append(('rule', {k}, i, bool(ap), fired, TR{computed}))")
        self.emit(depth, "except Exception as exc:")
        self.emit(depth + 1, f"raise _fail('rule', {k}, i, exc) from None")

    def fee_body(self, fees: list[n.Fee], scope: _Scope) -> None:
        """A line's fees, the first that applies setting its amount, once every rule has run on it.

        Plain mode runs this at the end of the rules' loop: no other line's rules touch this
        line's units, so they are final, and the fee reuses the line's locals and memo slots.
        """
        self.emit(2, "if den[i] or al[i] <= 0:")
        self.emit(3, "amt[i] = ZERO")
        self.emit(3, "continue")
        self.emit(2, "units_allowed = al[i]")
        fee_scope = _Scope({**scope.vars, "units_allowed": ("units_allowed", None, "int")}, scope.date_var,
                           scope.period_var)
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
                self.emit(4, f"EV.append(('fee', {j}, i, True, True, TR))")
            self.emit(4, "continue")
            self.emit(2, "except Exception as exc:")
            self.emit(3, f"raise _fail('fee', {j}, i, exc) from None")


_WIDTH = 110  # where a generated line is broken, for a reader of the source (and of tracebacks)


def _wrapped(line: str) -> list[str]:
    """A long generated line broken inside its brackets, after a comma or before `and`, `or`, `if`,
    `else` or `for`: the same code, readable. Strings are never split, so a long message stays whole."""
    if len(line) <= _WIDTH:
        return [line]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - the compiler writes whole statements
        return [line]
    indent = len(line) - len(line.lstrip(" ")) + 8
    breaks, depth = [], 0
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif depth > 0 and tok.type == tokenize.OP and tok.string == ",":
            breaks.append(tok.end[1])
        elif depth > 0 and tok.type == tokenize.NAME and tok.string in ("and", "or", "if", "else", "for"):
            breaks.append(tok.start[1])
    out: list[str] = []
    start, last = 0, None
    for b in breaks:
        if b - start > _WIDTH - (indent if out else 0) and last is not None and last > start:
            out.append(line[start:last].rstrip())
            start = last
        last = b
    if len(line) - start > _WIDTH - indent and last is not None and last > start:
        out.append(line[start:last].rstrip())
        start = last
    out.append(line[start:])
    return [out[0]] + [" " * indent + part.lstrip() for part in out[1:]]


def _conjuncts(e: n.Expr) -> list[n.Expr]:
    """`a and b and c` as [a, b, c], in evaluation order."""
    if isinstance(e, n.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _conjoin(tests: list[n.Expr]) -> n.Expr | None:
    out = None
    for t in tests:
        out = t if out is None else n.Binary("and", out, t)
    return out


def _given(part: n.Expr | None) -> n.Expr:
    """A part the grammar makes compulsory where it is read: `all`'s where, `sum`'s value, `reduce`'s units."""
    assert part is not None, "the grammar requires this part"
    return part


def _quantify(kind: str, loop: str, cond: str, where: Callable[[], str], value: Callable[[], str]) -> str:
    """A quantifier as a Python expression over `loop`, filtered by `cond`."""
    if kind == "any":
        return f"any(True {loop}{cond})"
    if kind == "none":
        return f"(not any(True {loop}{cond}))"
    if kind == "all":
        return f"all({where()} {loop})"
    if kind == "count":
        return f"sum(1 {loop}{cond})"
    return f"sum(({value()} {loop}{cond}), 0)"


def _reads_outcome(e: n.Attribute) -> bool:
    """`line.denied`, `o.units_allowed`: what earlier stages decided for a line (the checker admits
    these names on lines only; a table column of the same name is read through an index, `t[k].denied`)."""
    return e.name in OUTCOMES and isinstance(e.obj, n.Name)


def _label(e: n.Expr) -> str:
    return format_expr(e)


def _literal_value(v: n.Literal | n.SetLiteral | None) -> object:
    if isinstance(v, n.SetLiteral):
        return frozenset(i.value for i in v.items)
    return None if v is None else v.value


def _value_on(param: n.Param, date: str) -> object:
    """A dated parameter's value on `date` (a period's first date), or UNSET where it has none."""
    for d in param.dated:
        if d.start <= date and (d.end is None or date <= d.end):
            return _literal_value(d.value)
    return UNSET


# Tables whose rows by period would hold more references than this are looked up by period on
# demand instead: a year of daily rows of 100,000 codes must not be copied 365 times up front.
_MAX_PRECOMPUTED_ROWS = 2_000_000


def _rows_by_period(table: TableData, bounds: tuple[str, ...]):
    """`R_<table>`: its rows in force in each period (a PeriodRows), or one PeriodRows if undated."""
    if not table.dated_by:
        return PeriodRows({key: versions[0][1] for key, versions in table.rows.items()}, table.name, "")
    starts = period_starts(bounds)
    if len(starts) * len(table.rows) > _MAX_PRECOMPUTED_ROWS:
        return _LazyPeriods(table, bounds)
    return [_period_rows(table, bounds, p) for p in range(len(starts))]


def _period_rows(table: TableData, bounds: tuple[str, ...], p: int) -> PeriodRows:
    start = period_starts(bounds)[p]
    rows = {}
    for key in table.rows:
        row = table.lookup(key, start) if start else None
        if row is not None:
            rows[key] = row
    return PeriodRows(rows, table.name, period_dates(bounds, p))


class _LazyPeriods:
    """A large table's rows by period, each period's built when a claim first needs it (the last 64 kept)."""

    def __init__(self, table: TableData, bounds: tuple[str, ...]) -> None:
        self.table, self.bounds = table, bounds
        self.built: dict[int, PeriodRows] = {}

    def __getitem__(self, p: int) -> PeriodRows:
        rows = self.built.get(p)
        if rows is None:
            if len(self.built) >= 64:
                self.built.clear()
            rows = self.built[p] = _period_rows(self.table, self.bounds, p)
        return rows
