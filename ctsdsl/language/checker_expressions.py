"""The checker's expression half: the type of every expression, and the state and reporting all checks share.

`ExpressionChecker` infers each expression's type (names, fields, table rows, calls, operators,
quantifiers), reporting what does not fit with a hint; the compiler relies on these types, since a
checked policy never meets a type error at run time. `checker.Checker` builds on it with the checks
of each item (header, names, stages, declared fields, facts, parameters, rules, fees). `CheckedPolicy`,
what both learn, is `checked.CheckedPolicy`, below them both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ..claims.fields import (ANY, BOOL, CLAIM, DATE, INT, LINE, MONEY, NUMBER, NUMERIC, OUTCOMES, ROW, STRING, TABLE,
                             compatible, element_type, inner_type, kind_of, row_of, set_of, table_of)
from ..errors import Diagnostic, Severity, did_you_mean
from . import nodes as n
from .checked import CheckedPolicy
from .checker_hints import a_type, comparison_hint
from .functions import FUNCTIONS
from .overlay import INHERITED
from .tables import TableData, valid_date

RESERVED = frozenset({"claim", "line", "units_allowed"}) | frozenset(FUNCTIONS)
LITERAL_TYPES = {"int": INT, "number": NUMBER, "money": MONEY, "string": STRING, "date": DATE, "bool": BOOL}
MAX_DEPTH = 64
_INHERITABLE = frozenset({"unknown-name", "unknown-source"})  # what an overlay may take from its parent
_NUMBER_TEXT = re.compile(r"-?\d+(\.\d+)?")


def literal_type(value: n.Literal | n.SetLiteral) -> str:
    if isinstance(value, n.SetLiteral):
        kinds = {LITERAL_TYPES[i.kind] for i in value.items}
        return set_of(kinds.pop() if len(kinds) == 1 else ANY)
    return LITERAL_TYPES[value.kind]


def _family(lit: n.Literal) -> str:
    """A literal's type, with whole and decimal numbers as one (a set may hold 1 and 2.5)."""
    kind = LITERAL_TYPES[lit.kind]
    return NUMBER if kind == INT else kind


class ExpressionChecker:
    """The state of one walk over a policy, its reporting, and the typing of expressions."""

    def __init__(self, policy: n.Policy, tables: dict[str, TableData],
                 source_text: str | dict[str, str] | None = None,
                 replaced: Mapping[str, n.Param] | None = None) -> None:
        self.result = CheckedPolicy(policy, tables)
        self.policy = policy
        # An overlay's merged tree mixes items from several files: report each in its own.
        self.texts: dict[str, str | None] = {**source_text} if isinstance(source_text, dict) else \
            {policy.source_name: source_text}
        self.result.texts = self.texts
        self.current = policy.source_name
        self.params = {p.name: p for p in policy.of_kind(n.Param)}
        self.lets = {l.name: l for l in policy.of_kind(n.Let)}
        self.sources = {s.id: s for s in policy.of_kind(n.Source)}
        self._let_stack: list[str] = []
        self.replaced = replaced or {}
        self._in_override = False
        self.orphan = False
        # Table columns as the checker meets them, so a type error can say why a column is text.
        self._columns: dict[int, tuple[TableData, str]] = {}
        # Where the expression being checked reads what earlier stages decided (`line.denied`), and
        # for each let the first place its expression does, directly or through other lets.
        self._outcome_reads: list[n.Span] = []
        self._let_outcome: dict[str, n.Span | None] = {}

    # ------------------------------------------------------------ reporting

    def report(self, code: str, message: str, span: n.Span, hint: str = "", severity: Severity = "error") -> None:
        if self.orphan and code in _INHERITABLE:
            return  # the name may well be the missing parent's: its absence is already reported
        self.result.diagnostics.append(Diagnostic(code, message, self.current, span, hint, severity,
                                                  source_text=self.texts.get(self.current)))

    def at(self, item: n.Node) -> None:
        """Report what follows in the file `item` came from."""
        self.current = getattr(item, "origin", "") or self.policy.source_name

    # ------------------------------------------------------------ expressions

    def check_literal(self, value: n.Literal | n.SetLiteral) -> None:
        """A date literal must be a calendar date: the grammar accepts any digits, 2024-13-45 included.
        A set holds one type: in {"97550", 97551} the unquoted code is a number, which no code ever
        equals, so `line.code in` the set would silently never match it."""
        for lit in value.items if isinstance(value, n.SetLiteral) else (value,):
            if lit.kind == "date" and not valid_date(str(lit.value)):
                self.report("bad-date", f"{lit.value} is not a calendar date", lit.span,
                            "write a real date as YYYY-MM-DD: months 01-12, days that exist in the month")
        if isinstance(value, n.SetLiteral) and value.items:
            first = value.items[0]
            odd = next((i for i in value.items if _family(i) != _family(first)), None)
            if odd is not None:
                self.report("type", f"the set mixes {a_type(literal_type(first))} and {a_type(literal_type(odd))} "
                            f"(`{odd.value}`)", odd.span,
                            'a set holds one type: quote codes as strings ("97551")')

    def expect(self, expr: n.Expr, env: dict[str, str], want: str, what: str) -> None:
        got = self.infer(expr, env)
        if got == ANY or got == want or (want == MONEY and got in NUMERIC) or (want == NUMBER and got == INT):
            return
        self.report("type", f"{what} must be {a_type(want)}, but this is {a_type(got)}", expr.span)

    def let_type(self, name: str, span: n.Span) -> str:
        if name in self.result.let_types:
            return self.result.let_types[name]
        if name in self._let_stack:
            cycle = " -> ".join(self._let_stack[self._let_stack.index(name):] + [name])
            self.report("let-cycle", f"`let {name}` refers to itself: {cycle}", span)
            return ANY
        let = self.lets[name]
        self._let_stack.append(name)
        uses_line = [False]
        reporting_in = self.current
        self.at(let)
        reads, self._outcome_reads = self._outcome_reads, []
        typ = self.infer(let.expr, {"claim": CLAIM, "line": LINE}, uses_line)
        self._let_outcome[name] = self._outcome_reads[0] if self._outcome_reads else None
        self._outcome_reads = reads
        self.current = reporting_in
        self._let_stack.pop()
        self.result.let_types[name] = typ
        self.result.let_uses_line[name] = uses_line[0]
        return typ

    def infer(self, expr: n.Expr, env: dict[str, str], uses_line: list[bool] | None = None, depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            self.report("too-deep", f"expression nested more than {MAX_DEPTH} levels", expr.span,
                        "split it with `let`")
            return ANY
        rec = lambda e, en=env: self.infer(e, en, uses_line, depth + 1)  # noqa: E731
        if isinstance(expr, (n.Literal, n.SetLiteral)):
            self.check_literal(expr)
            return literal_type(expr)
        if isinstance(expr, n.Name):
            return self.infer_name(expr, env, uses_line)
        if isinstance(expr, n.Attribute):
            return self.infer_attribute(expr, rec(expr.obj))
        if isinstance(expr, n.Index):
            if isinstance(expr.obj, n.Name) and not self.known(expr.obj.name, env):
                # `rvu[line.code]` with no `table rvu`: say how to declare the table, not a parameter.
                tables = [t.name for t in self.policy.of_kind(n.Table)]
                self.report("unknown-name", f"unknown table `{expr.obj.name}`", expr.obj.span,
                            did_you_mean(expr.obj.name, tables)
                            or f'declare it with `table {expr.obj.name} from "data/{expr.obj.name}.csv" key code '
                            'cites <source>`')
                rec(expr.key)
                return ANY
            obj, key = rec(expr.obj), rec(expr.key)
            if kind_of(obj) != TABLE:
                if obj != ANY:
                    self.report("type", f"only a table can be indexed with [...]; this is {a_type(obj)}", expr.span)
                return ANY
            if key not in (STRING, ANY):
                self.report("type", f"a table key is a string, not {a_type(key)}", expr.key.span)
            return row_of(inner_type(obj))
        if isinstance(expr, n.Call):
            return self.infer_call(expr, [rec(a) for a in expr.args])
        if isinstance(expr, n.Unary):
            operand = rec(expr.operand)
            if expr.op == "not":
                self._want(operand, BOOL, expr.operand, "`not`")
                return BOOL
            if operand not in NUMERIC and operand != ANY:
                self.report("type", f"`-` needs a number, not {a_type(operand)}", expr.span)
            return operand
        if isinstance(expr, n.Binary):
            return self.infer_binary(expr, rec(expr.left), rec(expr.right))
        if isinstance(expr, n.Conditional):
            self._want(rec(expr.test), BOOL, expr.test, "`if`")
            a, b = rec(expr.then), rec(expr.otherwise)
            if not compatible(a, b):
                self.report("type", f"the branches of `if` differ: {a_type(a)} and {a_type(b)}", expr.span)
            return a if a != ANY else b
        if isinstance(expr, n.Quantifier):
            coll = rec(expr.collection)
            elem = element_type(coll)
            if elem is None and coll != ANY:
                self.report("type", f"`{expr.kind}` goes over a list or set, not {a_type(coll)}", expr.collection.span)
            table_names = {t.name for t in self.policy.of_kind(n.Table)}
            if (expr.var in env or expr.var in self.params or expr.var in self.lets or expr.var in table_names
                    or expr.var in RESERVED):
                self.report("shadow", f"`{expr.var}` already names something; choose another variable name",
                            expr.span)
            inner = {**env, expr.var: elem or ANY}
            if expr.where is not None:
                self._want(rec(expr.where, inner), BOOL, expr.where, "`where`")
            if expr.kind == "count":
                return INT
            if expr.kind == "sum":
                assert expr.value is not None, "the grammar gives every sum a value"
                value = rec(expr.value, inner)
                if value not in NUMERIC and value != ANY:
                    self.report("type", f"`sum` adds numbers, not {a_type(value)}", expr.value.span)
                return value
            return BOOL
        raise TypeError(f"unknown node {expr!r}")  # pragma: no cover - the grammar has no other

    def _want(self, got: str, want: str, expr: n.Expr, what: str) -> None:
        if got not in (want, ANY):
            self.report("type", f"{what} needs {a_type(want)}, but this is {a_type(got)}", expr.span)

    def known(self, name: str, env: dict[str, str]) -> bool:
        return (name in env or name in RESERVED or name in self.params or name in self.lets or name in self.result.tables
                or any(t.name == name for t in self.policy.of_kind(n.Table)))

    def infer_name(self, expr: n.Name, env: dict[str, str], uses_line: list[bool] | None) -> str:
        name = expr.name
        if name in env:
            if name == "line" and uses_line is not None:
                uses_line[0] = True
            return env[name]
        if name == "line":
            self.report("scope", "`line` is only available in a rule that `applies to line`", expr.span,
                        "use `applies to line where ...`, or a quantifier over claim.lines")
            return ANY
        if name in self.params:
            return self.result.param_types.get(name) or ANY
        if name in self.lets:
            typ = self.let_type(name, expr.span)
            if self._let_outcome.get(name) is not None:
                self._outcome_reads.append(expr.span)
            if self.result.let_uses_line.get(name):
                if "line" not in env:
                    self.report("scope", f"`{name}` reads the current line, and this rule applies to the claim",
                                expr.span)
                elif uses_line is not None:
                    uses_line[0] = True
            return typ
        if name in self.result.tables or name in {t.name for t in self.policy.of_kind(n.Table)}:
            return table_of(name)
        if name == "units_allowed":  # in env only inside a fee
            self.report("scope", "`units_allowed` is only available in a fee's amount", expr.span,
                        "a rule reads the units billed, `line.units`; the units it allows are what it decides")
            return ANY
        if name == INHERITED:
            self.report("unknown-name", "`inherited` has nothing to stand for here", expr.span,
                        "the parent's rule, fee or let has no such entry to inherit: write the whole expression"
                        if self._in_override else
                        "`inherited` stands for the parent's expression, so it is only available inside an "
                        "`override` of a rule, fee or let in a policy that `extends` another")
            return ANY
        choices = list(env) + list(self.params) + list(self.lets) + [t.name for t in self.policy.of_kind(n.Table)]
        self.report("unknown-name", f"unknown name `{name}`", expr.span,
                    did_you_mean(name, choices) or "define it with `param`, `let` or `table`")
        return ANY

    def infer_attribute(self, expr: n.Attribute, obj: str) -> str:
        if obj == ANY:
            return ANY
        if kind_of(obj) == ROW:
            table = self.result.tables.get(inner_type(obj))
            if table is None:
                return ANY
            if expr.name not in table.columns:
                self.report("unknown-column", f"table `{table.name}` has no column `{expr.name}`", expr.span,
                            did_you_mean(expr.name, table.columns) or f"columns: {', '.join(table.columns)}")
                return ANY
            self._columns[id(expr)] = (table, expr.name)
            return table.columns[expr.name]
        fields = self.result.fields.get(obj)
        if fields is None:
            self.report("type", f"{a_type(obj)} has no fields (`.{expr.name}`)", expr.span)
            return ANY
        if obj == LINE and expr.name in OUTCOMES:
            self._outcome_reads.append(expr.span)
            return OUTCOMES[expr.name].type
        if expr.name not in fields:
            self.report("unknown-field", f"{obj} has no field `{expr.name}` in the claim schema", expr.span,
                        did_you_mean(expr.name, fields) or f"{obj} fields: {', '.join(sorted(fields))}")
            return ANY
        return fields[expr.name].type

    def infer_call(self, expr: n.Call, args: list[str]) -> str:
        fn = FUNCTIONS.get(expr.func)
        if fn is None:
            self.report("unknown-function", f"unknown function `{expr.func}`", expr.span,
                        did_you_mean(expr.func, FUNCTIONS) or f"functions: {', '.join(sorted(FUNCTIONS))}")
            return ANY
        params = list(fn.params)
        variadic = params[-1] == "..."
        if variadic:
            params.pop()
        if len(args) < len(params) or (len(args) > len(params) and not variadic):
            self.report("arity", f"{expr.func}() takes {len(params)}{' or more' if variadic else ''} "
                        f"argument{'' if len(params) == 1 and not variadic else 's'}, not {len(args)}",
                        expr.span, fn.doc)
            return ANY
        for i, (arg, node) in enumerate(zip(args, expr.args)):
            want = params[min(i, len(params) - 1)]
            ok = (arg == ANY or want == ANY or arg == want
                  or (want == "numeric" and arg in NUMERIC)
                  or (want == "collection" and element_type(arg) is not None)
                  or (want == NUMBER and arg == INT))
            if not ok:
                self.report("type", f"argument {i + 1} of {expr.func}() must be {a_type(want)}, not {a_type(arg)}",
                            node.span, fn.doc)
        return fn.result(args)

    def _text_column_hint(self, expr: n.Binary, left: str, right: str) -> str:
        """Why a table column compared with a number is text, if one side is such a column."""
        for node, typ, other in ((expr.left, left, right), (expr.right, right, left)):
            if typ == STRING and other in NUMERIC and (hint := self._why_text(node)):
                return hint
            if typ in NUMERIC and other == STRING and (column := self._columns.get(id(node))):
                # A code column whose codes are all digits (97550) is read as numbers.
                return (f"column `{column[1]}` of table `{column[0].name}` was read as numbers, since every cell "
                        "is one; to compare it with text such as a code, write as_text(...) around it")
        return ""

    def _why_text(self, node: n.Expr) -> str:
        """Why a table column is text: a column is numbers only if every cell is one."""
        column = self._columns.get(id(node))
        if column is None:
            return ""
        table, name = column
        cells = [(key, start, str(row[name])) for key, versions in table.rows.items()
                 for start, row in versions if row.get(name) is not None]
        odd = [cell for cell in cells if not _NUMBER_TEXT.fullmatch(cell[2])]
        if not odd or len(odd) == len(cells):
            return f"column `{name}` of table `{table.name}` holds text, not numbers ({Path(table.path).name})"
        key, start, value = min(odd, key=lambda c: table.row_lines.get(c[:2], 0))
        line = table.row_lines.get((key, start))
        return (f"column `{name}` of table `{table.name}` was read as text, because one of its cells is not a "
                f"number: {value!r} in row {key!r} ({Path(table.path).name}" + (f" line {line}" if line else "")
                + "); a column is numbers only if every cell is one")

    def infer_binary(self, expr: n.Binary, left: str, right: str) -> str:
        op = expr.op
        if op in ("and", "or"):
            self._want(left, BOOL, expr.left, f"`{op}`")
            self._want(right, BOOL, expr.right, f"`{op}`")
            return BOOL
        if op in ("in", "not in"):
            elem = element_type(right)
            if kind_of(right) == TABLE:
                elem = STRING
            if elem is None and right != ANY:
                self.report("type", f"`{op}` needs a set, list or table on the right, not {a_type(right)}", expr.span)
            elif elem and not compatible(left, elem):
                self.report("type", f"{a_type(left)} is never in a collection of {elem}", expr.span)
            return BOOL
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if not compatible(left, right):
                self.report("type", f"cannot compare {a_type(left)} with {a_type(right)}", expr.span,
                            self._text_column_hint(expr, left, right) or comparison_hint(left, right))
            elif op not in ("==", "!=") and left not in NUMERIC | {DATE, ANY}:
                self.report("type", f"`{op}` orders numbers and dates, not {a_type(left)}", expr.span)
            return BOOL
        # arithmetic
        for side, node in ((left, expr.left), (right, expr.right)):
            if side not in NUMERIC and side != ANY:
                self.report("type", f"`{op}` needs numbers, not {a_type(side)}", node.span,
                            self._why_text(node) if side == STRING else "")
                return ANY
        if ANY in (left, right):
            return ANY
        if op in ("+", "-"):
            return MONEY if MONEY in (left, right) else (INT if left == right == INT else NUMBER)
        if op == "*":
            if left == right == MONEY:
                self.report("type", "money times money has no meaning", expr.span,
                            "multiply money by a number (RVUs, a factor, units)")
                return ANY
            return MONEY if MONEY in (left, right) else (INT if left == right == INT else NUMBER)
        # division
        if left == MONEY:
            return NUMBER if right == MONEY else MONEY
        if right == MONEY:
            self.report("type", "a number divided by money has no meaning", expr.span)
            return ANY
        return NUMBER
