"""The command line on real-format claims, as a billing team runs it: an 837P with and without its
sidecar, a malformed interchange in batch, FHIR Claims answered with ClaimResponses, and the extras missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ctsdsl.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
X12 = FIXTURES / "x12"
TYPICAL = Path(__file__).resolve().parent.parent / "examples" / "claims" / "typical.json"
DOCUMENTED = {"plan_of_care_includes_cts": True, "consent": True, "reason_without_patient": True,
              "need_for_occurrence": True, "training_described": True, "caregiver_response": True,
              "impact_on_goals": True}


@pytest.fixture
def payers(tmp_path) -> Path:
    path = tmp_path / "payers.yaml"
    path.write_text('payer_ids:\n  "00000": medicare\nfiling_indicators:\n  MB: medicare\n')
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_eval_decides_every_claim_of_an_837_under_the_payer_map(capsys, payers):
    pytest.importorskip("pyx12")
    code, out, _ = run(capsys, "eval", X12 / "two-claims.837", "--payer-map", payers, "--json")
    assert code == 0
    decisions = json.loads(out)
    assert [d["claim_id"] for d in decisions] == ["TEST-CLM-001", "TEST-CLM-002"]
    assert decisions[0]["policy"]["name"] == "medicare-cts-2024"


def test_the_sidecar_turns_a_conditional_837_claim_into_a_paid_one(capsys, payers, tmp_path):
    pytest.importorskip("pyx12")
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"claim": "TEST-CLM-001", "therapy_spend_to_date": 800,
                                   "documentation": DOCUMENTED, "lines": {
                                       "1": {"minutes": 53, "caregivers": 2, "patients_represented": 1,
                                             "patient_present": False},
                                       "2": {"patients_represented": 1, "patient_present": False}}}) + "\n")
    _, without, _ = run(capsys, "eval", X12 / "one-line.837", "--payer-map", payers, "--json")
    code, with_records, _ = run(capsys, "eval", X12 / "one-line.837", "--payer-map", payers, "--records", records,
                                "--json")
    assert code == 0
    assert json.loads(without)["outcome"] == "conditional"  # not stated is not "not documented"
    decision = json.loads(with_records)
    assert decision["outcome"] == "pay"
    # the same facts as examples/claims/typical.json give the same amounts
    assert decision["total_allowed"] == "105.53"


def test_an_837_needs_a_payer_map_or_a_payer(capsys):
    code, _, err = run(capsys, "eval", X12 / "two-claims.837")
    assert code == 2
    assert "pass --payer-map MAP.yaml" in err


def test_eval_refuses_a_malformed_interchange_with_the_segment_and_element(capsys, payers):
    pytest.importorskip("pyx12")
    code, out, err = run(capsys, "eval", X12 / "bad-units.837", "--payer-map", payers)
    assert code == 2 and out == ""
    assert "bad-units.837:35:26: SV104: error: segment 35 (SV1)" in err
    assert "expected Service Unit Count: a decimal number" in err


def test_batch_goes_on_past_a_malformed_claim_with_one_error_record(capsys, payers, tmp_path):
    pytest.importorskip("pyx12")
    output, errors = tmp_path / "decisions.jsonl", tmp_path / "errors.jsonl"
    code, _, err = run(capsys, "batch", X12 / "bad-units.837", "--payer-map", payers, "-o", output, "--errors", errors)
    assert code == 2
    assert [json.loads(line)["claim_id"] for line in output.read_text().splitlines()] == ["TEST-CLM-001",
                                                                                         "TEST-CLM-003"]
    (record,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert record["location"].endswith("bad-units.837:segment 29")
    assert record["diagnostics"][0]["path"] == "SV104" and record["diagnostics"][0]["line"] == 35
    assert record["record"].startswith("CLM*TEST-CLM-BAD*")
    assert "claims: 2 decided, 1 not decided" in err


def test_reading_options_with_ctsdsls_own_claims_are_a_usage_error(capsys):
    code, _, err = run(capsys, "eval", TYPICAL, "--payer", "medicare")
    assert code == 2 and "--payer applies to X12 837P and FHIR claim files" in err


def test_format_fhir_answers_a_fhir_claim_with_a_valid_claim_response(capsys, payers, monkeypatch):
    pytest.importorskip("fhir.resources")
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.claimresponse import ClaimResponse
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1714608000")
    code, out, _ = run(capsys, "eval", FIXTURES / "fhir" / "claim.json", "--payer-map", payers, "--format", "fhir")
    assert code == 0
    response = json.loads(out)
    ClaimResponse.model_validate(response)
    assert response["created"] == "2024-05-02"
    code, out, _ = run(capsys, "eval", FIXTURES / "fhir" / "bundle.json", "--payer", "medicare", "--format", "fhir")
    assert code == 0
    Bundle.model_validate(json.loads(out))
    code, out, _ = run(capsys, "batch", FIXTURES / "fhir" / "bundle.json", "--payer", "medicare", "--format", "fhir",
                       "-q")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and all(ClaimResponse.model_validate(json.loads(line)) for line in lines)


def test_format_fhir_is_for_fhir_claims(capsys, payers):
    code, _, err = run(capsys, "eval", TYPICAL, "--format", "fhir")
    assert code == 2 and "--format fhir answers FHIR Claims" in err


@pytest.mark.parametrize(("claims", "modules", "extra"), [
    (X12 / "two-claims.837", ("pyx12", "pyx12.x12context", "pyx12.params", "pyx12.error_handler"), "x12"),
    (FIXTURES / "fhir" / "claim.json", ("fhir.resources", "fhir.resources.R4B"), "fhir"),
])
def test_without_the_extra_reading_such_a_file_says_how_to_install_it(capsys, monkeypatch, payers, claims, modules,
                                                                      extra):
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    code, _, err = run(capsys, "eval", claims, "--payer-map", payers)
    assert code == 2
    assert f"pip install 'ctsdsl[{extra}]'" in err
