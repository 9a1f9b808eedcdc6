"""The claim schema compiled into the fast path's checks: one definition of a valid claim.

`schemas/claim.schema.json` is the definition. jsonschema applies it to explain a claim that
fails; a valid claim is recognised without jsonschema, by plain Python checks compiled from
the same schema here, so the two cannot drift apart: a field, a bound or a pattern added to
the schema is checked on the fast path at once, and a keyword the compiler does not know is
an error when the checks are built, never a check silently skipped. A policy's declared fields
(`claims.declared_property`) reach the fast path the same way.

The fast checks may refuse what the schema accepts (3.0 where an integer is wanted, a Decimal
amount): such claims take the slow path, which accepts them. They never accept what the
schema refuses (tests/test_claim_model.py generates claims to hold them to it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

Check = Callable[[object], bool]

# Keywords that say nothing about validity (`default` is filled in by the engine, not checked).
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$schema", "$id", "$comment"})
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch  # what format "date" accepts, with the calendar


class SchemaKeywordError(ValueError):
    """The schema uses a keyword the fast path cannot check: teach `compile_schema` it first."""


def ecma_end(regex: str) -> str:
    """A JSON Schema pattern for Python's `re.search`: ECMA-262's `$` ends the text, Python's also
    matches before a final newline (which let "97550\\n" through as a code)."""
    return regex[:-1] + r"\Z" if regex.endswith("$") and not regex.endswith("\\$") else regex


def is_date(value: object) -> bool:
    try:
        return isinstance(value, str) and bool(_DATE(value)) and bool(date.fromisoformat(value))
    except ValueError:  # a real-looking date that is not on the calendar: 2024-02-30
        return False


def has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\udc80" in JSON): half a character, not text
        return True
    return False


def all_fields(obj: dict, checks: dict[str, Check]) -> bool:
    """Every key of `obj` has a check and passes it (a key without one is an unknown field)."""
    # A plain loop: all() over a generator costs a quarter of validation on every claim.
    for key, value in obj.items():
        check = checks.get(key)
        if check is None or not check(value):
            return False
    return True


def compile_schema(schema: dict) -> Check:
    """The check of a whole claim under `schema` (its `$defs` resolve `#/$defs/...` references)."""
    return _compile(schema, schema.get("$defs", {}))


def compile_property(prop: dict, defs: dict | None = None) -> Check:
    """The check of one property's value (`#/$defs/...` references resolve in `defs`)."""
    return _compile(prop, defs or {})


def property_checks(schema: dict, defs: dict | None = None) -> dict[str, Check]:
    """The check of each property of an object schema, by name."""
    defs = schema.get("$defs", {}) if defs is None else defs
    return {name: _compile(prop, defs) for name, prop in schema.get("properties", {}).items()}


def _compile(prop: dict, defs: dict) -> Check:
    unknown = set(prop) - _ANNOTATIONS - _KNOWN
    if unknown:
        raise SchemaKeywordError(f"the fast claim check cannot check {', '.join(sorted(unknown))}")
    if "$ref" in prop:
        name = prop["$ref"].removeprefix("#/$defs/")
        return _compile(defs[name], defs)
    types = prop.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    nullable = "null" in types
    types = [t for t in types if t != "null"]
    if "enum" in prop:
        check = _enum(prop["enum"])
    elif len(types) != 1:
        raise SchemaKeywordError(f"the fast claim check needs one type besides null, not {prop.get('type')!r}")
    else:
        check = _BY_TYPE[types[0]](prop, defs)
    if nullable:
        if types == ["boolean"] and "enum" not in prop:  # the documentation flags: one call, not two
            return lambda v: v is True or v is False or v is None
        if types == ["integer"] and "enum" not in prop:
            low, high = prop["minimum"], prop["maximum"]
            return lambda v: (type(v) is int and low <= v <= high) or v is None
        inner = check
        return lambda v: v is None or inner(v)
    return check


def _enum(values: list) -> Check:
    if not all(isinstance(v, str) for v in values):
        raise SchemaKeywordError("the fast claim check knows enums of strings only")
    allowed = frozenset(values)
    return lambda v: isinstance(v, str) and v in allowed


_MAX_REMEMBERED = 4096  # answers each remembering check keeps; past that it starts again


def remembered(check: Check) -> Check:
    """`check`, remembering its answer for each string: claims repeat the same few codes, modifiers,
    places of service and dates, and a regular expression or a calendar check costs ten dict lookups."""
    answers: dict[str, bool] = {}

    def cached(v: object) -> bool:
        if type(v) is not str:
            return check(v)
        answer = answers.get(v)
        if answer is None:
            if len(answers) >= _MAX_REMEMBERED:
                answers.clear()
            answer = answers[v] = check(v)
        return answer
    return cached


def _string(prop: dict, defs: dict) -> Check:
    if prop.get("format") == "date":
        return remembered(is_date)  # the format's calendar check includes its pattern
    if "format" in prop:
        raise SchemaKeywordError(f"the fast claim check knows format date only, not {prop['format']!r}")
    low, high = prop.get("minLength", 0), prop.get("maxLength")
    if "pattern" in prop:
        search = re.compile(ecma_end(prop["pattern"])).search
        if high is None:
            return remembered(lambda v: isinstance(v, str) and len(v) >= low and search(v) is not None)
        return remembered(lambda v: isinstance(v, str) and low <= len(v) <= high and search(v) is not None)
    # Free text: also whole characters (a lone surrogate cannot be written out as UTF-8).
    if high is None:
        return lambda v: isinstance(v, str) and len(v) >= low and not has_surrogate(v)
    return lambda v: isinstance(v, str) and low <= len(v) <= high and not has_surrogate(v)


def _integer(prop: dict, defs: dict) -> Check:
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is None or high is None:
        raise SchemaKeywordError("the fast claim check needs both bounds of an integer")
    return lambda v: type(v) is int and low <= v <= high  # neither bool nor a float such as 3.0


def _number(prop: dict, defs: dict) -> Check:
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is None or high is None:  # past 10^15 exact cents need more digits than decimal arithmetic keeps
        raise SchemaKeywordError("the fast claim check needs both bounds of a number")
    # Other number types (Decimal...) take the slow path; NaN fails both comparisons, infinity one.
    return lambda v: type(v) in (int, float) and low <= v <= high


def _boolean(prop: dict, defs: dict) -> Check:
    return lambda v: v is True or v is False


def _array(prop: dict, defs: dict) -> Check:
    item = _compile(prop.get("items", {"type": "null"}), defs)
    low, high = prop.get("minItems", 0), prop.get("maxItems", 10 ** 9)

    def check(v: object) -> bool:
        if not isinstance(v, list) or not low <= len(v) <= high:
            return False
        for x in v:
            if not item(x):
                return False
        return True
    return check


def _object(prop: dict, defs: dict) -> Check:
    if prop.get("additionalProperties", True) is not False:
        raise SchemaKeywordError("the fast claim check needs additionalProperties false on every object")
    checks = property_checks(prop, defs)
    required = tuple(prop.get("required", ()))

    def check(v: object) -> bool:
        if not isinstance(v, dict):
            return False
        for key in required:
            if key not in v:
                return False
        return all_fields(v, checks)
    return check


_BY_TYPE: dict[str, Callable[[dict, dict], Check]] = {
    "string": _string, "integer": _integer, "number": _number, "boolean": _boolean, "array": _array,
    "object": _object}
_KNOWN = frozenset({"$ref", "type", "enum", "format", "pattern", "minLength", "maxLength", "minimum", "maximum",
                    "items", "minItems", "maxItems", "properties", "required", "additionalProperties", "$defs"})
