"""What-if table rows in analyst test cases: cells of a policy's tables set for one case only."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctsdsl import _resources
from ctsdsl.errors import CtsdslError
from ctsdsl.engine.registry import bundled
from ctsdsl.review.testing import Runner, load_cases
from ctsdsl.review.what_if import with_rows

CLAIM = ("{id: c, payer: medicare, date_of_service: '2025-02-03', place_of_service: '11', provider_type: physician,\n"
         "            documentation: {plan_of_care_includes_cts: true, consent: true, reason_without_patient: true,\n"
         "              need_for_occurrence: true, training_described: true, caregiver_response: true,\n"
         "              impact_on_goals: true},\n"
         "            lines: [{code: '97550', units: 1, minutes: 30}]}")


def run_case(tmp_path: Path, rows: str, expect: str = "{outcome: pay}"):
    cases = tmp_path / "rows.yaml"
    cases.write_text("policy: medicare-cts-2025\ncases:\n  - name: a what-if row\n"
                     f"    rows: {rows}\n    claim: {CLAIM}\n    expect: {expect}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    return cases, result


def test_an_emptied_cell_leaves_the_line_allowed_with_an_unknown_amount(tmp_path):
    _, result = run_case(tmp_path, "{rvu: {'97550': {total_nf: null}}}",
                         "{outcome: pay, total_complete: false, lines: [{amount: null, fires: [fee_unknown]}]}")
    assert result.passed, result.problems


def test_a_cell_set_to_another_number_prices_the_line_with_it(tmp_path):
    # 2.00 x 32.3465 = 64.693 -> $64.69, where the file's 1.61 gives $52.08.
    _, result = run_case(tmp_path, "{rvu: {'97550': {total_nf: 2.00}}}", "{lines: [{amount: '64.69'}]}")
    assert result.passed, result.problems


def test_the_case_does_not_change_the_table_for_the_next_case_or_the_file(tmp_path):
    table = _resources.policies_dir() / "medicare" / "data" / "rvu.csv"
    before = table.read_bytes()
    _, result = run_case(tmp_path, "{rvu: {'97550': {total_nf: null}}}", "{lines: [{amount: null}]}")
    assert result.passed
    assert table.read_bytes() == before
    loaded = bundled().load(bundled().by_name("medicare-cts-2025").path)
    assert loaded.checked.tables["rvu"].lookup("97550", "2025-02-03")["total_nf"] is not None


@pytest.mark.parametrize(("rows", "at", "message", "hint"), [
    ("{rvus: {'97550': {total_nf: null}}}", "4:12", "rows: medicare-cts-2025 has no table 'rvus'", "did you mean `rvu`?"),
    ("{rvu: {'97553': {total_nf: null}}}", "4:18", "rows: table rvu has no row '97553'", "did you mean `97552`?"),
    ("{rvu: {'97550': {total_nff: null}}}", "4:28", "rows: table rvu has no column 'total_nff' a case may set",
     "did you mean `total_nf`?"),
    ("{rvu: {'97550': {effective_from: '2020-01-01'}}}", "4:28", "rows: table rvu has no column 'effective_from'",
     ""),
    ("{rvu: {'97550': {total_nf: lots}}}", "4:28", "rows: 'lots' is not a number for column total_nf of rvu",
     "write a number (or null for an empty cell)"),
])
def test_a_misnamed_table_key_or_column_or_a_mistyped_value_fails_the_case_with_a_suggestion(
        tmp_path, rows, at, message, hint):
    cases, result = run_case(tmp_path, rows)
    (problem,) = result.problems
    assert problem.startswith(f"case file error: {cases}:{at}: error: {message}")
    assert hint in problem


@pytest.mark.parametrize("value", ["1e999999999", "1.0e+999999999", "99999999999999999999"])
def test_a_what_if_cell_past_what_money_arithmetic_holds_is_refused_not_written_out(tmp_path, value):
    # Issue 16: int() or format() of 1e999999999 is a gigabyte, and arithmetic on it overflowed (exit 70)
    cases, result = run_case(tmp_path, f"{{rvu: {{'97550': {{total_nf: {value}}}}}}}")
    (problem,) = result.problems
    assert problem.startswith(f"case file error: {cases}:4:28: error: rows:") and "is not a number" in problem


@pytest.mark.parametrize("value", ["1e999999999", "1.0e+999999999", "99999999999999999999"])
def test_a_what_if_parameter_past_what_money_arithmetic_holds_is_refused_with_the_bound(tmp_path, value):
    cases = tmp_path / "params.yaml"
    cases.write_text("policy: medicare-cts-2025\ncases:\n  - name: a what-if parameter\n"
                     f"    params: {{kx_threshold_ot: {value}}}\n    claim: {CLAIM}\n    expect: {{outcome: pay}}\n",
                     encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    (problem,) = result.problems
    assert "is not a money for kx_threshold_ot" in problem and "numbers must be below 1,000,000,000,000,000" in problem


@pytest.mark.parametrize("expect", ["{total_allowed: 1e999999999}", "{lines: [{amount: '9999999999999999999999.5'}]}",
                                    "{total_allowed: lots}"])
def test_an_expected_amount_no_decision_can_have_is_refused_when_the_file_is_read(tmp_path, expect):
    cases = tmp_path / "amounts.yaml"
    cases.write_text(f"cases:\n  - name: x\n    expect: {expect}\n", encoding="utf-8")
    with pytest.raises(CtsdslError) as info:
        load_cases(cases)
    (d,) = info.value.diagnostics
    assert d.span.line == 3 and ("too large" in d.message or "not a number" in d.message)


def test_a_misspelt_column_is_pointed_at_where_the_case_file_writes_it(tmp_path):
    cases = tmp_path / "rows.yaml"
    cases.write_text("policy: medicare-cts-2025\ncases:\n  - name: a what-if row\n"
                     "    rows:\n      rvu:\n        '97550':\n          total_nff: null\n"
                     f"    claim: {CLAIM}\n    expect: {{outcome: pay}}\n", encoding="utf-8")
    (result,) = Runner().run(load_cases(cases)).results
    assert result.problems[0].startswith(f"case file error: {cases}:7:11: error: rows: table rvu has no column")


def test_rows_that_are_not_a_mapping_are_refused_when_the_file_is_read(tmp_path):
    from ctsdsl.errors import CtsdslError
    cases = tmp_path / "rows.yaml"
    cases.write_text("cases:\n  - name: x\n    rows: [rvu]\n    expect: {outcome: pay}\n", encoding="utf-8")
    with pytest.raises(CtsdslError, match="`rows` maps table names"):
        load_cases(cases)


def test_with_rows_sets_a_cell_in_every_dated_version_of_the_key():
    loaded = bundled().load(bundled().by_name("medicare-cts-2026").path)
    changed = with_rows(loaded, {"rvu": {"97550": {"total_f": None}}}, {})
    versions = changed.checked.tables["rvu"].rows["97550"]
    assert len(versions) >= 3 and all(row["total_f"] is None for _, row in versions)
    assert all(row["total_f"] is not None for _, row in loaded.checked.tables["rvu"].rows["97550"])
