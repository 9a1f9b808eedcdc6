"""The text report reads as a biller reads an 835: each line's adjustments and remarks under it, and what a
needs_record line asks the record to confirm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ctsdsl
from ctsdsl.report.render import render_decision

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def claim():
    with open(ROOT / "examples" / "claims" / "typical.json", encoding="utf-8") as fh:
        return json.load(fh)


def rows_under(report: str, line: int) -> list[str]:
    """The report's rows below line `line`'s own row, up to the next line or the findings."""
    rows = report.splitlines()
    start = next(k for k, row in enumerate(rows) if row.startswith(f"    #{line} "))
    below = []
    for row in rows[start + 1:]:
        if not row.startswith("        "):
            break
        below.append(row.strip())
    return below


def test_a_denied_line_shows_its_group_carc_amount_and_units_as_an_835_does(claim):
    claim["documentation"]["consent"] = False
    claim["lines"][0]["charge"] = 90
    report = render_decision(ctsdsl.evaluate(claim))
    assert rows_under(report, 0) == ["adjusted CO-16 $90.00, 1 unit (F2)"]


def test_an_adjustment_without_a_charge_gives_its_units_and_no_amount(claim):
    claim["documentation"]["consent"] = False
    report = render_decision(ctsdsl.evaluate(claim))
    assert rows_under(report, 1)[0].startswith("adjusted CO-16, 2 units (")


def test_a_paid_line_has_nothing_under_it(claim):
    assert rows_under(render_decision(ctsdsl.evaluate(claim)), 0) == []


def test_a_needs_record_line_lists_what_to_confirm_in_the_record(claim):
    claim["documentation"]["consent"] = None
    claim["lines"][0]["minutes"] = None
    report = render_decision(ctsdsl.evaluate(claim))
    assert "NEEDS RECORD" in report.splitlines()[3]
    assert rows_under(report, 0) == ["confirm in the record: documentation.consent, lines[0].minutes"]


def test_a_long_confirm_list_wraps_between_elements_never_inside_one(claim):
    claim["documentation"] = dict.fromkeys(claim["documentation"])
    claim["lines"][0].update(minutes=None, patient_present=None, patients_represented=None)
    rows = rows_under(render_decision(ctsdsl.evaluate(claim)), 0)
    assert len(rows) > 1 and all(len(row) <= 100 for row in rows)
    named = " ".join(rows).removeprefix("confirm in the record:").replace(",", " ").split()
    assert named == list(ctsdsl.evaluate(claim).lines[0].confirm)


def test_a_decision_under_assume_documented_says_so(claim):
    claim["documentation"] = {}
    report = render_decision(ctsdsl.evaluate(claim, assume_documented=True))
    assert "documentation assumed" in report.splitlines()[2]
    assert "documentation assumed" not in render_decision(ctsdsl.evaluate(claim))


def explained(claim) -> list[str]:
    from ctsdsl.report.render import render_explain
    evaluator = ctsdsl.compile("medicare-cts-2024")
    decision, evaluations = evaluator.trace(claim)
    return render_explain(decision, evaluations, show_all=True).splitlines()


def test_explain_lists_every_value_a_quantifier_read_under_one_label_each_with_its_line(claim):
    rows = [row.strip() for row in explained(claim)]
    assert "read o.code = 97550 (line #0); 97551 (line #1)" in rows
    assert "read o.units = 1 (line #0); 2 (line #1)" in rows
    assert not any(row.startswith("read o.code = ") and "; " not in row and "line #" not in row for row in rows)


def test_explain_shows_a_read_of_the_rules_own_line_or_the_claim_without_a_line(claim):
    rows = [row.strip() for row in explained(claim)]
    assert "read line.code = 97550" in rows and "read claim.place_of_service = 11" in rows


def test_explain_names_each_label_once_per_rule(claim):
    rows = explained(claim)
    start = rows.index("      kx_threshold_pt_slp: did not fire")
    block = []
    for row in rows[start + 1:]:
        if not row.startswith("        read "):
            break
        block.append(row.split(" = ")[0])
    assert len(block) == len(set(block)) and "        read o.code" in block
