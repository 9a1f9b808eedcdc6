"""Data tables beside a policy: fee schedules, RVUs, code lists, as CSV or YAML.

A table is read once, its cells typed (numbers become `Decimal`, never float),
and indexed by its key column. A table with a `dated` column holds several
versions of a row; a lookup takes the newest whose date is on or before the
date of service, as dated parameters do.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..claims.csv_rows import CSV_QUOTE_HINT
from ..claims.fields import BOOL, DATE, INT, NUMBER, STRING
from ..errors import Diagnostic, Span, closest
from ..limits import MAX_NUMBER_DIGITS, MAX_TABLE_BYTES, MAX_TABLE_ROWS, number_problem
# ASCII digits only: `\d` would take ١٠ or ５ for a number too (and int() reads them).
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def valid_date(text: str) -> bool:
    """A real calendar day written YYYY-MM-DD (2024-02-30 is not), in policy text and data alike."""
    if not _DATE.match(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class TableData:
    """A loaded table: typed columns and rows indexed by key (newest version first)."""

    name: str
    path: str
    key: str
    dated_by: str | None
    columns: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[tuple[str, dict]]] = field(default_factory=dict)
    row_lines: dict[tuple[str, str], int] = field(default_factory=dict)
    raw: bytes = b""

    def lookup(self, key: str, date: str | None = None) -> dict | None:
        versions = self.rows.get(key)
        if not versions:
            return None
        if self.dated_by is None:
            return versions[0][1]
        for start, row in versions:
            if date is None or start <= date:
                return row
        return None

    def has(self, key: str, date: str | None = None) -> bool:
        return self.lookup(key, date) is not None


def resolve_data_path(policy_path: Path, relative: str) -> tuple[Path | None, str]:
    """Resolve a table path against the policy's folder, refusing any that leave it.

    Returns the path, or None and the reason it was refused.
    """
    if not relative or os.path.isabs(relative) or relative.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", relative):
        return None, "a data file path must be relative to the policy's folder"
    if any(part == ".." for part in re.split(r"[\\/]", relative)):
        return None, "a data file path may not use `..` to leave the policy's folder"
    base = policy_path.resolve().parent
    target = (base / relative).resolve()
    try:
        target.relative_to(base)
    except ValueError:
        return None, "the data file resolves outside the policy's folder (through a link?)"
    return target, ""


def _cell(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        if _NUMBER.match(text) and not re.match(r"^-?0[0-9]", text):  # "02" is a code, not a number
            # "2" is a count (a whole number); "1.00" is a measure, kept exact as Decimal. Past the
            # digit limit, a Decimal too: int() refuses 4300 digits, and `_out_of_range` reports it.
            return int(text) if "." not in text and len(text) <= MAX_NUMBER_DIGITS else Decimal(text)
        return text
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, Decimal)):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    return str(value)


def _column_type(values: list[object]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return INT
    if present and all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in present):
        return NUMBER
    if present and all(isinstance(v, bool) for v in present):  # YAML's true/false
        return BOOL
    if present and all(isinstance(v, str) and _DATE.match(v) for v in present):
        return DATE
    return STRING


def _yaml_row_lines(text: str, count: int) -> list[int]:
    """The line each row of a YAML list starts on, so that a row's problem points into the file."""
    import yaml

    from ..claims.yaml_loader import StrictYamlLoader

    node = yaml.compose(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass; parsed once already
    if isinstance(node, yaml.SequenceNode) and len(node.value) == count:
        return [item.start_mark.line + 1 for item in node.value]
    return list(range(1, count + 1))


def _mistyped_numbers(table: TableData, records: list[tuple[int, dict]], key: str, file: str,
                      text: str) -> list[Diagnostic]:
    """A column of decimal measures with a cell or two that is almost a number (`1.5x9`, `$1.59`, `1,59`).

    Left alone, the cell would make the whole column text, and the policy would fail with type
    errors on every line that reads it, far from the typo. So the cell is reported where it is, and
    the column stays numeric, which spares the policy that cascade.
    """
    problems = []
    lines = text.splitlines()
    for column, kind in table.columns.items():
        if kind != STRING or column == key:
            continue
        present = [(line, row[column]) for line, row in records if row.get(column) is not None]
        measures = [v for _, v in present if isinstance(v, Decimal)]
        odd = [(line, v) for line, v in present if not isinstance(v, (int, Decimal)) or isinstance(v, bool)]
        if not measures or not odd or len(odd) > max(1, len(present) // 4) or \
                not all(isinstance(v, str) and re.search(r"\d", v) for _, v in odd):
            continue  # text with a number or two in it (codes), not numbers with a typo
        for line, value in odd:
            value = str(value)  # a string, as the test above made sure
            at = lines[line - 1].find(value) + 1 if line <= len(lines) else 0  # the cell, if the row shows it
            where = Span(line, at, line, at + len(value)) if at > 0 else Span(line, 1, line, 2)
            problems.append(Diagnostic(
                "table", f"column `{column}` holds numbers, but {value!r} is not one", file, where,
                "write a plain number such as 1.59: no $, no thousands separator, a point for decimals",
                source_text=text))
        table.columns[column] = NUMBER
        for _, row in records:
            if not isinstance(row.get(column), (int, Decimal)):
                row[column] = None
    return problems


def _out_of_range(records: list[tuple[int, dict]], file: str) -> list[Diagnostic]:
    """A number too large or too long for money arithmetic, each reported on its row.

    Found before anything writes a number out: `format(x, "f")` of 1e999999999 is a gigabyte.
    """
    problems = []
    for line, row in records:
        for column, value in row.items():
            why = number_problem(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else None
            if why:
                problems.append(Diagnostic("table", f"column `{column}`: {why}", file, Span(line, 1, line, 2),
                                           "write an amount or a count as plain digits, such as 33.2875"))
    return problems


def _missing_file_hint(path: Path) -> str:
    hint = "the path is relative to the policy's folder"
    try:  # a typo in the file name: name the data file that was probably meant
        near = [p.name for p in path.parent.iterdir() if p.suffix.lower() in (".csv", ".yaml", ".yml")]
    except OSError:
        return hint
    close = closest(path.name, near)
    return f"did you mean {close!r}, beside it in {path.parent.name}/? ({hint})" if close else hint


def load_table(name: str, path: Path, key: str, dated_by: str | None, span: Span,
               source_name: str) -> tuple[TableData | None, list[Diagnostic]]:
    """Read and index one table file; problems come back as diagnostics, not exceptions."""
    def problem(message: str, hint: str = "", where: Span = span, file: str = source_name) -> Diagnostic:
        return Diagnostic("table", message, file, where, hint)

    try:
        size = path.stat().st_size
        if not path.is_file():  # a folder, a FIFO or a device: nothing to read, or a read that never ends
            return None, [problem(f"data file {path.name} is not a regular file")]
        if size > MAX_TABLE_BYTES:
            return None, [problem(f"data file {path.name} is {size} bytes; the limit is {MAX_TABLE_BYTES}")]
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [problem(f"data file not found: {path}", _missing_file_hint(path))]
    except OSError as exc:
        return None, [problem(f"cannot read data file {path}: {exc.strerror}")]
    if b"\x00" in raw:  # as for policy files: NUL bytes mean binary, and csv would keep them in a cell
        return None, [problem(f"data file {path.name} is not a text file (it holds NUL bytes)")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return None, [problem(f"data file {path.name} is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                              where=Span(line, exc.start - raw.rfind(b"\n", 0, exc.start), line, 0), file=str(path))]

    records: list[tuple[int, dict]] = []
    if path.suffix.lower() == ".csv":
        # strict: a quote left open at the end of the file is an error, not a cell that runs to the end
        reader = csv.DictReader(io.StringIO(text), strict=True)
        try:
            if not reader.fieldnames:
                return None, [problem(f"data file {path.name} is empty: it needs a header row")]
            # counted once: list.count per column made 200 000 columns take minutes
            repeated = sorted(c for c, times in Counter(reader.fieldnames).items() if times > 1)
            if repeated:  # DictReader would silently keep the last of them
                return None, [problem(f"column `{repeated[0]}` appears twice in the header", where=Span(1, 1, 1, 2),
                                      file=str(path))]
            done = reader.line_num  # the last line read whole: a row that fails starts after it
            for row in reader:
                records.append((reader.line_num, {k: _cell(v) for k, v in row.items() if k is not None}))
                done = reader.line_num
                if len(records) > MAX_TABLE_ROWS:
                    break
        except csv.Error as exc:  # a field past csv's size limit, a quote left open, text after a quote
            line = done + 1
            return None, [problem(f"data file is not valid CSV: {exc}", CSV_QUOTE_HINT, Span(line, 1, line, 2),
                                  str(path))]
    elif path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        from ..claims.yaml_loader import TableYamlLoader

        try:
            # Safe YAML that also refuses repeated keys, alias bombs and loops, like a claim's.
            data = yaml.load(text, Loader=TableYamlLoader)  # noqa: S506 - a SafeLoader subclass
        except RecursionError:
            return None, [problem("data file is nested too deeply", file=str(path))]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = Span(mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2) if mark else Span()
            return None, [problem(f"data file is not valid YAML: {getattr(exc, 'problem', exc)}",
                                  where=where, file=str(path))]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            return None, [problem(f"data file {path.name} must be a list of rows (mappings)")]
        records = [(line, {str(k): _cell(v) for k, v in r.items()})
                   for line, r in zip(_yaml_row_lines(text, len(data)), data[:MAX_TABLE_ROWS + 1])]
    else:
        return None, [problem(f"data file {path.name} must be .csv, .yaml or .yml")]
    if len(records) > MAX_TABLE_ROWS:
        return None, [problem(f"data file {path.name} has more than {MAX_TABLE_ROWS} rows")]

    out_of_range = _out_of_range(records, str(path))
    table = TableData(name, str(path), key, dated_by, raw=raw)
    seen: dict[str, None] = {}  # the columns in order of appearance; `k not in list` was quadratic
    for _, row in records:
        seen.update(dict.fromkeys(row))
    names = list(seen)
    table.columns = {c: _column_type([r.get(c) for _, r in records]) for c in names}
    problems: list[Diagnostic] = []
    for required in (key, dated_by):
        if required and required not in table.columns:
            problems.append(problem(f"data file {path.name} has no column `{required}`",
                                    f"its columns are: {', '.join(names) or 'none'}"))
    if problems or out_of_range:
        return None, problems + out_of_range
    table.columns[key] = STRING
    problems += _mistyped_numbers(table, records, key, str(path), text)
    problems += [problem(f"{row[c]} in column `{c}` is not a calendar date", "write a real day: months 01-12, "
                         "days that exist in the month", Span(line, 1, line, 2), str(path))
                 for line, row in records for c, t in table.columns.items()
                 if t == DATE and c != dated_by and row.get(c) is not None and not valid_date(str(row[c]))]
    # A column that is not numbers throughout is text throughout: "97550" next to "G0539" stays a code.
    # So is a column mixing true/false with other values: a cell's value always has its column's type.
    textual = [c for c, t in table.columns.items() if t not in (INT, NUMBER, BOOL)]
    for _, row in records:
        for c in textual:
            value = row.get(c)
            if isinstance(value, bool):
                row[c] = "true" if value else "false"
            elif isinstance(value, (int, Decimal)):
                row[c] = format(value, "f") if isinstance(value, Decimal) else str(value)
    for line, row in records:
        k = row.get(key)
        if k is None:
            problems.append(problem(f"row without a `{key}`", where=Span(line, 1, line, 2), file=str(path)))
            continue
        k = format(k, "f") if isinstance(k, Decimal) else str(k)
        row[key] = k
        start = str(row.get(dated_by)) if dated_by else ""
        if dated_by and not (row.get(dated_by) and valid_date(start)):
            problems.append(problem(f"row {k!r} has no valid `{dated_by}` date (YYYY-MM-DD)",
                                    where=Span(line, 1, line, 2), file=str(path)))
            continue
        if (k, start) in table.row_lines:
            problems.append(problem(f"row {k!r}{' from ' + start if dated_by else ''} appears twice "
                                    f"(first at line {table.row_lines[(k, start)]})",
                                    where=Span(line, 1, line, 2), file=str(path)))
            continue
        table.row_lines[(k, start)] = line
        table.rows.setdefault(k, []).append((start, row))
    for versions in table.rows.values():
        versions.sort(key=lambda item: item[0], reverse=True)
    return table, problems
