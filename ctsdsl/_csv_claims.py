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

from .claims import _DOC_FIELDS, SPEND_FIELDS
from .errors import ClaimError, Diagnostic
from .nodes import Span

_CLAIM_COLUMNS = {"id": "str", "payer": "str", "date_of_service": "str", "place_of_service": "str",
                  "provider_type": "str", "apm_qualifying": "bool"}
_CLAIM_COLUMNS.update({field: "number" for field in SPEND_FIELDS})
_CLAIM_COLUMNS.update({f"documentation.{flag}": "bool" for flag in sorted(_DOC_FIELDS)})
# A line's own date of service is `line_date_of_service`: `date_of_service` is the claim's.
_LINE_COLUMNS = {"code": "str", "units": "int", "minutes": "int", "modifiers": "list", "patients_represented": "int",
                 "caregivers": "int", "patient_present": "bool", "line_date_of_service": "str"}
MAX_LINES = 1000  # the claim schema's maxItems for lines: memory stays bounded whatever the rows repeat
_SPLIT = re.compile(r"[\s;,]+")
_HINT = ("a claims CSV has a header row naming claim columns (id, payer, date_of_service, place_of_service, ..., "
         "documentation.consent, ...) and line columns (code, units, minutes, modifiers, ...)")


def _cell(kind: str, text: str) -> object:
    if kind == "str":
        return text
    if kind == "list":  # "GP KX", "GP;KX" or "GP,KX"
        return [m for m in _SPLIT.split(text.strip()) if m]
    if kind == "bool":
        return {"true": True, "yes": True, "false": False, "no": False}.get(text.strip().lower(), text)
    try:
        return int(text)
    except ValueError:
        try:
            return float(text) if kind == "number" or text.strip().replace(".", "", 1).isdigit() else text
        except ValueError:
            return text


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


def csv_records(fh, name: str) -> Iterator[tuple[int, bytes | ClaimError]]:
    """Yield (line of the claim's first row, the claim as JSON bytes, or the ClaimError) per claim.

    Args:
        fh: The file, opened in binary mode.
        name: Its name, for the diagnostics.

    Raises:
        ClaimError: For the file as a whole: a header naming an unknown column, no id or code
            column, text that is not UTF-8, a malformed CSV row.
    """
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    lineno = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        unknown = [c for c in header if c not in _CLAIM_COLUMNS and c not in _LINE_COLUMNS]
        if unknown or "id" not in header or "code" not in header:
            message = f"unknown column {unknown[0]!r}" if unknown else "the header needs an id and a code column"
            raise ClaimError(Diagnostic("claim-csv-header", message, name, Span(1, 1), _HINT))
        current: dict | None = None
        first = 0  # the current claim's first row
        lines: list[dict] = []  # the current claim's lines so far
        problem: ClaimError | None = None
        for cells in reader:
            lineno = reader.line_num
            if not any(cells):
                continue
            if len(cells) != len(header):
                raise ClaimError(Diagnostic("claim-csv-row", f"{len(cells)} cells where the header has "
                                            f"{len(header)}", name, Span(lineno, 1), _HINT))
            row = dict(zip(header, cells))
            fields = _claim_fields(row)
            if current is not None and fields.get("id") == current.get("id"):
                if fields != current and problem is None:
                    differ = next(k for k in sorted(set(fields) | set(current)) if fields.get(k) != current.get(k))
                    problem = ClaimError(Diagnostic(
                        "claim-csv-row", f"{differ} is {json.dumps(fields.get(differ))} here but "
                        f"{json.dumps(current.get(differ))} on line {first}, the claim's first row", name,
                        Span(lineno, 1), "a claim's own columns must be the same on each of its rows"))
                if len(lines) <= MAX_LINES:  # one past the schema's maximum, so its check reports it; no more
                    lines.append(_line(row))
                continue
            if current is not None:
                yield first, problem or json.dumps(dict(current, lines=lines)).encode()
            current, first, lines, problem = fields, lineno, [_line(row)], None
        if current is not None:
            yield first, problem or json.dumps(dict(current, lines=lines)).encode()
    except csv.Error as exc:
        raise ClaimError(Diagnostic("claim-csv-row", f"malformed CSV: {exc}", name, Span(reader.line_num, 1),
                                    _HINT)) from None
    except UnicodeDecodeError as exc:
        raise ClaimError(Diagnostic("claim-encoding", f"invalid UTF-8 (byte 0x{exc.object[exc.start]:02x}) "
                                    f"after line {lineno}", name, Span(lineno + 1, 1), "save the file as UTF-8")) \
            from None
    finally:
        text.detach()  # the caller owns the binary file

