"""Print syntax back as policy text.

`format_expr` writes an expression with the fewest parentheses that parse back
to the same tree; it labels values in `explain` and expressions in diffs.
"""

from __future__ import annotations

from . import nodes as n

# Binding strength of each construct: a child weaker than its slot needs brackets.
_PREC = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4,
         "not in": 4, "+": 5, "-": 5, "*": 6, "/": 6}
_UNARY_MINUS, _POSTFIX, _ATOM = 7, 8, 9


def format_string(text: str) -> str:
    """A string literal, with `"` and `\\` escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def format_literal(lit: n.Literal) -> str:
    if lit.kind == "string":
        return format_string(lit.value)
    if lit.kind == "bool":
        return "true" if lit.value else "false"
    if lit.kind == "money":
        return f"${lit.value}"
    return str(lit.value)


def _prec(e: n.Expr) -> int:
    if isinstance(e, n.Conditional):
        return 0
    if isinstance(e, n.Binary):
        return _PREC[e.op]
    if isinstance(e, n.Unary):
        return _PREC["not"] if e.op == "not" else _UNARY_MINUS
    if isinstance(e, (n.Attribute, n.Index, n.Call)):
        return _POSTFIX
    return _ATOM


def format_expr(e: n.Expr, min_prec: int = 0) -> str:
    """Policy text for an expression, bracketed if it binds weaker than `min_prec`.

    >>> from ctsdsl.parser import parse_expr
    >>> format_expr(parse_expr("(a + b) * c  and  not (x or y)"))
    '(a + b) * c and not (x or y)'
    """
    text = _format(e)
    return f"({text})" if _prec(e) < min_prec else text


def _format(e: n.Expr) -> str:
    if isinstance(e, n.Literal):
        return format_literal(e)
    if isinstance(e, n.SetLiteral):
        return "{" + ", ".join(format_literal(i) for i in e.items) + "}"
    if isinstance(e, n.Name):
        return e.name
    if isinstance(e, n.Attribute):
        return f"{format_expr(e.obj, _POSTFIX)}.{e.name}"
    if isinstance(e, n.Index):
        return f"{format_expr(e.obj, _POSTFIX)}[{format_expr(e.key)}]"
    if isinstance(e, n.Call):
        return f"{e.func}({', '.join(format_expr(a) for a in e.args)})"
    if isinstance(e, n.Unary):
        if e.op == "not":
            return f"not {format_expr(e.operand, _PREC['not'])}"
        return f"-{format_expr(e.operand, _UNARY_MINUS)}"
    if isinstance(e, n.Binary):
        p = _PREC[e.op]
        if p == 4:  # comparisons do not chain: both sides must be tighter
            return f"{format_expr(e.left, 5)} {e.op} {format_expr(e.right, 5)}"
        return f"{format_expr(e.left, p)} {e.op} {format_expr(e.right, p + 1)}"
    if isinstance(e, n.Conditional):
        return f"if {format_expr(e.test)} then {format_expr(e.then)} else {format_expr(e.otherwise)}"
    if isinstance(e, n.Quantifier):
        where = f" where {format_expr(e.where)}" if e.where is not None else ""
        if e.kind == "sum":
            return f"sum({format_expr(e.value)} for {e.var} in {format_expr(e.collection)}{where})"
        return f"{e.kind}({e.var} in {format_expr(e.collection)}{where})"
    raise TypeError(f"cannot format {e!r}")
