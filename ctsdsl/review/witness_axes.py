"""Which things about a claim each edit reads, so that witnesses can vary two at once where two edits meet.

The witness generator (`ctsdsl.review.witness`) varies one thing at a time: the minutes, the place
of service, a spend toward a threshold. Two edits can interact where neither shows alone:
telehealth allowed for therapists (place of service) and a new KX threshold (spend) move a
telehealth claim near the threshold in a way neither single-axis claim does. Varying every
pair of axes for every code would multiply the claims by the hundreds, so pairs are made
only of axes that two different edits read, found from the policies' syntax: each edited
rule or fee, or each rule or fee that reads an edited parameter, named expression or table,
and the claim fields its conditions and amounts read (through named expressions).

An axis is a name for what a variant changes (`place`: place of service and provider type);
`writes` says which fields one variant sets, so that two variants setting the same field are
never combined (the second would undo the first).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from ..engine.loader import LoadedPolicy
from ..language import nodes as n
from .diff_structure import Change

# Each axis, and the claim and line fields that, when an edit reads them, make it an axis the edit reads.
AXIS_FIELDS: dict[str, frozenset[str]] = {
    "minutes": frozenset({"minutes"}),
    "units": frozenset({"units"}),
    "patients": frozenset({"patients_represented"}),
    "caregivers": frozenset({"caregivers"}),
    "place": frozenset({"place_of_service", "provider_type"}),
    "modifiers": frozenset({"modifiers", "provider_type"}),  # modifier rules may hold for one provider type
    "documentation": frozenset({"documentation"}),
    "presence": frozenset({"patient_present"}),
    "apm": frozenset({"apm_qualifying"}),
    "amount": frozenset(),  # the claim amounts the policies read: given by the caller
}

# The fields of a rule or fee whose edit can move a decision (a new title or citation moves none).
_EFFECT = {"rule": frozenset({"scope", "where", "when", "outcome"}), "fee": frozenset({"where", "amount"})}


class Variant(NamedTuple):
    """One change to a witness's base claim, and what it varies."""

    label: str
    change: Callable[..., object]  # called with a fresh copy of the base claim, which it edits in place of the base claim in place
    axis: str = ""  # one of AXIS_FIELDS, or "" for a variant never paired (extra lines, next-day sessions)
    writes: frozenset[str] = frozenset()


def _decisive(item: n.Node) -> list[n.Node]:
    """The parts of a rule or fee that decide a line (its message and title only describe it)."""
    parts = [item.where, item.when, item.outcome] if isinstance(item, n.Rule) else [item.where, item.amount]  # type: ignore[attr-defined]
    return [p for p in parts if p is not None]


class _Reads(NamedTuple):
    names: frozenset[str]  # parameters, named expressions and tables read, through named expressions
    fields: frozenset[str]  # claim and line fields read, through named expressions


def _reads(policy: n.Policy) -> dict[tuple[str, str], _Reads]:
    """For each rule and fee of one policy, by (kind, id): what it reads."""
    lets = {let.name: let.expr for let in policy.of_kind(n.Let)}
    memo: dict[str, _Reads] = {}

    def of(nodes: Iterable[n.Node], seen: frozenset[str]) -> _Reads:
        names: set[str] = set()
        fields: set[str] = set()
        for root in nodes:
            for node in root.walk():
                if isinstance(node, n.Attribute) and isinstance(node.obj, n.Name):
                    fields.add(node.name)
                elif isinstance(node, n.Name):
                    names.add(node.name)
                    if node.name in lets and node.name not in seen:  # a let that reads itself is the checker's
                        if node.name not in memo:
                            memo[node.name] = of([lets[node.name]], seen | {node.name})
                        names |= memo[node.name].names
                        fields |= memo[node.name].fields
        return _Reads(frozenset(names), frozenset(fields))

    out = {}
    for item in policy.items:
        if isinstance(item, (n.Rule, n.Fee)):
            out[("rule" if isinstance(item, n.Rule) else "fee", item.id)] = of(_decisive(item), frozenset())
    return out


def _moves(change: Change) -> bool:
    """Whether an edit can move a decision at all (a rule's new message cannot)."""
    if change.kind in ("source", "header"):
        return False
    if change.kind in _EFFECT and change.action == "changed":
        return any(d[0] in _EFFECT[change.kind] for d in change.details)
    return not (change.kind == "table" and all(d[0] == "cites" for d in change.details))


def edit_axes(policies: list[LoadedPolicy], changes: list[Change], amounts: list[str]) -> dict[str, set[str]]:
    """For each edit that can move a decision (by its key, `rule x`), the axes it reads, on either side."""
    fields_of = dict(AXIS_FIELDS, amount=frozenset(amounts))
    reads: dict[tuple[str, str], list[_Reads]] = {}
    for p in policies:
        for key, r in _reads(p.policy).items():
            reads.setdefault(key, []).append(r)
    out: dict[str, set[str]] = {}
    for c in changes:
        if not _moves(c):
            continue
        if c.kind in ("rule", "fee"):
            readers = reads.get((c.kind, c.name), [])
        else:  # a parameter, named expression, table or row: the rules and fees that read it
            base = c.name.split("[", 1)[0]
            readers = [r for rs in reads.values() for r in rs if base in r.names]
        fields = set().union(*(r.fields for r in readers)) if readers else set()
        axes = {axis for axis, names in fields_of.items() if names & fields}
        if axes:
            out[c.key] = axes
    return out


def interacting(axes: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The pairs of axes where two different edits meet: one reads the first, another the second."""
    found: set[tuple[str, str]] = set()
    for one, first in axes.items():
        for other, second in axes.items():
            if one != other:
                found |= {(min(a, b), max(a, b)) for a in first for b in second if a != b}
    return sorted(found)


def combined(pairs: list[tuple[str, str]], singles: Iterable[Variant],
             outcomes: Callable[..., tuple | None], most: int) -> Iterator[tuple[Variant, Variant]]:
    """The variants of one code to combine, two at a time, for each pair of axes.

    `outcomes(*variants)` is each policy's decision on the base claim so varied (None: not a claim
    both policies can decide). On each axis only the values that alone move a decision of either
    policy are combined (a value that moves neither is the base claim again): first those where the
    two policies disagree (an edit acts there), then those that move both alike (a limit both have,
    which an edit on another axis may cross); at most `most` of them, spread along the axis.
    """
    plain = outcomes()
    acting: dict[str, list[Variant]] = {}
    moving: dict[str, list[Variant]] = {}
    paired = {axis for pair in pairs for axis in pair}
    for v in singles:
        if v.axis in paired:
            seen = outcomes(v)
            if seen is not None and seen[0] != seen[1]:
                acting.setdefault(v.axis, []).append(v)
            elif seen is not None and seen != plain:
                moving.setdefault(v.axis, []).append(v)

    def chosen(axis: str) -> list[Variant]:
        first = spread(acting.get(axis, []), most)
        return first + spread(moving.get(axis, []), most - len(first))

    for one, other in pairs:
        for a, b in itertools.product(chosen(one), chosen(other)):
            if not a.writes & b.writes:  # else the second would undo the first (a spend under a modifier)
                yield a, b


def spread(items: list, most: int) -> list:
    """At most `most` of `items`, evenly spaced and keeping the first and last (the extremes of an axis)."""
    if len(items) <= most:
        return items
    if most <= 0:
        return []
    if most == 1:
        return items[:1]
    step = (len(items) - 1) / (most - 1)
    return [items[round(i * step)] for i in range(most)]


__all__ = ["AXIS_FIELDS", "Variant", "combined", "edit_axes", "interacting", "spread"]
