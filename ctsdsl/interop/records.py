"""The sidecar of facts a real claim does not carry: session minutes, caregivers, the record's documentation.

An 837P or a FHIR Claim says what was billed; how long the session was, how many patients
and caregivers it served, whether the patient was there and what the record documents live in
the medical record. A team that has them writes one JSON line per claim (``--records``)::

    {"claim": "TEST-CLM-001", "documentation": {"consent": true},
     "lines": {"1": {"minutes": 45, "patients_represented": 1, "caregivers": 2, "patient_present": false}}}

``claim`` is the claim's id (CLM01, or the FHIR Claim's identifier); ``lines`` are keyed by
the line's number in its file (LX01, ``item.sequence``). The fields allowed are the claim
schema's own, less those the claim file carries: which ones is derived from the schema, so a
field added there is accepted here. Without a record the documentation flags and the line
facts are null in the claim, "not stated" (never false: an absent flag reads as not documented),
and a record states only those it gives (`draft.unstatable_facts`). A record that does not
parse or check stops the run before any claim is decided (a claim
decided without its facts would be decided wrongly); a record naming a claim or a line the
file lacks is an error of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claims.validation import claim_schema, jsonl_lines, parse_jsonl_record
from ..errors import ClaimError, Diagnostic
from ..language.nodes import Span
from ..limits import MAX_CLAIM_FILE_BYTES
from .origin import Origin

# What the claim file itself says: a record may not restate (or contradict) it.
_FROM_THE_CLAIM_FILE = frozenset(("id", "payer", "date_of_service", "place_of_service", "provider_type", "lines"))
_FROM_THE_LINE = frozenset(("code", "units", "modifiers", "date_of_service"))
_LINE_KEY = "^[1-9][0-9]{0,5}$"


@functools.lru_cache(maxsize=1)
def record_schema() -> dict:
    """The JSON Schema of a sidecar record, cut from the claim schema."""
    claim = claim_schema()
    line = claim["$defs"]["line"]["properties"]
    facts = {k: v for k, v in claim["properties"].items() if k not in _FROM_THE_CLAIM_FILE}
    return {
        "type": "object", "required": ["claim"], "additionalProperties": False,
        "properties": {
            "claim": claim["properties"]["id"],
            **facts,
            "lines": {"type": "object", "propertyNames": {"pattern": _LINE_KEY},
                      "additionalProperties": {"type": "object", "additionalProperties": False,
                                               "properties": {k: v for k, v in line.items()
                                                              if k not in _FROM_THE_LINE}}},
        },
    }


@dataclass(frozen=True)
class _Record:
    lineno: int
    data: dict[str, Any]


class Records:
    """A loaded sidecar: each claim's record, and which of them a claim of the file used."""

    def __init__(self, source: str, records: dict[str, _Record]) -> None:
        self.source = source
        self._records = records
        self._seen: set[str] = set()

    def __len__(self) -> int:
        return len(self._records)

    def seen(self, claim_id: str) -> None:
        """Note that the file has a claim with this id (one that could not be read, say)."""
        self._seen.add(claim_id)

    def join(self, claim_id: str, claim: dict, line_keys: list[str], origins: dict[str, Origin]) -> None:
        """Add the record's facts to a claim, noting where each came from.

        Raises:
            ClaimError: The record names a line the claim lacks, or a second claim of the file has this id.
        """
        record = self._records.get(claim_id)
        if record is None:
            return
        where = f"{self.source}:{record.lineno}"
        if claim_id in self._seen:
            raise ClaimError(Diagnostic(
                "record-ambiguous", f"the record for claim {claim_id!r} ({where}) fits more than one claim: the file "
                "has two claims with this id", self.source, Span(record.lineno, 1),
                hint="give each claim its own id (CLM01, the Claim's identifier)"))
        self._seen.add(claim_id)

        def origin(path: str) -> Origin:
            return Origin(self.source, Span(record.lineno, 1), f"the record for claim {claim_id!r}", path)

        for key, value in record.data.items():
            if key == "lines":
                continue
            if key == "documentation":  # the flags the record omits stay not stated (null), not false
                claim[key] = {**claim.get(key, {}), **value}
                origins[f"$.{key}"] = origin(f"$.{key}")
            elif key != "claim":
                claim[key] = value
                origins[f"$.{key}"] = origin(f"$.{key}")
        for key, facts in record.data.get("lines", {}).items():
            if key not in line_keys:
                raise ClaimError(Diagnostic(
                    "record-unknown-line", f"the record for claim {claim_id!r} gives facts for line {key}, which the "
                    "claim does not have (its lines: " + ", ".join(line_keys) + ")", self.source,
                    Span(record.lineno, 1), hint="key lines by their number in the claim file (LX01, item.sequence)",
                    path=f"$.lines.{key}"))
            index = line_keys.index(key)
            claim["lines"][index].update(facts)
            for fact in facts:
                origins[f"$.lines[{index}].{fact}"] = origin(f"$.lines.{key}.{fact}")

    def unused(self) -> Iterator[tuple[str, ClaimError]]:
        """An error for each record whose claim the file did not have, in the sidecar's order."""
        for claim_id, record in self._records.items():
            if claim_id not in self._seen:
                where = f"{self.source}:{record.lineno}"
                yield where, ClaimError(Diagnostic(
                    "record-unknown-claim", f"the record for claim {claim_id!r} names no claim of the claim file",
                    self.source, Span(record.lineno, 1), hint="check the id (CLM01, the Claim's identifier), or "
                    "that the record belongs with this file", path="$.claim"))


def load_records(path: str | Path) -> Records:
    """Read and check a sidecar file (JSON Lines), every record before any claim is decided.

    Raises:
        ClaimError: With a located diagnostic for each bad record (not JSON, not matching
            `record_schema`, a claim given twice), or for the file as a whole.
    """
    from jsonschema import Draft202012Validator

    name = str(path)
    validator = Draft202012Validator(record_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    records: dict[str, _Record] = {}
    problems: list[Diagnostic] = []
    try:
        if Path(path).stat().st_size > MAX_CLAIM_FILE_BYTES:
            raise ClaimError(Diagnostic("records-too-large", f"{name} is larger than {MAX_CLAIM_FILE_BYTES} bytes",
                                        name))
        with open(path, "rb") as fh:
            for lineno, raw in jsonl_lines(fh):
                item = parse_jsonl_record(raw, name, lineno)
                if isinstance(item, ClaimError):
                    problems.extend(item.diagnostics)
                    continue
                errors = sorted(validator.iter_errors(item), key=lambda e: list(e.absolute_path))
                if errors:
                    problems.extend(Diagnostic("record-invalid", e.message, name, Span(lineno, 1),
                                               path=e.json_path) for e in errors)
                    continue
                assert isinstance(item, dict)  # the schema's "type": "object"
                claim_id = item["claim"]
                if claim_id in records:
                    problems.append(Diagnostic(
                        "record-duplicate", f"a second record for claim {claim_id!r} (the first is line "
                        f"{records[claim_id].lineno})", name, Span(lineno, 1), "merge them into one", path="$.claim"))
                    continue
                records[claim_id] = _Record(lineno, item)
    except OSError as exc:
        raise ClaimError(Diagnostic("records-unreadable", f"cannot read the records file {name}: "
                                    f"{exc.strerror or exc}", name)) from None
    if problems:
        raise ClaimError(problems)
    return Records(name, records)
