"""`ctsdsl explain --format json`, driven as an analyst would: what each rule read, from which line."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ctsdsl import _resources, cli

from conftest import FIXTURES, ROOT

DENIED = str(FIXTURES / "explain" / "denied.json")


def run(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    bodies = [json.loads(_resources.schema_path(name).read_text(encoding="utf-8"))
              for name in ("explain.schema.json", "decision.schema.json")]
    registry = Registry().with_resources((b["$id"], Resource.from_contents(b)) for b in bodies)
    return Draft202012Validator(bodies[0], registry=registry)


def explained(capsys, *argv: str) -> dict:
    code, out = run(capsys, "explain", *argv, "--format", "json")
    assert code == 0
    return json.loads(out)


@pytest.mark.parametrize("claim", [DENIED, str(ROOT / "examples/claims/typical.json"),
                                   str(ROOT / "examples/claims/telehealth-2025.json")])
def test_the_json_explanation_matches_its_schema(capsys, validator, claim):
    body = explained(capsys, claim)
    assert [e.message for e in validator.iter_errors(body)] == []
    fixes = explained(capsys, claim, "--fix")
    assert [e.message for e in validator.iter_errors(fixes)] == []


def test_a_quantifiers_reads_say_which_line_o_was(capsys):
    body = explained(capsys, DENIED)
    mue = next(e for e in body["evaluations"] if e["rule"] == "mue_exceeded" and e["line"] == 1)
    units = [r for r in mue["reads"] if r["label"] == "o.units"]
    assert {(r["value"], r["line"]) for r in units} == {(3, 1)}  # the one 97551 line on 2024-05-01
    addon = next(e for e in body["evaluations"] if e["rule"] == "addon_units_from_minutes" and e["line"] == 1)
    minutes = {(r["value"], r["line"]) for r in addon["reads"] if r["label"] == "o.minutes"}
    assert minutes == {(30, 0)}  # the session's minutes are its 97550's, on line 0, not line 1's own
    own = next(r for r in mue["reads"] if r["label"] == "line.code")
    assert own["line"] == 1


def test_every_rule_on_every_line_is_listed_fired_or_not(capsys):
    body = explained(capsys, DENIED)
    on_line_0 = {e["rule"]: e for e in body["evaluations"] if e["line"] == 0}
    assert on_line_0["consent_not_documented"]["fired"] is True
    assert on_line_0["consent_not_documented"]["finding"] == "F2"
    assert on_line_0["initial_too_short"]["fired"] is False
    assert on_line_0["group_details_missing"]["applicable"] is False


def test_a_reduce_rule_says_the_units_it_computed(capsys):
    body = explained(capsys, DENIED)
    short = next(e for e in body["evaluations"] if e["rule"] == "initial_too_short" and e["line"] == 2)
    assert short["fired"] and short["reduced_to"] == 0


def test_an_overlays_rules_name_the_layer_they_come_from(capsys):
    body = explained(capsys, str(ROOT / "examples/claims/telehealth-2025.json"))
    assert [layer["policy"] for layer in body["layers"]] == ["medicare-cts-2025", "medicare-cts-2024"]
    layer_of = {e["rule"]: e["layer"]["policy"] for e in body["evaluations"]}
    assert layer_of["telehealth_not_covered"] == "medicare-cts-2025"  # overridden in 2025
    assert layer_of["initial_too_short"] == "medicare-cts-2024"  # inherited


def test_a_fee_says_the_amount_it_priced(capsys):
    body = explained(capsys, str(ROOT / "examples/claims/typical.json"))
    fee = next(e for e in body["evaluations"] if e["kind"] == "fee" and e["line"] == 0)
    assert fee["amount"] == body["decision"]["lines"][0]["allowed_amount"]


def test_the_package_exports_explain_claim_and_ctsdsl_explain_stays_the_module(capsys):
    import types

    import ctsdsl
    assert isinstance(ctsdsl.report.explain, types.ModuleType) and "explain_claim" in ctsdsl.__all__
    claim = json.loads((ROOT / "examples/claims/typical.json").read_text(encoding="utf-8"))
    assert ctsdsl.explain_claim(claim).to_dict() == explained(capsys, str(ROOT / "examples/claims/typical.json"))


def test_explain_claim_assume_documented_explains_the_decision_evaluate_makes():
    import ctsdsl
    claim = json.loads((ROOT / "examples/claims/typical.json").read_text(encoding="utf-8"))
    claim["documentation"] = {"consent": None}
    explanation = ctsdsl.explain_claim(claim, assume_documented=True)
    assert explanation.decision == ctsdsl.evaluate(claim, assume_documented=True)
    assert explanation.to_dict()["decision"]["assumed_documented"] is True


def test_no_two_evaluations_share_a_dict_or_list_a_caller_may_edit():
    # to_dict works out a rule's layer and sources, and a replayed read, once for all the lines
    # that share them: what it hands out must still be each evaluation's own.
    import ctsdsl
    claim = json.loads((ROOT / "examples/claims/typical.json").read_text(encoding="utf-8"))
    claim["lines"] = [dict(claim["lines"][0]) for _ in range(4)]
    body = ctsdsl.explain_claim(claim).to_dict()
    # The KX threshold sums the claim's lines in a let: its reads of `o.modifiers` are replayed into each line's.
    first, second = [e for e in body["evaluations"] if e["rule"] == "kx_threshold_pt_slp"][:2]
    assert first["sources"] and any(isinstance(r["value"], list) for r in first["reads"])
    assert [r["label"] for r in first["reads"]] == [r["label"] for r in second["reads"]]
    first["layer"]["policy"] = first["sources"][0]["id"] = "edited"
    first["reads"][0]["label"] = "edited"
    lists = [r["value"] for r in first["reads"] if isinstance(r["value"], list)]
    for value in lists:
        value.append("edited")
    assert "edited" not in json.dumps(second)
    assert json.dumps(body).count("edited") == 3 + len(lists)  # each edit in one place
