"""Payer overlays: a policy that extends a parent, overriding, disabling and adding rules.

Small parent/child pairs are written into a temporary folder, so each test shows the two
files it is about; the bundled illustrative overlays (policies/examples/) are checked too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT

import ctsdsl
from ctsdsl.language import nodes as n
from ctsdsl.cli import main
from ctsdsl.errors import PolicySemanticError, PolicySyntaxError
from ctsdsl.engine.loader import load_file
from ctsdsl.engine.registry import bundled

SOURCE = 'source s {\n  title "The test source"\n  url "https://example.org/s"\n}\n'


def header(name: str, payer: str = "acme", extends: str | None = None, version: str = "1") -> str:
    governs = "" if extends else '  governs "97550", "97552"\n'
    parent = f'  extends "{extends}"\n' if extends else ""
    return (f'policy "{name}" {{\n  payer "{payer}"\n  version "{version}"\n'
            f"  effective 2024-01-01 to 2024-12-31\n{parent}{governs}}}\n\n")


PARENT = header("parent-2024") + SOURCE + '''
param max_units: int = 3 cites s

rule too_many_units {
  title "At most max_units units"
  cites s
  applies to line where line.code == "97550"
  reduce units to max_units
  message "{line.units} units; at most {max_units}."
}

rule short_session {
  cites s
  applies to line where line.code == "97550"
  when coalesce(line.minutes, 0) < 16
  deny
  message "short"
}

fee flat {
  cites s
  applies to line
  amount $10 * units_allowed
}
'''

CHILD = header("child-2024", extends="parent-2024", version="7") + '''
override param max_units = 2 cites s

disable short_session because "This payer has no minimum." cites s

rule one_caregiver_group {
  cites s
  applies to line where line.code == "97552"
  when line.caregivers < 2
  deny
  message "two caregivers"
}
'''


def write(folder: Path, **files: str) -> dict[str, Path]:
    paths = {}
    for stem, text in files.items():
        paths[stem] = folder / f"{stem}.cts"
        paths[stem].write_text(text, encoding="utf-8")
    return paths


def claim(*lines: dict, payer: str = "acme") -> dict:
    return {"id": "c-1", "payer": payer, "date_of_service": "2024-05-01", "place_of_service": "11",
            "lines": list(lines)}


OVERLAY_CODES = {"unknown-parent", "extends-cycle", "already-defined", "unknown-override", "override-without-parent"}


def errors(path: Path) -> list:
    """The overlay errors found in a policy (one without a parent also lacks `governs`: not these tests' point)."""
    return [d for d in load_file(path, raise_on_error=False).diagnostics if d.code in OVERLAY_CODES]


# ---------------------------------------------------------------- resolution

def test_an_overlay_has_its_parents_rules_with_its_overrides_disables_and_additions(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    policy = load_file(paths["child"]).policy
    assert [r.id for r in policy.of_kind(n.Rule)] == ["too_many_units", "one_caregiver_group"]
    assert [f.id for f in policy.of_kind(n.Fee)] == ["flat"]
    assert policy.header.governs == ("97550", "97552")  # inherited: the child gives none
    assert next(p for p in policy.of_kind(n.Param) if p.name == "max_units").value.value == 2


def test_the_overridden_parameter_reaches_the_parents_rule(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    decision = ctsdsl.compile(paths["child"]).evaluate(claim({"code": "97550", "units": 3, "minutes": 5}))
    line = decision.lines[0]
    assert (line.status, line.units_allowed) == ("reduced", 2)  # the child's 2, not the parent's 3
    assert [f.rule for f in decision.findings] == ["too_many_units"]  # short_session is disabled
    assert str(line.allowed_amount) == "20.00"


def test_an_added_rule_decides_lines_only_the_overlay_cares_about(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    group = {"code": "97552", "units": 1, "caregivers": 1}
    assert ctsdsl.compile(paths["parent"]).evaluate(claim(group)).outcome == "pay"
    assert ctsdsl.compile(paths["child"]).evaluate(claim(group)).outcome == "deny"


def test_overlays_nest_and_each_layer_applies_in_turn(tmp_path):
    grandchild = header("grandchild-2024", extends="child-2024", version="9") + '''
override rule too_many_units {
  reduce units to inherited - 1
}
'''
    paths = write(tmp_path, parent=PARENT, child=CHILD, grandchild=grandchild)
    decision = ctsdsl.compile(paths["grandchild"]).evaluate(claim({"code": "97550", "units": 3, "minutes": 5}))
    assert decision.lines[0].units_allowed == 1  # the child's max_units (2), minus the grandchild's 1
    assert [layer.header.name for layer in load_file(paths["grandchild"]).layers] == \
        ["grandchild-2024", "child-2024", "parent-2024"]


def test_a_change_to_the_parent_reaches_the_overlay_without_touching_it(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    before = ctsdsl.compile(paths["child"]).evaluate(claim({"code": "97550", "units": 1, "minutes": 30}))
    paths["parent"].write_text(PARENT.replace("$10", "$12"), encoding="utf-8")
    after = ctsdsl.compile(paths["child"]).evaluate(claim({"code": "97550", "units": 1, "minutes": 30}))
    assert (str(before.lines[0].allowed_amount), str(after.lines[0].allowed_amount)) == ("10.00", "12.00")


def test_each_layer_records_what_it_added_overrode_and_disabled(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    child, parent = load_file(paths["child"]).layers
    assert child.added == ("rule one_caregiver_group",)
    assert child.overridden == ("param max_units",)
    assert child.disabled == ("rule short_session",)
    assert parent.added == ("param max_units", "rule too_many_units", "rule short_session", "fee flat")


# ---------------------------------------------------------------- provenance

def test_every_finding_names_the_layer_whose_rule_fired(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    decision = ctsdsl.compile(paths["child"]).evaluate(
        claim({"code": "97550", "units": 5, "minutes": 30}, {"code": "97552", "units": 1, "caregivers": 1}))
    origins = {f.rule: f.origin for f in decision.findings}
    assert (origins["too_many_units"].policy, origins["too_many_units"].version) == ("parent-2024", "1")
    assert origins["too_many_units"].file == "parent.cts"
    assert (origins["one_caregiver_group"].policy, origins["one_caregiver_group"].version) == ("child-2024", "7")
    assert origins["one_caregiver_group"].file == "child.cts"
    assert origins["one_caregiver_group"].line == CHILD.splitlines().index("rule one_caregiver_group {") + 1


def test_an_overridden_rule_is_credited_to_the_layer_that_overrode_it():
    decision = ctsdsl.evaluate({
        "id": "t", "payer": "example-in-person-only", "date_of_service": "2025-06-02", "place_of_service": "10",
        "documentation": {"plan_of_care_includes_cts": True, "consent": True},
        "lines": [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}]})
    finding = next(f for f in decision.findings if f.rule == "telehealth_not_covered")
    assert finding.origin.policy == "example-in-person-only-2025"
    assert finding.origin.file == "examples/example-in-person-only.cts"
    mppr = next(f for f in decision.findings if f.rule == "no_mppr")
    assert mppr.origin.policy == "medicare-cts-2025"  # inherited: still Medicare's


def test_the_decision_json_carries_each_findings_layer(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    body = ctsdsl.compile(paths["child"]).evaluate(claim({"code": "97550", "units": 5, "minutes": 30})).to_dict()
    schema = json.loads((ROOT / "schemas" / "decision.schema.json").read_text(encoding="utf-8"))
    from jsonschema import Draft202012Validator
    Draft202012Validator(schema).validate(body)
    assert body["findings"][0]["rule"] == "too_many_units"
    assert body["findings"][0]["origin"] == {"policy": "parent-2024", "version": "1", "file": "parent.cts",
                                             "line": PARENT.splitlines().index("rule too_many_units {") + 1}


# ---------------------------------------------------------------- the checker

@pytest.mark.parametrize(("body", "code", "fragment", "line"), [
    ('override rule no_such_rule {\n  deny\n}\n', "unknown-override",
     "`override rule no_such_rule`: parent policy parent-2024 has no rule of that name", 8),
    ('override param max_unit = 2 cites s\n', "unknown-override",
     "`override param max_unit`: parent policy parent-2024 has no param of that name", 8),
    ('disable short_sesion because "x" cites s\n', "unknown-override",
     "`disable short_sesion`: parent policy parent-2024 has no such rule", 8),
    ('rule too_many_units {\n  cites s\n  deny\n  message "x"\n}\n', "already-defined",
     "rule `too_many_units` is already defined by the parent", 8),
])
def test_the_checker_rejects_changes_to_what_the_parent_lacks(tmp_path, body, code, fragment, line):
    paths = write(tmp_path, parent=PARENT, child=header("child-2024", extends="parent-2024") + body)
    found = errors(paths["child"])
    assert [(d.code, d.span.line) for d in found] == [(code, line)]
    assert fragment in found[0].message
    assert found[0].render().startswith(f"{paths['child']}:{line}:{found[0].span.column}: error: {fragment}")


def test_a_misspelt_override_gets_a_did_you_mean_hint(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=header("child-2024", extends="parent-2024")
                  + 'override rule too_many_unit {\n  deny\n}\n')
    assert errors(paths["child"])[0].hint == "did you mean `too_many_units`?"


def all_errors(path: Path) -> list:
    return [d for d in load_file(path, raise_on_error=False).diagnostics if d.severity == "error"]


def test_an_override_of_the_wrong_type_is_one_error_at_the_override_not_many_in_the_parent(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=header("child-2024", extends="parent-2024")
                  + 'override param max_units = "three" cites s\n')
    (d,) = all_errors(paths["child"])
    assert (d.code, d.source_name, d.span.line) == ("type", str(paths["child"]), 8)
    assert d.message == "`override param max_units`: the parent (parent.cts:13) declares it int, but this value " \
                        "is a string"
    assert "an override keeps the parameter's type" in d.hint and "such as 2" in d.hint


def test_an_override_may_give_a_whole_number_where_the_parent_declares_a_number(tmp_path):
    paths = write(tmp_path, parent=PARENT.replace("param max_units: int = 3", "param share: number = 0.5 cites s\n"
                                                  "param max_units: int = 3"),
                  child=header("child-2024", extends="parent-2024") + "override param share = 1 cites s\n")
    assert all_errors(paths["child"]) == []


def test_an_overlays_date_that_is_no_date_is_one_error_at_its_effective_line(tmp_path):
    (tmp_path / "policies").mkdir()
    text = header("acme-2024", extends="medicare-cts-2024").replace("to 2024-12-31", "to 2024-13-31") + SOURCE
    (path,) = write(tmp_path / "policies", acme=text).values()
    (d,) = all_errors(path)
    assert (d.code, d.source_name, d.span.line, d.span.column) == ("bad-date", str(path), 4, 3)


@pytest.mark.parametrize(("body", "line", "fragment"), [
    ('disable too_many_units because "x" cites s\noverride rule too_many_units {\n  message "y"\n}\n', 9,
     "`override rule too_many_units`: this policy also disables it (line 8), so the override never runs"),
    ('override rule too_many_units {\n  message "y"\n}\ndisable too_many_units because "x" cites s\n', 11,
     "`disable too_many_units`: this policy also overrides rule `too_many_units` (line 8)"),
])
def test_a_rule_both_disabled_and_overridden_is_an_error_at_the_second(tmp_path, body, line, fragment):
    paths = write(tmp_path, parent=PARENT, child=header("child-2024", extends="parent-2024") + body)
    (d,) = all_errors(paths["child"])
    assert (d.code, d.span.line) == ("disabled-and-overridden", line)
    assert d.message.startswith(fragment)
    assert "keep one" in d.hint


def test_inherited_where_the_parent_has_no_such_entry_says_so(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=header("child-2024", extends="parent-2024")
                  + "override rule too_many_units {\n  when inherited\n}\n")
    (d,) = all_errors(paths["child"])
    assert (d.message, d.span.line) == ("`inherited` has nothing to stand for here", 9)
    assert d.hint.startswith("the parent's rule, fee or let has no such entry")


def test_a_misspelt_parent_gets_a_did_you_mean_at_the_extends_line_and_no_knock_on_errors(tmp_path):
    (tmp_path / "policies").mkdir()
    text = header("acme-2025", extends="medicare-cts-2052") + SOURCE + \
        'override rule no_mppr {\n  note "x"\n}\n' \
        'rule r {\n  title "R"\n  cites s, cf_2025\n  applies to line\n  when line.units > kx_threshold_ot\n' \
        '  deny\n  message "m"\n}\n'
    (path,) = write(tmp_path / "policies", acme=text).values()
    (d,) = all_errors(path)
    assert (d.code, d.span.line, d.span.column) == ("unknown-parent", 5, 3)
    assert d.hint == 'did you mean "medicare-cts-2025"?'


def test_a_disable_without_cites_says_so_at_the_disable(tmp_path):
    paths = write(tmp_path, parent=PARENT, child=header("child-2024", extends="parent-2024")
                  + 'disable short_session because "No minimum."\n\n# the end\n')
    with pytest.raises(PolicySyntaxError) as info:
        load_file(paths["child"])
    (d,) = info.value.diagnostics
    assert (d.span.line, d.span.column) == (8, 1)
    assert d.message.startswith("`disable short_session` needs `cites SOURCE`")
    assert d.hint == 'add it after the reason: disable short_session because "..." cites <source>'


def test_the_checker_rejects_a_cycle_of_parents_naming_the_chain(tmp_path):
    paths = write(tmp_path, a=header("a-2024", extends="b-2024") + SOURCE,
                  b=header("b-2024", extends="c-2024") + SOURCE, c=header("c-2024", extends="a-2024") + SOURCE)
    found = errors(paths["a"])
    assert [d.code for d in found] == ["extends-cycle"]
    assert "a.cts -> b.cts -> c.cts -> a.cts" in found[0].message
    assert found[0].span.line == 1
    with pytest.raises(PolicySemanticError):
        load_file(paths["a"])


def test_a_policy_extending_itself_is_a_cycle(tmp_path):
    paths = write(tmp_path, a=header("a-2024", extends="a-2024") + SOURCE)
    assert [d.code for d in errors(paths["a"])] == ["extends-cycle"]


def test_an_unknown_parent_is_named(tmp_path):
    paths = write(tmp_path, a=header("a-2024", extends="nobody-2024") + SOURCE)
    found = errors(paths["a"])
    assert [d.code for d in found] == ["unknown-parent"]
    assert '"nobody-2024", which cannot be found' in found[0].message


def test_a_parent_with_a_syntax_error_is_found_and_its_error_reported_instead_of_a_cascade(tmp_path):
    paths = write(tmp_path, parent=PARENT.replace("reduce units to", "reduce units too"), child=CHILD)
    with pytest.raises(PolicySyntaxError) as info:
        load_file(paths["child"])
    (d,) = info.value.diagnostics
    assert (Path(d.source_name).name, d.span.line) == ("parent.cts", PARENT.split("\n").index(
        "  reduce units to max_units") + 1)


def test_check_of_a_folder_says_a_broken_parents_error_once(tmp_path, capsys):
    paths = write(tmp_path, parent=PARENT.replace("reduce units to", "reduce units too"), child=CHILD)
    assert main(["check", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert err.count("error:") == 1 and f"{paths['parent']}:" in err
    assert "checked 2 policy file(s): 1 error(s)" in out


def test_the_check_command_reports_an_overlay_error_with_its_location_and_exits_1(tmp_path, capsys):
    paths = write(tmp_path, parent=PARENT, child=header("child-2024", extends="parent-2024")
                  + 'override param max_unit = 2 cites s\n')
    assert main(["check", str(paths["child"])]) == 1
    err = capsys.readouterr().err
    assert f"{paths['child']}:8:10: error: `override param max_unit`" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- explain

def test_explain_shows_the_chain_of_layers_and_whose_rule_fired(tmp_path, capsys):
    paths = write(tmp_path, parent=PARENT, child=CHILD)
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(claim({"code": "97552", "units": 1, "caregivers": 1})), encoding="utf-8")
    assert main(["explain", str(claim_file), "--policy", str(paths["child"])]) == 0
    out = capsys.readouterr().out
    assert "  layers (the policy first, then each parent it extends):\n" \
           "    1. child-2024 7 (child.cts)\n" \
           "        adds: rule one_caregiver_group\n" \
           "        overrides: param max_units\n" \
           "        disables: rule short_session\n" \
           "    2. extends parent-2024 1 (parent.cts)\n" \
           "        defines 1 param, 2 rules, 1 fee\n" in out
    assert "one_caregiver_group: fired (deny, F1)\n        layer: child-2024 7 (child.cts)" in out


# ---------------------------------------------------------------- the bundled examples

EXAMPLES = sorted((ROOT / "policies" / "examples").glob("*.cts"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_illustrative_overlay_says_it_is_not_any_payers_terms(path):
    text = path.read_text(encoding="utf-8")
    assert path.name.startswith("example-")
    assert text.startswith("# ILLUSTRATION ONLY: this is NOT any real payer's terms.")
    assert "cts-billing.md" in text
    loaded = load_file(path)
    assert loaded.header.payer.startswith("example-") and len(loaded.layers) > 1


def test_the_registry_chooses_an_example_overlay_by_its_payer_and_medicare_is_unchanged():
    registry = bundled()
    assert registry.for_claim("example-in-person-only", "2025-06-02").name == "example-in-person-only-2025"
    assert registry.for_claim("example-percent-of-medicare", "2025-06-02").name == \
        "example-percent-of-medicare-2025"
    assert registry.for_claim("medicare", "2025-06-02").name == "medicare-cts-2025"


def test_testing_an_overlays_folder_counts_the_overlays_own_rules_not_medicares(monkeypatch):
    from ctsdsl.review.testing import run_paths
    monkeypatch.chdir(ROOT)
    report = run_paths([ROOT / "policies" / "examples"])
    assert not report.failed
    assert {c.policy for c in report.coverage.values()} == {
        "policies/examples/example-in-person-only.cts", "policies/examples/example-percent-of-medicare.cts",
        "policies/examples/example-northwind.cts"}
    assert report.coverage_percent == 100.0


def test_a_parent_is_looked_up_by_name_through_a_policies_tree_but_only_beside_a_policy_outside_one(tmp_path):
    # Outside a `policies` tree the child's own folder is the whole search: a policy saved in a
    # home folder must not make every .cts file under it a candidate parent.
    (tmp_path / "loose" / "deeper").mkdir(parents=True)
    write(tmp_path / "loose" / "deeper", parent=PARENT)
    loose = write(tmp_path / "loose", child=CHILD)
    assert [d.code for d in errors(loose["child"])] == ["unknown-parent"]
    (tmp_path / "policies" / "medicare").mkdir(parents=True)
    (tmp_path / "policies" / "acme").mkdir()
    write(tmp_path / "policies" / "medicare", parent=PARENT)
    tree = write(tmp_path / "policies" / "acme", child=CHILD)
    assert errors(tree["child"]) == [] and load_file(tree["child"]).layers[-1].path.parent.name == "medicare"


def test_an_open_ended_overlay_of_a_year_policy_must_give_the_values_the_year_lacks(tmp_path):
    # Medicare 2024's conversion factor ends with 2024: an overlay from 2025 on, with no end, has none.
    (tmp_path / "policies").mkdir()
    text = header("acme-2025", extends="medicare-cts-2024").replace("effective 2024-01-01 to 2024-12-31",
                                                                    "effective 2025-01-01") \
        + SOURCE
    (path,) = write(tmp_path / "policies", acme=text).values()
    gaps = [d for d in load_file(path, raise_on_error=False).diagnostics if d.code == "dated-gap"]
    (d,) = [d for d in gaps if "`conversion_factor`" in d.message]
    assert d.message.startswith("`conversion_factor` has no value after 2024-12-31, but the policy has no end date "
                                "(the parameter is inherited: its values are at cts-2024.cts:")
    # Said at the overlay's own dates, which outrun the parent's values, not in Medicare's file.
    assert (d.source_name, d.span.line) == (str(path), text.splitlines().index("  effective 2025-01-01") + 1)
    assert "`override param conversion_factor`" in d.hint


def test_a_parent_path_out_of_the_policy_tree_is_refused_saying_why(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "other").mkdir()
    write(tmp_path / "sub", parent=PARENT)
    (child,) = write(tmp_path / "other", child=CHILD.replace('extends "parent-2024"',
                                                             'extends "../sub/parent.cts"')).values()
    (d,) = errors(child)
    assert d.message.endswith('extends "../sub/parent.cts", which cannot be found inside its policy tree')
    assert "folder named `policies`" in d.hint
