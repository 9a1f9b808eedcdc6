"""Checking claims against the claim schema of the policy that decides them.

Every problem, from a missing file to a line with zero units, surfaces as a
`ClaimError` whose diagnostics say where (file, line, JSON path) and what to do.
Valid claims take a fast path compiled from the schema (claim_checks); jsonschema only
runs to explain a failure, and stays the authority on what is valid. Files are read by
claim_files, whose names are re-exported here.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _resources
from .checks import compile_property, compile_schema, ecma_end, has_surrogate, is_date, property_checks
# Reading the files is claim_files' job: its names are re-exported here, where callers have long found them.
from .files import (file_kind, iter_jsonl, jsonl_lines, load_claim_file, parse_json, parse_jsonl_record,  # noqa: F401
                    parse_yaml, show_value)
from ..errors import ClaimError, CtsdslError, Diagnostic, did_you_mean

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError


def iter_claims(path: str | Path) -> Iterator[tuple[str, dict | ClaimError]]:
    """Yield each claim of a file, validated, carrying on past bad records.

    A .jsonl file is streamed a line at a time, in constant memory; JSON and YAML are read whole.

    Args:
        path: The claim file.

    Yields:
        ``(location, claim)`` for a valid record, ``(location, ClaimError)`` for
        one that does not parse or does not match the schema.

    Raises:
        ClaimError: For problems with the file as a whole (missing, binary,
            empty; for JSON and YAML also a syntax error or a repeated key).
    """
    path = Path(path)
    records = iter_jsonl(path) if file_kind(path) == "jsonl" else iter(load_claim_file(path))
    for location, item in records:
        if not isinstance(item, ClaimError):
            try:
                item = validate_claim(item, location)
            except ClaimError as exc:
                item = exc
        yield location, item


@functools.lru_cache(maxsize=None)
def claim_schema() -> dict:
    """Return the claim JSON Schema, read once. Callers must not modify it."""
    with open(_resources.schema_path("claim.schema.json"), encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=None)
def _validator() -> Draft202012Validator:
    return _validator_of(claim_schema())


def _validator_of(schema: dict) -> Draft202012Validator:
    # Imported here: valid claims never need jsonschema, and importing it is a third of `ctsdsl eval`'s start-up.
    from jsonschema import Draft202012Validator, ValidationError, validators

    def pattern(validator, regex, instance, schema):
        # JSON Schema patterns are ECMA-262: "$" ends the text. Python's "$" also matches before a
        # final newline, which let "97550\n" through as a code that then matched no rule.
        if validator.is_type(instance, "string") and not re.search(_ecma_end(regex), instance):
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    checker = validators.extend(Draft202012Validator, {"pattern": pattern})
    return checker(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch  # what format "date" accepts (claim_checks.is_date)
_ecma_end = ecma_end  # the names this module has long used for what claim_checks now owns
_is_date = is_date
_has_surrogate = has_surrogate


def _is_text(value: object, high: int) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= high and not has_surrogate(value)


# The spend toward the KX thresholds: one figure for both, or one per threshold (PT and SLP
# share one, OT has its own), which takes precedence over the shared one.
SPEND_FIELDS = ("therapy_spend_to_date", "pt_slp_spend_to_date", "ot_spend_to_date")


# Past this, exact cents need more than the 28 digits of decimal arithmetic, and no one's yearly
# therapy spend comes near it. The schema says so too (`maximum`).
MAX_AMOUNT = 1_000_000_000_000

# The fast path, compiled from the schema itself (claim_checks): it accepts only claims the schema
# accepts and that need nothing more: plain ints where the schema wants integers (3.0 is an integer
# to the schema, and is made 3 on the slow path), finite amounts, text without lone surrogates.
# Anything else takes the slow path.
_SCHEMA = claim_schema()
_REQUIRED = tuple(_SCHEMA["required"])
_DOC_FIELDS = frozenset(_SCHEMA["properties"]["documentation"]["properties"])
_CLAIM_CHECKS = property_checks(_SCHEMA)
_LINE_CHECKS = property_checks(_SCHEMA["$defs"]["line"], _SCHEMA["$defs"])
_fast_valid = compile_schema(_SCHEMA)


def _infinite_spends(obj: object) -> list[str]:
    """The spend fields holding NaN or an infinity, which the schema cannot refuse."""
    if not isinstance(obj, dict):
        return []
    return [f for f in SPEND_FIELDS if (isinstance(obj.get(f), float) and not math.isfinite(obj[f]))
            or (isinstance(obj.get(f), Decimal) and not obj[f].is_finite())]


def _infinite_charges(obj: object) -> list[int]:
    """The lines whose charge is NaN or an infinity, which the schema cannot refuse either."""
    lines = obj.get("lines") if isinstance(obj, dict) else None
    if not isinstance(lines, list):
        return []
    return [i for i, line in enumerate(lines) if isinstance(line, dict) and isinstance(line.get("charge"), (float, Decimal))
            and not (line["charge"].is_finite() if isinstance(line["charge"], Decimal) else math.isfinite(line["charge"]))]


@functools.lru_cache(maxsize=1)
def line_integer_bounds() -> dict[str, tuple[int, int]]:
    """Each integer field of a claim line, with the least and greatest value the schema allows."""
    properties = claim_schema()["$defs"]["line"]["properties"]
    return {name: (prop.get("minimum", 0), prop.get("maximum", 1440)) for name, prop in properties.items()
            if "integer" in (prop.get("type") if isinstance(prop.get("type"), list) else [prop.get("type")])}


def _with_ints(claim: dict) -> dict:
    """The claim with whole floats in integer fields (3.0, as pandas and Spark write them) made ints.

    The schema counts 3.0 as an integer, so the claim is valid; the policy's arithmetic needs 3.
    A copy when something changes: the caller's claim is never modified.
    """
    lines, integers = claim["lines"], line_integer_bounds()
    if not any(type(line.get(f)) is float for line in lines for f in integers):
        return claim
    fixed = [{k: int(v) if k in integers and type(v) is float else v for k, v in line.items()}
             for line in lines]
    return dict(claim, lines=fixed)


def validate_claim(obj: object, source_name: str = "<claim>") -> dict:
    """Check a claim against ``schemas/claim.schema.json``.

    Args:
        obj: A claim as parsed from JSON or YAML.
        source_name: Where the claim came from, for the diagnostics.

    Returns:
        ``obj`` itself, unchanged (defaults are not filled in); or, when a line gives a whole
        number as a float (``"units": 1.0``, which the schema counts as an integer), a copy
        with it as an int.

    Raises:
        ClaimError: With one ``claim-invalid`` diagnostic per problem, sorted by
            JSON path, each naming the path (``$.lines[0].units``).
    """
    if _fast_valid(obj):
        return obj  # type: ignore[return-value]
    return _slow_validate(obj, source_name)


def _slow_validate(obj: object, source_name: str, validator: Draft202012Validator | None = None) -> dict:
    """`validate_claim` with jsonschema, for what the fast checker does not accept at once."""
    infinite = _infinite_spends(obj)
    # jsonschema's `minimum` would raise on a Decimal NaN: check what is left, and report the NaN here.
    checked = {k: v for k, v in obj.items() if k not in infinite} if isinstance(obj, dict) and infinite else obj
    bad_charges = _infinite_charges(obj)
    if bad_charges and isinstance(checked, dict):  # likewise a line's charge
        lines = [{k: v for k, v in line.items() if k != "charge"} if i in bad_charges else line
                 for i, line in enumerate(checked["lines"])]
        checked = dict(checked, lines=lines)
    # Sorted by path (indexes numerically), then by best_match's preference at one path.
    errors = sorted((validator or _validator()).iter_errors(checked), key=lambda e: (
        [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in e.absolute_path],
        [not part for part in _relevance(e)[2:]]))
    # A dict keeps the first of each repeated diagnostic in order; `d not in list` made 20 000 bad
    # lines cost minutes (issue 16).
    unique: dict[Diagnostic, None] = {}
    for error in errors:
        unique.update(dict.fromkeys(_explain(error, source_name)))
    diagnostics = list(unique)
    for field in infinite:  # the schema cannot say "finite"; an amount of money must be
        diagnostics.append(Diagnostic("claim-invalid", f"expected a finite number, got {obj[field]}",  # type: ignore[index]
                                      source_name,
                                      hint="NaN, Infinity and numbers past 1e308 are not amounts",
                                      path=f"$.{field}"))
    for i in bad_charges:
        diagnostics.append(Diagnostic("claim-invalid", f"expected a finite number, got {obj['lines'][i]['charge']}",  # type: ignore[index]
                                      source_name, hint="NaN, Infinity and numbers past 1e308 are not amounts",
                                      path=f"$.lines[{i}].charge"))
    for field in ("id", "payer"):  # nor "no lone surrogates": half a UTF-16 pair cannot be written as UTF-8
        value = obj.get(field) if isinstance(obj, dict) else None
        if isinstance(value, str) and _has_surrogate(value):
            diagnostics.append(Diagnostic(
                "claim-invalid", f"{_show(value)} contains a lone surrogate, half of a UTF-16 pair, which is not text",
                source_name, hint="the producer split a character such as an emoji in two: write it whole",
                path=f"$.{field}"))
    if diagnostics:
        raise ClaimError(diagnostics)
    return _with_ints(obj)  # type: ignore[arg-type]


class ClaimModel:
    """The claims one policy decides: the base schema and the fields the policy declares.

    `validate` is `validate_claim` for those claims, on the same kind of fast path: a declared
    field is a JSON Schema property in a copy of the schema, and the fast checks are compiled
    from that copy as the base ones are from the base schema (claim_checks), so one definition
    serves both the fast path and the explanation of a failure.
    """

    def __init__(self, declared: tuple = ()) -> None:
        self.declared = declared  # `nodes.DeclaredField`s, as the checker accepted them
        self._fast = compile_schema(self.schema) if declared else _fast_valid
        self._validator: Draft202012Validator | None = None

    @property
    def schema(self) -> dict:
        """The claim schema of this policy (JSON Schema 2020-12): the base one, with the declared fields."""
        return _schema_with(self.declared)

    def validate(self, obj: object, source_name: str = "<claim>") -> dict:
        """`obj` if it is a valid claim for this policy (see `validate_claim`); else a ClaimError."""
        if not self.declared:
            return validate_claim(obj, source_name)
        if self._fast(obj):
            return obj  # type: ignore[return-value]  # the check has just said it is a claim (a dict)
        if self._validator is None:
            self._validator = _validator_of(self.schema)
        return _slow_validate(obj, source_name, self._validator)


def declared_property(d) -> dict:
    """A declared field (`nodes.DeclaredField`) as a JSON Schema property."""
    prop: dict[str, Any] = {"description": d.title} if d.title else {}
    if d.type_name == "string":
        prop.update(type="string", minLength=1, maxLength=200)
        if d.pattern is not None:
            prop["pattern"] = d.pattern
    elif d.type_name == "date":
        prop.update(type="string", format="date", pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    elif d.type_name in ("int", "number"):
        prop["type"] = "integer" if d.type_name == "int" else "number"
        if d.low is not None and d.high is not None:
            prop.update(minimum=d.low.value, maximum=d.high.value)
        else:  # a number no larger than what the engine can count exactly, like every amount
            prop.update(minimum=-MAX_AMOUNT, maximum=MAX_AMOUNT)
    else:
        prop["type"] = "boolean"
    if d.example is not None:
        prop["examples"] = [example_value(d)]
    return prop


def _schema_with(declared: tuple) -> dict:
    if not declared:
        return claim_schema()
    schema = json.loads(json.dumps(claim_schema()))  # a deep copy: the base schema is shared
    for d in declared:
        target = schema["$defs"]["line"] if d.record == "line" else schema
        target["properties"][d.name] = declared_property(d)
    return schema


def example_value(d) -> object:
    """A declared field's `example` as JSON would give it (a number as int or float), or None."""
    if d.example is None:
        return None
    value = d.example.value
    return float(value) if isinstance(value, Decimal) else value


def declared_check(d):
    """The fast-path check of a declared field: True only for what its property accepts."""
    return compile_property(declared_property(d))


BASE_MODEL = ClaimModel()


def validate_for(obj: object, source_name: str, choose: Callable[[dict], Any]) -> tuple[dict, Any]:
    """A claim validated against the schema of the policy that decides it, and what decides it.

    `choose(claim)` returns the evaluator (anything with a `claim_model`) for a claim. A claim
    valid under the base schema is also valid for every policy (declared fields are optional);
    one that is not may still be valid for its policy, if what the base schema refused are
    fields that policy declares. Otherwise the base schema's errors stand, as they always did.
    """
    try:
        claim = validate_claim(obj, source_name)
    except ClaimError:
        chosen = _chosen_despite_errors(obj, choose)
        if chosen is None or not chosen.claim_model.declared:
            raise
        return chosen.claim_model.validate(obj, source_name), chosen
    return claim, choose(claim)


def _chosen_despite_errors(obj: object, choose: Callable[[dict], Any]) -> Any:
    """What `choose` picks for a claim the base schema refused, if the fields it chooses by are sound."""
    if not (isinstance(obj, dict) and _is_text(obj.get("payer"), 100) and _is_date(obj.get("date_of_service"))
            and isinstance(obj.get("lines"), list) and all(isinstance(line, dict) for line in obj["lines"])
            and all(_is_date(line["date_of_service"]) for line in obj["lines"] if "date_of_service" in line)):
        return None
    try:
        return choose(obj)
    except CtsdslError:  # no policy for it: the schema's errors say what is wrong
        return None


@functools.lru_cache(maxsize=64)
def model_for(declared: tuple) -> ClaimModel:
    """The claim model of a policy declaring `declared` (shared by every policy declaring the same)."""
    return ClaimModel(declared) if declared else BASE_MODEL


def _relevance(error: ValidationError) -> Any:  # a sort key: jsonschema types it loosely
    from jsonschema.exceptions import relevance
    return relevance(error)


_show = show_value  # the name the explanations below have long used


def _did_you_mean(value: object, options: list) -> str:
    if not isinstance(value, str):
        return ""
    close = did_you_mean(value, options, quote='"')
    return f"{close} " if close else ""


_DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PATTERNS = {
    "^[0-9]{2}$": ("a two-digit place-of-service code", "11"),
    "^[A-Z0-9]{5}$": ("a five-character CPT or HCPCS code", "97550"),
    "^[A-Z0-9]{2}$": ("a two-character modifier", "GP"),
    _DATE_PATTERN: ("a date written YYYY-MM-DD", "2024-03-15"),
}
_LIMITS = {
    "minimum": "{value} is less than the minimum of {limit}",
    "maximum": "{value} is greater than the maximum of {limit}",
    "minItems": "needs at least {limit} item{s}, got {size}",
    "maxItems": "has {size} items, more than the maximum of {limit}",
    "minLength": "must be at least {limit} characters long",
    "maxLength": "is {size} characters long, more than the maximum of {limit}",
}
_LIMIT_HINTS = {("minItems", "$.lines"): "a claim bills at least one line",
                ("maxItems", "$.lines"): "split it into several claims"}
_TYPE_HINTS = {("integer", bool): "true and false are not numbers here; write a number such as 1",
               ("integer", str): "numbers go without quotes", ("number", str): "numbers go without quotes",
               ("integer", float): "write a whole number", ("boolean", str): "write true or false without quotes",
               ("string", int): "put it in quotes: unquoted, JSON and YAML read it as a number"}
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?").fullmatch
_DIGITS_HINT = "write the number in the ASCII digits 0-9 alone, such as 90: not 1:30, 1_0, 0x5A or a non-ASCII digit"
# Codes are where a number sneaks in: a POS of 02 written bare even loses its zero.
_CODE_FIELDS = ("place_of_service", "code", "modifiers")
_CODE_HINT = 'put codes in quotes, e.g. "02": unquoted, YAML reads them as numbers and drops the leading zero'
_ARTICLES = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
             "object": "an object", "array": "an array"}


def _explain(error: ValidationError, source_name: str) -> list[Diagnostic]:
    """Turn one jsonschema error into plain-words diagnostics."""
    path = error.json_path
    # The stubs allow "unset" for errors jsonschema built by hand; every error a validator reports has these.
    value: Any = error.instance
    kind: Any = error.validator
    limit: Any = error.validator_value
    schema: Any = error.schema

    def say(message: str, hint: str = "", at: str = path) -> Diagnostic:
        return Diagnostic("claim-invalid", message, source_name, hint=hint, path=at)  # location shows the path

    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        return [say(f"unknown field {_show(key)}", f"{_did_you_mean(key, allowed)}allowed fields: {', '.join(allowed)}",
                    f"{path}.{key}" if str(key).isidentifier() else f"{path}[{_show(key)}]")
                for key in value if key not in allowed]
    if kind == "required":  # one error per missing field, but each explains them all: the caller dedupes
        return [say(f'the required field "{key}" is missing', "required here: " + ", ".join(limit))
                for key in limit if key not in value]
    if kind == "type":
        if isinstance(limit, list):  # ["integer", "null"]: null says "not stated", the rest is the type
            limit = next((t for t in limit if t != "null"), "null")
        hint = _CODE_HINT if (limit, type(value)) == ("string", int) and any(f in path for f in _CODE_FIELDS) \
            else _TYPE_HINTS.get((limit, type(value)), "")
        if limit in ("integer", "number") and isinstance(value, str) and not _PLAIN_NUMBER(value.strip()):
            hint = _DIGITS_HINT  # 1:30, 1_0, ٩٠: YAML 1.1 or a spreadsheet would have read a number into it
        return [say(f"expected {_ARTICLES.get(limit, limit)}, got {_show(value)}", hint)]
    if kind == "pattern":
        what, example = _PATTERNS.get(limit, (f"matching {limit}", ""))
        hint = f'use capital letters: "{value.upper()}"' if re.search(limit, value.upper()) else (
            f'for example "{example}"' if example else "")
        return [say(f"{_show(value)} is not {what}", hint)]
    if kind == "format" and limit == "date":
        if not re.search(_DATE_PATTERN, value):
            return []  # the pattern error already says it is not YYYY-MM-DD
        reason = "write the date as YYYY-MM-DD, with nothing before or after it"
        if _DATE(value):
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                reason = str(exc)  # e.g. "day is out of range for month"
        return [say(f"{_show(value)} is not a valid calendar date", reason)]
    if kind in _LIMITS:
        size = len(value) if isinstance(value, (str, list)) else 0
        message = _LIMITS[kind].format(value=_show(value), limit=limit, size=size, s="s" * (limit != 1))
        return [say("must not be empty" if (kind, limit) == ("minLength", 1) else message,
                    _LIMIT_HINTS.get((kind, path), ""))]
    if kind == "enum":
        return [say(f"{_show(value)} is not one of " + ", ".join(_show(o) for o in limit),
                    _did_you_mean(value, limit).strip())]
    return [say(error.message)]
