"""Render decisions and traces for people: the last stage of the pipeline."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from .decision import Decision, money_text
from .evaluator import Evaluation, _s

_STATUS = {"allowed": "allowed", "reduced": "reduced", "denied": "DENIED", "out_of_scope": "out of scope"}


def _money(amount) -> str:
    text = money_text(amount)
    return "-" if text is None else f"${text}"


def _wrap(text: str, indent: int, width: int = 100) -> str:
    return textwrap.fill(text, width=width, initial_indent=" " * indent, subsequent_indent=" " * indent)


def render_decision(decision: Decision) -> str:
    """A decision as a biller reads it: outcome, one row per line, then each finding with its source."""
    p = decision.policy
    out = [f"claim {decision.claim_id}: {decision.outcome.upper()}, total allowed {_money(decision.total_allowed)}",
           f"  policy {p.name} version {p.version} ({p.effective_from} to {p.effective_to or 'open'})"]
    out.append("  lines:")
    for line in decision.lines:
        units = f"{line.units_allowed}/{line.units_billed} units"
        refs = " ".join(line.findings)
        out.append(f"    #{line.index} {line.code:<6} {_STATUS[line.status]:<13} {units:<12} "
                   f"{_money(line.allowed_amount):>10}  {refs}".rstrip())
    if decision.findings:
        out.append("  findings:")
    for f in decision.findings:
        where = "claim" if f.line is None else f"line #{f.line}"
        codes = f" [{', '.join(f.reason_codes)}]" if f.reason_codes else ""
        out.append(f"    {f.id} {f.severity:<6} {f.rule} ({where}){codes}")
        out.append(_wrap(f.message, 6))
        if f.citation:
            out.append(_wrap("source: " + f.citation, 6))
    return "\n".join(out)


def render_explain(decision: Decision, evaluations: Iterable[Evaluation], *, show_all: bool = False) -> str:
    """Which rules fired on which line, the values they read, and their citations."""
    out = [render_decision(decision), "", "  how each line was decided:"]
    by_line: dict[int | None, list[Evaluation]] = {}
    for ev in evaluations:
        by_line.setdefault(ev.line, []).append(ev)
    findings = {(f.rule, f.line): f for f in decision.findings}
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
            out.append(head)
            seen = set()
            for label, value in ev.reads:
                if label in seen:
                    continue
                seen.add(label)
                out.append(f"        read {label} = {_s(value)}")
            if finding is not None and finding.citation:
                out.append(_wrap("cites " + finding.citation, 8))
    return "\n".join(out)
