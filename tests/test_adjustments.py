"""835-shaped adjustments: each denied or reduced line says, as a CAS segment would, why its units were not paid."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

import ctsdsl
from ctsdsl import _resources
from ctsdsl.engine.adjustments import RuleCodes, line_adjustments, rule_codes
from ctsdsl.scale.batch import DecisionEncoder
from ctsdsl.claims.validation import validate_claim

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def decision_schema():
    schema = json.loads(_resources.schema_path("decision.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture()
def claim():
    with open(ROOT / "examples" / "claims" / "typical.json", encoding="utf-8") as fh:
        return json.load(fh)


def lines_of(claim):
    return ctsdsl.evaluate(claim).to_dict()["lines"]


# ---------------------------------------------------------------- a rule's reason list as an 835 groups it


def test_a_group_code_is_the_carc_in_that_group():
    assert rule_codes([("PR", "119")]).adjustments == (("PR", "119"),)


def test_a_carc_and_its_group_entry_are_one_adjustment():
    assert rule_codes([("CARC", "119"), ("PR", "119")]).adjustments == (("PR", "119"),)


def test_a_bare_carc_falls_in_the_default_group_co():
    assert rule_codes([("CARC", "16")]).adjustments == (("CO", "16"),)


def test_rarcs_are_remarks_not_adjustments():
    codes = rule_codes([("CARC", "96"), ("RARC", "N362")])
    assert codes.adjustments == (("CO", "96"),)
    assert codes.remarks == ("N362",)


def test_the_charge_of_the_units_not_allowed_is_the_amount():
    adjustments, _ = line_adjustments(RuleCodes((("CO", "96"),)), "F3", 3, 1, Decimal("90"))
    assert [(a.amount, a.quantity) for a in adjustments] == [(Decimal("60.00"), 2)]


def test_a_share_of_the_charge_rounds_half_up_to_the_cent():
    adjustments, _ = line_adjustments(RuleCodes((("CO", "96"),)), "F3", 8, 7, Decimal("1.00"))
    assert adjustments[0].amount == Decimal("0.13")  # 0.125


def test_a_rule_naming_several_carcs_puts_the_money_on_the_first():
    adjustments, _ = line_adjustments(RuleCodes((("CO", "16"), ("PR", "119"))), "F2", 2, 0, Decimal("50"))
    assert [(a.group, a.carc, a.amount, a.quantity) for a in adjustments] == [
        ("CO", "16", Decimal("50.00"), 2), ("PR", "119", Decimal("0.00"), 0)]


# ---------------------------------------------------------------- in decisions


def test_an_allowed_line_has_no_adjustments(claim):
    for line in lines_of(claim):
        assert line["status"] == "allowed"
        assert line["adjustments"] == [] and line["remarks"] == []


def test_a_denied_line_is_adjusted_by_its_whole_charge(claim):
    claim["lines"][0]["charge"] = 90.10
    del claim["documentation"]["consent"]
    first = lines_of(claim)[0]
    assert first["status"] == "denied"
    assert first["adjustments"] == [{"group": "CO", "carc": "16", "amount": "90.10", "quantity": 1,
                                     "finding": first["adjustments"][0]["finding"]}]


def test_the_adjustment_names_the_finding_whose_rule_gave_it(claim):
    del claim["documentation"]["consent"]
    decision = ctsdsl.evaluate(claim).to_dict()
    adjustment = decision["lines"][0]["adjustments"][0]
    finding = next(f for f in decision["findings"] if f["id"] == adjustment["finding"])
    assert finding["rule"] == "consent_not_documented" and "CARC 16" in finding["reason_codes"]


def test_without_a_charge_an_adjustment_has_codes_and_units_but_no_amount(claim):
    del claim["documentation"]["consent"]
    adjustment = lines_of(claim)[0]["adjustments"][0]
    assert (adjustment["carc"], adjustment["amount"], adjustment["quantity"]) == ("16", None, 1)


def test_an_mue_denial_reports_its_rarc_as_a_remark(claim):
    claim["lines"][1].update(units=3, charge=90)
    second = lines_of(claim)[1]
    assert second["status"] == "denied"
    assert [(a["carc"], a["amount"], a["quantity"]) for a in second["adjustments"]] == [("96", "90.00", 3)]
    assert second["remarks"] == ["N362"]


def test_kx_denial_is_the_patients_to_pay(claim):
    claim["therapy_spend_to_date"] = 5000
    claim["lines"][0]["charge"] = 100
    first = lines_of(claim)[0]
    assert first["status"] == "denied"
    assert [(a["group"], a["carc"]) for a in first["adjustments"]] == [("PR", "119")]


def test_a_line_reduced_by_a_rule_without_a_carc_still_accounts_for_its_units(claim):
    claim["lines"][0]["minutes"] = 40
    claim["lines"][1]["charge"] = 60
    second = lines_of(claim)[1]
    assert second["status"] == "reduced"
    assert second["adjustments"] == [{"group": None, "carc": None, "amount": "30.00", "quantity": 1,
                                      "finding": second["adjustments"][0]["finding"]}]


def test_the_old_reason_code_strings_are_kept(claim):
    claim["therapy_spend_to_date"] = 5000
    decision = ctsdsl.evaluate(claim).to_dict()
    kx = next(f for f in decision["findings"] if f["rule"].startswith("kx_threshold"))
    assert kx["reason_codes"] == ["CARC 119", "PR 119"]


def test_decisions_with_adjustments_match_the_schema_and_the_fast_encoder(claim, decision_schema):
    claim["lines"][1].update(units=3, charge=90)
    claim["lines"][0]["charge"] = 100
    del claim["documentation"]["consent"]
    decision = ctsdsl.evaluate(claim)
    body = decision.to_dict()
    assert [e.message for e in decision_schema.iter_errors(body)] == []
    assert DecisionEncoder().encode(decision) == json.dumps(body, separators=(",", ":"))


# ---------------------------------------------------------------- the claim's charge


@pytest.mark.parametrize("charge", [0, 90, 90.55, 1_000_000_000_000])
def test_a_line_charge_in_dollars_is_valid(claim, charge):
    claim["lines"][0]["charge"] = charge
    assert validate_claim(claim) is claim  # the fast path: the same object back


@pytest.mark.parametrize(("charge", "said"), [
    (-1, "less than the minimum of 0"), ("90.00", "expected a number"), (float("nan"), "finite"),
    (float("inf"), "finite"), (Decimal("NaN"), "finite"), (1_000_000_000_001, "maximum")])
def test_a_charge_that_is_not_an_amount_is_refused_at_its_path(claim, charge, said):
    claim["lines"][1]["charge"] = charge
    with pytest.raises(ctsdsl.ClaimError) as caught:
        validate_claim(copy.deepcopy(claim))
    [d] = caught.value.diagnostics
    assert d.path == "$.lines[1].charge" and said in d.message
