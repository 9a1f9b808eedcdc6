"""The two sides of a diff, read: a policy file, a folder of policies, or `REV:path` from git.

A revision is exported with `git archive` into a temporary folder that lives as long as the caller's
`ExitStack`: the whole `policies` folder above the path comes from that revision, so the data files
beside a policy and the parents it `extends` are the revision's too, never the working tree's. An
error in a revision's policy names the file as `REV:path`, not as the temporary folder.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
import tarfile
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..engine.loader import POLICY_SUFFIX, LoadedPolicy, find_files, load_file, policy_tree
from ..errors import CtsdslError, Diagnostic


class DiffInputError(CtsdslError):
    """A side of the diff cannot be read: a missing path, a bad revision, a policy with errors."""

    exit_code = 2



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


__all__ = ["DiffInputError", "Side", "pair_policies", "read_side"]
