"""Claims as two relations, `claims` and `lines`, whose columns come from the claim schema.

The field catalogue (ctsdsl/language/fields.py, itself read from schemas/claim.schema.json) is the one
source of the columns: a field added to the schema becomes a column here without an edit, and a
policy's declared fields (`field line.prior_auth_number`, `CheckedPolicy.fields`) become columns
of its relations.
Each claim gets `claim_ord`, its position in the batch, which the decisions are put back in.

Defaults are filled in as the row engine reads them (`line.date_of_service` is the claim's when
the line has none), so the SQL reads plain columns. A value SQL cannot hold exactly (a number
with more than six decimals, an integer past 64 bits) marks its claim for the row engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ...claims.fields import (BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, LIST_OF_STRING, NUMBER, STRING,
                             Field, catalogue)
from ...engine.runtime import num

NUMBER_SCALE = 6  # claim numbers (the spend to date) are dollars and cents; six places is ample
NUMBER_PRECISION = 28
_INT_LIMIT = 2 ** 63

SQL_TYPES = {STRING: "VARCHAR", DATE: "VARCHAR", INT: "BIGINT", BOOL: "BOOLEAN",
             NUMBER: f"DECIMAL({NUMBER_PRECISION},{NUMBER_SCALE})", LIST_OF_STRING: "VARCHAR[]"}
# Dates stay ISO text, as in the row engine: they order correctly and print as given.

COMPUTED = frozenset({"lines", "documentation"})


Fields = Mapping[str, Mapping[str, Field]]


def claim_columns(fields: Fields | None = None) -> dict[str, tuple[str, str]]:
    """Column name -> (field name, language type), for the scalar claim fields SQL can hold.

    `fields` is a policy's catalogue (`CheckedPolicy.fields`, its declared fields with the base
    ones); the base catalogue without it."""
    fields = fields or catalogue()
    out = {f"c_{f.name}": (f.name, f.type) for f in fields[CLAIM].values()
           if f.name not in COMPUTED and f.type in SQL_TYPES}
    out.update({f"d_{f.name}": (f.name, f.type) for f in fields[DOCUMENTATION].values() if f.type in SQL_TYPES})
    return out


def line_columns(fields: Fields | None = None) -> dict[str, tuple[str, str]]:
    """Column name -> (field name, language type), for the scalar line fields SQL can hold."""
    fields = fields or catalogue()
    return {f"l_{f.name}": (f.name, f.type) for f in fields[LINE].values() if f.type in SQL_TYPES}


@dataclass
class Relations:
    """A batch of claims as columns, ready for DuckDB (`pyarrow.Table` each)."""

    claims: Any
    lines: Any
    unrepresentable: set[int]  # claim_ord of claims the row engine must decide


def _fits(value: object, typ: str) -> bool:
    if value is None:
        return True
    if typ == INT:
        return type(value) is int and -_INT_LIMIT < value < _INT_LIMIT
    if typ == NUMBER:
        try:
            d = value if isinstance(value, Decimal) else Decimal(str(value))
            return d.is_finite() and d == d.quantize(Decimal(1).scaleb(-NUMBER_SCALE)) \
                and abs(d) < Decimal(10) ** (NUMBER_PRECISION - NUMBER_SCALE)
        except (InvalidOperation, ValueError, TypeError):
            return False
    return True


def _checked(values: list, typ: str, owner: list[int], bad: set[int]) -> list:
    """`values` of one column as SQL holds them: numbers as Decimal, and a value SQL cannot hold
    exactly set to NULL with its claim (`owner[i]`) marked for the row engine."""
    if typ == NUMBER:
        values = [num(v) for v in values]
    elif typ != INT:
        return values  # text, dates, flags and lists of text: held as they are
    if typ == INT and all(type(v) is int and -_INT_LIMIT < v < _INT_LIMIT or v is None for v in values):
        return values  # the usual column: one pass, no call per value
    for i, v in enumerate(values):
        if not _fits(v, typ):
            bad.add(owner[i])
            values[i] = None
    return values


def build(claims: Iterable[Mapping[str, Any]], fields: Fields | None = None) -> Relations:
    """The two relations of validated claims (as `claims.validate_claim` returns them), with the
    columns of `fields` (a policy's catalogue; the base one without it).

    Built a column at a time (a comprehension per column, not a call per value): for Medicare's
    thirty columns this was a quarter of the SQL engine's time per claim."""
    import pyarrow as pa

    fields = fields or catalogue()
    claims = claims if isinstance(claims, list) else list(claims)
    ccols, lcols = claim_columns(fields), line_columns(fields)
    bad: set[int] = set()
    ords = list(range(len(claims)))
    docs = [claim.get("documentation") or {} for claim in claims]
    cdata: dict[str, list] = {"claim_ord": ords}
    for col, (name, typ) in ccols.items():
        if col.startswith("d_"):
            default = fields[DOCUMENTATION][name].default
            values = [doc.get(name, default) for doc in docs]
        else:
            default = fields[CLAIM][name].default
            values = [claim.get(name, default) for claim in claims]
        cdata[col] = _checked(values, typ, ords, bad)
    lines = [line for claim in claims for line in claim["lines"]]
    owner = [o for o, claim in enumerate(claims) for _ in claim["lines"]]
    ldata: dict[str, list] = {"claim_ord": owner,
                              "l_index": [i for claim in claims for i in range(len(claim["lines"]))]}
    for col, (name, typ) in lcols.items():
        if col == "l_index":
            continue
        if name == "date_of_service":  # a line without its own date is on the claim's
            values = [line.get(name, claim["date_of_service"]) for claim in claims for line in claim["lines"]]
        else:
            default = fields[LINE][name].default
            values = [line.get(name, default) for line in lines]
        ldata[col] = _checked(values, typ, owner, bad)

    def arrow_type(typ: str):
        return {STRING: pa.string(), DATE: pa.string(), INT: pa.int64(), BOOL: pa.bool_(),
                NUMBER: pa.decimal128(NUMBER_PRECISION, NUMBER_SCALE), LIST_OF_STRING: pa.list_(pa.string())}[typ]

    cschema = pa.schema([("claim_ord", pa.int64())] + [(c, arrow_type(t)) for c, (_, t) in ccols.items()])
    lschema = pa.schema([("claim_ord", pa.int64()), ("l_index", pa.int64())]
                        + [(c, arrow_type(t)) for c, (_, t) in lcols.items() if c != "l_index"])
    return Relations(pa.Table.from_pydict(cdata, schema=cschema), pa.Table.from_pydict(ldata, schema=lschema), bad)
