"""FHIR R4 Claim in, ClaimResponse out: each Claim element lands where docs/interop.md says, and every
ClaimResponse written passes fhir.resources' R4B model."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import ctsdsl
from ctsdsl.interop import ReadOptions, read_claims, sniff
from ctsdsl.interop.payer_map import PayerMap

pytest.importorskip("fhir.resources")

from fhir.resources.R4B.claimresponse import ClaimResponse  # noqa: E402

from ctsdsl.interop.fhir import claim_response  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fhir"
MAP = PayerMap(payer_ids={"00000": "medicare"}, insurers={"Organization/test-payer": "medicare"})
FULL_DOCUMENTATION = {"plan_of_care_includes_cts": True, "consent": True, "reason_without_patient": True,
                      "need_for_occurrence": True, "training_described": True, "caregiver_response": True,
                      "impact_on_goals": True}
# A FHIR Claim carries none of the record's facts: each is null, "not stated", never false (issue 17).
UNSTATED_DOCUMENTATION = dict.fromkeys((*FULL_DOCUMENTATION, "group_details"))
UNSTATED_LINE = {"minutes": None, "patients_represented": None, "caregivers": None, "patient_present": None}


def read(path: Path, options: ReadOptions = ReadOptions(payer_map=MAP)):
    return list(read_claims(path, options))


def changed(tmp_path: Path, change) -> Path:
    resource = json.loads((FIXTURES / "claim.json").read_text())
    change(resource)
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(resource))
    return path


def test_the_r5_models_refuse_an_r4_claim_and_the_r4b_models_read_it():
    from fhir.resources.claim import Claim as R5Claim
    from fhir.resources.R4B.claim import Claim as R4BClaim
    resource = json.loads((FIXTURES / "claim.json").read_text())
    R4BClaim.model_validate(resource)
    with pytest.raises(ValueError, match="qualification"):
        R5Claim.model_validate(resource)


def test_a_claim_maps_identifier_insurer_items_care_team_and_place_of_service():
    assert sniff(FIXTURES / "claim.json") == "fhir"
    (claim,) = read(FIXTURES / "claim.json")
    assert claim.claim == {
        "id": "TEST-FHIR-001",  # identifier[0].value
        "payer": "medicare",  # insurer.identifier.value 00000 through payer_ids
        "place_of_service": "11",  # item.locationCodeableConcept, CMS POS system
        "date_of_service": "2024-05-01",  # item.servicedDate
        "provider_type": "therapist",  # careTeam[0].qualification 225100000X
        "documentation": UNSTATED_DOCUMENTATION,
        # productOrService, modifier, quantity, net
        "lines": [{"code": "97550", "modifiers": ["GP"], "units": 1, "charge": 90, **UNSTATED_LINE},
                  {"code": "97551", "modifiers": ["GP"], "units": 2, "charge": 60, **UNSTATED_LINE}],
    }
    assert claim.charges == (Decimal("90"), Decimal("60"))  # item.net, also beside the claim as read


def test_a_bundle_yields_its_claims_and_skips_its_other_resources():
    first, second = read(FIXTURES / "bundle.json")
    assert first.claim["id"] == "TEST-FHIR-001"
    assert second.location.endswith("bundle.json: entry[2]")
    assert second.claim["payer"] == "medicare"  # insurer.reference through insurers
    assert second.claim["provider_type"] == "npp"  # the primary care team member, not the supervisor
    assert second.claim["date_of_service"] == "2024-06-03"  # a servicedPeriod of one day
    assert second.claim["lines"] == [{"code": "97550", "units": 1, "charge": 90, **UNSTATED_LINE}]


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda r: r["item"][0]["quantity"].update(value=1.5), "1.5 units: expected a whole number"),
    (lambda r: r["item"][0].pop("quantity"), "no quantity"),
    (lambda r: r["item"][0]["productOrService"]["coding"][0].update(system="urn:example:local"),
     "no CPT or HCPCS coding"),
    (lambda r: r["item"][1].update(locationCodeableConcept={"coding": [{"system": r["item"][0][
        "locationCodeableConcept"]["coding"][0]["system"], "code": "02"}]}), "different places of service"),
    (lambda r: r["item"][0].update(servicedDate=None, servicedPeriod={"start": "2024-05-01", "end": "2024-05-03"}),
     "the service dates span 3 days"),
    (lambda r: r["insurer"]["identifier"].update(value="99999"), "insurer identifier '99999' not in the payer map"),
    (lambda r: r["careTeam"][0]["qualification"]["coding"][0].update(code="261QP2000X"),
     "taxonomy 261QP2000X is not one ctsdsl maps"),
    (lambda r: r["item"][0].update(sequence="one"), "not a valid FHIR R4 Claim"),
])
def test_a_claim_that_cannot_be_read_says_which_element(tmp_path, change, fragment):
    (claim,) = read(changed(tmp_path, change))
    assert claim.claim is None
    assert fragment in claim.error.render()


def test_a_file_that_is_not_a_claim_is_refused(tmp_path):
    path = tmp_path / "patient.json"
    path.write_text('{"resourceType": "Patient", "id": "x"}')
    (claim,) = read(path)
    assert "resourceType 'Patient': expected a Claim or a Bundle of Claims" in claim.error.render()


def test_the_claim_response_answers_each_item_and_passes_the_r4b_model(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1714608000")  # 2024-05-02
    (read_claim,) = read(FIXTURES / "claim.json")
    claim = dict(read_claim.claim, documentation=FULL_DOCUMENTATION)
    stated = {"patients_represented": 1, "patient_present": False}  # as the record says, so nothing is open
    claim["lines"] = [dict(claim["lines"][0], minutes=53, **stated), dict(claim["lines"][1], **stated)]
    decision = ctsdsl.evaluate(claim)
    response = claim_response(read_claim, decision)
    ClaimResponse.model_validate(response)
    assert response["use"] == "predetermination" and response["outcome"] == "complete"
    assert response["request"] == {"reference": "Claim/test-claim-1"}
    assert response["patient"] == {"reference": "Patient/test-patient-1"}
    assert response["created"] == "2024-05-02"
    first = response["item"][0]
    assert first["itemSequence"] == 1
    categories = {a["category"]["coding"][0]["code"]: a for a in first["adjudication"]}
    assert categories["submitted"]["amount"] == {"value": 90.0, "currency": "USD"}
    assert categories["eligible"]["amount"]["value"] == float(decision.lines[0].allowed_amount)
    assert categories["allowedunits"]["value"] == 1
    assert response["total"][0]["amount"]["value"] == float(decision.total_allowed)


def test_a_denied_item_carries_its_reason_codes_in_x12s_systems():
    (read_claim,) = read(FIXTURES / "claim.json")
    # the record says consent is not documented: every line denied on a stated fact
    decision = ctsdsl.evaluate(dict(read_claim.claim, documentation={"consent": False}))
    response = claim_response(read_claim, decision)
    ClaimResponse.model_validate(response)
    reasons = [a["reason"] for a in response["item"][0]["adjudication"] if "reason" in a]
    # CARC 16 with its group as the 835 writes it, and the item's net as the amount denied
    assert {"category": {"coding": [{"system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudicationDiscriminator",
                                     "code": "denialreason"}]},
            "reason": {"coding": [{"system": "https://x12.org/codes/claim-adjustment-reason-codes", "code": "16"}],
                       "text": "CO 16"},
            "amount": {"value": 90.0, "currency": "USD"}} in response["item"][0]["adjudication"]
    assert len(reasons) == len({json.dumps(r, sort_keys=True) for r in reasons})  # each reason once
    notes = {n["number"]: n["text"] for n in response["processNote"]}
    assert all(number in notes for number in response["item"][0]["noteNumber"])


def test_a_conditional_decision_is_answered_partial_each_open_item_naming_what_to_confirm():
    (read_claim,) = read(FIXTURES / "claim.json")  # no sidecar: the record's facts are not stated
    decision = ctsdsl.evaluate(read_claim.claim)
    assert decision.outcome == "conditional"
    response = claim_response(read_claim, decision)
    ClaimResponse.model_validate(response)
    # RemittanceOutcome partial: no errors, some adjudication done; the open items are not adjudicated
    assert response["outcome"] == "partial"
    assert response["disposition"].endswith("; 2 item(s) rest on the medical record")
    assert "total" not in response  # no total while items are open
    first = response["item"][0]
    categories = [a["category"]["coding"][0]["code"] for a in first["adjudication"]]
    assert categories == ["submitted", "needs-record"]  # no eligible amount, no units, no denial reason
    confirm = first["adjudication"][1]["reason"]["text"]
    assert confirm.startswith("confirm in the medical record: ") and "documentation.consent" in confirm
    notes = {n["number"]: n["text"] for n in response["processNote"]}
    assert [notes[k] for k in first["noteNumber"]][-1] == f"item 1 (97550): not adjudicated, the decision rests " \
                                                          f"on the record; {confirm}"
    assert not any("is not documented" in text for text in notes.values())


def test_a_decided_claim_is_still_answered_complete_with_its_total(tmp_path):
    from ctsdsl.interop.records import load_records
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"claim": "TEST-FHIR-001", "therapy_spend_to_date": 800,
                                   "documentation": FULL_DOCUMENTATION, "lines": {
                                       "1": {"minutes": 53, "caregivers": 2, "patients_represented": 1,
                                             "patient_present": False},
                                       "2": {"patients_represented": 1, "patient_present": False}}}) + "\n")
    (read_claim,) = read(FIXTURES / "claim.json", ReadOptions(payer_map=MAP, records=load_records(records)))
    response = claim_response(read_claim, ctsdsl.evaluate(read_claim.claim))
    assert response["outcome"] == "complete" and response["total"][0]["amount"]["value"] == 105.53
