"""A checked expression as a sqlglot expression, with the condition under which the row engine would fail.

Each expression compiles to a `Compiled`: its value, its language type, and `err`, a boolean SQL
expression that is true wherever the row engine would raise on it (an absent value in
arithmetic or an ordering, a missing table row, a dated parameter without a value), or None where
it cannot raise. `err` follows the row engine's short circuits (`a and b` fails on `b` only where
`a` holds), and may be true where the row engine would not fail (inside `any`, which stops at the
first true item), never the other way round: a claim flagged so is decided by the row engine,
which either names the error exactly or decides it, so a flag costs time, not correctness.

Values are NULL exactly where the row engine's are None, so equality uses IS [NOT] DISTINCT FROM
(an absent value equals nothing but another absent value) and membership of NULL is false.

No policy text is pasted into SQL: names become prefixed identifiers, values literal nodes.
"""

from __future__ import annotations

from decimal import Decimal

from sqlglot import exp

from ...language import nodes as n
from ...language.checked import CheckedPolicy
from ...claims.fields import (BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, LIST, MONEY, NUMBER, OUTCOMES, SET, STRING,
                             kind_of)
from .calls import CallCompiler
from .errors import SqlUnsupportedError, unsupported
from .relations import SQL_TYPES
from .quantifiers import Quantifier, lift
from .values import (MAX_SCALE, NUMERIC, Compiled, Scope, both, col, either, is_null, is_true, lit, numeric_join,
                     present)


class ExprCompiler(CallCompiler):
    """Compiles the expressions of one checked policy (see the module docstring)."""

    def __init__(self, checked: CheckedPolicy, tables: dict[str, str]) -> None:
        self.checked = checked
        self.policy = checked.policy
        self.params = {p.name: p for p in self.policy.of_kind(n.Param)}
        self.lets = {l.name: l for l in self.policy.of_kind(n.Let)}
        self.tables = tables  # table name -> CTE name
        self.file = self.policy.source_name
        self.fresh = 0
        self.lines_relation = "lines"
        # The current line's outcome columns (denied, units allowed) as its stage began; None in
        # the first stage, which reads none. plan.py sets both as it writes each stage.
        self.line_outcomes: tuple[str, str] | None = None
        # Lets computed once per line as columns (plan.py): name -> (type, whether it can fail).
        # A let that reads outcomes is computed anew in each stage, in a column of its own.
        self.let_columns: dict[str, tuple[str, bool, str]] = {}  # name -> (type, can fail, column)
        self.let_alias = ""
        # Table rows looked up on the current line by a key of the line alone, each fetched once
        # per line as a struct column (plan.py puts them in a view before their first use).
        self.row_columns: dict[tuple[str, str], str] = {}
        self.new_rows: list[tuple[str, str, exp.Expression]] = []  # (column, table, key) to fetch
        # Table rows keyed by a line's own fields on its own date: columns of every line, joined
        # once a batch (see line_row); the key reads the lines relation as alias `l`.
        self.line_row_columns: dict[tuple[str, str], str] = {}
        self.line_rows: list[tuple[str, str, exp.Expression]] = []
        # Quantifiers over the lines waiting for their aggregate view (quantifiers.py), which
        # plan.py writes before the view that first reads them; `governs` picks the lines it groups.
        self.quants: list[Quantifier] = []
        self.governs: list[str] = []

    # ------------------------------------------------------------ errors

    def refuse(self, what: str, node: n.Node | None, hint: str = "") -> SqlUnsupportedError:
        file = self.file
        span = getattr(node, "span", None)
        return unsupported(what, file, span, hint, self.checked.texts.get(file))

    def name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}{self.fresh}"

    # ------------------------------------------------------------ dispatch

    def expr(self, e: n.Expr, s: Scope) -> Compiled:
        method = getattr(self, "expr_" + type(e).__name__.lower(), None)
        if method is None:
            raise self.refuse(f"the expression `{type(e).__name__}`", e)
        return method(e, s)

    def expr_literal(self, e: n.Literal, s: Scope) -> Compiled:
        typ = {"int": INT, "number": NUMBER, "money": MONEY, "string": STRING, "date": DATE, "bool": BOOL}.get(e.kind)
        if typ is None:
            raise self.refuse(f"a literal of kind {e.kind}", e)
        if isinstance(e.value, Decimal) and max(0, -int(e.value.as_tuple().exponent)) > MAX_SCALE:
            raise self.refuse(f"a number with more than {MAX_SCALE} decimals", e)
        return Compiled(lit(e.value), None, typ)

    def expr_setliteral(self, e: n.SetLiteral, s: Scope) -> Compiled:
        raise self.refuse("a set literal outside a membership test", e)

    def set_items(self, e: n.Expr) -> list[object] | None:
        """The items of a literal set or an undated set parameter, else None."""
        if isinstance(e, n.SetLiteral):
            return [i.value for i in e.items]
        if isinstance(e, n.Name) and e.name in self.params:
            p = self.params[e.name]
            if not p.dated and isinstance(p.value, n.SetLiteral):
                return [i.value for i in p.value.items]
        return None

    def expr_name(self, e: n.Name, s: Scope) -> Compiled:
        name = e.name
        if name in s.vars:
            kind, ref = s.vars[name]
            if kind == "value":
                return Compiled(exp.column(ref), None, STRING)
            raise self.refuse(f"the line variable `{name}` used as a value", e)
        if name == "units_allowed" and s.units_allowed is not None:
            return Compiled(s.units_allowed, None, INT)
        if name in self.params:
            return self.param(e, self.params[name], s)
        if name in self.lets:
            if name in self.let_columns and s.home and s.line == self.let_alias:
                typ, fallible, column = self.let_columns[name]
                return Compiled(col(s.line, column), col(s.line, "e" + column) if fallible else None, typ)
            let = self.lets[name]
            inner = Scope(s.claim, s.line, s.date, {}, s.units_allowed, s.in_lambda, s.home)
            return self.expr(let.expr, inner)
        raise self.refuse(f"the name `{name}` here", e)

    def param(self, e: n.Name, p: n.Param, s: Scope) -> Compiled:
        typ = self.checked.param_types.get(p.name, "")
        if kind_of(typ) == SET:
            raise self.refuse(f"the set parameter `{p.name}` outside a membership test, len() or a message", e)
        if not p.dated:
            value = p.value.value if isinstance(p.value, n.Literal) else None
            return Compiled(self.literal_of(value, e), None, typ)
        cases, covered = [], []
        for d in p.dated:
            value = d.value.value if isinstance(d.value, n.Literal) else None
            cond = self.in_period(s.date, d.start, d.end)
            cases.append(exp.If(this=cond, true=self.literal_of(value, e)))
            covered.append(cond)
        err = exp.Not(this=either(*covered))
        return Compiled(exp.Case(ifs=cases), err, typ)

    def literal_of(self, value: object, node: n.Node) -> exp.Expression:
        if isinstance(value, Decimal) and max(0, -int(value.as_tuple().exponent)) > MAX_SCALE:
            raise self.refuse(f"a number with more than {MAX_SCALE} decimals", node)
        return lit(value)

    @staticmethod
    def in_period(date: exp.Expression, start: str, end: str | None) -> exp.Expression:
        cond: exp.Expression = exp.GTE(this=date, expression=exp.Literal.string(start))
        if end is not None:
            cond = exp.And(this=cond, expression=exp.LTE(this=date, expression=exp.Literal.string(end)))
        return exp.Paren(this=cond)

    # ------------------------------------------------------------ fields and rows

    def expr_attribute(self, e: n.Attribute, s: Scope) -> Compiled:
        obj = e.obj
        fields = self.checked.fields  # the base catalogue with the policy's declared fields
        if isinstance(obj, n.Name) and obj.name in ("claim", "line") or isinstance(obj, n.Name) and obj.name in s.vars:
            assert isinstance(obj, n.Name)
            if obj.name == "claim":
                kind, alias, prefix = CLAIM, s.claim, "c_"
            elif obj.name == "line":
                if s.line is None:
                    raise self.refuse("`line` where there is no line", e)
                kind, alias, prefix = LINE, s.line, "l_"
            else:
                var_kind, alias = s.vars[obj.name]
                if var_kind != "line":
                    raise self.refuse(f"a field of `{obj.name}`", e)
                kind, prefix = LINE, "l_"
            if kind == LINE and e.name in OUTCOMES:
                return self.outcome(e, alias, obj.name == "line")
            f = fields[kind].get(e.name)
            if f is None or f.type not in SQL_TYPES:
                raise self.refuse(f"the claim field `{obj.name}.{e.name}`", e,
                                  "the SQL relations hold scalar fields and lists of strings only")
            return Compiled(present(col(alias, prefix + e.name), f), None, f.type)
        if isinstance(obj, n.Attribute) and obj.name == "documentation" and isinstance(obj.obj, n.Name) \
                and obj.obj.name == "claim":
            f = fields[DOCUMENTATION].get(e.name)
            if f is None or f.type not in SQL_TYPES:
                raise self.refuse(f"the documentation field `{e.name}`", e)
            return Compiled(present(col(s.claim, "d_" + e.name), f), None, f.type)
        if isinstance(obj, n.Index):
            return self.cell(obj, e.name, e, s)
        raise self.refuse("this field access", e)

    def outcome(self, e: n.Attribute, alias: str, current: bool) -> Compiled:
        """`line.denied`, `o.units_allowed`: what the stages before this one decided for a line.

        The current line carries them as columns of the stage's view (`self.line_outcomes`);
        a quantifier's line reads them from `self.lines_relation`, the lines as they stood when
        the stage began (`o_denied`, `o_allowed`)."""
        if self.line_outcomes is None:
            raise self.refuse(f"`{e.name}` in the first stage", e)  # the checker refuses it first
        den, al = self.line_outcomes if current else ("o_denied", "o_allowed")
        return Compiled(col(alias, den if e.name == "denied" else al), None, BOOL if e.name == "denied" else INT)

    def table_of(self, e: n.Expr) -> str:
        if not (isinstance(e, n.Name) and e.name in self.tables):
            raise self.refuse("an index into something other than a table", e)
        return e.name

    def row_filter(self, table: str, key: exp.Expression, alias: str, s: Scope) -> exp.Expression:
        cond: exp.Expression = exp.EQ(this=col(alias, "k"), expression=key)
        if self.checked.tables[table].dated_by:
            cond = exp.And(this=cond, expression=exp.And(this=exp.LTE(this=col(alias, "valid_from"), expression=s.date),
                            expression=exp.GT(this=col(alias, "valid_to"), expression=s.date)))
        return cond

    def row_exists(self, table: str, key: exp.Expression, s: Scope) -> exp.Expression:
        alias = self.name("t")
        query = exp.select("1").from_(exp.alias_(exp.to_table(self.tables[table]), alias, table=True)) \
            .where(self.row_filter(table, key, alias, s))
        return exp.Exists(this=query)

    def shared_row(self, table: str, key: exp.Expression, s: Scope) -> exp.Expression | None:
        """The struct column holding `table`'s row for `key` on the line's date, when the key reads
        nothing but the current line (else None: looked up where it is used)."""
        row = self.line_row(table, key, s)
        if row is not None:
            return row
        if not (s.home and s.line and s.line == self.let_alias and not s.in_lambda):
            return None
        if any(c.table != s.line for c in key.find_all(exp.Column)) or key.find(exp.Subquery, exp.Exists):
            return None
        ident = (table, key.sql("duckdb"))
        name = self.row_columns.get(ident)
        if name is None:
            name = self.row_columns[ident] = f"row{len(self.row_columns) + 1}"
            self.new_rows.append((name, table, key))
        return col(s.line, name)

    def line_row(self, table: str, key: exp.Expression, s: Scope) -> exp.Expression | None:
        """`table`'s row for a key that reads only one line's own fields, on that line's own date
        (`codes[line.code]` on the line's date; `rvu[o.code]` in `at(o.date_of_service, ...)`):
        a column of the lines relation itself, joined once a batch (plan.py's `ctsdsl_lines_rows`),
        for the current line and a quantifier's lines alike. Else None."""
        columns = list(key.find_all(exp.Column))
        if not columns or key.find(exp.Subquery, exp.Exists, exp.Dot):
            return None
        alias = columns[0].table
        lines = {ref for kind, ref in s.vars.values() if kind == "line"} | {s.line}
        if alias not in lines or any(c.table != alias or not c.name.startswith("l_") for c in columns):
            return None
        date = s.date
        if self.checked.tables[table].dated_by and not (
                isinstance(date, exp.Column) and date.name == "l_date_of_service" and date.table == alias):
            return None
        canonical = key.transform(lambda node: exp.column(node.name, table="l")
                                  if isinstance(node, exp.Column) else node)
        ident = (table, canonical.sql("duckdb"))
        name = self.line_row_columns.get(ident)
        if name is None:
            name = self.line_row_columns[ident] = f"lrow{len(self.line_row_columns) + 1}"
            self.line_rows.append((name, table, canonical))
        return col(alias, name)

    def cell(self, index: n.Index, column: str, node: n.Node, s: Scope) -> Compiled:
        table = self.table_of(index.obj)
        data = self.checked.tables[table]
        typ = data.columns.get(column)
        if typ is None and column == data.key:
            typ = STRING
        if typ is None:
            raise self.refuse(f"the column `{column}` of table `{table}`", node)
        key = self.expr(index.key, s)
        row = self.shared_row(table, key.value, s)
        if row is not None:
            return Compiled(exp.Dot(this=row, expression=exp.to_identifier("c_" + column)),
                            either(key.err, exp.Is(this=row, expression=exp.Null())), typ)
        alias = self.name("t")
        query = exp.select(col(alias, "c_" + column)).from_(
            exp.alias_(exp.to_table(self.tables[table]), alias, table=True)).where(
            self.row_filter(table, key.value, alias, s))
        missing = exp.Not(this=self.row_exists(table, key.value, s))
        return Compiled(exp.Subquery(this=query), either(key.err, missing), typ)

    def expr_index(self, e: n.Index, s: Scope) -> Compiled:
        raise self.refuse("a whole table row used as a value", e)

    # ------------------------------------------------------------ operators

    def expr_unary(self, e: n.Unary, s: Scope) -> Compiled:
        x = self.expr(e.operand, s)
        if e.op == "not":
            return Compiled(exp.Not(this=is_true(x.value)), x.err, BOOL)
        if e.op == "-":
            return Compiled(exp.Neg(this=exp.Paren(this=x.value)), either(x.err, is_null(x.value)), x.type)
        raise self.refuse(f"the operator `{e.op}`", e)

    def membership(self, e: n.Binary, s: Scope) -> Compiled:
        x = self.expr(e.left, s)
        right = e.right
        if isinstance(right, n.Name) and right.name in self.tables:
            row = self.shared_row(right.name, x.value, s)
            test: exp.Expression = exp.Not(this=exp.Is(this=row, expression=exp.Null())) if row is not None \
                else self.row_exists(right.name, x.value, s)
        else:
            items = self.set_items(right)
            if items is not None:
                test = is_true(exp.In(this=x.value, expressions=[lit(i) for i in items])) if items else exp.false()
            else:
                xs = self.expr(right, s)
                if kind_of(xs.type) != LIST:
                    raise self.refuse("membership in this collection", right)
                test = is_true(exp.ArrayContains(this=xs.value, expression=x.value))
                x = Compiled(x.value, either(x.err, xs.err), x.type)
        if e.op == "not in":
            test = exp.Not(this=test)
        return Compiled(exp.Paren(this=test), x.err, BOOL)

    def expr_binary(self, e: n.Binary, s: Scope) -> Compiled:
        op = e.op
        if op in ("in", "not in"):
            return self.membership(e, s)
        a = self.expr(e.left, s)
        b = self.expr(e.right, s)
        if op in ("and", "or"):
            cls = exp.And if op == "and" else exp.Or
            guard = a.value if op == "and" else exp.Not(this=a.value)
            return Compiled(exp.Paren(this=cls(this=is_true(a.value), expression=is_true(b.value))),
                            either(a.err, both(is_true(guard), b.err)), BOOL)
        if op in ("==", "!="):
            cls2 = exp.NullSafeEQ if op == "==" else exp.NullSafeNEQ
            return Compiled(exp.Paren(this=cls2(this=a.value, expression=b.value)), either(a.err, b.err), BOOL)
        fallible = either(a.err, b.err, is_null(a.value), is_null(b.value))
        if op in ("<", "<=", ">", ">="):
            cls3 = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[op]
            return Compiled(exp.Paren(this=cls3(this=a.value, expression=b.value)), fallible, BOOL)
        if op in ("+", "-", "*"):
            cls4 = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
            return Compiled(exp.Paren(this=cls4(this=a.value, expression=b.value)), fallible,
                            numeric_join([a.type, b.type]))
        # `/` computes to 28 significant digits in the row engine; SQL decimals divide to another scale.
        raise self.refuse(f"the operator `{op}`", e, "SQL decimal division rounds differently from the row "
                          "engine's 28 significant digits; decide this policy with the row engine")

    def expr_conditional(self, e: n.Conditional, s: Scope) -> Compiled:
        t, a, b = self.expr(e.test, s), self.expr(e.then, s), self.expr(e.otherwise, s)
        test = is_true(t.value)
        typ = a.type if a.type == b.type else numeric_join([a.type, b.type])
        if a.type != b.type and not {a.type, b.type} <= NUMERIC:
            raise self.refuse("a conditional whose branches have different types", e)
        return Compiled(exp.Case(ifs=[exp.If(this=test, true=a.value)], default=b.value),
                        either(t.err, both(test, a.err), both(exp.Not(this=test), b.err)), typ)

    # ------------------------------------------------------------ quantifiers

    def expr_quantifier(self, e: n.Quantifier, s: Scope) -> Compiled:
        c = e.collection
        if isinstance(c, n.Attribute) and c.name == "lines" and isinstance(c.obj, n.Name) and c.obj.name == "claim":
            return self.over_lines(e, s)
        return self.over_list(e, s)

    def over_lines(self, e: n.Quantifier, s: Scope) -> Compiled:
        if s.in_lambda:
            raise self.refuse("a quantifier over claim.lines inside a quantifier over a list", e)
        lifted = lift(self, e, s)
        if lifted is not None:
            return lifted
        alias = self.name("o")
        inner = Scope(s.claim, s.line, s.date, {**s.vars, e.var: ("line", alias)}, s.units_allowed, home=s.home)
        where = self.expr(e.where, inner) if e.where is not None else None
        value = self.expr(e.value, inner) if e.value is not None else None
        same_claim = exp.EQ(this=col(alias, "claim_ord"), expression=col(s.claim, "claim_ord"))
        source = exp.alias_(exp.to_table(self.lines_relation), alias, table=True)

        def select(what: exp.Expression | str, cond: exp.Expression | None) -> exp.Select:
            q = exp.select(what).from_(source).where(same_claim)
            return q.where(cond) if cond is not None else q

        wanted = is_true(where.value) if where is not None else None
        kind = e.kind
        if kind in ("any", "none"):
            test: exp.Expression = exp.Exists(this=select("1", wanted))
            out: exp.Expression = test if kind == "any" else exp.Not(this=test)
            typ = BOOL
        elif kind == "all":
            assert wanted is not None, "the grammar requires all's where"
            out, typ = exp.Not(this=exp.Exists(this=select("1", exp.Not(this=wanted)))), BOOL
        elif kind == "count":
            out, typ = exp.Subquery(this=select(exp.Count(this=exp.Star()), wanted)), INT
        elif kind == "sum":
            assert value is not None, "the grammar requires sum's value"
            total = exp.Coalesce(this=exp.Sum(this=value.value), expressions=[exp.Literal.number(0)])
            out, typ = exp.Subquery(this=select(total, wanted)), value.type
            if typ == INT:  # SUM of BIGINT is a HUGEINT in DuckDB; the units of one claim fit in 64 bits
                out = exp.Cast(this=out, to=exp.DataType.build("BIGINT"))
        else:
            raise self.refuse(f"the quantifier `{kind}`", e)
        inner_err = either(where.err if where is not None else None,
                           both(wanted, value.err) if value is not None and wanted is not None
                           else value.err if value is not None else None)
        err = None
        if inner_err is not None:
            # Not reading the quantified line, it fails or not on every line alike: the claim has
            # lines (the schema requires one), so no subquery is needed to ask whether one exists.
            reads_line = any(c.table == alias for c in inner_err.find_all(exp.Column))
            err = exp.Exists(this=select("1", inner_err)) if reads_line else inner_err
        return Compiled(exp.Paren(this=out), err, typ)

    def over_list(self, e: n.Quantifier, s: Scope) -> Compiled:
        items = self.set_items(e.collection)
        if items is not None:
            raise self.refuse("a quantifier over a set", e)
        xs = self.expr(e.collection, s)
        if kind_of(xs.type) != LIST:
            raise self.refuse("a quantifier over this collection", e)
        var = "q_" + e.var
        elem = xs.type.split(":", 1)[1]
        inner = Scope(s.claim, s.line, s.date, {**s.vars, e.var: ("value", var)}, s.units_allowed, True, s.home)
        where = self.expr(e.where, inner) if e.where is not None else None
        value = self.expr(e.value, inner) if e.value is not None else None
        if (where is not None and where.err is not None) or (value is not None and value.err is not None) \
                or elem != STRING:
            raise self.refuse("a quantifier over a list whose condition or value may fail", e)

        def keep(cond: exp.Expression) -> exp.Expression:
            return exp.ArrayFilter(this=xs.value, expression=exp.Lambda(this=cond,
                                                                        expressions=[exp.to_identifier(var)]))
        kind = e.kind
        if kind in ("any", "none", "count"):
            chosen = keep(is_true(where.value)) if where is not None else xs.value
            size = exp.ArraySize(this=chosen)
            out: exp.Expression = size
            if kind != "count":
                out = (exp.GT if kind == "any" else exp.EQ)(this=size, expression=exp.Literal.number(0))
            typ = BOOL if kind != "count" else INT
        elif kind == "all":
            assert where is not None, "the grammar requires all's where"
            out, typ = exp.EQ(this=exp.ArraySize(this=keep(exp.Not(this=is_true(where.value)))),
                              expression=exp.Literal.number(0)), BOOL
        else:
            raise self.refuse(f"`{kind}` over a list", e)
        return Compiled(exp.Paren(this=out), xs.err, typ)


__all__ = ["MAX_SCALE", "Compiled", "ExprCompiler", "Scope", "both", "col", "either", "is_true", "lit"]
