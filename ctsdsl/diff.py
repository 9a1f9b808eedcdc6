"""Compare two versions of a policy, for review: what changed in the text's meaning, and which claims it moves.

Structural: the resolved policies (overlays flattened, so an inherited change counts)
are compared item by item as syntax trees. Spans are out of equality, so layout and
the order of items are never changes; a changed expression is shown as its old and
new text, printed by the formatter. Data tables are compared row by row, each side
reading the rows in force during its own policy's effective period.

Behavioral: see `ctsdsl.witness`, which replays claims or generates witness claims
and names the structural change that moves each one.

Each side of a diff is a policy file, a folder of policies, or `REV:path` read from
git at that revision (with the data files and parent policies of the same revision).
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
import tarfile
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import nodes as n
from .errors import CtsdslError, Diagnostic
from .formatter import format_expr, format_literal
from .loader import POLICY_SUFFIX, LoadedPolicy, load_file
from .tables import TableData


class DiffInputError(CtsdslError):
    """A side of the diff cannot be read: a missing path, a bad revision, a policy with errors."""

    exit_code = 2


# ---------------------------------------------------------------- reading a side


@dataclass
class Side:
    """One side of a diff: its label as the user wrote it, and its checked policies."""

    label: str
    policies: list[LoadedPolicy]
    root: Path  # where paths are shown relative to (the temporary checkout for REV:path)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60)


def _is_git_spec(spec: str) -> bool:
    if ":" not in spec or Path(spec).exists():
        return False
    return len(spec.split(":", 1)[0]) > 1  # not a Windows drive letter


def _checkout(spec: str, stack: ExitStack) -> Path:
    """Write the part of revision REV that `REV:path` needs into a temporary folder; the path's copy there.

    The nearest folder named `policies` above the path comes along whole, so data files
    and the parents a policy extends are read from the same revision.
    """
    rev, rel = spec.split(":", 1)
    cwd = Path.cwd()
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise DiffInputError(Diagnostic("diff-git", f"{spec}: not inside a git repository", spec,
                                        hint="run ctsdsl diff from the repository, or give file paths"))
    prefix = _git(["rev-parse", "--show-prefix"], cwd).stdout.decode().strip()
    parts: list[str] = []
    for part in PurePosixPath(prefix + (rel or ".")).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    full = "/".join(parts)
    kind = _git(["cat-file", "-t", f"{rev}:{full}"], Path(top.stdout.decode().strip()))
    if kind.returncode != 0:
        why = kind.stderr.decode(errors="replace").strip().splitlines()
        raise DiffInputError(Diagnostic("diff-git", f"{spec}: git cannot read {full or '.'} at revision {rev}"
                                        + (f" ({why[-1]})" if why else ""), spec,
                                        hint="write REV:path, e.g. main:policies/medicare/cts-2025.cts"))
    is_tree = kind.stdout.decode().strip() == "tree"
    anchor = next((i for i in range(len(parts) - 1, -1, -1) if parts[i] == "policies"), None)
    if anchor is not None:
        export = parts[:anchor + 1]
    else:
        export = parts if is_tree else parts[:-1]
    root = Path(top.stdout.decode().strip())
    archive = _git(["archive", "--format=tar", rev, "--", "/".join(export) or "."], root)
    if archive.returncode != 0:
        raise DiffInputError(Diagnostic("diff-git", f"{spec}: git archive failed: "
                                        f"{archive.stderr.decode(errors='replace').strip()}", spec))
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ctsdsl-diff-")))
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / full if full else tmp


def _policy_paths(path: Path, label: str) -> list[Path]:
    if path.is_dir():
        files = sorted(path.rglob("*" + POLICY_SUFFIX))
        if not files:
            raise DiffInputError(Diagnostic("diff-empty", f"{label}: no {POLICY_SUFFIX} files in this folder", label))
        return files
    if not path.exists():
        raise DiffInputError(Diagnostic("diff-missing", f"{label}: no such file or folder", label,
                                        hint="give a .cts file, a folder of policies, or REV:path"))
    return [path]


def read_side(spec: str, stack: ExitStack) -> Side:
    """Load every policy of one side; errors in them become `DiffInputError` (exit 2)."""
    path = _checkout(spec, stack) if _is_git_spec(spec) else Path(spec)
    policies = []
    for file in _policy_paths(path, spec):
        try:
            policies.append(load_file(file))
        except CtsdslError as exc:
            raise DiffInputError(exc.diagnostics) from None
    root = path if path.is_dir() else path.parent
    return Side(spec, policies, root)


def pair_policies(old: Side, new: Side) -> tuple[list[tuple[LoadedPolicy, LoadedPolicy]], list, list]:
    """Pairs to compare (matched by policy name; two single files are always a pair), removed, added."""
    if len(old.policies) == 1 and len(new.policies) == 1:
        return [(old.policies[0], new.policies[0])], [], []
    by_name = {p.header.name: p for p in new.policies}
    pairs, removed = [], []
    for p in old.policies:
        match = by_name.pop(p.header.name, None)
        if match is None:
            removed.append(p)
        else:
            pairs.append((p, match))
    return pairs, removed, list(by_name.values())


# ---------------------------------------------------------------- structural changes


@dataclass(frozen=True)
class Change:
    """One structural difference: which item, and each field's old and new text (None: absent)."""

    kind: str  # header, rule, fee, param, let, table, row, source
    name: str
    action: str  # added, removed, changed
    details: tuple[tuple[str, str | None, str | None], ...] = ()
    # Names a witness's cause may cite for this change: a rule id, a parameter, `table[key]`, `governs`.
    refs: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def key(self) -> str:
        return f"{self.kind} {self.name}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "action": self.action,
                "details": [{"field": f, "old": o, "new": w} for f, o, w in self.details]}


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
        return format_expr(value)
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


def _item_changes(old: n.Policy, new: n.Policy) -> list[Change]:
    before, after = _items(old), _items(new)
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        kind, name = key
        a, b = before.get(key), after.get(key)
        fields = _FIELDS[type(a or b)]
        refs = frozenset({name}) if kind != "source" else frozenset()
        if a is None or b is None:
            present = a or b
            details = tuple((f, _text(getattr(present, f)), None) if b is None else (f, None, _text(getattr(present, f)))
                            for f in fields if getattr(present, f) not in (None, "", ()))
            changes.append(Change(kind, name, "removed" if b is None else "added", details, refs))
            continue
        if type(a) is not type(b):
            changes.append(Change(kind, name, "changed", (("kind", type(a).__name__, type(b).__name__),), refs))
            continue
        details = tuple((f, _text(getattr(a, f)), _text(getattr(b, f))) for f in fields
                        if getattr(a, f) != getattr(b, f))
        if details:
            changes.append(Change(kind, name, "changed", details, refs))
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
                row = (va or vb)[-1][1]
                shown = ", ".join(f"{c}={_cell(v)}" for c, v in row.items()
                                  if v is not None and c not in _PROVENANCE and c != table.key)
                changes.append(Change("row", f"{name}[{key}]", "added" if va is None else "removed",
                                      (("row", shown, None) if vb is None else ("row", None, shown),), refs))
                continue
            ra, rb = va[-1][1], vb[-1][1]
            skip = {table.dated_by, table.key, *_PROVENANCE}
            details = tuple((c, _cell(ra.get(c)), _cell(rb.get(c))) for c in dict.fromkeys([*ra, *rb])
                            if c not in skip and ra.get(c) != rb.get(c))
            if details:
                if table.dated_by:
                    details = ((table.dated_by, va[-1][0], vb[-1][0]),) + details
                changes.append(Change("row", f"{name}[{key}]", "changed", details, refs))
    return changes


def _cell(value) -> str | None:
    return None if value is None else str(value)


def structural_changes(old: LoadedPolicy, new: LoadedPolicy) -> list[Change]:
    """Every structural difference between two resolved policies, header first, then items, then data rows."""
    return [*_header_changes(old.header, new.header), *_item_changes(old.policy, new.policy),
            *_row_changes(old, new)]

