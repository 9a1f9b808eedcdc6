"""The claim and decision schemas: valid JSON Schema 2020-12, the public contract the issue
names, examples that validate, and shipped with the package."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ctsdsl import _resources

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema(name: str) -> dict:
    return json.loads(_resources.schema_path(name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["claim.schema.json", "decision.schema.json", "diff.schema.json"])
def test_each_schema_is_a_valid_2020_12_schema(name):
    body = schema(name)
    assert body["$schema"] == DRAFT
    Draft202012Validator.check_schema(body)


def test_every_schema_file_in_the_repository_is_bundled():
    assert sorted(p.name for p in (ROOT / "schemas").glob("*.json")) == \
        sorted(p.name for p in _resources.schema_path("claim.schema.json").parent.glob("*.json"))


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "claims").glob("*.json")), ids=lambda p: p.name)
def test_every_example_claim_validates(path):
    validator = Draft202012Validator(schema("claim.schema.json"), format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert [e.message for e in validator.iter_errors(json.loads(path.read_text(encoding="utf-8")))] == []


# ------------------------------------------------------------------ the contract: extend, never rename


def test_the_claim_has_the_fields_pipelines_rely_on():
    claim = schema("claim.schema.json")
    assert set(claim["required"]) == {"id", "payer", "date_of_service", "place_of_service", "lines"}
    assert {"id", "payer", "date_of_service", "place_of_service", "provider_type", "therapy_spend_to_date",
            "documentation", "lines"} <= set(claim["properties"])
    assert claim["properties"]["provider_type"]["enum"] == ["therapist", "physician", "npp"]
    line = claim["$defs"]["line"]["properties"]
    assert {"code", "units", "minutes", "modifiers", "patients_represented", "caregivers", "patient_present",
            "date_of_service"} <= set(line)
    assert set(claim["properties"]["documentation"]["properties"]) >= {
        "plan_of_care_includes_cts", "consent", "reason_without_patient", "need_for_occurrence",
        "training_described", "caregiver_response", "impact_on_goals", "group_details"}


def test_the_decision_has_the_fields_pipelines_rely_on():
    decision = schema("decision.schema.json")
    props = decision["properties"]
    assert set(decision["required"]) >= {"claim_id", "policy", "outcome", "lines", "findings", "total_allowed"}
    # extended, never narrowed: conditional (a line needs the record) came with issue 17
    assert props["outcome"]["enum"] == ["pay", "partial", "deny", "conditional"]
    line = props["lines"]["items"]
    assert set(line["required"]) >= {"index", "code", "status", "units_billed", "units_allowed", "allowed_amount",
                                     "findings"}
    assert line["properties"]["status"]["enum"] == ["allowed", "reduced", "denied", "out_of_scope", "needs_record"]
    finding = props["findings"]["items"]
    assert set(finding["required"]) >= {"rule", "severity", "line", "message", "citation"}
    assert finding["properties"]["severity"]["enum"] == ["deny", "reduce", "warn", "info"]
    assert set(props["policy"]["required"]) >= {"name", "payer", "version", "effective_from", "effective_to",
                                                "digest"}


@pytest.mark.parametrize(("amount", "valid"), [("12.30", True), ("0.00", True), ("12.3", False), (12.3, False)])
def test_a_money_amount_is_a_string_with_two_decimals(amount, valid):
    validator = Draft202012Validator(schema("decision.schema.json"))
    line = {"index": 0, "code": "97550", "status": "allowed", "units_billed": 1, "units_allowed": 1,
            "allowed_amount": amount, "findings": []}
    body = {"claim_id": "c", "policy": {"name": "p", "payer": "x", "version": "1", "effective_from": "2024-01-01",
                                        "effective_to": None, "digest": "sha256:" + "0" * 64},
            "outcome": "pay", "lines": [line], "findings": [], "total_allowed": "0.00"}
    assert validator.is_valid(body) is valid


# ------------------------------------------------------------------ shipping


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_the_wheel_carries_the_schemas_and_policies_inside_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    # The example claims too: the playground (ctsdsl serve) offers them.
    assert included == {"policies": "ctsdsl/_data/policies", "schemas": "ctsdsl/_data/schemas",
                        "examples/claims": "ctsdsl/_data/examples"}


def test_an_installed_package_reads_its_bundled_copies_first(tmp_path, monkeypatch):
    packaged = tmp_path / "ctsdsl"
    for name in ("schemas", "policies"):
        (packaged / "_data" / name).mkdir(parents=True)
    (packaged / "_data" / "schemas" / "claim.schema.json").write_text("{}")
    monkeypatch.setattr(_resources, "PACKAGE_DIR", packaged)
    assert _resources.schema_path("claim.schema.json") == packaged / "_data" / "schemas" / "claim.schema.json"
    assert _resources.policies_dir() == packaged / "_data" / "policies"


def test_a_checkout_reads_the_schemas_at_the_top_of_the_repository(monkeypatch, tmp_path):
    # A checkout's package folder has no _data; the schemas sit beside it, at the top.
    monkeypatch.setattr(_resources, "PACKAGE_DIR", ROOT / "ctsdsl")
    assert _resources.schema_path("decision.schema.json") == ROOT / "schemas" / "decision.schema.json"


def test_a_missing_schema_is_a_clear_error():
    from ctsdsl.errors import CtsdslError
    with pytest.raises(CtsdslError) as info:
        _resources.schema_path("nosuch.schema.json")
    assert info.value.diagnostics[0].code == "missing-resource"
    assert Path(info.value.diagnostics[0].source_name).name == "nosuch.schema.json"
