"""Reading claim files and validating claims against schemas/claim.schema.json."""

from __future__ import annotations

import copy
from decimal import Decimal
import json
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ctsdsl import _resources
from ctsdsl.claims import validation as claims
from ctsdsl.claims.validation import claim_schema, iter_claims, load_claim_file, validate_claim
from ctsdsl.errors import ClaimError, CtsdslError


def minimal_claim() -> dict:
    return {
        "id": "c-1",
        "payer": "medicare",
        "date_of_service": "2024-03-15",
        "place_of_service": "11",
        "lines": [{"code": "97550", "units": 1}],
    }


def full_claim() -> dict:
    return {
        "id": "c-2",
        "payer": "medicare",
        "date_of_service": "2024-02-29",
        "place_of_service": "02",
        "provider_type": "physician",
        "therapy_spend_to_date": 2410.5,
        "apm_qualifying": True,
        "documentation": {flag: True for flag in claims._DOC_FIELDS},
        "lines": [
            {"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP", "95"], "patients_represented": 2,
             "caregivers": 3, "patient_present": False, "date_of_service": "2024-02-28"},
            {"code": "G0541", "units": 2},
        ],
    }


def problems(claim) -> list:
    with pytest.raises(ClaimError) as info:
        validate_claim(claim, "claim.json")
    return info.value.diagnostics


def only_problem(claim):
    found = problems(claim)
    assert len(found) == 1, [d.message for d in found]
    return found[0]


# ------------------------------------------------------------------ validation


def test_a_minimal_claim_is_valid_and_comes_back_as_the_same_object():
    claim = minimal_claim()
    assert validate_claim(claim) is claim


def test_a_claim_using_every_field_is_valid():
    claim = full_claim()
    assert validate_claim(claim) is claim
    assert claims._fast_valid(claim)


def test_a_line_with_zero_units_is_rejected_with_its_json_path():
    claim = minimal_claim()
    claim["lines"][0]["units"] = 0
    d = only_problem(claim)
    assert d.code == "claim-invalid"
    assert d.path == "$.lines[0].units"
    assert d.message == "0 is less than the minimum of 1"
    assert d.source_name == "claim.json"


def test_the_rendered_error_names_the_json_path_once():
    claim = minimal_claim()
    claim["lines"][0]["units"] = 0
    assert only_problem(claim).render() == "claim.json: $.lines[0].units: error: 0 is less than the minimum of 1"


def test_a_bare_number_where_a_code_belongs_gets_the_quoting_hint_and_an_id_does_not():
    claim = minimal_claim()
    claim["place_of_service"] = 2
    assert "leading zero" in only_problem(claim).hint
    claim = minimal_claim()
    claim["id"] = 5
    assert only_problem(claim).hint == "put it in quotes: unquoted, JSON and YAML read it as a number"


def test_a_missing_required_field_is_named_at_its_object():
    claim = minimal_claim()
    del claim["lines"][0]["units"]
    del claim["payer"]
    found = problems(claim)
    assert [(d.path, d.message) for d in found] == [
        ("$", 'the required field "payer" is missing'),
        ("$.lines[0]", 'the required field "units" is missing'),
    ]


def test_several_missing_fields_are_each_reported_once():
    found = problems({"lines": [{"code": "97550", "units": 1}]})
    assert sorted(d.message for d in found) == sorted(
        f'the required field "{name}" is missing' for name in ("id", "payer", "date_of_service", "place_of_service"))


def test_true_is_not_accepted_as_a_count():
    claim = minimal_claim()
    claim["lines"][0]["units"] = True
    d = only_problem(claim)
    assert d.path == "$.lines[0].units"
    assert "expected an integer, got true" in d.message
    assert "not numbers" in d.hint


def test_a_whole_float_counts_as_an_integer_as_jsonschema_says():
    claim = minimal_claim()
    claim["lines"][0]["units"] = 3.0
    assert validate_claim(claim)["lines"][0]["units"] == 3
    claim["lines"][0]["units"] = 2.5
    assert "expected an integer, got 2.5" in only_problem(claim).message


def test_an_unquoted_place_of_service_gets_a_hint_to_quote_it():
    claim = minimal_claim()
    claim["place_of_service"] = 2
    d = only_problem(claim)
    assert d.path == "$.place_of_service"
    assert "quotes" in d.hint


def test_a_malformed_code_is_rejected_with_an_example():
    claim = minimal_claim()
    claim["lines"][0]["code"] = "9755"
    d = only_problem(claim)
    assert d.message == '"9755" is not a five-character CPT or HCPCS code'
    assert "97550" in d.hint


def test_a_lowercase_modifier_is_rejected_with_a_capitals_hint():
    claim = minimal_claim()
    claim["lines"][0]["modifiers"] = ["GP", "kx"]
    d = only_problem(claim)
    assert d.path == "$.lines[0].modifiers[1]"
    assert d.hint == 'use capital letters: "KX"'


def test_more_than_four_modifiers_are_rejected():
    claim = minimal_claim()
    claim["lines"][0]["modifiers"] = ["GP", "KX", "59", "95", "GO"]
    d = only_problem(claim)
    assert d.message == "has 5 items, more than the maximum of 4"


def test_a_claim_without_lines_is_rejected():
    claim = minimal_claim()
    claim["lines"] = []
    d = only_problem(claim)
    assert d.path == "$.lines"
    assert "at least 1 item" in d.message
    assert "at least one line" in d.hint


def test_an_empty_id_and_a_negative_spend_are_both_reported():
    claim = minimal_claim()
    claim["id"] = ""
    claim["therapy_spend_to_date"] = -1
    assert [d.message for d in problems(claim)] == [
        "must not be empty",
        "-1 is less than the minimum of 0",
    ]


def test_too_many_minutes_are_rejected():
    claim = minimal_claim()
    claim["lines"][0]["minutes"] = 1441
    assert only_problem(claim).message == "1441 is greater than the maximum of 1440"


def test_an_unknown_provider_type_is_rejected_with_a_did_you_mean():
    claim = minimal_claim()
    claim["provider_type"] = "therapists"
    d = only_problem(claim)
    assert d.message == '"therapists" is not one of "therapist", "physician", "npp"'
    assert d.hint == 'did you mean "therapist"?'


def test_february_thirtieth_is_not_a_date():
    claim = minimal_claim()
    claim["date_of_service"] = "2024-02-30"
    d = only_problem(claim)
    assert d.path == "$.date_of_service"
    assert d.message == '"2024-02-30" is not a valid calendar date'
    assert "out of range" in d.hint


def test_a_line_date_in_the_wrong_shape_is_reported_once():
    claim = minimal_claim()
    claim["lines"][0]["date_of_service"] = "03/15/2024"
    d = only_problem(claim)
    assert d.path == "$.lines[0].date_of_service"
    assert "YYYY-MM-DD" in d.message


def test_an_unknown_field_gets_a_did_you_mean_hint_and_the_allowed_fields():
    claim = minimal_claim()
    claim["lines"][0]["unitz"] = 2
    d = only_problem(claim)
    assert d.path == "$.lines[0].unitz"
    assert d.message == 'unknown field "unitz"'
    assert d.hint.startswith('did you mean "units"?')
    assert "patients_represented" in d.hint


def test_each_unknown_field_is_reported_separately():
    claim = minimal_claim()
    claim["documentation"] = {"consnet": True, "weird key": 1}
    assert [d.path for d in problems(claim)] == ['$.documentation.consnet', '$.documentation["weird key"]']


def test_all_problems_are_reported_sorted_by_path_with_indexes_in_number_order():
    claim = minimal_claim()
    claim["lines"] = [{"code": "97550", "units": 1} for _ in range(12)]
    claim["lines"][10]["units"] = 0
    claim["lines"][2]["units"] = 0
    claim["lines"][2]["code"] = "x"
    claim["payer"] = ""
    assert [d.path for d in problems(claim)] == [
        "$.lines[2].code", "$.lines[2].units", "$.lines[10].units", "$.payer"]


def test_something_that_is_not_an_object_is_rejected_at_the_root():
    d = only_problem([minimal_claim()])
    assert d.path == "$"
    assert d.message.startswith("expected an object")


def test_jsonschema_decides_when_the_fast_checker_is_too_strict(monkeypatch):
    monkeypatch.setattr(claims, "_fast_valid", lambda obj: False)
    claim = minimal_claim()
    assert validate_claim(claim) is claim


def test_the_fast_checker_knows_exactly_the_fields_the_schema_defines():
    schema = claim_schema()
    line = schema["$defs"]["line"]
    assert set(claims._CLAIM_CHECKS) == set(schema["properties"])
    assert set(claims._REQUIRED) == set(schema["required"])
    assert set(claims._LINE_CHECKS) == set(line["properties"])
    assert set(line["required"]) == {"code", "units"}
    assert claims._DOC_FIELDS == set(schema["properties"]["documentation"]["properties"])


def test_the_schema_is_found_and_loaded_once():
    assert _resources.schema_path("claim.schema.json").is_file()
    assert claim_schema() is claim_schema()


def test_a_missing_bundled_resource_is_a_clear_error():
    with pytest.raises(CtsdslError, match="missing"):
        _resources.schema_path("no-such.schema.json")


def test_removing_repeated_diagnostics_costs_a_few_comparisons_per_bad_line_not_one_per_pair(monkeypatch):
    # Issue 16: each diagnostic was compared with every one kept so far, so 20 000 bad lines took minutes.
    from ctsdsl.errors import Diagnostic
    compared = 0
    equal = Diagnostic.__eq__

    def counting(self, other):
        nonlocal compared
        compared += 1
        return equal(self, other)

    monkeypatch.setattr(Diagnostic, "__eq__", counting)
    bad_lines = 600
    found = problems(dict(minimal_claim(), lines=[{"code": "x", "units": 0}] * bad_lines))
    assert len(found) == 2 * bad_lines
    assert compared < 10 * bad_lines


# ---------------------------------------------------- the fast checker agrees


def _schema_is_valid(obj) -> bool:
    return Draft202012Validator(claim_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(obj)


def _accepted_as_is(obj) -> bool:
    """What the fast checker must agree with: the slow path accepts the claim and returns it unchanged."""
    try:
        return claims._slow_validate(obj, "<test>") is obj
    except ClaimError:
        return False


DATES = st.dates(min_value=date(1, 1, 1)).map(date.isoformat)
MODIFIERS = st.lists(st.sampled_from(["GP", "GO", "GN", "KX", "95", "59"]), max_size=4)
LINE = st.fixed_dictionaries(
    {"code": st.sampled_from(["97550", "97551", "97552", "G0539", "G0541"]), "units": st.integers(1, 999)},
    optional={"minutes": st.integers(0, 1440), "modifiers": MODIFIERS, "patients_represented": st.integers(1, 1000),
              "caregivers": st.integers(1, 1000), "patient_present": st.booleans(), "date_of_service": DATES})
CLAIM = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=12), "payer": st.sampled_from(["medicare", "aetna"]),
     "date_of_service": DATES, "place_of_service": st.from_regex(r"\A[0-9]{2}\Z"),
     "lines": st.lists(LINE, min_size=1, max_size=3)},
    optional={"provider_type": st.sampled_from(["therapist", "physician", "npp"]),
              "therapy_spend_to_date": st.integers(0, 10**6) | st.floats(min_value=0, allow_nan=False),
              "pt_slp_spend_to_date": st.integers(0, 10**6), "ot_spend_to_date": st.floats(0, 1e6),
              "apm_qualifying": st.booleans(),
              "documentation": st.dictionaries(st.sampled_from(sorted(claims._DOC_FIELDS)), st.booleans())})
ODD_VALUES = st.one_of(
    st.sampled_from([
        None, True, False, 0, 1, -1, 3.0, 2.5, -0.0, 999, 1000, 1001, 1440, 1441, 1e300, float("nan"), float("inf"),
        float("-inf"), "", "x", "11", "11\n", "1", "GP", "gp", "G", "97550", "97550\n", "9755", "g0539", "2024-02-29",
        "2023-02-29", "2024-02-30", "2024-13-01", "0000-01-01", "2024-1-01", "2024-01-01\n", " 2024-01-01",
        "\uff12\uff10\uff12\uff14-01-01", "therapist", "Therapist", "npp ", [], {}, ["GP"], ["GP"] * 5, ["gp"], [5],
        [{}], "a" * 100, "a" * 101, "a" * 200, "a" * 201, {"code": "97550"}]),
    st.integers(-2, 2000), st.floats(), st.text(max_size=6), st.booleans(),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"), st.from_regex(r"\A[A-Z0-9a-z]{1,6}\Z"),
)
KEYS = sorted(set(claims._CLAIM_CHECKS) | set(claims._LINE_CHECKS) | claims._DOC_FIELDS) + ["unitz", "Units", ""]


@st.composite
def near_valid_claims(draw):
    claim = draw(CLAIM)
    for _ in range(draw(st.integers(0, 3))):
        lines = claim.get("lines")
        lines = lines if isinstance(lines, list) else []
        targets = [claim, *(line for line in lines if isinstance(line, dict))]
        if isinstance(claim.get("documentation"), dict):
            targets.append(claim["documentation"])
        target = draw(st.sampled_from(targets))
        action = draw(st.sampled_from(["drop", "set", "set", "set", "lines"]))
        if action == "drop" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        elif action == "set":
            target[draw(st.sampled_from(KEYS + sorted(target)))] = draw(ODD_VALUES)
        elif action == "lines":
            claim["lines"] = draw(st.sampled_from([[], lines * 2, [5], lines[:1] * 1001]))
    return claim


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid_claims())
def test_the_fast_checker_agrees_with_jsonschema_on_near_valid_claims(claim):
    assert claims._fast_valid(claim) == _accepted_as_is(claim)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner,
                                                                                max_size=4)))
def test_the_fast_checker_agrees_with_jsonschema_on_arbitrary_json(value):
    assert claims._fast_valid(value) == _accepted_as_is(value)


def test_the_fast_checker_agrees_on_the_tricky_cases_one_by_one():
    # 3.0 is valid but is made 3 on the slow path; "97550\n" is refused as ECMA-262 patterns refuse it.
    cases = [({"units": 3.0}, False), ({"units": True}, False), ({"units": 1e3}, False), ({"code": "97550\n"}, False),
             ({"date_of_service": "2024-01-01\n"}, False), ({"date_of_service": "0000-01-01"}, False),
             ({"units": 3}, True)]
    for change, expected in cases:
        claim = minimal_claim()
        claim["lines"][0].update(change)
        assert claims._fast_valid(claim) is expected is _accepted_as_is(claim), change
    claim = minimal_claim()
    claim["therapy_spend_to_date"] = float("nan")  # NaN is not below 0, so jsonschema alone lets it through
    assert _schema_is_valid(claim) and not claims._fast_valid(claim) and not _accepted_as_is(claim)


def test_a_whole_number_written_as_a_float_is_decided_as_an_int_without_touching_the_claim():
    claim = minimal_claim()
    claim["lines"][0].update(units=2.0, minutes=40.0)
    valid = claims.validate_claim(claim)
    assert (valid["lines"][0]["units"], type(valid["lines"][0]["units"]), valid["lines"][0]["minutes"]) == (2, int, 40)
    assert type(claim["lines"][0]["units"]) is float  # the caller's claim is left as it was


@pytest.mark.parametrize(("field", "value", "words"), [
    ("code", "97550\n", "is not a five-character CPT or HCPCS code"),
    ("modifiers", ["GP\n"], "is not a two-character modifier"),
])
def test_a_trailing_newline_in_a_code_is_refused_as_the_schema_means(field, value, words):
    claim = minimal_claim()
    claim["lines"][0][field] = value
    with pytest.raises(ClaimError) as info:
        claims.validate_claim(claim)
    assert words in info.value.diagnostics[0].message


@pytest.mark.parametrize("field", ["id", "payer"])
def test_text_with_a_lone_surrogate_is_refused_at_its_path(field):
    claim = minimal_claim()
    claim[field] = "x\udc80"
    with pytest.raises(ClaimError) as info:
        claims.validate_claim(claim)
    (d,) = info.value.diagnostics
    assert (d.path, d.message) == (f"$.{field}", '"x\\udc80" contains a lone surrogate, half of a UTF-16 pair, which is not text')


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), 1e13, 10**26])
def test_a_spend_that_is_not_a_finite_amount_up_to_a_trillion_is_refused_not_a_crash(value):
    claim = minimal_claim()
    claim["therapy_spend_to_date"] = value
    with pytest.raises(ClaimError) as info:
        claims.validate_claim(claim)
    assert [d.path for d in info.value.diagnostics] == ["$.therapy_spend_to_date"]


@pytest.mark.parametrize("field", claims.SPEND_FIELDS)
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_every_spend_figure_must_be_a_finite_amount(field, value):
    claim = minimal_claim()
    claim[field] = value
    with pytest.raises(ClaimError) as info:
        claims.validate_claim(claim)
    assert [(d.path, "finite" in d.message) for d in info.value.diagnostics] == [(f"$.{field}", True)]


# ----------------------------------------------------------------- reading


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def load_error(path) -> ClaimError:
    with pytest.raises(ClaimError) as info:
        load_claim_file(path)
    return info.value


def test_a_json_file_with_one_claim_is_located_by_its_path(tmp_path):
    path = write(tmp_path, "claim.json", json.dumps(minimal_claim()))
    assert load_claim_file(path) == [(str(path), minimal_claim())]


def test_a_json_list_of_claims_is_located_by_index(tmp_path):
    path = write(tmp_path, "claims.json", json.dumps([minimal_claim(), full_claim()]))
    assert [loc for loc, _ in load_claim_file(path)] == [f"{path}[0]", f"{path}[1]"]


def test_a_yaml_file_keeps_unquoted_dates_as_strings(tmp_path):
    path = write(tmp_path, "claims.yml", "- id: c-1\n  payer: medicare\n  date_of_service: 2024-03-15\n"
                 "  place_of_service: '11'\n  lines:\n    - {code: '97550', units: 1}\n")
    [(location, claim)] = load_claim_file(path)
    assert location == f"{path}[0]"
    assert claim == minimal_claim()
    assert validate_claim(claim) is claim


def test_a_jsonl_file_skips_blank_lines_and_locates_claims_by_line(tmp_path):
    path = write(tmp_path, "claims.jsonl", "\n" + json.dumps(minimal_claim()) + "\n\n  \n" + json.dumps(full_claim()))
    assert [loc for loc, _ in load_claim_file(path)] == [f"{path}:2", f"{path}:5"]


def test_a_repeated_key_in_json_is_pointed_at(tmp_path):
    path = write(tmp_path, "claim.json", '{"id": "c", "lines": [\n  {"code": "97550", "units": 1},\n'
                                         '  {"code": "97550",\n   "units": 1, "units": 2}]}')
    [d] = load_error(path).diagnostics
    assert d.code == "claim-duplicate-key"
    assert '"units"' in d.message
    assert (d.span.line, d.span.column) == (4, 16)
    assert "^" in d.render()


def test_a_repeated_key_in_a_jsonl_record_is_pointed_at_on_its_line(tmp_path):
    path = write(tmp_path, "claims.jsonl", json.dumps(minimal_claim()) + '\n{"id": 1, "id": 2}\n')
    [d] = load_error(path).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("claim-duplicate-key", 2, 11)


def test_a_repeated_key_in_yaml_is_rejected(tmp_path):
    path = write(tmp_path, "claim.yaml", "id: c-1\npayer: medicare\nid: c-2\n")
    [d] = load_error(path).diagnostics
    assert d.code == "claim-duplicate-key"
    assert (d.span.line, d.span.column) == (3, 1)


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    path = write(tmp_path, "claim.yaml", "base: &b {units: 1, code: '97550'}\nline:\n  <<: *b\n  units: 2\n")
    [(_, doc)] = load_claim_file(path)
    assert doc["line"] == {"units": 2, "code": "97550"}


@pytest.mark.parametrize("written", ["1:30", "1_0", "0x5A", "0b1011010", "٩٠"])
def test_a_yaml_number_is_ascii_digits_so_base_60_hex_and_underscores_are_refused_not_read(tmp_path, written):
    # YAML 1.1 reads `minutes: 1:30` as 90 (base 60) and 1_0 as 10: a claim decided on a guess (issue 16)
    path = write(tmp_path, "claim.yaml", "id: c\npayer: medicare\ndate_of_service: '2024-05-01'\n"
                                         f"place_of_service: '11'\nlines:\n  - {{code: '97550', units: 1, minutes: {written}}}\n")
    [(location, doc)] = load_claim_file(path)
    [d] = problems(doc)
    assert (d.path, d.message) == ("$.lines[0].minutes", f"expected an integer, got {json.dumps(written, ensure_ascii=False)}")
    assert "ASCII digits" in d.hint


def test_a_yaml_integer_of_thousands_of_digits_is_a_located_error(tmp_path):
    path = write(tmp_path, "claim.yaml", "id: c\nunits: " + "9" * 5000 + "\n")
    [d] = load_error(path).diagnostics
    assert (d.code, d.span.line, d.message) == ("claim-syntax", 2, "invalid YAML: a number of more than 100 digits")


@pytest.mark.parametrize("name, content", [
    ("claim.json", ""), ("claim.json", "  \n"), ("claim.yaml", "# only a comment\n"),
    ("claims.jsonl", "\n\n"), ("claims.json", "[]")])
def test_an_empty_file_is_rejected(tmp_path, name, content):
    [d] = load_error(write(tmp_path, name, content)).diagnostics
    assert d.code == "claim-empty"


@pytest.mark.parametrize("name", ["claim.json", "claim.yaml", "claims.jsonl"])
def test_binary_garbage_is_rejected_as_not_text(tmp_path, name):
    [d] = load_error(write(tmp_path, name, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")).diagnostics
    assert d.code == "claim-encoding"
    assert "not a text file" in d.message


def test_undecodable_utf8_is_rejected_with_its_position(tmp_path):
    [d] = load_error(write(tmp_path, "claim.json", b'{\n  "id": "caf\xe9"}')).diagnostics
    assert d.code == "claim-encoding"
    assert (d.span.line, d.span.column) == (2, 13)


def test_invalid_json_is_reported_with_line_and_column(tmp_path):
    [d] = load_error(write(tmp_path, "claim.json", '{\n  "id": "c-1",\n}')).diagnostics
    assert d.code == "claim-syntax"
    assert (d.span.line, d.span.column) == (3, 1)
    assert d.message.startswith("invalid JSON")


def test_invalid_yaml_is_reported_with_line_and_column(tmp_path):
    [d] = load_error(write(tmp_path, "claim.yaml", "id: c-1\nlines: [a, b\n")).diagnostics
    assert d.code == "claim-syntax"
    assert d.span.line == 3
    assert d.message.startswith("invalid YAML")


def test_yaml_that_would_build_python_objects_is_refused(tmp_path):
    [d] = load_error(write(tmp_path, "claim.yaml", "!!python/object/apply:os.system ['true']\n")).diagnostics
    assert d.code == "claim-syntax"


@pytest.mark.parametrize("content", ["[" * 100_000, '{"units": ' + "9" * 5000 + "}"])
def test_pathological_json_is_a_syntax_error_not_a_traceback(tmp_path, content):
    [d] = load_error(write(tmp_path, "claim.json", content)).diagnostics
    assert d.code == "claim-syntax"


def test_a_missing_file_is_reported(tmp_path):
    [d] = load_error(tmp_path / "nope.json").diagnostics
    assert d.code == "claim-file-not-found"
    assert d.source_name == str(tmp_path / "nope.json")


def test_a_directory_is_reported_as_unreadable(tmp_path):
    (tmp_path / "dir.json").mkdir()
    assert load_error(tmp_path / "dir.json").diagnostics[0].code == "claim-file-unreadable"


def test_an_unknown_extension_is_rejected(tmp_path):
    [d] = load_error(write(tmp_path, "claim.txt", "{}")).diagnostics
    assert d.code == "claim-file-type"


def test_loading_a_jsonl_file_reports_every_bad_line(tmp_path):
    path = write(tmp_path, "claims.jsonl", f'{{bad\n{json.dumps(minimal_claim())}\n[1,\n')
    assert [d.span.line for d in load_error(path).diagnostics] == [1, 3]


def test_iter_claims_carries_on_past_a_bad_line_and_names_its_line_number(tmp_path):
    bad_units = minimal_claim()
    bad_units["lines"][0]["units"] = 0
    path = write(tmp_path, "claims.jsonl", "\n".join([
        json.dumps(minimal_claim()), "{not json", json.dumps(bad_units), "", json.dumps(full_claim())]))
    results = list(iter_claims(path))
    assert [loc for loc, _ in results] == [f"{path}:{n}" for n in (1, 2, 3, 5)]
    assert [type(r).__name__ for _, r in results] == ["dict", "ClaimError", "ClaimError", "dict"]
    assert results[1][1].diagnostics[0].code == "claim-syntax"
    [d] = results[2][1].diagnostics
    assert (d.source_name, d.path) == (f"{path}:3", "$.lines[0].units")


def test_iter_claims_validates_each_claim_of_a_json_list(tmp_path):
    bad = copy.deepcopy(minimal_claim())
    del bad["payer"]
    path = write(tmp_path, "claims.json", json.dumps([minimal_claim(), bad]))
    results = list(iter_claims(path))
    assert isinstance(results[0][1], dict)
    assert isinstance(results[1][1], ClaimError)
    assert results[1][1].diagnostics[0].source_name == f"{path}[1]"


def test_iter_claims_reads_a_jsonl_file_lazily(tmp_path):
    path = write(tmp_path, "claims.jsonl", json.dumps(minimal_claim()) + "\n")
    stream = iter_claims(path)
    location, claim = next(stream)
    with open(path, "a", encoding="utf-8") as fh:  # appended after the first record was read: still seen
        fh.write(json.dumps(full_claim()) + "\n")
    assert [loc for loc, _ in stream] == [f"{path}:2"]


# ------------------------------------------------------------------ the fast parser (orjson, the `fast` extra)


def _both_parsers(raw: bytes, lineno: int = 2) -> tuple[object, object]:
    """A .jsonl record parsed as batch parses it, and with orjson hidden (the standard parser)."""
    from ctsdsl.claims import files
    fast = files.parse_jsonl_record(raw, "f.jsonl", lineno)
    saved, files.orjson = files.orjson, None
    try:
        slow = files.parse_jsonl_record(raw, "f.jsonl", lineno)
    finally:
        files.orjson = saved
    return fast, slow


def _same(fast: object, slow: object) -> None:
    if isinstance(slow, ClaimError):
        assert isinstance(fast, ClaimError) and fast.diagnostics == slow.diagnostics
    else:
        assert repr(fast) == repr(slow)  # the same values of the same types (1 is not 1.0), keys in order


@pytest.mark.parametrize("raw", [
    b'{"id": 1, "id": 2}\n', b'{"a": {"b": 1, "b": 2}}', b'{"lines": [{"code": "1"}, {"u": 1, "u": 1}]}',
    b'{"id": "x:y", "id": "z"}', b'{"id": "x:y"}', b'{"n": 184467440737095516160}', b'{"n": 1e400}',
    b'{"n": -9223372036854775809}', b'{"id": "\\udc80"}', b'{"n": NaN}', b'\xef\xbb\xbf{"id": 1}',
    b'{"id": "\xff"}', b'{"id": 1} x', b'[]', b'{"a" : 1 , "b":[1, 2.5, -0, 1E5, true, null]}\r\n',
    # An escaped colon is one more in orjson's text than in the record: it must not hide a repeat.
    b'{"a": 1, "a": 2, "b": "\\u003a"}', b'{"a": "\\u003A", "b": 1}', b'{"a": "x:y", "a": "z:w"}',
    b'{"a": {"k": 1}, "a": 2, "b": "p:q:r"}', b'{"a\\"": ":", "a\\"": 1}', b'{"id": "\\n:\\t:\\/"}',
])
def test_orjson_reads_a_record_as_the_standard_parser_does_or_leaves_it_to_it(raw):
    _same(*_both_parsers(raw))


def test_a_repeated_key_is_refused_at_the_repeat_with_orjson_installed():
    pytest.importorskip("orjson")
    fast, _ = _both_parsers(b'{"id": "c", "payer": "medicare", "payer": "aetna"}', lineno=7)
    [d] = fast.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("claim-duplicate-key", 7, 34)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_any_json_record_parses_alike_with_and_without_orjson(value, ascii_only):
    _same(*_both_parsers(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")))
