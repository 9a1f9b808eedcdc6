"""Decisions as compact JSON, fast: what `ctsdsl batch`, the Spark job and the SQL backend write per claim.

`DecisionEncoder.encode` writes byte for byte what ``json.dumps(decision.to_dict(),
separators=(",", ":"))`` writes (tests/test_adjustments.py and test_unstated.py hold it to that),
several times faster, because most of a decision's text is the same on every claim. `batch`
re-exports it, where its callers have always found it.

`DecisionEncoder.encode_result` writes the same text straight from what the rules computed
(`Evaluator.result`), without the `Decision` and its twenty-odd objects in between: what `ctsdsl
batch` does for each claim (tests/test_batch.py holds the two to the same bytes). It follows
`Evaluator.assemble` step for step; a change to how decisions are made changes both.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring_ascii as _quote
from typing import TYPE_CHECKING, Any, NamedTuple

from ..engine.decision import Decision, Finding, PolicyInfo, claim_digest, claim_outcome, line_status

if TYPE_CHECKING:
    from ..engine.evaluator import Evaluator
    from ..engine.runtime import Result

_CENTS = Decimal("0.00")  # amounts are written to the cent, as to_dict writes them
_CENT = Decimal("0.01")
_ASSUMED = ',"assumed_documented":true'  # a decision made under --assume-documented says so
_FIDS = [f"F{number}" for number in range(64)]
_MAX_KEPT = 1024  # texts kept per policy (findings, lines); past that the cache starts again (memory stays flat)


class Encoded(NamedTuple):
    """A decision written by `encode_result`: its text, and what a batch's summary counts of it."""

    text: str
    outcome: str
    statuses: list[str]  # each line's status, in order
    total_allowed: Decimal
    total_complete: bool
    rules: list[str]  # the rule of each finding, in order


class _PolicyTexts:
    """One policy's texts for `encode_result`: each rule's finding head and tail, and findings and lines already written."""

    def __init__(self, evaluator: Evaluator, dumps: Any) -> None:
        self.evaluator = evaluator  # held, so the id this is kept under is not reused
        self.rules = evaluator.rules
        self.ids = [info.id for info in evaluator.rules]
        self.parts = rule_texts(evaluator, dumps)
        self.findings: dict[tuple, str] = {}
        self.lines: dict[tuple, Any] = {}  # out of scope: the text; governed: (text, amount to the cent)


def rule_texts(evaluator: Evaluator, dumps: Any = None) -> list[tuple[str, str]]:
    """Each rule's (head, tail): the text of its findings before `"line"` and after `"message"`,
    without their braces and commas (what `encode` writes of a finding around its id, line and message)."""
    dumps = dumps or json.JSONEncoder(separators=(",", ":")).encode
    parts = []
    for info in evaluator.rules:
        whole = Finding("", info.id, info.severity, None, "", info.citation, info.reasons, info.sources,
                        info.title, info.origin).to_dict()
        parts.append((dumps({k: whole[k] for k in ("rule", "title", "severity")})[1:-1],
                      dumps({k: whole[k] for k in ("citation", "reason_codes", "sources", "origin")})[1:-1]))
    return parts


def policy_text(info: PolicyInfo) -> str:
    """The decision's `"policy"` value, as `encode` writes it."""
    return json.dumps(info.to_dict(), separators=(",", ":"))


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
        self._texts: dict[int, _PolicyTexts] = {}

    def _policy(self, info: PolicyInfo) -> str:
        cached = self._policies.get(id(info))
        if cached is None or cached[0] is not info:
            cached = self._policies[id(info)] = (info, policy_text(info))
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

    def encoded(self, d: Decision) -> Encoded:
        """`encode(d)` with what a batch's summary counts of it, as `encode_result` gives them."""
        return Encoded(self.encode(d), d.outcome, [line.status for line in d.lines], d.total_allowed,
                       d.total_complete, [f.rule for f in d.findings])

    def encode_result(self, evaluator: Evaluator, claim: Any, result: Result) -> Encoded:
        """The JSON text `encode(evaluator.assemble(claim, result))` writes, built from `result` itself.

        The statuses, amounts, totals and outcome are decided as `Evaluator.assemble` decides them;
        a finding's or an allowed line's text, the same on most claims, is written once and reused.
        """
        texts = self._texts.get(id(evaluator))
        if texts is None or texts.evaluator is not evaluator:
            texts = self._texts[id(evaluator)] = _PolicyTexts(evaluator, self._dumps)
        if len(texts.findings) > _MAX_KEPT or len(texts.lines) > _MAX_KEPT:
            texts.findings.clear()
            texts.lines.clear()
        den, al, gov, amt = result.denied, result.allowed, result.governed, result.amounts
        lines = claim["lines"]
        parts, ids, seen_findings, seen_lines = texts.parts, texts.ids, texts.findings, texts.lines
        findings = []
        rule_ids = []
        on_line: list[list[tuple[str, int]]] = [[] for _ in lines]  # (finding id, rule number) on each line
        for number, (k, line, message, _) in enumerate(result.findings, 1):
            fid = _FIDS[number] if number < len(_FIDS) else f"F{number}"
            key = (k, number, line, message)
            text = seen_findings.get(key)
            if text is None:
                head, tail = parts[k]
                text = seen_findings[key] = (f'{{"id":"{fid}",{head},"line":{"null" if line is None else line},'
                                             f'"message":{_quote(message)},{tail}}}')
            findings.append(text)
            rule_ids.append(ids[k])
            if line is None:
                for i, governed in enumerate(gov):
                    if governed:
                        on_line[i].append((fid, k))
            else:
                on_line[line].append((fid, k))
        out_lines = []
        statuses = []
        total = _CENTS
        complete = True
        denied = reduced = governed_count = 0
        for i, ln in enumerate(lines):
            billed = ln["units"]
            code = ln["code"]
            if not gov[i]:
                statuses.append("out_of_scope")
                key = (i, code, "out_of_scope", billed, *on_line[i])
                text = seen_lines.get(key)
                if text is None:
                    text = seen_lines[key] = self._line_text(i, code, "out_of_scope", billed, billed, None,
                                                             on_line[i], "[]", "")
                out_lines.append(text)
                continue
            governed_count += 1
            status, units = line_status(den[i], al[i], billed)
            denied += status == "denied"
            reduced += status == "reduced"
            statuses.append(status)
            raw_amount = amt[i]
            # Keyed by the amount as computed: the cent it rounds to comes with the text.
            key = (i, code, status, billed, units, raw_amount, ln.get("charge") if status != "allowed" else None,
                   *on_line[i])
            kept = seen_lines.get(key)
            if kept is None:
                kept = seen_lines[key] = self._governed_line(evaluator, texts, i, code, status, billed, units,
                                                             raw_amount, on_line[i], ln.get("charge"))
            text, amount = kept
            if amount is not None:
                total += amount
            elif units > 0:
                complete = False  # paid, of unknown amount (LineDecision.amount_unknown)
            out_lines.append(text)
        outcome = claim_outcome(governed_count, denied, reduced)
        text = (f'{{"claim_id":{_quote(claim["id"])},"claim_digest":"{claim_digest(claim)}",'
                f'"policy":{self._policy(evaluator.info)},"outcome":"{outcome}","lines":[{",".join(out_lines)}],'
                f'"findings":[{",".join(findings)}],"total_allowed":{_quote(str(total.quantize(_CENTS)))},'
                f'"total_complete":{"true" if complete else "false"}}}')
        return Encoded(text, outcome, statuses, total, complete, rule_ids)

    def _governed_line(self, evaluator: Evaluator, texts: _PolicyTexts, i: int, code: str, status: str, billed: int,
                       units: int, raw_amount: object, on_line: list[tuple[str, int]], charge: object
                       ) -> tuple[str, Decimal | None]:
        """A governed line's text and its amount to the cent, as `Evaluator.assemble` makes them."""
        # Half up, as `round()` in a policy and as fee schedules round: $0.125 is $0.13.
        amount = None if raw_amount is None else Decimal(raw_amount).quantize(_CENT, rounding=ROUND_HALF_UP)  # type: ignore[arg-type]
        if status == "allowed":
            return self._line_text(i, code, status, billed, units, amount, on_line, "[]", ""), amount
        adjustments, remarks = evaluator.adjusted([(fid, texts.rules[k]) for fid, k in on_line], billed, units,
                                                  charge)
        return self._line_text(i, code, status, billed, units, amount, on_line, self._adjustments(adjustments),
                               ",".join(map(_quote, remarks))), amount

    def _line_text(self, i: int, code: str, status: str, billed: int, units: int, amount: Decimal | None,
                   on_line: list[tuple[str, int]], adjustments: str, remarks: str) -> str:
        number = self._number
        return (f'{{"index":{i},"code":{_quote(code)},"status":"{status}",'
                f'"units_billed":{number(billed)},"units_allowed":{number(units)},'
                f'"allowed_amount":{"null" if amount is None else _quote(str(amount.quantize(_CENTS)))},'
                f'"findings":[{",".join(_quote(fid) for fid, _ in on_line)}],"adjustments":{adjustments},'
                f'"remarks":[{remarks}]}}')
