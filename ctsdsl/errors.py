"""Errors as values: every problem is a `Diagnostic` with a location and a hint.

Exceptions carry diagnostics rather than bare strings so that the CLI, the test
runner and an embedding pipeline all render the same located message.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]  # error stops the policy from compiling; warning does not


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node or a problem stands in its file: 1-based lines and columns, end exclusive."""

    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0


NO_SPAN = Span()


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a policy, a data file or a claim.

    Attributes:
        code: A stable identifier such as ``syntax`` or ``unknown-field``, for tooling.
        message: What is wrong, in a sentence.
        source_name: The file (or ``<string>``) the problem is in.
        span: Where in that file; ``NO_SPAN`` when the problem has no position.
        hint: How to fix it, when there is something useful to say.
        severity: ``error`` stops the policy from compiling; ``warning`` does not.
        path: For structured input, the JSON path of the offending value (``$.lines[0].units``).
    """

    code: str
    message: str
    source_name: str = "<string>"
    span: Span = NO_SPAN
    hint: str = ""
    severity: Severity = "error"
    path: str = ""
    source_text: str | None = field(default=None, compare=False, repr=False)

    @property
    def location(self) -> str:
        where = self.source_name
        if self.span.line:
            where += f":{self.span.line}:{self.span.column}"
        if self.path:
            where += f": {self.path}"
        return where

    def render(self) -> str:
        """The diagnostic as an analyst reads it: location, message, source line, caret, hint.

        Control and format characters (an ANSI escape, a right-to-left override) are shown
        escaped: a message or hint quoting the input must not drive the reader's terminal.
        """
        out = [printable(f"{self.location}: {self.severity}: {self.message}")]
        excerpt = _excerpt(self.source_text, self.span)
        if excerpt:
            out.append(excerpt)
        if self.hint:
            out.append(printable(f"  hint: {self.hint}"))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


_EXCERPT_WIDTH = 120  # characters of a long source line shown around the caret


def closest(name: object, choices: Iterable[object], *, cutoff: float = 0.6) -> str | None:
    """The choice a misspelt `name` most likely meant, or None when none is close.

    One spelling of the same name in other case wins ("Medicare" meant "medicare"); else difflib's
    closest five, ranked by edits with a swap of two neighbours as one edit: policy names differ in
    their years, and difflib alone ranks medicare-cts-2026 as close to a mistyped medicare-cts-2052 as
    medicare-cts-2025 is; the swapped digits decide it. Every "did you mean" of the package asks here.
    """
    text = str(name)
    names = list(dict.fromkeys(str(choice) for choice in choices))
    same_but_case = [other for other in names if other.lower() == text.lower() and other != text]
    if same_but_case:
        return same_but_case[0]
    close = difflib.get_close_matches(text, names, n=5, cutoff=cutoff)
    return min(close, key=lambda other: _edits(text, other)) if close else None


def did_you_mean(name: object, choices: Iterable[object], *, quote: str = "`", cutoff: float = 0.6) -> str:
    """The hint "did you mean `x`?" for the closest of `choices` to `name`, or "" when none is close.

    `quote` is how the context writes the name: backticks for names in policy text, '"' for JSON values,
    "'" for names a command line is given, "" for codes.
    """
    close = closest(name, choices, cutoff=cutoff)
    return f"did you mean {quote}{close}{quote}?" if close is not None else ""


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def printable(text: str) -> str:
    r"""`text` with every character a terminal would act on or hide written as an escape.

    Control characters (ESC of an ANSI sequence, a bare CR), format characters (the bidi
    overrides of "Trojan Source", zero-width spaces), line and paragraph separators, lone
    surrogates, unassigned and private-use characters: anything `str.isprintable` refuses,
    but line ends and tabs. For text meant for people; JSON output escapes on its own.

    >>> printable("claim \x1b[31mred\u202e")
    'claim \\x1b[31mred\\u202e'
    """
    if text.isprintable():
        return text
    return "\n".join(line if line.isprintable() else "".join(ch if ch.isprintable() or ch == "\t" else _escaped(ch)
                                                              for ch in line) for line in text.split("\n"))


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (a file name read with surrogateescape): the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _excerpt(text: str | None, span: Span) -> str:
    if not text or not span.line:
        return ""
    lines = text.splitlines()
    if span.line > len(lines):
        return ""
    source_line = lines[span.line - 1].rstrip("\n").expandtabs(1)
    start = max(span.column, 1)
    if span.end_line == span.line and span.end_column > start:
        width = span.end_column - start
    else:
        width = 1
    if len(source_line) > _EXCERPT_WIDTH:
        # A minified JSON claim is one long line: show the part around the caret, not megabytes.
        left = min(max(0, start - 1 - _EXCERPT_WIDTH // 2), len(source_line) - _EXCERPT_WIDTH)
        prefix = "..." if left else ""
        suffix = "..." if left + _EXCERPT_WIDTH < len(source_line) else ""
        source_line = prefix + source_line[left:left + _EXCERPT_WIDTH] + suffix
        start += len(prefix) - left
        width = min(width, len(source_line) - len(suffix) - start + 1)
    width = max(1, min(width, len(source_line) - start + 1))
    # Escape the line around the caret, so that it still points at the same character.
    before, marked, after = (printable(source_line[:start - 1]), printable(source_line[start - 1:start - 1 + width]),
                             printable(source_line[start - 1 + width:]))
    source_line, start, width = before + marked + after, len(before) + 1, len(marked)
    gutter = f"{span.line:>5} | "
    return f"{gutter}{source_line}\n{' ' * (len(gutter) - 2)}| {' ' * (start - 1)}{'^' * width}"


class CtsdslError(Exception):
    """Root of every error ctsdsl raises on purpose."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str) -> None:
        if isinstance(diagnostics, str):
            diagnostics = Diagnostic("error", diagnostics)
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__(self.render())

    def render(self, limit: int = 20) -> str:
        shown = [d.render() for d in self.diagnostics[:limit]]
        if len(self.diagnostics) > limit:
            shown.append(f"... and {len(self.diagnostics) - limit} more")
        return "\n".join(shown)


class PolicySyntaxError(CtsdslError):
    """The policy text does not follow the grammar."""


class PolicySemanticError(CtsdslError):
    """The policy parses but the checker found errors (types, names, data files...)."""


class PolicyNotFoundError(CtsdslError):
    """No policy matches the name, path, payer or date asked for.

    A problem with the claim (its payer or date) or the command line, not with a policy.
    """

    exit_code = 2


class ClaimError(CtsdslError):
    """A claim is malformed: it does not match ``schemas/claim.schema.json``."""

    exit_code = 2


class UsageError(CtsdslError):
    """The command line asks for something that cannot be done (an output that is not a folder, a bad date)."""

    exit_code = 2


class DataFileError(CtsdslError):
    """A data file given on the command line (a CMS release to import) is missing or malformed."""

    exit_code = 2


class EvaluationError(CtsdslError):
    """A rule could not be evaluated on a claim (a missing value, a missing table row)."""

    exit_code = 3


@contextlib.contextmanager
def amounts_in_range(location: str) -> Iterator[None]:
    """Turn an amount past decimal arithmetic's reach into the claim's `EvaluationError`.

    Numbers a policy, its data and its claims may hold are bounded (`limits.MAX_NUMBER_MAGNITUDE`),
    but a rule may multiply them: rounding a product of two large amounts to cents needs more than
    the context's 28 digits, and was an internal error that stopped the whole batch.
    """
    try:
        yield
    except ArithmeticError as exc:
        raise EvaluationError(Diagnostic(
            "amount-out-of-range", f"an amount computed for this claim is beyond decimal arithmetic "
            f"({type(exc).__name__}): it has more than 28 digits", location,
            hint="a rule or fee multiplies amounts too large to be money; check the policy's figures")) from None
