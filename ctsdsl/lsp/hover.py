"""What a name under the cursor is, as Markdown: the text of an editor's hover.

Everything shown is what the checker merged: a parameter an overlay overrides shows the
overlay's values, and says which files define and override it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..claims.fields import OUTCOMES
from ..language import nodes as n
from ..language.formatter import format_expr, format_literal
from ..language.functions import FUNCTIONS
from .index import COLUMN, DATA, FIELD, FUNCTION, OVERRIDE, PARENT, RULE, SOURCE, VALUE, Occurrence, PolicyIndex


def hover(index: PolicyIndex, occ: Occurrence) -> str | None:
    """Markdown describing the name at `occ`, or None when there is nothing to say (an unknown name)."""
    if occ.namespace == FIELD:
        return _field(index, occ)
    if occ.namespace == FUNCTION:
        function = FUNCTIONS.get(occ.name)
        return f"```cts\n{function.doc.split(':', 1)[0]}\n```\n\n{function.doc.split(':', 1)[1].strip()}" \
            if function else None
    if occ.namespace == COLUMN:
        return _column(index, occ)
    if occ.namespace == PARENT:
        return _parent(index, occ)
    if occ.namespace == DATA:
        return f"**data file** `{occ.name}`" + (f"\n\n{occ.target}" if occ.target else "\n\nnot found")
    item = index.item(occ.namespace, occ.name)
    if item is None:
        return None
    text = _ITEMS[type(item)](index, item)
    if occ.namespace in (VALUE, RULE):
        text += _layers(index, occ)
    return text


def _field(index: PolicyIndex, occ: Occurrence) -> str | None:
    # The policy's own catalogue: the base fields, those it declares, and what earlier stages decided.
    found = index.loaded.checked.fields.get(occ.owner, {}).get(occ.name)
    if found is None and occ.owner == "line":
        found = OUTCOMES.get(occ.name)
    if found is None:
        return None
    notes = []
    if found.optional:
        notes.append("optional: absent unless the claim gives it, test with `missing(...)`")
    if found.default is not None:
        notes.append(f"default `{json.dumps(found.default)}`")  # as the claim's JSON writes it
    text = f"**{occ.owner}.{occ.name}**: `{found.type}`"
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return text + (f"\n\n{found.description}" if found.description else "")


def _column(index: PolicyIndex, occ: Occurrence) -> str | None:
    table = index.loaded.checked.tables.get(occ.owner)
    if table is None or occ.name not in table.columns:
        return None
    return (f"**{occ.owner}[...].{occ.name}**: `{table.columns[occ.name]}`\n\n"
            f"a column of table `{occ.owner}` ({Path(table.path).name})")


def _parent(index: PolicyIndex, occ: Occurrence) -> str:
    header = index.loaded.layers[1].header if len(index.loaded.layers) > 1 else None
    if header is None:
        return f'**extends "{occ.name}"**: not found'
    until = f" to {header.effective_to}" if header.effective_to else ""
    return (f'**extends "{header.name}"**: {header.title}\n\nversion {header.version}, effective '
            f"{header.effective_from}{until}\n\n{occ.target}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _citations(index: PolicyIndex, cites: tuple[n.Citation, ...]) -> str:
    out = []
    for c in cites:
        source = index.item(SOURCE, c.source)
        if isinstance(source, n.Source):
            out.append(f"[{source.title}]({source.url})" + (f" ({source.confidence})" if source.confidence else ""))
        else:
            out.append(f"`{c.source}` (no such source)")
    return "; ".join(out)


def _value(value: n.Literal | n.SetLiteral | None) -> str:
    if value is None:
        return ""
    return format_literal(value) if isinstance(value, n.Literal) else format_expr(value)


def _param(index: PolicyIndex, p: n.Item) -> str:
    assert isinstance(p, n.Param)
    typ = index.loaded.checked.param_types.get(p.name, p.type_name or "")
    head = f"**param {p.name}**" + (f": `{typ}`" if typ else "")
    if not p.dated:
        return f"{head} = `{_value(p.value)}`\n\nsources: {_citations(index, p.cites)}"
    rows = [f"| {d.start} | {d.end or ''} | `{_cell(_value(d.value))}` | {_cell(_citations(index, d.cites))} |"
            for d in p.dated]
    return "\n".join([head, "", "| from | to | value | sources |", "|---|---|---|---|", *rows])


def _table(index: PolicyIndex, t: n.Item) -> str:
    assert isinstance(t, n.Table)
    dated = f", dated by `{t.dated_by}`" if t.dated_by else ""
    text = f'**table {t.name}** from `"{t.path}"`, key `{t.key}`{dated}'
    data = index.loaded.checked.tables.get(t.name)
    if data is not None:
        text += f"\n\n{len(data.rows)} keys; columns: " + ", ".join(f"`{c}`: {typ}" for c, typ in data.columns.items())
    return text + f"\n\nsources: {_citations(index, t.cites)}"


def _let(index: PolicyIndex, let: n.Item) -> str:
    assert isinstance(let, n.Let)
    typ = index.loaded.checked.let_types.get(let.name)
    return f"**let {let.name}**" + (f": `{typ}`" if typ else "") + f"\n\n```cts\n{format_expr(let.expr)}\n```"


def _rule(index: PolicyIndex, r: n.Item) -> str:
    assert isinstance(r, (n.Rule, n.Fee))
    kind = "rule" if isinstance(r, n.Rule) else "fee"
    lines = [f"**{kind} {r.id}**" + (f": {r.title}" if r.title else "")]
    facts = []
    if isinstance(r, n.Rule):
        if r.outcome is not None:
            facts.append(r.outcome.kind + (f" units to `{format_expr(r.outcome.units)}`" if r.outcome.units else ""))
        facts.append("applies to the claim" if r.scope == "claim" else "applies to each line")
        if r.reasons:
            facts.append("reason " + ", ".join(f"{c.system} {c.code}" for c in r.reasons))
    if r.where is not None:
        facts.append(f"where `{format_expr(r.where)}`")
    if isinstance(r, n.Fee) and r.amount is not None:
        facts.append(f"amount `{format_expr(r.amount)}`")
    lines += ["", "; ".join(facts), "", f"sources: {_citations(index, r.cites)}"]
    return "\n".join(lines)


def _source(index: PolicyIndex, s: n.Item) -> str:
    assert isinstance(s, n.Source)
    facts = [f"confidence {s.confidence}" if s.confidence else "", f"dated {s.date}" if s.date else ""]
    text = f"**source {s.id}**: {s.title}\n\n{s.url}"
    if any(facts):
        text += "\n\n" + ", ".join(f for f in facts if f)
    return text + (f"\n\n{s.note}" if s.note else "")


def _disable(index: PolicyIndex, d: n.Item) -> str:  # a disabled rule is gone from the merged tree
    assert isinstance(d, n.Disable)
    return f"**disable {d.rule}**: {d.reason}"


_ITEMS = {n.Param: _param, n.Table: _table, n.Let: _let, n.Rule: _rule, n.Fee: _rule, n.Source: _source,
          n.Disable: _disable}


def _layers(index: PolicyIndex, occ: Occurrence) -> str:
    """Which files define and override the name, oldest first, when more than one does."""
    defs = index.defining_layers(occ.namespace, occ.name)[::-1]
    if len(defs) < 2:
        return f"\n\ndefined in {Path(defs[0].file).name}" if defs and len(index.files) > 1 else ""
    return "\n\n" + "; ".join(("overridden in " if d.role == OVERRIDE else "defined in ") + Path(d.file).name
                              for d in defs)
