"""The evaluator: how rules combine into a decision, what messages say, how money is rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest

import ctsdsl
from ctsdsl.engine.runtime import AbsentValueError, given
from ctsdsl.errors import EvaluationError

from conftest import claim, medicare_claim

FEE_10 = 'fee ten { title "Ten dollars a unit" cites s amount $10 * units_allowed }\n'


def rule(rule_id: str, body: str, message: str = "fired") -> str:
    return f'rule {rule_id} {{ title "{rule_id}" cites s {body} message "{message}" }}\n'


def statuses(decision):
    return [(line.status, line.units_allowed) for line in decision.lines]


# ------------------------------------------------------------------ combining rules on a line


def test_any_deny_denies_the_line_whatever_else_fired(decide):
    d = decide(rule("shorten", "reduce units to 1") + rule("refuse", "deny") + FEE_10,
               claim({"code": "97550", "units": 3}))
    assert statuses(d) == [("denied", 0)]
    assert d.lines[0].allowed_amount == Decimal("0.00")
    assert d.outcome == "deny"


def test_the_smallest_unit_reduction_wins(decide):
    d = decide(rule("to_three", "reduce units to 3") + rule("to_two", "reduce units to 2") + FEE_10,
               claim({"code": "97550", "units": 4}))
    assert statuses(d) == [("reduced", 2)]
    assert d.lines[0].allowed_amount == Decimal("20.00")
    assert d.outcome == "partial"


def test_a_reduction_to_zero_units_denies_the_line(decide):
    d = decide(rule("none_left", "reduce units to 0"), claim({"code": "97550", "units": 2}))
    assert statuses(d) == [("denied", 0)]


def test_a_reduction_above_the_billed_units_never_adds_units(decide):
    d = decide(rule("generous", "reduce units to 5"), claim({"code": "97550", "units": 2}))
    assert statuses(d) == [("allowed", 2)]
    assert d.outcome == "pay"


def test_every_rule_that_fires_is_reported(decide):
    d = decide(rule("note_it", "info") + rule("look", "warn") + rule("shorten", "reduce units to 1")
               + rule("refuse", "deny"), claim({"code": "97550", "units": 2}))
    assert [(f.id, f.rule, f.severity) for f in d.findings] == [
        ("F1", "note_it", "info"), ("F2", "look", "warn"), ("F3", "shorten", "reduce"), ("F4", "refuse", "deny")]
    assert d.lines[0].findings == ("F1", "F2", "F3", "F4")


def test_warnings_and_infos_leave_the_line_paid(decide):
    d = decide(rule("look", "warn") + rule("note_it", "info") + FEE_10, claim({"code": "97550", "units": 1}))
    assert statuses(d) == [("allowed", 1)]
    assert d.outcome == "pay"


def test_a_rule_fires_only_where_its_filter_and_condition_hold(decide):
    d = decide(rule("long", 'applies to line where line.code == "97550" when line.units > 1 deny'),
               claim({"code": "97550", "units": 1}, {"code": "97550", "units": 2}, {"code": "97551", "units": 2}))
    assert statuses(d) == [("allowed", 1), ("denied", 0), ("allowed", 2)]
    assert [f.line for f in d.findings] == [1]


def test_a_claim_rule_deny_denies_every_governed_line(decide):
    d = decide(rule("no_consent", "applies to claim when not claim.documentation.consent deny") + FEE_10,
               claim({"code": "97550", "units": 1}, {"code": "99213", "units": 1}, {"code": "97552", "units": 1}))
    assert [line.status for line in d.lines] == ["denied", "out_of_scope", "denied"]
    (finding,) = d.findings
    assert finding.line is None
    assert d.lines[0].findings == d.lines[2].findings == ("F1",)
    assert d.lines[1].findings == ()
    assert d.outcome == "deny"


# ------------------------------------------------------------------ lines the policy does not govern


def test_a_code_the_policy_does_not_govern_is_out_of_scope_with_no_amount(decide):
    d = decide(rule("refuse", "deny") + FEE_10, claim({"code": "99213", "units": 2}, {"code": "97550", "units": 1}))
    out = d.lines[0]
    assert (out.status, out.units_billed, out.units_allowed, out.allowed_amount) == ("out_of_scope", 2, 2, None)
    assert [f.line for f in d.findings] == [1]


def test_a_claim_with_no_governed_line_is_paid_and_runs_no_claim_rule(decide):
    d = decide(rule("refuse_claim", "applies to claim deny"), claim({"code": "99213", "units": 1}))
    assert d.findings == ()
    assert d.outcome == "pay"
    assert d.total_allowed == Decimal("0.00")


# ------------------------------------------------------------------ the claim's outcome


@pytest.mark.parametrize(("units", "outcome"), [((1, 1), "pay"), ((1, 3), "partial"), ((3, 3), "deny")])
def test_the_outcome_is_pay_partial_or_deny(decide, units, outcome):
    body = rule("too_many", "when line.units > 2 deny")
    d = decide(body, claim(*({"code": "97550", "units": u} for u in units)))
    assert d.outcome == outcome


def test_a_reduced_line_makes_the_outcome_partial(decide):
    d = decide(rule("shorten", "reduce units to 1"), claim({"code": "97550", "units": 2}))
    assert d.outcome == "partial"


# ------------------------------------------------------------------ fees and money


def test_the_first_matching_fee_sets_the_amount_with_the_final_units(decide):
    fees = ('fee group { title "G" cites s applies to line where line.code == "97552" amount $5 * units_allowed }\n'
            + FEE_10)
    d = decide(rule("shorten", "reduce units to 2") + fees,
               claim({"code": "97552", "units": 3}, {"code": "97550", "units": 3}))
    assert [line.allowed_amount for line in d.lines] == [Decimal("10.00"), Decimal("20.00")]
    assert d.total_allowed == Decimal("30.00")


def test_a_line_no_fee_matches_has_no_amount_and_adds_nothing_to_the_total(decide):
    fee = 'fee f { title "F" cites s applies to line where line.code == "97550" amount $10 * units_allowed }\n'
    d = decide(fee, claim({"code": "97550", "units": 1}, {"code": "97551", "units": 1}))
    assert [line.allowed_amount for line in d.lines] == [Decimal("10.00"), None]
    assert d.total_allowed == Decimal("10.00")
    assert d.to_dict()["lines"][1]["allowed_amount"] is None


@pytest.mark.parametrize(("amount", "cents"), [
    ("$0.125", "0.13"), ("$0.135", "0.14"), ("$0.145", "0.15"), ("$24.225", "24.23"), ("$0.124", "0.12"),
])
def test_an_amount_is_rounded_to_cents_half_up(decide, amount, cents):
    fee = f'fee f {{ title "F" cites s amount {amount} * units_allowed }}\n'
    d = decide(fee, claim({"code": "97550", "units": 1}))
    assert d.lines[0].allowed_amount == Decimal(cents)
    assert d.to_dict()["lines"][0]["allowed_amount"] == cents


def test_round_in_a_policy_rounds_half_up_too(decide):
    fee = 'fee f { title "F" cites s amount round($24.225, 2) * units_allowed }\n'
    assert decide(fee, claim({"code": "97550", "units": 3})).lines[0].allowed_amount == Decimal("72.69")


def test_the_total_is_the_sum_of_the_rounded_line_amounts(decide):
    fee = 'fee f { title "F" cites s amount $0.125 * units_allowed }\n'
    d = decide(fee, claim({"code": "97550", "units": 1}, {"code": "97551", "units": 1}))
    assert d.total_allowed == Decimal("0.26")


def test_a_negative_parameter_takes_part_in_arithmetic(decide):
    body = ("param discount: money = -$2.50 cites s\nparam shift: int = -1 cites s\n"
            + rule("shorten", "reduce units to line.units + shift")
            + 'fee f { title "F" cites s amount ($10 + discount) * units_allowed }\n')
    d = decide(body, claim({"code": "97550", "units": 3}))
    assert (d.lines[0].units_allowed, d.lines[0].allowed_amount) == (2, Decimal("15.00"))


def test_a_dated_parameter_takes_the_value_in_force_on_the_date_of_service(decide):
    body = ("param rate: money {\n  from 2024-01-01 to 2024-03-08 = $10 cites s\n"
            "  from 2024-03-09 to 2024-12-31 = $20 cites s\n}\n"
            'fee f { title "F" cites s amount rate * units_allowed }\n')
    march = claim({"code": "97550", "units": 1}, {"code": "97550", "units": 1, "date_of_service": "2024-03-08"},
                  date_of_service="2024-03-09")
    assert [line.allowed_amount for line in decide(body, march).lines] == [Decimal("20.00"), Decimal("10.00")]


def test_inside_a_sum_over_lines_a_dated_value_is_read_on_the_current_lines_date_unless_at_says_otherwise(decide):
    rate = ("param rate: money {\n  from 2024-01-01 to 2024-03-08 = $10 cites s\n"
            "  from 2024-03-09 to 2024-12-31 = $20 cites s\n}\n")
    march = claim({"code": "97550", "units": 1}, {"code": "97550", "units": 1, "date_of_service": "2024-03-08"},
                  date_of_service="2024-03-09")
    current = decide(rate + 'fee f { title "F" cites s amount sum(rate for o in claim.lines) }\n', march)
    each_own = decide(rate + 'fee f { title "F" cites s amount sum(at(o.date_of_service, rate) for o in claim.lines) }\n',
                      march)
    assert [line.allowed_amount for line in current.lines] == [Decimal("40.00"), Decimal("20.00")]
    assert [line.allowed_amount for line in each_own.lines] == [Decimal("30.00"), Decimal("30.00")]


def test_at_needs_a_date(make_policy):
    with pytest.raises(ctsdsl.PolicySemanticError, match="argument 1 of at"):
        make_policy('fee f { title "F" cites s amount at(1, $5) }\n')


# ------------------------------------------------------------------ messages


def test_a_message_quotes_claim_values(decide):
    message = ("{line.code}: {line.units} units, {line.minutes} minutes, present {line.patient_present}, "
               "modifiers [{line.modifiers}], {{braces}}")
    d = decide(rule("say", "warn", message),
               claim({"code": "97550", "units": 2, "modifiers": ["GP", "KX"]}))
    assert d.findings[0].message == "97550: 2 units, (none) minutes, present no, modifiers [GP, KX], {braces}"


def test_a_message_quotes_money_exactly(decide):
    message = "cf ${cf}, spend ${claim.therapy_spend_to_date}"
    d = decide("param cf: money = $33.2875 cites s\n" + rule("say", "info", message),
               claim(therapy_spend_to_date=800.5))
    assert d.findings[0].message == "cf $33.2875, spend $800.5"


def test_dollars_writes_an_amount_as_billers_read_it(decide):
    message = ("cf {dollars(cf)}, spend {dollars(claim.therapy_spend_to_date)}, "
               "credit {dollars(-cf)}, none {dollars(claim.ot_spend_to_date)}")
    d = decide("param cf: money = $33.2875 cites s\n" + rule("say", "info", message),
               claim(therapy_spend_to_date=12345.675))
    assert d.findings[0].message == "cf $33.29, spend $12,345.68, credit -$33.29, none (none)"


# ------------------------------------------------------------------ built-in functions


BUILTINS = [
    ("year(claim.date_of_service) == 2024", True),
    ("year(line.date_of_service) == 2025", False),
    ("min(line.units, 3) == 1", True),
    ("max($2, 1) == $2", True),
    ("min($2, 1.5) == 1.5", True),
    ("midpoint_units(line.minutes, 30) == 1", True),  # 45 minutes: the second unit needs 46
    ("midpoint_units(46, 30) == 2", True),
    ("midpoint_addon_units(52, 30, 15) == 1", True),  # 22 minutes past the base: the second needs 23
    ("midpoint_addon_units(53, 30, 15) == 2", True),
    ("eight_minute_units(7) == 0", True),
    ("eight_minute_units(38) == 3", True),
    ("len(line.modifiers) == 2", True),
    ("coalesce(line.patients_represented, 1) == 1", True),
    ("round(2.345, 2) == 2.35", True),  # half up, not to even
    ("round($24.225, 2) == $24.23", True),
]


@pytest.mark.parametrize(("condition", "fires"), BUILTINS, ids=[b[0] for b in BUILTINS])
def test_each_built_in_function_computes_what_its_documentation_says(decide, condition, fires):
    d = decide(rule("b", f"when {condition} warn"),
               claim({"code": "97550", "units": 1, "minutes": 45, "modifiers": ["GP", "KX"]}))
    assert bool(d.findings) is fires


# ------------------------------------------------------------------ quantifiers


QUANTIFIED = [
    ('any(o in claim.lines where o.code == "97551")', [True]),
    ('all(o in claim.lines where o.units > 1)', [False]),
    ('none(o in claim.lines where o.code == "97552")', [True]),
    ('count(o in claim.lines where o.code == "97551") == 2', [True]),
    ("count(o in claim.lines) == 3", [True]),
    ("sum(o.units for o in claim.lines) == 6", [True]),
    ('sum(o.units for o in claim.lines where o.code == "97551") == 5', [True]),
    ("sum(coalesce(o.minutes, 0) for o in claim.lines) == 45", [True]),
]


@pytest.mark.parametrize(("condition", "fires"), QUANTIFIED, ids=[q[0] for q in QUANTIFIED])
def test_quantifiers_look_across_the_claim_lines(decide, condition, fires):
    body = rule("q", f'applies to claim when {condition} warn')
    d = decide(body, claim({"code": "97550", "units": 1, "minutes": 45}, {"code": "97551", "units": 2},
                           {"code": "97551", "units": 3}))
    assert [bool(d.findings)] == fires


def test_a_quantifier_may_compare_each_line_with_the_current_one(decide):
    body = rule("alone", "applies to line where line.code == \"97551\" when not any(o in claim.lines where "
                "o.code == \"97550\" and o.date_of_service == line.date_of_service) deny")
    d = decide(body, claim({"code": "97550", "units": 1, "date_of_service": "2024-05-01"},
                           {"code": "97551", "units": 1, "date_of_service": "2024-05-01"},
                           {"code": "97551", "units": 1, "date_of_service": "2024-05-02"}))
    assert [line.status for line in d.lines] == ["allowed", "allowed", "denied"]


# ------------------------------------------------------------------ evaluation errors


def test_a_missing_table_row_is_an_evaluation_error_located_at_the_rule(tmp_path, make_policy):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("code,limit\n97550,2\n", encoding="utf-8")
    loaded = make_policy('table t from "data/t.csv" key code cites s\n'
                         + rule("over_limit", "when line.units > t[line.code].limit deny"))
    with pytest.raises(EvaluationError) as info:
        loaded.evaluator().evaluate(claim({"code": "97550", "units": 1}, {"code": "97551", "units": 1}))
    exc = info.value
    assert exc.exit_code == 3
    (d,) = exc.diagnostics
    assert d.code == "evaluation" and d.path == "$.lines[1]"
    assert "rule `over_limit` could not be evaluated" in d.message and "no row for '97551'" in d.message
    assert d.source_name == str(tmp_path / "p.cts")
    rule_line = next(i for i, text in enumerate(loaded.text.splitlines(), 1) if text.startswith("rule over_limit"))
    assert d.span.line == rule_line
    rendered = str(exc).splitlines()
    assert rendered[0].startswith(f"{tmp_path / 'p.cts'}:{rule_line}:1: $.lines[1]: error: ")
    assert rendered[1] == f"{rule_line:>5} | " + loaded.text.splitlines()[rule_line - 1]
    assert rendered[2].startswith("      | ^")
    assert rendered[3].startswith("  hint: add the row")


def test_an_absent_optional_value_used_unguarded_is_an_evaluation_error_with_a_hint(decide):
    with pytest.raises(EvaluationError) as info:
        decide(rule("long", "when line.minutes > 60 deny"), claim({"code": "97550", "units": 1}))
    (d,) = info.value.diagnostics
    assert "a value it reads is absent" in d.message
    assert "missing(" in d.hint and "| " in str(info.value)


def test_minutes_compared_on_a_line_without_minutes_is_refused_by_the_runtime_naming_line_minutes(decide):
    # `when line.minutes > 60` on a line that gives no minutes: the generated code checks the value
    # before comparing it and raises the runtime's own error; nothing is guessed from a TypeError.
    with pytest.raises(EvaluationError) as info:
        decide(rule("long", "when line.minutes > 60 deny"), claim({"code": "97550", "units": 1}))
    assert isinstance(info.value.__context__, AbsentValueError)
    assert info.value.__context__.label == "line.minutes"
    assert "a value it reads is absent on this claim: `line.minutes`" in info.value.diagnostics[0].message


def test_an_absent_value_in_arithmetic_or_a_function_is_refused_the_same_way(decide):
    for body, label in (("when line.minutes + 5 > 60 deny", "line.minutes"),
                        ("reduce units to midpoint_units(line.minutes, 15)", "line.minutes"),
                        ("when round(claim.therapy_spend_to_date, 2) > 1 deny", "claim.therapy_spend_to_date")):
        with pytest.raises(EvaluationError) as info:
            decide(rule("r", body), claim({"code": "97550", "units": 1}))
        assert isinstance(info.value.__context__, AbsentValueError), body
        assert info.value.__context__.label == label, body


def test_a_guarded_or_defaulted_absent_value_is_no_error(decide):
    # missing(...) short-circuits before the comparison; coalesce gives the value a default.
    for body in ("when not missing(line.minutes) and line.minutes > 60 deny",
                 "when coalesce(line.minutes, 0) > 60 deny", "when line.minutes == 60 deny"):
        d = decide(rule("r", body), claim({"code": "97550", "units": 1}))
        assert d.findings == (), body


def test_the_runtime_owns_the_absent_value_check():
    assert given(3, "line.minutes") == 3 and given(0, "line.minutes") == 0
    with pytest.raises(AbsentValueError, match="`line.minutes` is absent on this claim"):
        given(None, "line.minutes")


# ------------------------------------------------------------------ the bundled Medicare policy


@pytest.mark.parametrize(("spend", "outcome"), [(2200.5, "pay"), (2300.5, "deny"), (2300, "deny")])
def test_a_fractional_therapy_spend_from_json_meets_the_kx_threshold_exactly(spend, outcome):
    # JSON numbers with a fraction arrive as float; the KX rules add them to Decimal money.
    d = ctsdsl.evaluate(medicare_claim(therapy_spend_to_date=spend))
    assert d.outcome == outcome
    assert ("kx_threshold_pt_slp" in [f.rule for f in d.findings]) == (outcome == "deny")


def test_the_typical_example_claim_is_paid():
    import json

    from conftest import ROOT
    d = ctsdsl.evaluate(json.loads((ROOT / "examples/claims/typical.json").read_text(encoding="utf-8")))
    assert d.outcome == "pay"
    assert [line.status for line in d.lines] == ["allowed", "allowed"]


def test_an_inherited_rule_that_fails_points_into_the_parent_file(tmp_path):
    from conftest import policy_text
    (tmp_path / "parent.cts").write_text(policy_text(rule("long", "when line.minutes > 60 deny")), encoding="utf-8")
    (tmp_path / "child.cts").write_text('policy "child" {\n  payer "test"\n  version "2"\n'
                                        '  effective 2024-01-01 to 2024-12-31\n  extends "parent.cts"\n}\n',
                                        encoding="utf-8")
    with pytest.raises(EvaluationError) as info:
        ctsdsl.evaluate(claim({"code": "97550", "units": 1}), policy=tmp_path / "child.cts")
    (d,) = info.value.diagnostics
    assert d.source_name == str(tmp_path / "parent.cts")
    assert "| rule long {" in str(info.value)


_SPEND_FEE = None


def _spend_fee_evaluator(folder):
    global _SPEND_FEE
    if _SPEND_FEE is None:
        from conftest import load
        _SPEND_FEE = load('fee f { title "F" cites s amount claim.therapy_spend_to_date * units_allowed }\n',
                          folder).evaluator()
    return _SPEND_FEE


def test_any_amount_is_rounded_to_the_nearest_cent_with_halves_going_up(tmp_path_factory):
    from decimal import ROUND_HALF_UP

    from hypothesis import given, settings
    from hypothesis import strategies as st

    evaluator = _spend_fee_evaluator(tmp_path_factory.mktemp("spend"))

    @settings(max_examples=60, deadline=None)
    @given(st.decimals(min_value=0, max_value=100000, places=3), st.integers(min_value=1, max_value=9))
    def check(spend, units):
        d = evaluator.evaluate(claim({"code": "97550", "units": units}, therapy_spend_to_date=float(spend)))
        assert d.lines[0].allowed_amount == (spend * units).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    check()


@pytest.mark.parametrize("amount, text", [("0.125", "0.13"), ("0.135", "0.14"), ("2", "2.00"), (None, None)])
def test_a_decision_prints_money_half_up_even_when_built_by_hand(amount, text):
    from ctsdsl.engine.decision import money_text
    assert money_text(None if amount is None else Decimal(amount)) == text


def test_a_total_that_leaves_out_a_paid_line_of_unknown_amount_says_it_is_incomplete(decide):
    fee = 'fee f { cites s applies to line where line.code == "97550" amount $10 }\n'
    d = decide(fee, claim({"code": "97550", "units": 1}, {"code": "97551", "units": 1}))
    assert [ln.allowed_amount for ln in d.lines] == [Decimal("10.00"), None]
    assert d.total_allowed == Decimal("10.00") and d.total_complete is False
    assert d.to_dict()["total_complete"] is False


def test_a_denied_line_of_unknown_fee_leaves_the_total_complete(decide):
    fee = 'fee f { cites s applies to line where line.code == "97550" amount $10 }\n'
    d = decide(fee + rule("no_addon", 'applies to line where line.code == "97551" deny'),
               claim({"code": "97550", "units": 1}, {"code": "97551", "units": 1}))
    assert d.lines[1].status == "denied" and d.total_complete is True
