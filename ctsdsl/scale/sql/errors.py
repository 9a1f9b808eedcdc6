"""What the SQL backend refuses: a construct it cannot write with the row engine's exact meaning."""

from __future__ import annotations

from ...errors import Diagnostic, PolicySemanticError
from ...language.nodes import NO_SPAN, Span


class SqlUnsupportedError(PolicySemanticError):
    """The checked policy uses a construct the SQL backend cannot express exactly.

    Raised when the policy is compiled to SQL, never while deciding claims: a policy either runs
    with the row engine's meaning or does not run on SQL at all.
    """


def unsupported(what: str, source_name: str, span: Span | None, hint: str = "",
                text: str | None = None) -> SqlUnsupportedError:
    return SqlUnsupportedError(Diagnostic(
        "sql-unsupported", f"the SQL backend cannot express {what}", source_name, span or NO_SPAN,
        hint or "decide claims under this policy with the row engine (the default, --engine row)",
        source_text=text))
