"""What-if variations of a policy for one test case: other parameter values, other table cells.

An analyst asks "what if the threshold were $2,500?" or "what if CMS's file had no facility
total for 97552?" without editing the policy or its data. Parameters are set by an overlay
written for the case (`what_if_text`), so the checker sees the change as it would see an edit;
table cells are changed in a copy of the loaded table (`with_rows`), never in the file.
Nothing from a case file reaches policy text except names matched against the policy and
values re-rendered as literals of the declared type.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import re
from decimal import Decimal, InvalidOperation

from ..claims.fields import ANY, BOOL, DATE, INT, NUMBER, SET, kind_of
from ..engine.loader import LoadedPolicy
from ..errors import CtsdslError, Diagnostic, did_you_mean
from ..language import nodes as n
from ..language.checker import param_type
from ..language.tables import valid_date
from ..limits import MAGNITUDE_WORDS, number_problem

_SAFE_TEXT = re.compile(r"[A-Za-z0-9 ._:/+-]{0,100}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def what_if_text(loaded: LoadedPolicy, params: dict, where: str) -> str:
    """Policy text for an overlay of `loaded` that sets `params` (a case's what-if values).

    Only parameters the policy declares may be set, and each value is written as a
    literal of the parameter's type, checked here: nothing from the case file reaches
    the policy text except names matched against the policy and values re-rendered.

    Raises:
        CtsdslError: an unknown parameter, or a value that is not of its type.
    """
    header = loaded.header
    if not (_SAFE_TEXT.fullmatch(header.name) and _SAFE_TEXT.fullmatch(header.payer)):
        raise CtsdslError(Diagnostic("test-case", f"params: cannot write a what-if overlay of {header.name!r} "
                                     "(its name or payer has characters an overlay header cannot repeat)", where))
    lines = [f'policy "{header.name} what-if" {{',
             '  title "what-if overlay of a test case"',
             f'  payer "{header.payer}"',
             '  version "what-if"',
             f"  effective {header.effective_from}" + (f" to {header.effective_to}" if header.effective_to else ""),
             f'  extends "{header.name}"',
             "}",
             'source what_if { title "an analyst\'s what-if in a test case, not a billing source" '
             'url "docs/testing.md" confidence unverified }']
    for name, value in params.items():
        param = declared_param(loaded, name, Diagnostic("test-case", "", where))
        kind = _kind(param)
        literal = _literal(kind, value)
        if literal is None:
            hint = _KIND_HINTS.get(kind or "", "")
            if kind in ("int", "number", "money"):
                hint += f"; {MAGNITUDE_WORDS}"
            raise CtsdslError(Diagnostic("test-case", f"params: {value!r} is not a {kind or 'value'} for {name}",
                                         where, hint=hint))
        lines.append(f"override param {name}: {kind} = {literal} cites what_if")
    return "\n".join(lines) + "\n"


def declared_param(loaded: LoadedPolicy, name: object, at: Diagnostic):
    """The parameter `name` of the policy; else raises `at` saying it has none, and which it may mean."""
    declared = {p.name: p for p in loaded.policy.of_kind(n.Param)}
    param = declared.get(str(name)) if _IDENTIFIER.fullmatch(str(name)) else None
    if param is None:
        close = did_you_mean(name, declared)
        raise CtsdslError(dataclasses.replace(
            at, message=f"params: {loaded.header.name} has no parameter {name!r}",
            hint=(f"{close} " if close else "") + f"parameters: {', '.join(sorted(declared))}"))
    return param


def _kind(param) -> str | None:
    """A parameter's type as the checker settles it, written as a what-if overlay declares it
    (any set as `set`); None when it cannot be told."""
    kind = param_type(param)
    return SET if kind_of(kind) == SET else None if kind == ANY else kind


_KIND_HINTS = {"date": "write a date as YYYY-MM-DD, a real calendar day", "bool": "write true or false",
               "set": "write a list of codes: [\"97550\", \"97551\"]", "money": "write a number: 2410 or 33.4009",
               "int": "write a whole number", "number": "write a number"}


def _literal(kind: str | None, value) -> str | None:
    if kind == "date":  # YAML reads an unquoted 2025-01-01 as a date; quoted, it is text
        text = value.isoformat() if isinstance(value, datetime.date) else value
        return text if isinstance(text, str) and valid_date(text) else None
    if kind == "bool":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if kind == "set":
        items = value if isinstance(value, list) else None
        if items is None or not all(isinstance(v, str) and _SAFE_TEXT.fullmatch(v) for v in items):
            return None
        return "{" + ", ".join(f'"{v}"' for v in items) + "}"
    if kind == "string":
        return f'"{value}"' if isinstance(value, str) and _SAFE_TEXT.fullmatch(value) else None
    if kind in ("int", "number", "money") and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        # number_problem before format(): 1e999999999 written out is a gigabyte (issue 16)
        if number_problem(number) or (kind == "int" and number != number.to_integral_value()):
            return None
        sign, digits = ("-" if number < 0 else ""), format(number.copy_abs(), "f")
        return f"{sign}${digits}" if kind == "money" else f"{sign}{digits}"
    return None


def with_rows(loaded: LoadedPolicy, rows: dict, where: dict[tuple[str, ...], Diagnostic]) -> LoadedPolicy:
    """A copy of `loaded` whose tables have some cells set otherwise: `{table: {key: {column: value}}}`.

    A cell is set in every dated version of the key's rows (the row in force on any date), and
    `null` empties it, as a blank cell in the file would. Only tables, keys and columns the
    policy has may be named, and a value must be of its column's type: a misspelt name or a
    wrong value is the case file's mistake, raised at `where[(table, key, column)]` (or the
    nearest entry given), with a did-you-mean.
    """
    def at(*steps: str) -> Diagnostic:
        for i in range(len(steps), -1, -1):
            if tuple(steps[:i]) in where:
                return where[tuple(steps[:i])]
        return Diagnostic("test-case", "")

    def refuse(message: str, hint: str, *steps: str) -> CtsdslError:
        return CtsdslError(dataclasses.replace(at(*steps), message=f"rows: {message}", hint=hint))

    tables = dict(loaded.checked.tables)
    for name, keys in rows.items():
        table = tables.get(str(name))
        if table is None:
            raise refuse(f"{loaded.header.name} has no table {name!r}", _close(str(name), tables, "tables"), str(name))
        if not isinstance(keys, dict):
            raise refuse(f"`{name}` maps keys of the table to the cells to set", "", str(name))
        table = copy.copy(table)
        table.rows = dict(table.rows)
        for key, cells in keys.items():
            key = str(key)
            if key not in table.rows:
                raise refuse(f"table {name} has no row {key!r}", _close(key, table.rows, "keys"), str(name), key)
            if not isinstance(cells, dict):
                raise refuse(f"row {key!r} of {name} maps columns to values", "", str(name), key)
            versions = [(start, dict(row)) for start, row in table.rows[key]]
            for column, value in cells.items():
                column = str(column)
                kind = table.columns.get(column)
                if kind is None or column == table.key or column == table.dated_by:
                    raise refuse(f"table {name} has no column {column!r} a case may set",
                                 _close(column, [c for c in table.columns if c not in (table.key, table.dated_by)],
                                        "columns"), str(name), key, column)
                cell = _cell(kind, value)
                if cell is _BAD:
                    raise refuse(f"{value!r} is not a {kind} for column {column} of {name}",
                                 _KIND_HINTS.get(kind, "") + " (or null for an empty cell)", str(name), key, column)
                for _, row in versions:
                    row[column] = cell
            table.rows[key] = versions
        tables[str(name)] = table
    checked = dataclasses.replace(loaded.checked, tables=tables)
    return dataclasses.replace(loaded, checked=checked)


_BAD = object()


def _cell(kind: str, value: object) -> object:
    """A case's value as the table loader would have typed the cell; `_BAD` if it cannot be one."""
    if value is None:
        return None
    if kind == BOOL:
        return value if isinstance(value, bool) else _BAD
    if isinstance(value, bool):
        return _BAD
    if kind in (INT, NUMBER):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return _BAD
        if number_problem(number):  # int(1e999999999) is a gigabyte; arithmetic on it overflows
            return _BAD
        if kind == INT:
            return int(number) if number == number.to_integral_value() else _BAD
        return number
    if kind == DATE:
        text = value.isoformat() if isinstance(value, datetime.date) else value
        return text if isinstance(text, str) and valid_date(text) else _BAD
    return str(value) if isinstance(value, (str, int, Decimal)) else _BAD


def _close(name: str, choices, what: str) -> str:
    close = did_you_mean(name, choices)
    names = sorted(map(str, choices))
    listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return (f"{close} " if close else "") + f"{what}: {listed}"
