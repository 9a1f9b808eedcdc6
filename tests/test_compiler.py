"""The compiler: deterministic generated code, the same decisions traced or not, exact arithmetic."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

import ctsdsl
from ctsdsl.engine.compiler import Compiler

from conftest import claim, medicare_claim


def test_compiling_the_same_policy_twice_generates_the_same_source():
    loaded = ctsdsl.load_policy("medicare-cts-2024")
    assert Compiler(loaded.checked).generate().source == Compiler(loaded.checked).generate().source
    assert Compiler(loaded.checked, trace=True).generate().source == \
        Compiler(loaded.checked, trace=True).generate().source


VARIANTS = [
    {},
    {"lines": [{"code": "97550", "units": 1, "minutes": 12, "modifiers": ["GP"]}]},
    {"lines": [{"code": "97550", "units": 1, "minutes": 70, "modifiers": ["GP"]},
               {"code": "97551", "units": 4, "modifiers": ["GP"]}]},
    {"lines": [{"code": "97551", "units": 1, "modifiers": ["GO"]}]},
    {"lines": [{"code": "97552", "units": 3, "modifiers": ["GN"], "patients_represented": 1}]},
    {"place_of_service": "02", "therapy_spend_to_date": 2400},
    {"documentation": {}, "lines": [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP", "CQ"]},
                                    {"code": "99213", "units": 1}]},
]


@pytest.mark.parametrize("changes", VARIANTS)
def test_the_traced_and_the_plain_evaluator_decide_alike(changes):
    evaluator = ctsdsl.compile("medicare-cts-2024")
    the_claim = medicare_claim(**changes)
    plain = evaluator.evaluate(the_claim)
    traced, evaluations = evaluator.trace(the_claim)
    assert traced.to_dict() == plain.to_dict()
    rule_ids = {r.id for r in evaluator.rules}
    assert {e.rule for e in evaluations if e.fired and e.rule in rule_ids} == {f.rule for f in plain.findings}


def test_a_traced_rule_records_the_values_it_read(decide, make_policy):
    loaded = make_policy('rule long { title "L" cites s when line.minutes > 60 warn message "m" }')
    _, evaluations = loaded.evaluator().trace(claim({"code": "97550", "units": 1, "minutes": 75}))
    (fired,) = [e for e in evaluations if e.fired]
    assert ("line.minutes", 75) in fired.reads


def test_division_is_exact_decimal_arithmetic(decide):
    fee = 'fee f { title "F" cites s amount $10 * (units_allowed / 3) }\n'
    assert decide(fee, claim({"code": "97550", "units": 1})).lines[0].allowed_amount == Decimal("3.33")


def test_a_json_float_is_read_as_the_decimal_it_was_written_as(decide):
    body = 'rule r { title "R" cites s applies to claim when claim.therapy_spend_to_date + $0.2 == $800.5 warn ' \
           'message "m" }'
    assert decide(body, claim(therapy_spend_to_date=800.3)).findings


def test_policy_names_that_are_python_builtins_do_not_clash_with_them(decide):
    body = ('param eval = 1 cites s\nlet list = line.units\n'
            'rule exec { title "R" cites s when list > eval deny message "m" }')
    d = decide(body, claim({"code": "97550", "units": 1}, {"code": "97550", "units": 2}))
    assert [line.status for line in d.lines] == ["allowed", "denied"]


def test_a_claim_total_computed_once_is_still_recorded_by_every_line_that_reads_it(make_policy):
    # Tracing memoizes `total` like plain evaluation does, and replays the values it read.
    loaded = make_policy('let total = sum(o.units for o in claim.lines)\n'
                         'rule big { title "B" cites s when total > 2 warn message "m" }')
    _, evaluations = loaded.evaluator().trace(claim({"code": "97550", "units": 1}, {"code": "97550", "units": 2}))
    first, second = [e.reads for e in evaluations if e.rule == "big"]
    assert first == second == (("o.units", 1), ("o.units", 2), ("total", 3))


def test_a_memoized_value_replays_no_more_reads_than_the_cap(make_policy, monkeypatch):
    monkeypatch.setattr("ctsdsl.engine.runtime.MAX_TRACE_READS", 3)
    loaded = make_policy('let total = sum(o.units for o in claim.lines)\n'
                         'rule big { title "B" cites s when line.units > 0 and total > 2 warn message "m" }')
    _, evaluations = loaded.evaluator().trace(claim(*[{"code": "97550", "units": 1}] * 6))
    for reads in [e.reads for e in evaluations if e.rule == "big"]:
        assert reads == (("line.units", 1), ("o.units", 1), ("o.units", 1),
                         ("...", "more than 3 values read; the rest are not recorded"))


def _nested_rows_policy(tmp_path, depth: int):
    from conftest import load
    # A code column with a letter in it is text, so a cell can key the table again.
    (tmp_path / "t.csv").write_text("k,x\n97550,97550\nG0539,G0539\n", encoding="utf-8")
    key = "line.code"
    for _ in range(depth):
        key = f"t[{key}].x"
    return load('table t from "t.csv" key k cites s\n'
                f'rule r {{ title "r" cites s applies to line when {key} == "97550" warn message "m" }}\n', tmp_path)


@pytest.mark.parametrize("trace", [False, True])
def test_generated_code_grows_linearly_with_the_nesting_of_table_rows(tmp_path, trace):
    # `t[t[...[line.code].x...].x]` twelve deep used to repeat each key per level (3^12 copies: 30 s, 6 GB).
    sizes = {depth: len(Compiler(_nested_rows_policy(tmp_path, depth).checked, trace=trace).generate().source)
             for depth in (4, 8, 16)}
    # Doubling the nesting at most doubles the code (tripling per level, it grew 3^8 times from 8 to 16).
    assert sizes[8] <= 2 * sizes[4] and sizes[16] <= 2 * sizes[8]


def test_a_row_nested_fourteen_deep_is_decided(tmp_path):
    decision = _nested_rows_policy(tmp_path, 14).evaluator().evaluate(claim())
    assert [f.rule for f in decision.findings] == ["r"]


GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "traced"])
def test_the_generated_source_of_a_small_policy_is_the_golden_one(trace):
    # Read the golden file to review what the compiler writes; after an intended change, rewrite
    # it with: CTSDSL_UPDATE_GOLDEN=1 python -m pytest tests/test_compiler.py -k golden
    from ctsdsl.engine.loader import load_file
    source = Compiler(load_file(GOLDEN / "small.cts").checked, trace=trace).generate().source
    golden = GOLDEN / f"small.{'traced' if trace else 'plain'}.py"
    if os.environ.get("CTSDSL_UPDATE_GOLDEN"):
        golden.write_text(source, encoding="utf-8")
    assert source == golden.read_text(encoding="utf-8")
    assert max(len(line) for line in source.splitlines()) <= 200  # readable: no line of thousands


def test_generated_code_sees_only_the_allowlisted_builtins(make_policy):
    evaluator = make_policy('rule r { title "r" cites s applies to line when line.units > 1 warn message "m" }')
    allowed = set(evaluator.evaluator()._fn.__globals__["__builtins__"])
    assert allowed <= {"any", "all", "sum", "len", "enumerate", "max", "min", "bool", "zip", "Exception", "True",
                       "False", "None"}
    assert not {"open", "__import__", "eval", "exec", "getattr", "compile"} & allowed


@pytest.mark.parametrize("value", [Decimal("24.225"), Decimal("-2.5"), Decimal("0.125"), Decimal("52.773422"), 7, -3,
                                   Decimal("1E+3"), Decimal("0")])
@pytest.mark.parametrize("places", [0, 1, 2, 4])
def test_round_with_literal_places_rounds_as_the_built_in_does(value, places):
    from ctsdsl.language.functions import round_half_up
    from ctsdsl.engine.runtime import round_to
    got, want = round_to(value, Decimal(1).scaleb(-places)), round_half_up(value, places)
    assert (got, type(got)) == (want, type(want)) and str(got) == str(want)
