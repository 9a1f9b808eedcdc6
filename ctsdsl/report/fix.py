"""What would make a line payable: `ctsdsl explain --fix`.

For each denied or reduced line, the search tries changes to the claim in the space the rules
read (documentation flags, modifiers, units billed, minutes, patients represented, place of
service, provider type), one change first, then pairs and triples of those that cleared at least
one of the rules stopping the line, and keeps the smallest sets that make the line allowed
without making another line worse. Every fix is the decision of the changed claim, evaluated
again, never an inference.

It never changes a field the policy declares a fact of the service (`facts line.minutes, ...`):
a corrected claim may say what was documented or bill fewer units, not that the session was
longer or in another place. A rule that only a fact could satisfy is reported as such.

The search is bounded by a number of evaluations (`budget`); when it runs out, the result says so.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from ..claims.fields import catalogue
from ..engine.decision import Decision
from ..engine.evaluator import Claim, Evaluator
from ..errors import CtsdslError
from ..language import nodes as n
from ..language.checker import fact_path
from .explain import json_value

DEFAULT_BUDGET = 400  # evaluations a claim; a two-line claim needs a few dozen
MAX_CHANGES = 3  # the most changes a fix may make: more is a rewrite, not a fix
MAX_FIXES = 5  # fixes shown a line, smallest first
_MODIFIER = re.compile(r"[A-Z0-9]{2}")
_LINE_FIELDS = ("minutes", "patients_represented")  # the line's numbers a rule may compare
_CLAIM_FIELDS = ("place_of_service", "provider_type")


@dataclass(frozen=True)
class Facts:
    """The fields a corrected claim may not change, and the values of list fields it may neither add nor remove."""

    fields: frozenset[str] = frozenset()  # "line.minutes", "claim.documentation.consent"
    values: dict[str, frozenset[str]] = field(default_factory=dict)  # "line.modifiers" -> {"CQ", "CO"}

    def allows(self, change: Change) -> bool:
        if change.field in self.fields:
            return False
        fixed = self.values.get(change.field, frozenset())
        return not (change.value_changed & fixed)


def policy_facts(policy: n.Policy) -> Facts:
    """The facts an overlay chain declares (each layer's `facts` items, merged)."""
    params = {p.name: p for p in policy.of_kind(n.Param)}
    fields: set[str] = set()
    values: dict[str, set[str]] = {}
    for item in policy.of_kind(n.Facts):
        for fact in item.facts:
            path = fact_path(fact.field)
            if path is None:
                continue
            name = ".".join(path)
            if fact.values is None:
                fields.add(name)
            elif isinstance(fact.values, n.SetLiteral):
                values.setdefault(name, set()).update(str(i.value) for i in fact.values.items)
            elif isinstance(fact.values, n.Name) and fact.values.name in params:
                literal = params[fact.values.name].value
                if isinstance(literal, n.SetLiteral):
                    values.setdefault(name, set()).update(str(i.value) for i in literal.items)
    return Facts(frozenset(fields), {k: frozenset(v) for k, v in values.items()})


@dataclass(frozen=True, eq=False)  # compared by identity: its values may be lists
class Change:
    """One edit of the claim: a field of the claim, or of line `line`, set to `new`."""

    field: str  # as a policy names it: line.modifiers, claim.documentation.consent
    path: str  # where in the claim: $.lines[0].modifiers
    line: int | None
    old: Any
    new: Any
    what: str  # as an analyst reads it: "add modifier KX"

    @property
    def value_changed(self) -> frozenset[str]:
        """For a list field, the items added or removed."""
        if isinstance(self.old, list) and isinstance(self.new, list):
            return frozenset(set(self.old) ^ set(self.new))
        return frozenset()

    def apply(self, claim: dict) -> None:
        target = claim if self.line is None else claim["lines"][self.line]
        keys = self.field.split(".")[1:]
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = copy.deepcopy(self.new)

    def to_dict(self, clears: tuple[str, ...]) -> dict:
        return {"field": self.field, "path": self.path, "from": json_value(self.old), "to": json_value(self.new),
                "change": self.what, "clears": list(clears)}


@dataclass
class LineFix:
    line: int
    code: str
    status: str
    stopped_by: tuple[str, ...]
    fixes: list[tuple[tuple[Change, ...], dict]] = field(default_factory=list)
    clears: dict[Change, tuple[str, ...]] = field(default_factory=dict)
    facts_only: dict[str, list[str]] = field(default_factory=dict)  # rule -> the facts it reads
    complete: bool = True

    def to_dict(self) -> dict:
        return {"line": self.line, "code": self.code, "status": self.status, "stopped_by": list(self.stopped_by),
                "fixes": [{"changes": [c.to_dict(self.clears.get(c, ())) for c in changes], "result": result}
                          for changes, result in self.fixes],
                "facts_only": [{"rule": rule, "facts": facts} for rule, facts in self.facts_only.items()],
                "searched_all": self.complete}


@dataclass
class FixReport:
    """The fixes of every denied or reduced line of one claim."""

    claim_id: str
    lines: list[LineFix]
    evaluations: int
    budget: int

    @property
    def stopped_short(self) -> bool:
        return any(not line.complete for line in self.lines)

    def to_dict(self) -> dict:
        return {"claim_id": self.claim_id, "evaluations": self.evaluations, "budget": self.budget,
                "stopped_short": self.stopped_short, "lines": [line.to_dict() for line in self.lines]}


class _Budget(Exception):
    """The search has used its evaluations."""


class _Search:
    def __init__(self, evaluator: Evaluator, claim: Claim, budget: int) -> None:
        self.evaluator = evaluator
        self.claim = claim
        self.budget = budget
        self.used = 0
        self.facts = policy_facts(evaluator.checked.policy)
        self.vocabulary = _policy_strings(evaluator.checked.policy)

    def decide(self, changes: tuple[Change, ...]) -> Decision | None:
        if self.used >= self.budget:
            raise _Budget
        self.used += 1
        claim = copy.deepcopy(dict(self.claim))
        for change in changes:
            change.apply(claim)
        try:
            return self.evaluator.evaluate(claim)
        except CtsdslError:  # a change the schema or a rule refuses is no fix
            return None

    def moves(self, decision: Decision, line: int, read: set[str]) -> list[Change]:
        """Every single change in the space the rules read, less the policy's facts."""
        claim, ln = self.claim, self.claim["lines"][line]
        out: list[Change] = []
        doc = claim.get("documentation", {})
        for name in catalogue()["documentation"]:
            if f"claim.documentation.{name}" in read and not doc.get(name, False):
                out.append(Change(f"claim.documentation.{name}", f"$.documentation.{name}", None, False, True,
                                  f"document {name.replace('_', ' ')}"))
        mods = list(ln.get("modifiers", []))
        if any(label.endswith("modifiers") for label in read):
            for m in mods:
                out.append(Change("line.modifiers", f"$.lines[{line}].modifiers", line, mods,
                                  [x for x in mods if x != m], f"remove modifier {m}"))
            for m in sorted(self.vocabulary["modifiers"] - set(mods)):
                out.append(Change("line.modifiers", f"$.lines[{line}].modifiers", line, mods, [*mods, m],
                                  f"add modifier {m}"))
        allowed = decision.lines[line].units_allowed
        for units in range(max(allowed, 1), ln["units"]):
            out.append(Change("line.units", f"$.lines[{line}].units", line, ln["units"], units,
                              f"bill {units} unit(s), not {ln['units']}"))
        for name in _LINE_FIELDS:
            if f"line.{name}" in read or f"o.{name}" in read:
                for value in sorted(self.vocabulary["ints"]):
                    if value != ln.get(name) and value >= (1 if name != "minutes" else 0):
                        out.append(Change(f"line.{name}", f"$.lines[{line}].{name}", line, ln.get(name), value,
                                          f"{name.replace('_', ' ')} {value}"))
        if "claim.place_of_service" in read or "telehealth" in read or "facility" in read:
            for pos in sorted(self.vocabulary["pos"] - {claim["place_of_service"]}):
                out.append(Change("claim.place_of_service", "$.place_of_service", None, claim["place_of_service"],
                                  pos, f"place of service {pos}"))
        if "claim.provider_type" in read or "therapist" in read:
            current = claim.get("provider_type", "therapist")
            for kind in ("therapist", "physician", "npp"):
                if kind != current:
                    out.append(Change("claim.provider_type", "$.provider_type", None, current, kind,
                                      f"provider type {kind}"))
        return [c for c in out if self.facts.allows(c)]


def _policy_strings(policy: n.Policy) -> dict[str, set]:
    """The values the policy names: modifiers and places of service it compares with, whole numbers
    it compares minutes or patients with (and one either side, where a threshold is passed)."""
    strings: set[str] = set()
    ints: set[int] = set()
    for node in policy.walk():
        if isinstance(node, n.Literal):
            if node.kind == "string":
                strings.add(str(node.value))
            elif node.kind == "int" and isinstance(node.value, int) and 0 <= node.value <= 480:
                ints.update({node.value, node.value + 1, max(node.value - 1, 0)})
    modifiers = {s for s in strings if _MODIFIER.fullmatch(s) and not s.isdigit()} | \
        {s for s in strings if s in ("95", "93")}
    pos = {s for s in strings if s.isdigit() and len(s) == 2} | {"11"}
    return {"modifiers": modifiers, "pos": pos, "ints": ints}


def find_fixes(evaluator: Evaluator, claim: Claim, *, budget: int = DEFAULT_BUDGET) -> FixReport:
    """The smallest changes to `claim` that make each denied or reduced line payable.

    Args:
        evaluator: The policy that decides the claim.
        claim: A valid claim (see ``schemas/claim.schema.json``).
        budget: At most this many evaluations of changed claims.

    Returns:
        A `FixReport`: per line, the rules stopping it, up to five fixes (each verified), and the
        rules only a fact of the service could satisfy.
    """
    decision, evaluations = evaluator.trace(claim)
    search = _Search(evaluator, claim, budget)
    lines = []
    for ld in decision.lines:
        if ld.status not in ("denied", "reduced"):
            continue
        stoppers = tuple(dict.fromkeys(
            f.rule for f in decision.findings if f.severity in ("deny", "reduce") and f.line in (ld.index, None)))
        fix = LineFix(ld.index, ld.code, ld.status, stoppers)
        lines.append(fix)
        read = {label for e in evaluations if e.line in (ld.index, None) for label, _ in e.reads}
        try:
            _search_line(search, decision, fix, read, evaluations)
        except _Budget:
            fix.complete = False
    return FixReport(decision.claim_id, lines, search.used, budget)


def _blocking(decision: Decision, line: int) -> set[str]:
    return {f.rule for f in decision.findings if f.severity in ("deny", "reduce") and f.line in (line, None)}


def _no_worse(before: Decision, after: Decision, line: int) -> bool:
    rank = {"allowed": 2, "out_of_scope": 2, "reduced": 1, "denied": 0}
    return all(rank[b.status] <= rank[a.status] for b, a in zip(before.lines, after.lines) if b.index != line)


def _search_line(search: _Search, decision: Decision, fix: LineFix, read: set[str], evaluations) -> None:
    line = fix.line
    stoppers = set(fix.stopped_by)
    helpful: list[Change] = []
    for change in search.moves(decision, line, read):
        after = search.decide((change,))
        if after is None:
            continue
        cleared = tuple(sorted(stoppers - _blocking(after, line)))
        if not cleared:
            continue
        fix.clears[change] = cleared
        helpful.append(change)
        if after.lines[line].status == "allowed" and _no_worse(decision, after, line):
            fix.fixes.append(((change,), _result(after, line)))
    cleared_any = set().union(*fix.clears.values()) if fix.clears else set()
    facts = search.facts
    for rule in sorted(stoppers - cleared_any):
        reads = {label for e in evaluations if e.rule == rule and e.line in (line, None) for label, _ in e.reads}
        named = sorted(f for f in facts.fields if f in reads or f.replace("line.", "o.") in reads)
        fix.facts_only[rule] = named
    if fix.fixes or not helpful or fix.facts_only:  # a rule no single change clears stops every set of them
        return
    for size in range(2, MAX_CHANGES + 1):
        for combo in itertools.combinations(helpful, size):
            if len({(c.field, c.line) for c in combo}) < size and not _modifier_changes(combo):
                continue  # two values of one field at once
            covered = set().union(*(fix.clears[c] for c in combo))
            if covered != stoppers:
                continue  # some stopping rule would still stand: no need to evaluate
            if any(set(prev) <= set(combo) for prev, _ in fix.fixes):
                continue
            merged = _merge(combo)
            if merged is None:
                continue
            after = search.decide(merged)
            if after is not None and after.lines[line].status == "allowed" and _no_worse(decision, after, line):
                fix.fixes.append((combo, _result(after, line)))
                if len(fix.fixes) >= MAX_FIXES:
                    return
        if fix.fixes:
            return


def _modifier_changes(combo: tuple[Change, ...]) -> bool:
    return all(c.field == "line.modifiers" for c in combo)


def _merge(combo: tuple[Change, ...]) -> tuple[Change, ...] | None:
    """Changes to apply together: several edits of one line's modifiers become one list."""
    out: list[Change] = []
    mods: dict[int | None, list[Change]] = {}
    for c in combo:
        (mods.setdefault(c.line, []) if c.field == "line.modifiers" else out).append(c)
    for line, changes in mods.items():
        current = list(changes[0].old)
        for c in changes:
            added, removed = set(c.new) - set(c.old), set(c.old) - set(c.new)
            if added & set(current) or removed - set(current):
                return None
            current = [m for m in current if m not in removed] + sorted(added)
        first = changes[0]
        out.append(Change(first.field, first.path, line, first.old, current, "; ".join(c.what for c in changes)))
    return tuple(out)


def _result(after: Decision, line: int) -> dict:
    ld = after.lines[line]
    return {"status": ld.status, "units_allowed": ld.units_allowed, "amount": json_value(ld.allowed_amount),
            "outcome": after.outcome}
