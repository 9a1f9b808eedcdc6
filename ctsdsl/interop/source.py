"""Which real format a claim file is, and reading it with that format's reader.

`sniff` tells an X12 interchange from FHIR JSON by the file's content; `read_claims` hands the
file to `x12` or `fhir`, which draft each claim and finish it with `draft.finish`, then reports
the sidecar's records that named no claim of the file. `ReadClaim` and `ReadOptions` live in
`draft` and are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ..errors import ClaimError, Diagnostic
from .draft import ReadClaim, ReadOptions

__all__ = ["Kind", "ReadClaim", "ReadOptions", "read_claims", "sniff"]

Kind = Literal["x12", "fhir"]

_SNIFF_BYTES = 64 * 1024
_FHIR_START = re.compile(rb'^[\[{][\s\S]*?"resourceType"\s*:\s*"')


def sniff(path: str | Path) -> Kind | None:
    """The real format of a claim file, told by its content, not its name; None for ctsdsl's own claims.

    An X12 interchange begins with its ISA segment; a FHIR resource (or a list or JSON Lines
    file of them) names its ``resourceType`` near the start. Unreadable files are None here:
    the ordinary claim reader reports them.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return None
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head[:3] == b"ISA":
        return "x12"
    if _FHIR_START.match(head):
        return "fhir"
    return None


def read_claims(path: str | Path, options: ReadOptions, kind: Kind | None = None) -> Iterator[ReadClaim]:
    """Every claim of an X12 837P or FHIR file, in file order, each valid or with its error.

    Args:
        path: The file.
        options: The payer map, payer and sidecar to read it with.
        kind: The format, when already sniffed.

    Yields:
        A `ReadClaim` per claim; then one per sidecar record that names no claim of the file.

    Raises:
        ClaimError: The file as a whole cannot be read (missing, not text, not X12 or FHIR).
        UsageError: The format's extra is not installed, or no payer can be chosen.
    """
    kind = kind or sniff(path)
    if kind == "x12":
        from .x12 import read_interchange
        yield from read_interchange(path, options)
    elif kind == "fhir":
        from .fhir import read_fhir
        yield from read_fhir(path, options)
    else:
        raise ClaimError(Diagnostic("claim-file-type", f"{path} is neither an X12 interchange nor FHIR JSON",
                                    str(path), hint="an 837P begins with ISA; a FHIR Claim names its resourceType"))
    if options.records is not None:
        for location, error in options.records.unused():
            yield ReadClaim(location, error=error)
