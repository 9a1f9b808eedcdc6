"""What every reader of a real format shares: the claim it drafts, its options, and the finishing steps.

A reader builds a claim dict and records, for each field, where in the file it came from
(an `Origin`). `finish` then joins the sidecar's facts, checks the claim against the schema,
and puts any schema error back where the value came from: a biller fixes segment 24's SV104,
not ``$.lines[1].units``.

The readers (`x12`, `fhir`) import this module and `source` dispatches to them, so none of them
imports another back.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..claims.validation import claim_schema, validate_claim
from ..errors import ClaimError, Diagnostic, UsageError
from .origin import Origin

if TYPE_CHECKING:
    from .payer_map import PayerMap
    from .records import Records


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
