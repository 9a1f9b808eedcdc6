"""Comparing two decisions of one claim, and naming why they differ: witnesses, their line changes and causes.

A `Comparer` holds both policies compiled once. `compare` decides a claim with each; where a line's
status, units, amount or rules fired differ, it traces both sides and names every cause: the rules
whose findings differ with the values they read that differ, a rule that reduced or denied on both
sides to another effect, the fee, or the `governs` list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.decision import Decision, money_text
from ..engine.evaluator import Evaluator
from ..engine.loader import LoadedPolicy
from ..errors import CtsdslError
from ..language import nodes as n
from .diff_structure import Change
from .witness_dates import redated

@dataclass(frozen=True)
class Cause:
    """What moves a witness: an item (`rule x`, `fee y`, `governs`) and the values it read that differ."""

    item: str
    edit: str = ""  # the item's own structural change: "changed (when, title)", "added"
    reads: tuple[tuple[str, str, str], ...] = ()  # (name read, old value, new value)
    refs: frozenset[str] = field(default=frozenset(), compare=False)
    # Each read's kind (param, table, let); a read whose name is also a rule's or fee's is shown with
    # it ("param kx_threshold_ot"), so that rule kx_threshold_ot reading it does not read as itself.
    kinds: tuple[str, ...] = field(default=(), compare=False)
    qualified: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def key(self) -> tuple:
        return (self.item, self.edit, tuple(r[0] for r in self.reads))

    def text(self) -> str:
        parts = [f"{self.item} {self.edit}".strip()]
        parts += [f"{kind + ' ' if name in self.qualified else ''}{name} {old} -> {new}"
                  for (name, old, new), kind in zip(self.reads, self._kinds())]
        return "; ".join(parts)

    def _kinds(self) -> tuple[str, ...]:
        return self.kinds if len(self.kinds) == len(self.reads) else ("",) * len(self.reads)

    def to_dict(self) -> dict:
        return {"item": self.item, "edit": self.edit,
                "reads": [{"name": r[0], "old": r[1], "new": r[2], **({"kind": kind} if kind else {})}
                          for r, kind in zip(self.reads, self._kinds())]}


@dataclass(frozen=True)
class LineChange:
    index: int
    code: str
    old: dict  # status, units, amount, findings (rule ids)
    new: dict

    def signature(self) -> tuple:
        """What the change does to the line, coarse enough that one witness stands for many claims."""
        scope = (self.old["status"] == "out_of_scope", self.new["status"] == "out_of_scope")
        if scope[0] != scope[1]:
            return (self.code, "scope", scope)
        if (self.old["status"], self.old["units"], self.old["findings"]) == \
                (self.new["status"], self.new["units"], self.new["findings"]):
            return (self.code, "amount")
        if self.old["status"] == self.new["status"]:  # same status: which rules and whether money moved
            return (self.code, "kept", self.old["units"] != self.new["units"], self.old["amount"] != self.new["amount"],
                    tuple(sorted(set(self.old["findings"]) ^ set(self.new["findings"]))))
        return (self.code, self.old["status"], self.new["status"], self.old["units"], self.new["units"],
                self.old["amount"] != self.new["amount"],
                tuple(sorted(set(self.old["findings"]) ^ set(self.new["findings"]))))

    def to_dict(self) -> dict:
        return {"index": self.index, "code": self.code, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Witness:
    """A claim decided differently: the claim as each side saw it, its changed lines, and why."""

    label: str
    claim: dict
    old_date: str
    new_date: str
    lines: tuple[LineChange, ...]
    causes: tuple[Cause, ...]

    def key(self) -> tuple:
        # Distinct line changes only: two lines of one code changed alike are the same story as one.
        return (tuple(c.key for c in self.causes), tuple(sorted(set(l.signature() for l in self.lines), key=repr)))

    def to_dict(self) -> dict:
        return {"label": self.label, "claim": self.claim, "old_date": self.old_date, "new_date": self.new_date,
                "lines": [l.to_dict() for l in self.lines], "causes": [c.to_dict() for c in self.causes]}


@dataclass
class Behavior:
    source: str  # "generated" or the claim file
    compared: int = 0
    witnesses: list[Witness] = field(default_factory=list)
    differing: int = 0  # claims that differ, before deduplication
    truncated: bool = False
    skipped: int = 0  # replayed claims of another payer than either policy's
    alike: dict = field(default_factory=dict)  # witness key -> how many generated claims it stands for


def _line_view(decision: Decision | None, index: int, error: str) -> dict:
    if decision is None:
        return {"status": "error", "units": None, "amount": None, "findings": [], "error": error}
    line = decision.lines[index]
    return {"status": line.status, "units": line.units_allowed, "amount": money_text(line.allowed_amount),
            "findings": sorted({f.rule for f in decision.findings if f.line in (index, None)
                                and (f.line == index or line.status != "out_of_scope")})}


def as_for(evaluator: Evaluator, claim: dict) -> dict:
    """The claim as one side of a diff reads it: without the fields only the other side declares
    (each side validates what it decides, and refuses a field it does not know)."""
    fields = evaluator.checked.fields
    if all(k in fields["claim"] for k in claim) and all(k in fields["line"] for ln in claim["lines"] for k in ln):
        return claim
    return {**{k: v for k, v in claim.items() if k in fields["claim"]},
            "lines": [{k: v for k, v in ln.items() if k in fields["line"]} for ln in claim["lines"]]}


def _decide(evaluator: Evaluator, claim: dict) -> tuple[Decision | None, str]:
    try:
        return evaluator.evaluate(as_for(evaluator, claim)), ""
    except CtsdslError as exc:
        return None, exc.diagnostics[0].message if exc.diagnostics else str(exc)


def line_outcomes(evaluator: Evaluator, claim: dict) -> tuple:
    """What a decision says of each line, as witnesses compare it; an error is an outcome too."""
    decision, error = _decide(evaluator, claim)
    return tuple(tuple(sorted(_line_view(decision, i, error).items(), key=lambda kv: kv[0]))
                 for i in range(len(claim["lines"])))


class Comparer:
    """Both policies compiled once; `compare` decides a claim with each and explains any difference."""

    def __init__(self, old: LoadedPolicy, new: LoadedPolicy, changes: list[Change]):
        self.old, self.new = old, new
        self.old_ev, self.new_ev = old.evaluator(), new.evaluator()
        # By kind and name: a parameter's change is not its namesake rule's (kx_threshold_ot is both).
        self.edits = {(c.kind, c.name): c for c in changes if c.kind in ("rule", "fee")}
        self.read_kinds = {c.name: c.kind for c in changes if c.kind in ("param", "table", "let")}
        for p in (old, new):
            self.read_kinds.update({i.name: "param" if isinstance(i, n.Param) else "table"
                                    for i in p.policy.items if isinstance(i, (n.Param, n.Table))})
        self.names = set(self.read_kinds)
        self.item_ids = {i.id for p in (old, new) for i in p.policy.items if isinstance(i, (n.Rule, n.Fee))}
        self.fees = list(dict.fromkeys(f.id for p in (new, old) for f in p.policy.of_kind(n.Fee)))
        # Each side's rule outcomes (deny, reduce, warn, info), to tell which rules can move units or status.
        self.kinds = tuple({r.id: r.outcome.kind if r.outcome else None for r in p.policy.of_kind(n.Rule)}
                           for p in (old, new))

    def compare(self, label: str, claim: dict, new_date: str, explain: bool = True) -> Witness | None:
        """The witness if the two policies decide `claim` differently; `explain` traces both to name causes."""
        new_claim = claim if new_date == claim["date_of_service"] else redated(claim, new_date)
        a, err_a = _decide(self.old_ev, claim)
        b, err_b = _decide(self.new_ev, new_claim)
        if a is None and b is None:
            return None
        changed = []
        for i, line in enumerate(claim["lines"]):
            va, vb = _line_view(a, i, err_a), _line_view(b, i, err_b)
            if va != vb:
                changed.append(LineChange(i, line["code"], va, vb))
        if not changed:
            return None
        causes = self._causes(claim, new_claim, changed, a, b) if explain else ()
        return Witness(label, claim, claim["date_of_service"], new_date, tuple(changed), causes)

    def _reads(self, evaluator: Evaluator, claim: dict) -> dict[tuple[str, int | None], dict[str, list]]:
        """Each rule's (and line's) reads: every value read under each label, in order. One label may
        read several values: `at(o.date_of_service, conversion_factor)` over lines of two dates reads
        the factor of each, and only the second may differ."""
        try:
            _, evaluations = evaluator.trace(as_for(evaluator, claim))
        except CtsdslError:
            return {}
        out: dict = {}
        for e in evaluations:
            reads = out.setdefault((e.rule, e.line), {})
            for label, value in e.reads:
                reads.setdefault(label, []).append(value)
        return out

    def _causes(self, claim, new_claim, changed: list[LineChange], a, b) -> tuple[Cause, ...]:
        causes: dict[tuple, Cause] = {}
        reads_a = reads_b = None
        for lc in changed:
            if lc.old["status"] == "error" or lc.new["status"] == "error":
                side = "old" if lc.old["status"] == "error" else "new"
                error = (lc.old if side == "old" else lc.new).get("error", "")
                cause = Cause(f"evaluation error ({side} policy)", error)
                causes.setdefault(cause.key, cause)
                continue
            if (lc.old["status"] == "out_of_scope") != (lc.new["status"] == "out_of_scope"):
                what = "added to" if lc.old["status"] == "out_of_scope" else "removed from"
                cause = Cause("governs", f"{lc.code} {what} the codes the policy governs",
                              refs=frozenset({"governs", f"governs[{lc.code}]"}))
                causes.setdefault(cause.key, cause)
                continue
            if reads_a is None or reads_b is None:  # both are read together, the first time they are needed
                reads_a, reads_b = self._reads(self.old_ev, claim), self._reads(self.new_ev, new_claim)
            for cause in self._line_causes(lc, reads_a, reads_b):
                causes.setdefault(cause.key, cause)
        return tuple(causes.values())

    # The fields of a rule or fee whose edit can move a line; a new title or citation moves nothing.
    _RULE_EFFECT = frozenset({"scope", "where", "when", "outcome"})
    _FEE_EFFECT = frozenset({"where", "amount"})

    def _line_causes(self, lc: LineChange, reads_a: dict, reads_b: dict) -> list[Cause]:
        """Every rule and fee that moves one line. A line can move for several reasons at once (a
        warning newly fired beside a new fee share; a cap that fires on both sides but to fewer
        units), so each part of its outcome is explained on its own: the findings that differ,
        the units or status when a rule firing on both sides reduced or denied differently, and
        the amount when the fee itself, or what it read, differs."""
        found = [self._cause(rule, lc, reads_a, reads_b)
                 for rule in sorted(set(lc.old["findings"]) ^ set(lc.new["findings"]))]
        if (lc.old["status"], lc.old["units"]) != (lc.new["status"], lc.new["units"]):
            for rule in sorted(set(lc.old["findings"]) & set(lc.new["findings"])):
                if {self.kinds[0].get(rule), self.kinds[1].get(rule)} <= {"warn", "info", None}:
                    continue  # a warning fired on both sides sets neither status nor units
                cause = self._cause(rule, lc, reads_a, reads_b)
                if cause.reads or self._edited("rule", rule, self._RULE_EFFECT):
                    found.append(cause)
        # A line denied on one side is not priced there: its fee, and what the fee would read, explain
        # nothing about the move; the rule that denied it does.
        if lc.old["amount"] != lc.new["amount"] and "denied" not in (lc.old["status"], lc.new["status"]):
            for fee in self.fees:
                cause = self._cause(fee, lc, reads_a, reads_b)
                if cause.reads or self._edited("fee", fee, self._FEE_EFFECT):
                    found.append(cause)
        if not found:  # nothing traced explains it: the fee prices every line, so name it and what it read
            found = [self._cause(fee, lc, reads_a, reads_b) for fee in self.fees]
        return found

    def _edited(self, kind: str, item: str, fields: frozenset[str]) -> bool:
        edit = self.edits.get((kind, item))
        return edit is not None and (edit.action != "changed" or any(d[0] in fields for d in edit.details))

    def _cause(self, rule: str, lc: LineChange, reads_a: dict, reads_b: dict) -> Cause:
        kind = "fee" if rule in self.fees else "rule"
        edit = self.edits.get((kind, rule))
        edit_text = ""
        refs = {f"{kind} {rule}"}
        if edit is not None:
            edit_text = edit.shown_action + (f" ({', '.join(d[0] for d in edit.details)})"
                                             if edit.action == "changed" else "")
            edit_text += f" in {edit.inherited_from}" if edit.inherited_from else ""
        ra = {**reads_a.get((rule, None), {}), **reads_a.get((rule, lc.index), {})}
        rb = {**reads_b.get((rule, None), {}), **reads_b.get((rule, lc.index), {})}
        differing = []
        for label in dict.fromkeys([*ra, *rb]):
            base = label.split("[")[0].split(".")[0]
            if base not in self.names:
                continue
            difference = _first_difference(ra.get(label, []), rb.get(label, []))
            if difference is not None:
                old_v, new_v = difference
                shown = label.replace("[line.code]", f"[{lc.code}]")
                differing.append((shown, _show(old_v), _show(new_v)))
                refs |= {base, shown.split("]")[0] + "]" if "[" in shown else base}
        if edit is not None and edit.action != "changed":
            differing = []  # an added or removed rule reads on one side only: its values explain nothing
        else:
            # Only values both sides read: a name one side never read (a condition short-circuited before
            # it, a fee's facility set on an office claim) says how that side evaluated, not what changed,
            # and printed on every witness it buried the values that did (issue 19). Its refs stay, so
            # a new parameter read on one side is still cited rather than listed as having no effect.
            differing = [r for r in differing if "(not read)" not in (r[1], r[2])]
        bases = [r[0].split("[")[0].split(".")[0] for r in differing]
        return Cause(f"{kind} {rule}", edit_text, tuple(differing), frozenset(refs),
                     kinds=tuple(self.read_kinds.get(b, "") for b in bases),
                     qualified=frozenset(r[0] for r, b in zip(differing, bases) if b in self.item_ids))


def _first_difference(old: list, new: list) -> tuple[object, object] | None:
    """The first pair of values read under one label that differ, in the order read; a side that read
    the label fewer times shows "(not read)". The same values read a different number of times (a
    condition short-circuited on one more line) are no difference."""
    for a, b in zip(old, new):
        if a != b:
            return a, b
    if all(v in old for v in new) and all(v in new for v in old):
        return None
    if len(old) > len(new):
        return old[len(new)], "(not read)"
    return "(not read)", new[len(old)]


def _show(value) -> str:
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(none)"
    return str(value)


__all__ = ["Behavior", "Cause", "Comparer", "LineChange", "Witness", "line_outcomes"]
