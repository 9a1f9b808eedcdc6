"""Find policies: by path, by name among the bundled ones, or by payer and date of service."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import _resources
from ..language import nodes as n
from ..errors import ClaimError, CtsdslError, Diagnostic, PolicyNotFoundError, did_you_mean
from .evaluator import Evaluator
from .loader import LoadedPolicy, find_files, load_file, policy_tree, read_header, read_policy_text


# A payer's policy that lives outside this folder is never found by its payer: it must be named.
# The command line replaces this ending with its own option (see cli.py).
OWN_POLICY_HINT = "to decide it with a policy of your own, name that policy's .cts file (policy=PATH)"


@dataclass(frozen=True)
class Entry:
    """A policy in a registry: enough of its header to choose it without compiling it."""

    name: str
    payer: str
    effective_from: str
    effective_to: str | None
    path: Path
    changes: str = ""

    def covers(self, payer: str, date: str) -> bool:
        return (self.payer == payer and self.effective_from <= date
                and (self.effective_to is None or date <= self.effective_to))


def overlapping_policies(loaded: list[LoadedPolicy]) -> list[Diagnostic]:
    """An error for each policy whose period overlaps an earlier-starting one of the same payer.

    The registry chooses one policy per payer and date of service, so a claim dated in the
    overlap could not be decided (``ambiguous-policy``). `ctsdsl check` reports it on the
    policy's `effective` line, before a claim ever meets it.
    """
    found = []
    ordered = sorted(loaded, key=lambda p: (p.header.payer, p.header.effective_from, str(p.path)))
    for j, later in enumerate(ordered):
        b = later.header
        for earlier in ordered[:j]:
            a = earlier.header
            if a.payer != b.payer or (a.effective_to is not None and a.effective_to < b.effective_from):
                continue
            span = dict(b.entry_spans).get("effective", b.span)
            found.append(Diagnostic(
                "overlapping-policies",
                f"policy {b.name} ({b.effective_from} to {b.effective_to or 'open'}) overlaps {a.name} "
                f"({a.effective_from} to {a.effective_to or 'open'}, {earlier.path}) for payer {b.payer!r}: "
                f"a claim dated {b.effective_from} would have two policies", str(later.path), span,
                "end the earlier policy the day before the later one starts; an overlay for another payer "
                "needs its own `payer`", source_text=later.text))
    return found


class Registry:
    """The policies under one folder, loaded and compiled once each, on first use.

    `recursive=False` takes the folder's own policies only, not its subfolders': a folder that is
    no policy tree (a home folder, say) does not make every policy below it a candidate, for
    choosing a policy or for its overlays' parents (see `loader.tree_root`).
    """

    def __init__(self, root: str | Path, *, recursive: bool = True) -> None:
        self.root = Path(root)
        self.recursive = recursive
        self._loaded: dict[Path, LoadedPolicy] = {}
        self._compiled: dict[Path, Evaluator] = {}
        self._entries: list[Entry] | None = None
        self._chosen: dict[tuple[str, str], tuple[Entry, Evaluator]] = {}

    def entries(self) -> list[Entry]:
        if self._entries is None:
            entries = []
            for path in find_files(self.root, recursive=self.recursive):
                header = self._header(path)
                entries.append(Entry(header.name, header.payer, header.effective_from, header.effective_to, path,
                                     header.changes))
            self._entries = entries
        return self._entries

    def _header(self, path: Path) -> n.PolicyHeader:
        """A policy's header, read without checking the policy: choosing the one policy for a claim
        should not cost checking every other in the folder (most of a CLI run's start-up)."""
        try:
            header = read_header(read_policy_text(path), str(path))
        except CtsdslError:
            header = None
        if header is None or not header.payer or not header.effective_from:
            header = self.load(path).header  # raises the file's own located errors
        return header

    def load(self, path: Path) -> LoadedPolicy:
        path = Path(path)
        if path not in self._loaded:
            # In a tree, an overlay finds its parents anywhere in it; else `extends` keeps to its own folder.
            with policy_tree(self.root) if self.recursive else contextlib.nullcontext():
                self._loaded[path] = load_file(path)
        return self._loaded[path]

    def evaluator(self, path: Path) -> Evaluator:
        path = Path(path)
        if path not in self._compiled:
            loaded = self.load(path)
            self._compiled[path] = loaded.evaluator()
        return self._compiled[path]

    def by_name(self, name: str) -> Entry:
        return entry_named([self], name, str(self.root))

    def policy_for(self, claim: dict) -> Entry:
        """The policy in force on a (valid) claim's date of service, when all its lines fall under it.

        Raises:
            PolicyNotFoundError: no policy, or more than one, covers the claim's payer and date.
            ClaimError: a line is dated under another policy, or after the policy ends.
        """
        entry = self.for_claim(claim["payer"], claim["date_of_service"])
        self.check_line_dates(entry, claim)
        return entry

    def evaluator_for(self, claim: dict) -> Evaluator:
        """The compiled policy that decides a (valid) claim: `policy_for`, then `evaluator`.

        The policy in force for a payer and date is kept once found, so a stream of claims pays
        for choosing it once per payer and date of service, not once per claim.
        """
        entry, evaluator = self.chosen(claim["payer"], claim["date_of_service"])
        if any("date_of_service" in line for line in claim["lines"]):
            self.check_line_dates(entry, claim)
        return evaluator

    def chosen(self, payer: str, date: str) -> tuple[Entry, Evaluator]:
        """The policy in force for a payer on a date of service (`for_claim`), with its compiled evaluator."""
        key = (payer, date)
        chosen = self._chosen.get(key)
        if chosen is None:
            if len(self._chosen) >= 4096:  # a year of dates for a few payers; past that, start again
                self._chosen.clear()
            entry = self.for_claim(*key)
            chosen = self._chosen[key] = (entry, self.evaluator(entry.path))
        return chosen

    def check_line_dates(self, entry: Entry, claim: dict) -> None:
        """Refuse a claim whose lines are dated outside the period of the policy deciding it.

        One policy decides a whole claim, and its dated data (conversion factors, the yearly KX
        thresholds) end with its period: a line beyond it would be priced by the wrong year's
        figures or stop on a missing one. A line dated before every policy of the payer is left
        to the policy, which can say that its code did not exist yet.
        """
        problems = []
        for i, line in enumerate(claim["lines"]):
            date = line.get("date_of_service")
            if date is None or entry.covers(entry.payer, date):
                continue
            other = next((e for e in self.entries() if e.covers(entry.payer, date)), None)
            if other is None and date < entry.effective_from:
                continue
            under = f"under policy {other.name}" if other else f"when no {entry.payer} policy is in force"
            problems.append(Diagnostic(
                "claim-spans-policies",
                f"line {i} is dated {date}, {under}; the claim's date {claim['date_of_service']} puts the "
                f"whole claim under {entry.name} ({entry.effective_from} to {entry.effective_to or 'open'})",
                "<claim>", path=f"$.lines[{i}].date_of_service",
                hint="split the claim so that each part's lines fall in one policy's period"))
        if problems:
            raise ClaimError(problems)

    def for_claim(self, payer: str, date: str) -> Entry:
        """The one policy in force for a payer on a date of service."""
        matches = [e for e in self.entries() if e.covers(payer, date)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise PolicyNotFoundError(Diagnostic(
                "ambiguous-policy", f"{len(matches)} policies cover payer {payer!r} on {date}: "
                + ", ".join(e.name for e in matches), str(self.root),
                hint="effective date ranges of one payer's policies must not overlap"))
        same_payer = sorted((e for e in self.entries() if e.payer == payer), key=lambda e: e.effective_from)
        if not same_payer:
            payers = sorted({e.payer for e in self.entries()})
            # Payer names are matched exactly: "Medicare" is not "medicare", so say which was meant.
            close = did_you_mean(payer, payers, quote="'")
            raise PolicyNotFoundError(Diagnostic(
                "unknown-payer", f"no policy for payer {payer!r}", str(self.root), path="$.payer",
                hint=(f"{close} " if close else "")
                + f"payers with policies: {', '.join(payers) or 'none'}; {OWN_POLICY_HINT}"))
        earliest = same_payer[0]
        if date < earliest.effective_from:
            message = (f"no {payer} policy covers {date}: the earliest, {earliest.name}, "
                       f"takes effect {earliest.effective_from}")
            if earliest.changes:
                message += f" ({earliest.changes.rstrip('.')})"
        else:
            spans = ", ".join(f"{e.effective_from} to {e.effective_to or 'open'}" for e in same_payer)
            message = f"no {payer} policy covers {date}; {payer} policies cover {spans}"
        raise PolicyNotFoundError(Diagnostic("no-policy-in-force", message, str(self.root),
                                             path="$.date_of_service",
                                             hint="check the claim's date of service, or pass --policy"))


def entry_named(registries: Sequence[Registry], name: str, location: str) -> Entry:
    """The policy named `name` in the first of `registries` (nearest first) that holds one.

    Raises:
        PolicyNotFoundError: none holds it; located at `location`, with the name most likely meant.
    """
    for registry in registries:
        for entry in registry.entries():
            if entry.name == name:
                return entry
    names = sorted({e.name for r in registries for e in r.entries()})
    where = " or ".join(str(r.root) for r in registries)
    raise PolicyNotFoundError(Diagnostic(
        "unknown-policy", f"no policy named {name!r} in {where}", location,
        hint=did_you_mean(name, names, quote="'") or f"policies: {', '.join(names) or 'none'}"))


def entry_for_claim(registries: Sequence[Registry], claim: dict) -> Entry:
    """The policy for a (valid) claim among `registries`, nearest first: the nearest that holds any
    policy of the claim's payer chooses among its own (an analyst's overlay folder before the
    bundled policies), else the last."""
    payer = claim.get("payer")
    chooser = next((r for r in registries if any(e.payer == payer for e in r.entries())), registries[-1])
    return chooser.policy_for(claim)


_BUNDLED: Registry | None = None


def bundled() -> Registry:
    """The registry of the policies that ship with ctsdsl."""
    global _BUNDLED
    if _BUNDLED is None:
        _BUNDLED = Registry(_resources.policies_dir())
    return _BUNDLED


@functools.lru_cache(maxsize=8)
def folder_registry(folder: str | Path) -> Registry:
    """The registry of a folder of one's own policies (overlays and their parents), kept per folder.

    Raises:
        PolicyNotFoundError: the folder does not exist or holds no policy file.
    """
    path = Path(folder)
    if not path.is_dir():
        raise PolicyNotFoundError(Diagnostic(
            "policy-folder", f"{folder} is not a folder of policies", str(folder),
            hint="name the folder that holds your .cts files (a policies folder, with the parents they extend)"))
    if not find_files(path):
        raise PolicyNotFoundError(Diagnostic("policy-folder", f"no .cts policy files in {folder}", str(folder)))
    return Registry(path)
