"""`ctsdsl import rvu`: a quarter of CMS's fee schedule into a policy's dated RVU table.

A new fee schedule is a data change: the rows of the policy's RVU table (``data/rvu.csv``)
for one effective date, read from CMS's own release file (see `pprrvu`). The importer
writes or updates those rows and nothing else, says what it changed cell by cell so a
reviewer can check it line by line, and changes nothing on a second run.

It never edits a policy. The conversion factor CMS prints beside every row is compared
with the policy's own parameter on the effective date, and a mismatch is a warning that
names both: the factor is the policy's to state, with its citation.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..engine.loader import POLICY_SUFFIX, LoadedPolicy, find_files, load_file, tree_root
from ..errors import DataFileError, Diagnostic, UsageError
from ..language import nodes as n
from ..language.nodes import Span
from ..language.tables import valid_date
from .pprrvu import FIGURES, INDICATORS, RvuRelease

KEY, DATED = "code", "effective_from"
#: The columns of a new RVU table, in order. An existing table keeps its own order and extra
#: columns; a column it lacks is added before `source`.
COLUMNS = (KEY, DATED, *FIGURES, *INDICATORS, "source", "confidence")
CONFIDENCES = ("verified", "likely", "unverified")
_COMMAND = "ctsdsl import rvu"


@dataclass(frozen=True)
class CellChange:
    """One cell the import changes: (code, effective date, column), old text -> new text ('' if none)."""

    code: str
    effective: str
    column: str
    old: str
    new: str


@dataclass
class ImportPlan:
    """What an import would write, before it is written."""

    table: Path
    effective: str
    codes: list[str]
    header: list[str]
    rows: list[dict[str, str]]
    changes: list[CellChange] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # codes given a new row
    created: bool = False  # the table file did not exist
    newline: str = "\n"

    @property
    def changed(self) -> bool:
        return bool(self.changes) or self.created

    def text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, self.header, lineterminator=self.newline, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()

    def render(self) -> str:
        """The change as a reviewer reads it: a summary, the rows added, then old -> new per changed cell."""
        updated = list(dict.fromkeys(c.code for c in self.changes if c.code not in self.added))
        unchanged = len(self.codes) - len(self.added) - len(updated)
        out = [f"{self.table}: effective {self.effective}, {len(self.codes)} code(s): {len(self.added)} row(s) "
               f"added, {len(updated)} updated, {unchanged} unchanged"]
        if self.added:
            shown = [c for c in self.header if c not in ("source", DATED)]
            rows = [self._row(code) for code in self.added]
            out.append(_grid(["", *shown], [["+", *(r.get(c, "") for c in shown)] for r in rows]))
            for source in dict.fromkeys(r.get("source", "") for r in rows):
                out.append(f"  source: {source}")
        edits = [c for c in self.changes if c.code not in self.added]
        if edits:
            # One line per row updated, a cell per column that moved in any of them ("0.56 -> 0.57");
            # the long text cells (the source) follow, each change said once for the rows it is in.
            short = [c for c in self.header if c in FIGURES or c in INDICATORS]
            moved = [c for c in short if any(e.column == c for e in edits)]
            cells = {(e.code, e.column): f"{e.old or '-'} -> {e.new or '-'}" for e in edits}
            codes = list(dict.fromkeys(e.code for e in edits))
            if moved:
                out.append(_grid(["", "code", *moved], [["~", code, *(cells.get((code, c), "") for c in moved)]
                                                        for code in codes if any((code, c) in cells for c in moved)]))
            texts: dict[tuple[str, str, str], list[str]] = {}
            for e in edits:
                if e.column not in short:
                    texts.setdefault((e.column, e.old, e.new), []).append(e.code)
            for (column, old_text, new_text), which in texts.items():
                out.append(f"  {column} of {', '.join(which)}: {old_text or '-'!r} -> {new_text or '-'!r}")
        return "\n".join(out) + "\n"

    def _row(self, code: str) -> dict[str, str]:
        return next(r for r in self.rows if r[KEY] == code and r[DATED] == self.effective)


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
                     for r in [header, *rows])


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]], str]:
    """An RVU table's header, its rows as text (cells untouched), and its line end."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(Diagnostic("unreadable", f"cannot read {path}: {exc.strerror}", str(path))) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFileError(Diagnostic("not-text", f"{path.name} is not UTF-8 text", str(path),
                                       Span(line, 1, line, 2))) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    reader = csv.DictReader(io.StringIO(text))
    try:
        rows = [dict(r) for r in reader]
    except csv.Error as exc:
        raise DataFileError(Diagnostic("csv", f"{path.name} is not valid CSV: {exc}", str(path),
                                       Span(reader.line_num, 1, reader.line_num, 2))) from None
    header = list(reader.fieldnames or [])
    for required in (KEY, DATED):
        if required not in header:
            raise DataFileError(Diagnostic(
                "table", f"{path.name} has no column `{required}`", str(path), Span(1, 1, 1, 2),
                f"an RVU table is keyed by `{KEY}` and dated by `{DATED}`; its columns are: "
                f"{', '.join(header) or 'none'}"))
    for line, row in enumerate(rows, start=2):
        if None in row:  # DictReader files cells past the header under None
            raise DataFileError(Diagnostic("table", f"row of {row.get(KEY)!r} has more cells than the header",
                                           str(path), Span(line, 1, line, 2)))
    return header, [{k: (v or "") for k, v in r.items()} for r in rows], newline


def plan_import(release: RvuRelease, table: Path, effective: str, codes: list[str] | None = None,
                source: str | None = None, confidence: str = "verified") -> ImportPlan:
    """The rows `release` gives `table` for `effective`, and the cells that changes.

    Codes default to those the table already holds: a new quarter updates the codes the
    policy prices. Every problem is raised before anything is written.
    """
    if not valid_date(effective):
        raise UsageError(Diagnostic("usage", f"--effective {effective!r} is not a date", _COMMAND,
                                    hint="write the first date of service the rows apply to, YYYY-MM-DD"))
    if confidence not in CONFIDENCES:
        raise UsageError(Diagnostic("usage", f"--confidence {confidence!r} is not one of {', '.join(CONFIDENCES)}",
                                    _COMMAND))
    created = not table.exists()
    rows: list[dict[str, str]]
    if created:
        header, rows, newline = list(COLUMNS), [], "\n"
    else:
        header, rows, newline = _read_table(table)
    for column in COLUMNS:
        if column not in header:
            header.insert(header.index("source") if "source" in header else len(header), column)
    if codes is None:
        codes = list(dict.fromkeys(r[KEY] for r in rows if r[KEY]))
        if not codes:
            raise UsageError(Diagnostic("usage", f"{table} holds no codes yet, so there is nothing to update",
                                        str(table), hint="name the codes to import: --codes 97550,97551,97552"))
    codes = list(dict.fromkeys(c.strip().upper() for c in codes if c.strip()))
    problems = [release.missing_code(c) for c in codes if c not in release.rows]
    problems += [p for c in codes if c in release.rows for p in [release.rows[c].totals_problem(release.path)] if p]
    if problems:
        raise DataFileError(problems)

    source = source or default_source(release)
    plan = ImportPlan(table, effective, codes, header, rows, created=created, newline=newline)
    at = {(r[KEY], r[DATED]): r for r in rows}
    for code in codes:
        found = release.rows[code]
        new = {KEY: code, DATED: effective, **found.figures, **found.indicators,
               "source": source, "confidence": confidence}
        row = at.get((code, effective))
        if row is None:
            row = {c: "" for c in header}
            plan.added.append(code)
            # A new row goes after the last row of an earlier date, so the file stays in date order.
            later = [i for i, r in enumerate(rows) if r[DATED] > effective]
            rows.insert(later[0] if later else len(rows), row)
        for column, value in new.items():
            old = row.get(column, "")
            if old != value:
                plan.changes.append(CellChange(code, effective, column, old, value))
                row[column] = value
    return plan


def default_source(release: RvuRelease) -> str:
    """The source cell of an imported row: the release by its title and date, and the file read."""
    title = release.title or "CMS physician fee schedule relative value file"
    released = f", released {release.released}" if release.released else ""
    return f"CMS {title}{released} ({Path(release.path).name})"


def write(plan: ImportPlan) -> None:
    """Write the table whole, so that a reader sees the old rows or the new ones, never half."""
    target = plan.table.resolve() if plan.table.exists() else plan.table
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(plan.text())
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------- the conversion factor


def policies_reading(table: Path) -> list[LoadedPolicy]:
    """The policies (overlays too) whose tables read `table`, from the tree that holds it."""
    table = table.resolve()
    root, recursive = tree_root(table)
    if not recursive:  # outside a `policies` tree: the policy sits beside data/ or in it
        folders = [table.parent.parent, table.parent]
        files = sorted({p for f in folders for p in f.glob("*" + POLICY_SUFFIX)})
    else:
        files = find_files(root)  # a stack, not rglob's recursion: a deep tree is no RecursionError (issue 16)
    found = []
    for file in files:
        try:
            loaded = load_file(file, raise_on_error=False)
        except Exception:  # noqa: BLE001 - a broken policy elsewhere in the tree is not this import's concern
            continue
        if any(Path(t.path).resolve() == table for t in loaded.checked.tables.values()):
            found.append(loaded)
    return found


def _param_on(policy: n.Policy, name: str, date: str) -> tuple[Decimal | None, str]:
    """A money or number parameter's value on `date`, and the sources it cites there."""
    for param in policy.of_kind(n.Param):
        if param.name != name:
            continue
        if param.dated:
            for d in param.dated:
                if d.start <= date and (d.end is None or date <= d.end):
                    return _number(d.value), ", ".join(c.source for c in d.cites)
            return None, ""
        return (_number(param.value) if param.value is not None else None), ", ".join(c.source for c in param.cites)
    return None, ""


def _number(value: n.Literal | n.SetLiteral) -> Decimal | None:
    if isinstance(value, n.Literal) and isinstance(value.value, (int, Decimal)) and not isinstance(value.value, bool):
        return Decimal(value.value)
    return None


def conversion_factor_report(release: RvuRelease, table: Path, effective: str,
                             param: str = "conversion_factor") -> tuple[list[str], list[Diagnostic]]:
    """The file's CONV FACTOR beside each in-force policy's `param` on `effective`.

    Returns lines to print and warnings: a factor that differs, or one that cannot be compared.
    """
    factors = release.conversion_factors()
    if not factors:
        return [], [Diagnostic("conversion-factor", f"{Path(release.path).name} has no CONV FACTOR column: "
                               "the conversion factor was not compared with the policy's", release.path,
                               severity="warning")]
    file_cf = ", ".join(factors)
    lines, warnings = [], []
    in_force = [p for p in policies_reading(table)
                if p.header.effective_from <= effective
                and (p.header.effective_to is None or effective <= p.header.effective_to)]
    for p in in_force:
        value, cites = _param_on(p.policy, param, effective)
        name = f"{p.header.name}'s {param}"
        if value is None:
            warnings.append(Diagnostic("conversion-factor", f"{name} has no value on {effective}; the file's CONV "
                                       f"FACTOR is {file_cf}", str(p.path), severity="warning",
                                       hint="give the policy its factor for this date, citing its source, or "
                                            "name the parameter to compare with --conversion-factor NAME"))
        elif len(factors) > 1 or Decimal(factors[0]) != value:
            warnings.append(Diagnostic("conversion-factor", f"the file's CONV FACTOR is {file_cf}, but {name} on "
                                       f"{effective} is {value}" + (f" (cites {cites})" if cites else ""),
                                       str(p.path), severity="warning",
                                       hint="the fee is RVU total x the policy's factor: if CMS's factor moved, "
                                            "state the new one in the policy with its source"))
        else:
            lines.append(f"conversion factor: the file's CONV FACTOR {file_cf} = {name} on {effective}"
                         + (f" (cites {cites})" if cites else ""))
    if not in_force:
        warnings.append(Diagnostic("conversion-factor", f"no policy in force on {effective} reads {table.name}: "
                                   f"the file's CONV FACTOR ({file_cf}) was not compared", str(table),
                                   severity="warning"))
    return lines, warnings
