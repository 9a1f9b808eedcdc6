"""Read a policy file and its data files, and check them: the I/O stage of the pipeline.

Everything a policy reads comes through here, so the rules on what it may read
(its own folder only, size limits) are enforced in one place.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._resources import policies_folder_above
from ..language import nodes as n
from ..language.checked import CheckedPolicy
from .decision import PolicyInfo
from ..errors import CtsdslError, Diagnostic, PolicySemanticError
from ..limits import expansion_problems
from ..language.overlay import Layer, resolve
from ..language.source import POLICY_SUFFIX, parse_source, read_policy_text, with_text
from ..language.tables import TableData, load_table, resolve_data_path
from . import policy_cache


@dataclass
class LoadedPolicy:
    """A parsed, loaded and checked policy, ready to compile."""

    path: Path
    text: str
    checked: CheckedPolicy
    digest: str
    layers: list[Layer] = field(default_factory=list)
    # The checked policy `program_key` describes, set by `load_file` alone. A copy that changes it (a
    # test case's what-if rows: `dataclasses.replace`, which leaves this None) never finds the
    # original's compiled program; do not change a loaded policy's checked tree in place.
    keyed_checked: CheckedPolicy | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def policy(self) -> n.Policy:
        return self.checked.policy

    @property
    def header(self) -> n.PolicyHeader:
        header = self.checked.policy.header
        assert header is not None, "the checker refuses a policy without a header, so a loaded one has it"
        return header

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.checked.diagnostics

    def layer_names(self) -> dict[str, tuple[str, str]]:
        """Each file of the overlay chain: (policy name, version)."""
        return {str(l.path): (l.header.name, l.header.version) for l in self.layers if l.header is not None}

    def evaluator(self):
        """Compile this policy into an `Evaluator` (its compiled program kept on disk: `program_key`)."""
        from .evaluator import Evaluator
        key = self.program_key() if self.keyed_checked is self.checked else None
        return Evaluator(self.checked, self.info(), str(self.path), self.layer_names(), cache_key=key)

    def program_key(self) -> str:
        """What the checked policy was made from: `digest` (the chain's texts, the data files' bytes) and
        where each of those files is. With ctsdsl's code (in every cache key) that is all a compiled
        program depends on, so a changed parent or data file never finds a stale program."""
        paths = [str(self.path), *(str(layer.path) for layer in self.layers),
                 *(table.path for _, table in sorted(self.checked.tables.items()))]
        return "\0".join([self.digest, *paths])

    def info(self) -> PolicyInfo:
        h = self.header
        return PolicyInfo(h.name, h.payer, h.version, h.effective_from, h.effective_to, self.digest,
                          str(self.path), h.title)


def load_text(text: str, path: Path, *, raise_on_error: bool = True) -> LoadedPolicy:
    """Parse, load data files for and check policy text that lives at `path`.

    Raises:
        PolicySyntaxError: the text does not parse.
        PolicySemanticError: the checker found errors (only when `raise_on_error`).
    """
    own, problems = parse_source(text, path)
    resolved = resolve(own, path, text, find_parent, _read_parent, reachable=reachable_names)
    policy = resolved.policy
    problems = problems + resolved.problems
    texts = {str(layer.path): layer.text for layer in resolved.layers}
    tables: dict[str, TableData] = {}
    digest = hashlib.sha256()
    for layer in resolved.layers:
        digest.update(layer.text.encode("utf-8") + b"\0")
    for decl in policy.of_kind(n.Table):
        declared_in = Path(decl.origin) if decl.origin else path
        where = str(declared_in)
        target, why = resolve_data_path(declared_in, decl.path)
        if target is None:
            problems.append(Diagnostic("data-path", f"table `{decl.name}`: {why}", where, decl.span,
                                       f'write a path such as "data/{Path(decl.path).name}"',
                                       source_text=texts.get(where)))
            continue
        table, table_problems = load_table(decl.name, target, decl.key, decl.dated_by, decl.span, where)
        problems.extend(with_text(d, texts[where]) if d.source_name in texts else d for d in table_problems)
        if table is not None:
            tables[decl.name] = table
            digest.update(b"\0" + decl.name.encode() + b"\0" + table.raw)
    # The compiler writes each let out where it is used: refuse what would blow up there.
    problems.extend(with_text(d, texts[d.source_name]) if d.source_name in texts else d
                    for d in expansion_problems(policy, str(path)))
    from ..language.checker import check  # not on a cache hit, which unpickles a checked policy instead

    checked = check(policy, tables, texts, problems, replaced=resolved.replaced)
    loaded = LoadedPolicy(path, text, checked, "sha256:" + digest.hexdigest(), resolved.layers)
    if raise_on_error and checked.errors:
        raise PolicySemanticError(checked.errors)
    return loaded


def _read_parent(path: Path) -> tuple[n.Policy, str, list[Diagnostic]]:
    text = read_policy_text(path)
    policy, problems = parse_source(text, path)
    return policy, text, problems


_HEADER_NAME = re.compile(r'^[ \t]*policy[ \t]+"([^"\\\n]+)"', re.M)


def _policy_name(path: Path) -> str | None:
    """The name in a policy file's header, cached by modification time."""
    try:
        return _header_name(path.resolve(), path.stat().st_mtime_ns)
    except OSError:
        return None


@functools.lru_cache(maxsize=4096)  # bounded: a long-lived service may see many files and many edits
def _header_name(path: Path, mtime_ns: int) -> str | None:
    try:
        text = read_policy_text(path)
    except CtsdslError:
        return None
    try:
        header = read_header(text, str(path))
        return header.name if header else None
    except CtsdslError:
        # A parent with a syntax error is still found by its name, so that its children
        # report that error, not a cascade of their own from checking them alone.
        match = _HEADER_NAME.search(text)
        return match.group(1) if match else None


# A folder the user named as a tree of policies (`--policies DIR`, a side of `ctsdsl diff`):
# inside it, parents are looked up in the whole folder even when it is not called `policies`.
_TREE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("policy_tree", default=None)


@contextlib.contextmanager
def policy_tree(folder: str | Path) -> Iterator[None]:
    """Within this block, a policy under `folder` finds its parents anywhere under `folder`."""
    token = _TREE.set(Path(folder).resolve())
    try:
        yield
    finally:
        _TREE.reset(token)


def tree_root(child: Path) -> tuple[Path, bool]:
    """The folder a policy's `extends` may reach, and whether its subfolders count too.

    The nearest folder named `policies` above it; else a tree the user named (`policy_tree`)
    holding it; else the policy's own folder alone, so a policy saved in a home folder does
    not make every file under it a candidate.
    """
    named = policies_folder_above(child)
    if named is not None:
        return named, True
    given = _TREE.get()
    if given is not None and child.is_relative_to(given):
        return given, True
    return child.parent, False


def find_files(folder: str | Path, suffixes: str | tuple[str, ...] = POLICY_SUFFIX, *, recursive: bool = True
               ) -> list[Path]:
    """The files under `folder` whose names end in one of `suffixes`, sorted, as ``sorted(folder.rglob("*.cts"))``.

    Walked with a stack, not recursion: `Path.rglob` (and `os.walk` before Python 3.12) recurse
    once per level, and a tree a thousand folders deep ended in RecursionError, exit 70 (issue 16).
    As rglob, linked folders are not entered (no loops) and a folder that cannot be read is skipped.
    """
    found: list[Path] = []
    stack = [Path(folder)]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as entries:
                listed = list(entries)
        except OSError:  # no permission; a path past the system's length limit
            continue
        for entry in listed:
            path = here / entry.name
            if entry.name.endswith(suffixes):
                found.append(path)
            try:
                if recursive and entry.is_dir(follow_symlinks=False):
                    stack.append(path)
            except OSError:
                continue
    return sorted(found)


def find_parent(reference: str, child: Path) -> Path | None:
    """The file a policy `extends`: a path relative to the child, or a policy name.

    Names are looked up among the policies of the child's tree (see `tree_root`), then
    among the bundled ones.
    """
    child = child.resolve()
    root = tree_root(child)[0]
    if reference.endswith(POLICY_SUFFIX):
        # A path may not leave the child's tree: a policy reads no file outside it.
        target = (child.parent / reference).resolve()
        return target if target.is_file() and target.is_relative_to(root) else None
    return next((path for path, name in _candidates(child) if name == reference), None)


def reachable_names(child: Path) -> list[str]:
    """The policy names `find_parent` can find for `child`: what a misspelt `extends` may have meant."""
    return sorted({name for _, name in _candidates(child.resolve()) if name is not None})


def _candidates(child: Path) -> Iterator[tuple[Path, str | None]]:
    """Each policy file a name in `child`'s `extends` may refer to, with its name, in lookup order."""
    roots = [tree_root(child)]
    try:
        from .._resources import policies_dir
        roots.append((policies_dir(), True))
    except CtsdslError:
        pass
    for folder, recursive in roots:
        for candidate in find_files(folder, recursive=recursive):
            real = candidate.resolve()
            if real != child and real.is_relative_to(folder.resolve()):
                yield candidate, _policy_name(candidate)


def load_file(path: str | Path, *, raise_on_error: bool = True) -> LoadedPolicy:
    """Load one policy file (see `load_text`).

    A policy without errors is kept checked on disk (`policy_cache`): loaded again with the same
    text, parents and data files, it is not parsed and checked again.
    """
    path = Path(path)
    text = read_policy_text(path)
    if not raise_on_error:  # `ctsdsl check` and editors want every diagnostic, warnings included, fresh
        return load_text(text, path, raise_on_error=False)
    key = policy_cache.policy_key(path, text, str(_TREE.get()))
    cached = policy_cache.load_policy(key, _inputs_unchanged)
    if isinstance(cached, LoadedPolicy):
        return cached
    loaded = load_text(text, path)
    loaded.keyed_checked = loaded.checked
    policy_cache.store_policy(key, loaded, None)
    return loaded


def read_header(text: str, source_name: str) -> n.PolicyHeader | None:
    """A policy's header, as parsing its text gives it (from `policy_cache` when parsed before).

    Raises:
        PolicySyntaxError: the text does not parse.
    """
    def parsed() -> n.PolicyHeader | None:
        from ..language.parser import parse_with_problems  # only on a cache miss: the parser brings lark
        return parse_with_problems(text, source_name)[0].header

    return policy_cache.header(text, parsed)


def _inputs_unchanged(loaded: LoadedPolicy, _inputs: object) -> bool:
    """Whether loading again would read what `loaded` was checked from: each parent found where
    `extends` found it, with the same text, and each data file resolved to the same file, with the
    same bytes. Only the I/O of `load_text` is done, not parsing or checking."""
    layers = loaded.layers
    if not layers or layers[0].path != loaded.path or layers[0].text != loaded.text:
        return False
    for child, parent in zip(layers, layers[1:]):
        if child.header is None or child.header.extends is None:
            return False
        if find_parent(child.header.extends, child.path) != parent.path or read_policy_text(parent.path) != parent.text:
            return False
    if layers[-1].header is not None and layers[-1].header.extends is not None:
        return False
    declared = {decl.name: decl for decl in loaded.policy.of_kind(n.Table)}
    if declared.keys() != loaded.checked.tables.keys():
        return False
    for name, table in loaded.checked.tables.items():
        decl = declared[name]
        target, _ = resolve_data_path(Path(decl.origin) if decl.origin else loaded.path, decl.path)
        if target is None or str(target) != table.path or not target.is_file() or target.read_bytes() != table.raw:
            return False
    return True


@dataclass
class TextCheck:
    """What `check_text` found: every diagnostic, and the policy when the text parsed."""

    diagnostics: list[Diagnostic]
    loaded: LoadedPolicy | None  # None when the text (or a parent it extends) does not parse


def check_text(text: str, path: str | Path, *, tree: str | Path | None = None) -> TextCheck:
    """Check policy text that is meant to live at `path`, whether or not it is saved there yet.

    An editor checks what is on screen: the text is checked as if saved at `path`, so its
    `extends` and its tables resolve from that folder (parents and data files are read from
    disk). Problems come back as diagnostics, never raised: a syntax error, in this text or in
    a parent, leaves `loaded` None.

    Args:
        text: The policy text.
        path: The file the text belongs to (it need not exist).
        tree: A folder to treat as the policy tree, as `--policies DIR` does: inside it a
            parent is found by name in any subfolder. By default the nearest folder named
            `policies` above `path` is the tree.

    Returns:
        The diagnostics (errors and warnings, in every file of the overlay chain) and the
        loaded policy.

    >>> [d.code for d in check_text('policy "p" {', "p.cts").diagnostics]
    ['syntax']
    """
    path = Path(path)
    try:
        with policy_tree(tree) if tree is not None else contextlib.nullcontext():
            loaded = load_text(text, path, raise_on_error=False)
    except CtsdslError as exc:
        return TextCheck(exc.diagnostics, None)
    return TextCheck(loaded.diagnostics, loaded)
