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
import json
import subprocess
import tarfile
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, cast

from . import nodes as n
from .errors import CtsdslError, Diagnostic
from .printer import format_expr, format_literal
from .loader import POLICY_SUFFIX, LoadedPolicy, find_files, load_file, policy_tree
from .tables import TableData

if TYPE_CHECKING:  # witness imports this module (for Change); it is imported here only when diffing behavior
    from .witness import Behavior


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
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise DiffInputError(Diagnostic("diff-git", "REV:path needs git, which is not installed", "git")) from None
    except subprocess.TimeoutExpired:
        raise DiffInputError(Diagnostic("diff-git", f"git {args[0]} took longer than two minutes", "git")) from None


def _is_git_spec(spec: str) -> bool:
    if ":" not in spec or Path(spec).exists():
        return False
    return len(spec.split(":", 1)[0]) > 1  # not a Windows drive letter


def _checkout(spec: str, stack: ExitStack) -> tuple[Path, Path]:
    """Write the part of revision REV that `REV:path` needs into a temporary folder; the path's copy there.

    Returns the path's copy and the temporary folder (the revision's root). The nearest
    folder named `policies` above the path comes along whole, so data files
    and the parents a policy extends are read from the same revision.
    """
    rev, rel = spec.split(":", 1)
    cwd = Path.cwd()
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise DiffInputError(Diagnostic("diff-git", "not inside a git repository", spec,
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
        raise DiffInputError(Diagnostic("diff-git", f"git cannot read {full or '.'} at revision {rev}"
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
        raise DiffInputError(Diagnostic("diff-git", "git archive failed: "
                                        f"{archive.stderr.decode(errors='replace').strip()}", spec))
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ctsdsl-diff-")))
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # refuses links and paths that leave the folder
            tar.extractall(tmp, filter="data")
        else:  # pragma: no cover - Pythons before the filter; git archive writes plain files
            tar.extractall(tmp)
    return (tmp / full if full else tmp), tmp


def _policy_paths(path: Path, label: str) -> list[Path]:
    if path.is_dir():
        files = find_files(path)
        if not files:
            raise DiffInputError(Diagnostic("diff-empty", f"no {POLICY_SUFFIX} files in this folder", label))
        return files
    if not path.exists():
        raise DiffInputError(Diagnostic("diff-missing", "no such file or folder", label,
                                        hint="give a .cts file, a folder of policies, or REV:path"))
    return [path]


def read_side(spec: str, stack: ExitStack) -> Side:
    """Load every policy of one side; errors in them become `DiffInputError` (exit 2)."""
    checkout = None
    if _is_git_spec(spec):
        path, checkout = _checkout(spec, stack)
    else:
        path = Path(spec)
    policies = []
    for file in _policy_paths(path, spec):
        try:
            with policy_tree(path if path.is_dir() else path.parent):  # each side's parents from its own tree
                policies.append(load_file(file))
        except CtsdslError as exc:
            diagnostics = exc.diagnostics
            if checkout is not None:  # name the file as REV:path, not as a temporary folder that is gone
                rev = spec.split(":", 1)[0]
                diagnostics = [_renamed(d, checkout, rev) for d in diagnostics]
            raise DiffInputError(diagnostics) from None
    root = path if path.is_dir() else path.parent
    return Side(spec, policies, root)


def _renamed(d: Diagnostic, root: Path, rev: str) -> Diagnostic:
    for prefix in {str(root) + "/", str(root.resolve()) + "/"}:
        if d.source_name.startswith(prefix):
            name = f"{rev}:{d.source_name[len(prefix):]}"
            return dataclasses.replace(d, source_name=name, message=d.message.replace(prefix, f"{rev}:"))
    return d


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
    from .claims import load_claim_file, validate_claim
    from .witness import replay, unwitnessed, witnesses
    claims = None
    if claims_file is not None:
        claims = [(location, validate_claim(raw, location)) for location, raw in load_claim_file(claims_file)]
    with ExitStack() as stack:
        old, new = read_side(old_spec, stack), read_side(new_spec, stack)
        pairs, removed, added = pair_policies(old, new)
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
    return "\n".join(out)


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
