"""An X12 interchange's text: its segments by number, and where each segment and element is.

`read_text` reads the file (within the size limit, as UTF-8), takes the separators from the ISA
segment and cuts the text into segments as pyx12 does, noting what pyx12 would silently drop;
`X12Text.span` and `X12Text.origin` turn a segment number and element (SV104, CLM05-1) into a
file line and column, so `x12` can locate every problem; `segment_values` reads a segment's elements.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ClaimError, Diagnostic
from ..language.nodes import NO_SPAN, Span
from ..limits import MAX_CLAIM_FILE_BYTES
from .origin import Origin

_EXCERPT_LIMIT = 4 * 1024 * 1024  # larger files are located by line and column, without an excerpt
_REF = re.compile(r"([A-Z][A-Z0-9]{1,2}?)([0-9]{2})(?:-0*([0-9]+))?").fullmatch  # SV104, CLM05-1, CLM05-01


@dataclass
class X12Text:
    """The interchange's segments by number (ISA is 1), each with its offset, to locate errors."""

    name: str
    text: str
    element: str
    component: str
    terminator: str
    segments: list[str] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    newlines: list[int] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)

    def span(self, number: int, ref: str = "") -> Span:
        """The line and column of segment `number`, or of its element `ref` (SV104, CLM05-1)."""
        if not 1 <= number <= len(self.offsets):
            return NO_SPAN
        offset, segment = self.offsets[number - 1], self.segments[number - 1]
        if ref:
            offset += _element_offset(segment, ref, self.element, self.component)
        line = bisect.bisect_right(self.newlines, offset - 1)
        start = self.newlines[line - 1] + 1 if line else 0
        return Span(line + 1, offset - start + 1)

    def origin(self, number: int, ref: str = "", what: str = "") -> Origin:
        segment = self.segments[number - 1].split(self.element, 1)[0] if number <= len(self.segments) else "?"
        label = f"segment {number} ({segment})" + (f" {what}" if what else "")
        return Origin(self.name, self.span(number, ref), label, ref or segment,
                      self.text if len(self.text) <= _EXCERPT_LIMIT else None)


def _element_offset(segment: str, ref: str, element: str, component: str) -> int:
    """Characters from a segment's start to its element `ref`: SV104 is after the 4th separator."""
    found = _REF(ref)  # a segment id may hold digits itself (SV1, NM1): the position is the last two
    if found is None:
        return 0
    position, sub = found.group(2), found.group(3) or ""
    parts = segment.split(element)
    index = min(int(position), len(parts) - 1)
    offset = sum(len(p) + 1 for p in parts[:index])
    if sub.isdigit() and index == int(position):
        pieces = parts[index].split(component)
        offset += sum(len(p) + 1 for p in pieces[:min(int(sub), len(pieces)) - 1])
    return offset


def read_text(path: Path) -> X12Text:
    """The interchange at `path`, cut into segments.

    Raises:
        ClaimError: The file is too large, unreadable, not UTF-8, or has no whole ISA segment.
    """
    name = str(path)
    try:
        if path.stat().st_size > MAX_CLAIM_FILE_BYTES:
            raise ClaimError(Diagnostic("claim-too-large", f"{name} is larger than {MAX_CLAIM_FILE_BYTES} bytes", name,
                                        hint="split the interchange into several files"))
        data = path.read_bytes()
    except OSError as exc:
        raise ClaimError(Diagnostic("claim-file-unreadable", f"cannot read {name}: {exc.strerror or exc}",
                                    name)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ClaimError(Diagnostic("claim-encoding", f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                                    f"{exc.start}): X12 is text", name, hint="save the interchange as ASCII or UTF-8")) from None
    lead = len(text) - len(text.lstrip())
    text = text[lead:]
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    if len(text) < 106 or not text.startswith("ISA"):
        raise ClaimError(Diagnostic("x12-invalid", "the ISA segment is cut short: it is 106 characters, with "
                                    "16 elements, the last one the component separator", name, Span(1, 1)))
    source = X12Text(name, text, text[3], text[104], text[105], newlines=newlines)
    _split(source)
    return source


def _split(source: X12Text) -> None:
    """Cut the text into segments as pyx12 does, noting what pyx12 would silently drop."""
    text, end, start = source.text, source.terminator, 0
    while (stop := text.find(end, start)) != -1:
        begin = start
        while begin < stop and text[begin] in "\r\n":
            begin += 1
        segment = text[begin:stop]
        if not segment.strip():
            # pyx12 stops reading at an empty segment: what follows it would vanish unseen.
            if text[stop + 1:].strip():
                source.problems.append(Diagnostic(
                    "x12-invalid", f"an empty segment after segment {len(source.segments)}: nothing after it "
                    "would be read", source.name, _span_at(source, begin), f"remove the repeated {end!r}"))
            return
        source.segments.append(segment)
        source.offsets.append(begin)
        start = stop + 1
    if text[start:].strip():
        source.problems.append(Diagnostic(
            "x12-invalid", f"text after the last segment terminator {end!r} (segment {len(source.segments)}): the "
            "file may be cut short", source.name, _span_at(source, start), f"end every segment with {end!r}"))


def _span_at(source: X12Text, offset: int) -> Span:
    line = bisect.bisect_right(source.newlines, offset - 1)
    return Span(line + 1, offset - (source.newlines[line - 1] + 1 if line else 0) + 1)


def segment_values(source: X12Text, number: int):  # noqa: ANN201 - a small accessor
    """Element `position`, component `sub` (0: the whole element) of segment `number`, '' when absent."""
    parts = source.segments[number - 1].split(source.element) if number else []

    def value(position: int, sub: int) -> str:
        if position >= len(parts):
            return ""
        if sub == 0:
            return parts[position]
        pieces = parts[position].split(source.component)
        return pieces[sub - 1] if sub <= len(pieces) else ""

    return value
