"""Structural diff: what changed in a policy's meaning, item by item, as `Change` values.

The resolved policies (overlays flattened, so an inherited change counts) are compared item by
item as syntax trees. Spans are out of equality, so layout and the order of items are never
changes; a changed expression is shown as its old and new text, printed by `printer`. Data tables
are compared row by row, each side reading the rows in force during its own policy's effective
period.

This module owns `Change`: the witness generator (`witness`, `witness_axes`) reads it to name the
edit that moves a claim, and the diff reports (`diff`, `diff_markdown`) render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from ..engine.loader import LoadedPolicy
from ..language import nodes as n
from ..language.printer import format_expr, format_literal
from ..language.tables import TableData


@dataclass(frozen=True)
class Change:
    """One structural difference: which item, and each field's old and new text (None: absent)."""

    kind: str  # header, rule, fee, param, let, table, row, source
    name: str
    action: str  # added, removed, changed
    details: tuple[tuple[str, str | None, str | None], ...] = ()
    # Names a witness's cause may cite for this change: `rule ID`, `fee ID`, a parameter, `table[key]`, `governs`.
    refs: frozenset[str] = field(default=frozenset(), compare=False)
    # For a parent's rule an overlay's `disable` line switches: "disabled" (NEW adds the line, action
    # removed) or "re-enabled" (NEW drops it, action added). The rule itself did not come or go.
    toggled: str = ""
    # The parent file a changed item comes from in both policies (an overlay or a later year that
    # does not restate it): the pair shows the parent's edit as its own, and says where it was made.
    inherited_from: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def shown_action(self) -> str:
        """The action as a reviewer reads it: a `disable` line added or dropped says so."""
        return self.toggled or self.action

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "name": self.name, "action": self.action,
               "details": [{"field": f, "old": o, "new": w} for f, o, w in self.details]}
        if self.toggled:  # added to the contract later: present only for a toggled rule
            out["toggled"] = self.toggled
        if self.inherited_from:  # added later too: present only for an item both sides inherit
            out["inherited_from"] = self.inherited_from
        return out


def _text(value) -> str | None:
    """A piece of syntax as policy text, for showing old against new."""
    if value is None:
        return None
    if isinstance(value, n.Literal):
        return format_literal(value)
    if isinstance(value, n.Outcome):
        return value.kind + (f" units to {format_expr(value.units)}" if value.units is not None else "")
    if isinstance(value, n.Template):
        return value.raw or "".join(p if isinstance(p, str) else "{" + format_expr(p) + "}" for p in value.parts)
    if isinstance(value, n.Node):
        return format_expr(cast(n.Expr, value))  # the other node kinds are handled above
    if isinstance(value, tuple):
        if all(isinstance(v, n.Citation) for v in value):
            return ", ".join(c.source for c in value)
        if all(isinstance(v, n.ReasonCode) for v in value):
            return ", ".join(f"{r.system} {r.code}" for r in value)
        if all(isinstance(v, n.DatedValue) for v in value):
            return "; ".join(f"from {d.start}" + (f" to {d.end}" if d.end else "") + f" = {_text(d.value)}"
                             for d in value)
        return ", ".join(str(v) for v in value)
    return str(value)


_FIELDS = {
    n.Rule: ("title", "scope", "where", "when", "outcome", "reasons", "message", "cites", "note"),
    n.Fee: ("title", "where", "amount", "cites", "note"),
    n.Param: ("type_name", "value", "dated", "cites"),
    n.Let: ("expr",),
    n.Table: ("path", "key", "dated_by", "cites"),
    n.Source: ("title", "url", "date", "confidence", "note"),
}
_KIND = {n.Rule: "rule", n.Fee: "fee", n.Param: "param", n.Let: "let", n.Table: "table", n.Source: "source"}


def _name(item) -> str:
    return getattr(item, "id", None) or item.name


def _items(policy: n.Policy) -> dict[tuple[str, str], n.Node]:
    return {(_KIND[type(i)], _name(i)): i for i in policy.items if type(i) in _KIND}


def _inherited(a: n.Node, b: n.Node, old_file: Path | None, new_file: Path | None) -> str:
    """The parent file's name when both sides' item comes from a file other than their own policy's."""
    origins = (getattr(a, "origin", ""), getattr(b, "origin", ""))
    if not all(origins) or old_file is None or new_file is None:
        return ""
    if Path(origins[0]).resolve() == old_file.resolve() or Path(origins[1]).resolve() == new_file.resolve():
        return ""
    return Path(origins[1]).name


def _item_changes(old: n.Policy, new: n.Policy, old_file: Path | None = None,
                  new_file: Path | None = None) -> list[Change]:
    before, after = _items(old), _items(new)
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        kind, name = key
        a, b = before.get(key), after.get(key)
        fields = _FIELDS[type(a or b)]
        # A rule and a parameter may share a name (rule kx_threshold_ot reads param kx_threshold_ot):
        # a rule or fee is cited by kind and name, so a read of the parameter never witnesses the rule.
        refs = frozenset() if kind == "source" else frozenset({f"{kind} {name}" if kind in ("rule", "fee") else name})
        if a is None or b is None:
            present = a or b
            details: tuple[tuple[str, str | None, str | None], ...] = tuple(
                (f, _text(getattr(present, f)), None) if b is None else (f, None, _text(getattr(present, f)))
                for f in fields if getattr(present, f) not in (None, "", ()))
            # An overlay's `disable` line added (the rule is gone from NEW) or dropped (it is back):
            # say so, and why, in the overlay's words, rather than as a rule written or deleted.
            switch = [d for d in (new if b is None else old).of_kind(n.Disable) if d.rule == name]
            toggled = ""
            if switch and kind == "rule":
                toggled = "disabled" if b is None else "re-enabled"
                details = ((("disabled", None, switch[0].reason) if b is None
                            else ("disabled", switch[0].reason, None)),) + details
            changes.append(Change(kind, name, "removed" if b is None else "added", details, refs, toggled))
            continue
        if type(a) is not type(b):
            changes.append(Change(kind, name, "changed", (("kind", type(a).__name__, type(b).__name__),), refs))
            continue
        details = tuple((f, _text(getattr(a, f)), _text(getattr(b, f))) for f in fields
                        if getattr(a, f) != getattr(b, f))
        if details:
            changes.append(Change(kind, name, "changed", details, refs,
                                  inherited_from=_inherited(a, b, old_file, new_file)))
    return changes


def _header_changes(old: n.PolicyHeader, new: n.PolicyHeader) -> list[Change]:
    details = []
    for label, a, b in (("name", old.name, new.name), ("payer", old.payer, new.payer),
                        ("version", old.version, new.version),
                        ("effective", f"{old.effective_from} to {old.effective_to or '(open)'}",
                         f"{new.effective_from} to {new.effective_to or '(open)'}"),
                        ("extends", old.extends, new.extends)):
        if a != b:
            details.append((label, a, b))
    changes = [Change("header", "policy", "changed", tuple(details))] if details else []
    added = [c for c in new.governs if c not in old.governs]
    removed = [c for c in old.governs if c not in new.governs]
    if added or removed:
        changes.append(Change("header", "governs", "changed",
                              (("governs", ", ".join(old.governs), ", ".join(new.governs)),)
                              + ((("codes added", None, ", ".join(added)),) if added else ())
                              + ((("codes removed", ", ".join(removed), None),) if removed else ()),
                              frozenset({"governs", *(f"governs[{c}]" for c in added + removed)})))
    return changes


def rows_in_force(table: TableData, header: n.PolicyHeader) -> dict[str, list[tuple[str, dict]]]:
    """Each key's row versions that apply during the policy's effective period (oldest first).

    An undated table applies whole. A dated one contributes, per key, the version in
    force on the first day and every version starting before the last day.
    """
    out = {}
    for key, versions in table.rows.items():
        if table.dated_by is None:
            out[key] = [("", versions[0][1])]
            continue
        start, end = header.effective_from, header.effective_to
        chosen = [(s, r) for s, r in versions if s > start and (end is None or s <= end)]
        first = next(((s, r) for s, r in versions if s <= start), None)  # newest first
        if first is not None:
            chosen.append(first)
        if chosen:
            out[key] = sorted(chosen, key=lambda v: v[0])
    return out


_PROVENANCE = ("source", "confidence", "description")  # columns that say where a figure came from, not the figure


def _row_changes(old: LoadedPolicy, new: LoadedPolicy) -> list[Change]:
    changes = []
    for name, table in old.checked.tables.items():
        other = new.checked.tables.get(name)
        if other is None:
            continue
        a, b = rows_in_force(table, old.header), rows_in_force(other, new.header)
        for key in [*a, *(k for k in b if k not in a)]:
            refs = frozenset({name, f"{name}[{key}]"})
            va, vb = a.get(key), b.get(key)
            if va is None or vb is None:
                versions = va if va is not None else vb
                assert versions is not None  # the key came from one side or the other
                row = versions[-1][1]
                shown = ", ".join(f"{c}={_cell(v)}" for c, v in row.items()
                                  if v is not None and c not in _PROVENANCE and c != table.key)
                changes.append(Change("row", f"{name}[{key}]", "added" if va is None else "removed",
                                      (("row", shown, None) if vb is None else ("row", None, shown),), refs))
                continue
            skip = {table.dated_by, table.key, *_PROVENANCE}
            if table.dated_by and old.header.effective_from == new.header.effective_from:
                # Two versions of one year's policy (a pull request): every dated version counts, so a
                # quarter's rows added with the same figures (July's release confirming January's) are
                # shown, and so is a confidence that moved (likely -> verified).
                details = _version_changes(va, vb, skip - {"confidence"})
                if details:
                    changes.append(Change("row", f"{name}[{key}]", "changed", details, refs))
                continue
            ra, rb = va[-1][1], vb[-1][1]
            details = tuple((c, _cell(ra.get(c)), _cell(rb.get(c))) for c in dict.fromkeys([*ra, *rb])
                            if c not in skip and ra.get(c) != rb.get(c))
            if details:
                # The version's date is shown when it moved too (2024's row against 2025's); an
                # unchanged date is no change, and only changed cells are listed.
                if table.dated_by and va[-1][0] != vb[-1][0]:
                    details = ((table.dated_by, va[-1][0], vb[-1][0]),) + details
                changes.append(Change("row", f"{name}[{key}]", "changed", details, refs))
    return changes


def _version_changes(va: list[tuple[str, dict]], vb: list[tuple[str, dict]], skip: set) -> tuple:
    """The dated versions of one key, old against new: the dates if they differ, then each cell that
    moved in a version both sides have (named `column from DATE` where the key has several)."""
    details: list[tuple[str, str | None, str | None]] = []
    da, db = [start for start, _ in va], [start for start, _ in vb]
    if da != db:
        details.append(("versions from", ", ".join(da) or None, ", ".join(db) or None))
    old_rows, new_rows = dict(va), dict(vb)
    for start in (d for d in db if d in old_rows):
        ra, rb = old_rows[start], new_rows[start]
        where = f" from {start}" if len(da) > 1 or len(db) > 1 else ""
        details += [(f"{c}{where}", _cell(ra.get(c)), _cell(rb.get(c))) for c in dict.fromkeys([*ra, *rb])
                    if c not in skip and ra.get(c) != rb.get(c)]
    return tuple(details)


def _cell(value) -> str | None:
    return None if value is None else str(value)


def structural_changes(old: LoadedPolicy, new: LoadedPolicy) -> list[Change]:
    """Every structural difference between two resolved policies, header first, then items, then data rows."""
    return [*_header_changes(old.header, new.header), *_item_changes(old.policy, new.policy, old.path, new.path),
            *_row_changes(old, new)]


__all__ = ["Change", "rows_in_force", "structural_changes"]
