"""`ctsdsl diff`: structural changes, behavioral witnesses, claim replay, git revisions, exit codes, formats.

The crafted pairs live in tests/fixtures/diff/: `base/toy.cts` and one sibling folder
per kind of change, so each test's expected witnesses can be worked out by hand.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from decimal import Decimal
import subprocess
from pathlib import Path

import pytest

from ctsdsl import cli
from ctsdsl.review.diff import render_text, run_diff, structural_changes
from ctsdsl.engine.loader import load_file
from ctsdsl.review.witness import DOC_FLAGS

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "diff"
BASE = str(FIX / "base" / "toy.cts")
MEDICARE = ROOT / "policies" / "medicare"


def toy(variant: str) -> str:
    return str(FIX / variant / "toy.cts")


def edited_copy(tmp_path, relative: str, *edits: tuple[str, str]) -> Path:
    """Two copies of the bundled tree, old/ and new/, with `edits` (old text, new text) made to new/relative."""
    shutil.copytree(ROOT / "policies", tmp_path / "old")
    shutil.copytree(ROOT / "policies", tmp_path / "new")
    path = tmp_path / "new" / relative
    text = path.read_text(encoding="utf-8")
    for before, after in edits:
        assert before in text, before
        text = text.replace(before, after)
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def only_pair(report):
    assert len(report.pairs) == 1
    return report.pairs[0]


# ------------------------------------------------------------------ structural


def test_layout_and_order_are_not_changes():
    pair = only_pair(run_diff(BASE, toy("reformatted")))
    assert pair.changes == [] and pair.behavior.witnesses == [] and pair.behavior.compared > 0


def test_a_changed_condition_shows_old_and_new_expression():
    [change] = only_pair(run_diff(BASE, toy("condition"))).changes
    assert (change.kind, change.name, change.action) == ("rule", "too_short", "changed")
    assert change.details == (("when", "coalesce(line.minutes, 0) < min_minutes", "coalesce(line.minutes, 0) < 20"),)


def test_a_changed_parameter_shows_old_and_new_value():
    [change] = structural_changes(load_file(BASE), load_file(toy("param")))
    assert (change.key, change.details) == ("param min_minutes", (("value", "16", "23"),))


def test_a_changed_data_row_shows_the_cell():
    [change] = structural_changes(load_file(BASE), load_file(toy("row")))
    assert (change.key, change.action, change.details) == ("row fees[97551]", "changed", (("rvu", "1.00", "1.50"),))


def test_a_changed_dated_row_lists_only_its_changed_cells_not_its_unchanged_date(tmp_path):
    edited_copy(tmp_path, "medicare/data/rvu.csv", ("\n97551,2025-01-01,0.54,", "\n97551,2025-01-01,0.64,"))
    [change] = structural_changes(load_file(tmp_path / "old" / "medicare" / "cts-2025.cts"),
                                  load_file(tmp_path / "new" / "medicare" / "cts-2025.cts"))
    assert (change.key, change.details) == ("row rvu[97551]", (("work", "0.54", "0.64"),))


def test_a_parents_change_shows_under_each_pair_that_inherits_it_naming_the_parent(tmp_path):
    edited_copy(tmp_path, "medicare/cts-2024.cts",
                ("when line.patients_represented < 2", "when line.patients_represented < 3"))
    report = run_diff(str(tmp_path / "old"), str(tmp_path / "new"))
    by_file = {p.new.path.name: p for p in report.pairs}
    [own] = by_file["cts-2024.cts"].changes
    [inherited] = by_file["cts-2025.cts"].changes
    assert own.inherited_from == "" and inherited.inherited_from == "cts-2024.cts"
    assert inherited.to_dict()["inherited_from"] == "cts-2024.cts" and "inherited_from" not in own.to_dict()
    causes = {c.text() for w in by_file["cts-2025.cts"].behavior.witnesses for c in w.causes}
    assert "rule group_needs_two_patients changed (when) in cts-2024.cts" in causes


def test_a_renamed_rule_is_removed_and_added_and_decides_differently_where_it_fires(tmp_path):
    shutil.copytree(ROOT / "policies", tmp_path / "old")
    shutil.copytree(ROOT / "policies", tmp_path / "new")
    new = tmp_path / "new" / "medicare" / "cts-2024.cts"
    new.write_text(new.read_text(encoding="utf-8").replace("rule group_needs_two_patients {",
                                                           "rule group_needs_2_patients {"), encoding="utf-8")
    report = run_diff(str(tmp_path / "old" / "medicare" / "cts-2024.cts"), str(new))
    pair = only_pair(report)
    assert {(c.key, c.action) for c in pair.changes} == {("rule group_needs_two_patients", "removed"),
                                                         ("rule group_needs_2_patients", "added")}
    assert report.behavioral_change and pair.behavior.witnesses


def test_an_added_rule_is_added_and_the_reverse_removed():
    [added] = structural_changes(load_file(BASE), load_file(toy("rule_added")))
    [removed] = structural_changes(load_file(toy("rule_added")), load_file(BASE))
    assert (added.key, added.action) == ("rule needs_gp", "added")
    assert (removed.key, removed.action) == ("rule needs_gp", "removed")
    assert ("when", None, '"GP" not in line.modifiers') in added.details


def test_an_inherited_change_counts_after_overlays_are_flattened():
    # 2025 extends 2024 and restates only some rules: an unchanged inherited rule is no change...
    changes = {c.key: c for c in structural_changes(load_file(MEDICARE / "cts-2024.cts"),
                                                    load_file(MEDICARE / "cts-2025.cts"))}
    assert "rule patient_present" not in changes
    # ...and the overriding rule is compared against what it replaced.
    assert changes["rule telehealth_not_covered"].details[1] == (
        "when", "telehealth", "telehealth and therapist and not therapist_telehealth_allowed")


# ------------------------------------------------------------------ behavioral witnesses


def test_a_stricter_time_limit_has_a_witness_just_under_it():
    # min_minutes 16 -> 23: a claim of 16 to 22 minutes was allowed and is denied; the first is 16.
    pair = only_pair(run_diff(BASE, toy("param")))
    witnesses = {w.lines[0].code: w for w in pair.behavior.witnesses}
    assert set(witnesses) == {"97550", "97551"}
    w = witnesses["97550"]
    assert w.claim["lines"][0]["minutes"] == 16
    assert (w.lines[0].old["status"], w.lines[0].new["status"]) == ("allowed", "denied")
    [cause] = w.causes
    assert cause.item == "rule too_short" and cause.reads == (("min_minutes", "16", "23"),)


def test_a_changed_row_moves_only_that_codes_amount_and_names_the_row():
    [w] = only_pair(run_diff(BASE, toy("row"))).behavior.witnesses
    [line] = w.lines
    assert (line.code, line.old["amount"], line.new["amount"]) == ("97551", "10.00", "15.00")
    assert w.causes[0].item == "fee flat" and w.causes[0].reads == (("fees[97551].rvu", "1.00", "1.50"),)


def test_an_added_rule_has_a_witness_that_fires_it():
    witnesses = only_pair(run_diff(BASE, toy("rule_added"))).behavior.witnesses
    assert witnesses and all(w.causes[0].item == "rule needs_gp" and w.causes[0].edit == "added"
                             for w in witnesses)
    assert all("needs_gp" in w.lines[0].new["findings"] for w in witnesses)


def test_a_change_that_moves_no_claim_is_said_to_have_no_effect():
    pair = only_pair(run_diff(BASE, toy("message")))
    assert pair.behavior.witnesses == [] and [c.key for c in pair.no_effect] == ["rule too_short"]


def test_witnesses_are_deduplicated_by_cause_and_outcome():
    pair = only_pair(run_diff(BASE, toy("condition")))
    keys = [w.key() for w in pair.behavior.witnesses]
    assert len(keys) == len(set(keys)) and pair.behavior.differing > len(keys)


TELEHEALTH_RULE = '''
rule no_telehealth {
  title "No telehealth"
  cites s
  applies to line
  when claim.place_of_service == "02"
  deny
  reason CARC 5
  message "{line.code} by telehealth."
}
'''


def test_two_edits_that_meet_on_one_claim_have_a_witness_varying_both(tmp_path):
    # OLD denies telehealth; NEW drops that rule and asks for 23 minutes, not 16. A telehealth session of
    # 16 minutes is denied on both sides, by another rule on each: no claim varying one thing shows that
    # the new telehealth allowance does not reach short sessions.
    for side, text in (("old", (FIX / "base" / "toy.cts").read_text(encoding="utf-8") + TELEHEALTH_RULE),
                       ("new", (FIX / "param" / "toy.cts").read_text(encoding="utf-8"))):
        shutil.copytree(FIX / "base", tmp_path / side)
        (tmp_path / side / "toy.cts").write_text(text, encoding="utf-8")
    pair = only_pair(run_diff(str(tmp_path / "old" / "toy.cts"), str(tmp_path / "new" / "toy.cts")))
    both = [w for w in pair.behavior.witnesses if "16 minutes" in w.label and "POS 02" in w.label]
    assert both, [w.label for w in pair.behavior.witnesses]
    line = both[0].lines[0]
    assert (line.old["status"], line.old["findings"], line.new["status"], line.new["findings"]) == (
        "denied", ["no_telehealth"], "denied", ["too_short"])
    assert {c.text() for c in both[0].causes} == {"rule no_telehealth removed", "rule too_short; min_minutes 16 -> 23"}


def test_one_edit_alone_adds_no_claim_varying_two_things_and_the_pairs_are_bounded(monkeypatch):
    pair = only_pair(run_diff(BASE, toy("param")))
    assert not any(w.claim["id"].endswith("-axes") for w in pair.behavior.witnesses)
    assert not pair.behavior.truncated
    # Medicare 2024 against 2025 has edits reading place of service, modifiers and spend: pairs are made,
    # and past the bound the diff says it stopped short.
    monkeypatch.setattr("ctsdsl.review.witness.MAX_PAIRED_CLAIMS", 5)
    report = run_diff(str(MEDICARE / "cts-2024.cts"), str(MEDICARE / "cts-2025.cts"))
    assert only_pair(report).behavior.truncated


# ------------------------------------------------------------------ the real case: Medicare 2024 against 2025


@pytest.fixture(scope="module")
def medicare():
    return run_diff(str(MEDICARE / "cts-2024.cts"), str(MEDICARE / "cts-2025.cts"))


def _caused(pair, needle: str):
    return [w for w in pair.behavior.witnesses if any(needle in c.text() for c in w.causes)]


def test_medicare_2025_telehealth_change_has_a_witness(medicare):
    pair = only_pair(medicare)
    w = _caused(pair, "rule telehealth_not_covered changed")[0]
    assert w.claim["place_of_service"] in ("02", "10") or "95" in w.claim["lines"][0]["modifiers"]
    assert any(l.old["status"] == "denied" and l.new["status"] == "allowed" for l in w.lines) or \
        "telehealth_not_covered" in w.lines[0].old["findings"]


def test_medicare_2025_new_g_codes_come_into_scope(medicare):
    pair = only_pair(medicare)
    scoped = {w.lines[-1].code for w in _caused(pair, "governs ")}
    assert scoped == {"G0539", "G0540", "G0541", "G0542", "G0543"}


def test_medicare_2025_conversion_factor_and_rvus_move_fees(medicare):
    pair = only_pair(medicare)
    w = _caused(pair, "rvu[97550].total_nf 1.59 -> 1.61")[0]
    assert "conversion_factor 32.7442 -> 32.3465" in w.causes[0].text()
    assert (w.old_date, w.new_date) == ("2024-01-01", "2025-01-01")  # the same day of each policy's year
    assert {c.key for c in pair.changes} >= {"param conversion_factor", "row rvu[97550]", "row rvu[97552]",
                                             "param kx_threshold_pt_slp", "header governs"}
    assert _caused(pair, "kx_threshold_pt_slp 2330 -> 2410")


def test_a_claim_amount_the_new_side_reads_is_varied_around_its_threshold_with_lines_of_two_disciplines():
    pair = only_pair(run_diff(BASE, toy("spend_by_discipline")))
    labels = {w.label: {c.item for c in w.causes} for w in pair.behavior.witnesses}
    assert labels["97550, ot spend $501, modifier GO, 2030-01-01"] == {"rule ot_over_threshold"}
    assert labels["97550, ot spend $501, the session again the next day with GO, 2030-01-01"] == {
        "rule ot_over_threshold", "rule one_spend_for_two_disciplines"}
    assert not any("ot spend $500," in label for label in labels)  # at the threshold is not over it


def test_a_claim_total_priced_per_line_date_is_witnessed_where_the_kx_decision_turns(tmp_path):
    # Old: every line of the KX claim total at the claim's conversion factor. New: at its own date's.
    # They differ only for lines straddling 2024-03-09, and then only for a spend within cents of
    # the threshold: the next-day lines and the bisected turning amount find exactly that.
    shutil.copytree(ROOT / "policies", tmp_path / "old")
    shutil.copytree(ROOT / "policies", tmp_path / "new")
    old = tmp_path / "old" / "medicare" / "cts-2024.cts"
    text = old.read_text(encoding="utf-8")
    # The policy is wrapped by `ctsdsl fmt`, so the edit matches across line breaks.
    text, opened = re.subn(r"sum\(at\(o\.date_of_service,\s*round\(round\(", "sum(round(round(", text)
    text, closed = re.subn(r"assistant_factor\s*else 1\), 2\)\)\s*\* o\.units", "assistant_factor else 1), 2) * o.units",
                           text)
    assert opened == closed == 2
    old.write_text(text, encoding="utf-8")
    pair = only_pair(run_diff(str(old), str(tmp_path / "new" / "medicare" / "cts-2024.cts")))
    assert {c.key for c in pair.changes} == {"let pt_slp_claim_fees", "let ot_claim_fees"}
    causes = set()
    for w in pair.behavior.witnesses:
        assert "the same lines again the next day" in w.label and "(where a decision turns)" in w.label
        assert w.old_date == "2024-03-08"
        causes |= {c.item for c in w.causes}
    assert causes == {"rule kx_threshold_pt_slp", "rule kx_threshold_ot"}  # GP lines and GO lines


def test_a_modifier_rule_widened_to_physicians_is_witnessed_by_a_physician_line_without_modifiers(tmp_path):
    # Medicare asks discipline modifiers of therapists only; a version asking them of everyone moves a
    # physician's line without modifiers, a combination of two axes the generator covers.
    new = edited_copy(tmp_path, "medicare/cts-2024.cts",
                      ("  when therapist and disciplines != 1\n", "  when disciplines != 1\n"))
    pair = only_pair(run_diff(str(tmp_path / "old" / "medicare" / "cts-2024.cts"), str(new)))
    first = pair.behavior.witnesses[0]
    assert first.label == "97550, physician, no modifiers, 2024-01-01"
    assert (first.lines[0].old["status"], first.lines[0].new["status"]) == ("allowed", "denied")
    assert [c.text() for c in first.causes] == ["rule discipline_modifier changed (when)"]


def test_a_new_limit_on_caregivers_patients_or_add_on_units_has_a_witness_past_it(tmp_path):
    # Each whole-number line field a condition compares with a constant is billed at the constant
    # less one, at it and past it: 5 caregivers, 5 patients, 6 units of an add-on beside its primary.
    shutil.copytree(ROOT / "policies", tmp_path / "old")
    shutil.copytree(ROOT / "policies", tmp_path / "new")
    new = tmp_path / "new" / "medicare" / "cts-2025.cts"
    rules = [("many_caregivers", "group", "line.caregivers > 4"),
             ("many_patients", "group", "line.patients_represented > 4"),
             ("many_addon_units", "addon", "line.units > 5")]
    new.write_text(new.read_text(encoding="utf-8") + "".join(
        f'\nrule {rule} {{\n  title "{rule}"\n  cites cms_pfs_2025\n  applies to line where role == "{role}"\n'
        f'  when {when}\n  warn\n  message "{rule}"\n}}\n' for rule, role, when in rules), encoding="utf-8")
    pair = only_pair(run_diff(str(tmp_path / "old" / "medicare" / "cts-2025.cts"), str(new)))
    assert pair.no_effect == []
    fired: dict = {}
    for w in pair.behavior.witnesses:  # the first witness of each rule: the governed code's (97551, 97552)
        fired.update({c.item: w for c in w.causes if c.item not in fired})
    assert {rule for rule, _, _ in rules} == {item.removeprefix("rule ") for item in fired}
    line = fired["rule many_caregivers"].claim["lines"][-1]
    assert (line["caregivers"], line["patients_represented"]) == (5, 2)
    assert "97552 (2 patients represented), 5 caregivers" in fired["rule many_caregivers"].label
    assert fired["rule many_patients"].claim["lines"][-1]["patients_represented"] == 5
    addon = fired["rule many_addon_units"].claim["lines"]
    assert addon[-1]["units"] == 6 and addon[0]["code"] == _primary_of(addon[-1]["code"])


def _primary_of(code: str) -> str:
    return {"97551": "97550", "G0540": "G0539", "G0542": "G0541"}[code]


def test_a_moved_conversion_factor_date_is_named_by_the_kx_rule_that_read_it_on_the_next_days_line(tmp_path):
    # The factor changes on 2024-03-15 instead of 03-09: a claim of 03-08 with lines again on 03-09
    # reads the same factor for its first line on both sides and another for its second. The KX rule
    # that turns reads both, so its cause names the factor, not an empty edit with nothing read.
    new = edited_copy(tmp_path, "medicare/cts-2024.cts", ("to 2024-03-08 = $32.7442", "to 2024-03-14 = $32.7442"),
                      ("from 2024-03-09 to 2024-12-31", "from 2024-03-15 to 2024-12-31"))
    pair = only_pair(run_diff(str(tmp_path / "old" / "medicare" / "cts-2024.cts"), str(new)))
    kx = [c for w in pair.behavior.witnesses for c in w.causes if c.item.startswith("rule kx_threshold")]
    assert kx and all(c.reads for c in kx)
    assert ("conversion_factor", "33.2875", "32.7442") in {r for c in kx for r in c.reads}


def test_a_parameter_named_like_its_rule_is_named_as_the_parameter_not_as_a_change_to_the_rule(tmp_path):
    # Rule kx_threshold_ot reads param kx_threshold_ot: a new OT threshold changes the parameter only,
    # so the rule is cited unedited, beside "param kx_threshold_ot 2330 -> 2400", and is no change of its own.
    new = edited_copy(tmp_path, "medicare/cts-2024.cts",
                      ("param kx_threshold_ot: money = $2330", "param kx_threshold_ot: money = $2400"))
    pair = only_pair(run_diff(str(tmp_path / "old" / "medicare" / "cts-2024.cts"), str(new)))
    assert [c.key for c in pair.changes] == ["param kx_threshold_ot"] and pair.no_effect == []
    texts = {c.text() for w in pair.behavior.witnesses for c in w.causes}
    assert texts == {"rule kx_threshold_ot; param kx_threshold_ot 2330 -> 2400"}
    read = pair.behavior.witnesses[0].causes[0].to_dict()["reads"][0]
    assert read == {"name": "kx_threshold_ot", "old": "2330", "new": "2400", "kind": "param"}


def test_a_removed_rule_pairing_codes_by_role_has_a_witness_of_a_group_and_an_initial_code(tmp_path):
    # same_day_individual_and_group fires on a 97552 with a same-date line whose role is initial;
    # no condition names 97550, so only the pairs by role bill them together.
    shutil.copytree(ROOT / "policies", tmp_path / "old")
    shutil.copytree(ROOT / "policies", tmp_path / "new")
    new = tmp_path / "new" / "medicare" / "cts-2024.cts"
    text = new.read_text(encoding="utf-8")
    start = text.index("rule same_day_individual_and_group {")
    new.write_text(text[:start] + text[text.index("\n}\n", start) + 3:], encoding="utf-8")
    pair = only_pair(run_diff(str(tmp_path / "old" / "medicare" / "cts-2024.cts"), str(new)))
    assert pair.no_effect == []
    [w] = pair.behavior.witnesses
    assert w.label == "97550 with 97552 the same day, 2024-01-01"
    assert [c.text() for c in w.causes] == ["rule same_day_individual_and_group removed"]


def test_a_pair_of_codes_is_listed_only_for_what_no_single_code_claim_shows(medicare):
    # 2024 -> 2025 moves every code's fee: pairs of codes would repeat each fee change.
    pairs = [w for w in only_pair(medicare).behavior.witnesses if "the same day" in w.label]
    assert all(any("same_day_individual_and_group" in c.text() or c.item == "governs" for c in w.causes)
               for w in pairs)


def test_the_search_for_turning_amounts_is_bounded_and_says_so_when_it_stops_short(monkeypatch):
    assert not only_pair(run_diff(BASE, toy("spend_by_discipline"))).behavior.truncated
    monkeypatch.setattr("ctsdsl.review.witness.MAX_TURN_SEARCHES", 3)
    assert only_pair(run_diff(BASE, toy("spend_by_discipline"))).behavior.truncated


def test_the_turning_amount_is_where_spend_plus_this_claim_first_passes_the_threshold():
    from ctsdsl.review.witness import turning_amount
    evaluator = load_file(MEDICARE / "cts-2024.cts").evaluator()
    claim = json.loads((ROOT / "examples" / "claims" / "typical.json").read_text(encoding="utf-8"))
    claim["lines"] = claim["lines"][:1]  # one 97550 at $52.93: denied once spend + $52.93 > $2,330
    assert turning_amount(evaluator, claim, "therapy_spend_to_date", Decimal(5000)) == Decimal("2277.08")
    assert turning_amount(evaluator, claim, "therapy_spend_to_date", Decimal(2000)) is None


def test_review_guide_shows_the_current_diff(medicare):
    from ctsdsl.review.diff import render_text
    guide = (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
    start, end = "<!-- diff 2024 2025 -->\n```text\n", "```\n<!-- end diff -->"
    assert start in guide and end in guide
    shown = guide.split(start, 1)[1].split(end, 1)[0]
    # Paths in the guide are as run from the repository root.
    current = render_text(medicare).replace(str(MEDICARE) + "/", "policies/medicare/")
    assert shown.strip() == current.strip(), "regenerate docs/review.md (see the command above the block)"


# ------------------------------------------------------------------ Markdown for a pull request


def test_markdown_opens_with_a_summary_of_each_edit_its_claims_and_dollars():
    from ctsdsl.review.diff_markdown import render_markdown
    md = render_markdown(run_diff(BASE, toy("param")))
    summary = md.split("### Summary", 1)[1].split("### ", 1)[0]
    # min_minutes 16 -> 23 denies a 16-minute 97550 ($20.00) and 97551 ($10.00): 12 generated claims.
    assert "| `toy` | param `min_minutes` changed (value) | 12 | 2 | −$30.00 |" in summary
    assert md.index("### Summary") < md.index("<details>")


def test_markdown_details_are_folds_that_github_renders():
    from ctsdsl.review.diff_markdown import render_markdown
    md = render_markdown(run_diff(BASE, toy("param")))
    assert md.count("<details>") == md.count("</details>") == 3  # changes, witnesses, witness claims
    assert "<details><summary><b>Witnesses</b> (2): the claims that decide differently, and why</summary>\n\n" in md


def test_markdown_fits_a_comment_whatever_the_size_of_the_change(medicare):
    from ctsdsl.review.diff_markdown import MAX_CHARS, render_markdown
    # Forty copies of a year's diff stand for a folder of policies all changed at once.
    huge = dataclasses.replace(medicare, pairs=medicare.pairs * 40)
    md = render_markdown(huge)
    assert len(md) <= MAX_CHARS
    assert "more policy pair(s) not shown here: `ctsdsl diff " in md and "--format json` lists them all." in md
    small = render_markdown(medicare, max_chars=8_000)
    assert len(small) <= 8_000 and "more witnesses not shown here" in small
    assert small.count("<details>") == small.count("</details>") and small.count("```") % 2 == 0


def test_markdown_shows_an_absent_old_value_as_a_dash_not_empty_backticks(medicare):
    from ctsdsl.review.diff_markdown import render_markdown
    md = render_markdown(medicare)
    assert "  - note: — → `2025 indicator not found; 0 in 2024 and 2026.`" in md
    assert not re.search(r"(?<!`)``(?!`)", md)  # an empty code span; a ```json fence is not one


def test_markdown_shows_a_parents_change_once_and_points_to_it_from_the_pairs_that_inherit_it(tmp_path):
    from ctsdsl.review.diff_markdown import render_markdown
    overlay = 'policy "toy-payer" {\n  payer "toy-payer"\n  version "1"\n  effective 2030-01-01 to 2030-12-31\n' \
              '  extends "toy"\n}\n'
    for side, parent in (("old", "base"), ("new", "param")):
        shutil.copytree(FIX / parent, tmp_path / side)
        (tmp_path / side / "payer.cts").write_text(overlay, encoding="utf-8")
    report = run_diff(str(tmp_path / "old"), str(tmp_path / "new"))
    assert [p.new.header.name for p in report.pairs] == ["toy-payer", "toy"]  # by file name
    md = render_markdown(report)
    assert md.index("### `toy` 1") < md.index("### `toy-payer` 1")  # the parent first
    assert md.count("  - value: `16` → `23`") == 1
    assert "- param `min_minutes` changed (value) (inherited from `toy.cts`): as under `toy` above" in md


def test_causes_name_only_values_both_sides_read(medicare):
    causes = [c.text() for w in only_pair(medicare).behavior.witnesses for c in w.causes]
    assert causes and not [c for c in causes if "(not read)" in c]


def test_review_guide_shows_the_current_markdown_of_the_toy_diff():
    from ctsdsl.review.diff_markdown import render_markdown
    guide = (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
    start, end = "<!-- diff markdown toy -->\n````markdown\n", "````\n<!-- end diff markdown -->"
    shown = guide.split(start, 1)[1].split(end, 1)[0]
    current = render_markdown(run_diff(BASE, toy("param"))).replace(str(FIX) + "/", "tests/fixtures/diff/")
    assert shown == current, "regenerate docs/review.md (see the command above the block)"


# ------------------------------------------------------------------ replaying claims


def test_claims_replay_reports_exactly_the_claims_that_differ(tmp_path, capsys):
    base = {"payer": "toy", "date_of_service": "2030-05-01", "place_of_service": "11",
            "lines": [{"code": "97550", "units": 1, "modifiers": ["GP"]}]}
    claims = [dict(base, id="short", lines=[dict(base["lines"][0], minutes=18)]),
              dict(base, id="long", lines=[dict(base["lines"][0], minutes=40)]),
              dict(base, id="other-payer", payer="someone-else")]
    file = tmp_path / "claims.jsonl"
    file.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    report = run_diff(BASE, toy("param"), str(file))
    b = only_pair(report).behavior
    assert (b.compared, b.differing, b.skipped) == (2, 1, 1)
    assert b.witnesses[0].claim["id"] == "short" and report.exit_code == 1
    code, out, _ = run(capsys, "diff", BASE, toy("reformatted"), "--claims", str(file))
    assert code == 0 and "0 of 2 claims" in out and "1 claim(s) of other payers skipped" in out


def test_a_malformed_claims_file_exits_2(tmp_path, capsys):
    file = tmp_path / "bad.jsonl"
    file.write_text('{"id": "x"}\n', encoding="utf-8")
    code, out, err = run(capsys, "diff", BASE, toy("param"), "--claims", str(file))
    assert code == 2 and "bad.jsonl" in err and "Traceback" not in err


# ------------------------------------------------------------------ git revisions


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_rev_path_reads_the_policy_and_its_data_at_that_revision(tmp_path, capsys, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(FIX / "base", repo / "policy")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    # The second revision changes only the data file beside the policy.
    shutil.copy(FIX / "row" / "data" / "fees.csv", repo / "policy" / "data" / "fees.csv")
    _git(repo, "commit", "-q", "-am", "new fee")
    monkeypatch.chdir(repo)
    code, out, _ = run(capsys, "diff", "HEAD~1:policy/toy.cts", "HEAD:policy/toy.cts", "--format", "json")
    body = json.loads(out)
    assert code == 1 and [c["name"] for c in body["pairs"][0]["structural"]] == ["fees[97551]"]
    assert body["pairs"][0]["old_policy"]["file"] == "HEAD~1:policy/toy.cts"
    code, _, _ = run(capsys, "diff", "HEAD:policy/toy.cts", "policy/toy.cts")
    assert code == 0  # the working tree is the committed revision
    code, _, err = run(capsys, "diff", "nosuchrev:policy/toy.cts", "policy/toy.cts")
    assert code == 2 and "nosuchrev" in err and "Traceback" not in err


# ------------------------------------------------------------------ exit codes and formats


def test_exit_0_when_nothing_moves_and_2_for_bad_input(tmp_path, capsys):
    assert run(capsys, "diff", BASE, toy("reformatted"))[0] == 0
    code, _, err = run(capsys, "diff", BASE, str(tmp_path / "missing.cts"))
    assert code == 2 and "missing.cts" in err and "no such file" in err
    broken = tmp_path / "broken.cts"
    broken.write_text('policy "x" {\n  payer\n}\n', encoding="utf-8")
    code, _, err = run(capsys, "diff", BASE, str(broken))
    assert code == 2 and "broken.cts:" in err and "Traceback" not in err


def test_folders_pair_policies_by_name(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(FIX / "base", old)
    shutil.copytree(FIX / "param", new)
    report = run_diff(str(old), str(new))
    assert [c.key for c in only_pair(report).changes] == ["param min_minutes"]


def test_text_markdown_and_json_say_the_same_thing(capsys):
    code, text, _ = run(capsys, "diff", BASE, toy("param"))
    assert code == 1 and "param min_minutes: changed" in text and "W1" in text and "min_minutes 16 -> 23" in text
    code, md, _ = run(capsys, "diff", BASE, toy("param"), "--format", "markdown")
    assert code == 1 and md.startswith("## Policy diff") and "| # | claim | line | old | new | cause |" in md
    assert "<details>" in md
    code, out, _ = run(capsys, "diff", BASE, toy("param"), "--format", "json")
    body = json.loads(out)
    assert code == 1 and body["behavioral_change"] is True and body["exit_code"] == 1
    assert set(body) == {"old", "new", "behavioral_change", "exit_code", "pairs", "policies_added",
                         "policies_removed"}
    [pair] = body["pairs"]
    assert set(pair) == {"old_policy", "new_policy", "structural", "behavior", "no_effect"}
    assert pair["structural"] == [{"kind": "param", "name": "min_minutes", "action": "changed",
                                   "details": [{"field": "value", "old": "16", "new": "23"}]}]
    w = pair["behavior"]["witnesses"][0]
    assert set(w) >= {"id", "label", "claim", "old_date", "new_date", "lines", "causes", "alike"}
    assert w["lines"][0]["old"]["status"] == "allowed" and w["lines"][0]["new"]["status"] == "denied"
    assert w["causes"][0] == {"item": "rule too_short", "edit": "", "reads": [
        {"name": "min_minutes", "old": "16", "new": "23", "kind": "param"}]}
    # A witness claim is a valid claim: it can be fed back to `ctsdsl eval`.
    from ctsdsl.claims.validation import validate_claim
    validate_claim(w["claim"])


def test_a_change_in_the_parent_reaches_the_overlay(tmp_path):
    # The overlay file is the same on both sides; only the parent it extends changed.
    overlay = 'policy "toy-payer" {\n  payer "toy-payer"\n  version "1"\n  effective 2030-01-01 to 2030-12-31\n' \
              '  extends "toy"\n}\n'
    for side, parent in (("old", "base"), ("new", "param")):
        shutil.copytree(FIX / parent, tmp_path / side)
        (tmp_path / side / "payer.cts").write_text(overlay, encoding="utf-8")
    pair = only_pair(run_diff(str(tmp_path / "old" / "payer.cts"), str(tmp_path / "new" / "payer.cts")))
    assert [c.key for c in pair.changes] == ["param min_minutes"]
    assert pair.behavior.witnesses and pair.behavior.witnesses[0].causes[0].reads == (("min_minutes", "16", "23"),)


def test_replayed_claims_move_to_the_same_day_of_each_policys_year():
    # The example claim is dated 2025-06-02: the 2024 policy decides it on 2024-06-02.
    report = run_diff(str(MEDICARE / "cts-2024.cts"), str(MEDICARE / "cts-2025.cts"),
                      str(ROOT / "examples" / "claims" / "telehealth-2025.json"))
    [w] = only_pair(report).behavior.witnesses
    assert (w.old_date, w.new_date) == ("2024-06-02", "2025-06-02")
    assert w.lines[0].old["findings"] == ["no_mppr", "telehealth_not_covered"] and w.lines[0].new["status"] == "allowed"


def test_a_rule_an_overlay_disables_is_disabled_with_its_reason(tmp_path):
    shutil.copytree(FIX / "base", tmp_path, dirs_exist_ok=True)
    (tmp_path / "payer.cts").write_text(
        'policy "toy-payer" {\n  payer "toy-payer"\n  version "1"\n  effective 2030-01-01 to 2030-12-31\n'
        '  extends "toy"\n}\n\ndisable too_short because "This payer has no time limit." cites s\n', encoding="utf-8")
    pair = only_pair(run_diff(str(tmp_path / "toy.cts"), str(tmp_path / "payer.cts")))
    [rule] = [c for c in pair.changes if c.kind == "rule"]
    assert (rule.key, rule.action, rule.toggled, rule.details[0]) == (
        "rule too_short", "removed", "disabled", ("disabled", None, "This payer has no time limit."))
    assert any(w.causes[0].item == "rule too_short" and w.causes[0].edit == "disabled" for w in pair.behavior.witnesses)


def test_periods_less_than_a_year_apart_compare_the_same_offset_into_each(tmp_path):
    from ctsdsl.review.witness import date_pairs
    shutil.copytree(FIX / "base", tmp_path / "h1")
    shutil.copytree(FIX / "base", tmp_path / "h2")
    for half, dates in (("h1", "2030-01-01 to 2030-06-30"), ("h2", "2030-07-01 to 2030-12-31")):
        text = (tmp_path / half / "toy.cts").read_text(encoding="utf-8")
        (tmp_path / half / "toy.cts").write_text(text.replace("2030-01-01 to 2030-12-31", dates), encoding="utf-8")
    pairs = date_pairs(load_file(tmp_path / "h1" / "toy.cts"), load_file(tmp_path / "h2" / "toy.cts"))
    assert ("2030-01-01", "2030-07-01") in pairs and ("2030-06-30", "2030-12-28") in pairs  # 180 days in


def test_a_date_in_a_condition_is_tried_on_both_sides():
    # From 2030-04-01 every line is denied: the witnesses are dated that day, none the day before.
    pair = only_pair(run_diff(BASE, toy("date")))
    assert pair.behavior.witnesses and {w.old_date for w in pair.behavior.witnesses} == {"2030-04-01"}


def test_witness_claims_replayed_from_a_file_differ_again(tmp_path, capsys):
    code, out, _ = run(capsys, "diff", BASE, toy("param"), "--format", "json")
    witnesses = json.loads(out)["pairs"][0]["behavior"]["witnesses"]
    file = tmp_path / "witnesses.jsonl"
    file.write_text("".join(json.dumps(w["claim"]) + "\n" for w in witnesses), encoding="utf-8")
    b = only_pair(run_diff(BASE, toy("param"), str(file))).behavior
    assert b.compared == b.differing == len(witnesses) > 0


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_an_error_in_a_revision_names_it_as_rev_path(tmp_path, capsys, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(FIX / "base", repo / "policy")
    (repo / "policy" / "toy.cts").write_text('policy "toy" {\n  payer\n}\n', encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "broken")
    monkeypatch.chdir(repo)
    code, _, err = run(capsys, "diff", "HEAD:policy/toy.cts", str(FIX / "base" / "toy.cts"))
    assert code == 2 and "HEAD:policy/toy.cts:3:1: error" in err and "ctsdsl-diff-" not in err


# ------------------------------------------------------------------ every cause of a multi-line claim

SUNRISE = '''policy "sunrise-2025" {{
  payer "sunrise"
  version "2025.1"
  effective 2025-01-01 to 2025-12-31
  extends "medicare-cts-2025"
}}

source s {{
  title "Made up for tests"
  url "https://example.org/sunrise"
}}

param sunrise_share: number = {share} cites s

table caps from "data/caps.csv" key code cites s

override fee physician_fee_schedule {{
  cites s
  amount round(inherited * sunrise_share, 2)
}}

# Sunrise's own caps stand in for Medicare's MUEs, so a cap of three units can be moved to two.
disable mue_exceeded because "Sunrise caps units itself." cites s

rule sunrise_caps {{
  title "Units capped per code"
  cites s
  applies to line where line.code in caps
  reduce units to caps[line.code].max_units
  message "{{line.code}} is capped"
}}

rule warn_long_session {{
  title "A long session"
  cites s
  applies to line
  when session_minutes > {over}
  warn
  message "a long session"
}}
{disable}'''


def sunrise(root: Path, share: str, cap: int, over: int, disable: bool) -> str:
    """Medicare 2025 with an overlay that touches a fee share, a data cap, a warning and a `disable`."""
    shutil.copytree(ROOT / "policies", root)
    (root / "sunrise" / "data").mkdir(parents=True)
    (root / "sunrise" / "data" / "caps.csv").write_text(f"code,max_units\n97551,{cap}\n", encoding="utf-8")
    line = 'disable same_day_individual_and_group because "Not used here." cites s\n' if disable else ""
    (root / "sunrise" / "sunrise-2025.cts").write_text(
        SUNRISE.format(share=share, over=over, disable=line), encoding="utf-8")
    return str(root / "sunrise" / "sunrise-2025.cts")


@pytest.fixture
def sunrise_pair(tmp_path):
    return (sunrise(tmp_path / "old", "1.10", 3, 120, True), sunrise(tmp_path / "new", "1.05", 2, 90, False))


def two_lines(minutes: int, units: int) -> dict:
    return {"id": f"{minutes}-{units}", "payer": "sunrise", "date_of_service": "2025-03-10", "place_of_service": "11",
            "provider_type": "therapist", "documentation": dict.fromkeys(DOC_FLAGS, True),
            "lines": [{"code": "97550", "units": 1, "minutes": minutes, "modifiers": ["GP"]},
                      {"code": "97551", "units": units, "modifiers": ["GP"]}]}


FEE = "fee physician_fee_schedule; sunrise_share 1.10 -> 1.05"
CAP = "rule sunrise_caps; caps[97551].max_units 3 -> 2"
WARN = "rule warn_long_session changed (when)"


@pytest.mark.parametrize(("minutes", "units", "causes"), [
    (70, 3, {FEE, CAP}),  # the cap fires on the new side only
    (100, 3, {FEE, CAP, WARN}),  # a warning newly fired does not hide the new share
    (100, 4, {FEE, CAP, WARN}),  # the cap fires on both sides, to fewer units on the new
    # The cap and the midpoint rule fire on both sides; only the cap reduces to other units. The
    # warning fires on both sides too: its changed condition moves nothing here.
    (70, 4, {FEE, CAP}),
    (130, 3, {FEE, CAP}),
])
def test_every_change_that_moves_a_line_of_a_replayed_claim_is_its_cause(sunrise_pair, tmp_path, minutes, units,
                                                                         causes):
    claims = tmp_path / "claim.json"
    claims.write_text(json.dumps(two_lines(minutes, units)), encoding="utf-8")
    pair = only_pair(run_diff(*sunrise_pair, str(claims)))
    [w] = pair.behavior.witnesses
    assert [(l.old["amount"], l.new["amount"]) for l in w.lines] == [("57.29", "54.68"), ("84.32", "53.66")]
    assert {c.text() for c in w.causes} == causes
    no_effect = {c.key for c in pair.no_effect}
    assert not no_effect & {"param sunrise_share", "row caps[97551]"}
    assert ("rule warn_long_session" in no_effect) == (WARN not in causes)


def test_no_change_that_moves_a_replayed_claim_is_said_to_have_no_effect(sunrise_pair, tmp_path, capsys):
    claims = tmp_path / "claim.json"
    claims.write_text(json.dumps(two_lines(70, 3)), encoding="utf-8")
    _, out, _ = run(capsys, "diff", *sunrise_pair, "--claims", str(claims))
    assert f"cause: {FEE}" in out and f"cause: {CAP}" in out
    no_effect = out.split("No effect on any replayed claim", 1)[1]
    assert "sunrise_share" not in no_effect and "caps[97551]" not in no_effect
    assert "rule warn_long_session (changed: when)" in no_effect  # 70 minutes: over neither threshold


def test_a_generated_witness_names_the_new_warning_and_the_new_share_together(sunrise_pair):
    pair = only_pair(run_diff(*sunrise_pair))
    [w] = [w for w in pair.behavior.witnesses if w.label == "97550, 91 minutes, 2025-01-01"]
    assert (w.lines[0].old["amount"], w.lines[0].new["amount"]) == ("57.29", "54.68")
    assert {c.text() for c in w.causes} == {WARN, FEE}
    assert pair.no_effect == []  # every change moves some generated claim


def test_a_dropped_disable_line_reads_as_re_enabled_and_an_added_one_as_disabled(sunrise_pair, capsys):
    old, new = sunrise_pair
    [enabled] = [c for c in structural_changes(load_file(old), load_file(new)) if c.kind == "rule"
                 and c.name == "same_day_individual_and_group"]
    [disabled] = [c for c in structural_changes(load_file(new), load_file(old)) if c.kind == "rule"
                  and c.name == "same_day_individual_and_group"]
    assert (enabled.action, enabled.toggled, enabled.details[0]) == ("added", "re-enabled",
                                                                     ("disabled", "Not used here.", None))
    assert (disabled.action, disabled.toggled, disabled.details[0]) == ("removed", "disabled",
                                                                        ("disabled", None, "Not used here."))
    _, out, _ = run(capsys, "diff", old, new)
    assert ("  rule same_day_individual_and_group: re-enabled (no longer disabled)\n"
            "      was disabled because: Not used here.\n"
            "      title: Individual and group CTS on the same date (for review: no NCCI edit pairs them)\n") in out
    assert "cause: rule same_day_individual_and_group re-enabled" in out
    assert "when:" not in out.split("re-enabled", 1)[1].split("row caps", 1)[0]  # the parent's body is not repeated
    _, out, _ = run(capsys, "diff", new, old, "--format", "markdown")
    assert "- rule `same_day_individual_and_group` disabled\n  - because: `Not used here.`\n" in out


def test_two_copies_of_the_tree_not_named_policies_each_use_their_own_parent(tmp_path):
    # old/ and new/ are two checkouts of the tree: an overlay's change must come from its own side's parent,
    # not from the policies installed with ctsdsl.
    for side in ("old", "new"):
        shutil.copytree(ROOT / "policies" / "medicare", tmp_path / side / "medicare",
                        ignore=shutil.ignore_patterns("cts-2026.cts", "cases"))
        (tmp_path / side / "examples").mkdir()
        shutil.copy(ROOT / "policies" / "examples" / "example-percent-of-medicare.cts", tmp_path / side / "examples")
    parent = tmp_path / "new" / "medicare" / "cts-2025.cts"
    text = parent.read_text(encoding="utf-8")
    parent.write_text(text.replace("param kx_threshold_pt_slp: money = $2410", "param kx_threshold_pt_slp: money = $2400"),
                      encoding="utf-8")
    report = run_diff(str(tmp_path / "old"), str(tmp_path / "new"))
    changed = {pair.new.header.name for pair in report.pairs if pair.behavior.witnesses}
    assert changed == {"medicare-cts-2025", "example-percent-of-medicare-2025"}


def test_a_control_or_bidi_character_in_a_policy_is_shown_escaped_in_text_and_markdown(tmp_path):
    # An ESC sequence would clear a reviewer's terminal, a right-to-left override reorder what they read.
    from ctsdsl.review.diff_markdown import render_markdown
    new = edited_copy(tmp_path, "medicare/cts-2024.cts", (
        'title "CTS is training without the patient present"',
        'title "CTS is training \u202ewithout\u202c the patient present \x1b[2J"'))
    report = run_diff(str(tmp_path / "old" / "medicare" / "cts-2024.cts"), str(new))
    for shown in (render_text(report), render_markdown(report)):
        assert "\x1b" not in shown and "\u202e" not in shown
        assert "training \\u202ewithout\\u202c the patient present \\x1b[2J" in shown
