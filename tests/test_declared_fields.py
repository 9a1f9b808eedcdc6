"""Claim fields a policy declares: readable by its rules, validated for the claims it decides, and
refused, as any unknown field, by a policy that does not declare them.
"""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

import ctsdsl
from ctsdsl.claims import validation as claims_module
from ctsdsl.cli import main
from ctsdsl.errors import ClaimError
from ctsdsl.language.formatter import format_policy

from conftest import ROOT, claim, medicare_claim, policy_text

NORTHWIND = ROOT / "policies" / "examples" / "example-northwind.cts"

PRIOR_AUTH = '''
field line.prior_auth_number {
  title "The payer's prior-authorization number"
  type string matching "^[A-Z0-9-]{4,30}$"
  cites s
}

rule prior_auth_missing {
  title "A line needs its prior authorization"
  cites s
  applies to line
  when missing(line.prior_auth_number)
  deny
  reason CARC 197
  message "{line.code} has no prior authorization"
}
'''


def northwind_claim(**fields) -> dict:
    lines = [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"], "prior_auth_number": "NW-1"}]
    return medicare_claim(**{"payer": "example-northwind", "date_of_service": "2025-06-02", "lines": lines, **fields})


def test_a_declared_line_field_is_read_by_the_rules_of_the_policy_that_declares_it(decide):
    given = decide(PRIOR_AUTH, claim({"code": "97550", "units": 1, "minutes": 30, "prior_auth_number": "PA-1"}))
    absent = decide(PRIOR_AUTH, claim({"code": "97550", "units": 1, "minutes": 30}))
    assert (given.lines[0].status, absent.lines[0].status) == ("allowed", "denied")


def test_a_claim_is_validated_against_the_schema_of_the_policy_that_decides_it():
    decision = ctsdsl.evaluate(northwind_claim())
    assert decision.policy.name == "example-northwind-2025" and decision.outcome == "pay"
    with pytest.raises(ClaimError) as bad:
        ctsdsl.evaluate(northwind_claim(lines=[{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"],
                                                "prior_auth_number": "nw 1"}]))
    assert [d.path for d in bad.value.diagnostics] == ["$.lines[0].prior_auth_number"]


def test_a_policy_that_does_not_declare_a_field_refuses_it_as_today():
    medicare = northwind_claim(payer="medicare")
    with pytest.raises(ClaimError) as refused:
        ctsdsl.evaluate(medicare)
    (diagnostic,) = refused.value.diagnostics
    assert diagnostic.path == "$.lines[0].prior_auth_number" and "unknown field" in diagnostic.message


def test_a_medicare_claim_needs_none_of_a_payers_fields():
    lines = [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}]
    decision = ctsdsl.evaluate(northwind_claim(lines=lines))
    assert decision.lines[0].status == "denied"  # decided, and denied by the payer's own rule
    assert [f.rule for f in decision.findings_for(0)] == ["prior_auth_missing"]


def test_a_valid_claim_with_declared_fields_takes_the_fast_path(monkeypatch):
    evaluator = ctsdsl.compile(NORTHWIND)
    monkeypatch.setattr(claims_module, "_slow_validate", lambda *a, **k: pytest.fail("took the slow path"))
    assert evaluator.claim_model.validate(northwind_claim())["lines"][0]["prior_auth_number"] == "NW-1"


@pytest.mark.parametrize("value", ["nw 1", "", "N" * 31, 1234, None, True])
def test_the_fast_path_refuses_what_the_declared_pattern_refuses(value):
    model = ctsdsl.compile(NORTHWIND).claim_model
    bad = northwind_claim()
    bad["lines"][0]["prior_auth_number"] = value
    with pytest.raises(ClaimError) as refused:
        model.validate(bad)
    assert refused.value.diagnostics[0].path == "$.lines[0].prior_auth_number"


def test_declared_bounds_and_types_reach_the_schema_and_the_fast_path(make_policy):
    body = '''
field claim.visits_this_year {
  title "Visits so far this year"
  type int from 0 to 60
  cites s
}

field line.authorized_on {
  title "When the payer authorized the line"
  type date
  cites s
}
'''
    model = make_policy(body).evaluator().claim_model
    good = claim({"code": "97550", "units": 1, "minutes": 30, "authorized_on": "2024-04-30"}, visits_this_year=60)
    assert model.validate(good) is good
    for field_name, bad in (("visits_this_year", 61), ("visits_this_year", 2.5)):
        with pytest.raises(ClaimError, match="visits_this_year"):
            model.validate({**good, field_name: bad})
    with pytest.raises(ClaimError, match="authorized_on"):
        model.validate(claim({"code": "97550", "units": 1, "authorized_on": "2024-02-30"}))
    properties = model.schema["properties"]
    assert properties["visits_this_year"] == {"description": "Visits so far this year", "type": "integer",
                                              "minimum": 0, "maximum": 60}


# ---------------------------------------------------------------- ctsdsl schema


def test_ctsdsl_schema_prints_the_base_schema_with_the_fields_the_policy_declares(capsys):
    assert main(["schema", "example-northwind-2025"]) == 0
    schema = json.loads(capsys.readouterr().out)
    Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["line"]["properties"]["prior_auth_number"]["pattern"] == "^[A-Z0-9-]{4,30}$"
    assert schema["title"] == "ctsdsl claim for example-northwind-2025 2025.1"
    Draft202012Validator(schema).validate(northwind_claim())
    assert main(["schema", "medicare-cts-2025"]) == 0
    assert json.loads(capsys.readouterr().out) == claims_module.claim_schema()


def test_eval_and_batch_accept_the_declared_field_and_name_a_bad_one_by_its_path(tmp_path, capsys):
    good, bad = northwind_claim(id="nw-good"), northwind_claim(id="nw-bad")
    bad["lines"][0]["prior_auth_number"] = "x"
    (tmp_path / "good.json").write_text(json.dumps(good), encoding="utf-8")
    assert main(["eval", str(tmp_path / "good.json")]) == 0
    assert "claim nw-good: PAY" in capsys.readouterr().out
    (tmp_path / "claims.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    out = tmp_path / "decisions.jsonl"
    assert main(["batch", str(tmp_path / "claims.jsonl"), "-o", str(out)]) == 2  # a bad record
    assert [json.loads(line)["claim_id"] for line in out.read_text().splitlines()] == ["nw-good"]
    assert "$.lines[0].prior_auth_number" in capsys.readouterr().err


# ---------------------------------------------------------------- what the checker refuses


def errors_of(make_policy, body: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in make_policy(body, raise_on_error=False).checked.errors]


@pytest.mark.parametrize("declaration, code, says", [
    ('field line.units {\n  title "t"\n  type int\n  cites s\n}\n', "already-defined",
     "field `line.units` is already a field of the claim schema"),
    ('field payer.x {\n  title "t"\n  type string\n  cites s\n}\n', "unknown-field", "belongs to the claim or a line"),
    ('field line.x {\n  title "t"\n  type text\n  cites s\n}\n', "type", "`text` is not a type a claim field may have"),
    ('field line.x {\n  title "t"\n  type int matching "^1$"\n  cites s\n}\n', "type", "`matching` is for text"),
    ('field line.x {\n  title "t"\n  type string matching "(("\n  cites s\n}\n', "bad-value", "does not compile"),
    ('field line.x {\n  title "t"\n  type int from 9 to 1\n  cites s\n}\n', "bad-range", "run backwards"),
    ('field line.x {\n  title "t"\n  type int from 1 to 2.5\n  cites s\n}\n', "type", "whole numbers"),
    ('field line.x {\n  title "t"\n  cites s\n}\n', "missing-entry", "has no type"),
    ('field line.x {\n  title "t"\n  type string\n  cites nowhere\n}\n', "unknown-source", "nowhere"),
])
def test_a_declaration_that_cannot_be_a_claim_field_is_refused(make_policy, declaration, code, says):
    errors = errors_of(make_policy, declaration)
    assert any(c == code and says in m for c, m in errors), errors


def test_a_field_a_policy_does_not_declare_is_an_unknown_field_in_its_rules(make_policy):
    errors = errors_of(make_policy, PRIOR_AUTH.replace("field line.prior_auth_number {", "field line.prior_auth {"))
    assert ("unknown-field", "line has no field `prior_auth_number` in the claim schema") in errors


def test_an_overlay_inherits_its_parents_fields_and_may_not_declare_them_again(tmp_path):
    from ctsdsl.engine.loader import load_file
    (tmp_path / "p.cts").write_text(policy_text(PRIOR_AUTH), encoding="utf-8")
    overlay = ('policy "o" {\n  payer "o"\n  version "1"\n  effective 2024-01-01 to 2024-12-31\n'
               '  extends "test-policy"\n}\n')
    (tmp_path / "o.cts").write_text(overlay, encoding="utf-8")
    assert [d.path for d in load_file(tmp_path / "o.cts").checked.declared] == ["line.prior_auth_number"]
    (tmp_path / "o.cts").write_text(overlay + PRIOR_AUTH.split("rule", 1)[0], encoding="utf-8")
    errors = load_file(tmp_path / "o.cts", raise_on_error=False).checked.errors
    assert [(d.code, d.message.split(" (")[0]) for d in errors] == [
        ("already-defined", "field `line.prior_auth_number` is already defined by the parent")]


def test_a_declaration_formats_in_place():
    text = format_policy(policy_text(PRIOR_AUTH))
    assert '\nfield line.prior_auth_number {\n  title "The payer\'s prior-authorization number"\n' \
           '  type string matching "^[A-Z0-9-]{4,30}$"\n  cites s\n}\n' in text
    assert format_policy(text) == text


def test_diff_of_medicare_against_northwind_names_each_term_and_not_every_claim_for_the_new_field():
    from ctsdsl.review.diff import run_diff
    medicare = ROOT / "policies" / "medicare" / "cts-2025.cts"
    (pair,) = run_diff(str(medicare), str(NORTHWIND)).pairs
    causes = {c.item for w in pair.behavior.witnesses for c in w.causes}
    assert {"rule prior_auth_missing", "rule one_97551_unit_per_claim", "fee physician_fee_schedule",
            "rule no_telehealth", "rule group_needs_three_patients", "rule therapists_only"} <= causes
    assert not pair.no_effect  # the 110% fee and the non-facility rate included
    # Witnesses carry the field's example, so a plain claim moves only by the fee; its absence is probed too.
    plain = next(w for w in pair.behavior.witnesses if w.label == "97550, 2025-01-01")
    assert plain.claim["lines"][0]["prior_auth_number"] == "NW-2025-0001"
    assert [c.item for c in plain.causes] == ["fee physician_fee_schedule"]
    without = next(w for w in pair.behavior.witnesses if w.label == "97550, without line.prior_auth_number, 2025-01-01")
    assert "prior_auth_number" not in without.claim["lines"][0]
    assert pair.behavior.differing < pair.behavior.compared


def test_an_example_that_the_declaration_itself_refuses_is_an_error(make_policy):
    body = 'field line.pa {\n  title "t"\n  type string matching "^[A-Z]{4}$"\n  example "abc"\n  cites s\n}\n'
    assert errors_of(make_policy, body) == [
        ("bad-value", 'field `line.pa`: the example "abc" is not a valid string matching the pattern')]
    good = make_policy(body.replace('"abc"', '"ABCD"')).evaluator().claim_model
    assert good.schema["$defs"]["line"]["properties"]["pa"]["examples"] == ["ABCD"]


def test_a_replayed_claim_may_carry_a_field_one_side_declares(tmp_path):
    from ctsdsl.review.diff import run_diff
    (tmp_path / "claims.jsonl").write_text(json.dumps(northwind_claim(id="r1")) + "\n", encoding="utf-8")
    medicare = ROOT / "policies" / "medicare" / "cts-2025.cts"
    (pair,) = run_diff(str(medicare), str(NORTHWIND), str(tmp_path / "claims.jsonl")).pairs
    (witness,) = pair.behavior.witnesses
    assert [c.item for c in witness.causes] == ["fee physician_fee_schedule"]  # not an error on the Medicare side
