"""Claims as two relations, `claims` and `lines`, whose columns come from the claim schema.

The field catalogue (ctsdsl/language/fields.py, itself read from schemas/claim.schema.json) is the one
source of the columns: a field added to the schema becomes a column here without an edit, and a
policy's declared fields (`field line.prior_auth_number`, `CheckedPolicy.fields`) become columns
of its relations.
Each claim gets `claim_ord`, its position in the batch, which the decisions are put back in.

Defaults are filled in as the row engine reads them (`line.date_of_service` is the claim's when
the line has none), so the SQL reads plain columns. A value SQL cannot hold exactly (a number
with more than six decimals, an integer past 64 bits) marks its claim for the row engine.

Two builders make the same relations: `JsonLoader`, which has DuckDB parse each claim's JSON text
into the two tables (what the SQL engine uses: about 7 µs a claim where `build` took 22), and
`build`, columns filled in Python (for a claim JSON cannot write, such as one holding a Decimal,
and as the oracle `tests/test_sql_relations.py` compares the loader with).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from ...claims.fields import (BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, LIST_OF_STRING, NUMBER, STRING,
                             Field, catalogue)
from ...engine.runtime import num
from .values import lit

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


# ---- the same two relations built by DuckDB from each claim's JSON text (`JsonLoader`)

JSON_INPUT = "ctsdsl_json"  # the registered table of (claim_ord, j: a claim's JSON text) the loader reads
_SPEC_TYPES: dict[str, Any] = {STRING: "VARCHAR", DATE: "VARCHAR", INT: "BIGINT", BOOL: "BOOLEAN",
                               NUMBER: SQL_TYPES[NUMBER], LIST_OF_STRING: ["VARCHAR"]}


def _spec(record: Mapping[str, Field], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {f.name: _SPEC_TYPES[f.type] for f in record.values() if f.type in _SPEC_TYPES and f.name not in skip}


def json_structure(fields: Fields | None = None) -> dict[str, Any]:
    """A claim's shape as DuckDB's `from_json` reads it: each field SQL holds, typed as `build` types it."""
    fields = fields or catalogue()
    structure = _spec(fields[CLAIM], COMPUTED)
    structure["documentation"] = _spec(fields[DOCUMENTATION])
    structure["lines"] = [_spec(fields[LINE], frozenset({"index"}))]
    return structure


def suspect_pattern(fields: Fields | None = None) -> str:
    """A regular expression that matches the JSON text (as orjson or `json.dumps` writes it) of every
    claim `build` would mark for the row engine or DuckDB would read otherwise than `build`, and of
    some others (text in a string that looks alike costs only the row engine deciding that claim):
    19 digits in a row (an integer past 64 bits, a number past DECIMAL(28,6)), a seventh decimal, an
    exponent, a `null` (a fact not stated, which the row engine decides; NaN and infinities, which
    orjson writes as null), or an integer field written as a float (3.0, which `build` refuses and
    DuckDB would read as 3). Written for Python's `re` and DuckDB's RE2 alike."""
    fields = fields or catalogue()
    ints = sorted({f.name for record in (CLAIM, LINE) for f in fields[record].values() if f.type == INT})
    alternatives = [r"[0-9]{19}", r"\.[0-9]{7}", r"[0-9][eE]", r"[:,\[] ?null", r"NaN|Infinity"]
    if ints:
        alternatives.append('"(' + "|".join(ints) + r')": ?-?[0-9]+\.')
    return "|".join(alternatives)


def _default(value: object, typ: str) -> exp.Expression:
    if typ == LIST_OF_STRING:
        return exp.cast(exp.Array(expressions=[lit(v) for v in value or ()]), "VARCHAR[]")  # type: ignore[attr-defined]
    return exp.cast(lit(value), SQL_TYPES[typ])


def _filled(value: exp.Expression, default: object, typ: str) -> exp.Expression:
    """`value`, or the field's default where the claim leaves it out (as `claim.get(name, default)`)."""
    return value if default is None else exp.Coalesce(this=value, expressions=[_default(default, typ)])


def _dot(*names: str) -> exp.Expression:
    return exp.Dot.build([exp.column(names[0]), *map(exp.to_identifier, names[1:])])


def relation_statements(fields: Fields, source: str, where: exp.Expression | None = None) -> list[str]:
    """The statements that make `claims` and `lines` from the rows (claim_ord, c) of `source`, `c`
    a claim as a struct of `json_structure`'s fields (NULL where the claim leaves one out), the
    defaults filled in as `build` fills them. `JsonLoader` makes `c` from JSON text, the native
    Parquet path (native.py) from the file's columns."""
    claim = exp.select("claim_ord")
    for column, (name, typ) in claim_columns(fields).items():
        if column.startswith("d_"):
            claim = claim.select(_filled(_dot("c", "documentation", name), fields[DOCUMENTATION][name].default,
                                         typ).as_(column))
        else:
            claim = claim.select(_filled(_dot("c", name), fields[CLAIM][name].default, typ).as_(column))
    line = exp.select("claim_ord", "l_index")
    for column, (name, typ) in line_columns(fields).items():
        if column == "l_index":
            continue
        if name == "date_of_service":  # a line without its own date is on the claim's
            line = line.select(exp.Coalesce(this=_dot("ln", name), expressions=[_dot("c", name)]).as_(column))
        else:
            line = line.select(_filled(_dot("ln", name), fields[LINE][name].default, typ).as_(column))
    each = exp.select("claim_ord", "c", exp.Unnest(expressions=[exp.Anonymous(
        this="range", expressions=[exp.Anonymous(this="len", expressions=[_dot("c", "lines")])])]).as_("l_index"),
        exp.Unnest(expressions=[_dot("c", "lines")]).as_("ln")).from_(source)
    claim = claim.from_(source)
    if where is not None:
        each, claim = each.where(where), claim.where(where)
    return [f"CREATE OR REPLACE TEMP TABLE claims AS {claim.sql(dialect='duckdb')}",
            f"CREATE OR REPLACE TEMP TABLE lines AS {line.from_(each.subquery('u')).sql(dialect='duckdb')}"]


class JsonLoader:
    """Makes `claims` and `lines` as DuckDB tables from the claims' JSON texts: the columns and values
    of `build`, in a sixth of its time (DuckDB parses the text, not a Python loop per field).

    The statements are sqlglot trees written once per policy's catalogue; no claim value is pasted
    into them (the texts are a registered table)."""

    def __init__(self, fields: Fields | None = None) -> None:
        fields = fields or catalogue()
        self.fields = fields
        structure = lit(json.dumps(json_structure(fields)))
        suspect = exp.RegexpLike(this=exp.column("j"), expression=lit(suspect_pattern(fields)))
        # A suspect claim's `c` is NULL (a claim's JSON object never reads as NULL): one pass of the pattern.
        parsed = exp.select("claim_ord", exp.Case(ifs=[exp.If(this=exp.Not(this=suspect), true=exp.Anonymous(
            this="from_json", expressions=[exp.column("j"), structure]))]).as_("c")).from_(JSON_INPUT)
        kept = exp.Not(this=exp.Is(this=exp.column("c"), expression=exp.Null()))
        self.statements = [f"CREATE OR REPLACE TEMP TABLE ctsdsl_parsed AS {parsed.sql(dialect='duckdb')}",
                           *relation_statements(fields, "ctsdsl_parsed", kept)]
        self.suspects = exp.select("claim_ord").from_("ctsdsl_parsed").where(exp.Not(this=kept)).sql(dialect="duckdb")

    def load(self, con: Any, claims: list[Mapping[str, Any]]) -> set[int] | None:
        """Make the tables of `claims` in `con`; the claim_ord of the claims the row engine must decide
        (as `Relations.unrepresentable`, and more: see `suspect_pattern`), left out of the tables.
        None, and no table changed, when a claim cannot be written as JSON (a Decimal in it, a
        lone surrogate): make them from `build` then (`load_relations`)."""
        import pyarrow as pa

        texts = _texts(claims)
        if texts is None:
            return None
        con.register(JSON_INPUT, pa.table({"claim_ord": pa.array(range(len(texts)), pa.int64()),
                                           "j": pa.array(texts, pa.string())}))
        try:
            for statement in self.statements:
                con.execute(statement)
            return {row[0] for row in con.execute(self.suspects).fetchall()}
        finally:
            con.unregister(JSON_INPUT)
            con.execute("DROP TABLE IF EXISTS ctsdsl_parsed")


def load_relations(con: Any, rel: Relations) -> None:
    """`build`'s relations as the `claims` and `lines` tables of `con`, as `JsonLoader.load` makes them."""
    for name, table in (("claims", rel.claims), ("lines", rel.lines)):
        con.register("ctsdsl_arrow", table)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM ctsdsl_arrow")
        finally:
            con.unregister("ctsdsl_arrow")


try:  # the `fast` extra: a C JSON library writes the texts in a fifth of the time
    import orjson

    def _texts(claims: list[Mapping[str, Any]]) -> list[str] | None:
        try:
            return [orjson.dumps(claim).decode() for claim in claims]
        except TypeError:
            return None
except ImportError:  # pragma: no cover - the test extra installs orjson
    def _texts(claims: list[Mapping[str, Any]]) -> list[str] | None:
        try:
            return [json.dumps(claim, separators=(",", ":")) for claim in claims]
        except (TypeError, ValueError):
            return None
