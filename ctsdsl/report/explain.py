"""Explain as data: every rule on every line, fired or not, with the values it read.

`ctsdsl explain --format json` prints what `explain(claim)` returns, as
`schemas/explain.schema.json` defines it. It holds what the text explain shows, in a shape a
program can use without reading prose: each rule's verdict on each line, each value it read
with the line that value came from (a quantifier's `o.units` names the line `o` was), the units
a reduce rule computed, the layer of the overlay chain the rule comes from, and its citation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.decision import Decision
from ..engine.evaluator import Claim, Evaluation, Evaluator, shown_path

if TYPE_CHECKING:
    from ..language.overlay import Layer

SCHEMA_VERSION = 1


def json_value(value: object) -> Any:
    """A value a rule read, as JSON holds it: amounts and numbers as exact digit strings (as
    decisions write amounts), sets as sorted lists, absent as null."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (set, frozenset)):
        return sorted((json_value(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


@dataclass(frozen=True)
class Explanation:
    """A decision and the trace behind it, for one claim."""

    decision: Decision
    evaluations: tuple[Evaluation, ...]
    evaluator: Evaluator
    # The overlay chain when the caller has it already: a policy that is not on disk (the
    # playground's edited text) has no file to read it from.
    chain: tuple[Layer, ...] | None = None

    def to_dict(self) -> dict:
        """The explanation as `schemas/explain.schema.json` defines it.

        Every dict and list in it is its own (a caller may edit one evaluation's without touching
        another's), but what is the same across evaluations is computed once: a rule's layer and
        sources for each line it ran on, and a read's value for each line whose trace replays it
        (a memoized let's reads are the same objects in every such trace; see `_Reads`).
        """
        d = self.decision
        info = {r.id: r for r in (*self.evaluator.rules, *self.evaluator.fees)}
        findings = {(f.rule, f.line): f.id for f in d.findings}
        cited: dict[str, tuple[dict, list[dict]]] = {}
        reads = _Reads()
        out = []
        for ev in self.evaluations:
            rule = info[ev.rule]
            finding = findings.get((ev.rule, ev.line)) if ev.fired else None
            if ev.kind == "rule" and ev.fired and finding is None:  # a claim rule's finding has no line
                finding = findings.get((ev.rule, None))
            amount = None
            if ev.kind == "fee" and ev.fired and ev.line is not None:
                amount = json_value(d.lines[ev.line].allowed_amount)
            layer_sources = cited.get(ev.rule)
            if layer_sources is None:
                layer_sources = cited[ev.rule] = (rule.origin.to_dict(), [s.to_dict() for s in rule.sources])
            out.append({
                "rule": ev.rule, "kind": ev.kind, "title": rule.title,
                "severity": rule.severity if ev.kind == "rule" else None,
                "line": ev.line, "applicable": ev.applicable, "fired": ev.fired, "finding": finding,
                "reduced_to": ev.computed if ev.kind == "rule" and rule.severity == "reduce" else None,
                "amount": amount,
                "layer": layer_sources[0].copy(), "citation": rule.citation,
                "sources": [s.copy() for s in layer_sources[1]],
                "reads": reads.of(ev.reads, ev.line),
            })
        return {"schema_version": SCHEMA_VERSION, "decision": d.to_dict(), "layers": self.layers(),
                "evaluations": out}

    def layers(self) -> list[dict]:
        """The overlay chain, the claim's policy first (one entry for a policy that extends nothing)."""
        from ..engine.loader import load_file
        chain = self.chain
        if chain is None:
            source = self.evaluator.checked.policy.source_name
            chain = () if not source or source.startswith("<") or not Path(source).is_file() \
                else tuple(load_file(source).layers)
        listed = [{"policy": layer.header.name, "version": layer.header.version, "file": shown_path(str(layer.path))}
                  for layer in chain if layer.header is not None]
        if not listed:
            p = self.evaluator.info
            listed = [{"policy": p.name, "version": p.version, "file": p.file}]
        return listed


class _Reads:
    """Each read as JSON holds it: its label, its value, and the line it came from (a quantified
    line's own, else the rule's line for `line.*` reads, else none: the claim, a parameter, a let,
    a table row).

    A long claim's traces are mostly the same read objects replayed (a let that sums the claim's
    lines, in every line's trace), so each read's label, value and line are worked out once, by
    the read's identity (the reads are alive for the whole explain, so no id is reused), and each
    use gets a dict of its own; a value that is a list is copied for each, as `json_value` would
    have built it afresh.
    """

    def __init__(self) -> None:
        self._seen: dict[int, tuple[str, Any, int | None, bool, bool]] = {}

    def of(self, reads: tuple, current: int | None) -> list[dict]:
        seen = self._seen
        out = []
        for read in reads:
            known = seen.get(id(read))
            if known is None:
                label, value = read
                line = getattr(read, "line", None)
                j = json_value(value)
                known = seen[id(read)] = (label, j, line, line is None and label.startswith("line."),
                                          isinstance(j, list))
            label, j, line, own, is_list = known
            out.append({"label": label, "value": _fresh(j) if is_list else j, "line": current if own else line})
        return out


def _fresh(value: list) -> list:
    return [_fresh(v) if isinstance(v, list) else v for v in value]


def explain(claim: Claim, *, policy: Any = None, evaluator: Evaluator | None = None,
            assume_documented: bool = False) -> Explanation:
    """Decide a claim, recording every rule evaluated with the values it read.

    Args:
        claim: A claim as ``schemas/claim.schema.json`` defines it.
        policy: Use this policy (anything ``ctsdsl.evaluate`` accepts) instead of choosing one.
        evaluator: An evaluator already compiled (wins over `policy`).
        assume_documented: Read every documentation flag the claim does not give as false as
            documented, as `Evaluator.evaluate` does.

    Returns:
        An `Explanation`; ``.to_dict()`` matches ``schemas/explain.schema.json``.

    Raises:
        ClaimError: the claim is malformed.
        EvaluationError: a rule could not be evaluated on the claim.

    ``ctsdsl.explain_claim`` is this function (the package's ``explain`` is this module):

    >>> import ctsdsl
    >>> claim = {"id": "c1", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
    ...          "lines": [{"code": "97550", "units": 1, "minutes": 30}]}
    >>> ctsdsl.explain_claim(claim).to_dict()["decision"]["outcome"]
    'deny'
    """
    from ..api import compile as compile_policy
    from ..claims.validation import validate_claim
    from ..engine.registry import bundled
    claim = validate_claim(claim)
    if evaluator is None:
        if isinstance(policy, Evaluator):
            evaluator = policy
        elif policy is None:
            evaluator = bundled().evaluator_for(claim)
        else:
            evaluator = compile_policy(policy)
    decision, evaluations = evaluator.trace(claim, validate=False, assume_documented=assume_documented)
    return Explanation(decision, tuple(evaluations), evaluator)

