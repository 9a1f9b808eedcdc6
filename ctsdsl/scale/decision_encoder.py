"""Decisions as compact JSON, fast: what `ctsdsl batch`, the Spark job and the SQL backend write per claim.

`DecisionEncoder.encode` writes byte for byte what ``json.dumps(decision.to_dict(),
separators=(",", ":"))`` writes (tests/test_adjustments.py and test_unstated.py hold it to that),
several times faster, because most of a decision's text is the same on every claim. `batch`
re-exports it, where its callers have always found it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote

from ..engine.decision import Decision, Finding, PolicyInfo

_CENTS = Decimal("0.00")  # amounts are written to the cent, as to_dict writes them
_ASSUMED = ',"assumed_documented":true'  # a decision made under --assume-documented says so


def _confirm(elements: tuple[str, ...]) -> str:
    """A needs_record line's `confirm` key, as to_dict writes it (only when there is something to confirm)."""
    return f',"confirm":[{",".join(map(_quote, elements))}]' if elements else ""


class DecisionEncoder:
    """Encode decisions as compact JSON, byte for byte what
    ``json.dumps(decision.to_dict(), separators=(",", ":"))`` writes, several times faster.

    Most of a decision's text is the same on every claim (the policy, each rule's
    title, citation, sources and origin): it is encoded once per rule and reused.
    """

    def __init__(self) -> None:
        self._dumps = json.JSONEncoder(separators=(",", ":")).encode
        self._policies: dict[int, tuple[object, str]] = {}
        self._rules: dict[tuple, tuple] = {}

    def _policy(self, info: PolicyInfo) -> str:
        cached = self._policies.get(id(info))
        if cached is None or cached[0] is not info:
            cached = self._policies[id(info)] = (info, self._dumps(info.to_dict()))
        return cached[1]

    def _finding(self, f: Finding) -> str:
        key = (f.rule, id(f.sources), id(f.origin), f.severity)
        cached = self._rules.get(key)
        if (cached is None or cached[0] is not f.sources or cached[1] is not f.origin or cached[2] != f.title
                or cached[3] != f.citation or cached[4] != f.reason_codes):
            whole = f.to_dict()
            head = self._dumps({k: whole[k] for k in ("rule", "title", "severity")})[1:-1]
            tail = self._dumps({k: whole[k] for k in ("citation", "reason_codes", "sources", "origin")})[1:-1]
            cached = self._rules[key] = (f.sources, f.origin, f.title, f.citation, f.reason_codes, head, tail)
        line = "null" if f.line is None else self._number(f.line)
        return f'{{"id":{_quote(f.id)},{cached[5]},"line":{line},"message":{_quote(f.message)},{cached[6]}}}'

    def _adjustments(self, adjustments: tuple) -> str:
        # Most lines are allowed, with none; the others are rare enough for the plain encoder.
        return self._dumps([a.to_dict() for a in adjustments]) if adjustments else "[]"

    def _number(self, value: int | Decimal) -> str:
        return str(value) if type(value) is int else self._dumps(value)

    def encode(self, d: Decision) -> str:
        """The decision's JSON text, without a newline."""
        number = self._number
        lines = ",".join(
            f'{{"index":{ln.index},"code":{_quote(ln.code)},"status":"{ln.status}",'
            f'"units_billed":{number(ln.units_billed)},"units_allowed":{number(ln.units_allowed)},'
            f'"allowed_amount":{"null" if ln.allowed_amount is None else _quote(str(ln.allowed_amount.quantize(_CENTS)))},'
            f'"findings":[{",".join(map(_quote, ln.findings))}],'
            f'"adjustments":{self._adjustments(ln.adjustments)},"remarks":[{",".join(map(_quote, ln.remarks))}]'
            f'{_confirm(ln.confirm)}}}' for ln in d.lines)
        findings = ",".join(map(self._finding, d.findings))
        return (f'{{"claim_id":{_quote(d.claim_id)},"claim_digest":{_quote(d.claim_digest)},'
                f'"policy":{self._policy(d.policy)},"outcome":{_quote(d.outcome)},"lines":[{lines}],'
                f'"findings":[{findings}],"total_allowed":{_quote(str(d.total_allowed.quantize(_CENTS)))},'
                f'"total_complete":{"true" if d.total_complete else "false"}'
                f'{_ASSUMED if d.assumed_documented else ""}}}')
