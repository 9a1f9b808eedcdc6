"""The expression compiler: each checked expression as a Python expression, memoized where it may be.

`ExpressionCompiler` holds what one compilation collects (constants, the namespace, the locals read
once, memo slots, line indexes) and writes expressions: names, fields, table rows, calls, operators,
quantifiers (over an index of the lines where their `where` allows) and message templates. It
decides what each expression depends on (`deps`), whether it can raise (`safe`), and so where its
value may be memoized (`memo`). `compiler.Compiler` builds on it with the layout of the evaluation
function; the module docstring of `compiler` says why and how.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from ..language import nodes as n
from ..language.checked import CheckedPolicy
from ..claims.fields import BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, NUMBER, OUTCOMES, STRING
from ..language.functions import FUNCTIONS
from ..language.printer import format_expr

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # fullmatch: `$` would let a final newline through
# The only operators that reach the generated code; the transformer's tables hold no others.
_BINARY_OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "and", "or"})
_QUANTIFIERS = frozenset({"any", "all", "none", "count", "sum"})


def safe_ident(prefix: str, name: str) -> str:
    if not _IDENT.fullmatch(name):  # the grammar guarantees this; the compiler does not trust it
        raise ValueError(f"not an identifier: {name!r}")
    return f"{prefix}{name}"


class Scope:
    """Variables visible to an expression: language name -> (python dict var, python index var, type).

    `date_var` and `period_var` name the date that dated lookups use (the line's or
    the claim's) and its period; `memo` is False inside a comprehension's iterable,
    where Python forbids the `:=` that memo slots need.
    """

    def __init__(self, vars_: dict[str, tuple[str, str | None, str]], date_var: str, period_var: str = "cp",
                 memo: bool = True, assign: bool = True) -> None:
        self.vars = vars_
        self.date_var = date_var
        self.period_var = period_var
        self.memo = memo
        self.assign = assign  # False in a comprehension's iterable, where Python forbids `:=` (even in a lambda)

    def bind(self, name: str, typ: str) -> Scope:
        py = safe_ident("v_", name)
        # "vi_": with `py + "_i"`, a variable `o`'s index would be a variable named `o_i`.
        index = safe_ident("vi_", name) if typ == LINE else None
        return Scope({**self.vars, name: (py, index, typ)}, self.date_var,
                     self.period_var, self.memo, self.assign)

    def without_memo(self) -> Scope:
        return Scope(self.vars, self.date_var, self.period_var, memo=False, assign=False)


# What an expression depends on (see `ExpressionCompiler.deps`): the current line, the date of
# dated lookups, what earlier stages decided, or a quantifier's variable ("v:" + its name).
DEP_LINE, DEP_DATE, DEP_OUTCOME = "line", "date", "outcome"
# Field types whose values hash consistently with `==`, so lines can be indexed by them.
_KEY_TYPES = frozenset({STRING, DATE, INT, BOOL})
# Built-ins that cannot raise on any value of the right type.
_TOTAL_FUNCTIONS = frozenset({"missing", "coalesce"})
# Built-ins that give an absent argument back as their (absent) result, and those operators that
# cannot compute with an absent operand (the rest, `==`, `and`, `not`, take None as Python does).
_PASS_ABSENT = frozenset({"dollars", "as_text"})
_NEED_VALUES = frozenset({"<", "<=", ">", ">=", "+", "-", "*", "/"})


class ExpressionCompiler:
    """What one compilation collects, and the code of each expression. `trace=True` also records values read."""

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
        self.rounds = 0  # temporaries of rounded values (RT1, RT2...)
        self.at_depth = 0
        self._deps: dict[str, frozenset] = {}
        self._safe: dict[str, bool] = {}
        self._line_reads: dict[str, frozenset | None] = {}
        self._absent: dict[str, bool] = {}
        self._empty_cells: dict[tuple[str, str], bool] = {}  # (table, column): some row leaves it empty

    def const(self, value: object) -> str:
        key = (type(value).__name__, value if not isinstance(value, (set, frozenset)) else tuple(sorted(value)))
        if key not in self.consts:
            name = f"K{len(self.consts)}"
            self.consts[key] = name
            self.namespace[name] = value
        return self.consts[key]

    # ------------------------------------------------------------ what expressions depend on

    def deps(self, e: n.Expr | None) -> frozenset:
        """The line, date and quantifier variables an expression depends on (see `DEP_LINE`, `DEP_DATE`)."""
        if e is None or isinstance(e, (n.Literal, n.SetLiteral)):
            return frozenset()
        if isinstance(e, n.Name):
            if e.name == "line":
                return frozenset({DEP_LINE})
            if e.name == "claim" or e.name in self.tables:
                return frozenset()
            if e.name in self.params:
                return frozenset({DEP_DATE}) if self.params[e.name].dated else frozenset()
            if e.name in self.lets:
                if e.name not in self._deps:
                    self._deps[e.name] = frozenset()  # the checker has rejected cycles; this only stops recursion
                    self._deps[e.name] = self.deps(self.lets[e.name].expr)
                return self._deps[e.name]
            return frozenset({"v:" + e.name})
        if isinstance(e, n.Attribute):
            if _reads_outcome(e):
                return self.deps(e.obj) | {DEP_OUTCOME}
            return self.deps(e.obj)
        if isinstance(e, n.Index):
            return self.deps(e.obj) | self.deps(e.key) | {DEP_DATE}
        if isinstance(e, n.Call):
            return frozenset().union(*(self.deps(a) for a in e.args))
        if isinstance(e, n.Unary):
            return self.deps(e.operand)
        if isinstance(e, n.Binary):
            out = self.deps(e.left) | self.deps(e.right)
            if e.op in ("in", "not in") and isinstance(e.right, n.Name) and e.right.name in self.tables:
                out |= {DEP_DATE}
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

    def memo(self, key: tuple, e_deps: frozenset, scope: Scope, compute) -> str:
        """`compute()`'s code, evaluated at most once per line, claim or period (by `e_deps`)."""
        if not scope.memo or any(d.startswith("v:") for d in e_deps):
            return compute()
        level = "line" if DEP_LINE in e_deps else "period" if DEP_DATE in e_deps else "claim"
        if DEP_OUTCOME in e_deps and level != "line":  # a line's slots are fresh in each stage's loop anyway
            level = "stage " + level
        if level == "line" and key[0] == "let":
            keyed = self.keyed_memo(key, e_deps, scope, compute)
            if keyed is not None:
                return keyed
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

    def keyed_memo(self, key: tuple, e_deps: frozenset, scope: Scope, compute) -> str | None:
        """A let that sums or searches the claim's lines, computed once per claim for each value of
        the line fields it reads, not once per line: on a claim of many alike lines (a month's sessions
        of one code), once per line made it quadratic in the lines. None where that does not apply."""
        let = self.lets[key[1]]
        fields = self.line_reads(let.expr)
        if fields is None or not fields or DEP_OUTCOME in e_deps or not _sums_lines(let.expr) \
                or "line" not in scope.vars:
            return None
        line_fields = self.checked.fields[LINE]
        if any(f == "index" or f not in line_fields or line_fields[f].type not in _KEY_TYPES for f in fields):
            return None  # a list (modifiers) cannot key a dict; the index is the line itself
        traced, self.trace = self.trace, False  # the key is not a value a rule reads
        try:
            parts = [self.expr(n.Attribute(n.Name("line"), f), scope) for f in sorted(fields)]
        finally:
            self.trace = traced
        if DEP_DATE in e_deps:
            parts.append(scope.period_var)
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = (f"M{len(self.slots)}", "keyed")
        var = slot[0]
        value = f"_mc(TR, _ms(TR), {compute()})" if self.trace else compute()
        k = "Q" + var[1:]
        code = f"({var}[{k}] if ({k} := ({', '.join(parts)},)) in {var} else {var}.setdefault({k}, {value}))"
        return f"_mr(TR, {code})" if self.trace else code

    def line_reads(self, e: n.Expr | None) -> frozenset | None:
        """The fields of the current line an expression reads (through lets too); None if it uses
        `line` otherwise than to read a field."""
        if e is None or isinstance(e, (n.Literal, n.SetLiteral)):
            return frozenset()
        if isinstance(e, n.Attribute) and isinstance(e.obj, n.Name) and e.obj.name == "line":
            return frozenset({e.name})
        if isinstance(e, n.Name):
            if e.name == "line":
                return None
            if e.name in self.lets:
                if e.name not in self._line_reads:
                    self._line_reads[e.name] = frozenset()  # no cycles (the checker); this stops recursion
                    self._line_reads[e.name] = self.line_reads(self.lets[e.name].expr)
                return self._line_reads[e.name]
            return frozenset()
        out: frozenset = frozenset()
        for child in e.children():
            found = self.line_reads(child)  # type: ignore[arg-type]  # an expression's children are expressions
            if found is None:
                return None
            out |= found
        return out

    # ------------------------------------------------------------ absent values

    def may_be_absent(self, e: n.Expr) -> bool:
        """Whether `e` may be absent (None) on a valid claim: an optional field without a default, an
        empty table cell, or what passes one through (a let, `coalesce` of two, `dollars`, `at`)."""
        if isinstance(e, n.Literal):
            return e.value is None
        if isinstance(e, n.Name):
            if e.name in self.lets:
                if e.name not in self._absent:
                    self._absent[e.name] = False  # no cycles (the checker); this only stops recursion
                    self._absent[e.name] = self.may_be_absent(self.lets[e.name].expr)
                return self._absent[e.name]
            if e.name in self.params:
                p = self.params[e.name]
                return any(d.value is None for d in p.dated) if p.dated else p.value is None
            return False
        if isinstance(e, n.Attribute):
            if isinstance(e.obj, n.Index):  # a table cell: absent where the data leaves it empty
                name = e.obj.obj.name if isinstance(e.obj.obj, n.Name) else ""
                if (name, e.name) not in self._empty_cells:
                    table = self.checked.tables.get(name)
                    self._empty_cells[name, e.name] = table is None or any(
                        row.get(e.name) is None for versions in table.rows.values() for _, row in versions)
                return self._empty_cells[name, e.name]
            if _reads_outcome(e) or e.name in ("documentation", "date_of_service", "index"):
                return False  # a line's date is the claim's when it gives none
            record = e.obj.name if isinstance(e.obj, n.Name) else None
            kind = CLAIM if record == "claim" else DOCUMENTATION if isinstance(e.obj, n.Attribute) else LINE
            f = self.checked.fields.get(kind, {}).get(e.name)
            return f is None or (f.optional and f.default is None)
        if isinstance(e, n.Call):
            if e.func == "coalesce":
                return all(self.may_be_absent(a) for a in e.args)
            if e.func == "at":
                return self.may_be_absent(e.args[1])
            if e.func in _PASS_ABSENT:
                return self.may_be_absent(e.args[0])
            return False
        if isinstance(e, n.Binary) and e.op in ("and", "or"):  # Python's and/or give an operand back
            return self.may_be_absent(e.left) or self.may_be_absent(e.right)
        if isinstance(e, n.Conditional):
            return self.may_be_absent(e.then) or self.may_be_absent(e.otherwise)
        return False

    def needed(self, e: n.Expr, code: str) -> str:
        """`code` where the next operation needs a value: one that may be absent is checked first, and an
        absent one raises runtime.AbsentValueError naming it (the evaluator's message says which)."""
        return f"_given({code}, {_label(e)!r})" if self.may_be_absent(e) else code

    # ------------------------------------------------------------ expressions

    def read(self, label: str, code: str, line: str | None = None) -> str:
        """`code`, recording its value under `label` when tracing; `line` names the index variable
        of the quantified line it was read from (`o.units` says which line `o` was)."""
        if not self.trace:
            return code
        if line is not None:
            return f"_rdl(TR, {label!r}, {line}, {code})"
        return f"_rd(TR, {label!r}, {code})"

    def quantified_line(self, e: n.Expr, scope: Scope) -> str | None:
        """The index variable of the one quantified line `e` depends on (`rvu[o.code].total_nf`: o's)."""
        bound = [scope.vars[d[2:]][1] for d in self.deps(e) if d.startswith("v:") and d[2:] in scope.vars]
        lines = [index for index in bound if index is not None]
        return lines[0] if len(lines) == 1 else None

    def expr(self, e: n.Expr, scope: Scope) -> str:
        method = getattr(self, "expr_" + type(e).__name__.lower())
        return method(e, scope)

    def expr_literal(self, e: n.Literal, scope: Scope) -> str:
        if isinstance(e.value, Decimal):
            return self.const(e.value)
        if e.value is not None and type(e.value) not in (bool, int, str):  # types whose repr is a Python literal
            raise TypeError(f"unexpected literal {e.value!r}")
        return repr(e.value)

    def expr_setliteral(self, e: n.SetLiteral, scope: Scope) -> str:
        return self.const(frozenset(i.value for i in e.items))

    def expr_name(self, e: n.Name, scope: Scope) -> str:
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

    def record_of(self, e: n.Expr, scope: Scope) -> tuple[str, str, str | None] | None:
        """For `claim`, `line`, a bound variable or `claim.documentation`: (kind, python var, index var)."""
        if isinstance(e, n.Name) and e.name in scope.vars:
            py, idx, typ = scope.vars[e.name]
            return typ, py, idx
        if isinstance(e, n.Attribute) and e.name == "documentation" and isinstance(e.obj, n.Name) \
                and e.obj.name == "claim":
            return DOCUMENTATION, "doc", None
        return None

    def expr_attribute(self, e: n.Attribute, scope: Scope) -> str:
        record = self.record_of(e.obj, scope)
        label = _label(e)
        if record is not None:
            kind, py, idx = record
            if kind == LINE and e.name in OUTCOMES:  # as the stages before this one left it
                assert idx is not None, "every line variable has an index variable (see Scope.bind)"
                return self.read(label, f"{'sden' if e.name == 'denied' else 'sal'}[{idx}]")
            fields = self.checked.fields[kind]
            f = fields[e.name]
            if kind == CLAIM and e.name == "lines":
                return "lines"
            if kind == CLAIM and e.name == "documentation":
                return "doc"
            if kind == LINE and e.name == "index":
                assert idx is not None, "every line variable has an index variable (see Scope.bind)"
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

    def rows(self, table: n.Expr, scope: Scope) -> str:
        """The rows of a table in force in the scope's period, by key (see `runtime.PeriodRows`)."""
        assert isinstance(table, n.Name) and table.name in self.tables, "the checker admits only a table here"
        rows = safe_ident("R_", table.name)
        return f"{rows}[{scope.period_var}]" if self.checked.tables[table.name].dated_by else rows

    def expr_index(self, e: n.Index, scope: Scope) -> str:
        # A missing row raises MissingRowError (PeriodRows.__missing__). The key is written once,
        # so a row whose key is another row's cell (`t[t[k].x]`) costs code linear in the nesting.
        return f"{self.rows(e.obj, scope)}[{self.expr(e.key, scope)}]"

    def expr_call(self, e: n.Call, scope: Scope) -> str:
        if self.fast and e.func == "missing":
            return f"({self.expr(e.args[0], scope)} is None)"
        if e.func == "at":
            # Another date than the scope's: memo slots are keyed by the scope's date or period, so
            # inside `at` everything is computed afresh on the given date, which is computed once
            # and handed, with its period, to a function of both.
            self.at_depth += 1
            date_var, period_var = f"AD{self.at_depth}", f"AP{self.at_depth}"
            inner = self.expr(e.args[1], Scope(scope.vars, date_var, period_var, memo=False, assign=scope.assign))
            self.at_depth -= 1
            date = self.expr(e.args[0], scope)
            if self.fast and scope.assign:
                # The date and its period set first (a tuple is true), then the value read on them: what
                # `_at` does, without a function built and called for each line a quantifier visits.
                return f"({inner} if (({date_var} := {date}), ({period_var} := _period({date_var}))) else None)"
            return f"_at(lambda {date_var}, {period_var}: {inner}, {date}, _period)"
        if e.func == "round" and isinstance(e.args[1], n.Literal) and type(e.args[1].value) is int \
                and 0 <= e.args[1].value <= 12:
            # The usual round(x, 2): its quantum built once, the Decimal case first (as round_half_up).
            quantum = self.const(Decimal(1).scaleb(-e.args[1].value))
            value = self.needed(e.args[0], self.expr(e.args[0], scope))
            if self.fast and scope.assign:  # a Decimal rounded in place; anything else by _round_to
                self.rounds += 1
                t = f"RT{self.rounds}"
                return f"({t}.quantize({quantum}, _HALF_UP) if ({t} := {value}).__class__ is Decimal else _round_to({t}, {quantum}))"
            return f"_round_to({value}, {quantum})"
        fn = FUNCTIONS[e.func]
        name = safe_ident("F_", fn.name)
        self.namespace[name] = fn.impl
        if e.func in _PASS_ABSENT or e.func in _TOTAL_FUNCTIONS:  # they take an absent value as it is
            return f"{name}({', '.join(self.expr(a, scope) for a in e.args)})"
        return f"{name}({', '.join(self.needed(a, self.expr(a, scope)) for a in e.args)})"

    def expr_unary(self, e: n.Unary, scope: Scope) -> str:
        if e.op == "not":
            return f"(not {self.expr(e.operand, scope)})"
        # nothing else reaches the code, whatever e.op holds
        return f"(-{self.needed(e.operand, self.expr(e.operand, scope))})"

    def expr_binary(self, e: n.Binary, scope: Scope) -> str:
        if e.op in ("in", "not in") and isinstance(e.right, n.Name) and e.right.name in self.tables:
            return f"({self.expr(e.left, scope)} {e.op} {self.rows(e.right, scope)})"
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        if e.op in _NEED_VALUES:  # arithmetic and order: an absent operand is an error, said as one
            left, right = self.needed(e.left, left), self.needed(e.right, right)
        elif e.op in ("in", "not in"):
            right = self.needed(e.right, right)
        if e.op == "/":
            return f"_div({left}, {right})"
        if e.op not in _BINARY_OPS:
            raise ValueError(f"unknown operator {e.op!r}")
        return f"({left} {e.op} {right})"

    def expr_conditional(self, e: n.Conditional, scope: Scope) -> str:
        return f"({self.expr(e.then, scope)} if {self.expr(e.test, scope)} else {self.expr(e.otherwise, scope)})"

    def expr_quantifier(self, e: n.Quantifier, scope: Scope) -> str:
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
        return _quantify(e.kind, loop, cond, lambda: self.expr(given(e.where), inner),
                         lambda: self.needed(given(e.value), self.expr(given(e.value), inner)))

    def indexed_quantifier(self, e: n.Quantifier, scope: Scope, inner: Scope) -> str | None:
        """`e` looking only at the lines its leading equalities select, from an index built once per claim.

        An equality `o.f == E` may serve as a key when nothing skipped by moving it
        first could have raised: it is the first test, or every test before it is a
        key or safe, and E itself is safe.
        """
        conjuncts = _conjuncts(given(e.where))
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
        body = _quantify(e.kind, loop, cond, lambda: self.expr(given(e.where), inner),
                         lambda: self.needed(given(e.value), self.expr(given(e.value), inner)))
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

    def template(self, t: n.Template | None, scope: Scope) -> str:
        if t is None:
            return "''"
        parts = [repr(p) if isinstance(p, str) else f"_s({self.expr(p, scope)})" for p in t.parts]
        return "''.join((" + ", ".join(parts) + ",))" if parts else "''"


def given(part: n.Expr | None) -> n.Expr:
    """A part the grammar makes compulsory where it is read: `all`'s where, `sum`'s value, `reduce`'s units."""
    assert part is not None, "the grammar requires this part"
    return part


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


def _sums_lines(e: n.Expr | None) -> bool:
    """Whether an expression (not the lets it names) has a quantifier over the claim's lines."""
    if e is None:
        return False
    if isinstance(e, n.Quantifier) and isinstance(e.collection, n.Attribute) and e.collection.name == "lines":
        return True
    return any(_sums_lines(child) for child in e.children())  # type: ignore[arg-type]


def _reads_outcome(e: n.Attribute) -> bool:
    """`line.denied`, `o.units_allowed`: what earlier stages decided for a line (the checker admits
    these names on lines only; a table column of the same name is read through an index, `t[k].denied`)."""
    return e.name in OUTCOMES and isinstance(e.obj, n.Name)


def _label(e: n.Expr) -> str:
    return format_expr(e)
