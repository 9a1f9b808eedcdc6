"""Read a policy file and its data files, and check them: the I/O stage of the pipeline.

Everything a policy reads comes through here, so the rules on what it may read
(its own folder only, size limits) are enforced in one place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from . import nodes as n
from .checker import CheckedPolicy, check
from .decision import PolicyInfo
from .errors import Diagnostic, PolicySemanticError, PolicySyntaxError
from .parser import parse_with_problems
from .tables import TableData, load_table, resolve_data_path

MAX_POLICY_BYTES = 1024 * 1024
POLICY_SUFFIX = ".cts"


@dataclass
class LoadedPolicy:
    """A parsed, loaded and checked policy, ready to compile."""

    path: Path
    text: str
    checked: CheckedPolicy
    digest: str

    @property
    def policy(self) -> n.Policy:
        return self.checked.policy

    @property
    def header(self) -> n.PolicyHeader:
        return self.checked.policy.header

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.checked.diagnostics

    def info(self) -> PolicyInfo:
        h = self.header
        return PolicyInfo(h.name, h.payer, h.version, h.effective_from, h.effective_to, self.digest,
                          str(self.path), h.title)


def read_policy_text(path: Path) -> str:
    """The policy's text, or a located error for a missing, huge or non-text file."""
    name = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise PolicySemanticError(Diagnostic("missing-file", f"policy file not found: {name}", name)) from None
    except OSError as exc:
        raise PolicySemanticError(Diagnostic("unreadable", f"cannot read {name}: {exc.strerror}", name)) from None
    if path.is_dir():
        raise PolicySemanticError(Diagnostic("not-a-file", f"{name} is a directory", name,
                                             hint=f"name a {POLICY_SUFFIX} file inside it"))
    if size > MAX_POLICY_BYTES:
        raise PolicySemanticError(Diagnostic("too-large", f"{name} is {size} bytes; the limit is {MAX_POLICY_BYTES}",
                                             name))
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise PolicySemanticError(Diagnostic("binary", f"{name} is not a text file", name))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PolicySemanticError(Diagnostic("encoding", f"{name} is not UTF-8 (byte {exc.start})", name)) from None


def load_text(text: str, path: Path, *, raise_on_error: bool = True) -> LoadedPolicy:
    """Parse, load data files for and check policy text that lives at `path`.

    Raises:
        PolicySyntaxError: the text does not parse.
        PolicySemanticError: the checker found errors (only when `raise_on_error`).
    """
    name = str(path)
    try:
        policy, problems = parse_with_problems(text, name)
    except PolicySyntaxError as exc:
        # Attach the text so the diagnostic can show the offending line.
        raise PolicySyntaxError([_with_text(d, text) for d in exc.diagnostics]) from None
    problems = [_with_text(d, text) for d in problems]
    tables: dict[str, TableData] = {}
    digest = hashlib.sha256(text.encode("utf-8"))
    for decl in policy.of_kind(n.Table):
        target, why = resolve_data_path(path, decl.path)
        if target is None:
            problems.append(Diagnostic("data-path", f"table `{decl.name}`: {why}", name, decl.span,
                                       f'write a path such as "data/{Path(decl.path).name}"', source_text=text))
            continue
        table, table_problems = load_table(decl.name, target, decl.key, decl.dated_by, decl.span, name)
        problems.extend(_with_text(d, text) if d.source_name == name else d for d in table_problems)
        if table is not None:
            tables[decl.name] = table
            digest.update(b"\0" + decl.name.encode() + b"\0" + table.raw)
    checked = check(policy, tables, text, problems)
    loaded = LoadedPolicy(path, text, checked, "sha256:" + digest.hexdigest())
    if raise_on_error and checked.errors:
        raise PolicySemanticError(checked.errors)
    return loaded


def load_file(path: str | Path, *, raise_on_error: bool = True) -> LoadedPolicy:
    """Load one policy file (see `load_text`)."""
    path = Path(path)
    return load_text(read_policy_text(path), path, raise_on_error=raise_on_error)


def _with_text(d: Diagnostic, text: str) -> Diagnostic:
    if d.source_text is not None:
        return d
    return Diagnostic(d.code, d.message, d.source_name, d.span, d.hint, d.severity, d.path, text)
