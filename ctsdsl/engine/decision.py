"""The decision an evaluator returns for a claim, and its JSON form.

Field names here are a public contract (see `schemas/decision.schema.json`):
they are extended, never renamed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

CENT = Decimal("0.01")

# The closed vocabularies of a decision, as the schema's enums: a type checker then catches
# `decision.outcome == "paid"` in code that embeds ctsdsl.
Outcome = Literal["pay", "partial", "deny", "conditional"]
LineStatus = Literal["allowed", "reduced", "denied", "out_of_scope", "needs_record"]
Severity = Literal["deny", "reduce", "warn", "info"]


class _DecimalSeen(Exception):
    pass


def _no_decimal(value: object) -> str:
    if isinstance(value, Decimal):
        raise _DecimalSeen
    return str(value)


# Built once: json.dumps with options builds an encoder per call, a tenth of the digest's time in batch runs.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode
_PLAIN = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_no_decimal).encode
# A float in the encoded text: a number after `:`, `,` or `[` with a point or an exponent. Text in a
# string may look like one too; that only costs the walk that finds there is nothing to change.
_FLOAT = re.compile(r"[:,\[]-?[0-9]+[.eE]")
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _no_float(raw: bytes) -> bool:
    """Whether orjson's text holds no float. It writes each with a point (812.5, 800.0) or a signed
    exponent after a digit (1e+16): text without either holds none. Searching for those takes a
    tenth of the time of searching for `_FLOAT` (4 µs a claim); text in a string that looks alike
    only sends the claim to the canonical encoder, which is right for any claim."""
    if b"." in raw:
        return False
    if b"e+" not in raw and b"e-" not in raw:
        return True
    digits = raw.translate(_DIGITS_AS_ZERO)
    return b"0e+" not in digits and b"0e-" not in digits

try:  # the `fast` extra: a C JSON library, for the claim digest
    import orjson
except ImportError:  # pragma: no cover - exercised by tests/test_decision_digest.py with it hidden
    orjson = None  # type: ignore[assignment]


def line_status(denied: bool, allowed: int, billed: int) -> tuple[LineStatus, int]:
    """A governed line's status and units allowed from what the rules left it: `denied` (0 units)
    when a rule denied it or reduced it to nothing, `reduced` below the units billed, else `allowed`."""
    units = 0 if denied else allowed
    if units <= 0:
        return "denied", 0
    return ("reduced" if units < billed else "allowed"), units


def claim_outcome(governed: int, denied: int, reduced: int) -> Outcome:
    """A claim's outcome from how many of its governed lines were denied and reduced: `deny` when
    every governed line is denied, `partial` when some are denied or reduced, else `pay` (one rule
    for the `Decision` and for the decision JSON batch writes straight from the rules' results)."""
    if governed and denied == governed:
        return "deny"
    return "partial" if denied or reduced else "pay"


def claim_digest(claim: object) -> str:
    """The SHA-256 of a claim's canonical JSON, as ``"sha256:..."``.

    Canonical: keys sorted, no whitespace, non-ASCII written as ``\\uXXXX`` (so
    any string, even a lone surrogate, encodes), and a number written by its value:
    800, 800.0 and Decimal("800.00") are one number, written 800. The same claim
    read from JSON or YAML, with its keys in any order, has one digest; together
    with the policy's digest it identifies what a decision was made from.

    >>> claim_digest({"b": 1, "a": "x"}) == claim_digest({"a": "x", "b": 1})
    True
    >>> claim_digest({"therapy_spend_to_date": 800}) == claim_digest({"therapy_spend_to_date": 800.0})
    True
    """
    if orjson is not None:
        # orjson writes the same bytes as the canonical encoder whenever it writes no escape, no
        # non-ASCII and no float (which the canonical form rewrites by value): the usual claim, in
        # a fifth of the time. Anything else, or anything orjson refuses (a Decimal, a huge int, a
        # lone surrogate), takes the canonical encoder below.
        try:
            raw = orjson.dumps(claim, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            raw = b"\\"
        # orjson writes DEL (0x7f) as it is, the canonical encoder as \u007f; NaN and infinities as null.
        if raw.isascii() and b"\\" not in raw and b"\x7f" not in raw and (b"null" not in raw or _finite(claim)):
            if _no_float(raw):
                return "sha256:" + hashlib.sha256(raw).hexdigest()
            # A float (a spend of 1500.50): written by value, whole ones as ints, as the canonical form
            # does; orjson writes the others as Python does (the shortest digits that read back) while
            # they need no exponent, from 1e-4 to 1e16. Any other takes the canonical encoder.
            try:
                return "sha256:" + hashlib.sha256(orjson.dumps(_floats_by_value(claim),
                                                               option=orjson.OPT_SORT_KEYS)).hexdigest()
            except (_Unusual, TypeError):
                pass
    try:
        text = _PLAIN(claim)
        if _FLOAT.search(text):
            text = _CANONICAL(_numbers_by_value(claim))
    except _DecimalSeen:
        text = _CANONICAL(_numbers_by_value(claim))
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


class _Unusual(Exception):
    """A float orjson might write otherwise than the canonical encoder: NaN, infinite, tiny or huge."""


def _floats_by_value(value: object) -> object:
    """`value` with each whole float as an int, for orjson; _Unusual for a float it may write otherwise."""
    if type(value) is dict:
        return {k: _floats_by_value(v) for k, v in value.items()}
    if type(value) is list:
        return [_floats_by_value(v) for v in value]
    if type(value) is float:
        if value.is_integer():
            return int(value)
        if not 1e-4 <= abs(value) < 1e16:  # NaN too: it compares false
            raise _Unusual
    return value


def _finite(value: object) -> bool:
    """Whether `value` holds no NaN and no infinity (which orjson would write as null)."""
    if type(value) is dict:
        value = value.values()
    elif type(value) is not list:
        return not (type(value) is float and not math.isfinite(value))
    for item in value:
        if not _finite(item):
            return False
    return True


def _numbers_by_value(value: object) -> object:
    """`value` with each whole float or Decimal as an int and any other Decimal as a float.

    A claim's numbers were encoded as parsed, so spend 800 and 800.0 (as pandas writes it) had
    two digests (issue 16); whole numbers keep their form, so digests stored before still match.
    """
    if isinstance(value, dict):
        return {k: _numbers_by_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_by_value(v) for v in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value.adjusted() < 20 and value == value.to_integral_value() else float(value)
    return value


def money_text(amount: Decimal | None) -> str | None:
    """A Decimal as a two-place string, or None."""
    if amount is None:
        return None
    # Half up, as the evaluator and the policies' round() do; amounts arrive rounded, this keeps
    # a caller-built Decision from printing differently.
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """Which policy decided: enough to reproduce the decision."""

    name: str
    payer: str
    version: str
    effective_from: str
    effective_to: str | None
    digest: str
    file: str = ""
    title: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "payer": self.payer, "version": self.version, "title": self.title,
                "effective_from": self.effective_from, "effective_to": self.effective_to,
                "digest": self.digest, "file": self.file}


@dataclass(frozen=True, slots=True)
class Source:
    """A source cited by a finding."""

    id: str
    title: str
    url: str
    date: str | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "url": self.url, "date": self.date}

    def cite(self) -> str:
        return f"{self.title} <{self.url}>" if self.url else self.title


@dataclass(frozen=True, slots=True)
class Origin:
    """The layer that decided a finding: which policy, which file, which line."""

    policy: str
    version: str
    file: str
    line: int

    def to_dict(self) -> dict:
        return {"policy": self.policy, "version": self.version, "file": self.file, "line": self.line}

    def __str__(self) -> str:
        return f"{self.policy} {self.version} ({self.file}:{self.line})"


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired: what it says, on which line, and on whose authority."""

    id: str
    rule: str
    severity: Severity
    line: int | None
    message: str
    citation: str
    reason_codes: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    title: str = ""
    origin: Origin | None = None
    reads: tuple[tuple[str, object], ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        return {"id": self.id, "rule": self.rule, "title": self.title, "severity": self.severity,
                "line": self.line, "message": self.message, "citation": self.citation,
                "reason_codes": list(self.reason_codes), "sources": [s.to_dict() for s in self.sources],
                "origin": self.origin.to_dict() if self.origin else None}


Group = Literal["CO", "PR", "OA", "PI"]


@dataclass(frozen=True, slots=True)
class Adjustment:
    """What an 835 reports in a line's CAS segment: a group, a CARC, the amount and units adjusted.

    `group` and `carc` are None when the rule that decided the line names no CARC (the reference
    gives none for it): the amount is still accounted for, and an 835 writer must choose the code.
    `amount` is None when the claim line gives no `charge`. `finding` is the id of the finding
    whose rule the codes come from. See ctsdsl/engine/adjustments.py for how they are made.
    """

    group: Group | None
    carc: str | None
    amount: Decimal | None
    quantity: int
    finding: str

    def to_dict(self) -> dict:
        return {"group": self.group, "carc": self.carc, "amount": money_text(self.amount),
                "quantity": self.quantity, "finding": self.finding}


@dataclass(frozen=True, slots=True)
class LineDecision:
    """The decision for one claim line."""

    index: int
    code: str
    status: LineStatus
    units_billed: int
    units_allowed: int
    allowed_amount: Decimal | None
    findings: tuple[str, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()  # the CAS of an 835: why units_billed - units_allowed were not paid
    remarks: tuple[str, ...] = ()  # RARC codes, an 835's LQ segment, of the rule the adjustments come from
    confirm: tuple[str, ...] = ()  # needs_record: the elements the claim does not state, to confirm in the record

    @property
    def amount_unknown(self) -> bool:
        """Paid (units allowed) with no amount: the policy's data has no fee for it. An
        out-of-scope line has no amount either, but is not the policy's to pay."""
        return self.allowed_amount is None and self.units_allowed > 0 and self.status != "out_of_scope"

    def to_dict(self) -> dict:
        return {"index": self.index, "code": self.code, "status": self.status,
                "units_billed": self.units_billed, "units_allowed": self.units_allowed,
                "allowed_amount": money_text(self.allowed_amount), "findings": list(self.findings),
                "adjustments": [a.to_dict() for a in self.adjustments], "remarks": list(self.remarks),
                **({"confirm": list(self.confirm)} if self.confirm else {})}


@dataclass(frozen=True, slots=True)
class Decision:
    """The whole decision for a claim."""

    claim_id: str
    policy: PolicyInfo
    outcome: Outcome
    lines: tuple[LineDecision, ...]
    findings: tuple[Finding, ...]
    total_allowed: Decimal
    claim_digest: str = ""  # see `claim_digest`: with policy.digest, what the decision was made from
    assumed_documented: bool = False  # decided with every documentation flag not given as false read as true

    @property
    def total_complete(self) -> bool:
        """False when a paid line's amount is unknown (a 2026 line before CMS's RVUs are in):
        total_allowed then adds only the known amounts, and is not the claim's total."""
        return not any(line.amount_unknown for line in self.lines)

    def to_dict(self) -> dict:
        """The decision as `schemas/decision.schema.json` defines it."""
        return {"claim_id": self.claim_id, "claim_digest": self.claim_digest, "policy": self.policy.to_dict(),
                "outcome": self.outcome,
                "lines": [line.to_dict() for line in self.lines],
                "findings": [f.to_dict() for f in self.findings],
                "total_allowed": money_text(self.total_allowed), "total_complete": self.total_complete,
                **({"assumed_documented": True} if self.assumed_documented else {})}

    def findings_for(self, index: int | None) -> list[Finding]:
        return [f for f in self.findings if f.line == index]
