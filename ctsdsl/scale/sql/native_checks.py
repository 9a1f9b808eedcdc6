"""What the native Parquet path (native.py) asks of each row in SQL, before DuckDB decides it.

A Parquet row is decided without Python only when SQL can vouch that Python would read it the
same way: valid under the policy's claim schema, every number carried exactly by the relations,
every text and number written by the claim digest's canonical JSON as written here. Each test
is conservative: a row it doubts is not an error, it is decided by the reader, validator and row
engine as before (so its error is located and worded as ever). A schema keyword or a column type
this module does not know makes the whole file go that way (`Refused`), never a guess.

The values are read as `parquet_claims` gives them to Python (`Shape`): a date32 cell is ISO
text, a null cell a key left out, a struct a dict of its non-null fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlglot import exp

from ...claims.fields import BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, LIST_OF_STRING, NUMBER, STRING
from .relations import NUMBER_PRECISION, NUMBER_SCALE, SQL_TYPES, Fields, json_structure
from .values import is_null, is_true, lit

TEXT, ISO_DATE, INTEGER, FLOAT, BOOLEAN, TEXTS, OBJECT, OBJECTS = (
    "text", "date", "integer", "float", "boolean", "texts", "object", "objects")
# Keywords that say nothing a claim must satisfy (spark_sql's checks skip them too).
QUIET_KEYWORDS = frozenset({"description", "title", "default", "examples", "$schema", "$id", "$defs", "$comment"})
# A pattern of these characters means the same to RE2 (DuckDB) and Java (Spark) as to Python's `re`.
SAFE_PATTERN = frozenset("^$[]{}(),|?*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Text the canonical JSON writes as it is, with no escape: printable ASCII but `"` and `\`.
_PLAIN_TEXT = '[ !#-\\[\\]-~]*'
# A double below this has less than a millionth between neighbours: DECIMAL(28,6) holds its
# shortest digits (what Python's repr and the relations read) when it has six decimals or fewer.
_EXACT_BELOW = 4e9


def conj(*conds: exp.Expression) -> exp.Expression:
    return cast(exp.Expression, exp.and_(*conds, copy=False))  # sqlglot copies each operand by default


def disj(*conds: exp.Expression) -> exp.Expression:
    return cast(exp.Expression, exp.or_(*conds, copy=False))


class Refused(Exception):
    """The file or schema holds something this module does not test: decide the file the usual way."""


@dataclass(frozen=True)
class Shape:
    """A column's (or struct field's) values as Python reads them from the file."""

    kind: str
    children: tuple[tuple[str, Shape], ...] = ()

    def child(self, name: str) -> Shape | None:
        return dict(self.children).get(name)


def shape_of(arrow_type: Any) -> Shape:
    """The Shape of an Arrow type; Refused for one the native path does not read."""
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return Shape(TEXT)
    if t.is_date32(arrow_type):
        return Shape(ISO_DATE)
    if t.is_integer(arrow_type) and not t.is_uint64(arrow_type):
        return Shape(INTEGER)
    if t.is_float64(arrow_type) or t.is_float32(arrow_type):
        return Shape(FLOAT)
    if t.is_boolean(arrow_type):
        return Shape(BOOLEAN)
    if t.is_struct(arrow_type):
        return Shape(OBJECT, tuple((f.name, shape_of(f.type)) for f in arrow_type))
    if t.is_list(arrow_type) or t.is_large_list(arrow_type):
        inner = shape_of(arrow_type.value_type)
        if inner.kind == TEXT:
            return Shape(TEXTS)
        if inner.kind == OBJECT:
            return Shape(OBJECTS, inner.children)
    raise Refused(f"a column of {arrow_type}")


def row_shape(schema: Any) -> Shape:
    """The Shape of a whole row of a file of `schema` (a pyarrow.Schema): an object of its columns."""
    return Shape(OBJECT, tuple((f.name, shape_of(f.type)) for f in schema))


# ---------------------------------------------------------------- sqlglot builders


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _each(xs: exp.Expression, var: str, body: exp.Expression, name: str = "list_transform") -> exp.Expression:
    return fn(name, xs, exp.Lambda(this=body, expressions=[exp.to_identifier(var)]))


def field(x: exp.Expression | None, name: str) -> exp.Expression:
    """Field `name` of the struct `x`, or the column `name` of the row when `x` is None."""
    if x is None:
        return exp.column(name, quoted=True)
    return fn("struct_extract", x, lit(name))


def _all(conds: list[exp.Expression]) -> exp.Expression:
    out: exp.Expression = exp.true()
    for c in conds:
        out = conj(out, is_true(c))
    return out


def not_null(x: exp.Expression) -> exp.Expression:
    return exp.Not(this=is_null(x))


def _concat(*parts: exp.Expression) -> exp.Expression:
    return exp.DPipe(this=parts[0], expression=_concat(*parts[1:])) if len(parts) > 1 else parts[0]


# ---------------------------------------------------------------- the values, as Python reads them


def normalized(x: exp.Expression, shape: Shape, depth: int = 0) -> exp.Expression:
    """`x` as the value Python reads from the cell: text as VARCHAR (a date as its ISO text), whole
    numbers as BIGINT, the others as DOUBLE, a struct with its fields so read."""
    kind = shape.kind
    if kind == TEXT:
        return exp.cast(x, "VARCHAR")
    if kind == ISO_DATE:  # Python cannot hold a year past 9999: such a date becomes text no check passes
        in_range = exp.Between(this=fn("year", x), low=lit(1), high=lit(9999))
        return exp.Case(ifs=[exp.If(this=in_range, true=fn("strftime", x, lit("%Y-%m-%d")))], default=lit(""))
    if kind == INTEGER:
        return exp.cast(x, "BIGINT")
    if kind == FLOAT:
        return exp.cast(x, "DOUBLE")
    if kind == BOOLEAN:
        return x
    if kind == TEXTS:
        return exp.cast(x, "VARCHAR[]")
    if kind == OBJECTS:
        var = f"x{depth}"
        return _each(x, var, normalized(exp.column(var), Shape(OBJECT, shape.children), depth + 1))
    pairs = [exp.PropertyEQ(this=exp.to_identifier(name, quoted=True),
                            expression=normalized(field(x, name), child, depth)) for name, child in shape.children]
    if not pairs:
        return x
    return exp.Case(ifs=[exp.If(this=is_null(x), true=exp.Null())], default=exp.Struct(expressions=pairs))


def row_normalized(shape: Shape) -> list[exp.Expression]:
    """The select list of a row's columns, each `normalized` under its own name."""
    return [cast(exp.Expression, exp.alias_(normalized(exp.column(name, quoted=True), child), name, quoted=True))
            for name, child in shape.children]


def _kind_fits(kind: str, shape: Shape) -> bool:
    return {"string": shape.kind in (TEXT, ISO_DATE), "integer": shape.kind == INTEGER,
            "number": shape.kind in (INTEGER, FLOAT), "boolean": shape.kind == BOOLEAN,
            "array": shape.kind in (TEXTS, OBJECTS), "object": shape.kind == OBJECT}.get(kind, False)


def _element(shape: Shape) -> Shape:
    return Shape(TEXT) if shape.kind == TEXTS else Shape(OBJECT, shape.children)


class Checks:
    """The condition, as a DuckDB expression over the `normalized` row, under which Python would
    find a row valid for `schema` and read it as the relations and the digest here do."""

    def __init__(self, schema: dict) -> None:
        self.schema = schema

    def resolve(self, node: dict) -> dict:
        ref = node.get("$ref")
        if ref is None:
            return node
        if not ref.startswith("#/$defs/"):
            raise Refused(f"the claim schema's reference {ref}")
        return self.schema["$defs"][ref.rsplit("/", 1)[1]]

    def row(self, shape: Shape) -> exp.Expression:
        return self.object(self.schema, None, shape)

    def value(self, node: dict, x: exp.Expression, shape: Shape, depth: int = 0) -> exp.Expression:
        """`x` (not null) satisfies `node`."""
        node = self.resolve(node)
        kinds = node.get("type")
        kinds = [k for k in ([kinds] if isinstance(kinds, str) else kinds or []) if k != "null"]
        if kinds and not any(_kind_fits(k, shape) for k in kinds):
            return exp.false()  # another JSON type: Python refuses it, and says why
        conds: list[exp.Expression] = []
        if shape.kind == TEXT:  # written by the digest as it is, and measured in characters alike
            conds.append(fn("regexp_full_match", x, lit(_PLAIN_TEXT)))
        if shape.kind == FLOAT:
            conds.append(exact(x))
        for key, arg in node.items():
            if key in QUIET_KEYWORDS or key in ("type", "$ref", "properties", "required", "additionalProperties"):
                continue
            if key == "enum":
                if not all(isinstance(v, str) for v in arg) or shape.kind not in (TEXT, ISO_DATE):
                    return exp.false()
                conds.append(exp.In(this=x, expressions=[lit(v) for v in arg]))
            elif key == "pattern":
                if not set(arg) <= SAFE_PATTERN:
                    raise Refused(f"the pattern {arg!r}")
                # `$` matches before a final newline in Python's `re`, not in RE2: no newline at all.
                conds += [fn("regexp_matches", x, lit(arg)), exp.EQ(this=fn("strpos", x, lit("\n")), expression=lit(0))]
            elif key in ("minLength", "maxLength"):
                conds.append((exp.GTE if key == "minLength" else exp.LTE)(this=fn("length", x), expression=lit(arg)))
            elif key in ("minimum", "maximum"):
                bound = lit(Decimal(str(arg)) if isinstance(arg, float) else arg)
                conds.append((exp.GTE if key == "minimum" else exp.LTE)(this=x, expression=bound))
            elif key == "format":
                if arg != "date":
                    raise Refused(f"the claim schema's format {arg!r}")
                conds += [not_null(fn("try_strptime", x, lit("%Y-%m-%d"))),
                          exp.NEQ(this=fn("substr", x, lit(1), lit(4)), expression=lit("0000"))]
            elif key in ("minItems", "maxItems"):
                conds.append((exp.GTE if key == "minItems" else exp.LTE)(this=fn("len", x), expression=lit(arg)))
            elif key == "items":
                if shape.kind not in (TEXTS, OBJECTS):
                    return exp.false()
                var = f"i{depth}"
                item = exp.column(var)
                ok = conj(not_null(item), self.value(arg, item, _element(shape), depth + 1))
                bad = _each(x, var, exp.Not(this=is_true(ok)), "list_filter")
                conds.append(exp.EQ(this=fn("len", bad), expression=lit(0)))
            else:
                raise Refused(f"the claim schema's keyword `{key}`")
        if "properties" in node and shape.kind == OBJECT:
            conds.append(self.object(node, x, shape, depth))
        return _all(conds)

    def object(self, node: dict, x: exp.Expression | None, shape: Shape, depth: int = 0) -> exp.Expression:
        props: dict = node.get("properties", {})
        conds: list[exp.Expression] = []
        for name in node.get("required", ()):
            conds.append(not_null(field(x, name)) if shape.child(name) else exp.false())
        for name, child in shape.children:
            f = field(x, name)
            if name in props:
                conds.append(disj(is_null(f), self.value(props[name], f, child, depth)))
            elif node.get("additionalProperties", True) is False:
                conds.append(is_null(f))  # Python refuses the field: so must this
            else:
                raise Refused(f"the field {name}, which the claim schema lets be anything")
        return _all(conds)


def exact(x: exp.Expression) -> exp.Expression:
    """The double `x` has six decimals or fewer and is small enough that DECIMAL(28,6) holds its
    shortest digits; and the canonical JSON writes it without an exponent (as `digest_text`)."""
    micro = exp.cast(exp.cast(x, f"DECIMAL({NUMBER_PRECISION},{NUMBER_SCALE})"), "DOUBLE")
    whole = exp.EQ(this=x, expression=fn("trunc", x))
    return conj(exp.LT(this=fn("abs", x), expression=lit(Decimal(str(_EXACT_BELOW)))),
                    exp.EQ(this=micro, expression=x),
                    disj(whole, exp.GTE(this=fn("abs", x), expression=lit(Decimal("0.0001")))))


# ---------------------------------------------------------------- the claim digest's text


def json_text(x: exp.Expression, shape: Shape, depth: int = 0) -> exp.Expression:
    """The canonical JSON of the (not null, `Checks`-valid) value `x` (engine/decision.py, `claim_digest`)."""
    q = lit('"')
    kind = shape.kind
    if kind in (TEXT, ISO_DATE):
        return _concat(q, x, q)
    if kind == INTEGER:
        return exp.cast(x, "VARCHAR")
    if kind == FLOAT:  # by value: a whole one as an int, the others by their digits (no trailing zero)
        digits = exp.cast(exp.cast(x, f"DECIMAL({NUMBER_PRECISION},{NUMBER_SCALE})"), "VARCHAR")
        return exp.Case(ifs=[exp.If(this=exp.EQ(this=x, expression=fn("trunc", x)),
                                    true=exp.cast(exp.cast(x, "BIGINT"), "VARCHAR"))],
                        default=fn("rtrim", fn("rtrim", digits, lit("0")), lit(".")))
    if kind == BOOLEAN:
        return exp.Case(ifs=[exp.If(this=x, true=lit("true"))], default=lit("false"))
    if kind in (TEXTS, OBJECTS):
        var = f"j{depth}"
        items = _each(x, var, json_text(exp.column(var), _element(shape), depth + 1))
        return _concat(lit("["), fn("array_to_string", items, lit(",")), lit("]"))
    return _object_text(x, shape, depth)


def _object_text(x: exp.Expression | None, shape: Shape, depth: int = 0) -> exp.Expression:
    members = []
    for name, child in sorted(shape.children):  # keys sorted, as the canonical form sorts them
        f = field(x, name)
        member = _concat(lit(f'"{name}":'), json_text(f, child, depth))
        members.append(exp.Case(ifs=[exp.If(this=not_null(f), true=member)]))
    if not members:
        return lit("{}")
    return _concat(lit("{"), fn("concat_ws", lit(","), *members), lit("}"))


def digest(shape: Shape) -> exp.Expression:
    """The claim digest (``sha256:...``) of a `Checks`-valid row of `shape`."""
    return _concat(lit("sha256:"), fn("sha256", _object_text(None, shape)))


# ---------------------------------------------------------------- the claim as the relations read it


def claim_struct(shape: Shape, fields: Fields) -> exp.Expression:
    """The row as the struct `c` the relations are made from (relations.py reads `c.<field>`),
    each field of the policy's catalogue typed as `json_structure` types it; NULL where the file
    has no such column, or one of a type that never passes `Checks` for it."""
    structure = json_structure(fields)

    def typed(value: exp.Expression | None, shape: Shape | None, typ: str) -> exp.Expression:
        sql_type = SQL_TYPES[typ]
        if value is None or shape is None or not _fits(typ, shape):
            return exp.cast(exp.Null(), sql_type)
        return exp.cast(value, sql_type)

    def record(x: exp.Expression | None, shape: Shape | None, kind: str, names: Mapping[str, Any]) -> exp.Expression:
        pairs = []
        for name in names:
            typ = fields[kind][name].type
            child = shape.child(name) if shape else None
            pairs.append(exp.PropertyEQ(this=exp.to_identifier(name, quoted=True),
                                        expression=typed(field(x, name) if child else None, child, typ)))
        return exp.Struct(expressions=pairs)

    top = record(None, shape, CLAIM, {k: v for k, v in structure.items() if k not in ("documentation", "lines")})
    doc_shape = shape.child("documentation")
    doc = record(field(None, "documentation") if doc_shape else None,
                 doc_shape if doc_shape and doc_shape.kind == OBJECT else None, DOCUMENTATION,
                 structure["documentation"])
    lines_shape = shape.child("lines")
    assert lines_shape is not None and lines_shape.kind == OBJECTS  # parquet_claims.check_schema saw to it
    line = record(exp.column("l0"), Shape(OBJECT, lines_shape.children), LINE, structure["lines"][0])
    lines = _each(field(None, "lines"), "l0", line)
    pairs = list(top.expressions) + [
        exp.PropertyEQ(this=exp.to_identifier("documentation", quoted=True), expression=doc),
        exp.PropertyEQ(this=exp.to_identifier("lines", quoted=True), expression=lines)]
    return exp.Struct(expressions=pairs)


def _fits(typ: str, shape: Shape) -> bool:
    return {STRING: (TEXT, ISO_DATE), DATE: (TEXT, ISO_DATE), INT: (INTEGER,), NUMBER: (INTEGER, FLOAT),
            BOOL: (BOOLEAN,), LIST_OF_STRING: (TEXTS,)}.get(typ, ()).__contains__(shape.kind)

