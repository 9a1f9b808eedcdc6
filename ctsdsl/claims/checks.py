"""The claim schema compiled into the fast path's checks: one definition of a valid claim.

`schemas/claim.schema.json` is the definition. jsonschema applies it to explain a claim that
fails; a valid claim is recognised without jsonschema, by plain Python checks compiled from
the same schema here, so the two cannot drift apart: a field, a bound or a pattern added to
the schema is checked on the fast path at once, and a keyword the compiler does not know is
an error when the checks are built, never a check silently skipped. A policy's declared fields
(`claims.declared_property`) reach the fast path the same way.

The checks are written as Python source (one function per object, every property tested inline)
and compiled once: a closure per field cost a third more on every claim (5.1 -> 3.5 µs for the
3-line claim of benchmarks/bench_eval.py).

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


def compile_schema(schema: dict) -> Check:
    """The check of a whole claim under `schema` (its `$defs` resolve `#/$defs/...` references)."""
    return _Emitter(schema.get("$defs", {})).function(schema)


def compile_property(prop: dict, defs: dict | None = None) -> Check:
    """The check of one property's value (`#/$defs/...` references resolve in `defs`)."""
    return _Emitter(defs or {}).function(prop)


def property_checks(schema: dict, defs: dict | None = None) -> dict[str, Check]:
    """The check of each property of an object schema, by name."""
    defs = schema.get("$defs", {}) if defs is None else defs
    return {name: compile_property(prop, defs) for name, prop in schema.get("properties", {}).items()}


_MAX_REMEMBERED = 4096  # answers each remembering check keeps; past that it starts again


def remembering(check: Check) -> tuple[dict[str, bool], Callable[[str], bool]]:
    """The answers `check` has given for strings, and the function that asks it and remembers the
    answer: claims repeat the same few codes, modifiers, places of service and dates, and a regular
    expression or a calendar check costs ten dict lookups. The generated checks look in the answers
    first and call the function only for a string not seen yet."""
    answers: dict[str, bool] = {}

    def ask(v: str) -> bool:
        if len(answers) >= _MAX_REMEMBERED:
            answers.clear()
        answer = answers[v] = check(v)
        return answer
    return answers, ask


class _Missing:
    """What `dict.get` gives for a key the object does not have (None is a value: a flag not stated)."""


# What the generated code may call: nothing else is in reach of `exec`.
_BUILTINS = {"isinstance": isinstance, "type": type, "len": len, "all": all, "map": map,
             "dict": dict, "list": list, "int": int, "float": float, "str": str}


class _Emitter:
    """Writes the checks of one schema as Python source, one function per object schema.

    A check called per field is a quarter of a claim's validation when each is a closure: the body
    of an object's function tests each property inline (a dict lookup and a comparison or two),
    and counts the properties present, so an unknown field is one comparison of lengths at the end.
    Only names made here and `repr` of property names and whole-number bounds reach the source;
    every other value (patterns, enums, bounds that are not ints) is a constant in its namespace.
    """

    def __init__(self, defs: dict) -> None:
        self.defs = defs
        self.namespace: dict[str, object] = {"__builtins__": _BUILTINS, "_M": _Missing}
        self.sources: list[str] = []
        self.by_ref: dict[str, str] = {}  # a `$defs` object's name -> its function's
        self.made = 0

    def function(self, prop: dict) -> Check:
        if _is_object(prop, self.defs):
            name = self.object_function(prop)
        else:
            name = self.fresh("P")
            self.sources.append(f"def {name}(x):\n    return {self.expr(prop, 'x')}\n")
        exec(compile("\n".join(self.sources), "<claim checks>", "exec"), self.namespace)  # noqa: S102
        return self.namespace[name]  # type: ignore[return-value]

    def fresh(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}{self.made}"

    def constant(self, value: object) -> str:
        if type(value) is int:
            return repr(value)
        name = self.fresh("K")
        self.namespace[name] = value
        return name

    def expr(self, prop: dict, x: str) -> str:
        """A Python expression true exactly when the value named `x` passes `prop`."""
        _known(prop)
        if "$ref" in prop:
            name = prop["$ref"].removeprefix("#/$defs/")
            if _is_object(self.defs[name], self.defs):
                return f"{self.definition(name)}({x})"
            return self.expr(self.defs[name], x)
        types = prop.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        nullable = "null" in types
        types = [t for t in types if t != "null"]
        if "enum" in prop:
            values = prop["enum"]
            if not all(isinstance(v, str) for v in values):
                raise SchemaKeywordError("the fast claim check knows enums of strings only")
            check = f"(isinstance({x}, str) and {x} in {self.constant(frozenset(values))})"
        elif len(types) != 1:
            raise SchemaKeywordError(f"the fast claim check needs one type besides null, not {prop.get('type')!r}")
        else:
            check = getattr(self, "of_" + types[0])(prop, x)
        return f"({x} is None or {check})" if nullable else check

    def of_string(self, prop: dict, x: str) -> str:
        if prop.get("format") == "date":
            return self.remembered(is_date, x)  # the format's calendar check includes its pattern
        if "format" in prop:
            raise SchemaKeywordError(f"the fast claim check knows format date only, not {prop['format']!r}")
        low, high = prop.get("minLength", 0), prop.get("maxLength")
        length = f"{self.constant(low)} <= len({x})" + (f" <= {self.constant(high)}" if high is not None else "")
        if "pattern" in prop:
            search = re.compile(ecma_end(prop["pattern"])).search
            return self.remembered(lambda v: isinstance(v, str) and len(v) >= low
                                   and (high is None or len(v) <= high) and search(v) is not None, x)
        # Free text: also whole characters (a lone surrogate cannot be written out as UTF-8; ASCII has none).
        surrogate = self.constant(has_surrogate)
        return f"(isinstance({x}, str) and {length} and ({x}.isascii() or not {surrogate}({x})))"

    def remembered(self, check: Check, x: str) -> str:
        answers, ask = remembering(check)
        # A string subclass (or anything else) gets a plain False: the slow path decides it.
        return f"(type({x}) is str and ({self.constant(answers)}.get({x}) or {self.constant(ask)}({x})))"

    def of_integer(self, prop: dict, x: str) -> str:
        low, high = prop.get("minimum"), prop.get("maximum")
        if low is None or high is None:
            raise SchemaKeywordError("the fast claim check needs both bounds of an integer")
        # Neither bool nor a float such as 3.0 (the slow path makes that 3).
        return f"(type({x}) is int and {self.constant(low)} <= {x} <= {self.constant(high)})"

    def of_number(self, prop: dict, x: str) -> str:
        low, high = prop.get("minimum"), prop.get("maximum")
        if low is None or high is None:  # past 10^15 exact cents need more digits than decimal arithmetic keeps
            raise SchemaKeywordError("the fast claim check needs both bounds of a number")
        # Other number types (Decimal...) take the slow path; NaN fails both comparisons, infinity one.
        return (f"((type({x}) is int or type({x}) is float) and "
                f"{self.constant(low)} <= {x} <= {self.constant(high)})")

    def of_boolean(self, prop: dict, x: str) -> str:
        return f"({x} is True or {x} is False)"

    def of_array(self, prop: dict, x: str) -> str:
        item = prop.get("items", {"type": "null"})
        ref = item.get("$ref", "").removeprefix("#/$defs/")
        if ref and _is_object(self.defs[ref], self.defs):
            each = self.definition(ref)
        else:
            each = self.fresh("I")
            self.sources.append(f"def {each}(y):\n    return {self.expr(item, 'y')}\n")
        low, high = prop.get("minItems", 0), prop.get("maxItems", 10 ** 9)
        return (f"(isinstance({x}, list) and {self.constant(low)} <= len({x}) <= {self.constant(high)} "
                f"and all(map({each}, {x})))")

    def of_object(self, prop: dict, x: str) -> str:
        return f"{self.object_function(prop)}({x})"

    def definition(self, name: str) -> str:
        """The function checking the object `#/$defs/<name>`, written once however often it is used."""
        if name not in self.by_ref:
            self.by_ref[name] = self.fresh("D")  # before its body: a definition may refer to itself
            self.object_function(self.defs[name], self.by_ref[name])
        return self.by_ref[name]

    def object_function(self, prop: dict, name: str | None = None) -> str:
        _known(prop)
        if prop.get("additionalProperties", True) is not False:
            raise SchemaKeywordError("the fast claim check needs additionalProperties false on every object")
        name = name or self.fresh("O")
        required = set(prop.get("required", ()))
        body = [f"def {name}(v):", "    if not isinstance(v, dict):", "        return False",
                f"    n = {len(required)}"]
        for key, sub in prop.get("properties", {}).items():
            test = self.expr(sub, "x")
            body.append(f"    x = v.get({key!r}, _M)")
            if key in required:
                body += ["    if x is _M or not " + test + ":", "        return False"]
            else:
                body += ["    if x is not _M:", "        if not " + test + ":", "            return False",
                         "        n += 1"]
        if required - set(prop.get("properties", {})):
            raise SchemaKeywordError("the fast claim check needs each required field among the properties")
        body.append("    return n == len(v)  # else a field the schema does not know")
        self.sources.append("\n".join(body) + "\n")
        return name


def _known(prop: dict) -> None:
    unknown = set(prop) - _ANNOTATIONS - _KNOWN
    if unknown:
        raise SchemaKeywordError(f"the fast claim check cannot check {', '.join(sorted(unknown))}")


def _is_object(prop: dict, defs: dict) -> bool:
    if "$ref" in prop:
        return _is_object(defs[prop["$ref"].removeprefix("#/$defs/")], defs)
    return prop.get("type") == "object"


_KNOWN = frozenset({"$ref", "type", "enum", "format", "pattern", "minLength", "maxLength", "minimum", "maximum",
                    "items", "minItems", "maxItems", "properties", "required", "additionalProperties", "$defs"})
