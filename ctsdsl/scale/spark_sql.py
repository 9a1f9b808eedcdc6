"""Decide a Spark DataFrame of claims as Spark SQL: `evaluate_dataframe(df, engine="sql")`.

The policy's SQL plan (ctsdsl/scale/sql/plan.py, rewritten for Spark by sql/spark_plan.py) runs
in the JVM over two relations built from the claims with Spark's own functions: no Python worker
decides a claim the SQL can decide. What comes out are decision relations, not decision JSON
(docs/spark.md, "engine='sql'"): `claims`, `lines` and `findings` DataFrames whose columns are the
decision document's, as `batch --format parquet` writes them (sql/parquet_decisions.py).

A claim goes back to the row engine (the `handed` DataFrame, decided by the row engine's Python
workers, `DECISION_SCHEMA`) when the SQL cannot vouch for deciding it as the row engine would:

* it might not be valid: every keyword of the policy's claim schema is checked in SQL, and a
  claim any check doubts (or whose column types the schema does not expect) is handed back, so
  the row engine names its error or decides it;
* it holds a number the relations cannot carry exactly (more than six decimals; a double that
  does not come back from DECIMAL(28,6) unchanged);
* the plan says the row engine would fail on it (`ctsdsl_failed`).

Claims are typed rows (a struct column, or each row a claim), as the row engine's path reads them
through `to_json`, which drops null fields: a null is a field left out, for both engines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claims.fields import BOOL, CLAIM, DATE, DOCUMENTATION, INT, LINE, LIST_OF_STRING, NUMBER, STRING
from ..engine.evaluator import Evaluator
from ..errors import ClaimError, Diagnostic, UsageError
from .sql import plan as plan_mod
from .sql import spark_plan
from .sql.errors import unsupported
from .sql.native_checks import QUIET_KEYWORDS, SAFE_PATTERN
from .sql.relations import NUMBER_PRECISION, NUMBER_SCALE, claim_columns, line_columns

try:
    from pyspark.sql import Column, DataFrame, functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql import types as T  # noqa: N812
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("ctsdsl.scale.spark_sql needs the spark extra: pip install 'ctsdsl[spark]'") from exc

_DECIMAL = f"decimal({NUMBER_PRECISION},{NUMBER_SCALE})"
_SPARK_TYPES = {STRING: "string", DATE: "string", INT: "bigint", BOOL: "boolean", NUMBER: _DECIMAL,
                LIST_OF_STRING: "array<string>"}
_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
# Views a later view reads from many places: truncated (localCheckpoint) so Spark plans each once.
_SEEN_PREFIX = "ctsdsl_seen"


@dataclass(frozen=True)
class SqlDecisions:
    """What `evaluate_dataframe(df, engine="sql")` returns: decision relations, and the handed-back rows.

    `claims`: claim_id, outcome, total_allowed, total_complete, policy; `lines`: claim_id, index,
    code, status, units_billed, units_allowed, allowed_amount, findings (ids); `findings`:
    claim_id, id, line, rule, title, severity, reason_codes, message, citation, layer,
    layer_version, layer_file, layer_line. `handed`: the claims the SQL did not decide, as the
    row engine decides them (`DECISION_SCHEMA`: a decision JSON or an error per row).
    """

    claims: DataFrame
    lines: DataFrame
    findings: DataFrame
    handed: DataFrame


# ------------------------------------------------------------ validity, from the claim schema


def _type_ok(kind: str, dtype: T.DataType) -> bool:
    if kind == "string":
        return isinstance(dtype, T.StringType)
    if kind == "integer":
        return isinstance(dtype, _INTEGRAL) or isinstance(dtype, T.DecimalType) and dtype.scale == 0
    if kind == "number":
        return isinstance(dtype, (*_INTEGRAL, T.DecimalType, T.DoubleType, T.FloatType))
    if kind == "boolean":
        return isinstance(dtype, T.BooleanType)
    if kind == "array":
        return isinstance(dtype, T.ArrayType)
    if kind == "object":
        return isinstance(dtype, T.StructType)
    return False


def _exact(x: Column, dtype: T.DataType) -> Column:
    """The number comes back unchanged from DECIMAL(28,6): the relations carry it exactly."""
    if isinstance(dtype, (T.DoubleType, T.FloatType)):
        return (F.abs(x) < 1e15) & (x.cast(_DECIMAL).cast("double") == x.cast("double"))
    if isinstance(dtype, T.DecimalType) and (dtype.scale > NUMBER_SCALE or dtype.precision - dtype.scale
                                               > NUMBER_PRECISION - NUMBER_SCALE):
        return x.cast(_DECIMAL) == x
    return F.lit(True)


def _is_date(x: Column) -> Column:
    """A calendar date (2024-02-30 is not), as the row engine's `format: date` reads it."""
    return F.try_to_timestamp(x, F.lit("yyyy-MM-dd")).isNotNull()


class _Checks:
    """The conditions, as Spark columns, under which a typed claim is valid for a schema.

    Each keyword the schema uses is written here or refused (`sql-unsupported`, naming it), so a
    schema that grows a keyword cannot let an invalid claim through unchecked."""

    def __init__(self, schema: dict, source: str) -> None:
        self.schema, self.source = schema, source

    def refuse(self, what: str) -> Exception:
        return unsupported(what, self.source, None, "decide these claims with the row engine (engine='row')")

    def resolve(self, node: dict) -> dict:
        ref = node.get("$ref")
        if ref is None:
            return node
        if not ref.startswith("#/$defs/"):
            raise self.refuse(f"the claim schema's reference {ref}")
        return self.schema["$defs"][ref.rsplit("/", 1)[1]]

    def value(self, node: dict, x: Column, dtype: T.DataType) -> Column:
        """`x` (not null) satisfies `node`."""
        node = self.resolve(node)
        conds: list[Column] = []
        kinds = node.get("type")
        kinds = [k for k in ([kinds] if isinstance(kinds, str) else kinds or []) if k != "null"]
        if kinds and not any(_type_ok(k, dtype) for k in kinds):
            return F.lit(False)  # to_json writes another JSON type: the row engine refuses it
        for key, arg in node.items():
            if key in QUIET_KEYWORDS or key in ("type", "$ref"):
                continue
            if key == "enum":
                if not all(isinstance(v, str) for v in arg) or not isinstance(dtype, T.StringType):
                    return F.lit(False)
                conds.append(x.isin(*arg))
            elif key == "pattern":
                if not set(arg) <= SAFE_PATTERN:
                    raise self.refuse(f"the pattern {arg!r} (its meaning may differ in Java's regular expressions)")
                conds += [x.rlike(arg), F.instr(x, "\n") == 0]  # `$` matches before a final newline in both
            elif key in ("minLength", "maxLength"):
                conds.append(F.length(x) >= arg if key == "minLength" else F.length(x) <= arg)
            elif key in ("minimum", "maximum"):
                conds.append(x >= F.lit(arg) if key == "minimum" else x <= F.lit(arg))
            elif key == "format":
                if arg != "date":
                    raise self.refuse(f"the claim schema's format {arg!r}")
                conds.append(_is_date(x))
            elif key in ("minItems", "maxItems"):
                conds.append(F.size(x) >= arg if key == "minItems" else F.size(x) <= arg)
            elif key == "items":
                assert isinstance(dtype, T.ArrayType)
                element = dtype.elementType
                conds.append(F.forall(x, self.each(arg, element)))
            elif key in ("properties", "required", "additionalProperties"):
                continue  # below, with the object's fields
            else:
                raise self.refuse(f"the claim schema's keyword `{key}`")
        if "properties" in node and isinstance(dtype, T.StructType):
            conds.append(self.object(node, x, dtype))
        if "number" in kinds:
            conds.append(_exact(x, dtype))
        out = F.lit(True)
        for c in conds:
            out = out & F.coalesce(c, F.lit(False))
        return out

    def each(self, node: dict, dtype: T.DataType):
        """The test of one item of a list (Spark's lambdas take the item alone)."""
        return lambda item: item.isNotNull() & self.value(node, item, dtype)

    def object(self, node: dict, x: Column, dtype: T.StructType) -> Column:
        props: dict = node.get("properties", {})
        have = {f.name: f.dataType for f in dtype.fields}
        out = F.lit(True)
        for name in node.get("required", ()):
            out = out & (x[name].isNotNull() if name in have else F.lit(False))
        for name, sub in props.items():
            if name in have:
                field = x[name]
                out = out & (field.isNull() | self.value(sub, field, have[name]))
        if node.get("additionalProperties", True) is False:
            for name in have:
                if name not in props:
                    out = out & x[name].isNull()  # to_json writes it: the row engine refuses the field
        return out


# ------------------------------------------------------------ the two relations


def _field(x: Column, dtype: T.StructType, name: str) -> Column | None:
    return x[name] if name in dtype.fieldNames() else None


def _default(value: Any, typ: str) -> Column:
    if typ == LIST_OF_STRING:
        return F.array(*[F.lit(v) for v in (value or [])]).cast("array<string>")
    return F.lit(value).cast(_SPARK_TYPES[typ])


def _relations(claims: DataFrame, dtype: T.StructType, fields) -> tuple[DataFrame, DataFrame]:
    """`claims` (claim_ord, _c: the claim struct) as the plan's `claims` and `lines` relations,
    defaults filled as the row engine reads them (relations.py does the same for DuckDB)."""
    c = F.col("_c")
    doc_type = next((f.dataType for f in dtype.fields if f.name == "documentation"), None)
    cols = [F.col("claim_ord")]
    for column, (name, typ) in claim_columns(fields).items():
        default = fields[DOCUMENTATION if column.startswith("d_") else CLAIM][name].default
        if column.startswith("d_"):
            x = _field(c["documentation"], doc_type, name) if isinstance(doc_type, T.StructType) else None
        else:
            x = _field(c, dtype, name)
        value = _default(default, typ) if x is None else F.coalesce(x.cast(_SPARK_TYPES[typ]), _default(default, typ))
        cols.append(value.alias(column))
    claims_rel = claims.select(*cols)
    lines_type = dtype["lines"].dataType
    assert isinstance(lines_type, T.ArrayType) and isinstance(lines_type.elementType, T.StructType)  # evaluate_sql checked
    line_type = lines_type.elementType
    exploded = claims.select("claim_ord", c["date_of_service"].alias("_dos"), F.posexplode(c["lines"]).alias("l_index", "_l"))
    line = F.col("_l")
    lcols = [F.col("claim_ord"), F.col("l_index").cast("bigint").alias("l_index")]
    for column, (name, typ) in line_columns(fields).items():
        if column == "l_index":
            continue
        x = _field(line, line_type, name)
        fallback = F.col("_dos") if name == "date_of_service" else _default(fields[LINE][name].default, typ)
        value = fallback if x is None else F.coalesce(x.cast(_SPARK_TYPES[typ]), fallback)
        lcols.append(value.alias(column))
    return claims_rel, exploded.select(*lcols)


# ------------------------------------------------------------ the plan, and the decisions


def _claim_struct(df: DataFrame, column: str | None) -> Column:
    if column is None:
        return F.struct(*[F.col(c) for c in df.columns])
    dtype = df.schema[column].dataType
    if not isinstance(dtype, T.StructType):
        raise ClaimError(Diagnostic(
            "claim-column", f"engine='sql' decides typed claims: column {column!r} is {dtype.simpleString()}",
            "<dataframe>", hint="read the claims with a schema, e.g. spark.read.schema(ctsdsl.spark.claim_schema())"
            ".json(path), and pass the struct (or column=None for whole rows); or use engine='row'"))
    return F.col(column)


def _views(spark, plan: plan_mod.Plan, claims_rel: DataFrame, lines_rel: DataFrame) -> dict[str, DataFrame]:
    """The plan's views as DataFrames. Each is registered under a name of this call's own (so two
    calls do not meet) for the views after it, and the views many read are cut from their lineage
    (localCheckpoint), so Spark plans the pipeline below them once, as DuckDB stores them."""
    prefix = f"ctsdsl_{uuid.uuid4().hex[:8]}_"
    rename = {"claims": prefix + "claims", "lines": prefix + "lines"}
    rename.update({name: prefix + name for name, _ in plan.views})
    claims_rel.createOrReplaceTempView(rename["claims"])
    lines_rel.createOrReplaceTempView(rename["lines"])
    stored = set(plan.stored)
    out: dict[str, DataFrame] = {}
    conf = spark.conf
    # Spark rounds a decimal product past 38 digits to 6 decimals unless told not to: then it fails
    # instead, never rounding otherwise than the row engine. A DataFrame keeps the types it was built with.
    loss = conf.get("spark.sql.decimalOperations.allowPrecisionLoss", "true")
    conf.set("spark.sql.decimalOperations.allowPrecisionLoss", "false")
    try:
        for (name, _), (_, text) in zip(plan.views, spark_plan.statements(plan, rename, pretty=False)):
            df = spark.sql(text)
            if name in stored or name.startswith(_SEEN_PREFIX):
                df = df.localCheckpoint(eager=False)
            df.createOrReplaceTempView(rename[name])
            out[name] = df
    finally:
        conf.set("spark.sql.decimalOperations.allowPrecisionLoss", loss)
        for name in rename.values():
            spark.catalog.dropTempView(name)  # the DataFrames keep their plans
    return out


def _rules_frame(spark, evaluator: Evaluator) -> DataFrame:
    rows = [(k, r.id, r.title, r.severity, list(r.reasons), r.citation, r.origin.policy, r.origin.version,
             r.origin.file, r.origin.line) for k, r in enumerate(evaluator.rules)]
    return spark.createDataFrame(rows, "rule_k bigint, rule string, title string, severity string, "
                                       "reason_codes array<string>, citation string, layer string, "
                                       "layer_version string, layer_file string, layer_line bigint")


def evaluate_sql(df: DataFrame, evaluator: Evaluator, column: str | None, decide_rows) -> SqlDecisions:
    """`df`'s claims decided by `evaluator`'s policy as Spark SQL (see the module docstring).
    `decide_rows(frame, column)` is the row engine's path, for the claims handed back."""
    spark = df.sparkSession
    struct = _claim_struct(df, column)
    base = df.select(struct.alias("_c"))
    dtype = base.schema["_c"].dataType
    assert isinstance(dtype, T.StructType)
    if "lines" not in dtype.fieldNames() or not isinstance(dtype["lines"].dataType, T.ArrayType) \
            or not isinstance(dtype["lines"].dataType.elementType, T.StructType):
        raise ClaimError(Diagnostic("claim-column", "engine='sql' needs each claim's `lines` as a list of structs",
                                    "<dataframe>", hint="read the claims with ctsdsl.spark.claim_schema()"))
    schema = evaluator.claim_model.schema
    valid = _Checks(schema, evaluator.checked.policy.source_name).object(schema, F.col("_c"), dtype)
    plan = plan_mod.build(evaluator.checked)
    marked = base.withColumn("claim_ord", F.monotonically_increasing_id()).withColumn("_ok", valid) \
        .localCheckpoint(eager=False)
    good = marked.where("_ok")
    claims_rel, lines_rel = _relations(good, dtype, evaluator.checked.fields)
    views = _views(spark, plan, claims_rel, lines_rel)
    failed = views["ctsdsl_failed"].select("claim_ord")
    decided = good.join(failed, "claim_ord", "left_anti").select("claim_ord", F.col("_c.id").alias("claim_id"))
    handed = marked.where(~F.col("_ok")).select("_c").unionByName(
        good.join(failed, "claim_ord", "left_semi").select("_c"))
    ids = decided
    # ---- lines: every line of a decided claim; a line the policy does not govern is out of scope
    sql_lines = views["ctsdsl_lines"]
    all_lines = lines_rel.select("claim_ord", "l_index", "l_code", "l_units").join(ids, "claim_ord")
    joined = all_lines.join(sql_lines, ["claim_ord", "l_index"], "left")
    governed = F.col("denied").isNotNull()
    units = F.when(F.col("denied"), F.lit(0)).otherwise(F.col("allowed"))
    status = F.when(~governed, "out_of_scope").when(units <= 0, "denied") \
        .when(units < F.col("l_units"), "reduced").otherwise("allowed")
    allowed = F.when(~governed, F.col("l_units")).when(units <= 0, F.lit(0)).otherwise(units)
    amount = F.when(governed, F.round(F.col("amount"), 2).cast("decimal(38,2)"))
    lines = joined.select("claim_ord", "claim_id", F.col("l_index").alias("index"), F.col("l_code").alias("code"),
                          status.alias("status"), F.col("l_units").alias("units_billed"),
                          allowed.cast("bigint").alias("units_allowed"), amount.alias("allowed_amount"))
    # ---- findings, numbered in the row engine's order: phase (stage, claim before line), line, rule
    sql_findings = views["ctsdsl_findings"].join(ids, "claim_ord")
    from pyspark.sql.window import Window
    order = Window.partitionBy("claim_ord").orderBy("phase", F.col("line").asc_nulls_first(), "rule")
    numbered = sql_findings.withColumn("id", F.concat(F.lit("F"), F.row_number().over(order).cast("string"))) \
        .withColumnRenamed("rule", "rule_k")
    findings = numbered.join(F.broadcast(_rules_frame(spark, evaluator)), "rule_k").select(
        "claim_ord", "claim_id", "id", F.col("line").cast("bigint").alias("line"), "rule", "title", "severity",
        "reason_codes", "message", "citation", "layer", "layer_version", "layer_file", "layer_line")
    # a claim finding is on every governed line; a line finding on its own
    on_line = findings.select("claim_ord", "line", "id").join(
        lines.where("status != 'out_of_scope'").select("claim_ord", F.col("index").alias("gi")), "claim_ord") \
        .where(F.col("line").isNull() | (F.col("line") == F.col("gi"))) \
        .groupBy("claim_ord", "gi").agg(F.sort_array(F.collect_list(
            F.struct(F.substring("id", 2, 10).cast("int").alias("n"), "id"))).alias("_ids"))
    lines = lines.join(on_line, (lines["claim_ord"] == on_line["claim_ord"]) & (lines["index"] == on_line["gi"]),
                       "left").select(lines["*"], F.coalesce(F.transform("_ids", lambda s: s["id"]),
                                                             F.array().cast("array<string>")).alias("findings"))
    # ---- claims: the outcome and total, as Evaluator.assemble makes them
    per_claim = lines.groupBy("claim_ord").agg(
        F.sum(F.when(F.col("status") != "out_of_scope", 1).otherwise(0)).alias("_gov"),
        F.sum(F.when(F.col("status") == "denied", 1).otherwise(0)).alias("_den"),
        F.sum(F.when(F.col("status") == "reduced", 1).otherwise(0)).alias("_red"),
        F.coalesce(F.sum("allowed_amount"), F.lit(0)).cast("decimal(38,2)").alias("total_allowed"),
        F.bool_and(~(F.col("allowed_amount").isNull() & (F.col("units_allowed") > 0)
                     & (F.col("status") != "out_of_scope"))).alias("total_complete"))
    outcome = F.when((F.col("_gov") > 0) & (F.col("_den") == F.col("_gov")), "deny") \
        .when((F.col("_den") > 0) | (F.col("_red") > 0), "partial").otherwise("pay")
    claims = ids.join(per_claim, "claim_ord").select("claim_ord", "claim_id", outcome.alias("outcome"),
                                                      "total_allowed", "total_complete",
                                                      F.lit(evaluator.info.name).alias("policy"))
    return SqlDecisions(claims.drop("claim_ord"), lines.drop("claim_ord"), findings.drop("claim_ord"),
                        decide_rows(handed, "_c"))


def claim_schema(evaluator: Evaluator | None = None) -> T.StructType:
    """The Spark type of a claim (schemas/claim.schema.json, and a policy's declared fields), to read
    claims with: `spark.read.schema(claim_schema()).json(path)`. Numbers are DECIMAL(28,6), what the
    relations carry; Spark's reader rounds a number with more decimals to six, for both engines."""
    from ..claims.fields import catalogue
    fields = evaluator.checked.fields if evaluator is not None else catalogue()

    def struct(kind: str) -> T.StructType:
        types = {STRING: T.StringType(), DATE: T.StringType(), INT: T.LongType(), BOOL: T.BooleanType(),
                 NUMBER: T.DecimalType(NUMBER_PRECISION, NUMBER_SCALE), LIST_OF_STRING: T.ArrayType(T.StringType())}
        return T.StructType([T.StructField(f.name, types[f.type]) for f in fields[kind].values() if f.type in types])
    schema = evaluator.claim_model.schema if evaluator is not None else _resources_schema()
    line_props = set(schema["$defs"]["line"]["properties"]) if "$defs" in schema else set()
    top = [f for f in struct(CLAIM).fields if f.name in schema["properties"] and f.name not in ("lines", "documentation")]
    lines = T.StructType([f for f in struct(LINE).fields if f.name in line_props])
    return T.StructType(top + [T.StructField("documentation", struct(DOCUMENTATION)),
                               T.StructField("lines", T.ArrayType(lines))])


def _resources_schema() -> dict:
    from ..claims.validation import ClaimModel
    return ClaimModel().schema


def evaluator_for(policy: str | Path | None) -> Evaluator:
    """The one policy engine='sql' decides with."""
    if policy is None:
        raise UsageError(Diagnostic(
            "sql-policy", "engine='sql' decides every claim with one policy: pass policy=", "<dataframe>",
            hint="filter the claims by payer and date of service and decide each part with its policy, "
                 "e.g. policy='medicare-cts-2025'; or use engine='row', which chooses per claim"))
    from ..api import compile as compile_policy
    return compile_policy(policy)


__all__ = ["SqlDecisions", "claim_schema", "evaluate_sql", "evaluator_for"]
