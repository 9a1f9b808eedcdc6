"""What every reader of a real format shares: the claim it yields, its options, and the finishing steps.

A reader builds a claim dict and records, for each field, where in the file it came from
(an `Origin`). `finish` then joins the sidecar's facts, checks the claim against the schema,
and puts any schema error back where the value came from: a biller fixes segment 24's SV104,
not ``$.lines[1].units``.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ..claims import claim_schema, validate_claim
from ..errors import ClaimError, Diagnostic, UsageError
from ..nodes import NO_SPAN, Span

if TYPE_CHECKING:
    from .payer_map import PayerMap
    from .records import Records

Kind = Literal["x12", "fhir"]

_SNIFF_BYTES = 64 * 1024
_FHIR_START = re.compile(rb'^[\[{][\s\S]*?"resourceType"\s*:\s*"')


@dataclass(frozen=True)
class ReadOptions:
    """How to read a real-format file.

    Attributes:
        payer_map: The user's map of payer ids, filing indicators and insurers to payer names.
        payer: Decide every claim under this payer, whatever the file says (``--payer``).
        records: The sidecar of session facts and documentation, by claim.
    """

    payer_map: PayerMap | None = None
    payer: str | None = None
    records: Records | None = None


@dataclass(frozen=True)
class ReadClaim:
    """One claim read from a file: the claim dict, or the error that stopped it.

    Attributes:
        location: Where the claim starts: ``claims.837:segment 19`` or ``claim.json``.
        claim: The claim, valid against the claim schema; None when `error` is set.
        error: Why the claim could not be read.
        charges: The billed charge of each claim line (SV102, item.net), None where not given,
            exactly as read; the claim's lines carry it too, as ``charge``.
        total_charge: The claim's total charge (CLM02, Claim.total).
        source: The resource read (a FHIR Claim as a dict), for answers that echo it.
        record: The claim as text in its own format, for error files.
    """

    location: str
    claim: dict | None = None
    error: ClaimError | None = None
    charges: tuple[Decimal | None, ...] = ()
    total_charge: Decimal | None = None
    source: Any = None
    record: str = ""


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


@dataclass
class Draft:
    """A claim being built, with the origin of each of its values (by JSON path)."""

    location: str
    claim: dict[str, Any]
    origins: dict[str, Origin] = field(default_factory=dict)
    line_keys: list[str] = field(default_factory=list)  # each line's key in the sidecar: LX01, item.sequence
    charges: list[Decimal | None] = field(default_factory=list)
    total_charge: Decimal | None = None
    problems: list[Diagnostic] = field(default_factory=list)
    source: Any = None
    record: str = ""

    def fail(self, error: ClaimError) -> None:
        self.problems.extend(error.diagnostics)


_EXTRA_PACKAGES = {"x12": "pyx12", "fhir": "fhir.resources"}


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional library, or say how to install the extra that brings it (exit 2, no traceback)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = _EXTRA_PACKAGES.get(extra) or (exc.name or module).split(".")[0]
        raise UsageError(Diagnostic(
            f"{extra}-not-installed", f"reading {what} needs {missing}, which is not installed", what,
            hint=f"install the extra: pip install 'ctsdsl[{extra}]' (in a checkout: pip install -e '.[{extra}]')")) from None


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


def charge_number(amount: Decimal | None) -> int | float | None:
    """A charge read as a Decimal, as the claim's JSON number: an int when whole, else a float.

    JSON numbers are what the claim schema's fast validator takes; a float's repr gives back the
    cents read (90.1 for 90.10), which the evaluator reads exactly.
    """
    if amount is None:
        return None
    return int(amount) if amount == amount.to_integral_value() else float(amount)


@functools.lru_cache(maxsize=1)
def unstatable_facts() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The documentation flags and line facts a claim may leave not stated: those the claim schema lets be null.

    An 837P or a FHIR Claim never carries them (they live in the medical record), so a claim read
    from one states each as null unless its sidecar record gives it (issue 17, section 1).
    Derived from the schema, so a fact made nullable there is not stated here too.
    """
    schema = claim_schema()

    def nullable(props: dict) -> tuple[str, ...]:
        return tuple(k for k, v in props.items() if isinstance(v.get("type"), list) and "null" in v["type"])

    documentation, line = schema["properties"]["documentation"]["properties"], schema["$defs"]["line"]["properties"]
    return nullable(documentation), nullable(line)


def _not_stated(claim: dict) -> None:
    """State every fact the format never carries as null: "not stated", never false (absent reads as false)."""
    flags, facts = unstatable_facts()
    claim["documentation"] = dict.fromkeys(flags)
    for line in claim.get("lines") or ():
        if isinstance(line, dict):
            line.update(dict.fromkeys(facts))


def finish(draft: Draft, options: ReadOptions) -> ReadClaim:
    """Join the sidecar's facts to a drafted claim, validate it, and locate any error where its value came from.

    The facts an 837P or a FHIR Claim never carries start as null (not stated); the sidecar's
    record, where there is one, replaces those it gives.
    """
    _not_stated(draft.claim)
    claim_id = draft.claim.get("id")
    if options.records is not None and isinstance(claim_id, str):
        if draft.problems:  # not joined, but found: its record names a claim of the file
            options.records.seen(claim_id)
        else:
            try:
                options.records.join(claim_id, draft.claim, draft.line_keys, draft.origins)
            except ClaimError as exc:
                draft.fail(exc)
    if not draft.problems:
        try:
            claim = validate_claim(draft.claim, draft.location)
        except ClaimError as exc:
            draft.problems.extend(_relocated(d, draft.origins) for d in exc.diagnostics)
        else:
            return ReadClaim(draft.location, claim, charges=tuple(draft.charges), total_charge=draft.total_charge,
                             source=draft.source, record=draft.record)
    return ReadClaim(draft.location, error=ClaimError(draft.problems), charges=tuple(draft.charges),
                     total_charge=draft.total_charge, source=draft.source, record=draft.record)


def _relocated(d: Diagnostic, origins: dict[str, Origin]) -> Diagnostic:
    """A schema error on ``$.lines[1].units`` moved to the element or record the value came from."""
    best = max((p for p in origins if d.path == p or d.path.startswith(p + ".") or d.path.startswith(p + "[")),
               key=len, default=None)
    if best is None:
        return d
    where = origins[best]
    message = f"{where.label}: {d.message}" if where.label else d.message
    return Diagnostic(d.code, message, where.source_name, where.span, d.hint, d.severity, where.path or d.path,
                      where.source_text)
