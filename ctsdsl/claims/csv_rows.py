"""Claims from a CSV file of claim lines: one row per line, the rows of a claim next to each other.

The claim's own fields repeat on each of its rows; a new ``id`` starts the next claim. Cells
become the JSON types the claim schema wants (numbers, true/false, a list of modifiers), and
anything that does not convert is left as text for the schema check to report, with the
claim's line in the file. Rows are read as a stream: one claim in memory at a time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

from .validation import SPEND_FIELDS
from ..errors import ClaimError, Diagnostic, Span
from .fields import DOCUMENTATION, catalogue

_CLAIM_COLUMNS = {"id": "str", "payer": "str", "date_of_service": "str", "place_of_service": "str",
                  "provider_type": "str", "apm_qualifying": "bool"}
_CLAIM_COLUMNS.update({field: "number" for field in SPEND_FIELDS})
# The documentation flags as the claim schema lists them (the field catalogue reads it).
_CLAIM_COLUMNS.update({f"documentation.{flag}": "bool" for flag in sorted(catalogue()[DOCUMENTATION])})
# A line's own date of service is `line_date_of_service`: `date_of_service` is the claim's.
_LINE_COLUMNS = {"code": "str", "units": "int", "minutes": "int", "modifiers": "list", "patients_represented": "int",
                 "caregivers": "int", "patient_present": "bool", "line_date_of_service": "str"}
MAX_LINES = 1000  # the claim schema's maxItems for lines: memory stays bounded whatever the rows repeat
_SPLIT = re.compile(r"[\s;,]+")
_HINT = ("a claims CSV has a header row naming claim columns (id, payer, date_of_service, place_of_service, ..., "
         "documentation.consent, ...) and line columns (code, units, minutes, modifiers, ...)")

# Said of any malformed CSV ctsdsl reads: a claim file here, a policy's data table in `tables`.
CSV_QUOTE_HINT = 'a quoted cell ends with " followed by a comma or the end of its line; write a quote inside it as ""'


# Numbers in ASCII digits only: int() and float() also take 1_0, ١٠ and ５, and would decide on them.
_INTEGER = re.compile(r"-?[0-9]{1,100}").fullmatch
_DECIMAL = re.compile(r"-?[0-9]{1,100}\.[0-9]{1,100}").fullmatch


def _cell(kind: str, text: str) -> object:
    if kind == "str":
        return text
    if kind == "list":  # "GP KX", "GP;KX" or "GP,KX"
        return [m for m in _SPLIT.split(text.strip()) if m]
    if kind == "bool":
        return {"true": True, "yes": True, "false": False, "no": False}.get(text.strip().lower(), text)
    number = text.strip(" \t")
    if _INTEGER(number):
        return int(number)
    # 1.0 for a count is read (the schema counts it as an integer), 1.5 is left to the schema to refuse
    return float(number) if _DECIMAL(number) else text


def _claim_fields(row: dict) -> dict:
    claim: dict = {}
    for column, text in row.items():
        if column in _CLAIM_COLUMNS and text != "":
            value = _cell(_CLAIM_COLUMNS[column], text)
            if column.startswith("documentation."):
                claim.setdefault("documentation", {})[column.partition(".")[2]] = value
            else:
                claim[column] = value
    return claim


def _line(row: dict) -> dict:
    return {("date_of_service" if column == "line_date_of_service" else column): _cell(kind, row[column])
            for column, kind in _LINE_COLUMNS.items() if row.get(column, "") != ""}


def _row_problem(message: str, name: str, lineno: int, hint: str = _HINT) -> ClaimError:
    return ClaimError(Diagnostic("claim-csv-row", message, name, Span(lineno, 1), hint))


def _undecodable(cells: list[str], name: str, lineno: int) -> ClaimError | None:
    """A row holding bytes that are not UTF-8 (read as surrogate escapes), as its record's error."""
    try:
        "".join(cells).encode("utf-8")
    except UnicodeEncodeError as exc:
        return ClaimError(Diagnostic("claim-encoding", f"invalid UTF-8 (byte 0x{ord(exc.object[exc.start]) - 0xDC00:02x})",
                                     name, Span(lineno, 1), "save the file as UTF-8"))
    return None


class _Claim:
    """The rows of one claim so far: its fields from the first row, its lines, and the first problem."""

    def __init__(self, fields: dict, first: int, before: ClaimError | None = None) -> None:
        self.fields, self.first, self.problem = fields, first, None
        self.lines: list[dict] = []
        if before is not None:  # the unreadable row just before this claim may have been its first
            d = before.diagnostics[0]
            self.problem = ClaimError(Diagnostic(d.code, f"{d.message}; that row, just before this claim's first, "
                                                 "may have been one of its rows", d.source_name, d.span, d.hint))

    def record(self) -> tuple[int, bytes | ClaimError]:
        return self.first, self.problem or json.dumps(dict(self.fields, lines=self.lines)).encode()


def csv_records(fh, name: str) -> Iterator[tuple[int, bytes | ClaimError]]:
    """Yield (line of the claim's first row, the claim as JSON bytes, or the ClaimError) per claim.

    A row that cannot be read (a quote left open, text after a closing quote, too few or too many
    cells, bytes that are not UTF-8) makes its claim's record an error, as a bad line of a .jsonl
    file does, and the rows after it are read on. When the row is too broken to say which claim it
    belongs to, both the claim before it and the one after it are refused: it may have been a row of
    either, and a claim decided without one of its lines would be decided wrongly.

    Args:
        fh: The file, opened in binary mode.
        name: Its name, for the diagnostics.

    Raises:
        ClaimError: For the file as a whole: a header naming an unknown column, no id or code
            column, a header that is not UTF-8 or not CSV.
    """
    # Undecodable bytes come through as surrogate escapes, so that only their row is refused.
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=True)  # strict: a quote left open at the end is an error, not a cell
    try:
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise _row_problem(f"malformed CSV header: {exc}", name, 1) from None
        if header is None:
            return
        bad_header = _undecodable(header, name, 1)
        if bad_header:
            raise bad_header
        unknown = [c for c in header if c not in _CLAIM_COLUMNS and c not in _LINE_COLUMNS]
        if unknown or "id" not in header or "code" not in header:
            message = f"unknown column {unknown[0]!r}" if unknown else "the header needs an id and a code column"
            raise ClaimError(Diagnostic("claim-csv-header", message, name, Span(1, 1), _HINT))
        yield from _claims(reader, header, name)
    finally:
        text.detach()  # the caller owns the binary file


def _claims(reader, header: list[str], name: str) -> Iterator[tuple[int, bytes | ClaimError]]:
    id_at = header.index("id")
    current: _Claim | None = None
    pending: ClaimError | None = None  # an unreadable row's error, for the next claim to carry
    alone = False  # whether no claim before it carries it either
    done = reader.line_num  # the last line read whole: a row that fails starts after it
    while True:
        try:
            cells = next(reader)
            lineno = reader.line_num
            problem = _undecodable(cells, name, lineno) if cells else None
            if problem is None and cells and len(cells) != len(header):
                problem = _row_problem(f"{len(cells)} cells where the header has {len(header)}", name, lineno)
        except StopIteration:
            break
        except csv.Error as exc:
            cells, lineno = [], done + 1
            problem = _row_problem(f"malformed CSV: {exc}", name, lineno, CSV_QUOTE_HINT)
        done = reader.line_num
        if problem is None and not any(cells):
            continue
        if problem is not None:
            owner = cells[id_at] if id_at < len(cells) else None  # whose row it is, when it says
            if owner is None:  # unknown: the claim before it and the claim after it are both suspect
                if current is not None:
                    current.problem = current.problem or problem
                pending, alone = problem, current is None
                continue
            if current is None or owner != current.fields.get("id"):
                if current is not None:
                    yield current.record()
                current, pending = _Claim({"id": owner}, lineno, pending), None
            current.problem = current.problem or problem
            continue
        row = dict(zip(header, cells))
        fields = _claim_fields(row)
        if current is not None and fields.get("id") == current.fields.get("id"):
            if current.problem is None and fields != current.fields:
                differ = next(k for k in sorted(set(fields) | set(current.fields))
                              if fields.get(k) != current.fields.get(k))
                current.problem = ClaimError(Diagnostic(
                    "claim-csv-row", f"{differ} is {json.dumps(fields.get(differ))} here but "
                    f"{json.dumps(current.fields.get(differ))} on line {current.first}, the claim's first row", name,
                    Span(lineno, 1), "a claim's own columns must be the same on each of its rows"))
            if len(current.lines) <= MAX_LINES:  # one past the schema's maximum, so its check reports it; no more
                current.lines.append(_line(row))
            continue
        if current is not None:
            yield current.record()
        current, pending = _Claim(fields, lineno, pending), None
        current.lines.append(_line(row))
    if current is not None:
        yield current.record()
    if pending is not None and alone:  # an unreadable last row that no claim carries: its own record
        yield pending.diagnostics[0].span.line, pending
