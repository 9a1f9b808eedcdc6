"""Print expressions back as policy text: on one line, or wrapped within a width.

`format_expr` writes an expression on one line with the fewest parentheses that parse back
to the same tree; it labels values in `explain` and expressions in diffs. `wrap_expr` lays
the same text over several lines when it is too wide for one (`ctsdsl fmt`).

Wrapping only ever puts line breaks and spaces between the tokens `format_expr` writes, with
the same parentheses: newlines are whitespace to the grammar, so the wrapped text parses to the
same tree by construction. Breaks go at the outermost construct first: a chain of `and`/`or`,
of `+`/`-` or of `*`/`/` breaks before each operator, a comparison before its operator,
`if`/`then`/`else` before each keyword, a quantifier before `where`, a call between its
arguments; each continuation line is aligned under the start of what it continues, so the
shape of the text is the shape of the tree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from . import nodes as n

# Binding strength of each construct: a child weaker than its slot needs brackets.
_PREC = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4,
         "not in": 4, "+": 5, "-": 5, "*": 6, "/": 6}
_COMPARISON = 4
_UNARY_MINUS, _POSTFIX, _ATOM = 7, 8, 9


def format_string(text: str) -> str:
    """A string literal, with `"` and `\\` escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def format_literal(lit: n.Literal) -> str:
    """A literal as policy text (`$2.50`, `"97550"`, `2024-01-01`, `true`)."""
    # Literal.value is typed object; its kind says what it holds (see nodes.Literal).
    if lit.kind == "string":
        return format_string(cast(str, lit.value))
    if lit.kind == "bool":
        return "true" if lit.value else "false"
    if lit.kind == "money":  # a negative parameter value is written -$2.50, as the grammar reads it
        amount = cast(Decimal, lit.value)
        return f"-${-amount}" if amount < 0 else f"${amount}"
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

    >>> from ctsdsl.language.parser import parse_expr
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
        if p == _COMPARISON:  # comparisons do not chain: both sides must be tighter
            return f"{format_expr(e.left, p + 1)} {e.op} {format_expr(e.right, p + 1)}"
        return f"{format_expr(e.left, p)} {e.op} {format_expr(e.right, p + 1)}"
    if isinstance(e, n.Conditional):
        return f"if {format_expr(e.test)} then {format_expr(e.then)} else {format_expr(e.otherwise)}"
    if isinstance(e, n.Quantifier):
        where = f" where {format_expr(e.where)}" if e.where is not None else ""
        if e.kind == "sum":
            assert e.value is not None  # the grammar gives every sum its value
            return f"sum({format_expr(e.value)} for {e.var} in {format_expr(e.collection)}{where})"
        return f"{e.kind}({e.var} in {format_expr(e.collection)}{where})"
    raise TypeError(f"cannot format {e!r}")


# ---------------------------------------------------------------- over several lines


def wrap_expr(e: n.Expr, prefix: str, width: int, suffix: str = "") -> list[str]:
    """`prefix + e + suffix` as lines, broken inside `e` where it is too wide for `width`.

    The first line starts with `prefix` (indentation and a keyword: `  when `); continuation
    lines are indented with spaces. A piece that cannot be broken (a long name or string)
    may still pass the width.

    >>> from ctsdsl.language.parser import parse_expr
    >>> wrap_expr(parse_expr("first_condition and (second or third) and fourth"), "when ", 30)
    ['when first_condition', '     and (second or third)', '     and fourth']
    """
    return _Wrapper(width).lay(e, prefix, suffix, 0)


class _Wrapper:
    def __init__(self, width: int):
        self.width = width

    def fits(self, lines: list[str]) -> bool:
        return all(len(line) <= self.width for line in lines)

    def lay(self, e: n.Expr, prefix: str, suffix: str, min_prec: int) -> list[str]:
        one = prefix + format_expr(e, min_prec) + suffix
        if len(one) <= self.width:
            return [one]
        if _prec(e) < min_prec:  # bracketed: the inside continues under the first character after "("
            return self.lay(e, prefix + "(", ")" + suffix, 0)
        pad = " " * len(prefix)
        if isinstance(e, n.Binary):
            return self.binary(e, prefix, pad, suffix)
        if isinstance(e, n.Conditional):
            return [*self.lay(e.test, prefix + "if ", "", 0), *self.lay(e.then, pad + "then ", "", 0),
                    *self.lay(e.otherwise, pad + "else ", suffix, 0)]
        if isinstance(e, n.Quantifier):
            return self.quantifier(e, prefix, suffix)
        if isinstance(e, n.Call) and e.args:
            return self.call(e, prefix, suffix)
        if isinstance(e, n.Unary):
            if e.op == "not":
                return self.lay(e.operand, prefix + "not ", suffix, _PREC["not"])
            return self.lay(e.operand, prefix + "-", suffix, _UNARY_MINUS)
        if isinstance(e, n.Attribute):
            return self.lay(e.obj, prefix, f".{e.name}{suffix}", _POSTFIX)
        if isinstance(e, n.Index):
            return self.lay(e.key, prefix + format_expr(e.obj, _POSTFIX) + "[", "]" + suffix, 0)
        return [one]

    def binary(self, e: n.Binary, prefix: str, pad: str, suffix: str) -> list[str]:
        p = _PREC[e.op]
        if p == _COMPARISON:
            return [*self.lay(e.left, prefix, "", p + 1), *self.lay(e.right, f"{pad}{e.op} ", suffix, p + 1)]
        # A chain of one binding strength (`a and b and c`, `a - b + c`) is one left-leaning spine:
        # it breaks before each of its operators, each operand under the first.
        rights: list[tuple[str, n.Expr]] = []
        node: n.Expr = e
        while isinstance(node, n.Binary) and _PREC[node.op] == p:
            rights.append((node.op, node.right))
            node = node.left
        rights.reverse()
        lines = self.lay(node, prefix, "", p)
        for k, (op, operand) in enumerate(rights):
            lines += self.lay(operand, f"{pad}{op} ", suffix if k == len(rights) - 1 else "", p + 1)
        return lines

    def quantifier(self, e: n.Quantifier, prefix: str, suffix: str) -> list[str]:
        opening = prefix + e.kind + "("
        source = f"{e.var} in {format_expr(e.collection)}"
        close = ")" + suffix
        if e.kind == "sum":
            head = self.lay(cast(n.Expr, e.value), opening, f" for {source}" + ("" if e.where else close), 0)
        else:
            head = [opening + source + ("" if e.where else close)]
        if e.where is None:
            return head
        # The filter goes on a line of its own under what it filters, after the opening bracket.
        return head + self.lay(e.where, " " * len(opening) + "where ", close, 0)

    def call(self, e: n.Call, prefix: str, suffix: str) -> list[str]:
        opening = prefix + e.func + "("
        pad = " " * len(opening)
        first, rest = e.args[0], e.args[1:]
        if rest:  # short trailing arguments follow the first one's last line: round(..., 2)
            hugged = self.lay(first, opening, ", " + ", ".join(format_expr(a) for a in rest) + ")" + suffix, 0)
            if self.fits(hugged):
                return hugged
        lines: list[str] = []
        for k, arg in enumerate(e.args):
            last = k == len(e.args) - 1
            lines += self.lay(arg, opening if k == 0 else pad, (")" + suffix) if last else ",", 0)
        return lines


__all__ = ["format_expr", "format_literal", "format_string", "wrap_expr"]
