"""Compare two versions of a policy, for review: what changed in the text's meaning, and which claims it moves.

Three parts, a module each, joined here by `run_diff` and rendered as text and JSON (Markdown:
`diff_markdown`):

- the sides (`diff_sides`): a policy file, a folder of policies, or `REV:path` read from git at
  that revision (with the data files and parent policies of the same revision);
- structural (`diff_structure`): the resolved policies compared item by item as syntax trees,
  data tables row by row, as `Change` values;
- behavioral (`witness`): claims replayed or witness claims generated, each naming the
  structural change that moves it.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from ..claims.validation import load_claim_file, model_for
from ..engine.loader import POLICY_SUFFIX, LoadedPolicy
from ..errors import printable
from .diff_sides import DiffInputError, Side, pair_policies, read_side
from .diff_structure import Change, rows_in_force, structural_changes
from .witness import Behavior, replay, unwitnessed, witnesses


# ---------------------------------------------------------------- the whole diff, as text and JSON (Markdown: diff_markdown)


@dataclass
class PairReport:
    """One policy against its counterpart: structural changes, behavior, and changes that moved no claim."""

    old: LoadedPolicy
    new: LoadedPolicy
    old_name: str
    new_name: str
    changes: list[Change]
    behavior: Behavior
    no_effect: list[Change]


@dataclass
class DiffReport:
    old_label: str
    new_label: str
    pairs: list[PairReport]
    removed: list[tuple[str, LoadedPolicy]] = field(default_factory=list)
    added: list[tuple[str, LoadedPolicy]] = field(default_factory=list)

    @property
    def behavioral_change(self) -> bool:
        return bool(self.removed or self.added or any(p.behavior.witnesses for p in self.pairs))

    @property
    def exit_code(self) -> int:
        """0: no claim decides differently; 1: some do (CI gates on it)."""
        return 1 if self.behavioral_change else 0


def _shown(side: Side, policy: LoadedPolicy) -> str:
    try:
        rel = policy.path.resolve().relative_to(side.root.resolve()).as_posix()
    except ValueError:
        return str(policy.path)
    if side.label.endswith(POLICY_SUFFIX):  # a file named on the command line: as the user wrote it
        return side.label
    return f"{side.label.rstrip('/')}/{rel}"


def run_diff(old_spec: str, new_spec: str, claims_file: str | None = None) -> DiffReport:
    """Compare two sides (file, folder or REV:path); replay `claims_file` or generate witnesses.

    Raises:
        DiffInputError, ClaimError: a side or the claim file cannot be read (exit code 2).
    """
    raw_claims = load_claim_file(claims_file) if claims_file is not None else None
    with ExitStack() as stack:
        old, new = read_side(old_spec, stack), read_side(new_spec, stack)
        pairs, removed, added = pair_policies(old, new)
        claims = None
        if raw_claims is not None:
            # A replayed claim may carry fields a policy of either side declares; each side then reads
            # it without those it does not declare (witness_causes.as_for).
            declared = {d.path: d for a, b in pairs for p in (a, b) for d in p.checked.declared}
            model = model_for(tuple(declared.values()))
            claims = [(location, model.validate(raw, location)) for location, raw in raw_claims]
        reports = []
        for a, b in pairs:
            changes = structural_changes(a, b)
            behavior = (witnesses(a, b, changes) if claims is None or claims_file is None
                        else replay(a, b, changes, claims, claims_file))
            reports.append(PairReport(a, b, _shown(old, a), _shown(new, b), changes, behavior,
                                      unwitnessed(changes, behavior)))
        return DiffReport(old_spec, new_spec, reports, [(_shown(old, p), p) for p in removed],
                          [(_shown(new, p), p) for p in added])


def line_text(view: dict) -> str:
    """One side of a changed line as a reviewer reads it: `allowed 2 unit(s) $47.80 [no_mppr]`."""
    if view["status"] == "error":
        return "error"
    amount = f" ${view['amount']}" if view["amount"] is not None else " amount unknown"
    rules = f" [{', '.join(view['findings'])}]" if view["findings"] else ""
    if view["status"] == "out_of_scope":
        return "out of scope"
    return f"{view['status']} {view['units']} unit(s){amount}{rules}"


def sources_summary(changes: list[Change]) -> str:
    """The changed sources on one line (they move no claim, so they are not listed one by one)."""
    sources = [c for c in changes if c.kind == "source"]
    if not sources:
        return ""
    by_action: dict[str, list[str]] = {}
    for c in sources:
        by_action.setdefault(c.action, []).append(c.name)
    return "sources " + "; ".join(f"{action}: {', '.join(names)}" for action, names in by_action.items())


def toggled_parts(c: Change) -> tuple[str, str, str]:
    """A toggled rule's heading, its `disable` reason as a phrase, and its title (the body is the parent's)."""
    details = {f: (was, now) for f, was, now in c.details}
    was, now = details.get("disabled", (None, None))
    if c.toggled == "disabled":
        return "disabled", f"because: {now}", (details.get("title") or (None, None))[0] or ""
    return "re-enabled (no longer disabled)", f"was disabled because: {was}", \
        (details.get("title") or (None, None))[1] or ""


def _toggled_text(c: Change) -> list[str]:
    heading, reason, title = toggled_parts(c)
    return [f"  {c.kind} {c.name}: {heading}", f"      {reason}"] + ([f"      title: {title}"] if title else [])


def render_text(report: DiffReport) -> str:
    out = [f"ctsdsl diff {report.old_label} {report.new_label}"]
    for name, p in report.removed:
        out.append(f"policy removed: {p.header.name} ({name}): claims it decided have no policy in NEW")
    for name, p in report.added:
        out.append(f"policy added: {p.header.name} ({name})")
    for pair in report.pairs:
        out += ["", f"{pair.old.header.name} {pair.old.header.version} ({pair.old_name})"
                    f" -> {pair.new.header.name} {pair.new.header.version} ({pair.new_name})", ""]
        shown = [c for c in pair.changes if c.kind != "source"]
        out.append(f"Structural changes: {len(shown)}" + ("" if shown else " (none)"))
        for c in shown:
            if c.toggled:
                out += _toggled_text(c)
                continue
            out.append(f"  {c.kind} {c.name}: {c.action}"
                       + (f" (inherited from {c.inherited_from})" if c.inherited_from else ""))
            for f, was, now in c.details:
                if c.action == "changed":  # a cell or entry emptied or filled in: say so, on one line if short
                    was, now = (was or "(none)"), (now or "(none)")
                if was is not None and now is not None and len(was) + len(now) < 70:
                    out.append(f"      {f}: {was} -> {now}")
                else:
                    out.append(f"      {f}:")
                    out += [f"        - {was}"] if was is not None else []
                    out += [f"        + {now}"] if now is not None else []
        if sources_summary(pair.changes):
            out.append("  " + sources_summary(pair.changes))
        b = pair.behavior
        out += ["", f"Behavioral changes: {len(b.witnesses)} witness(es); {b.differing} of {b.compared} "
                    + ("generated claims" if b.source == "generated" else f"claims in {b.source}")
                    + " decide differently" + (" (stopped at a limit: more may exist)" if b.truncated else "")
                    + (f"; {b.skipped} claim(s) of other payers skipped" if b.skipped else "")]
        for i, w in enumerate(b.witnesses, 1):
            alike = b.alike.get(w.key(), 1) if b.source == "generated" else 1
            out.append(f"  W{i}  {w.label}" + (f"  (stands for {alike} claims)" if alike > 1 else ""))
            for lc in w.lines:
                out.append(f"      line {lc.index} {lc.code}: {line_text(lc.old)} -> {line_text(lc.new)}")
            for cause in w.causes:
                out.append(f"      cause: {cause.text()}")
        if pair.no_effect:
            out += ["", "No effect on any " + ("generated" if b.source == "generated" else "replayed")
                    + " claim (status, units, amount and rules fired are the same):"]
            out += [f"  {c.kind} {c.name} ({c.shown_action}"
                    + (f": {', '.join(d[0] for d in c.details)})" if c.action == "changed" else ")")
                    for c in pair.no_effect]
    out += ["", "result: " + ("claims decide differently (exit 1)" if report.behavioral_change
                              else "no claim decides differently (exit 0)")]
    # A policy's text may hold what a terminal acts on (ESC) or reorders (a bidi override): shown escaped.
    return printable("\n".join(out))


def to_dict(report: DiffReport) -> dict:
    """The diff as JSON: stable keys, for tools."""
    def policy(name: str, p: LoadedPolicy) -> dict:
        h = p.header
        return {"name": h.name, "version": h.version, "file": name, "effective_from": h.effective_from,
                "effective_to": h.effective_to, "payer": h.payer, "extends": h.extends}

    pairs = []
    for pair in report.pairs:
        b = pair.behavior
        pairs.append({
            "old_policy": policy(pair.old_name, pair.old), "new_policy": policy(pair.new_name, pair.new),
            "structural": [c.to_dict() for c in pair.changes],
            "behavior": {"source": b.source, "claims_compared": b.compared, "claims_differing": b.differing,
                         "truncated": b.truncated, "claims_skipped": b.skipped,
                         "witnesses": [{**w.to_dict(), "id": f"W{i}", "alike": b.alike.get(w.key(), 1)}
                                       for i, w in enumerate(b.witnesses, 1)]},
            "no_effect": [c.key for c in pair.no_effect]})
    return {"old": report.old_label, "new": report.new_label, "behavioral_change": report.behavioral_change,
            "exit_code": report.exit_code, "pairs": pairs,
            "policies_removed": [policy(name, p) for name, p in report.removed],
            "policies_added": [policy(name, p) for name, p in report.added]}


__all__ = ["Change", "DiffInputError", "DiffReport", "PairReport", "Side", "line_text", "pair_policies",
           "read_side", "render_text", "rows_in_force", "run_diff", "sources_summary", "structural_changes",
           "to_dict", "toggled_parts"]
