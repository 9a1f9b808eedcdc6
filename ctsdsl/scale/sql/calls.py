"""The SQL of built-in function calls and message templates: the part of ExprCompiler (compile.py)
that writes `midpoint_units(...)`, `dollars(...)`, `round(...)` and each message hole as the row
engine computes and shows it (ctsdsl/language/functions.py, `runtime.shown`).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ...language import nodes as n
from ...claims.fields import BOOL, DATE, INT, LIST_OF_STRING, STRING
from ...language.functions import FUNCTIONS
from .errors import SqlUnsupportedError
from .values import MAX_SCALE, Compiled, Scope, either, greatest, is_null, least, numeric_join


class CallCompiler:
    """Function calls and messages; ExprCompiler supplies `expr`, `refuse`, `set_items` and `params`."""

    params: dict[str, Any]

    def expr(self, e: n.Expr, s: Scope) -> Compiled:
        raise NotImplementedError  # ExprCompiler's

    def refuse(self, what: str, node: n.Node | None, hint: str = "") -> SqlUnsupportedError:
        raise NotImplementedError  # ExprCompiler's

    def set_items(self, e: n.Expr) -> list[object] | None:
        raise NotImplementedError  # ExprCompiler's

    # ------------------------------------------------------------ functions

    def expr_call(self, e: n.Call, s: Scope) -> Compiled:
        f = e.func
        if f == "at":
            date = self.expr(e.args[0], s)
            inner = Scope(s.claim, s.line, date.value, s.vars, s.units_allowed, s.in_lambda, home=False)
            x = self.expr(e.args[1], inner)
            return Compiled(x.value, either(date.err, x.err), x.type)
        if f == "len":
            items = self.set_items(e.args[0])
            if items is not None:
                return Compiled(exp.Literal.number(len(set(items))), None, INT)
            xs = self.expr(e.args[0], s)
            return Compiled(exp.ArraySize(this=xs.value), either(xs.err, is_null(xs.value)), INT)
        args = [self.expr(a, s) for a in e.args]
        errs = [a.err for a in args]
        if f == "missing":
            return Compiled(exp.Paren(this=is_null(args[0].value)), args[0].err, BOOL)
        if f == "coalesce":
            typ = args[0].type if args[0].type == args[1].type else numeric_join([a.type for a in args])
            return Compiled(exp.Coalesce(this=args[0].value, expressions=[args[1].value]), either(*errs), typ)
        nulls = [is_null(a.value) for a in args]
        if f == "round":
            places = e.args[1]
            if not (isinstance(places, n.Literal) and type(places.value) is int and 0 <= places.value <= MAX_SCALE):
                raise self.refuse("round() with places that are not a whole-number literal", e)
            x = args[0]
            if x.type == INT:
                return Compiled(x.value, either(x.err, nulls[0]), INT)
            # DuckDB rounds a DECIMAL half away from zero, as ROUND_HALF_UP does.
            return Compiled(exp.Round(this=x.value, decimals=exp.Literal.number(places.value)),
                            either(x.err, nulls[0]), x.type)
        if f in ("min", "max"):
            return Compiled((least if f == "min" else greatest)(*[a.value for a in args]),
                            either(*errs, *nulls), numeric_join([a.type for a in args]))
        if f == "midpoint_units":
            return Compiled(self.midpoint(args[0].value, args[1].value), either(
                *errs, *nulls, exp.LTE(this=args[1].value, expression=exp.Literal.number(0))), INT)
        if f == "midpoint_addon_units":
            past = greatest(exp.Literal.number(0), exp.Sub(this=exp.Paren(this=args[0].value),
                                                           expression=exp.Paren(this=args[1].value)))
            return Compiled(self.midpoint(past, args[2].value), either(
                *errs, *nulls, exp.LTE(this=args[2].value, expression=exp.Literal.number(0))), INT)
        if f == "eight_minute_units":
            m = exp.Paren(this=args[0].value)
            value = exp.Case(ifs=[exp.If(this=exp.LT(this=m, expression=exp.Literal.number(8)),
                                         true=exp.Literal.number(0))],
                             default=exp.IntDiv(this=exp.Paren(this=exp.Add(this=m, expression=exp.Literal.number(7))),
                                                expression=exp.Literal.number(15)))
            return Compiled(value, either(*errs, *nulls), INT)
        if f == "year":
            year = exp.Cast(this=exp.Substring(this=args[0].value, start=exp.Literal.number(1),
                                               length=exp.Literal.number(4)), to=exp.DataType.build("BIGINT"))
            return Compiled(year, either(*errs, *nulls), INT)
        if f == "dollars":
            return Compiled(self.dollars(args[0]), args[0].err, STRING)
        if f == "as_text":
            x = args[0]
            if x.type in (STRING, DATE):
                return Compiled(x.value, x.err, STRING)
            if x.type == INT:
                return Compiled(exp.Cast(this=x.value, to=exp.DataType.build("VARCHAR")), x.err, STRING)
            raise self.refuse(f"as_text() of a {x.type}: its digits depend on each value's exponent", e)
        if f not in FUNCTIONS:
            raise self.refuse(f"the function `{f}`", e)
        raise self.refuse(f"the function `{f}`", e)

    @staticmethod
    def midpoint(minutes: exp.Expression, unit: exp.Expression) -> exp.Expression:
        """midpoint_units: 0 below u // 2 + 1, else (m - t) // u + 1 (m - t >= 0, so // floors as Python's).

        The unit is NULLIF'd so a unit of 0 (an error the row engine raises, flagged in `err`)
        does not stop the query with a division by zero. Every operand is parenthesised: sqlglot
        writes a tree as built, and `m - u // 2 + 1` is not `m - (u // 2 + 1)`.
        """
        m, u = exp.Paren(this=minutes), exp.Paren(this=unit)
        safe_unit = exp.Nullif(this=u, expression=exp.Literal.number(0))
        threshold = exp.Paren(this=exp.Add(this=exp.IntDiv(this=u, expression=exp.Literal.number(2)),
                                           expression=exp.Literal.number(1)))
        units = exp.Add(this=exp.IntDiv(this=exp.Paren(this=exp.Sub(this=m, expression=threshold)),
                                        expression=safe_unit), expression=exp.Literal.number(1))
        return exp.Paren(this=exp.Case(ifs=[exp.If(this=exp.LT(this=m, expression=threshold),
                                                   true=exp.Literal.number(0))], default=units))

    @staticmethod
    def dollars(x: Compiled) -> exp.Expression:
        """`$2,330.00`: cents rounded half up (away from zero), thousands separated, sign in front."""
        cents = exp.Round(this=exp.Cast(this=x.value, to=exp.DataType.build("DECIMAL(38,12)")),
                          decimals=exp.Literal.number(2)) if x.type != INT else \
            exp.Cast(this=x.value, to=exp.DataType.build("DECIMAL(38,2)"))
        magnitude = exp.Abs(this=cents)
        whole = exp.Cast(this=exp.Floor(this=magnitude), to=exp.DataType.build("HUGEINT"))
        frac = exp.Cast(this=exp.Cast(this=exp.Mul(this=exp.Paren(this=exp.Sub(this=magnitude, expression=whole)),
                                                   expression=exp.Literal.number(100)),
                                      to=exp.DataType.build("BIGINT")), to=exp.DataType.build("VARCHAR"))
        text = exp.DPipe(this=exp.DPipe(this=exp.DPipe(this=exp.DPipe(
            this=exp.Case(ifs=[exp.If(this=exp.LT(this=cents, expression=exp.Literal.number(0)),
                                      true=exp.Literal.string("-"))], default=exp.Literal.string("")),
            expression=exp.Literal.string("$")),
            expression=exp.Anonymous(this="format", expressions=[exp.Literal.string("{:,}"), whole])),
            expression=exp.Literal.string(".")),
            expression=exp.Pad(this=frac, expression=exp.Literal.number(2), fill_pattern=exp.Literal.string("0"),
                               is_left=True))
        return exp.Case(ifs=[exp.If(this=is_null(x.value), true=exp.Null())], default=text)

    # ------------------------------------------------------------ messages

    def hole(self, e: n.Expr, s: Scope) -> Compiled:
        """A message hole as text, written as `runtime.shown` writes it."""
        none = exp.Literal.string("(none)")
        if isinstance(e, n.Name) and e.name in self.params and self.set_items(e) is not None:
            items = sorted(set(self.set_items(e) or ()))  # type: ignore[type-var]
            return Compiled(exp.Literal.string(", ".join(str(i) for i in items) or "none"), None, STRING)
        x = self.expr(e, s)
        v = x.value
        if x.type in (STRING, DATE):
            text: exp.Expression = exp.Coalesce(this=v, expressions=[none])
        elif x.type == INT:
            text = exp.Coalesce(this=exp.Cast(this=v, to=exp.DataType.build("VARCHAR")), expressions=[none])
        elif x.type == BOOL:
            text = exp.Case(ifs=[exp.If(this=is_null(v), true=none), exp.If(this=v, true=exp.Literal.string("yes"))],
                            default=exp.Literal.string("no"))
        elif x.type == LIST_OF_STRING:
            joined = exp.ArrayToString(this=v, expression=exp.Literal.string(", "))
            text = exp.Case(ifs=[exp.If(this=is_null(v), true=none),
                                 exp.If(this=exp.EQ(this=exp.ArraySize(this=v), expression=exp.Literal.number(0)),
                                        true=exp.Literal.string("none"))], default=joined)
        else:
            raise self.refuse(f"a message hole of type {x.type}", e,
                              "the row engine writes a number's own digits (24.225, 2330.0); SQL "
                              "decimals have one scale per column. Write {dollars(x)} for an amount")
        return Compiled(text, x.err, STRING)

    def template(self, t: n.Template | None, s: Scope) -> Compiled:
        if t is None:
            return Compiled(exp.Literal.string(""), None, STRING)
        parts: list[exp.Expression] = []
        errs = []
        for p in t.parts:
            if isinstance(p, str):
                parts.append(exp.Literal.string(p))
            else:
                h = self.hole(p, s)
                parts.append(h.value)
                errs.append(h.err)
        if not parts:
            return Compiled(exp.Literal.string(""), None, STRING)
        out = parts[0]
        for p2 in parts[1:]:
            out = exp.DPipe(this=out, expression=p2)
        return Compiled(out, either(*errs), STRING)
