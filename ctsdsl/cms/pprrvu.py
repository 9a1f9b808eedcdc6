"""Read CMS's quarterly physician fee schedule relative value file (PPRRVU).

CMS publishes the file every quarter (``PPRRVU2026_Jul_nonQPP.csv`` and its kin) in a
layout meant for people: a few title rows, then a header whose column names are split
over several rows (``NON-FAC`` above ``PE RVU``), then one row per code and modifier. Its
columns move between years (2026 added ``PRIC IND``), so every column is found by its
whole header name, never by position, and a file whose header lacks one this reader needs
is refused, naming it.

Only the global row of a code is read: rows with a modifier (26 professional, TC
technical, 53) price a part of the service, not the service.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..errors import DataFileError, Diagnostic, closest, did_you_mean
from ..language.nodes import Span

#: How many rows from the top the header's last row (the one that starts with HCPCS) may be.
MAX_TITLE_ROWS = 40

#: Each figure read, by the name this reader gives it, with the header names it goes by.
#: Names are the header cells of one column joined top to bottom with single spaces.
FIGURES = {
    "work": ("WORK RVU",),
    "pe_nf": ("NON-FAC PE RVU",),
    "pe_f": ("FACILITY PE RVU",),
    "mp": ("MP RVU",),
    "total_nf": ("NON-FACILITY TOTAL",),
    "total_f": ("FACILITY TOTAL",),
}
INDICATORS = {
    "status": ("STATUS CODE",),
    "global": ("GLOB DAYS",),
    "mult_proc": ("MULT PROC",),
    "pctc": ("PCTC IND",),
}
_KEYS = {"code": ("HCPCS",), "modifier": ("MOD",), "description": ("DESCRIPTION",)}
_OPTIONAL = {"conv_factor": ("CONV FACTOR",)}

# RVUs are written with two decimals; a conversion factor with four. ASCII digits only.
_FIGURE = re.compile(r"^[0-9]+(\.[0-9]+)?$", re.ASCII)
_CODE = re.compile(r"^[0-9A-Z]{5}$", re.ASCII)


@dataclass(frozen=True)
class RvuRow:
    """One code's global row: its figures as the file writes them ("0.57"), and where it is."""

    code: str
    line: int
    description: str
    figures: dict[str, str]
    indicators: dict[str, str]
    conv_factor: str | None = None
    columns: dict[str, int] = field(default_factory=dict, compare=False)  # where each figure's cell starts

    def value(self, name: str) -> Decimal:
        return Decimal(self.figures[name])

    def totals_problem(self, path: str) -> Diagnostic | None:
        """The totals are the sum of their parts; a row where they are not is damaged or misread.

        Checked for the rows imported, not the whole file: a stray row elsewhere in CMS's
        16,000 does not stop an import of the codes a policy prices.
        """
        for total, pe in (("total_nf", "pe_nf"), ("total_f", "pe_f")):
            parts = self.value("work") + self.value(pe) + self.value("mp")
            if parts != self.value(total):
                col = self.columns.get(total, 1)
                return Diagnostic(
                    "totals", f"{self.code}'s {FIGURES[total][0]} is {self.figures[total]}, but its WORK RVU, "
                    f"{FIGURES[pe][0]} and MP RVU add up to {parts}", path,
                    Span(self.line, col, self.line, col + len(self.figures[total])),
                    "the file may be damaged or its columns misnamed: compare the row with CMS's copy")
        return None


@dataclass
class RvuRelease:
    """A PPRRVU file read: its title rows, and the global row of each code."""

    path: str
    title: str
    released: str
    rows: dict[str, RvuRow] = field(default_factory=dict)
    modifier_rows: dict[str, list[str]] = field(default_factory=dict)  # code -> modifiers of its other rows
    header_line: int = 0

    def conversion_factors(self) -> list[str]:
        return sorted({r.conv_factor for r in self.rows.values() if r.conv_factor})

    def missing_code(self, code: str) -> Diagnostic:
        """Why `code` cannot be imported: no row at all, or only rows for a part of the service."""
        if code in self.modifier_rows:
            message = (f"{code} has only rows with a modifier ({', '.join(self.modifier_rows[code])}) in "
                       f"{Path(self.path).name}, no global row")
            hint = "a modifier row prices a part of the service (26 professional, TC technical); import the code's global row"
        else:
            message = f"{code} is not in {Path(self.path).name}"
            close = did_you_mean(code, self.rows, quote="")
            hint = (f"{close} " if close else "") + "codes are the file's HCPCS column"
        return Diagnostic("unknown-code", message, self.path, hint=hint)


def _cell_columns(line: str) -> list[int]:
    """The 1-based column where each cell of one CSV line starts, so an error can point at the cell."""
    starts, i, quoted = [1], 0, False
    while i < len(line):
        ch = line[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            starts.append(i + 2)
        i += 1
    return starts


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # CMS's files come from Windows: a description's accented letter is cp1252, not UTF-8
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFileError(Diagnostic("not-text", f"{Path(name).name} is not a text file "
                                       f"(byte 0x{raw[exc.start]:02x})", name, Span(line, 1, line, 2))) from None


def _column_names(header: list[list[str]]) -> list[str]:
    width = max(len(row) for row in header)
    names = []
    for col in range(width):
        words = [row[col].strip() for row in header if col < len(row) and row[col].strip()]
        names.append(" ".join(" ".join(words).split()).upper())
    return names


def read_release(path: str | Path) -> RvuRelease:
    """Read a PPRRVU file, or raise `DataFileError` naming the file, line and column at fault."""
    path = Path(path)
    name = str(path)
    try:
        if not path.is_file():
            raise DataFileError(Diagnostic("missing-file", f"{name} is not a file" if path.exists()
                                           else f"file not found: {name}", name))
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(Diagnostic("unreadable", f"cannot read {name}: {exc.strerror}", name)) from None
    text = _decode(raw, name)
    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []  # (first line of the row, its cells)
    try:
        start = 1
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataFileError(Diagnostic("csv", f"{path.name} is not valid CSV: {exc}", name,
                                       Span(reader.line_num, 1, reader.line_num, 2))) from None

    header_at = next((i for i, (_, cells) in enumerate(rows[:MAX_TITLE_ROWS])
                      if cells and cells[0].strip().upper() == "HCPCS"), None)
    if header_at is None:
        raise DataFileError(Diagnostic(
            "unrecognised-header", f"{path.name} has no header row starting with HCPCS in its first "
            f"{MAX_TITLE_ROWS} rows: it is not a CMS relative value (PPRRVU) file", name, Span(1, 1, 1, 2),
            "give the PPRRVU…csv file of CMS's quarterly RVU release (the one with HCPCS, MOD, DESCRIPTION …)"))
    # The header's rows run up from the HCPCS row to the first row that only a title fills: titles
    # stand in the first three columns, every header row has a name further right.
    top = header_at
    while top > 0 and any(c.strip() for c in rows[top - 1][1][3:]):
        top -= 1
    titles = [c.strip() for _, cells in rows[:top] for c in cells if c.strip()]
    names = _column_names([cells for _, cells in rows[top:header_at + 1]])
    header_line = rows[header_at][0]

    wanted = {**_KEYS, **FIGURES, **INDICATORS}
    where: dict[str, int] = {}
    missing = []
    for key, aliases in {**wanted, **_OPTIONAL}.items():
        found = [i for i, n in enumerate(names) if n in aliases]
        if found:
            where[key] = found[0]
        elif key in wanted:
            missing.append(aliases[0])
    if missing:
        hints = []
        for m in missing:
            close = closest(m, [n for n in names if n], cutoff=0.5)
            hints.append(f"{m!r}" + (f" (the file has {close!r})" if close else ""))
        raise DataFileError(Diagnostic(
            "unrecognised-header", f"{path.name}'s header has no column {', '.join(hints)}", name,
            Span(header_line, 1, header_line, 6),
            "columns are found by their whole name, read down the header rows "
            f"(rows {rows[top][0]}-{header_line}); this reader knows CMS's PPRRVU layout"))

    release = RvuRelease(name, next((t for t in titles if "RELATIVE VALUE" in t.upper()), titles[0] if titles else ""),
                         next((t.split(None, 1)[1] for t in titles if t.upper().startswith("RELEASED ")), ""),
                         header_line=header_line)
    def starts_of(line: int) -> list[int]:
        return _cell_columns(lines[line - 1]) if line <= len(lines) else []

    for line, cells in rows[header_at + 1:]:
        if not any(c.strip() for c in cells):
            continue

        def cell(key: str, cells: list[str] = cells) -> str:
            i = where[key]
            return cells[i].strip() if i < len(cells) else ""

        def problem(message: str, key: str, hint: str = "", line: int = line) -> DataFileError:
            starts = starts_of(line)
            col = starts[where[key]] if where[key] < len(starts) else 1
            return DataFileError(Diagnostic("bad-cell", message, name, Span(line, col, line, col + max(1, len(cell(key)))),
                                            hint, source_text=text))

        code = cell("code").upper()
        if not _CODE.match(code):
            raise problem(f"{code!r} in column HCPCS is not a HCPCS code (five letters or digits)", "code")
        modifier = cell("modifier")
        if modifier:
            release.modifier_rows.setdefault(code, []).append(modifier)
            continue
        if code in release.rows:
            raise problem(f"{code} has a second global row (the first is at line {release.rows[code].line})", "code",
                          "a code has one row without a modifier; is the file two releases pasted together?")
        figures = {}
        for key in FIGURES:
            value = cell(key)
            if not _FIGURE.match(value):
                raise problem(f"{value!r} in column {FIGURES[key][0]} of {code} is not a number", key,
                              "RVUs are plain decimals such as 0.57")
            figures[key] = value
        conv = cell("conv_factor") if "conv_factor" in where else ""
        if conv and not _FIGURE.match(conv):
            raise problem(f"{conv!r} in column CONV FACTOR of {code} is not a number", "conv_factor")
        release.rows[code] = RvuRow(code, line, cell("description"), figures,
                                    {key: cell(key) for key in INDICATORS}, conv or None,
                                    {key: starts_of(line)[where[key]] if where[key] < len(starts_of(line)) else 1
                                     for key in FIGURES})
    return release
