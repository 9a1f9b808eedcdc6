"""The command line: exit codes 0/1/2/3, JSON that matches the schema, and never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from ctsdsl import _resources, cli

from conftest import FIXTURES, ROOT, medicare_claim, medicare_tree_without_a_fee, policy_text

TYPICAL = str(ROOT / "examples" / "claims" / "typical.json")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run `ctsdsl argv...` in this process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def write_claim(tmp_path, claim: dict, name: str = "claim.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(claim), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def decision_validator():
    body = json.loads(_resources.schema_path("decision.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(body, format_checker=Draft202012Validator.FORMAT_CHECKER)


# ------------------------------------------------------------------ eval


def test_eval_prints_the_decision_and_exits_0(capsys):
    code, out, _ = run(capsys, "eval", TYPICAL)
    assert code == 0
    assert "claim example-typical-2024: PAY" in out
    assert "policy medicare-cts-2024" in out


def test_eval_json_prints_a_decision_that_matches_the_schema(capsys, decision_validator):
    code, out, _ = run(capsys, "eval", TYPICAL, "--json")
    assert code == 0
    body = json.loads(out)
    assert list(decision_validator.iter_errors(body)) == []
    assert body["policy"]["file"] == "medicare/cts-2024.cts"


def test_eval_json_of_several_claims_prints_a_list(capsys, tmp_path, decision_validator):
    lines = "\n".join(json.dumps(medicare_claim(id=f"m-{i}")) for i in range(3))
    (tmp_path / "claims.jsonl").write_text(lines, encoding="utf-8")
    code, out, _ = run(capsys, "eval", str(tmp_path / "claims.jsonl"), "--json")
    assert code == 0
    body = json.loads(out)
    assert [d["claim_id"] for d in body] == ["m-0", "m-1", "m-2"]
    assert all(decision_validator.is_valid(d) for d in body)


def test_eval_reads_yaml_claims(capsys, tmp_path):
    (tmp_path / "claim.yaml").write_text(
        "id: y-1\npayer: medicare\ndate_of_service: '2024-05-01'\nplace_of_service: '11'\n"
        "lines:\n  - {code: '97550', units: 1}\n", encoding="utf-8")
    code, out, _ = run(capsys, "eval", str(tmp_path / "claim.yaml"))
    assert code == 0 and "claim y-1" in out


@pytest.mark.parametrize("command", ["eval", "explain"])
def test_control_and_bidi_characters_of_a_claim_reach_the_terminal_escaped(capsys, tmp_path, command):
    # Issue 16: an id holding ESC [2J cleared the screen; a right-to-left override reordered the line
    path = write_claim(tmp_path, medicare_claim(id="c\x1b[2J\u202eexe.pdf"))
    code, out, _ = run(capsys, command, path)
    assert code == 0 and "claim c\\x1b[2J\\u202eexe.pdf: PAY" in out
    assert "\x1b" not in out and "\u202e" not in out


def test_a_hint_that_echoes_the_input_shows_its_control_characters_escaped(capsys, tmp_path):
    folder = tmp_path / "claims\x1b[2J"  # the hint suggests the folder's .json files, naming it
    folder.mkdir()
    code, _, err = run(capsys, "eval", str(folder))
    assert code == 2 and "or several: " in err and "claims\\x1b[2J/*.json" in err and "\x1b" not in err


def test_a_bidi_override_in_a_policy_line_is_escaped_in_the_excerpt_with_the_caret_under_it(capsys, tmp_path):
    path = tmp_path / "p.cts"
    path.write_text(policy_text("let x\u202e = 1\n"), encoding="utf-8")
    code, _, err = run(capsys, "check", str(path))
    line, caret = next((a, b) for a, b in zip(err.splitlines(), err.splitlines()[1:]) if "let x" in a)
    assert code == 1 and line.endswith("| let x\\u202e = 1")
    assert caret.index("^") == line.index("\\u202e") and caret.count("^") == len("\\u202e")


def test_a_file_name_that_is_not_utf8_is_shown_by_its_bytes_and_breaks_no_command(capsys, tmp_path):
    # Issue 16: such a name (a lone surrogate once decoded) failed writing it out, exit 70
    claim = tmp_path / os.fsdecode(b"claim-\xfd.json")
    claim.write_text(json.dumps({"id": "c"}), encoding="utf-8")
    code, _, err = run(capsys, "eval", str(claim))
    assert code == 2 and "claim-\\xfd.json: $: error: the required field" in err
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / os.fsdecode(b"p-\xfe.cts")).write_text(policy_text(""), encoding="utf-8")
    pages = tmp_path / "pages"
    assert run(capsys, "docs", str(folder), "-o", str(pages))[0] == 0
    assert "`policies/p-\\xfe.cts`" in (pages / "test-policy.md").read_text(encoding="utf-8")
    assert run(capsys, "docs", str(folder), "-o", str(pages), "--check")[0] == 0
    code, out, _ = run(capsys, "fmt", "--check", str(folder))
    assert code == 1 and "p-\\xfe.cts would be reformatted" in out


def test_a_malformed_claim_exits_2_naming_the_file_and_json_path(capsys, tmp_path):
    path = write_claim(tmp_path, medicare_claim(lines=[{"code": "97550", "units": 0}]))
    code, out, err = run(capsys, "eval", path)
    assert code == 2 and out == ""
    assert path in err and "$.lines[0].units" in err


def test_a_claim_file_that_is_not_json_exits_2(capsys, tmp_path):
    (tmp_path / "broken.json").write_text('{"id": ', encoding="utf-8")
    code, _, err = run(capsys, "eval", str(tmp_path / "broken.json"))
    assert code == 2 and "broken.json" in err


def test_a_claim_for_a_payer_without_a_policy_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "eval", write_claim(tmp_path, medicare_claim(payer="acme")))
    assert code == 2
    assert "no policy for payer 'acme'" in err and "$.payer" in err


def test_a_claim_for_a_payer_whose_policy_is_not_bundled_is_told_how_to_name_that_policy(capsys, tmp_path):
    code, _, err = run(capsys, "eval", write_claim(tmp_path, medicare_claim(payer="sunrise")))
    assert code == 2
    assert "payers with policies: " in err and "medicare" in err
    assert "--policy PATH.cts" in err


def test_the_python_hint_for_a_payer_without_a_policy_names_the_policy_argument():
    import ctsdsl
    from ctsdsl.errors import PolicyNotFoundError
    with pytest.raises(PolicyNotFoundError) as info:
        ctsdsl.evaluate(medicare_claim(payer="sunrise"))
    assert "policy=PATH" in info.value.diagnostics[0].hint


@pytest.mark.parametrize("command", ["eval", "explain", "batch"])
def test_a_folder_given_as_the_claim_file_exits_2_saying_it_is_a_folder(capsys, tmp_path, command):
    folder = tmp_path / "policies"
    folder.mkdir()
    code, _, err = run(capsys, command, str(folder))
    assert code == 2
    assert f"{folder} is not a regular file but a folder: a claim file is needed" in err
    assert "cannot tell the format" not in err


def test_a_claim_dated_before_every_policy_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "eval", write_claim(tmp_path, medicare_claim(date_of_service="2023-06-01")))
    assert code == 2 and "no medicare policy covers 2023-06-01" in err


def test_an_unknown_policy_name_exits_2(capsys):
    code, _, err = run(capsys, "eval", TYPICAL, "--policy", "medicare-cts-1999")
    assert code == 2 and "no policy named 'medicare-cts-1999'" in err


def test_a_policy_with_errors_exits_1(capsys):
    code, _, err = run(capsys, "eval", TYPICAL, "--policy", str(FIXTURES / "errors" / "unknown_field.cts"))
    assert code == 1
    assert "unknown_field.cts:16:8: error: line has no field `minuts`" in err
    assert "^^^" in err


def test_a_rule_that_cannot_be_evaluated_exits_3_showing_the_rule(capsys, tmp_path):
    policy = tmp_path / "p.cts"
    policy.write_text(policy_text('rule long {\n  title "L"\n  cites s\n  when line.minutes > 60\n  deny\n'
                                  '  message "m"\n}\n'), encoding="utf-8")
    claim = medicare_claim(lines=[{"code": "97550", "units": 1}])
    code, _, err = run(capsys, "eval", write_claim(tmp_path, claim), "--policy", str(policy))
    assert code == 3
    assert "rule `long` could not be evaluated at $.lines[0]" in err
    assert "| rule long {" in err and "| ^" in err


# ------------------------------------------------------------------ explain


def test_explain_shows_the_rules_that_fired_with_their_values_and_citations(capsys, tmp_path):
    claim = medicare_claim(lines=[{"code": "97550", "units": 1, "minutes": 12, "modifiers": ["GP"]}])
    code, out, _ = run(capsys, "explain", write_claim(tmp_path, claim))
    assert code == 0
    assert "initial_too_short" in out
    assert "read line.minutes = 12" in out
    assert "AMA CPT time rule" in out


def test_explain_all_also_lists_rules_that_did_not_fire(capsys):
    _, quiet, _ = run(capsys, "explain", TYPICAL)
    code, everything, _ = run(capsys, "explain", TYPICAL, "--all")
    assert code == 0
    assert "patient_present" in everything and "patient_present" not in quiet


def test_explain_of_a_malformed_claim_exits_2(capsys, tmp_path):
    code, _, _ = run(capsys, "explain", write_claim(tmp_path, {"id": "x"}))
    assert code == 2


# ------------------------------------------------------------------ check


def test_check_of_the_bundled_policies_exits_0(capsys):
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert out.strip().endswith(": ok")


def test_check_reports_every_broken_policy_and_exits_1(capsys):
    folder = FIXTURES / "errors"
    code, out, err = run(capsys, "check", str(folder))
    files = sorted(folder.glob("*.cts"))
    assert code == 1
    assert f"checked {len(files)} policy file(s): {len(files)} error(s)" in out
    for path in files:
        assert f"{path}:" in err


def _period_policy(folder, name: str, period: str) -> None:
    text = policy_text("").replace('"test-policy"', f'"{name}"').replace("2024-01-01 to 2024-12-31", period)
    (folder / f"{name}.cts").write_text(text, encoding="utf-8")


def test_check_refuses_two_policies_of_one_payer_in_force_on_the_same_day(capsys, tmp_path):
    # A claim dated in the overlap could not be decided; check says so before a claim meets it.
    _period_policy(tmp_path, "test-2024", "2024-01-01 to 2024-12-31")
    _period_policy(tmp_path, "test-mid-2024", "2024-07-01")
    code, out, err = run(capsys, "check", str(tmp_path))
    assert code == 1 and "1 error(s)" in out
    assert f"{tmp_path / 'test-mid-2024.cts'}:5:3: error: policy test-mid-2024 (2024-07-01 to open) overlaps " \
           f"test-2024 (2024-01-01 to 2024-12-31" in err
    assert "a claim dated 2024-07-01 would have two policies" in err


def test_check_accepts_one_payers_policies_that_follow_one_another(capsys, tmp_path):
    _period_policy(tmp_path, "test-2024", "2024-01-01 to 2024-06-30")
    _period_policy(tmp_path, "test-mid-2024", "2024-07-01")
    code, out, _ = run(capsys, "check", str(tmp_path))
    assert code == 0 and out.strip().endswith(": ok")


def test_check_of_a_missing_file_exits_1_naming_it(capsys, tmp_path):
    code, _, err = run(capsys, "check", str(tmp_path / "nosuch.cts"))
    assert code == 1 and "policy file not found" in err and "nosuch.cts" in err


# ------------------------------------------------------------------ the command line itself


def test_check_of_a_folder_without_policy_files_exits_2_rather_than_passing(capsys, tmp_path):
    code, _, err = run(capsys, "check", str(tmp_path))
    assert code == 2 and "no .cts policy files in folder" in err


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "eval" in out and "check" in out


def test_an_unknown_option_exits_2(capsys):
    code, _, err = run(capsys, "eval", TYPICAL, "--no-such-option")
    assert code == 2 and "unrecognized arguments" in err


def test_every_command_in_the_readme_exists(capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = {line.split()[1] for line in readme.splitlines() if line.startswith("ctsdsl ")}
    commands = set(cli.build_parser()._subparsers._group_actions[0].choices)
    assert commands <= listed, f"not in the README: {commands - listed}"
    assert listed <= commands, f"in the README but not a command: {listed - commands}"


def test_an_internal_error_exits_70_without_a_traceback(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("unexpected")
    monkeypatch.setattr(cli, "cmd_check", boom)
    code, _, err = run(capsys, "check")
    assert code == 70
    assert "internal error: RuntimeError: unexpected" in err


def test_python_dash_m_ctsdsl_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "ctsdsl", "eval", TYPICAL, "--json"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "pay"


def test_the_installed_script_reports_a_bad_claim_with_exit_2_and_no_traceback(tmp_path):
    path = write_claim(tmp_path, {"id": "x", "payer": "medicare"})
    done = subprocess.run([sys.executable, "-m", "ctsdsl", "eval", path], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and 'the required field "date_of_service" is missing' in done.stderr


# ------------------------------------------------------------------ test


def test_the_bundled_test_cases_pass(capsys):
    code, out, _ = run(capsys, "test")
    assert code == 0 and "FAIL" not in out


def test_a_failing_test_case_exits_1_saying_what_differed(capsys, tmp_path):
    (tmp_path / "cases.yaml").write_text(
        "policy: medicare-cts-2024\ncases:\n  - name: wrongly expects a denial\n    claim:\n"
        "      {id: t, payer: medicare, date_of_service: '2024-05-01', place_of_service: '11',\n"
        "       provider_type: physician, documentation: {consent: true, reason_without_patient: true,\n"
        "       need_for_occurrence: true, training_described: true, caregiver_response: true,\n"
        "       impact_on_goals: true}, lines: [{code: '97550', units: 1, minutes: 30}]}\n"
        "    expect: {outcome: deny}\n", encoding="utf-8")
    code, out, _ = run(capsys, "test", str(tmp_path / "cases.yaml"))
    assert code == 1
    assert "FAIL" in out and "wrongly expects a denial" in out


def test_eval_of_a_claim_with_an_unknown_fee_says_its_total_is_only_the_known_part(capsys, tmp_path):
    # A tree whose RVU table lacks 97550's 2026 non-facility totals (as a release with a missing figure
    # would leave it): the amount is unknown, and "$0.00" alone would read as paid nothing.
    tree = medicare_tree_without_a_fee(tmp_path)
    path = write_claim(tmp_path, medicare_claim(date_of_service="2026-03-02"))
    code, out, _ = run(capsys, "eval", path, "--policies", str(tree))
    assert code == 0
    assert out.splitlines()[0] == "claim m-1: PAY, total allowed $0.00 known, 1 line(s) of unknown amount"
    assert out.splitlines()[3].split()[-4:] == ["units", "unknown", "F1", "F2"]
    code, out, _ = run(capsys, "eval", "--json", path, "--policies", str(tree))
    decision = json.loads(out)
    assert (decision["total_allowed"], decision["total_complete"]) == ("0.00", False)


def test_test_of_a_folder_without_cases_fails_rather_than_passing_on_nothing(capsys, tmp_path):
    code, _, err = run(capsys, "test", str(tmp_path))
    assert code == 1 and f"no test cases found in {tmp_path}" in err


def _own_tree(tmp_path):
    """A policy tree of one's own: a payer of its own, extending the bundled Medicare 2025 policy."""
    import shutil
    tree = tmp_path / "policies"
    shutil.copytree(_resources.policies_dir() / "medicare", tree / "medicare")
    (tree / "sunrise").mkdir()
    (tree / "sunrise" / "sunrise-2025.cts").write_text(
        'policy "sunrise-2025" {\n  title "Sunrise"\n  payer "sunrise"\n  version "1"\n'
        '  effective 2025-01-01 to 2025-12-31\n  extends "medicare-cts-2025"\n}\n', encoding="utf-8")
    return tree


def test_policies_chooses_each_claims_policy_in_a_tree_of_ones_own(capsys, tmp_path):
    tree = _own_tree(tmp_path)
    path = write_claim(tmp_path, medicare_claim(payer="sunrise", date_of_service="2025-06-02"))
    code, out, err = run(capsys, "eval", path)
    assert code == 2 and "--policies DIR" in err  # the bundled policies know no such payer, and say what to do
    code, out, _ = run(capsys, "eval", path, "--policies", str(tree))
    assert code == 0 and "policy sunrise-2025 version 1" in out


def test_policies_must_name_a_folder_of_policies(capsys, tmp_path):
    path = write_claim(tmp_path, medicare_claim())
    code, _, err = run(capsys, "eval", path, "--policies", str(tmp_path / "nope"))
    assert code == 2 and "is not a folder of policies" in err
