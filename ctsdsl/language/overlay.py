"""Resolve a policy that `extends` another into one merged syntax tree.

Nothing is copied between files: an overlay names its parent, and the parent is
read afresh, so a change to the parent reaches every overlay. The merged tree
keeps, on every item, the file it came from (`origin`), so each finding can say
which layer decided it.

Merging, in order: the parent's items (themselves resolved), with each
`override` replacing its parent item in place (a rule or fee keeps the entries it
does not restate, and `inherited` in a restated expression stands for the
parent's), each `disable` removing a parent rule, and the overlay's new items
appended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from ..errors import Diagnostic, closest, did_you_mean
from . import nodes as n

MAX_CHAIN = 16
INHERITED = "inherited"
_DEAD_OVERRIDE_HINT = "keep one: delete the `disable` to change the rule, or delete the override to switch it off"
_OVERRIDABLE = (n.Param, n.Table, n.Let, n.Rule, n.Fee)
_ORIGINATED = (*_OVERRIDABLE, n.Disable, n.Facts, n.Stages, n.DeclaredField)  # the items that record the file they came from


@dataclass
class Layer:
    """One file of an overlay chain, child first, with what it did to the policy below it.

    Each change is written `kind name` (`rule telehealth_not_covered`, `param share`), in file order.
    """

    path: Path
    text: str
    header: n.PolicyHeader | None
    added: tuple[str, ...] = ()
    overridden: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


@dataclass
class Resolved:
    policy: n.Policy
    layers: list[Layer] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    # Each overridden parameter as the layer below had it, so the checker can hold the
    # override to the parent's type where the override is written, not where the parent uses it.
    replaced: dict[str, n.Param] = field(default_factory=dict)


def _key(item: n.Node) -> tuple[str, str] | None:
    if isinstance(item, (n.Rule, n.Fee)):
        return ("rule", item.id)
    if isinstance(item, n.Source):
        return ("source", item.id)
    if isinstance(item, (n.Param, n.Table, n.Let)):
        return ("value", item.name)
    if isinstance(item, n.DeclaredField):
        return ("field", item.path)
    return None


def _kind(item: n.Node) -> str:
    return "field" if isinstance(item, n.DeclaredField) else type(item).__name__.lower()


def _stamp(policy: n.Policy, origin: str) -> list[n.Item]:
    """The policy's items with their file recorded (items already stamped keep theirs)."""
    out: list[n.Item] = []
    for item in policy.items:
        if isinstance(item, _ORIGINATED) and not item.origin:
            item = dataclasses.replace(item, origin=origin)
        out.append(item)
    return out


@overload
def substitute_inherited(expr: n.Expr, parent_expr: n.Expr | None) -> n.Expr: ...
@overload
def substitute_inherited(expr: None, parent_expr: n.Expr | None) -> None: ...
@overload
def substitute_inherited(expr: n.Expr | None, parent_expr: n.Expr | None) -> n.Expr | None: ...


def substitute_inherited(expr: n.Expr | None, parent_expr: n.Expr | None) -> n.Expr | None:
    """`expr` with every `inherited` name replaced by the parent's expression."""
    if expr is None or parent_expr is None:
        return expr

    def make(node: n.Expr, children: dict[str, Any]) -> n.Expr:
        if isinstance(node, n.Name) and node.name == INHERITED:
            return parent_expr
        return dataclasses.replace(node, **children) if children else node

    return n.rebuild(expr, make)


_RULE_FIELDS = {"title": ("title",), "cites": ("cites",), "applies": ("scope", "where"), "when": ("when",),
                "outcome": ("outcome",), "reason": ("reasons",), "message": ("message",), "note": ("note",), "stage": ("stage",),
                "amount": ("amount",)}


def _merge_item(parent: n.Item, child: n.Item) -> n.Item:
    """The child override applied to its parent item, which the caller has found to be of the child's class."""
    if not isinstance(child, (n.Rule, n.Fee)):
        if isinstance(child, n.Let) and isinstance(parent, n.Let):
            return dataclasses.replace(child, expr=substitute_inherited(child.expr, parent.expr))
        return child
    changes: dict[str, Any] = {"override": True, "origin": child.origin, "span": child.span, "given": child.given}
    for entry in child.given:
        for attr in _RULE_FIELDS.get(entry, ()):
            value = getattr(child, attr)
            if attr in ("where", "when", "amount"):
                value = substitute_inherited(value, getattr(parent, attr))
            elif (attr == "outcome" and value is not None and value.units is not None
                  and isinstance(parent, n.Rule) and parent.outcome is not None):  # only rules have outcomes
                value = dataclasses.replace(value, units=substitute_inherited(value.units, parent.outcome.units))
            changes[attr] = value
    return dataclasses.replace(parent, **changes)


def resolve(policy: n.Policy, path: Path, text: str, find_parent: Callable[[str, Path], Path | None],
            read: Callable[[Path], tuple[n.Policy, str, list[Diagnostic]]],
            _stack: tuple[Path, ...] = (), *, reachable: Callable[[Path], list[str]] | None = None) -> Resolved:
    """Merge a policy with the chain of parents it extends.

    Args:
        policy: The overlay's own syntax tree.
        path: Its file.
        text: Its text.
        find_parent: Finds a parent file by the name or path given in `extends`.
        read: Reads and parses a parent file: (tree, text, structural problems).
        reachable: The policy names `find_parent` could find for this file, for a did-you-mean.

    Returns:
        The merged tree, the layers (child first) and any problems found in merging.
    """
    header = policy.header
    origin = str(path)
    own = _stamp(policy, origin)
    layer = Layer(path, text, header, *_changes(own))
    if header is None or not header.extends:
        return Resolved(dataclasses.replace(policy, items=tuple(own)), [layer])
    problems: list[Diagnostic] = []

    def problem(code: str, message: str, span: n.Span, hint: str = "") -> None:
        problems.append(Diagnostic(code, message, origin, span, hint, source_text=text))

    extends_span = dict(header.entry_spans).get("extends", header.span)
    stack = (*_stack, path.resolve())
    if header.extends == header.name:  # by name, a file is never its own parent: say why it is refused
        problem("extends-cycle", f'policy "{header.name}" extends itself', header.span,
                "a policy may not extend itself, directly or through others")
        return Resolved(dataclasses.replace(policy, items=tuple(own)), [layer], problems)
    parent_path = find_parent(header.extends, path)
    if parent_path is None:
        outside = header.extends.endswith(".cts") and (path.parent / header.extends).resolve().is_file()
        close = closest(header.extends, reachable(path)) if reachable and not outside else None
        problem("unknown-parent", f'policy "{header.name}" extends "{header.extends}", which cannot be found'
                + (" inside its policy tree" if outside else ""), extends_span,
                "the file exists but lies outside the nearest folder named `policies` above this policy (or, "
                "without one, this policy's folder), and a policy reads no file outside it: keep both under "
                "one folder named `policies`" if outside else
                f'did you mean "{close}"?' if close else
                "give the parent's policy name (as in its header) or a path to its .cts file")
        return Resolved(dataclasses.replace(policy, items=tuple(own)), [layer], problems)
    if parent_path.resolve() in stack or len(stack) > MAX_CHAIN:
        chain = " -> ".join(p.name for p in (*stack, parent_path))
        problem("extends-cycle", f"policies extend each other in a cycle: {chain}", header.span,
                "a policy may not extend itself, directly or through others")
        return Resolved(dataclasses.replace(policy, items=tuple(own)), [layer], problems)

    parent_tree, parent_text, parent_problems = read(parent_path)
    parent = resolve(parent_tree, parent_path, parent_text, find_parent, read, stack, reachable=reachable)
    problems.extend(parent_problems)
    problems.extend(parent.problems)
    if any(d.code == "extends-cycle" for d in parent.problems):  # merging round a cycle only repeats errors
        return Resolved(dataclasses.replace(policy, items=tuple(own)), [layer, *parent.layers], problems)
    parent_header = parent.policy.header
    parent_name = parent_header.name if parent_header else str(parent_path)

    merged: list[n.Item] = [i for i in parent.policy.items if not isinstance(i, n.PolicyHeader)]
    index = {key: i for i, item in enumerate(merged) if (key := _key(item)) is not None}
    removed: set[int] = set()
    appended: list[n.Item] = []
    replaced = dict(parent.replaced)
    # A rule both disabled and overridden: the disable wins, so the override is dead code, and
    # which one the author meant is anyone's guess. Said at the second, naming the first's line.
    disabled_at: dict[str, n.Span] = {}
    overridden_at: dict[str, n.Span] = {}
    for item in own:
        if isinstance(item, n.PolicyHeader):
            continue
        if isinstance(item, n.Disable):
            at = index.get(("rule", item.rule))
            if at is None or not isinstance(merged[at], n.Rule):
                problem("unknown-override", f"`disable {item.rule}`: parent policy {parent_name} has no such rule",
                        item.span, did_you_mean(item.rule, [k[1] for k in index if k[0] == "rule"]))
            else:
                removed.add(at)
                if item.rule in overridden_at:
                    problem("disabled-and-overridden", f"`disable {item.rule}`: this policy also overrides rule "
                            f"`{item.rule}` (line {overridden_at[item.rule].line}), and a disabled rule never runs",
                            item.span, _DEAD_OVERRIDE_HINT)
                disabled_at.setdefault(item.rule, item.span)
            appended.append(item)
            continue
        if isinstance(item, n.Facts):  # facts add to the parent's: what happened stays what happened
            appended.append(item)
            continue
        if isinstance(item, n.Stages):  # replaces the parent's list, which it must keep in order
            at_stages = next((k for k, i in enumerate(merged) if isinstance(i, n.Stages) and k not in removed), None)
            if at_stages is not None:
                inherited = merged[at_stages]
                assert isinstance(inherited, n.Stages)
                kept = [s for s in item.names if s in inherited.names]
                if kept != list(inherited.names):
                    missing = [s for s in inherited.names if s not in item.names]
                    problem("stage-order", f"`stages {', '.join(item.names)}` does not keep the parent's stages "
                            f"({', '.join(inherited.names)}) " + ("in order" if not missing else
                                                                 f"(it drops {', '.join(missing)})"),
                            item.span, "an overlay may add stages between and around its parent's, but it "
                            f"keeps every one of them in the parent's order: {', '.join(inherited.names)}")
                removed.add(at_stages)
            appended.append(item)
            continue
        key = _key(item)
        assert key is not None  # every item but the header, a disable and facts is keyed
        overriding = getattr(item, "override", False)
        at = index.get(key)
        if overriding:
            if at is None or type(merged[at]) is not type(item):
                names = [k[1] for k, i in index.items() if type(merged[i]) is type(item)]
                problem("unknown-override", f"`override {_kind(item)} {key[1]}`: parent policy {parent_name} has "
                        f"no {_kind(item)} of that name", item.span, did_you_mean(key[1], names))
                continue
            if isinstance(item, n.Rule) and item.id in disabled_at:
                problem("disabled-and-overridden", f"`override rule {item.id}`: this policy also disables it (line "
                        f"{disabled_at[item.id].line}), so the override never runs", item.span, _DEAD_OVERRIDE_HINT)
            if isinstance(item, n.Rule):
                overridden_at.setdefault(item.id, item.span)
            below = merged[at]
            if isinstance(item, n.Param) and isinstance(below, n.Param):
                replaced[item.name] = below
            merged[at] = _merge_item(merged[at], item)
        elif at is not None:
            where = getattr(merged[at], "origin", "") or parent_name  # sources carry no origin
            problem("already-defined", f"{_kind(item)} `{key[1]}` is already defined by the parent ({where})",
                    item.span, f"to replace it write `override {_kind(item)} {key[1]} ...`; or choose another name")
        else:
            appended.append(item)
    items = [i for k, i in enumerate(merged) if k not in removed]
    own_header = header
    if parent_header is not None and not own_header.governs:
        own_header = dataclasses.replace(own_header, governs=parent_header.governs)
    result = dataclasses.replace(policy, items=(own_header, *items, *appended))
    return Resolved(result, [layer, *parent.layers], problems, replaced)


def _changes(items: list[n.Item]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """What a file adds, overrides and disables, as `kind name` (sources are not counted)."""
    added: list[str] = []
    overridden: list[str] = []
    disabled: list[str] = []
    for item in items:
        if isinstance(item, n.Disable):
            disabled.append(f"rule {item.rule}")
        elif isinstance(item, _OVERRIDABLE):
            key = _key(item)
            assert key is not None  # every overridable kind is keyed
            (overridden if item.override else added).append(f"{_kind(item)} {key[1]}")
    return tuple(added), tuple(overridden), tuple(disabled)
