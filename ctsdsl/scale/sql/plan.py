"""A checked policy as SQL views over the `claims` and `lines` relations (see relations.py).

The views, in the row engine's order of evaluation (ctsdsl/engine/evaluator.py):

* ``ctsdsl_t_<table>``: each data table, its rows with the dates they are in force
  (``valid_from`` to the next version's start), built from literal nodes;
* per stage S (``stages a, b``; one without): ``ctsdsl_claimS`` over the claims with a governed
  line, each claim rule of S's firing, message and failure flag (on the claim's date of
  service); then ``ctsdsl_lineS``, over each governed line, with its claim's columns, each line
  rule of S's firing, reduced units, message and failure flag (on the line's date), and the
  line's outcome after S (``sden{S+1}``, ``sal{S+1}``). A stage reads the outcomes as it began:
  the current line's ``sdenS``/``salS``, and a quantifier's lines from ``ctsdsl_seenS``, every
  line of the batch as the stage found it. So the order of rules and lines within a stage never
  changes what a rule reads, as in the row engine (ctsdsl/engine/compiler.py's docstring);
* ``ctsdsl_claim_rules``, ``ctsdsl_line_rules``: the claims' denial and failure flags; each
  line's final denial and units allowed, then the first matching fee's amount;
* ``ctsdsl_lines``, ``ctsdsl_findings``, ``ctsdsl_failed``: the outputs, the decided
  lines, the findings in the order the row engine numbers them, and the claims on which the
  row engine would fail (or might: see compile.py), which run.py hands to the row engine.

Everything is a sqlglot tree; `statements(dialect)` writes it out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlglot import exp

from ...language import nodes as n
from ...language.checked import CheckedPolicy
from ...claims.fields import INT, NUMBER, OUTCOMES
from . import quantifiers
from .compile import ExprCompiler
from .errors import SqlUnsupportedError, unsupported
from .relations import claim_columns
from .values import LINES, MAX_SCALE, Compiled, Scope, both, col, either, greatest, is_true, least, lit

TABLE_PREFIX = "ctsdsl_t_"  # the view of each data table: its rows, each with the dates it is in force
_LATEST = "~"  # sorts after every ISO date: the newest version of a row is in force with no end

# The parts of a rule and fee this backend knows. A field added to the syntax tree (issue 15's
# rule stages) is refused until it is written here, rather than silently ignored.
_RULE_FIELDS = frozenset({"id", "title", "cites", "scope", "stage", "where", "when", "outcome", "reasons", "message",
                          "note", "override", "origin", "given", "entry_spans", "span"})
_FEE_FIELDS = frozenset({"id", "title", "cites", "where", "amount", "note", "override", "origin", "given",
                         "entry_spans", "span"})
# `facts` (the fields a corrected claim may not change) informs `explain --fix`, not a decision.
_ITEMS = tuple(getattr(n, name) for name in ("PolicyHeader", "Source", "Param", "Table", "Let", "Rule", "Fee",
                                              "Disable", "Facts", "Stages", "DeclaredField") if hasattr(n, name))


@dataclass(frozen=True)
class Plan:
    """The SQL of one policy: views in dependency order, and the rules and fees they number."""

    views: list[tuple[str, exp.Expression]]
    rules: list[n.Rule]
    fees: list[n.Fee]
    # Views an embedded run stores as tables, in order, once a batch (run.py): each is read by
    # several later views, which would otherwise compute it again each. Printed SQL keeps them views.
    stored: tuple[str, ...] = ()

    def statements(self, dialect: str = "duckdb", pretty: bool = True) -> list[str]:
        return [exp.Create(this=exp.to_table(name), kind="VIEW", replace=True, expression=query).sql(
            dialect=dialect, pretty=pretty) for name, query in self.views]


def _refuse_unknown(checked: CheckedPolicy) -> None:
    file, text = checked.policy.source_name, checked.texts.get(checked.policy.source_name)
    for item in checked.policy.items:
        if not isinstance(item, _ITEMS):
            raise unsupported(f"the policy item `{type(item).__name__}`", file, getattr(item, "span", None), text=text)
        known = _RULE_FIELDS if isinstance(item, n.Rule) else _FEE_FIELDS if isinstance(item, n.Fee) else None
        if known is None:
            continue
        for f in dataclasses.fields(item):
            if f.name not in known and getattr(item, f.name) != f.default \
                    and getattr(item, f.name) != (f.default_factory() if callable(f.default_factory) else None):
                raise unsupported(f"the `{f.name}` of {type(item).__name__.lower()} `{item.id}`", file, item.span,
                                  text=text)


def _columns_read(policy: n.Policy) -> dict[str, set[str]]:
    """Each table's columns the policy reads, so a view carries no description text it never shows."""
    out: dict[str, set[str]] = {}
    for node in policy.walk():
        if isinstance(node, n.Attribute) and isinstance(node.obj, n.Index) and isinstance(node.obj.obj, n.Name):
            out.setdefault(node.obj.obj.name, set()).add(node.name)
    return out


def _table_view(checked: CheckedPolicy, name: str, columns: set[str]) -> exp.Expression:
    data = checked.tables[name]
    cols = sorted(c for c in columns if c in data.columns)
    scale: dict[str, int] = {}
    for c in cols:
        if data.columns[c] == NUMBER:
            exps = [row[c].as_tuple().exponent for versions in data.rows.values() for _, row in versions
                    if row.get(c) is not None]
            scale[c] = max([0, *(-int(e) for e in exps)])
            if scale[c] > MAX_SCALE:
                raise unsupported(f"the column `{c}` of table `{name}`, with more than {MAX_SCALE} decimals",
                                  checked.policy.source_name, None)

    def sql_type(c: str) -> str:
        t = data.columns[c]
        if t == NUMBER:
            return f"DECIMAL({18 + scale[c]},{scale[c]})"
        return "BIGINT" if t == INT else "VARCHAR"

    rows = []
    for key, versions in data.rows.items():
        ends = [_LATEST] + [start for start, _ in versions[:-1]]  # newest first: each ends where a newer starts
        for (start, row), end in zip(versions, ends):
            if not data.dated_by:
                start, end = "", _LATEST
            rows.append(exp.Tuple(expressions=[lit(key), lit(start), lit(end)] + [
                lit(row.get(c)) if data.columns[c] != NUMBER or row.get(c) is None
                else exp.Literal.string(format(row[c], "f")) for c in cols]))
            if not data.dated_by:
                break
    names = ["k", "valid_from", "valid_to"] + [f"c_{c}" for c in cols]
    select = [exp.cast(exp.column(x), "VARCHAR").as_(x) for x in names[:3]] + [
        exp.cast(exp.column(f"c_{c}"), sql_type(c)).as_(f"c_{c}") for c in cols]
    if not rows:
        return exp.select(*[exp.cast(exp.Null(), "VARCHAR").as_(x) for x in names[:3]],
                          *[exp.cast(exp.Null(), sql_type(c)).as_(f"c_{c}") for c in cols]).where(exp.false())
    values = exp.Values(expressions=rows, alias=exp.TableAlias(this=exp.to_identifier("v"),
                                                               columns=[exp.to_identifier(x) for x in names]))
    return exp.select(*select).from_(values)


def _with_rows(ec: ExprCompiler, views: list[tuple[str, exp.Expression]], prev: str, alias: str, scope: Scope,
               name: str, columns: list[tuple[str, exp.Expression]]) -> None:
    """Append view `name` over `prev`, preceded by the aggregate views of the quantifiers its
    columns hold (ExprCompiler.quants, quantifiers.py) joined to `prev`, then by a view joining
    the table rows they asked for (ExprCompiler.new_rows), when there are any."""
    if ec.quants:
        views.extend(quantifiers.views(ec.quants, ec.governs, prev, alias, name + "_q"))
        ec.quants = []
        prev = name + "_q"
    if ec.new_rows:
        views.append((name + "_rows", _joined_rows(ec, prev, alias, scope)))
        ec.new_rows = []
        prev = name + "_rows"
    views.append((name, _stage(prev, alias, columns)))


def _joined_rows(ec: ExprCompiler, prev: str, alias: str, scope: Scope) -> exp.Select:
    """`prev` with each table row ExprCompiler.shared_row asked for as a struct column (NULL where
    the table has none for the key on the scope's date), by a left join, not a subquery per row:
    a table has at most one row in force per key and date, so no row is repeated."""
    query = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(alias)))
    joins = []
    for name, table, key in ec.new_rows:
        j = "j" + name
        query = query.select(exp.Case(ifs=[exp.If(this=exp.Is(this=col(j, "k"), expression=exp.Null()),
                                                  true=exp.Null())], default=exp.column(j)).as_(name), append=True)
        joins.append((exp.alias_(exp.to_table(ec.tables[table]), j, table=True), ec.row_filter(table, key, j, scope)))
    query = query.from_(exp.alias_(exp.to_table(prev), alias, table=True))
    for source, on in joins:
        query = query.join(source, on=on, join_type="left")
    return query


def _stage(prev: str, alias: str, columns: list[tuple[str, exp.Expression]]) -> exp.Select:
    star = exp.Column(this=exp.Star(), table=exp.to_identifier(alias))
    return exp.select(star, *[e.as_(name) for name, e in columns]).from_(
        exp.alias_(exp.to_table(prev), alias, table=True))


def _reads_outcomes(expr: n.Node | None, outcome_lets: set[str]) -> bool:
    """Whether `expr` reads what earlier stages decided (`line.denied`, `o.units_allowed`), itself
    or through a let in `outcome_lets`."""
    if expr is None:
        return False
    for node in expr.walk():
        if isinstance(node, n.Attribute) and node.name in OUTCOMES and isinstance(node.obj, n.Name):
            return True
        if isinstance(node, n.Name) and node.name in outcome_lets:
            return True
    return False


def _outcome_lets(lets: dict[str, n.Let]) -> set[str]:
    """The lets that read outcomes, directly or through another let: computed anew in each stage."""
    found: set[str] = set()
    while True:
        more = {name for name, let in lets.items() if name not in found and _reads_outcomes(let.expr, found)}
        if not more:
            return found
        found |= more


def _item_reads_outcomes(item: n.Rule | n.Fee, outcome_lets: set[str]) -> bool:
    parts: list[n.Node | None] = [item.where]
    if isinstance(item, n.Rule):
        parts += [item.when, item.outcome.units if item.outcome else None, item.message]
    else:
        parts.append(item.amount)
    return any(_reads_outcomes(p, outcome_lets) for p in parts)


def _seen(stage_view: str, den: str, al: str) -> exp.Select:
    """Every line of the batch as a stage found it: governed lines with the outcomes `stage_view`
    carries, the others as billed (not denied, their units allowed)."""
    on = exp.and_(exp.EQ(this=col("g", "claim_ord"), expression=col("l", "claim_ord")),
                  exp.EQ(this=col("g", "l_index"), expression=col("l", "l_index")))
    return exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("l")),
                      is_true(col("g", den)).as_("o_denied"),
                      exp.Coalesce(this=col("g", al), expressions=[col("l", "l_units")]).as_("o_allowed")) \
        .from_(exp.alias_(exp.to_table(LINES), "l", table=True)) \
        .join(exp.alias_(exp.to_table(stage_view), "g", table=True), on=on, join_type="left")


def _lines_rows(ec: ExprCompiler) -> exp.Select:
    """Every line of the batch with the table rows ExprCompiler.line_row asked for, each a struct
    column (NULL where the table has no row for the key on the line's date), by a left join."""
    query = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("l")))
    joins = []
    for name, table, key in ec.line_rows:
        alias = "j" + name
        row = exp.Column(this=exp.to_identifier(alias))
        query = query.select(exp.Case(ifs=[exp.If(this=exp.Is(this=col(alias, "k"), expression=exp.Null()),
                                                  true=exp.Null())], default=row).as_(name), append=True)
        scope = Scope("", "l", col("l", "l_date_of_service"))
        joins.append((exp.alias_(exp.to_table(ec.tables[table]), alias, table=True),
                      ec.row_filter(table, key, alias, scope)))
    query = query.from_(exp.alias_(exp.to_table("lines"), "l", table=True))
    for source, on in joins:
        query = query.join(source, on=on, join_type="left")
    return query


def build(checked: CheckedPolicy) -> Plan:
    """The views of a checked policy.

    Raises:
        SqlUnsupportedError: the policy uses a construct this backend cannot express exactly,
            naming it and where it is.
    """
    _refuse_unknown(checked)
    policy = checked.policy
    header = policy.header
    governs = list(header.governs) if header else []
    tables = {t: f"{TABLE_PREFIX}{t}" for t in checked.tables}
    views: list[tuple[str, exp.Expression]] = []
    stored: list[str] = []
    read = _columns_read(policy)
    for t in checked.tables:
        views.append((tables[t], _table_view(checked, t, read.get(t, set()))))
    ec = ExprCompiler(checked, tables)
    ec.governs = governs
    rules: list[n.Rule] = policy.of_kind(n.Rule)
    fees: list[n.Fee] = policy.of_kind(n.Fee)
    stage_names = checked.stages or ("",)
    stage_of = {name: s for s, name in enumerate(stage_names)}
    by_stage: list[tuple[list[tuple[int, n.Rule]], list[tuple[int, n.Rule]]]] = [([], []) for _ in stage_names]
    for k, r in enumerate(rules):
        if r.outcome is not None:
            by_stage[stage_of.get(r.stage or "", 0)][r.scope == "line"].append((k, r))
    claim_rules = [kr for c, _ in by_stage for kr in c]
    line_rules = [kr for _, ls in by_stage for kr in ls]
    outcome_lets = _outcome_lets(ec.lets)
    stage_reads = [any(_item_reads_outcomes(r, outcome_lets) for _, r in c + ls) for c, ls in by_stage]
    fees_read = any(_item_reads_outcomes(f, outcome_lets) for f in fees)

    gov_test = (exp.In(this=exp.column("l_code"), expressions=[lit(g) for g in governs])
                if governs else exp.false())
    views.append(("ctsdsl_governed", exp.select("*").from_(LINES).where(gov_test)))
    has_governed = exp.In(this=col("c", "claim_ord"),
                          query=exp.Subquery(this=exp.select("claim_ord").from_("ctsdsl_governed")))
    base = exp.select("*").from_(exp.alias_(exp.to_table("claims"), "c", table=True)).where(has_governed)
    views.append(("ctsdsl_claims_governed", base))

    # Each governed line with its claim's columns beside it, and the outcomes as the first stage
    # finds them: not denied, its billed units allowed.
    joined = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("g")),
                        *[exp.Column(this=exp.to_identifier(name), table=exp.to_identifier("c"))
                          for name in claim_columns(checked.fields)],
                        exp.false().as_("sden0"), col("g", "l_units").as_("sal0")) \
        .from_(exp.alias_(exp.to_table("ctsdsl_governed"), "g", table=True)) \
        .join(exp.alias_(exp.to_table("claims"), "c", table=True),
              on=exp.EQ(this=col("c", "claim_ord"), expression=col("g", "claim_ord")))
    views.append(("ctsdsl_line_base", joined))
    c_scope = Scope("c", None, col("c", "c_date_of_service"))
    l_scope = Scope("gl", "gl", col("gl", "l_date_of_service"))
    claim_view, line_view = "ctsdsl_claims_governed", "ctsdsl_line_base"
    claim_denied: list[exp.Expression] = []
    phase: dict[int, int] = {}  # rule number -> its place in the row engine's order of findings
    for s, (crules, lrules) in enumerate(by_stage):
        # ---- stage s: its claim rules on the claim's date, then its line rules on each line's
        # date, reading the outcomes as the stage began (the sden/sal columns, the seen view)
        den, al = f"sden{s}", f"sal{s}"
        ec.line_outcomes = (den, al) if s else None
        ec.lines_relation = LINES
        if s and stage_reads[s]:
            views.append((f"ctsdsl_seen{s}", _seen(line_view, den, al)))
            ec.lines_relation = f"ctsdsl_seen{s}"
        phase.update({k: 2 * s for k, _ in crules})
        phase.update({k: 2 * s + 1 for k, _ in lrules})
        if crules:
            cviews = _rule_views(ec, crules, c_scope, claim_view, "c", f"ctsdsl_claim{s}_", line=False)
            views.extend(cviews)
            denies = either(*[col("c", f"f{k}") for k, r in crules if r.outcome and r.outcome.kind == "deny"])
            views.append((f"ctsdsl_claim{s}", _stage(cviews[-1][0], "c", [
                (f"claim_denied{s}", denies if denies is not None else exp.false())])))
            claim_view = f"ctsdsl_claim{s}"
            stored.append(claim_view)
            claim_denied.append(col("c", f"claim_denied{s}"))
            on = exp.EQ(this=col("r", "claim_ord"), expression=col("gl", "claim_ord"))
            views.append((f"ctsdsl_line{s}_claim", exp.select(
                exp.Column(this=exp.Star(), table=exp.to_identifier("gl")),
                is_true(col("r", f"claim_denied{s}")).as_(f"claim_denied{s}")).from_(
                exp.alias_(exp.to_table(line_view), "gl", table=True)).join(
                exp.alias_(exp.to_table(claim_view), "r", table=True), on=on, join_type="left")))
            line_view = f"ctsdsl_line{s}_claim"
        lets = [name for name in ec.lets if (name in outcome_lets) == (s > 0)]
        if s == 0 or (stage_reads[s] and lets):
            let_views = _let_views(ec, l_scope, line_view, lets, f"ctsdsl_line{s}_let", f"let{s}_" if s else "let_")
            views.extend(let_views)
            line_view = let_views[-1][0] if let_views else line_view
        if lrules:
            lviews = _rule_views(ec, lrules, l_scope, line_view, "gl", f"ctsdsl_line{s}_", line=True)
            views.extend(lviews)
            line_view = lviews[-1][0]
        denied = either(col("gl", den), col("gl", f"claim_denied{s}") if crules else None,
                        *[col("gl", f"f{k}") for k, r in lrules if r.outcome and r.outcome.kind == "deny"])
        # Each reduction that fired, else the units so far: LEAST and GREATEST are not NULL-skipping everywhere.
        reduced = [exp.Case(ifs=[exp.If(this=col("gl", f"r{k}"), true=col("gl", f"u{k}"))], default=col("gl", al))
                   for k, r in lrules if r.outcome and r.outcome.kind == "reduce"]
        views.append((f"ctsdsl_line{s}", _stage(line_view, "gl", [
            (f"sden{s + 1}", denied if denied is not None else col("gl", den)),
            (f"sal{s + 1}", least(col("gl", al), *reduced) if reduced else col("gl", al))])))
        line_view = f"ctsdsl_line{s}"
        stored.append(line_view)

    last = len(by_stage)
    err_claim = either(*[col("c", f"e{k}") for k, _ in claim_rules])
    views.append(("ctsdsl_claim_rules", _stage(claim_view, "c", [
        ("claim_denied", either(*claim_denied) or exp.false()),
        ("claim_failed", err_claim if err_claim is not None else exp.false())])))
    line_err = either(*[col("gl", f"e{k}") for k, _ in line_rules])
    views.append(("ctsdsl_line_units", _stage(line_view, "gl", [
        ("denied", col("gl", f"sden{last}")), ("allowed", col("gl", f"sal{last}")),
        ("rules_failed", line_err if line_err is not None else exp.false())])))
    line_view = "ctsdsl_line_units"

    # ---- the first fee whose filter holds, with the line's final units (and, for a fee that
    # reads them, every line's final outcomes, as the row engine's fee loop does)
    ec.line_outcomes, ec.lines_relation = ("denied", "allowed"), LINES
    if fees_read:
        views.append(("ctsdsl_seen_fees", _seen(line_view, "denied", "allowed")))
        ec.lines_relation = "ctsdsl_seen_fees"
        stored.append(line_view)
        let_views = _let_views(ec, l_scope, line_view, sorted(outcome_lets), "ctsdsl_fee_let", "letf_")
        views.extend(let_views)
        line_view = let_views[-1][0] if let_views else line_view
    f_scope = dataclasses.replace(l_scope, units_allowed=col("gl", "allowed"))
    unpaid = exp.Paren(this=exp.Or(this=col("gl", "denied"),
                                   expression=exp.LTE(this=col("gl", "allowed"), expression=exp.Literal.number(0))))
    ifs = [exp.If(this=unpaid, true=exp.cast(exp.Literal.number(0), "DECIMAL(18,2)"))]
    fee_err: exp.Expression | None = None
    compiled = []
    for fee in fees:
        if fee.amount is None:
            continue
        where = ec.expr(fee.where, f_scope) if fee.where is not None else Compiled(exp.true(), None, "bool")
        amount = ec.expr(fee.amount, f_scope)
        compiled.append((where, amount))
        ifs.append(exp.If(this=is_true(where.value), true=amount.value))
    for where, amount in reversed(compiled):  # a fee's parts fail only where the fees before it did not apply
        fee_err = either(where.err, both(is_true(where.value), amount.err),
                         both(exp.Not(this=is_true(where.value)), fee_err))
    failed = either(col("gl", "rules_failed"), both(exp.Not(this=unpaid), fee_err))
    _with_rows(ec, views, line_view, "gl", l_scope, "ctsdsl_line_rules", [
        ("amount", exp.Case(ifs=ifs)), ("failed", failed if failed is not None else exp.false())])

    # ---- outputs, from the two results by name: run.py stores them as tables once a batch, since
    # each output reading the views would plan the whole pipeline again (27 times for findings).
    views.append(("ctsdsl_claim_done", exp.select("*").from_("ctsdsl_claim_rules")))
    views.append(("ctsdsl_line_done", exp.select("*").from_("ctsdsl_line_rules")))
    stored += ["ctsdsl_claim_done", "ctsdsl_line_done"]
    claim_view, line_view = "ctsdsl_claim_done", "ctsdsl_line_done"
    views.append(("ctsdsl_lines", exp.select("claim_ord", "l_index", "denied", "allowed", "amount")
                  .from_("ctsdsl_line_done")))
    parts: list[exp.Select] = []
    for k, r in claim_rules:
        parts.append(exp.select("claim_ord", exp.Literal.number(phase[k]).as_("phase"),
                                exp.cast(exp.Null(), "BIGINT").as_("line"), exp.Literal.number(k).as_("rule"),
                                exp.column(f"m{k}").as_("message")).from_(claim_view).where(exp.column(f"f{k}")))
    for k, r in line_rules:
        fired = f"r{k}" if r.outcome and r.outcome.kind == "reduce" else f"f{k}"
        parts.append(exp.select("claim_ord", exp.Literal.number(phase[k]).as_("phase"),
                                exp.column("l_index").as_("line"),
                                exp.Literal.number(k).as_("rule"), exp.column(f"m{k}").as_("message"))
                     .from_(line_view).where(exp.column(fired)))
    if parts:
        union: exp.Expression = parts[0]
        for p in parts[1:]:
            union = exp.union(union, p, distinct=False)
    else:
        union = exp.select("claim_ord", exp.Literal.number(0).as_("phase"), exp.cast(exp.Null(), "BIGINT").as_("line"),
                           exp.Literal.number(0).as_("rule"), exp.Literal.string("").as_("message")) \
            .from_("claims").where(exp.false())
    views.append(("ctsdsl_findings", union))
    # The table rows keyed by a line's own fields, asked for above, joined to every line once: first
    # after the tables, since every view over the lines reads them.
    views.insert(len(tables), (LINES, _lines_rows(ec)))
    stored.insert(0, LINES)
    views.append(("ctsdsl_failed", exp.union(
        exp.select("claim_ord").from_("ctsdsl_claim_done").where("claim_failed"),
        exp.select("claim_ord").from_("ctsdsl_line_done").where("failed"), distinct=True)))
    return Plan(views, rules, fees, tuple(dict.fromkeys(stored)))


def _let_views(ec: ExprCompiler, scope: Scope, source: str, names: list[str], prefix: str,
               column: str) -> list[tuple[str, exp.Expression]]:
    """The lets `names` as two columns of each governed line, its value and whether it fails, on the
    line's date: computed once, not written out at each use (the bundled policy's messages alone
    would repeat its lets hundreds of times). A let that reads another waits for a later view."""
    lets = {name: ec.lets[name] for name in names}
    deps = {name: {node.name for node in let.expr.walk() if isinstance(node, n.Name) and node.name in lets}
            for name, let in lets.items()}
    ec.let_alias = scope.line or ""
    views: list[tuple[str, exp.Expression]] = []
    done: set[str] = set()
    while len(done) < len(lets):
        ready = [name for name in lets if name not in done and deps[name] <= done]
        if not ready:  # the checker refuses let cycles; this only stops a loop
            break
        columns = []
        for name in ready:
            try:
                c = ec.expr(lets[name].expr, scope)
            except SqlUnsupportedError:
                continue  # a let no line rule can use here (it reads units_allowed): inlined where used
            columns += [(column + name, c.value), ("e" + column + name, c.err or exp.false())]
            ec.let_columns[name] = (c.type, c.err is not None, column + name)
        done.update(ready)
        if columns:
            _with_rows(ec, views, views[-1][0] if views else source, scope.line or "", scope,
                       f"{prefix}{len(done)}", columns)
    return views


def _rule_views(ec: ExprCompiler, rules: list[tuple[int, n.Rule]], scope: Scope, source: str, alias: str,
                 prefix: str, line: bool) -> list[tuple[str, exp.Expression]]:
    """Three views: each rule's filter; its condition; its units and message. A part is evaluated
    (and can fail) only where the row engine evaluates it: the condition where the filter holds,
    the message where the rule fires."""
    if not rules:
        return []
    first, second, third = [], [], []
    for k, r in rules:
        where = ec.expr(r.where, scope) if r.where is not None else Compiled(exp.true(), None, "bool")
        first += [(f"w{k}", is_true(where.value)), (f"ew{k}", where.err or exp.false())]
        when = ec.expr(r.when, scope) if r.when is not None else Compiled(exp.true(), None, "bool")
        w = col(alias, f"w{k}")
        second += [(f"f{k}", exp.Paren(this=exp.And(this=w, expression=is_true(when.value)))),
                   (f"ef{k}", either(col(alias, f"ew{k}"), both(w, when.err)) or exp.false())]
        fired = col(alias, f"f{k}")
        message = ec.template(r.message, scope)
        assert r.outcome is not None
        if r.outcome.kind == "reduce":
            if not line:
                raise unsupported("a claim rule that reduces", ec.file, r.span)
            assert r.outcome.units is not None, "the grammar requires reduce's units"
            units = ec.expr(r.outcome.units, scope)
            u = greatest(exp.Literal.number(0), units.value)
            red = exp.Paren(this=exp.And(this=fired, expression=exp.LT(this=u, expression=col(alias, "l_units"))))
            third += [(f"u{k}", u), (f"r{k}", is_true(red)),
                      (f"m{k}", exp.Case(ifs=[exp.If(this=is_true(red), true=message.value)])),
                      (f"e{k}", either(col(alias, f"ef{k}"),
                                       both(fired, either(units.err, exp.Is(this=units.value, expression=exp.Null()))),
                                       both(is_true(red), message.err)) or exp.false())]
        else:
            third += [(f"m{k}", exp.Case(ifs=[exp.If(this=fired, true=message.value)])),
                      (f"e{k}", either(col(alias, f"ef{k}"), both(fired, message.err)) or exp.false())]
    names = [f"{prefix}1", f"{prefix}2", f"{prefix}3"]
    views: list[tuple[str, exp.Expression]] = []
    _with_rows(ec, views, source, alias, scope, names[0], first)
    _with_rows(ec, views, names[0], alias, scope, names[1], second)
    _with_rows(ec, views, names[1], alias, scope, names[2], third)
    return views


__all__ = ["Plan", "SqlUnsupportedError", "build"]
