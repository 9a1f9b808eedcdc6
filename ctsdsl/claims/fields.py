"""The claim fields a policy may read, derived from `schemas/claim.schema.json`.

The schema is the single source of truth: a field added there is readable in
policies at once, with its type and default, and the checker rejects any field
that is not there.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from .. import _resources

# Types in the language, as plain strings (hashable, and what messages and the SQL backend's column
# maps are keyed by). The compound ones are made and taken apart only by the functions below:
# collections are "set:string" and "list:line", a table's row "row:<table>", a table "table:<table>".
INT, NUMBER, MONEY, BOOL, STRING, DATE = "int", "number", "money", "bool", "string", "date"
CLAIM, LINE, DOCUMENTATION, ANY = "claim", "line", "documentation", "any"
NUMERIC = frozenset({INT, NUMBER, MONEY})
SET, LIST, ROW, TABLE = "set", "list", "row", "table"  # the kinds of compound type


def set_of(element: str) -> str:
    return f"{SET}:{element}"


def list_of(element: str) -> str:
    return f"{LIST}:{element}"


def row_of(table: str) -> str:
    """The type of a row of `table` (`rvu[o.code]`)."""
    return f"{ROW}:{table}"


def table_of(table: str) -> str:
    """The type of the name of a table (`rvu`), which only indexing or `in` may use."""
    return f"{TABLE}:{table}"


def kind_of(typ: str) -> str | None:
    """SET, LIST, ROW or TABLE for a compound type, else None."""
    kind, colon, _ = typ.partition(":")
    return kind if colon and kind in (SET, LIST, ROW, TABLE) else None


def inner_type(typ: str) -> str:
    """What a compound type is of: a collection's element type, a row's or table's table name."""
    return typ.partition(":")[2]


LIST_OF_STRING = list_of(STRING)  # modifiers: the one list a claim's fields hold


@dataclass(frozen=True)
class Field:
    """One readable field: its language type, default when absent, and whether it may be absent."""

    name: str
    type: str
    default: object = None
    optional: bool = False
    description: str = ""
    # Never absent nor null on a valid claim once defaults are filled: required and not nullable, or
    # with a default. The SQL backend leaves out the NULL guards of such a column (values.never_null).
    always: bool = False


def _field_type(prop: dict) -> str:
    if "enum" in prop:
        return STRING
    kind = prop.get("type")
    if isinstance(kind, list):  # ["boolean", "null"]: null is "not stated" (issue 17), never read by a rule
        kind = next((k for k in kind if k != "null"), None)
    if kind == "string":
        return DATE if prop.get("format") == "date" else STRING
    if kind == "integer":
        return INT
    if kind == "number":
        return NUMBER
    if kind == "boolean":
        return BOOL
    if kind == "array":
        return list_of(_field_type(prop.get("items", {})))
    return ANY


def _fields_of(schema_object: dict, computed: dict[str, Field]) -> dict[str, Field]:
    required = set(schema_object.get("required", ()))
    out: dict[str, Field] = {}
    for name, prop in schema_object.get("properties", {}).items():
        optional = name not in required and "default" not in prop
        kinds = prop.get("type")
        if "enum" in prop:
            nullable = None in prop["enum"]
        else:
            nullable = kinds is None or "null" in (kinds if isinstance(kinds, list) else [kinds])
        always = prop.get("default") is not None or (name in required and not nullable)
        out[name] = Field(name, _field_type(prop), prop.get("default"), optional, prop.get("description", ""), always)
    out.update(computed)
    return out


# What earlier stages decided for a line, readable on any line (`line.denied`, `o.units_allowed`)
# by a rule of a later stage. Not claim fields: a claim never carries them, and the checker
# refuses them in the first stage, where nothing has been decided yet.
OUTCOMES: dict[str, Field] = {
    "denied": Field("denied", BOOL, description="Whether a rule of an earlier stage denied the line."),
    "units_allowed": Field("units_allowed", INT,
                           description="The line's units as earlier stages left them (its billed units, "
                                       "less any reduction)."),
}


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, Field]]:
    """Fields by record type: ``claim``, ``line`` and ``documentation``."""
    with open(_resources.schema_path("claim.schema.json"), encoding="utf-8") as fh:
        schema = json.load(fh)
    line_schema = schema["$defs"]["line"]
    claim_fields = _fields_of(schema, {})
    claim_fields["lines"] = Field("lines", list_of(LINE), description="The claim's lines, in order.")
    claim_fields["documentation"] = Field("documentation", DOCUMENTATION, description="What the record documents.")
    line_fields = _fields_of(line_schema, {
        "index": Field("index", INT, description="The line's position on the claim, from 0.", always=True),
    })
    # A line without its own date is on the claim's date.
    line_fields["date_of_service"] = Field("date_of_service", DATE, description="The line's date, else the claim's.",
                                           always=True)
    doc_fields = _fields_of(schema["properties"]["documentation"], {})
    return {CLAIM: claim_fields, LINE: line_fields, DOCUMENTATION: doc_fields}


# The types a policy may declare a claim field as (`field line.x { type string }`).
DECLARABLE = {"string": STRING, "int": INT, "number": NUMBER, "bool": BOOL, "date": DATE}


def with_declared(declared) -> dict[str, dict[str, Field]]:
    """The catalogue with a policy's declared fields (`nodes.DeclaredField`s) added, all optional.

    The base catalogue is shared and never changed: a policy without declarations gets it as is."""
    if not declared:
        return catalogue()
    out = {record: dict(fields) for record, fields in catalogue().items()}
    for d in declared:
        if d.record in out and d.type_name in DECLARABLE:
            out[d.record][d.name] = Field(d.name, DECLARABLE[d.type_name], None, True, d.title)
    return out


def element_type(collection_type: str) -> str | None:
    """The element type of ``set:T`` or ``list:T``, else None."""
    return inner_type(collection_type) if kind_of(collection_type) in (SET, LIST) else None


def compatible(a: str, b: str) -> bool:
    """Whether values of types a and b may be compared with each other."""
    if ANY in (a, b) or a == b:
        return True
    return a in NUMERIC and b in NUMERIC
