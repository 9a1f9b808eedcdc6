"""What every part of the SQL compiler shares: a compiled expression, the scope it is compiled in,
and the small builders of sqlglot nodes (literals, NULL-safe tests, the failure conditions' OR).

See compile.py for what `Compiled.err` means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from sqlglot import exp

from ...claims.fields import INT, MONEY, NUMBER, Field

MAX_SCALE = 12  # decimals a literal or table cell may have; DECIMAL(38) must hold products of a few
NUMERIC = frozenset({INT, NUMBER, MONEY})
LINES = "ctsdsl_lines_rows"  # the lines relation with the table rows keyed by each line's own fields (plan.py)


class Compiled(NamedTuple):
    value: exp.Expression
    err: exp.Expression | None
    type: str


@dataclass(frozen=True)
class Scope:
    """What names mean where an expression is compiled.

    `claim` and `line` are the aliases of the rows holding the claim's and the current line's
    columns; `vars` maps a quantifier's variable to ("line", alias) or ("value", lambda variable);
    `date` is the date dated values and table rows are read on.
    """

    claim: str
    line: str | None
    date: exp.Expression
    vars: dict[str, tuple[str, str]] = field(default_factory=dict)
    units_allowed: exp.Expression | None = None
    in_lambda: bool = False
    home: bool = True  # `date` is the scope's own (not an `at`'s): materialized lets hold here


def col(table: str, name: str) -> exp.Column:
    """The column `table.name`."""
    return exp.column(name, table=table)


def lit(value: object) -> exp.Expression:
    """A literal node for a value of the language (never text pasted into SQL)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, Decimal):
        scale = max(0, -int(value.as_tuple().exponent))
        return exp.Cast(this=exp.Literal.string(format(value, "f")),
                        to=exp.DataType.build(f"DECIMAL({18 + scale},{scale})"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise TypeError(f"no SQL literal for {value!r}")


def either(*parts: exp.Expression | None) -> exp.Expression | None:
    """The OR of the conditions given (None: none can hold)."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    out = present[0]
    for p in present[1:]:
        out = exp.Or(this=out, expression=p)
    return exp.Paren(this=out) if len(present) > 1 else out


def both(a: exp.Expression, b: exp.Expression | None) -> exp.Expression | None:
    """`a AND b`, or None where `b` is (a condition that cannot hold)."""
    return None if b is None else exp.Paren(this=exp.And(this=a, expression=b))


def is_true(e: exp.Expression) -> exp.Expression:
    """`e`, NULL read as false: `e` itself where it cannot be NULL (`never_null`). Every operand of an
    `and`, a `not`, a rule's condition is read so, and they nest: written only where a NULL can reach
    it, Medicare 2025's stages hold 130 COALESCEs, not 433, and its first stage is 38.7 kB, not 43.1
    (binding and optimizing a stage is a fixed cost of every batch, and Spark plans it on the driver)."""
    if not never_null(e):
        return exp.Coalesce(this=e, expressions=[exp.false()])
    # In parentheses, as the COALESCE held it: sqlglot writes NOT over an AND without them.
    return e if isinstance(e, (exp.Paren, exp.Column, exp.Boolean, exp.Literal)) else exp.Paren(this=e)


_ALWAYS = "ctsdsl_always"  # the meta key of a column `present` marks
_NEVER_NULL = (exp.Boolean, exp.Is, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Exists)  # true or false, never NULL
_STRICT = (exp.And, exp.Or, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.ArrayContains)  # NULL only from an operand


def present(column: exp.Column, f: Field) -> exp.Column:
    """`column`, marked as never NULL where its field always has a value once the relations fill in
    the defaults (`Field.always`: required, or with a default): relations.py and spark_sql.py fill
    them, and a claim that leaves a required one out is never decided by SQL."""
    if f.always:
        column.meta[_ALWAYS] = True
    return column


def never_null(e: exp.Expression) -> bool:
    """Whether `e` is not NULL whatever the claim: it may only say no (False) where it could say yes."""
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, _NEVER_NULL):
        return True
    if isinstance(e, exp.Column):
        return bool(e.meta.get(_ALWAYS))
    if isinstance(e, exp.Literal):
        return True  # exp.Null is not a Literal
    if isinstance(e, exp.Coalesce):
        return any(never_null(x) for x in (e.this, *e.expressions))
    if isinstance(e, exp.Not):
        return never_null(e.this)
    if isinstance(e, exp.In):
        return never_null(e.this) and not e.args.get("query") and all(never_null(x) for x in e.expressions)
    if isinstance(e, _STRICT):
        return never_null(e.this) and never_null(e.expression)
    return False


def is_null(e: exp.Expression) -> exp.Expression:
    """`e IS NULL`."""
    return exp.Is(this=e, expression=exp.Null())


def greatest(first: exp.Expression, *rest: exp.Expression) -> exp.Expression:
    """GREATEST as DuckDB and Spark compute it, skipping NULLs. Every caller flags a NULL argument as
    the claim's failure (its `err`: the row engine decides it), so which rule a NULL follows never
    reaches a decision; sqlglot's NULL-propagating form for DuckDB (`CASE WHEN a IS NULL OR b IS NULL
    THEN NULL ELSE GREATEST(a, b) END`) writes each argument twice more, and a nested call's nine
    times: a fifth of Medicare's first stage, whose binding and optimizing every batch pays."""
    return exp.Greatest(this=first, expressions=list(rest), ignore_nulls=True)


def least(first: exp.Expression, *rest: exp.Expression) -> exp.Expression:
    """LEAST, skipping NULLs (see `greatest`)."""
    return exp.Least(this=first, expressions=list(rest), ignore_nulls=True)


def numeric_join(types: list[str]) -> str:
    """The type of an arithmetic result: money over number over int."""
    if MONEY in types:
        return MONEY
    if NUMBER in types:
        return NUMBER
    return INT
