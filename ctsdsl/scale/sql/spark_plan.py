"""The plan's views as Spark SQL: the DuckDB constructs the plan uses, rewritten in a form Spark runs.

plan.py writes its views for DuckDB; sqlglot transpiles most of them to Spark as they are. What
it cannot carry over is rewritten here, on a copy of each view's tree, with the same meaning:

* a table alias selected as a value (DuckDB reads `jlrow1` as the row's struct) becomes
  `STRUCT(jlrow1.*)`;
* `format('{:,}', n)` (thousands separated, in `dollars`) becomes `format_number(n, 0)`;
* HUGEINT, which Spark lacks, becomes DECIMAL(38,0).

Spark's decimal arithmetic rounds a product or sum to 6 decimals when its exact type would pass
38 digits (spark.sql.decimalOperations.allowPrecisionLoss, on by default): the runner turns it
off for the views it creates (ctsdsl/scale/spark_sql.py), so an amount is exact or the query
fails, never rounded differently from the row engine.
"""

from __future__ import annotations

from sqlglot import exp

from .plan import LINES, Plan

DIALECT = "spark"


def _aliases(select: exp.Select) -> set[str]:
    """The table aliases a SELECT's FROM and JOINs name."""
    out: set[str] = set()
    sources = [select.args.get("from_")] + list(select.args.get("joins") or [])
    for source in sources:
        if source is None:
            continue
        table = source.this
        if isinstance(table, exp.Table) and table.alias:
            out.add(table.alias)
    return out


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "format" and len(node.expressions) == 2 \
            and isinstance(node.expressions[0], exp.Literal) and node.expressions[0].this == "{:,}":
        return exp.Anonymous(this="format_number", expressions=[node.expressions[1].transform(_rewrite), exp.Literal.number(0)])
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38,0)")
    return node


def _selects_up(node: exp.Expression) -> list[exp.Select]:
    """The SELECTs enclosing `node`, nearest first."""
    out = []
    parent = node.find_ancestor(exp.Select)
    while parent is not None:
        out.append(parent)
        parent = parent.find_ancestor(exp.Select)
    return out


def _borrow(select: exp.Select, outer: str, column: str, borrowed: dict[tuple[int, str, str], str]) -> str:
    """The alias under which `select` reads the outer row `outer`'s `column` from a relation of
    its own: the claim's row (`c_`, `d_`: relations.py's prefixes) or the line's own row of the
    lines relation (`l_`, and `lrow` the table rows plan.py joins to it), matched to the outer row by
    equality, which Spark decorrelates."""
    kind = "claim" if column.startswith(("c_", "d_")) else "line"
    key = (id(select), outer, kind)
    alias = borrowed.get(key)
    if alias is None:
        alias = borrowed[key] = f"{outer}_{kind}{len(borrowed) + 1}"
        table = "claims" if kind == "claim" else LINES
        local = next(iter(_aliases(select)))
        select.join(exp.alias_(exp.to_table(table), alias, table=True), copy=False,
                    on=exp.EQ(this=exp.column("claim_ord", table=alias), expression=exp.column("claim_ord", table=local)))
        if kind == "line":
            select.where(exp.EQ(this=exp.column("l_index", table=alias),
                                expression=exp.column("l_index", table=outer)), copy=False)
        else:
            select.where(exp.EQ(this=exp.column("claim_ord", table=alias),
                                expression=exp.column("claim_ord", table=outer)), copy=False)
    return alias


def _decorrelate(tree: exp.Expression) -> None:
    """Outer references Spark refuses, read from relations of the subquery's own.

    Spark resolves a correlated column one level up only, and refuses an aggregate whose argument
    mixes outer and local columns (`SUM(CASE WHEN gl.c_x ... THEN o.a ...)`). Such a column is
    read instead from the claim's or line's own row, joined into the subquery just below the
    level that defines it."""
    borrowed: dict[tuple[int, str, str], str] = {}
    for column in list(tree.find_all(exp.Column)):
        if not column.table:
            continue
        ups = _selects_up(column)
        level = next((i for i, sel in enumerate(ups) if column.table in _aliases(sel)), None)
        if level is None or level == 0:
            continue
        in_aggregate = level == 1 and column.find_ancestor(exp.AggFunc) is not None \
            and ups[0] is column.find_ancestor(exp.AggFunc).find_ancestor(exp.Select)  # type: ignore[union-attr]
        if level < 2 and not in_aggregate:
            continue
        name = column.name
        if not name.startswith(("c_", "d_", "l_", "lrow")):
            continue  # not in a relation a subquery can join: left for Spark to refuse, naming it
        host = ups[level - 1] if level >= 2 else ups[0]
        column.replace(exp.column(name, table=_borrow(host, column.table, name, borrowed)))


def _table_lookups_as_joins(tree: exp.Expression) -> None:
    """A lookup of a table row inside a subquery over the lines, as a LEFT JOIN of that subquery.

    `EXISTS(SELECT 1 FROM ctsdsl_t_codes AS t WHERE t.k = o.l_code AND <t in force>)` nested in an
    EXISTS over the lines is a correlated subquery two levels deep, on which Spark 4 fails
    (INTERNAL_ERROR_ATTRIBUTE_NOT_FOUND). A table has at most one row in force per key and date
    (plan.py's `ctsdsl_t_` views: each version ends where the next begins), so the join adds no
    line twice: the lookup's value is the joined row's column, its existence the row's key."""
    for sub in list(tree.find_all(exp.Select)):
        host = sub.parent.find_ancestor(exp.Select) if sub.parent is not None else None
        if host is None or host.find_ancestor(exp.Select) is None:
            continue  # a subquery of the view itself: Spark runs those
        source = sub.args.get("from_")
        table = source.this if source is not None else None
        where = sub.args.get("where")
        if not (isinstance(table, exp.Table) and table.name.startswith("ctsdsl_t_") and table.alias
                and where is not None and not sub.args.get("joins") and len(sub.expressions) == 1):
            continue
        holder = sub.parent
        if isinstance(holder, exp.Exists):
            value: exp.Expression = exp.Not(this=exp.Is(this=exp.column("k", table=table.alias), expression=exp.Null()))
        elif isinstance(holder, exp.Subquery) and isinstance(sub.expressions[0], exp.Column):
            value = sub.expressions[0].copy()
        else:
            continue
        host.join(exp.alias_(exp.to_table(table.name), table.alias, table=True), on=where.this.copy(),
                  join_type="left", copy=False)
        holder.replace(exp.Paren(this=value))


def view(query: exp.Expression) -> exp.Expression:
    """One view's tree, rewritten for Spark (a copy: the plan's own tree is DuckDB's)."""
    tree = query.copy()
    _decorrelate(tree)
    _table_lookups_as_joins(tree)
    for select in list(tree.find_all(exp.Select)):
        aliases = _aliases(select)
        if not aliases:
            continue
        for column in list(select.find_all(exp.Column)):
            if not column.table and column.name in aliases and column.find_ancestor(exp.Select) is select:
                column.replace(exp.Struct(expressions=[exp.Column(this=exp.Star(), table=exp.to_identifier(column.name))]))
    return tree.transform(_rewrite)


def statements(plan: Plan, rename: dict[str, str] | None = None, pretty: bool = True) -> list[tuple[str, str]]:
    """Each view as (name, SELECT text) in Spark SQL, tables renamed by `rename` (the runner's
    per-call names for the relations and views)."""
    rename = rename or {}
    out = []
    for name, query in plan.views:
        tree = view(query)
        if rename:
            for table in tree.find_all(exp.Table):
                if table.name in rename:
                    table.set("this", exp.to_identifier(rename[table.name]))
        out.append((rename.get(name, name), tree.sql(dialect=DIALECT, pretty=pretty)))
    return out
