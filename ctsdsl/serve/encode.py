"""The playground's JSON: errors as `ctsdsl batch --errors` writes them, and diagnostics.

A decision is `Decision.to_dict()`, as `ctsdsl eval --json` prints it, and an explanation
`ctsdsl.report.explain.Explanation.to_dict()`, as `ctsdsl explain --format json` prints it; nothing here
makes a second shape for either.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..engine.evaluator import shown_path
from ..errors import CtsdslError, Diagnostic
from ..scale.batch import RecordError


def diagnostic_dict(d: Diagnostic) -> dict:
    """A diagnostic as `ctsdsl batch --errors` writes one, with its severity and where its span ends."""
    body = RecordError(0, d.source_name, CtsdslError(d)).to_dict()["diagnostics"][0]
    body.update(severity=d.severity, end_line=d.span.end_line or None, end_column=d.span.end_column or None)
    if os.path.isabs(d.source_name):  # a policy or data file: named as decisions name it, not by this machine's path
        body["source"] = shown_path(d.source_name)
    return body


def error_dict(exc: CtsdslError, location: str) -> dict:
    """An error as `ctsdsl batch --errors` writes a bad record (``line`` and ``record`` empty here)."""
    body = RecordError(0, location, exc).to_dict()
    body["diagnostics"] = [diagnostic_dict(d) for d in exc.diagnostics]
    return body


def display_name(path: Path, root: Path) -> str:
    """A bundled policy's file as requests name it: relative to the bundled tree, with slashes."""
    return path.resolve().relative_to(root.resolve()).as_posix()
