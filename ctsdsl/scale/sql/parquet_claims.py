"""Claims from a Parquet file, for `ctsdsl batch CLAIMS.parquet --engine sql` (issue 18).

The layout is the claim document as columns (docs/sql.md, "Parquet"): a row per claim; a
column per claim field, named as in the claim JSON (`id`, `payer`, `date_of_service`, ...);
`documentation` a struct of the flags; `lines` a list of structs holding each line's fields
(`code`, `units`, `minutes`, `modifiers` a list of text, ...). A policy's declared fields are
columns too, as they are keys in JSON. So each row becomes the claim a JSON Lines reader would
have given, and is validated, given its policy and decided by the same code as any claim, its
errors located by row (`claims.parquet:row 12`).

A null cell means the field is absent, as if its key were left out of the JSON: its default
applies (a documentation flag not documented, `modifiers` empty, the line on the claim's date).
So a file written from claim JSON by the usual tools (`pyarrow.Table.from_pylist` given
`claim_schema()`, pandas), which fill a key a record lacks with null, decides as the JSON does,
and the claim digest is the same.
"Not stated" (JSON's `null` for a documentation flag or a line's minutes, issue 17) has no cell
of its own here: decide such claims from JSON Lines. A column the file lacks is absent in every
row. Types are checked once, on the file's schema, before a row is read: a column of the
wrong type, or a missing column the schema requires, is one located error for the file, not
one per claim. Rows are read a row group at a time: memory stays flat in the file's size.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from ...claims.fields import BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, LIST_OF_STRING, NUMBER, STRING, catalogue
from ...errors import ClaimError, Diagnostic

BATCH_ROWS = 20_000  # rows read at a time


def _error(message: str, where: str, hint: str = "", code: str = "claim-parquet") -> ClaimError:
    return ClaimError(Diagnostic(code, message, where, hint=hint or "docs/sql.md, \"Parquet\", lists the columns"))


_REQUIRED = {CLAIM: ("id", "payer", "date_of_service", "place_of_service", "lines"), LINE: ("code", "units")}
_WANTED = {STRING: "text", DATE: "a date or ISO text", INT: "integers", NUMBER: "numbers", BOOL: "true/false",
           LIST_OF_STRING: "a list of text"}


def _accepts(typ: str, arrow_type: Any) -> bool:
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if typ == STRING:
        return t.is_string(arrow_type) or t.is_large_string(arrow_type)
    if typ == DATE:
        return t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_date(arrow_type)
    if typ == INT:
        return t.is_integer(arrow_type)
    if typ == NUMBER:
        return t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_decimal(arrow_type)
    if typ == BOOL:
        return t.is_boolean(arrow_type)
    if typ == LIST_OF_STRING:
        return (t.is_list(arrow_type) or t.is_large_list(arrow_type)) and _accepts(STRING, arrow_type.value_type)
    return False


def _check_struct(fields: dict, arrow_struct: Any, where: str, column: str) -> None:
    """Each child of a struct column (a line, the documentation) of a type its field takes."""
    for child in arrow_struct:
        field = fields.get(child.name)
        if field is None:
            continue  # an unknown field: refused claim by claim, as in JSON, with the schema's words
        if not _accepts(field.type, child.type):
            raise _error(f"column {column}.{child.name} holds {child.type}; {column}.{child.name} takes "
                         f"{_WANTED.get(field.type, field.type)}", where)


def check_schema(schema: Any, where: str, fields: dict | None = None) -> None:
    """Refuse a file whose columns cannot hold claims: a required column missing, a type that is not the field's.

    `fields` is the field catalogue (the base one without it); policies' declared fields are checked claim by claim.
    """
    import pyarrow.types as t

    fields = fields or catalogue()
    names = set(schema.names)
    for name in _REQUIRED[CLAIM]:
        if name not in names:
            raise _error(f"no column `{name}`: every claim needs one", where)
    for arrow_field in schema:
        name, typ = arrow_field.name, arrow_field.type
        if name == "lines":
            if not ((t.is_list(typ) or t.is_large_list(typ)) and t.is_struct(typ.value_type)):
                raise _error(f"column lines holds {typ}; lines takes a list of structs, one per claim line", where)
            line_names = {child.name for child in typ.value_type}
            for required in _REQUIRED[LINE]:
                if required not in line_names:
                    raise _error(f"column lines has no field `{required}`: every line needs one", where)
            _check_struct(fields[LINE], typ.value_type, where, "lines")
        elif name == "documentation":
            if not t.is_struct(typ):
                raise _error(f"column documentation holds {typ}; documentation takes a struct of true/false flags",
                             where)
            _check_struct(fields[DOCUMENTATION], typ, where, "documentation")
        elif name in fields[CLAIM] and not _accepts(fields[CLAIM][name].type, typ):
            raise _error(f"column {name} holds {typ}; {name} takes {_WANTED.get(fields[CLAIM][name].type, '?')}",
                         where)


def claim_schema(fields: dict | None = None) -> Any:
    """The layout as a `pyarrow.Schema`: every field of the catalogue (the base one without
    `fields`), typed as this reader takes it. A file may hold fewer columns (see the module
    docstring); `write_claims` writes this one."""
    import pyarrow as pa

    fields = fields or catalogue()
    arrow = {STRING: pa.string(), DATE: pa.string(), INT: pa.int64(), NUMBER: pa.float64(), BOOL: pa.bool_(),
             LIST_OF_STRING: pa.list_(pa.string())}
    line = pa.struct([(f.name, arrow[f.type]) for f in fields[LINE].values() if f.type in arrow and f.name != "index"])
    documentation = pa.struct([(f.name, arrow[f.type]) for f in fields[DOCUMENTATION].values() if f.type in arrow])
    columns = []
    for f in fields[CLAIM].values():
        if f.name == "lines":
            columns.append(("lines", pa.list_(line)))
        elif f.name == "documentation":
            columns.append(("documentation", documentation))
        elif f.type in arrow:
            columns.append((f.name, arrow[f.type]))
    return pa.schema(columns)


def write_claims(claims: list[dict], path: str | Path, fields: dict | None = None) -> None:
    """Claims (as JSON gives them) written as a Parquet claim file of `claim_schema`'s columns:
    for tests, benchmarks and anyone turning JSON Lines into Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(claims, schema=claim_schema(fields)), path)


def _plain(value: object) -> object:
    """A Parquet value as the JSON reader gives it: dates as ISO text, decimals as numbers."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _values(array: Any) -> list:
    """A column's values as the JSON reader gives them (dates as ISO text, decimals as numbers)."""
    import pyarrow.types as t

    values = array.to_pylist()
    kind = array.type.value_type if t.is_dictionary(array.type) else array.type
    if t.is_date(kind) or t.is_decimal(kind):
        values = [None if v is None else _plain(v) for v in values]
    return values


def _structs(array: Any) -> list:
    """Each struct of a struct column as a dict without its null fields; None where the struct is null.

    Converted a field at a time (a list per field, then zipped): pyarrow's own row-by-row
    conversion of nested values took most of the reading time."""
    names = [f.name for f in array.type]
    if not names:
        return [None if not ok else {} for ok in array.is_valid().to_pylist()]
    valid = array.is_valid().to_pylist() if array.null_count else None
    out: list[dict | None] = [{k: v for k, v in zip(names, row) if v is not None}
                              for row in zip(*map(_values, array.flatten()))]
    if valid is not None:
        out = [row if ok else None for row, ok in zip(out, valid)]
    return out


def _lines(array: Any) -> list:
    """Each row's list of lines (dicts, as `_structs`); None where the list is null."""
    offsets = array.offsets.to_pylist()
    lines = _structs(array.flatten())
    base = offsets[0]
    valid = array.is_valid().to_pylist() if array.null_count else None
    out: list[list | None] = [lines[a - base:b - base] for a, b in zip(offsets, offsets[1:])]
    if valid is not None:
        out = [row if ok else None for row, ok in zip(out, valid)]
    return out


def batch_claims(batch: Any) -> list[dict]:
    """A batch of rows as claims, a column at a time: a null cell is a key left out."""
    columns = {}
    for name, array in zip(batch.schema.names, batch.columns):
        if name == "lines":
            columns[name] = _lines(array)
        elif name == "documentation":
            columns[name] = _structs(array)
        else:
            columns[name] = _values(array)
    names = list(columns)
    return [{k: v for k, v in zip(names, row) if v is not None} for row in zip(*columns.values())]


def open_file(path: Path, name: str) -> Any:
    """The `pyarrow.parquet.ParquetFile` at `path`, its columns checked (`check_schema`).

    Raises:
        ClaimError: the file is missing, is not Parquet, or its columns cannot hold claims.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except FileNotFoundError:
        raise ClaimError(Diagnostic("claim-file-not-found", f"no such claim file: {name}", name)) from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _error(f"not readable as Parquet: {exc}", name, "write the claims as a Parquet file, "
                     "or as JSON Lines (.jsonl) or CSV", code="claim-file-unreadable") from None
    check_schema(reader.schema_arrow, name)
    return reader


def batches(reader: Any, name: str, rows: int = BATCH_ROWS) -> Iterator[tuple[int, Any]]:
    """(rows before it, record batch) for each batch of `rows` rows of an `open_file`, in order.

    Raises:
        ClaimError: the file cannot be read past a row (located by it).
    """
    import pyarrow as pa

    row = 0
    try:
        for batch in reader.iter_batches(batch_size=rows):
            yield row, batch
            row += batch.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _error(f"not readable past row {row}: {exc}", f"{name}:row {row + 1}", "the file is damaged; "
                     "write it anew", code="claim-file-unreadable") from None


def parquet_records(path: Path, name: str) -> Iterator[tuple[str, dict]]:
    """(where, claim) for each row of a Parquet claim file, in order; `where` is ``row N``, from 1.

    Raises:
        ClaimError: the file is not Parquet or cannot be read, or its columns cannot hold claims.
    """
    for before, batch in batches(open_file(path, name), name):
        for row, claim in enumerate(batch_claims(batch), before + 1):
            yield f"row {row}", claim
