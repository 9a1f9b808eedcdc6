"""Where a value of a claim read from a real format came from, to locate an error about it.

Its own module, below every reader: the readers (`x12`, `fhir`) and the sidecar (`records`) all
record origins, and `draft` moves schema errors back to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ClaimError, Diagnostic
from ..language.nodes import NO_SPAN, Span


@dataclass(frozen=True)
class Origin:
    """Where a value of the claim came from, to locate an error about it."""

    source_name: str
    span: Span = NO_SPAN
    label: str = ""  # "segment 24 (SV1), SV104" or "item 2 (Claim.item[1])"
    path: str = ""
    source_text: str | None = None

    def error(self, code: str, message: str, hint: str = "") -> ClaimError:
        text = f"{self.label}: {message}" if self.label else message
        return ClaimError(Diagnostic(code, text, self.source_name, self.span, hint, path=self.path,
                                     source_text=self.source_text))
