"""The public Python API: load, check, compile, evaluate, and the decision's JSON form."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

import ctsdsl
from ctsdsl import _resources
from ctsdsl.errors import ClaimError, PolicyNotFoundError, PolicySemanticError

from conftest import ROOT, medicare_claim, policy_text


@pytest.fixture(scope="module")
def decision_schema():
    schema = json.loads(_resources.schema_path("decision.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


# ------------------------------------------------------------------ the package surface


def test_the_public_names_are_few_explicit_and_all_importable():
    core = {"load_policy", "compile", "evaluate", "check", "parse", "Decision", "Evaluator", "CtsdslError",
            "ClaimError", "EvaluationError", "PolicyNotFoundError", "PolicySemanticError", "PolicySyntaxError",
            "Diagnostic"}
    assert core <= set(ctsdsl.__all__)
    assert len(ctsdsl.__all__) < 30
    assert all(not name.startswith("_") and hasattr(ctsdsl, name) for name in ctsdsl.__all__)


def test_the_version_comes_from_the_installed_package():
    assert isinstance(ctsdsl.__version__, str) and ctsdsl.__version__


# ------------------------------------------------------------------ loading and compiling


def test_a_bundled_policy_loads_by_name_or_by_path():
    by_name = ctsdsl.load_policy("medicare-cts-2024")
    by_path = ctsdsl.load_policy(_resources.policies_dir() / "medicare" / "cts-2024.cts")
    assert by_name.header.payer == by_path.header.payer == "medicare"
    assert by_name.digest == by_path.digest


def test_an_unknown_policy_name_suggests_the_closest_one():
    with pytest.raises(PolicyNotFoundError) as info:
        ctsdsl.load_policy("medicare-cts-2042")
    (d,) = info.value.diagnostics
    assert d.code == "unknown-policy"
    assert "did you mean 'medicare-cts-20" in d.hint


def test_loading_a_broken_policy_raises_with_every_error(tmp_path):
    path = tmp_path / "bad.cts"
    path.write_text(policy_text('rule r { title "R" cites nowhere when line.minuts > 1 deny message "m" }'))
    with pytest.raises(PolicySemanticError) as info:
        ctsdsl.load_policy(path)
    assert [d.code for d in info.value.diagnostics] == ["unknown-source", "unknown-field"]
    assert info.value.exit_code == 1


def test_compile_returns_an_evaluator_that_decides_many_claims():
    evaluator = ctsdsl.compile("medicare-cts-2024")
    assert isinstance(evaluator, ctsdsl.Evaluator)
    first = evaluator.evaluate(medicare_claim())
    second = evaluator.evaluate(medicare_claim(id="m-2"))
    assert (first.outcome, second.outcome, second.claim_id) == ("pay", "pay", "m-2")


def test_compiling_a_bundled_name_twice_shares_one_evaluator():
    assert ctsdsl.compile("medicare-cts-2024") is ctsdsl.compile("medicare-cts-2024")


def test_compile_accepts_a_loaded_policy_or_a_path(tmp_path):
    path = tmp_path / "p.cts"
    path.write_text(policy_text('rule r { title "R" cites s deny message "m" }'))
    for policy in (path, str(path), ctsdsl.load_policy(path)):
        assert ctsdsl.compile(policy).info.name == "test-policy"


# ------------------------------------------------------------------ choosing the policy by payer and date


@pytest.mark.parametrize(("date", "name"), [
    ("2024-01-01", "medicare-cts-2024"), ("2024-12-31", "medicare-cts-2024"),
    ("2025-06-30", "medicare-cts-2025"), ("2026-02-01", "medicare-cts-2026"),
])
def test_evaluate_chooses_the_bundled_policy_in_force_on_the_date_of_service(date, name):
    assert ctsdsl.evaluate(medicare_claim(date_of_service=date)).policy.name == name


def test_a_payer_without_a_policy_is_a_claim_problem():
    with pytest.raises(PolicyNotFoundError) as info:
        ctsdsl.evaluate(medicare_claim(payer="acme"))
    (d,) = info.value.diagnostics
    assert (d.code, d.path) == ("unknown-payer", "$.payer")
    assert "medicare" in d.hint
    assert info.value.exit_code == 2


@pytest.mark.parametrize("payer", ["Medicare", "medicar"])
def test_a_payer_written_almost_like_one_with_a_policy_gets_a_did_you_mean(payer):
    # Payers match exactly (a policy is never chosen by a guess), so the hint says which one was meant.
    with pytest.raises(PolicyNotFoundError) as info:
        ctsdsl.evaluate(medicare_claim(payer=payer))
    assert info.value.diagnostics[0].hint.startswith("did you mean 'medicare'? payers with policies: ")


def test_a_date_no_policy_covers_is_a_clear_error_not_a_guess():
    with pytest.raises(PolicyNotFoundError) as info:
        ctsdsl.evaluate(medicare_claim(date_of_service="2023-12-31"))
    (d,) = info.value.diagnostics
    assert (d.code, d.path) == ("no-policy-in-force", "$.date_of_service")
    assert "takes effect 2024-01-01" in d.message
    assert info.value.exit_code == 2


def _line(date: str | None = None) -> dict:
    line = {"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}
    return line if date is None else {**line, "date_of_service": date}


@pytest.mark.parametrize(("claim_date", "line_date", "other"), [
    ("2024-12-31", "2025-01-02", "under policy medicare-cts-2025"),
    ("2025-01-02", "2024-12-30", "under policy medicare-cts-2024"),
    ("2026-12-31", "2027-01-04", "when no medicare policy is in force"),
])
def test_a_claim_whose_lines_fall_under_two_policies_must_be_split(claim_date, line_date, other):
    with pytest.raises(ClaimError) as info:
        ctsdsl.evaluate(medicare_claim(date_of_service=claim_date, lines=[_line(), _line(line_date)]))
    (d,) = info.value.diagnostics
    assert (d.code, d.path) == ("claim-spans-policies", "$.lines[1].date_of_service")
    assert other in d.message and "split the claim" in d.hint
    assert info.value.exit_code == 2


def test_a_line_dated_before_any_policy_is_left_to_the_policy_which_says_the_code_did_not_exist():
    decision = ctsdsl.evaluate(medicare_claim(lines=[_line(), _line("2023-12-29")]))
    assert [line.status for line in decision.lines] == ["allowed", "denied"]
    assert "code_not_in_force" in {f.rule for f in decision.findings}


def test_a_line_dated_elsewhere_in_the_same_policy_period_is_decided():
    decision = ctsdsl.evaluate(medicare_claim(date_of_service="2024-03-08", lines=[_line(), _line("2024-03-09")]))
    assert [str(line.allowed_amount) for line in decision.lines] == ["52.06", "52.93"]


def test_evaluate_may_be_given_the_policy(tmp_path):
    path = tmp_path / "p.cts"
    path.write_text(policy_text('rule r { title "R" cites s deny message "m" }'))
    claim = medicare_claim()
    for policy in (path, ctsdsl.load_policy(path), ctsdsl.compile(path)):
        assert ctsdsl.evaluate(claim, policy=policy).outcome == "deny"


def test_a_malformed_claim_is_refused_before_any_rule_runs():
    with pytest.raises(ClaimError) as info:
        ctsdsl.evaluate(medicare_claim(lines=[]))
    assert info.value.exit_code == 2
    assert info.value.diagnostics[0].path == "$.lines"


# ------------------------------------------------------------------ the decision's JSON form


DECIDED = [
    medicare_claim(),
    medicare_claim(lines=[{"code": "97550", "units": 1, "minutes": 70, "modifiers": ["GP"]},
                          {"code": "97551", "units": 4, "modifiers": ["GP"]}, {"code": "99213", "units": 1}]),
    medicare_claim(documentation={}),
    medicare_claim(date_of_service="2026-03-01", lines=[{"code": "97552", "units": 1, "modifiers": ["GN"],
                                                         "patients_represented": 3}]),
]


@pytest.mark.parametrize("claim", DECIDED)
def test_a_decision_as_json_matches_the_decision_schema(decision_schema, claim):
    body = ctsdsl.evaluate(claim).to_dict()
    errors = [f"{e.json_path}: {e.message}" for e in decision_schema.iter_errors(body)]
    assert errors == []
    assert json.loads(json.dumps(body)) == body


def test_a_decision_names_the_policy_file_relative_to_the_policies_root():
    decision = ctsdsl.evaluate(medicare_claim(documentation={}))
    assert decision.policy.file == "medicare/cts-2024.cts"
    assert {f.origin.file for f in decision.findings} == {"medicare/cts-2024.cts"}


def test_an_overlay_finding_names_the_layer_file_it_came_from():
    decision = ctsdsl.evaluate(medicare_claim(date_of_service="2025-05-01", documentation={}))
    assert decision.policy.file == "medicare/cts-2025.cts"
    assert "medicare/cts-2024.cts" in {f.origin.file for f in decision.findings}


def test_a_policy_outside_a_policies_folder_is_named_by_its_file_name(tmp_path):
    folder = tmp_path / "policies" / "acme"
    folder.mkdir(parents=True)
    for path, shown in ((tmp_path / "p.cts", "p.cts"), (folder / "p.cts", "acme/p.cts")):
        path.write_text(policy_text('rule r { title "R" cites s deny message "m" }'))
        decision = ctsdsl.evaluate(medicare_claim(), policy=path)
        assert decision.policy.file == shown
        assert decision.findings[0].origin.file == shown


# ------------------------------------------------------------------ check


def test_check_returns_nothing_for_a_clean_policy():
    assert [d for d in ctsdsl.check(_resources.policies_dir() / "medicare" / "cts-2024.cts")
            if d.severity == "error"] == []


def test_check_returns_a_syntax_error_as_a_diagnostic(tmp_path):
    path = tmp_path / "bad.cts"
    path.write_text("rule r {")
    (d,) = ctsdsl.check(path)
    assert (d.code, d.source_name) == ("syntax", str(path))


@pytest.mark.parametrize(("make", "code"), [
    (lambda tmp: tmp / "missing.cts", "missing-file"),
    (lambda tmp: tmp, "not-a-file"),
])
def test_check_returns_an_unreadable_file_as_a_diagnostic_instead_of_raising(tmp_path, make, code):
    path = make(tmp_path)
    (d,) = ctsdsl.check(path)
    assert d.code == code
    assert str(path) in d.message


def test_the_example_claim_in_the_readme_is_decided():
    claim = json.loads((ROOT / "examples" / "claims" / "typical.json").read_text(encoding="utf-8"))
    assert ctsdsl.evaluate(claim).outcome == "pay"


def test_evaluate_all_reports_a_claim_across_two_policies_in_its_place_and_carries_on():
    split = medicare_claim(date_of_service="2024-12-31", lines=[_line(), _line("2025-01-02")])
    results = list(ctsdsl.evaluate_all([split, medicare_claim()]))
    assert [type(r).__name__ for r in results] == ["RecordError", "Decision"]
    assert [d.code for d in results[0].error.diagnostics] == ["claim-spans-policies"]


def test_a_registry_chooses_by_header_so_a_broken_policy_stops_only_the_claims_it_would_decide(tmp_path):
    from ctsdsl.engine.registry import Registry
    (tmp_path / "good.cts").write_text(policy_text('rule r { title "R" cites s deny message "m" }'))
    broken = policy_text('rule r { title "R" cites s when nonsense deny message "m" }')
    (tmp_path / "broken.cts").write_text(broken.replace('"test-policy"', '"broken"').replace('"test"', '"other"'))
    registry = Registry(tmp_path)
    assert [e.name for e in registry.entries()] == ["broken", "test-policy"]
    entry = registry.policy_for(medicare_claim(payer="test"))
    assert registry.evaluator(entry.path).evaluate(medicare_claim(payer="test")).outcome == "deny"
    with pytest.raises(PolicySemanticError) as info:
        registry.evaluator(registry.policy_for(medicare_claim(payer="other")).path)
    assert info.value.diagnostics[0].source_name.endswith("broken.cts")


def test_a_claim_dated_where_two_policies_of_its_payer_overlap_is_refused_naming_both(tmp_path):
    from ctsdsl.engine.registry import Registry
    (tmp_path / "a.cts").write_text(policy_text(""))
    (tmp_path / "b.cts").write_text(policy_text("").replace('"test-policy"', '"test-overlay"'))
    with pytest.raises(PolicyNotFoundError) as info:
        Registry(tmp_path).policy_for(medicare_claim(payer="test"))
    d = info.value.diagnostics[0]
    assert d.code == "ambiguous-policy"
    assert d.message == "2 policies cover payer 'test' on 2024-05-01: test-policy, test-overlay"


def test_a_claim_dated_after_an_explicit_policys_period_is_refused_as_the_claims_problem():
    # The 2024 policy's conversion factor ends with 2024: a 2025 claim is a claim for another policy.
    with pytest.raises(ClaimError) as info:
        ctsdsl.evaluate(medicare_claim(date_of_service="2025-03-03"), policy="medicare-cts-2024")
    (d,) = info.value.diagnostics
    assert (d.code, d.path) == ("claim-outside-policy", "$.date_of_service")
    assert "outside the period of policy medicare-cts-2024 (2024-01-01 to 2024-12-31)" in d.message


def test_an_explicit_policy_still_decides_what_it_can_outside_its_period():
    # What-if runs rely on it: before 2024 the codes did not exist, and the policy says so.
    decision = ctsdsl.evaluate(medicare_claim(date_of_service="2023-06-01"), policy="medicare-cts-2024")
    assert decision.outcome == "deny"
    assert "code_not_in_force" in {f.rule for f in decision.findings}


def test_explain_says_what_amount_the_fee_set_on_each_line():
    from ctsdsl.report.render import render_explain
    evaluator = ctsdsl.compile("medicare-cts-2024")
    claim = medicare_claim(lines=[{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]},
                                  {"code": "97550", "units": 1, "minutes": 10, "modifiers": ["GP"],
                                   "date_of_service": "2024-05-02"}])  # one 97550 a date: its MUE
    text = render_explain(*evaluator.trace(claim))
    assert text.count("physician_fee_schedule: fired") == 1  # a denied line is allowed nothing: no fee runs
    assert "physician_fee_schedule: fired: $52.93 for 1 unit(s)" in text


def test_a_misspelt_data_file_name_gets_the_file_that_was_probably_meant(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "caps.csv").write_text("code,max\n97550,1\n", encoding="utf-8")
    (tmp_path / "p.cts").write_text(policy_text('table caps from "data/cap.csv" key code cites s\n'), encoding="utf-8")
    (d,) = [d for d in ctsdsl.check(tmp_path / "p.cts") if d.severity == "error"]
    assert d.message.startswith("data file not found") and d.hint.startswith("did you mean 'caps.csv'")


def test_a_folder_of_ones_own_not_named_policies_still_gives_overlays_its_own_parents(tmp_path):
    import shutil
    from ctsdsl.engine.registry import folder_registry
    tree = tmp_path / "mytree"
    shutil.copytree(ROOT / "policies" / "medicare", tree / "medicare", ignore=shutil.ignore_patterns("cases"))
    parent = tree / "medicare" / "cts-2025.cts"
    parent.write_text(parent.read_text(encoding="utf-8").replace(
        "param kx_threshold_pt_slp: money = $2410", "param kx_threshold_pt_slp: money = $100"), encoding="utf-8")
    (tree / "sunrise").mkdir()
    (tree / "sunrise" / "s.cts").write_text(
        'policy "sunrise-2025" {\n  payer "sunrise"\n  version "1"\n  effective 2025-01-01 to 2025-12-31\n'
        '  extends "medicare-cts-2025"\n}\n', encoding="utf-8")
    claim = medicare_claim(payer="sunrise", date_of_service="2025-05-01", therapy_spend_to_date=500)
    registry = folder_registry(tree)
    decision = registry.evaluator(registry.policy_for(claim).path).evaluate(claim)
    assert "kx_threshold_pt_slp" in {f.rule for f in decision.findings}  # the $100 of this tree's parent


def test_a_folder_taken_alone_keeps_extends_to_that_folder(tmp_path):
    # A home folder is no policy tree: a policy there must not find a parent in some subfolder below it.
    from ctsdsl.engine.registry import Registry
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "parent.cts").write_text(policy_text("").replace('"test-policy"', '"hidden-parent"'))
    (tmp_path / "child.cts").write_text(
        'policy "child" {\n  payer "child"\n  version "1"\n  effective 2024-01-01\n  extends "hidden-parent"\n}\n')
    alone = Registry(tmp_path, recursive=False)
    assert [e.name for e in alone.entries()] == ["child"]
    with pytest.raises(PolicySemanticError) as info:
        alone.load(tmp_path / "child.cts")
    assert info.value.diagnostics[0].code == "unknown-parent"
    assert Registry(tmp_path).load(tmp_path / "child.cts").header.name == "child"  # a tree: found
