"""One claim model: schemas/claim.schema.json is the definition, and the fast path, the readable
fields, the witness generator and a policy's declared fields all derive from it.

tests/test_claims.py generates claims to hold the fast path to the schema (it accepts nothing the
schema refuses); these tests say that there is nothing else to keep in step by hand.
"""

from __future__ import annotations

import copy
import json

import pytest

from ctsdsl.claims import validation as claims
from ctsdsl.claims.checks import SchemaKeywordError, compile_property, compile_schema
from ctsdsl.claims.fields import CLAIM, DOCUMENTATION, LINE, catalogue
from ctsdsl.review.witness_claims import DOC_FLAGS, PROVIDER_TYPES

from conftest import medicare_claim

SCHEMA = claims.claim_schema()
LINE_SCHEMA = SCHEMA["$defs"]["line"]


def test_the_fast_path_has_a_check_for_every_field_of_the_schema_and_no_other():
    assert set(claims._CLAIM_CHECKS) == set(SCHEMA["properties"])
    assert set(claims._LINE_CHECKS) == set(LINE_SCHEMA["properties"])
    assert claims._DOC_FIELDS == set(SCHEMA["properties"]["documentation"]["properties"])


def test_the_readable_fields_and_the_witness_generator_come_from_the_schema():
    assert set(SCHEMA["properties"]) <= set(catalogue()[CLAIM])
    assert set(LINE_SCHEMA["properties"]) <= set(catalogue()[LINE])
    assert DOC_FLAGS == tuple(catalogue()[DOCUMENTATION]) == tuple(SCHEMA["properties"]["documentation"]["properties"])
    assert PROVIDER_TYPES == tuple(SCHEMA["properties"]["provider_type"]["enum"])


def test_a_field_added_to_the_schema_is_checked_on_the_fast_path_at_once():
    schema = copy.deepcopy(SCHEMA)
    schema["$defs"]["line"]["properties"]["visit_number"] = {"type": "integer", "minimum": 1, "maximum": 9}
    fast = compile_schema(schema)
    claim = medicare_claim()
    assert fast(claim) and not claims._fast_valid({**claim, "lines": [{**claim["lines"][0], "visit_number": 3}]})
    assert fast({**claim, "lines": [{**claim["lines"][0], "visit_number": 3}]})
    assert not fast({**claim, "lines": [{**claim["lines"][0], "visit_number": 10}]})


@pytest.mark.parametrize("prop", [
    {"type": "string", "format": "email"},
    {"type": "integer", "minimum": 1, "maximum": 9, "multipleOf": 2},
    {"type": "object", "properties": {}},  # additional properties allowed: the fast path cannot list them
    {"type": "integer"},  # unbounded: past 10^15 the engine's arithmetic loses cents
    {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0, "maximum": 1}]},
])
def test_a_keyword_the_fast_path_cannot_check_fails_when_the_checks_are_built_not_silently(prop):
    with pytest.raises(SchemaKeywordError):
        compile_property(prop)


def test_the_schema_file_is_what_validation_reads():
    with open(claims._resources.schema_path("claim.schema.json"), encoding="utf-8") as fh:
        assert json.load(fh) == SCHEMA


def test_a_declared_field_is_one_more_property_compiled_like_the_others():
    from ctsdsl.api import compile as compile_policy
    from conftest import ROOT
    model = compile_policy(ROOT / "policies" / "examples" / "example-northwind.cts").claim_model
    prop = model.schema["$defs"]["line"]["properties"]["prior_auth_number"]
    assert prop["pattern"] == "^[A-Z0-9-]{4,30}$" and prop["examples"] == ["NW-2025-0001"]
    check = compile_property(prop)
    assert check("NW-1") and not check("nw-1") and not check("NW-1\n")


def test_a_field_name_is_matched_as_text_whatever_it_holds():
    # The checks are generated source: a name with quotes, a newline or a backslash stays a string in it.
    odd = "a'b\"c\n\\d"
    schema = {"type": "object", "additionalProperties": False, "required": [odd],
              "properties": {odd: {"type": "integer", "minimum": 0, "maximum": 9}}}
    fast = compile_schema(schema)
    assert fast({odd: 3}) and not fast({odd: 10}) and not fast({"a": 3}) and not fast({odd: 3, "x": 1})


def test_a_remembered_answer_store_stays_bounded_however_many_strings_it_sees():
    from ctsdsl.claims.checks import remembering
    answers, ask = remembering(lambda v: v.startswith("9"))
    for i in range(10_000):
        ask(f"9{i}")
    assert 0 < len(answers) <= 4096 and answers.get("99999") is True and ask("x") is False
