"""What checking a policy gives the stages after it: `CheckedPolicy`, the types the compiler needs.

Its own module, below the checker, so that the engine can read (and unpickle from the policy
cache) a checked policy without importing the checker, which only a cache miss runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..claims.fields import Field, catalogue
from ..errors import Diagnostic
from . import nodes as n
from .tables import TableData


@dataclass
class CheckedPolicy:
    """What the checker learned: the types the compiler needs, and the problems found."""

    policy: n.Policy
    tables: dict[str, TableData]
    param_types: dict[str, str] = field(default_factory=dict)
    let_types: dict[str, str] = field(default_factory=dict)
    let_uses_line: dict[str, bool] = field(default_factory=dict)
    # The stages rules run in, in order (empty: one stage); see `stages` in docs/language.md.
    stages: tuple[str, ...] = ()
    # The claim fields the policy declares beyond the base schema, and every readable field with them.
    declared: tuple[n.DeclaredField, ...] = ()
    fields: dict[str, dict[str, Field]] = field(default_factory=catalogue)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Each file's text by name, so errors found later (at evaluation) can show the offending line.
    texts: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]
