"""Quantifiers over `claim.lines` as aggregates of grouped views, joined once by key.

A quantifier compiled where it is used is a correlated subquery (`EXISTS (SELECT 1 FROM lines
AS o WHERE o.claim_ord = gl.claim_ord AND ...)`). DuckDB decorrelates each into a join of its
own over the whole wide row it is correlated with: Medicare's first stage held 18 such joins,
7.7M intermediate rows, most of its time; Spark spent 17-28 s planning them on the driver.
Here a quantifier becomes a column of an aggregate over the lines instead:

* reading only the quantified line and the claim's own fields (`any(o in claim.lines where "GO"
  in o.modifiers)`): one row per claim, `GROUP BY o.claim_ord`, joined to the row that uses it
  by `claim_ord`;
* reading the current line too (`o.date_of_service == line.date_of_service`): one row per
  governed line, from every pair of a governed line `ql` and a line `o` of the same claim,
  `GROUP BY ql.claim_ord, ql.l_index`, joined by both. A claim's lines are few (the schema allows
  1,000; generated claims have 1 to 11), so the pairs stay few, and any condition between the
  two lines (`o.index < line.index`, `o.code != line.code`) needs no special form.

`any`/`none` are BOOL_OR of the condition, `all` BOOL_OR of its negation, `count` COUNT(*)
FILTER (WHERE cond), `sum` SUM(value) FILTER (WHERE cond), each coalesced to what an empty
collection gives (false, 0) where joined; the failure condition is BOOL_OR of the line's, which
is EXISTS(... WHERE err) exactly, NULL read as false as everywhere else (compile.py).

The quantifier's condition is compiled with the lets inlined (`home=False`): a let's column
lives on the current line's view, which the aggregate does not read. A table row it looks up is
a LEFT JOIN of the aggregate's rows (a table has at most one row in force per key and date:
plan.py's `ctsdsl_t_` views, so no line counts twice). Anything else (a quantifier nested in
another, a value only the stage's own view holds such as `units_allowed` in a fee) is left to
compile.py's correlated form, with the same meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from ...claims.fields import BOOL, INT
from ...language import nodes as n
from .errors import SqlUnsupportedError
from .values import LINES, Compiled, Scope, both, col, either, is_true

CLAIMS, LINE, LINES_ALIAS = "qc", "ql", "o"  # aliases in an aggregate view: claim, current line, quantified line


@dataclass
class Quantifier:
    """One quantifier waiting for its aggregate view (plan.py's `_with_rows` writes it)."""

    column: str  # qN: its value on the row that uses it; eqN its failure flag
    kind: str
    type: str
    aggregate: exp.Expression
    err: exp.Expression | None
    pairwise: bool  # reads the current line: grouped by line, not by claim
    lines: str  # the relation of lines as the stage found them (ExprCompiler.lines_relation)
    joins: list[tuple[str, str, exp.Expression]] = field(default_factory=list)  # (table, alias, on)


def lift(ec: Any, e: n.Quantifier, s: Scope) -> Compiled | None:
    """Quantifier `e` over claim.lines as a column of an aggregate view, or None where it must
    stay a correlated subquery (see the module docstring)."""
    if any(kind == "line" for kind, _ in s.vars.values()):
        return None  # nested in another quantifier over the lines: reads that one's line
    alias = ec.name(LINES_ALIAS)
    inner = Scope(s.claim, s.line, s.date, {**s.vars, e.var: ("line", alias)}, s.units_allowed, home=False)
    try:
        where = ec.expr(e.where, inner) if e.where is not None else None
        value = ec.expr(e.value, inner) if e.value is not None else None
    except SqlUnsupportedError:
        return None  # the correlated form compiles it again, and refuses it there if it must
    wanted = is_true(where.value) if where is not None else None
    kind = e.kind
    if kind in ("any", "none"):
        aggregate: exp.Expression = exp.LogicalOr(this=wanted if wanted is not None else exp.true())
    elif kind == "all":
        assert wanted is not None, "the grammar requires all's where"
        aggregate = exp.LogicalOr(this=exp.Not(this=wanted))
    elif kind == "count":
        aggregate = exp.Count(this=exp.Star())
    elif kind == "sum":
        assert value is not None, "the grammar requires sum's value"
        aggregate = exp.Sum(this=value.value)
    else:
        return None
    if kind in ("count", "sum") and wanted is not None:
        aggregate = exp.Filter(this=aggregate, expression=exp.Where(this=wanted))
    inner_err = either(where.err if where is not None else None,
                       both(wanted, value.err) if value is not None and wanted is not None
                       else value.err if value is not None else None)
    err = exp.LogicalOr(this=inner_err) if inner_err is not None else None
    outer = {a for a in (s.claim, s.line) if a}
    outcomes = {}
    if ec.line_outcomes is not None and ec.lines_relation != LINES:
        # The current line's outcomes as the stage began are its row of the seen view, as every line's are.
        outcomes = dict(zip(ec.line_outcomes, ("o_denied", "o_allowed")))
    q = Quantifier(ec.name("q"), kind, value.type if kind == "sum" and value is not None else
                   INT if kind == "count" else BOOL, aggregate, err, False, ec.lines_relation)
    # Copies: compiled parts share nodes (a condition is in its value and in its failure flag),
    # and the rewriting below changes them in place.
    q.aggregate = q.aggregate.copy()
    q.err = q.err.copy() if q.err is not None else None
    parts = [p for p in (q.aggregate, q.err) if p is not None]
    for p in parts:
        if not _as_joins(p, q):
            return None
    if not _rebase(parts + [on for _, _, on in q.joins], q, alias, outer, outcomes):
        return None
    ec.quants.append(q)
    home = s.line or s.claim
    return Compiled(col(home, q.column), col(home, "e" + q.column) if q.err is not None else None, q.type)


def _as_joins(tree: exp.Expression, q: Quantifier) -> bool:
    """Each table lookup under `tree` (compile.py's `cell`, `row_exists`) as a LEFT JOIN
    of the aggregate's rows, innermost first: False if a subquery is anything else."""
    while True:
        subs = [x for x in tree.find_all(exp.Subquery, exp.Exists) if not x.this.find(exp.Subquery, exp.Exists)]
        if not subs:
            return True
        for sub in subs:
            select = sub.this
            source = select.args.get("from_") if isinstance(select, exp.Select) else None
            table = source.this if source is not None else None
            where = select.args.get("where") if isinstance(select, exp.Select) else None
            if not (isinstance(table, exp.Table) and table.name.startswith("ctsdsl_t_") and table.alias
                    and where is not None and not select.args.get("joins") and len(select.expressions) == 1):
                return False
            if isinstance(sub, exp.Exists):
                found: exp.Expression = exp.Not(this=exp.Is(this=col(table.alias, "k"), expression=exp.Null()))
            elif isinstance(select.expressions[0], exp.Column) and select.expressions[0].table == table.alias:
                found = select.expressions[0].copy()
            else:
                return False  # a whole row as a value: not a join's column
            if all(a != table.alias for _, a, _ in q.joins):  # a lookup in two places is joined once
                q.joins.append((table.name, table.alias, where.this.copy()))
            if sub is tree:
                return False  # the tree itself a lookup: cannot be replaced in place (never compiled so)
            sub.replace(exp.Paren(this=found))


def _rebase(trees: list[exp.Expression], q: Quantifier, line: str, outer: set[str], outcomes: dict[str, str]
            ) -> bool:
    """Read the outer row's columns from the aggregate's own relations: the claim's fields from
    `claims`, the current line's from the lines; False where one is neither (a let's or a rule's
    column of the stage's view)."""
    tables = {a for _, a, _ in q.joins}
    for t in trees:
        for column in list(t.find_all(exp.Column)):
            if column.table == line:
                # Every quantifier of a view ranges over the same lines: one alias for them all.
                column.set("table", exp.to_identifier(LINES_ALIAS))
                continue
            if column.table in tables or column.table in (LINES_ALIAS, CLAIMS, LINE):
                continue  # a lookup's, or a node met twice (shared by two parents) and rebased already
            if column.table not in outer:
                return False
            name = column.name
            if name.startswith(("c_", "d_")):
                column.set("table", exp.to_identifier(CLAIMS))
            elif name.startswith(("l_", "lrow")):
                column.set("table", exp.to_identifier(LINE))
                q.pairwise = True
            elif name in outcomes:
                column.set("table", exp.to_identifier(LINE))
                column.set("this", exp.to_identifier(outcomes[name]))
                q.pairwise = True
            else:
                return False
    return True


def views(quants: list[Quantifier], governs: list[str], prev: str, alias: str, name: str
          ) -> list[tuple[str, exp.Expression]]:
    """The aggregate views of `quants` and, last, `prev` with their columns joined (named `name`)."""
    out: list[tuple[str, exp.Expression]] = []
    joined = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(alias))).from_(
        exp.alias_(exp.to_table(prev), alias, table=True))
    groups: dict[tuple[bool, str], list[Quantifier]] = {}
    for q in quants:
        groups.setdefault((q.pairwise, q.lines), []).append(q)
    for i, ((pairwise, lines), group) in enumerate(groups.items()):
        view = f"{name}_agg{i + 1}"
        by = LINE if pairwise else LINES_ALIAS
        keys = ["claim_ord", "l_index"] if pairwise else ["claim_ord"]
        query = exp.select(*[col(by, k).as_(k) for k in keys])
        for q in group:
            query = query.select(q.aggregate.as_(q.column), append=True)
            if q.err is not None:
                query = query.select(q.err.as_("e" + q.column), append=True)
        query = query.from_(exp.alias_(exp.to_table(lines), LINES_ALIAS, table=True))
        if pairwise:
            query = query.join(exp.alias_(exp.to_table(lines), LINE, table=True),
                               on=exp.EQ(this=col(LINE, "claim_ord"), expression=col(LINES_ALIAS, "claim_ord")))
            query = query.where(exp.In(this=col(LINE, "l_code"), expressions=[exp.Literal.string(g) for g in governs])
                                if governs else exp.false())
        if any(c.table == CLAIMS for q in group for part in _parts(q) for c in part.find_all(exp.Column)):
            query = query.join(exp.alias_(exp.to_table("claims"), CLAIMS, table=True),
                               on=exp.EQ(this=col(CLAIMS, "claim_ord"), expression=col(LINES_ALIAS, "claim_ord")))
        for q in group:
            for table, t_alias, on in q.joins:
                query = query.join(exp.alias_(exp.to_table(table), t_alias, table=True), on=on, join_type="left")
        out.append((view, query.group_by(*[col(by, k) for k in keys])))
        a = f"qa{i + 1}"
        joined = joined.join(exp.alias_(exp.to_table(view), a, table=True), join_type="left", on=exp.and_(
            *[exp.EQ(this=col(a, k), expression=col(alias, k)) for k in keys]))
        for q in group:
            joined = joined.select(_final(q, col(a, q.column)).as_(q.column), append=True)
            if q.err is not None:
                joined = joined.select(is_true(col(a, "e" + q.column)).as_("e" + q.column), append=True)
    out.append((name, joined))
    return out


def _parts(q: Quantifier) -> list[exp.Expression]:
    return [p for p in (q.aggregate, q.err, *[on for _, _, on in q.joins]) if p is not None]


def _final(q: Quantifier, raw: exp.Expression) -> exp.Expression:
    """The quantifier's value from its aggregate: what an empty collection gives where none joined."""
    if q.kind == "any":
        return is_true(raw)
    if q.kind in ("none", "all"):
        return exp.Not(this=is_true(raw))
    total = exp.Coalesce(this=raw, expressions=[exp.Literal.number(0)])
    if q.kind == "sum" and q.type == INT:  # SUM of BIGINT is a HUGEINT in DuckDB; the units of one claim fit in 64 bits
        return exp.Cast(this=total, to=exp.DataType.build("BIGINT"))
    return total


__all__ = ["Quantifier", "lift", "views"]
