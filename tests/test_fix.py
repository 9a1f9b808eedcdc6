"""`ctsdsl explain --fix`: the smallest verified changes that make a line payable, never to a fact."""

from __future__ import annotations

import json

import pytest

from ctsdsl import cli
from ctsdsl.engine.loader import load_file

from conftest import FIXTURES

DENIED = str(FIXTURES / "explain" / "denied.json")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def fixes(capsys, *argv: str) -> dict:
    code, out, _ = run(capsys, "explain", DENIED, "--fix", "--format", "json", *argv)
    assert code == 0
    return {line["line"]: line for line in json.loads(out)["fixes"]["lines"]}


def test_a_line_missing_consent_and_its_discipline_modifier_is_fixed_by_both(capsys):
    line = fixes(capsys)[0]
    assert line["stopped_by"] == ["consent_not_documented", "discipline_modifier"]
    found = [sorted(c["change"] for c in f["changes"]) for f in line["fixes"]]
    assert ["add modifier GP", "document consent"] in found
    assert all(len(f) == 2 for f in found)  # no single change is enough, and none adds a third
    assert all(f["result"]["status"] == "allowed" for f in line["fixes"])


def test_a_fix_never_changes_a_fact_of_the_service(capsys):
    facts = {"claim.date_of_service", "line.date_of_service", "line.minutes", "claim.place_of_service",
             "claim.provider_type", "line.patient_present", "line.patients_represented", "line.caregivers"}
    for line in fixes(capsys).values():
        for fix in line["fixes"]:
            for change in fix["changes"]:
                assert change["field"] not in facts
                if isinstance(change["to"], list):
                    assert not {"CQ", "CO", "95", "93"} & (set(change["from"]) ^ set(change["to"]))


def test_a_session_too_short_is_left_to_the_facts_not_lengthened(capsys):
    line = fixes(capsys)[2]
    assert line["fixes"] == []
    assert {"rule": "initial_too_short", "facts": ["line.minutes"]} in line["facts_only"]


def test_the_search_says_when_its_budget_stops_it_short(capsys):
    code, out, _ = run(capsys, "explain", DENIED, "--fix", "--budget", "3")
    assert code == 0
    assert "search stopped short: the budget of 3 evaluations ran out" in out
    body = json.loads(run(capsys, "explain", DENIED, "--fix", "--budget", "3", "--format", "json")[1])
    assert body["fixes"]["stopped_short"] is True and body["fixes"]["evaluations"] == 3


def test_a_bad_budget_is_a_usage_error(capsys):
    code, _, err = run(capsys, "explain", DENIED, "--fix", "--budget", "lots")
    assert code == 2 and "whole number of evaluations" in err


def test_medicare_2025_inherits_the_facts_of_2024():
    policy = load_file("policies/medicare/cts-2025.cts").policy
    from ctsdsl.report.fix import policy_facts
    facts = policy_facts(policy)
    assert "line.minutes" in facts.fields and facts.values["line.modifiers"] == {"CQ", "CO", "95", "93"}


@pytest.mark.parametrize(("fact", "message"), [
    ("line.minuts", "line has no field `minuts`"),
    ("claim.documentation.consnt", "claim.documentation has no field `consnt`"),
    ("line.units in {\"A\"}", "`line.units in ...` marks some values of a list of strings"),
    ("claim.lines", "`claim.lines` is not a field a claim states"),
])
def test_an_unknown_fact_is_an_error_at_the_field(tmp_path, fact, message):
    path = tmp_path / "p.cts"
    path.write_text('policy "p" { payer "x" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "S" url "https://example.com" }\n'
                    f"facts {fact} cites s\n", encoding="utf-8")
    problems = [d for d in load_file(path, raise_on_error=False).diagnostics if d.severity == "error"]
    assert [d.message for d in problems if message in d.message]
    assert all(d.span.line == 3 and d.span.column >= 7 for d in problems)  # at the fact, not the item


def test_the_docs_page_shows_what_explain_fix_prints_today(capsys):
    code, out, _ = run(capsys, "explain", DENIED, "--fix")
    shown = out[out.index("  what would make"):].rstrip("\n")
    page = (FIXTURES.parent.parent / "docs" / "explain.md").read_text(encoding="utf-8")
    assert code == 0 and f"```text\n{shown}\n```" in page
