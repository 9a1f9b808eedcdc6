"""Render decisions and traces for people: the last stage of the pipeline."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from functools import lru_cache

from ..engine.decision import Adjustment, Decision, money_text
from ..engine.evaluator import Evaluation, shown_path
from ..engine.runtime import shown
from ..errors import printable
from ..language.overlay import Layer

_STATUS = {"allowed": "allowed", "reduced": "reduced", "denied": "DENIED", "out_of_scope": "out of scope",
           "needs_record": "NEEDS RECORD"}


def _money(amount) -> str:
    text = money_text(amount)
    return "-" if text is None else f"${text}"


# A rule's citation is wrapped for each line it fires on, and textwrap costs more than the rest of
# a line's explain (a thousand-line claim whose MUE is exceeded cites the same 1,500 characters
# twice a line): each distinct text is wrapped once.
@lru_cache(maxsize=1024)
def _wrap(text: str, indent: int, width: int = 100) -> str:
    return textwrap.fill(text, width=width, initial_indent=" " * indent, subsequent_indent=" " * indent)


def _adjustment(a: Adjustment) -> str:
    """One CAS entry as a biller reads an 835: group-CARC, the amount and units not paid, and the finding."""
    code = f"{a.group}-{a.carc}" if a.group and a.carc else "(no CARC named)"
    amount = "" if a.amount is None else f" {_money(a.amount)}"  # no charge on the line: units only
    return f"        adjusted {code}{amount}, {a.quantity} unit{'s' if a.quantity != 1 else ''} ({a.finding})"


def render_decision(decision: Decision) -> str:
    """A decision as a biller reads it: outcome, one row per line, then each finding with its source.

    Under each line, as an 835 gives them: its adjustments (group and CARC, the amount and units
    not paid) and remarks (RARCs); a needs_record line lists what to confirm in the record.
    """
    p = decision.policy
    total = _money(decision.total_allowed)
    if not decision.total_complete:
        total += f" known, {sum(line.amount_unknown for line in decision.lines)} line(s) of unknown amount"
    out = [f"claim {decision.claim_id}: {decision.outcome.upper()}, total allowed {total}",
           f"  policy {p.name} version {p.version} ({p.effective_from} to {p.effective_to or 'open'})"]
    if decision.assumed_documented:
        out.append("  documentation assumed: every flag the claim does not give as false read as documented")
    out.append("  lines:")
    for line in decision.lines:
        units = f"{line.units_allowed}/{line.units_billed} units"
        refs = " ".join(line.findings)
        amount = "unknown" if line.amount_unknown else _money(line.allowed_amount)
        out.append(f"    #{line.index} {line.code:<6} {_STATUS[line.status]:<13} {units:<12} "
                   f"{amount:>10}  {refs}".rstrip())
        out += [_adjustment(a) for a in line.adjustments]
        out += _listed("remarks", line.remarks)
        out += _listed("confirm in the record", line.confirm)
    if decision.findings:
        out.append("  findings:")
    for f in decision.findings:
        where = "claim" if f.line is None else f"line #{f.line}"
        codes = f" [{', '.join(f.reason_codes)}]" if f.reason_codes else ""
        out.append(f"    {f.id} {f.severity:<6} {f.rule} ({where}){codes}")
        out.append(_wrap(f.message, 6))
        if f.citation:
            out.append(_wrap("source: " + f.citation, 6))
    return printable("\n".join(out))  # a claim id or a quoted value must not drive the terminal


def _listed(label: str, names: tuple[str, ...], indent: int = 8, width: int = 100) -> list[str]:
    """`label: a, b, c` over as many lines as needed, never breaking inside a name."""
    if not names:
        return []
    lines, current = [], " " * indent + f"{label}: "
    pad = " " * len(current)
    for k, name in enumerate(names):
        piece = name + ("," if k < len(names) - 1 else "")
        if len(current) + len(piece) > width and current.strip() != f"{label}:":
            lines.append(current.rstrip())
            current = pad
        current += piece + " "
    lines.append(current.rstrip())
    return lines


def render_layers(layers: list[Layer]) -> str:
    """The chain of an overlay, child first: each layer's policy, file and what it changed.

    The policy at the bottom of the chain defines everything; each layer above names the
    rules, fees, parameters, tables and lets it added, overrode or disabled.
    """
    out = ["  layers (the policy first, then each parent it extends):"]
    for depth, layer in enumerate(layers):
        h = layer.header
        name = f"{h.name} {h.version}" if h is not None else "(no policy header)"
        arrow = "extends " if depth else ""
        out.append(f"    {depth + 1}. {arrow}{name} ({shown_path(str(layer.path))})")
        if depth == len(layers) - 1:
            kinds: dict[str, int] = {}
            for item in layer.added:
                kind = item.split()[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            out.append("        defines " + ", ".join(f"{k} {kind}{'s' if k != 1 else ''}"
                                                      for kind, k in kinds.items()))
            continue
        out += _listed("adds", layer.added) + _listed("overrides", layer.overridden)
        out += _listed("disables", layer.disabled)
        if not (layer.added or layer.overridden or layer.disabled):
            out.append("        changes nothing (only its header and sources)")
    return "\n".join(out)


def render_explain(decision: Decision, evaluations: Iterable[Evaluation], *, show_all: bool = False,
                   layers: list[Layer] | None = None) -> str:
    """Which rules fired on which line, the values they read, and their citations.

    With `layers` (an overlay's chain, see `ctsdsl.language.overlay`), the chain is shown first and each
    rule names the layer that wrote it.
    """
    out = [render_decision(decision), ""]
    layer_of = {}
    if layers:
        out += [render_layers(layers), ""]
        layer_of = {shown_path(str(l.path)): f"{l.header.name} {l.header.version}" for l in layers if l.header}
    out.append("  how each line was decided:")
    by_line: dict[int | None, list[Evaluation]] = {}
    for ev in evaluations:
        by_line.setdefault(ev.line, []).append(ev)
    findings = {(f.rule, f.line): f for f in decision.findings}
    texts: dict[int, str] = {}
    pieces: dict[int, str] = {}
    for line in [None, *range(len(decision.lines))]:
        evs = by_line.get(line, [])
        if line is not None:
            ld = decision.lines[line]
            out.append(f"    line #{line} {ld.code}: {_STATUS[ld.status]}")
            if ld.status == "out_of_scope":
                out.append("      the policy does not govern this code; no rule ran on it")
                continue
        elif evs:
            out.append("    claim rules:")
        for ev in evs:
            if not ev.applicable and not show_all:
                continue
            if not ev.fired and not show_all:
                continue
            finding = findings.get((ev.rule, line)) or findings.get((ev.rule, None))
            verdict = "fired" if ev.fired else ("did not fire" if ev.applicable else "not applicable")
            head = f"      {ev.rule}: {verdict}"
            if finding is not None:
                head += f" ({finding.severity}, {finding.id})"
            if ev.kind == "fee" and ev.fired and line is not None:  # a fee runs only on a line with units
                ld = decision.lines[line]
                head += f": {_money(ld.allowed_amount)} for {ld.units_allowed} unit(s)"
            out.append(head)
            if len(layer_of) > 1 and shown_path(ev.file) in layer_of:  # an overlay: say whose rule it is
                out.append(f"        layer: {layer_of[shown_path(ev.file)]} ({shown_path(ev.file)})")
            out += [f"        read {label} = {values}" for label, values in _reads(ev.reads, texts, pieces)]
            if finding is not None and finding.citation:
                out.append(_wrap("cites " + finding.citation, 8))
    return printable("\n".join(out))


def _reads(reads: Iterable[tuple], texts: dict[int, str], pieces: dict[int, str]) -> list[tuple[str, str]]:
    """Each label a rule read, once, with every distinct value read under it in reading order.

    A quantifier reads `o.code` once per line it ranges over: each such value names its line
    (`runtime.LineRead.line`), the rule's own line too, so the reader sees which line gave what.

    `pieces` holds, across one explain's rules and lines, each read's text and `texts` each value's, by
    identity: a memoized let's reads are the same objects in the trace of every line that uses it,
    and every line reads the same parameter objects and sets (16 places of service, sorted and
    joined once, not once a read). Identity, not equality: Decimal("1.0") == Decimal("1.00"),
    shown apart. The reads hold their values for the whole explain, so no id is reused meanwhile.
    """
    # A quantifier over a thousand lines reads a thousand values on every line: the first few distinct
    # ones say what was read, a count the rest (explain --format json lists them all). Past the first
    # few, a read is only counted, so a long claim costs its reads, not their text.
    by_label: dict[str, dict[str, None]] = {}  # a dict keeps reading order and finds a repeat at once
    more: dict[str, int] = {}
    for read in reads:
        label = read[0]
        values = by_label.get(label)
        if values is None:
            values = by_label[label] = {}
        elif len(values) >= MAX_VALUES_SHOWN:
            more[label] = more.get(label, 0) + 1
            continue
        text = pieces.get(id(read))
        if text is None:
            value = read[1]
            text = texts.get(id(value))
            if text is None:
                text = texts[id(value)] = shown(value)
            on = getattr(read, "line", None)
            if on is not None:
                text += f" (line #{on})"
            pieces[id(read)] = text
        values[text] = None
    return [(label, "; ".join(values) + (f"; and {more[label]} more read(s)" if label in more else ""))
            for label, values in by_label.items()]


MAX_VALUES_SHOWN = 8  # distinct values of one label in the text explain


def render_fixes(report) -> str:
    """`explain --fix`: per denied or reduced line, the rules stopping it and the smallest changes
    (each verified by deciding the changed claim) that make it payable."""
    out = ["  what would make each line payable (each fix decided again; make one only where what it says is true):"]
    if not report.lines:
        out.append("    every governed line is allowed: nothing to fix")
    for line in report.lines:
        out.append(f"    line #{line.line} {line.code}: {_STATUS[line.status]}, "
                   f"stopped by {', '.join(line.stopped_by) or '(no rule)'}")
        for k, (changes, result) in enumerate(line.fixes, 1):
            amount = f"${result['amount']}" if result["amount"] is not None else "unknown amount"
            out.append(f"      fix {k} ({len(changes)} change{'s' if len(changes) > 1 else ''}): "
                       f"{result['status']} {result['units_allowed']} unit(s) {amount}, claim {result['outcome']}")
            for c in changes:
                clears = line.clears.get(c, ())
                out.append(f"        {c.what} ({c.path}: {shown(c.old)} -> {shown(c.new)})"
                           + (f"; clears {', '.join(clears)}" if clears else ""))
        for rule, facts in line.facts_only.items():
            why = (f"it reads {', '.join(facts)}: facts of the service, which a claim may not change" if facts
                   else "no change in the space searched satisfies it")
            out.append(f"      {rule} stays: {why}")
        if not line.fixes and not line.facts_only:
            out.append("      no set of changes found that makes it payable")
        if not line.complete:
            out.append(f"      search stopped short: the budget of {report.budget} evaluations ran out "
                       "(--budget N for more)")
    out.append(f"  ({report.evaluations} evaluation(s) of changed claims)")
    return printable("\n".join(out))
