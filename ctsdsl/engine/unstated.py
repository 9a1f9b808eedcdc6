"""Claims that do not state what the medical record says: known, false, or not stated (issue 17, section 1).

An 837P carries what was billed, never the record's documentation nor the session's minutes,
patients represented, caregivers or whether the patient was present. A claim says "not stated"
with ``null`` (``"consent": null``, ``"minutes": null``); an absent field keeps the meaning it
always had (the schema's default: a missing flag is not documented), so claims written before
decide as they did. docs/language.md ("Facts the claim does not state") states the semantics:

* The rules run on the claim with each ``null`` left out, as today.
* A line is settled when a ``deny`` finding on it read nothing the claim leaves unstated: it is
  denied whatever the record says. Otherwise, when any ``deny`` or ``reduce`` rule evaluated on
  it (fired or not, its filter included) read an unstated element, its decision rests on the
  record: status ``needs_record``, with ``confirm`` naming each element, and no adjustments.
  This is conservative: a rule that would decide the same either way still asks.
* ``assume_documented``: every documentation flag the claim does not give as ``false`` is read
  as ``true`` (a team whose scrubber checked the record); the session facts are not assumed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .decision import Decision, LineDecision, Outcome
from ..claims.fields import DOCUMENTATION, catalogue


def as_stated(claim: Mapping[str, Any], assume_documented: bool) -> tuple[dict, frozenset[str]] | None:
    """The claim as its rules read it, and the elements it does not state; None when nothing is to change.

    Elements are named as `LineDecision.confirm` names them: ``documentation.consent``,
    ``lines[0].minutes``.
    """
    doc = claim.get("documentation") or {}
    lines = claim["lines"]
    if not assume_documented and None not in doc.values() and not any(None in ln.values() for ln in lines):
        return None  # the usual claim: one look at each line, no copy
    unknown: set[str] = set()
    if assume_documented:
        filled_doc = {flag: doc.get(flag) is not False for flag in catalogue()[DOCUMENTATION]}
    else:
        unknown.update(f"documentation.{flag}" for flag, value in doc.items() if value is None)
        filled_doc = {flag: value for flag, value in doc.items() if value is not None}
    filled_lines = []
    for i, ln in enumerate(lines):
        if None in ln.values():
            unknown.update(f"lines[{i}].{name}" for name, value in ln.items() if value is None)
            ln = {name: value for name, value in ln.items() if value is not None}
        filled_lines.append(ln)
    filled = dict(claim, lines=filled_lines)
    if doc or assume_documented:
        filled["documentation"] = filled_doc
    return filled, frozenset(unknown)


def _touched(reads: tuple, line: int | None, unknown: frozenset[str]) -> list[str]:
    """The unstated elements among a rule's reads, evaluated on `line` (None: a claim rule)."""
    found = []
    for read in reads:
        label = read[0]
        if label.startswith("claim.documentation."):
            element = "documentation." + label[len("claim.documentation."):]
        else:
            on = getattr(read, "line", None)  # a quantified line's field: o.minutes of line 3
            if on is None and (line is None or not label.startswith("line.")):
                continue
            element = f"lines[{line if on is None else on}].{label.rsplit('.', 1)[1]}"
        if element in unknown and element not in found:
            found.append(element)
    return found


def conditional(decision: Decision, evaluations: list, severities: Mapping[str, str],
                unknown: frozenset[str], digest: str, assume_documented: bool) -> Decision:
    """`decision`, made on the claim as stated, with each line that rests on an unstated element `needs_record`.

    Args:
        decision: The traced decision on the claim `as_stated` returned.
        evaluations: Its `Evaluation`s.
        severities: Each rule's outcome, by rule id.
        unknown: The elements the claim does not state.
        digest: The digest of the claim as given (with its nulls).
        assume_documented: Whether the documentation flags were assumed.
    """
    rests: dict[int, list[str]] = {}
    for ev in evaluations:
        if ev.kind != "rule" or severities.get(ev.rule) not in ("deny", "reduce"):
            continue
        touched = _touched(ev.reads, ev.line, unknown)
        if not touched:
            continue
        for i in range(len(decision.lines)) if ev.line is None else (ev.line,):
            elements = rests.setdefault(i, [])
            elements.extend(e for e in touched if e not in elements)
    findings = {f.id: f for f in decision.findings}
    lines: list[LineDecision] = []
    for line in decision.lines:
        needed = rests.get(line.index)
        settled = line.status == "denied" and any(
            findings[fid].severity == "deny" and not _touched(findings[fid].reads, findings[fid].line, unknown)
            for fid in line.findings)
        if line.status == "out_of_scope" or not needed or settled:
            lines.append(line)
            continue
        lines.append(dataclasses.replace(line, status="needs_record", adjustments=(), remarks=(),
                                         confirm=tuple(sorted(needed))))
    outcome: Outcome = "conditional" if any(ln.status == "needs_record" for ln in lines) else decision.outcome
    return dataclasses.replace(decision, lines=tuple(lines), outcome=outcome, claim_digest=digest,
                               assumed_documented=assume_documented)
