"""Facts a claim does not state (null) are not denials: the line needs the record (issue 17, section 1)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import ctsdsl
from ctsdsl import _resources
from ctsdsl.scale.batch import DecisionEncoder
from ctsdsl.claims.validation import validate_claim

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def claim():
    with open(ROOT / "examples" / "claims" / "typical.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def evaluator():
    return ctsdsl.compile("medicare-cts-2024")


def test_a_flag_given_as_false_denies_as_before(claim):
    claim["documentation"]["consent"] = False
    decision = ctsdsl.evaluate(claim)
    assert decision.outcome == "deny" and {ln.status for ln in decision.lines} == {"denied"}


def test_an_absent_flag_still_means_not_documented(claim):
    del claim["documentation"]["consent"]
    assert ctsdsl.evaluate(claim).outcome == "deny"


def test_a_flag_not_stated_makes_the_line_need_the_record_not_a_denial(claim):
    claim["documentation"]["consent"] = None
    decision = ctsdsl.evaluate(claim)
    assert decision.outcome == "conditional"
    assert [(ln.status, ln.confirm, ln.adjustments) for ln in decision.lines] == [
        ("needs_record", ("documentation.consent",), ()), ("needs_record", ("documentation.consent",), ())]


def test_minutes_not_stated_name_the_line_to_confirm(claim):
    claim["lines"][0]["minutes"] = None
    decision = ctsdsl.evaluate(claim)
    # the add-on's units come from the initial line's minutes, so it rests on them too
    assert [ln.confirm for ln in decision.lines] == [("lines[0].minutes",), ("lines[0].minutes",)]


def test_a_line_denied_on_stated_facts_stays_denied(claim):
    claim["documentation"]["consent"] = None
    claim["lines"][1]["units"] = 3  # over 97551's MUE of 2: denied whatever the record says
    second = ctsdsl.evaluate(claim).lines[1]
    assert second.status == "denied" and second.confirm == ()


def test_a_line_allowed_only_because_a_fact_was_read_as_its_default_needs_the_record(claim):
    claim["lines"][0]["patient_present"] = None  # present would deny it
    first = ctsdsl.evaluate(claim).lines[0]
    assert (first.status, first.confirm) == ("needs_record", ("lines[0].patient_present",))


def test_assume_documented_reads_every_flag_not_false_as_documented_and_says_so(claim, evaluator):
    claim["documentation"] = {"consent": None}
    decision = evaluator.evaluate(claim, assume_documented=True)
    assert decision.outcome == "pay" and decision.assumed_documented
    assert decision.to_dict()["assumed_documented"] is True


def test_assume_documented_keeps_a_flag_given_as_false(claim, evaluator):
    claim["documentation"]["consent"] = False
    assert evaluator.evaluate(claim, assume_documented=True).outcome == "deny"


def test_assume_documented_does_not_assume_session_facts(claim, evaluator):
    claim["lines"][0]["minutes"] = None
    decision = evaluator.evaluate(claim, assume_documented=True)
    assert decision.outcome == "conditional" and decision.lines[0].confirm == ("lines[0].minutes",)


def test_the_digest_is_of_the_claim_as_given_with_its_nulls(claim):
    claim["documentation"]["consent"] = None
    stated = ctsdsl.evaluate(claim)
    claim["documentation"]["consent"] = False
    assert stated.claim_digest != ctsdsl.evaluate(claim).claim_digest


def test_a_claim_stating_everything_has_no_new_keys(claim):
    body = ctsdsl.evaluate(claim).to_dict()
    assert "assumed_documented" not in body and all("confirm" not in ln for ln in body["lines"])


def test_conditional_decisions_match_the_schema_and_the_fast_encoder(claim, evaluator):
    claim["documentation"]["consent"] = None
    claim["lines"][0]["minutes"] = None
    schema = json.loads(_resources.schema_path("decision.schema.json").read_text(encoding="utf-8"))
    for decision in (evaluator.evaluate(claim), evaluator.evaluate(claim, assume_documented=True)):
        body = decision.to_dict()
        assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(body)] == []
        assert DecisionEncoder().encode(decision) == json.dumps(body, separators=(",", ":"))


@pytest.mark.parametrize("path", [("documentation", "consent"), ("lines", 0, "minutes"),
                                  ("lines", 0, "patients_represented"), ("lines", 0, "caregivers"),
                                  ("lines", 0, "patient_present")])
def test_null_is_valid_where_the_record_holds_the_fact(claim, path):
    target = claim
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = None
    assert validate_claim(claim) is claim  # the fast path


def test_null_is_not_valid_for_what_the_claim_itself_bills(claim):
    claim["lines"][0]["units"] = None
    with pytest.raises(ctsdsl.ClaimError):
        validate_claim(claim)


def test_explain_assume_documented_explains_the_decision_eval_would_make_so(claim, tmp_path, capsys):
    from ctsdsl.cli import main
    (tmp_path / "claim.json").write_text(json.dumps(claim), encoding="utf-8")
    assert main(["explain", str(tmp_path / "claim.json"), "--assume-documented", "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert main(["eval", str(tmp_path / "claim.json"), "--assume-documented", "--json"]) == 0
    decided = json.loads(capsys.readouterr().out)
    assert explained["decision"]["assumed_documented"] is True and explained["decision"] == decided
    assert main(["explain", str(tmp_path / "claim.json"), "--assume-documented", "--fix"]) == 2
    assert "--fix does not take --assume-documented" in capsys.readouterr().err
