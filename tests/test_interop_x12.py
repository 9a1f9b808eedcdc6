"""X12 837P in: each element of tests/fixtures/x12/two-claims.837 lands where docs/interop.md says,
and each kind of malformed interchange is refused where it is broken, the other claims still read."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from ctsdsl.claims.validation import validate_claim
from ctsdsl.errors import ClaimError
from ctsdsl.interop import ReadOptions, read_claims, sniff
from ctsdsl.interop.payer_map import PayerMap, load_payer_map
from ctsdsl.interop.records import load_records
from ctsdsl.interop.taxonomy import provider_type

pytest.importorskip("pyx12")

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "x12"
MAP = PayerMap(payer_ids={"00000": "medicare"}, filing_indicators={"MB": "medicare"})
# An 837P carries none of the record's facts: each is null, "not stated", never false (issue 17).
UNSTATED_DOCUMENTATION = dict.fromkeys(("plan_of_care_includes_cts", "consent", "reason_without_patient",
                                        "need_for_occurrence", "training_described", "caregiver_response",
                                        "impact_on_goals", "group_details"))
UNSTATED_LINE = {"minutes": None, "patients_represented": None, "caregivers": None, "patient_present": None}


def read(path: Path | str, options: ReadOptions = ReadOptions(payer_map=MAP)):
    return list(read_claims(path, options))


def variant(tmp_path: Path, replace: dict[str, str], base: str = "two-claims.837") -> Path:
    """The fixture with some text replaced, the SE count kept right."""
    text = (FIXTURES / base).read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    st = text[text.index("\nST*"):text.index("\nSE*")]
    count = st.count("~")
    text = text[:text.index("\nSE*") + 4] + str(count + 1) + text[text.index("*", text.index("\nSE*") + 4):]
    path = tmp_path / "variant.837"
    path.write_text(text)
    return path


def errors_of(claims) -> list[str]:
    return [d.render() for c in claims if c.error for d in c.error.diagnostics]


# ---------------------------------------------------------------- the mapping, element by element


def test_an_interchange_is_told_by_its_isa_segment_not_its_name(tmp_path):
    renamed = tmp_path / "claims.txt"
    renamed.write_text((FIXTURES / "two-claims.837").read_text())
    assert sniff(renamed) == "x12"
    assert sniff(Path(__file__).resolve().parent.parent / "examples" / "claims" / "typical.json") is None


def test_every_2300_claim_is_read_in_file_order_and_valid_against_the_claim_schema():
    claims = read(FIXTURES / "two-claims.837")
    assert [c.claim["id"] for c in claims] == ["TEST-CLM-001", "TEST-CLM-002"]  # CLM01
    for c in claims:
        assert c.error is None
        assert validate_claim(c.claim) == c.claim


def test_the_first_claim_maps_clm_sv1_and_dtp_elements():
    first = read(FIXTURES / "two-claims.837")[0]
    assert first.claim == {
        "id": "TEST-CLM-001",  # CLM01
        "payer": "medicare",  # 2010BB NM109 00000 through payer_ids
        "place_of_service": "11",  # CLM05-1
        "date_of_service": "2024-05-01",  # DTP*472 D8
        "provider_type": "therapist",  # 2000A PRV03 225100000X (physical therapist)
        "documentation": UNSTATED_DOCUMENTATION,
        # SV101-2, SV101-3, SV104, SV102
        "lines": [{"code": "97550", "modifiers": ["GP"], "units": 1, "charge": 90, **UNSTATED_LINE},
                  {"code": "97551", "modifiers": ["GP"], "units": 2, "charge": 60, **UNSTATED_LINE}],
    }
    assert first.charges == (Decimal("90.00"), Decimal("60.00"))  # SV102 as read, beside the claim
    assert first.total_charge == Decimal("150.00")  # CLM02
    assert first.location.endswith("two-claims.837:segment 21")
    assert first.record.startswith("CLM*TEST-CLM-001*") and first.record.endswith("DTP*472*D8*20240501~")


def test_the_second_claim_maps_a_patient_loop_a_rendering_provider_sv105_and_an_rd8_range():
    second = read(FIXTURES / "two-claims.837")[1]
    assert second.claim["payer"] == "medicare"  # NM109 11111 is not mapped: SBR09 MB is
    assert second.claim["provider_type"] == "therapist"  # 2310B PRV03 225X00000X (OT) over 2000A's
    assert second.claim["place_of_service"] == "02"  # SV105 on every line, over CLM05-1 11
    assert second.claim["date_of_service"] == "2024-05-02"  # RD8 20240502-20240502
    assert second.claim["lines"][0] == {"code": "97550", "modifiers": ["GO", "95"], "units": 1,  # SV101-3, -4
                                        "charge": 90, **UNSTATED_LINE}
    assert second.claim["lines"][1] == {"code": "97552", "modifiers": ["GO"], "units": 1, "charge": 40,
                                        **UNSTATED_LINE}


def test_a_line_dated_after_the_claims_first_date_keeps_its_own_date(tmp_path):
    path = variant(tmp_path, {"SV1*HC:97551:GP*60.00*UN*2***1~\nDTP*472*D8*20240501~":
                              "SV1*HC:97551:GP*60.00*UN*2***1~\nDTP*472*D8*20240503~"})
    claim = read(path)[0].claim
    assert claim["date_of_service"] == "2024-05-01"
    assert claim["lines"][1]["date_of_service"] == "2024-05-03"
    assert "date_of_service" not in claim["lines"][0]


def test_sv102_with_cents_is_the_lines_charge_to_the_cent(tmp_path):
    path = variant(tmp_path, {"SV1*HC:97551:GP*60.00*UN*2***1~": "SV1*HC:97551:GP*60.15*UN*2***1~"})
    assert read(path)[0].claim["lines"][1]["charge"] == 60.15


def test_a_negative_sv102_is_refused_at_sv102(tmp_path):
    path = variant(tmp_path, {"SV1*HC:97551:GP*60.00*UN*2***1~": "SV1*HC:97551:GP*-60.00*UN*2***1~"})
    first = read(path)[0]
    [d] = first.error.diagnostics
    assert (d.path, d.span.line, d.span.column) == ("SV102", 27, 17) and "less than the minimum of 0" in d.message


def test_without_a_sidecar_an_837_claim_is_conditional_on_the_record_not_denied():
    import ctsdsl
    first = read(FIXTURES / "two-claims.837")[0]
    decision = ctsdsl.evaluate(first.claim).to_dict()
    assert decision["outcome"] == "conditional"
    assert [line["status"] for line in decision["lines"]] == ["needs_record", "needs_record"]
    assert [line["adjustments"] for line in decision["lines"]] == [[], []]  # nothing denied yet
    assert {"documentation.consent", "lines[0].minutes"} <= set(decision["lines"][0]["confirm"])


def test_a_line_the_record_says_is_undocumented_is_denied_and_adjusted_by_its_sv102_charge(tmp_path):
    import ctsdsl
    records = load_records(write_records(tmp_path, {"claim": "TEST-CLM-001", "documentation": {"consent": False}}))
    first = read(FIXTURES / "two-claims.837", ReadOptions(payer_map=MAP, records=records))[0]
    lines = ctsdsl.evaluate(first.claim).to_dict()["lines"]
    assert [line["status"] for line in lines] == ["denied", "denied"]  # on a stated fact, whatever else it says
    assert [(a["group"], a["carc"], a["amount"]) for line in lines for a in line["adjustments"]] == [
        ("CO", "16", "90.00"), ("CO", "16", "60.00")]


def test_a_whole_interchange_on_one_line_is_read_the_same():
    one_line = read(FIXTURES / "one-line.837")[0]
    assert one_line.claim == read(FIXTURES / "two-claims.837")[0].claim


def test_payer_flag_decides_every_claim_under_one_payer_without_a_map():
    claims = read(FIXTURES / "two-claims.837", ReadOptions(payer="acme"))
    assert [c.claim["payer"] for c in claims] == ["acme", "acme"]


@pytest.mark.parametrize(("code", "kind"), [
    ("225100000X", "therapist"), ("2251G0304X", "therapist"), ("225X00000X", "therapist"),
    ("225XN1300X", "therapist"), ("235Z00000X", "therapist"), ("207Q00000X", "physician"),
    ("208D00000X", "physician"), ("363LF0000X", "npp"), ("363A00000X", "npp"), ("364S00000X", "npp"),
    ("225200000X", None), ("224Z00000X", None), ("261QP2000X", None), ("367A00000X", None),
])
def test_nucc_taxonomy_codes_map_to_provider_types_by_classification(code, kind):
    assert provider_type(code) == kind


def test_a_taxonomy_the_table_leaves_out_is_an_error_unless_the_payer_map_adds_it(tmp_path):
    path = variant(tmp_path, {"PRV*BI*PXC*225100000X~": "PRV*BI*PXC*261QP2000X~"})
    first = read(path)[0]
    assert first.error is not None
    assert "taxonomy 261QP2000X is not one ctsdsl maps" in first.error.diagnostics[0].message
    added = PayerMap(payer_ids={"00000": "medicare"}, taxonomies={"261QP2000X": "therapist"})
    assert read(path, ReadOptions(payer_map=added))[0].claim["provider_type"] == "therapist"


def test_without_any_taxonomy_the_claim_leaves_provider_type_out(tmp_path):
    path = variant(tmp_path, {"PRV*BI*PXC*225100000X~\n": ""})
    assert "provider_type" not in read(path)[0].claim


# ---------------------------------------------------------------- the sidecar


def write_records(tmp_path: Path, *records: dict) -> Path:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_the_sidecar_adds_documentation_and_line_facts_by_clm01_and_lx(tmp_path):
    records = load_records(write_records(tmp_path, {
        "claim": "TEST-CLM-001", "therapy_spend_to_date": 800, "documentation": {"consent": True},
        "lines": {"1": {"minutes": 45, "patients_represented": 1, "caregivers": 2, "patient_present": False}}}))
    first, second = read(FIXTURES / "two-claims.837", ReadOptions(payer_map=MAP, records=records))
    assert first.claim["documentation"] == {**UNSTATED_DOCUMENTATION, "consent": True}  # the others stay unstated
    assert first.claim["therapy_spend_to_date"] == 800
    assert first.claim["lines"][0] == {"code": "97550", "modifiers": ["GP"], "units": 1, "charge": 90, "minutes": 45,
                                       "patients_represented": 1, "caregivers": 2, "patient_present": False}
    assert first.claim["lines"][1] == {"code": "97551", "modifiers": ["GP"], "units": 2, "charge": 60, **UNSTATED_LINE}
    assert second.claim["documentation"] == UNSTATED_DOCUMENTATION  # no record: not stated, never false


def test_a_record_for_a_claim_the_file_lacks_is_an_error_naming_it(tmp_path):
    records = load_records(write_records(tmp_path, {"claim": "TEST-CLM-999", "documentation": {"consent": True}}))
    claims = read(FIXTURES / "two-claims.837", ReadOptions(payer_map=MAP, records=records))
    assert [c.error is None for c in claims] == [True, True, False]
    assert claims[2].location.endswith("records.jsonl:1")
    assert "'TEST-CLM-999' names no claim" in claims[2].error.diagnostics[0].message


def test_a_record_for_a_line_the_claim_lacks_stops_that_claim(tmp_path):
    records = load_records(write_records(tmp_path, {"claim": "TEST-CLM-002", "lines": {"3": {"minutes": 20}}}))
    first, second = read(FIXTURES / "two-claims.837", ReadOptions(payer_map=MAP, records=records))
    assert first.error is None
    assert "gives facts for line 3, which the claim does not have (its lines: 1, 2)" in second.error.render()


@pytest.mark.parametrize(("record", "fragment"), [
    ('{"claim": "TEST-CLM-001", "lines": {"1": {"minutes": "forty"}}}', "'forty' is not of type 'integer'"),
    ('{"claim": "TEST-CLM-001", "lines": {"1": {"units": 3}}}', "Additional properties are not allowed"),
    ('{"claim": "TEST-CLM-001", "payer": "acme"}', "Additional properties are not allowed"),
    ('{"claim": "TEST-CLM-001", "documentation": {"consent": "yes"}}', "'yes' is not of type 'boolean'"),
    ('{"claim": "TEST-CLM-001", "lines": {"one": {}}}', "does not match"),
    ('{"documentation": {}}', "'claim' is a required property"),
    ('{"claim": "TEST-CLM-001",', "invalid JSON"),
])
def test_a_broken_record_stops_the_run_before_any_claim_is_decided(tmp_path, record, fragment):
    path = tmp_path / "records.jsonl"
    path.write_text(record + "\n")
    with pytest.raises(ClaimError) as caught:
        load_records(path)
    assert fragment in caught.value.render()
    assert caught.value.diagnostics[0].span.line == 1


def test_two_records_for_one_claim_are_refused(tmp_path):
    with pytest.raises(ClaimError, match="a second record for claim 'TEST-CLM-001'"):
        load_records(write_records(tmp_path, {"claim": "TEST-CLM-001"}, {"claim": "TEST-CLM-001"}))


# ---------------------------------------------------------------- the payer map


def test_an_unknown_payer_is_an_error_naming_the_payer_id_and_where_it_is():
    claims = read(FIXTURES / "two-claims.837", ReadOptions(payer_map=PayerMap(source="payers.yaml")))
    message = claims[0].error.diagnostics[0].message
    assert "payer id '00000' (2010BB NM109, segment 20)" in message
    assert "claim filing indicator 'MB' (SBR09, segment 15)" in message
    assert "not in the payer map payers.yaml" in message
    assert claims[0].error.diagnostics[0].span.line == 20


def test_a_payer_map_file_is_read_and_its_mistakes_located(tmp_path):
    good = tmp_path / "payers.yaml"
    good.write_text('payer_ids:\n  "00000": medicare\nfiling_indicators:\n  MB: medicare\n'
                    "taxonomies:\n  261QP2000X: therapist\n")
    loaded = load_payer_map(good)
    assert loaded.lookup("payer_ids", "00000") == "medicare"
    assert loaded.taxonomies == {"261QP2000X": "therapist"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("payer_ids:\n  00000: medicare\npayer_id:\n  x: y\ntaxonomies:\n  261QP2000X: nurse\n")
    from ctsdsl.errors import UsageError
    with pytest.raises(UsageError) as caught:
        load_payer_map(bad)
    rendered = caught.value.render()
    assert "the key 0 is not text" in rendered and "quote it" in rendered
    assert "unknown section 'payer_id'" in rendered and "did you mean 'payer_ids'?" in rendered
    assert "maps to 'nurse', which is not a provider type" in rendered
    assert [d.span.line for d in caught.value.diagnostics] == [2, 3, 6]


# ---------------------------------------------------------------- malformed interchanges


@pytest.mark.parametrize(("replace", "bad", "where", "fragment"), [
    ({"UN*2***1": "UN*TWO***1"}, 0, (27, 26), 'Data element "Service Unit Count" (SV104) is type R'),
    ({"UN*2***1": "UN*1.5***1"}, 0, (27, 26), "1.5 units: expected a whole number of units"),
    ({"UN*2***1": "MJ*2***1"}, 0, (27, 23), "the unit of measure is 'MJ'"),
    ({"HC:97551:GP": "ER:97551:GP"}, 0, (27, 5), "the code qualifier is 'ER'"),
    ({"HC:97551:GP": "HC:9755:GP"}, 0, (27, 8), '"9755" is not a five-character CPT or HCPCS code'),
    ({"UN*2***1": "UN*0***1"}, 0, (27, 26), "0 is less than the minimum of 1"),
    ({"D8*20240501~\nLX*2": "D8*20241301~\nLX*2"}, 0, (25, 12), "contains an invalid date (20241301)"),
    ({"RD8*20240502-20240502": "RD8*20240502-20240504"}, 1, (48, 13), "the service dates span 3 days"),
    ({"SV1*HC:97552:GO*40.00*UN*1*02**1~": "SV1*HC:97552:GO*40.00*UN*1***1~"}, 1, (42, 27),
     "its lines name different places of service (CLM05-1, SV105): 02, 11"),
    ({"NM1*82*1*THERAPIST*TERRY****XX*1234567893~\nPRV*PE*PXC*225X00000X~":
      "NM1*82*1*THERAPIST*TERRY****XX*1234567893~\nPRV*PE*PXC*207Q00000X~"}, None, None, None),
])
def test_a_broken_claim_is_refused_where_it_breaks_and_the_other_claim_is_read(tmp_path, replace, bad, where, fragment):
    claims = read(variant(tmp_path, replace))
    if bad is None:  # a valid change: a physician renders claim 2
        assert [c.claim["provider_type"] for c in claims] == ["therapist", "physician"]
        return
    assert [c.error is None for c in claims] == [k != bad for k in range(2)]
    d = claims[bad].error.diagnostics[0]
    assert fragment in d.message
    assert (d.span.line, d.span.column) == where
    assert d.source_name.endswith("variant.837")


def test_a_segment_missing_from_a_claim_is_charged_to_that_claim_not_the_next(tmp_path):
    claims = read(variant(tmp_path, {"SV1*HC:97551:GP*60.00*UN*2***1~\nDTP*472*D8*20240501~":
                                     "SV1*HC:97551:GP*60.00*UN*2***1~"}))
    assert claims[0].error is not None and claims[1].error is None
    assert "line 2 has no service date (DTP*472)" in claims[0].error.render()


def test_an_error_in_the_subscriber_loop_stops_every_claim_of_that_subscriber_only(tmp_path):
    claims = read(variant(tmp_path, {"DMG*D8*19400101*F~": "DMG*D8*19401301*F~"}))
    assert [c.error is None for c in claims] == [False, True]
    assert "segment 19 (DMG)" in claims[0].error.render()


def test_a_wrong_se_count_stops_every_claim_of_its_transaction_set(tmp_path):
    text = (FIXTURES / "two-claims.837").read_text().replace("SE*50*", "SE*48*")
    path = tmp_path / "count.837"
    path.write_text(text)
    claims = read(path)
    assert len(claims) == 2 and all("SE count of 48" in c.error.render() for c in claims)


def test_an_interchange_cut_short_refuses_the_claims_it_cannot_vouch_for():
    claims = read(FIXTURES / "cut-short.837")
    assert all(c.error is not None for c in claims)
    rendered = "\n".join(errors_of(claims))
    assert "its transaction set has no SE: the file ends inside it" in rendered
    assert "the GS segment has no GE" in rendered and "the ISA segment has no IEA" in rendered


@pytest.mark.parametrize(("replace", "fragment"), [
    ({"005010X222A1": "005010X223A2"}, "GS08 is '005010X223A2': ctsdsl reads 837 professional claims"),
    ({"IEA*1*000000001~\n": "IEA*1*000000001~\nGARBAGE"}, "text after the last segment terminator"),
    ({"LX*1~": "LX*1~~"}, "an empty segment"),
])
def test_an_interchange_broken_around_its_claims_says_where(tmp_path, replace, fragment):
    text = (FIXTURES / "two-claims.837").read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "broken.837"
    path.write_text(text)
    assert fragment in "\n".join(errors_of(read(path)))


def test_a_bad_isa_segment_refuses_the_file(tmp_path):
    path = tmp_path / "isa.837"
    path.write_text((FIXTURES / "two-claims.837").read_text().replace("*00501*", "*00999*"))
    with pytest.raises(ClaimError, match="segment 1 .ISA."):
        read(path)
