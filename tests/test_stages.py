"""Staged rules: each stage runs on every line before the next, and a later stage reads what the
earlier ones decided (`line.denied`, `o.units_allowed`), never what its own stage or a later one does.
"""

from __future__ import annotations

import pytest

from ctsdsl.errors import PolicySemanticError
from ctsdsl.language.formatter import format_policy
from ctsdsl.engine.loader import load_file

from conftest import claim, policy_text

NEEDS_MINUTES = '''
rule needs_minutes {
  title "A line needs its minutes"
  cites s
  applies to line
  when missing(line.minutes)
  deny
  reason CARC 16
  message "no minutes"
}
'''

# The cap of issue 15: at most one unit of 97551 a claim, counting only lines not denied before.
ONE_ADDON_UNIT = '''
stages checks, limits

let addon_units_before = sum(o.units_allowed for o in claim.lines
                             where o.code == "97551" and not o.denied and o.index < line.index)

rule one_addon_unit {
  title "At most one unit of 97551 a claim"
  cites s
  stage limits
  applies to line where line.code == "97551" and not line.denied
  reduce units to 1 - addon_units_before
  message "{addon_units_before} unit(s) of 97551 allowed on earlier lines"
}
''' + NEEDS_MINUTES

ADDON = {"code": "97551", "units": 1, "minutes": 15}


def statuses(decision) -> list[tuple[str, int]]:
    return [(line.status, line.units_allowed) for line in decision.lines]


def test_a_later_stage_does_not_count_a_line_an_earlier_stage_denied(decide):
    # The first 97551 has no minutes and is denied by `checks`; the cap then leaves the second whole.
    decision = decide(ONE_ADDON_UNIT, claim({"code": "97551", "units": 1}, ADDON))
    assert statuses(decision) == [("denied", 0), ("allowed", 1)]


def test_units_past_a_shared_cap_are_cut_from_later_lines_first(decide):
    decision = decide(ONE_ADDON_UNIT, claim(ADDON, {**ADDON, "units": 2}, ADDON))
    assert statuses(decision) == [("allowed", 1), ("denied", 0), ("denied", 0)]
    assert [f.message for f in decision.findings_for(1)] == ["1 unit(s) of 97551 allowed on earlier lines"]


def test_without_stages_a_denied_line_still_used_up_the_cap_and_that_is_why_stages_exist(decide):
    # The same rule in one stage could not tell the denied line apart: the checker refuses it instead.
    with pytest.raises(PolicySemanticError, match="reads what earlier stages decided, but it is in the first stage"):
        decide(ONE_ADDON_UNIT.replace("  stage limits\n", ""), claim(ADDON))


SAME_STAGE = '''
stages first, second

rule deny_97551 {
  title "Deny 97551"
  cites s
  stage second
  applies to line where line.code == "97551"
  deny
  reason CARC 4
  message "denied in the second stage"
}

rule sees_denials {
  title "Counts the lines denied before this stage"
  cites s
  stage second
  applies to line where line.code == "97550"
  when count(o in claim.lines where o.denied) > 0
  warn
  message "a line was denied before the second stage"
}
'''


def test_a_rule_reads_what_earlier_stages_decided_not_its_own_stage_whatever_the_order(decide):
    # deny_97551 runs first, on line 1, before sees_denials runs on line 0 (lines run in order, each
    # its rules in order): still, the second stage reads the first stage's outcome, in which nothing
    # was denied, so the warning never fires, whichever way the rules or lines are ordered.
    lines = ({"code": "97551", "units": 1, "minutes": 15}, {"code": "97550", "units": 1, "minutes": 30})
    for body in (SAME_STAGE, SAME_STAGE.replace("rule deny_97551", "rule z_deny_97551")):
        for ordered in (lines, lines[::-1]):
            decision = decide(body, claim(*ordered))
            assert not [f for f in decision.findings if f.rule == "sees_denials"]


def test_a_let_that_reads_outcomes_is_computed_anew_in_each_stage(decide):
    body = '''
stages one, two, three

let denied_lines = count(o in claim.lines where o.denied)

rule deny_short {
  title "Deny under 16 minutes"
  cites s
  stage two
  applies to line where line.minutes < 16
  deny
  reason CARC 16
  message "short"
}

rule after_two {
  title "Says what stage two denied"
  cites s
  stage three
  applies to claim
  when denied_lines > 0
  warn
  message "{denied_lines} line(s) denied"
}

rule in_two {
  title "Says what stage one denied"
  cites s
  stage two
  applies to claim
  when denied_lines >= 0
  info
  message "{denied_lines} line(s) denied before stage two"
}
'''
    decision = decide(body, claim({"code": "97550", "units": 1, "minutes": 10},
                                  {"code": "97550", "units": 1, "minutes": 30}))
    messages = {f.rule: f.message for f in decision.findings_for(None)}
    assert messages == {"in_two": "0 line(s) denied before stage two", "after_two": "1 line(s) denied"}


def test_traced_evaluation_decides_staged_rules_as_plain_evaluation_does(make_policy):
    evaluator = make_policy(ONE_ADDON_UNIT).evaluator()
    the_claim = claim({"code": "97551", "units": 1}, ADDON, {**ADDON, "units": 2})
    plain = evaluator.evaluate(the_claim)
    traced, evaluations = evaluator.trace(the_claim)
    assert statuses(traced) == statuses(plain) == [("denied", 0), ("allowed", 1), ("denied", 0)]
    reads = [r for e in evaluations if e.rule == "one_addon_unit" and e.line == 2 for r in e.reads]
    assert ("o.units_allowed", 1) in [tuple(r) for r in reads]


# ---------------------------------------------------------------- what the checker refuses


def errors_of(make_policy, body: str) -> list[tuple[str, int, int, str, str]]:
    loaded = make_policy(body, raise_on_error=False)
    return [(d.code, d.span.line, d.span.column, d.message, d.hint) for d in loaded.checked.errors]


def line_of(body: str, text: str) -> int:
    return policy_text(body).splitlines().index(text) + 1


def test_reading_outcomes_in_the_first_stage_is_an_error_at_the_read_with_the_next_stage_as_hint(make_policy):
    body = ONE_ADDON_UNIT.replace("  stage limits\n", "  stage checks\n")
    (error,) = errors_of(make_policy, body)
    # The first read is the rule's own filter, `not line.denied`.
    assert error[:2] == ("stage-order", line_of(body, '  applies to line where line.code == "97551" and not line.denied'))
    assert error[3] == ("rule `one_addon_unit` reads what earlier stages decided, but it is in the first stage "
                        "(`checks`): no rule has decided anything before it")
    assert error[4] == "put it in a later stage: `stage limits`"


def test_a_rule_in_a_stage_that_is_not_declared_gets_a_did_you_mean(make_policy):
    body = ONE_ADDON_UNIT.replace("  stage limits\n", "  stage limts\n")
    (error,) = errors_of(make_policy, body)
    assert error == ("unknown-stage", line_of(body, "  stage limts"), 3,
                     "rule `one_addon_unit` is in stage `limts`, which is not declared", "did you mean `limits`?")


def test_a_stage_without_a_stages_list_says_how_to_declare_one(make_policy):
    body = ONE_ADDON_UNIT.replace("stages checks, limits\n", "")
    (error,) = errors_of(make_policy, body)
    assert error[0] == "unknown-stage" and error[4] == "declare them, in the order they run: e.g. `stages checks, limits`"


def test_a_stage_listed_twice_is_an_error_at_the_second(make_policy):
    body = ONE_ADDON_UNIT.replace("stages checks, limits", "stages checks, limits, checks")
    (error,) = errors_of(make_policy, body)
    assert error[:3] == ("duplicate-name", line_of(body, "stages checks, limits, checks"), 24)


OVERLAY = '''policy "overlay" {
  payer "overlay"
  version "1"
  effective 2024-01-01 to 2024-12-31
  extends "test-policy"
}
'''


def overlay(tmp_path, body: str):
    (tmp_path / "p.cts").write_text(policy_text(ONE_ADDON_UNIT), encoding="utf-8")
    (tmp_path / "o.cts").write_text(OVERLAY + body, encoding="utf-8")
    return load_file(tmp_path / "o.cts", raise_on_error=False)


def test_an_overlay_inherits_its_parents_stages_and_may_add_one_between_them(tmp_path):
    loaded = overlay(tmp_path, '''
stages checks, payer_checks, limits

rule payer_minutes {
  title "The payer's own check"
  cites s
  stage payer_checks
  applies to line
  when line.units > 4
  deny
  reason CARC 151
  message "too many"
}
''')
    assert not loaded.checked.errors and loaded.checked.stages == ("checks", "payer_checks", "limits")
    assert overlay(tmp_path, "").checked.stages == ("checks", "limits")


def test_an_overlay_that_drops_or_reorders_its_parents_stages_is_refused(tmp_path):
    for stages, says in (("stages limits, checks", "in order"), ("stages checks", "it drops limits")):
        error = overlay(tmp_path, f"\n{stages}\n").checked.errors[0]  # then what follows from it
        assert error.code == "stage-order" and says in error.message and error.span.line == 8


def test_an_override_may_move_a_rule_to_another_stage(tmp_path):
    loaded = overlay(tmp_path, '''
stages checks, limits, last

override rule one_addon_unit {
  stage last
}
''')
    assert not loaded.checked.errors
    (rule,) = [r for r in loaded.checked.policy.items if getattr(r, "id", "") == "one_addon_unit"]
    assert rule.stage == "last" and rule.outcome is not None


def test_stages_and_a_rules_stage_format_in_place():
    text = format_policy(policy_text(ONE_ADDON_UNIT))
    assert "\nstages checks, limits\n" in text and "\n  stage limits\n" in text
    assert format_policy(text.replace("stages checks, limits", "stages   checks ,limits")) == text


def test_medicare_two_97551_lines_share_the_one_unit_a_50_minute_session_supports():
    from conftest import medicare_claim
    import ctsdsl
    lines = [{"code": "97550", "units": 1, "minutes": 50, "modifiers": ["GP"]},
             {"code": "97551", "units": 1, "modifiers": ["GP"]}, {"code": "97551", "units": 1, "modifiers": ["GP"]}]
    decision = ctsdsl.evaluate(medicare_claim(lines=lines))
    assert statuses(decision) == [("allowed", 1), ("allowed", 1), ("denied", 0)]
    (finding,) = [f for f in decision.findings_for(2) if f.rule == "addon_units_shared_across_lines"]
    assert finding.message == ("50 session minutes on 2024-05-01 support 1 unit(s) of 97551; earlier lines of the "
                               "code on that date were allowed 1, which leaves line 2 0 of the 1 billed.")
