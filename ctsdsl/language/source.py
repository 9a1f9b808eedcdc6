"""A policy file's text: read within the limits, and parsed with that text on every diagnostic.

The one way a policy file is read, by the loader, the formatter and the language server alike, so a
missing, huge, binary or non-UTF-8 file gets the same located error everywhere.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Diagnostic, PolicySemanticError, PolicySyntaxError, Span
from ..limits import MAX_POLICY_BYTES
from . import nodes as n

POLICY_SUFFIX = ".cts"


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
    if not path.is_file():  # a FIFO or a device would block the read, or never end
        raise PolicySemanticError(Diagnostic("not-a-file", f"{name} is not a regular file", name))
    if size > MAX_POLICY_BYTES:
        raise PolicySemanticError(Diagnostic("too-large", f"{name} is {size} bytes; the limit is {MAX_POLICY_BYTES}",
                                             name))
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise PolicySemanticError(Diagnostic("binary", f"{name} is not a text file", name))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = raw.count(b"\n", 0, exc.start) + 1, exc.start - raw.rfind(b"\n", 0, exc.start)
        raise PolicySemanticError(Diagnostic("encoding", f"{name} is not UTF-8 (byte 0x{raw[exc.start]:02x})", name,
                                             Span(line, column, line, column + 1),
                                             "save the file as UTF-8")) from None


def parse_source(text: str, path: Path) -> tuple[n.Policy, list[Diagnostic]]:
    """Parse one policy file's text (no parent, data or check), every diagnostic carrying the text.

    Returns the policy and the problems the parser recovered from.

    Raises:
        PolicySyntaxError: the text does not parse; its diagnostic shows the offending line.
    """
    # Imported here, not at the top: a policy found in the policy cache is never parsed, and the
    # parser and lark are about 23 ms of a cold `ctsdsl eval` by -X importtime.
    from .parser import parse_with_problems
    try:
        policy, problems = parse_with_problems(text, str(path))
    except PolicySyntaxError as exc:
        # Attach the text so the diagnostic can show the offending line.
        raise PolicySyntaxError([with_text(d, text) for d in exc.diagnostics]) from None
    return policy, [with_text(d, text) for d in problems]


def with_text(d: Diagnostic, text: str) -> Diagnostic:
    """`d` carrying the text of its file, so that it can show the offending line."""
    if d.source_text is not None:
        return d
    return Diagnostic(d.code, d.message, d.source_name, d.span, d.hint, d.severity, d.path, text)
