"""The bundled analysts' cases, run by pytest: one test per case, and 100% rule coverage.

`ctsdsl test` and this module run the same case files (policies/*/cases/*.yaml), so a
case that fails in CI fails here too, under its own name.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from ctsdsl import _resources
from ctsdsl.errors import CtsdslError
from ctsdsl.engine.loader import load_text
from ctsdsl.engine.registry import bundled
from ctsdsl.review.testing import Case, Runner, find_case_files, load_cases, render_report, run_paths
from ctsdsl.review.what_if import what_if_text

POLICIES = _resources.policies_dir()
CASES = [case for path in find_case_files([POLICIES]) for case in load_cases(path)]


def _case_id(case: Case) -> str:
    return f"{Path(case.file).stem}: {case.name}"


@pytest.fixture(scope="module")
def report():
    return run_paths([POLICIES])


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_bundled_case(case: Case, report) -> None:
    result = next(r for r in report.results if r.case.file == case.file and r.case.line == case.line)
    assert result.passed, "\n".join(result.problems)


def test_every_bundled_rule_fires_in_some_case_and_stays_silent_in_another(report) -> None:
    never_fired = [f"{c.policy} {c.rule}" for c in report.never_fired()]
    never_silent = [f"{c.policy} {c.rule}" for c in report.never_failed_to_fire()]
    assert (never_fired, never_silent) == ([], [])
    assert report.coverage_percent == 100.0


def test_each_year_has_case_files_of_its_own() -> None:
    years = {Path(c.file).name[:4] for c in CASES}
    assert {"2024", "2025", "2026"} <= years


# ---------------------------------------------------------------- example claims
# Each figure worked out by hand from the reference (cts-billing.md §2.5, §3.1, §3.2, §4, §1.11):
#   typical: 2024-05-01 POS 11, 53 min -> 97550 + 2 x 97551 at CF 33.2875: 52.93 + 2 x 26.30 = 105.53
#   30-line: 15 dates of 97550 (45 min) + 97551; 6 before 2024-03-09 at CF 32.7442 (52.06 + 25.87)
#            and 9 from it at CF 33.2875 (52.93 + 26.30): 6 x 77.93 + 9 x 79.23 = 1180.65
#   group: 97552, 3 patients, 2024-10-02 POS 11: 0.67 x 33.2875 = 22.30
#   telehealth-2025: POS 10 (non-facility), 53 min: 52.08 + 2 x 25.55 = 103.18
#   kx-over-threshold: 2300 + 52.93 + 26.30 = 2379.23 > 2330 without KX: both lines denied
#   pt-and-ot-2024: PT/SLP 1500 + 52.93 <= 2330 paid; OT 2290 + 52.93 = 2342.93 > 2330: OT line denied

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "claims"


@pytest.mark.parametrize(("name", "policy", "outcome", "total"), [
    ("typical.json", "medicare-cts-2024", "pay", "105.53"),
    ("30-line.json", "medicare-cts-2024", "pay", "1180.65"),
    ("group.json", "medicare-cts-2024", "pay", "22.30"),
    ("telehealth-2025.json", "medicare-cts-2025", "pay", "103.18"),
    ("kx-over-threshold.json", "medicare-cts-2024", "deny", "0.00"),
    ("pt-and-ot-2024.json", "medicare-cts-2024", "partial", "52.93"),
])
def test_example_claims_get_the_amounts_the_reference_computes(name, policy, outcome, total) -> None:
    import ctsdsl
    decision = ctsdsl.evaluate(json.loads((EXAMPLES / name).read_text(encoding="utf-8")))
    assert (decision.policy.name, decision.outcome, decision.total_allowed) == (policy, outcome, Decimal(total))


def test_the_example_claim_before_2024_says_the_codes_did_not_exist() -> None:
    import ctsdsl
    with pytest.raises(CtsdslError, match="before 2024-01-01 the codes did not exist"):
        ctsdsl.evaluate(json.loads((EXAMPLES / "before-2024.json").read_text(encoding="utf-8")))


# ---------------------------------------------------------------- what-if parameters

def test_a_what_if_sets_a_parameter_through_a_checked_overlay() -> None:
    loaded = bundled().load(bundled().by_name("medicare-cts-2025").path)
    text = what_if_text(loaded, {"therapist_telehealth_allowed": False, "kx_threshold_ot": 2500,
                                 "telehealth_pos": ["02", "10"]}, "here")
    assert "override param therapist_telehealth_allowed: bool = false cites what_if" in text
    assert "override param kx_threshold_ot: money = $2500 cites what_if" in text
    assert 'override param telehealth_pos: set = {"02", "10"} cites what_if' in text
    assert load_text(text, loaded.path.with_name(".what-if.cts")).header.extends == "medicare-cts-2025"


@pytest.mark.parametrize(("params", "message"), [
    ({"no_such_param": 1}, "has no parameter 'no_such_param'"),
    ({"kx_threshold_ot": "a lot"}, "is not a money"),
    ({"therapist_telehealth_allowed": "yes"}, "is not a bool"),
    ({"telehealth_pos": ['02"} rule x {']}, "is not a set"),
    ({"kx_threshold_ot": float("nan")}, "is not a money"),
])
def test_a_what_if_refuses_unknown_parameters_and_values_of_the_wrong_type(params, message) -> None:
    loaded = bundled().load(bundled().by_name("medicare-cts-2025").path)
    with pytest.raises(CtsdslError, match=message):
        what_if_text(loaded, params, "cases.yaml:3")


def test_a_case_with_a_bad_what_if_fails_with_the_reason(tmp_path: Path) -> None:
    cases = tmp_path / "cases" / "what-if.yaml"
    cases.parent.mkdir()
    cases.write_text("policy: medicare-cts-2025\n"
                     "cases:\n"
                     "  - name: unknown parameter\n"
                     "    params: {waivers: false}\n"
                     "    claim: {id: c, payer: medicare, date_of_service: '2025-02-03', place_of_service: '11',\n"
                     "            lines: [{code: '97550', units: 1, minutes: 30}]}\n"
                     "    expect: {outcome: pay}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    assert "has no parameter 'waivers'" in result.problems[0]


@pytest.mark.parametrize("expect", [
    "{not_fires: [kx_threshold_pt_slpp]}",
    "{lines: [{fires: [kx_threshold_pt_slpp]}]}",
])
def test_a_misspelt_rule_id_fails_the_case_with_a_suggestion_instead_of_passing(tmp_path: Path, expect) -> None:
    cases = tmp_path / "typo.yaml"
    cases.write_text("policy: medicare-cts-2024\n"
                     "cases:\n"
                     "  - name: typo\n"
                     "    claim: {id: c, payer: medicare, date_of_service: '2024-05-01', place_of_service: '11',\n"
                     "            provider_type: physician, lines: [{code: '97550', units: 1, minutes: 30}]}\n"
                     f"    expect: {expect}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    assert result.problems[0] == ("medicare-cts-2024 has no rule `kx_threshold_pt_slpp`; "
                                  "did you mean `kx_threshold_pt_slp`?")


@pytest.mark.parametrize("expect", ["", "    expect: {}\n", "    expect: {lines: []}\n"])
def test_a_case_that_expects_nothing_is_refused_because_it_could_never_fail(tmp_path: Path, expect) -> None:
    cases = tmp_path / "empty.yaml"
    cases.write_text("cases:\n  - name: nothing\n    claim: {}\n" + expect, encoding="utf-8")
    with pytest.raises(CtsdslError) as info:
        load_cases(cases)
    (d,) = info.value.diagnostics
    assert (d.span.line, d.message) == (2, "case 1 expects nothing, so it could never fail")


_CLAIM_2024 = ("{id: c, payer: medicare, date_of_service: '2024-05-01', place_of_service: '11', "
               "provider_type: physician, documentation: {consent: true, reason_without_patient: true, "
               "need_for_occurrence: true, training_described: true, caregiver_response: true, "
               "impact_on_goals: true}, lines: [{code: '97550', units: 1, minutes: 30}]}")


@pytest.mark.parametrize(("expect", "problem"), [
    ("{fires: [patient_present]}", "expected rule patient_present to fire; fired: no_mppr, physician_fee_schedule"),
    ("{not_fires: [no_mppr]}", "expected rule no_mppr not to fire, but it did"),
    ("{lines: [{status: allowed}, {status: allowed}]}", "lines: expected 2, the decision has 1"),
    ("{lines: {0: {status: denied}}}", "line #0 (97550) status: expected 'denied', got 'allowed'"),
    ("{lines: [{code: '97551'}]}", "line #0 (97550) code: expected '97551', got '97550'"),
    ("{lines: [{units: 2}]}", "line #0 (97550) units allowed: expected 2, got 1"),
    ("{lines: [{amount: '52.92'}]}", "line #0 (97550) amount: expected '52.92', got '52.93'"),
    ("{lines: [{fires: [patient_present]}]}",
     "line #0 (97550): expected rule patient_present to fire; fired: no_mppr, physician_fee_schedule"),
    # A fee counts as fired on the lines it priced, as coverage counts it.
    ("{lines: [{not_fires: [physician_fee_schedule]}]}",
     "line #0 (97550): expected rule physician_fee_schedule not to fire, but it did"),
    ("{lines: [{not_fires: [no_mppr]}]}", "line #0 (97550): expected rule no_mppr not to fire, but it did"),
    ("{total_allowed: '1.00'}", "total_allowed: expected '1.00', got '52.93'"),
    ("{total_complete: false}", "total_complete: expected False, got True"),
    ("{findings: 3}", "number of findings: expected 3, got 1"),
    ("{error: 'no policy'}", "expected an error containing 'no policy', but the claim was decided (pay)"),
])
def test_a_failing_case_says_what_was_expected_and_what_came_out(tmp_path: Path, expect, problem) -> None:
    cases = tmp_path / "failing.yaml"
    cases.write_text(f"policy: medicare-cts-2024\ncases:\n  - name: f\n    claim: {_CLAIM_2024}\n"
                     f"    expect: {expect}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    assert problem in result.problems


def test_an_unexpected_error_is_shown_with_the_error_text(tmp_path: Path) -> None:
    cases = tmp_path / "erroring.yaml"
    cases.write_text("cases:\n  - name: e\n    claim: {id: c, payer: medicare, date_of_service: '2023-05-01',\n"
                     "            place_of_service: '11', lines: [{code: '97550', units: 1}]}\n"
                     "    expect: {error: 'nothing like this'}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    assert result.problems[0].startswith("expected an error containing 'nothing like this', got: ")
    assert "no medicare policy covers 2023-05-01" in result.problems[0]


def test_the_testing_guide_shows_what_ctsdsl_test_prints_on_the_bundled_policies(capsys) -> None:
    from ctsdsl.cli import main
    assert main(["test"]) == 0
    printed = capsys.readouterr().out
    guide = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    shown = guide.split("## Rule coverage", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    assert printed == shown


@pytest.mark.parametrize(("text", "at", "message"), [
    ("- just a list\n", (1, 1), "a case file is a mapping with a `cases` list"),
    ("cases:\n  - 5\n", (2, 5), "case 1 is not a mapping"),
    # A misspelt key or value is pointed at where it is written, not at the case's first line.
    ("cases:\n  - name: x\n    expext: {outcome: pay}\n", (3, 5), "case 1 has unknown key(s): expext"),
    ("cases:\n  - name: x\n    expect: {outcom: pay}\n", (3, 14), "case 1: unknown expectation(s): outcom"),
    ("cases:\n  - name: x\n    params: [1]\n    expect: {outcome: pay}\n", (3, 13),
     "case 1: `params` maps parameter names to values"),
    # A value no decision can have would fail whatever the policy did, passing for a policy bug.
    ("cases:\n  - name: x\n    expect: {outcome: payed}\n", (3, 23),
     "case 1: outcome 'payed' is not one of pay, partial, deny"),
    ("cases:\n  - name: x\n    expect: {outcome: pay}\n  - name: y\n    expect: {lines: [{status: alowed}]}\n",
     (5, 31), "case 2: line status 'alowed' is not one of allowed, reduced, denied, out_of_scope"),
    ("cases:\n  - name: x\n    expect:\n      lines:\n        - status: allowed\n        - status: reducd\n",
     (6, 19), "case 1: line status 'reducd' is not one of allowed, reduced, denied, out_of_scope"),
    ("cases:\n  - name: x\n    expect: {lines: {0: {units: one}}}\n", (3, 33),
     "case 1: line units 'one' is not a whole number"),
    ("cases:\n  - name: x\n    expect:\n      lines: [{amount: '1.00', stauts: denied}]\n", (4, 32),
     "case 1: unknown line expectation(s): stauts"),
    ("cases:\n  - name: x\n    expect: {findings: 1.5}\n", (3, 24), "case 1: findings 1.5 is not a whole number"),
    ("cases:\n  - name: x\n    expect: {total_complete: \"no\"}\n", (3, 30),
     "case 1: total_complete is true or false, not 'no'"),
    ("cases:\n  - name: x\n    expect: {fires: [a, b], not_fires: [b]}\n", (3, 40),
     "case 1: b both in `fires` and in `not_fires`, so the case can never pass"),
])
def test_a_malformed_case_file_is_refused_at_the_line_and_column_at_fault(tmp_path: Path, text, at, message) -> None:
    d = refusal(tmp_path, text)
    assert ((d.span.line, d.span.column), d.message) == (at, message)


def refusal(tmp_path: Path, text: str):
    """The one diagnostic with which a case file holding `text` is refused when read."""
    cases = tmp_path / "bad.yaml"
    cases.write_text(text, encoding="utf-8")
    with pytest.raises(CtsdslError) as info:
        load_cases(cases)
    (d,) = info.value.diagnostics
    return d


@pytest.mark.parametrize(("text", "hint"), [
    ("cases:\n  - name: x\n    expectt: {outcome: pay}\n", "did you mean `expect`? keys: "),
    ("cases:\n  - name: x\n    expect: {outcomes: pay}\n", "did you mean `outcome`? expectations: "),
    ("cases:\n  - name: x\n    expect: {lines: [{ammount: '1.00'}]}\n", "did you mean `amount`? line expectations: "),
    ("cases:\n  - name: x\n    expect: {lines: [{status: reducd}]}\n", "did you mean `reduced`?"),
])
def test_a_misspelt_key_or_value_gets_a_did_you_mean(tmp_path: Path, text, hint) -> None:
    assert refusal(tmp_path, text).hint.startswith(hint)


def test_a_misspelt_what_if_parameter_fails_the_case_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    cases = tmp_path / "what-if.yaml"
    cases.write_text("policy: medicare-cts-2025\n"
                     "cases:\n"
                     "  - name: misspelt parameter\n"
                     "    params:\n"
                     "      kx_treshold_ot: 1000\n"
                     "    claim: {id: c, payer: medicare, date_of_service: '2025-02-03', place_of_service: '11',\n"
                     "            lines: [{code: '97550', units: 1, minutes: 30}]}\n"
                     "    expect: {error: 'no parameter'}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    # The case file's own mistake: it fails even though the case expects an error that mentions it.
    (problem,) = result.problems
    assert problem.startswith(f"case file error: {cases}:5:7: error: params: medicare-cts-2025 has no "
                              "parameter 'kx_treshold_ot'\n  hint: did you mean `kx_threshold_ot`?")


def test_a_failing_case_shows_what_the_policy_decided_on_each_line(tmp_path: Path) -> None:
    cases = tmp_path / "failing.yaml"
    cases.write_text("policy: medicare-cts-2024\ncases:\n  - name: f\n"
                     f"    claim: {_CLAIM_2024.replace('minutes: 30', 'minutes: 15')}\n"
                     "    expect: {lines: [{amount: '52.93'}]}\n", encoding="utf-8")
    report = Runner().run(load_cases(cases))
    (result,) = report.results
    # The amount alone does not say why: the line was denied, and the rule that denied it is shown.
    assert result.decided == ["decided: deny, total allowed 0.00 by medicare-cts-2024",
                              "  line #0 (97550): denied, 0 of 1 unit(s), 0.00; fired no_mppr, initial_too_short"]
    rendered = render_report(report).splitlines()
    assert rendered[1:4] == ["       line #0 (97550) amount: expected '52.93', got '0.00'",
                             "       decided: deny, total allowed 0.00 by medicare-cts-2024",
                             "         line #0 (97550): denied, 0 of 1 unit(s), 0.00; fired no_mppr, initial_too_short"]


def test_a_passing_case_keeps_no_decision_summary(tmp_path: Path) -> None:
    cases = tmp_path / "passing.yaml"
    cases.write_text(f"policy: medicare-cts-2024\ncases:\n  - name: p\n    claim: {_CLAIM_2024}\n"
                     "    expect: {outcome: pay}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    assert (result.passed, result.decided) == (True, [])


# ---------------------------------------------------------------- cases in a copy of the policies

def _copied_tree(tmp_path: Path) -> Path:
    """A copy of the bundled policies where 97550 is never too short: the 15-minute case must fail."""
    tree = tmp_path / "work" / "policies"
    shutil.copytree(POLICIES, tree)
    policy = tree / "medicare" / "cts-2024.cts"
    text = policy.read_text(encoding="utf-8")
    rule = text.index("rule initial_too_short")
    changed = text[rule:].replace('role == "initial"', 'role == "never"', 1)
    policy.write_text(text[:rule] + changed, encoding="utf-8")
    return tree


def test_cases_in_a_copied_tree_run_against_the_copy_and_measure_its_rules(tmp_path: Path, monkeypatch) -> None:
    tree = _copied_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    report = run_paths([tree / "medicare" / "cases" / "2024-time.yaml"])
    failed = [r.case.name for r in report.failed]
    assert "97550 with 15 minutes is denied" in failed
    assert {r.policy_path for r in report.results} == {"medicare/cts-2024.cts"}  # relative to its root
    assert {c.policy for c in report.coverage.values()} == {str(Path("work/policies/medicare/cts-2024.cts"))}
    assert str(Path("work/policies/medicare/cts-2024.cts")) + " initial_too_short" in \
        [f"{c.policy} {c.rule}" for c in report.never_fired()]


def test_a_case_in_a_copied_tree_finds_a_policy_only_that_tree_has(tmp_path: Path) -> None:
    tree = _copied_tree(tmp_path)
    policy = tree / "medicare" / "cts-2024.cts"
    text = policy.read_text(encoding="utf-8").replace('policy "medicare-cts-2024"',
                                                      'policy "medicare-cts-2024-draft"', 1)
    (tree / "medicare" / "cts-2024-draft.cts").write_text(text.replace("payer \"medicare\"", "payer \"draft\"", 1),
                                                          encoding="utf-8")
    cases = tree / "medicare" / "cases" / "draft.yaml"
    cases.write_text(f"policy: medicare-cts-2024-draft\ncases:\n  - name: d\n    claim: {_CLAIM_2024}\n"
                     "    expect: {policy: medicare-cts-2024-draft}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    assert result.problems == []


def test_a_case_file_outside_any_policy_tree_uses_its_folder_then_the_bundled_policies(tmp_path: Path) -> None:
    cases = tmp_path / "loose.yaml"
    cases.write_text(f"cases:\n  - name: l\n    claim: {_CLAIM_2024}\n    expect: {{policy: medicare-cts-2024}}\n"
                     "  - name: m\n    policy: medicare-cts-2024x\n"
                     f"    claim: {_CLAIM_2024}\n    expect: {{outcome: pay}}\n", encoding="utf-8")
    ok, missing = Runner().run(load_cases(cases)).results
    assert ok.problems == []
    assert f"no policy named 'medicare-cts-2024x' in {tmp_path} or {POLICIES}" in missing.problems[0]
    assert "did you mean 'medicare-cts-2024'?" in missing.problems[0]


def test_a_run_that_decided_nothing_has_no_rules_to_cover_and_no_coverage(tmp_path: Path) -> None:
    report = run_paths([tmp_path])
    assert (report.results, report.coverage_percent) == ([], 0.0)
    assert "rule coverage: no rules to cover" in render_report(report)


# ---------------------------------------------------------------- 2026's two conversion factors
# The reference has no 2026 RVU totals, so no 2026 case can show a factor in an amount. An
# overlay that prices every line at exactly 1 RVU shows which factor the fee uses.

def _one_rvu_2026(*, all_claims_qualifying: bool = False):
    parent = bundled().by_name("medicare-cts-2026").path
    text = ('policy "one-rvu" {\n  title "t"\n  payer "medicare"\n  version "t"\n'
            '  effective 2026-01-01 to 2026-12-31\n  extends "medicare-cts-2026"\n}\n'
            'source t { title "a test" url "tests/test_policy_cases.py" }\n'
            "override let setting_rvu = 1\n"
            "override let fee_known = true\n")
    if all_claims_qualifying:
        text += "override param all_claims_qualifying_apm: bool = true cites t\n"
    return load_text(text, parent.with_name(".one-rvu.cts")).evaluator()


def _claim_2026(**extra) -> dict:
    documentation = dict.fromkeys(["plan_of_care_includes_cts", "consent", "reason_without_patient",
                                   "need_for_occurrence", "training_described", "caregiver_response",
                                   "impact_on_goals"], True)
    return {"id": "cf-2026", "payer": "medicare", "date_of_service": "2026-04-01", "place_of_service": "11",
            "documentation": documentation, "lines": [{"code": "97550", "units": 1, "minutes": 30,
                                                       "modifiers": ["GP"]}], **extra}


def test_2026_pays_the_non_qualifying_factor_by_default_and_the_qualifying_one_on_request() -> None:
    evaluator = _one_rvu_2026()
    assert evaluator.evaluate(_claim_2026()).lines[0].allowed_amount == Decimal("33.40")  # $33.4009
    assert evaluator.evaluate(_claim_2026(apm_qualifying=True)).lines[0].allowed_amount == Decimal("33.57")


def test_a_payer_wide_switch_chooses_the_qualifying_factor_for_every_2026_claim() -> None:
    evaluator = _one_rvu_2026(all_claims_qualifying=True)
    assert evaluator.evaluate(_claim_2026()).lines[0].allowed_amount == Decimal("33.57")  # $33.5675


# ---------------------------------------------------------------- how coverage is counted

def test_a_rule_without_a_condition_is_listed_apart_and_a_fee_counts_silent_only_where_it_priced_nothing() -> None:
    report = run_paths([POLICIES / "medicare" / "cases" / "2024-time.yaml"])  # every line there has a fee
    never_silent = {c.rule for c in report.never_failed_to_fire()}
    assert "physician_fee_schedule" in never_silent
    assert "no_mppr" not in never_silent
    assert "no_mppr" in {c.rule for c in report.unconditional()}
    # A what-if row there takes 97551's non-facility total away: the fee applies to the line and prices nothing.
    fees = run_paths([POLICIES / "medicare" / "cases" / "2024-fees.yaml"])
    assert "physician_fee_schedule" not in {c.rule for c in fees.never_failed_to_fire()}


def test_a_partial_override_that_keeps_the_condition_shares_its_parents_silent_cases() -> None:
    # 2025 restates only the fee's citations, and no 2025 case leaves a payable line unpriced; the
    # 2024 case whose what-if row blanks a figure shows the condition false.
    report = run_paths([POLICIES / "medicare" / "cases" / "2025-fees.yaml",
                        POLICIES / "medicare" / "cases" / "2024-fees.yaml"])
    entry = next(c for c in report.coverage.values() if c.rule == "physician_fee_schedule" and "2025" in c.policy)
    assert entry.condition is not None and "cts-2024" in entry.condition[0]
    assert entry.not_fired == 0
    assert entry not in report.never_failed_to_fire()


# ---------------------------------------------------------------- one case per rule per year

# Rules that no claim of a year could make fire, because the reference had no figure for it. Since
# CMS's own RVU and MUE files filled the gaps (every code priced, every CTS code's MUE known), none.
CANNOT_FIRE: dict[str, set[str]] = {}


@pytest.mark.parametrize("name", ["medicare-cts-2024", "medicare-cts-2025", "medicare-cts-2026"])
def test_each_years_policy_has_a_case_that_fires_each_of_its_rules(name, report) -> None:
    from ctsdsl.language import nodes as n
    loaded = bundled().load(bundled().by_name(name).path)
    rules = {i.id for i in loaded.policy.of_kind(n.Rule) + loaded.policy.of_kind(n.Fee)}
    fired = set().union(*(r.fired for r in report.results if r.policy_name == name))
    assert rules - fired == CANNOT_FIRE.get(name, set())


def test_a_policy_outside_any_policies_tree_finds_its_cases_beside_it_and_dates_can_be_what_ifs(tmp_path: Path):
    # The usual layout: the policy, and its cases in `cases/` beside it; a date parameter set quoted or not.
    (tmp_path / "cases").mkdir()
    (tmp_path / "p.cts").write_text(
        'policy "dp" {\n  payer "dp"\n  version "1"\n  effective 2025-01-01 to 2025-12-31\n  governs "97550"\n}\n'
        'source s { title "s" url "https://e.org" }\n'
        "param cutoff: date = 2025-09-30 cites s\nparam plain = 2025-06-30 cites s\n"
        'rule late { title "late" cites s applies to line when claim.date_of_service > cutoff '
        'and claim.date_of_service > plain deny message "late" }\n', encoding="utf-8")
    cases = tmp_path / "cases" / "c.yaml"
    cases.write_text(
        "policy: dp\ndefaults: {payer: dp, date_of_service: '2025-08-01', place_of_service: '11',\n"
        "           lines: [{code: '97550', units: 1}]}\ncases:\n"
        "  - {name: before, expect: {outcome: pay, not_fires: [late]}}\n"
        "  - {name: what-if, params: {cutoff: 2025-01-01, plain: '2025-01-02'}, expect: {outcome: deny, fires: [late]}}\n"
        "  - {name: no such day, params: {cutoff: 2025-02-30}, expect: {outcome: deny}}\n", encoding="utf-8")
    results = Runner().run(load_cases(cases)).results
    assert [r.problems for r in results[:2]] == [[], []]
    assert "params: '2025-02-30' is not a date for cutoff" in results[2].problems[0]


def test_a_policy_no_case_was_run_under_is_named_though_it_adds_no_rule(tmp_path: Path) -> None:
    # A new year that only overrides figures has nothing for coverage to count: say it was never run.
    import shutil
    shutil.copytree(Path(__file__).resolve().parent.parent / "policies" / "examples", tmp_path / "policies")
    (tmp_path / "policies" / "later.cts").write_text(
        'policy "later" {\n  payer "later"\n  version "1"\n  effective 2026-01-01 to 2026-12-31\n'
        '  extends "medicare-cts-2026"\n}\n', encoding="utf-8")
    report = run_paths([tmp_path / "policies"])
    assert [Path(p).name for p in report.untested] == ["later.cts"]
    assert "  no case was decided by: " in render_report(report)


def test_a_policy_file_given_to_ctsdsl_test_is_refused_pointing_at_its_folder() -> None:
    with pytest.raises(CtsdslError) as info:
        run_paths(["policies/medicare/cts-2024.cts"])
    (d,) = info.value.diagnostics
    assert "is a policy file, and ctsdsl test runs case files" in d.message and "policies/medicare" in d.hint
