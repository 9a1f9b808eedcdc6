"""The witness search's parts, one at a time (the whole search is tests/test_diff.py's): the dates a
witness is decided on, the amounts where a decision turns, and how axes are chosen and combined."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ctsdsl.engine.registry import folder_registry
from ctsdsl.review.witness import turning_amount
from ctsdsl.review.witness_axes import interacting, spread
from ctsdsl.review.witness_causes import line_outcomes
from ctsdsl.review.witness_dates import date_pairs, parse_day, redated, year_offset

POLICIES = Path(__file__).resolve().parent.parent / "policies"


@pytest.fixture(scope="module")
def medicare():
    registry = folder_registry(POLICIES)
    return {year: registry.load(POLICIES / "medicare" / f"cts-{year}.cts") for year in (2024, 2025, 2026)}


def test_a_claim_redated_moves_its_lines_own_dates_by_the_same_whole_years():
    claim = {"date_of_service": "2024-03-01", "lines": [{"code": "97550", "date_of_service": "2024-03-02"},
                                                        {"code": "97551"}]}
    moved = redated(claim, "2025-03-01")
    assert moved["date_of_service"] == "2025-03-01"
    assert moved["lines"] == [{"code": "97550", "date_of_service": "2025-03-02"}, {"code": "97551"}]
    assert claim["date_of_service"] == "2024-03-01"  # the witness keeps the claim as the old side saw it


def test_one_year_against_the_next_is_compared_a_year_apart_and_an_overlay_on_the_same_days(medicare):
    registry = folder_registry(POLICIES)
    overlay = registry.load(POLICIES / "examples" / "example-northwind.cts")
    assert year_offset(medicare[2024], medicare[2025]) == 1
    assert year_offset(medicare[2025], overlay) == 0


def test_every_date_pair_lies_inside_both_policies_periods(medicare):
    old, new = medicare[2025], medicare[2026]
    pairs = date_pairs(old, new)
    assert pairs
    for before, after in pairs:
        assert old.header.effective_from <= before <= (old.header.effective_to or "9999")
        assert new.header.effective_from <= after <= (new.header.effective_to or "9999")
        assert parse_day(after).year - parse_day(before).year == 1


def test_the_turning_amount_is_the_first_cent_at_which_the_decision_changes(medicare):
    # The yearly therapy threshold (KX): a line without KX is denied once the year's spend passes it.
    evaluator = medicare[2025].evaluator()
    claim = {"id": "w", "payer": "medicare", "date_of_service": "2025-05-01", "place_of_service": "11",
             "provider_type": "therapist", "lines": [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}]}
    turn = turning_amount(evaluator, claim, "therapy_spend_to_date", Decimal("10000"))
    assert turn is not None

    def at(amount: Decimal) -> tuple:
        return line_outcomes(evaluator, {**claim, "therapy_spend_to_date": float(amount)})

    assert at(turn) != at(Decimal(0))
    assert at(turn - Decimal("0.01")) == at(Decimal(0))


def test_no_turn_below_the_top_is_none(medicare):
    evaluator = medicare[2025].evaluator()
    claim = {"id": "w", "payer": "medicare", "date_of_service": "2025-05-01", "place_of_service": "11",
             "provider_type": "therapist", "lines": [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}]}
    assert turning_amount(evaluator, claim, "therapy_spend_to_date", Decimal("1.00")) is None


def test_a_spread_keeps_the_extremes_of_an_axis_and_evens_out_the_rest():
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread(list(range(10)), 3) == [0, 4, 9]
    assert spread([1, 2], 5) == [1, 2]
    assert spread([1, 2, 3], 1) == [1] and spread([1, 2, 3], 0) == []


def test_axes_interact_only_where_two_different_edits_read_them():
    axes = {"rule a": {"minutes"}, "param b": {"units", "minutes"}}
    assert interacting(axes) == [("minutes", "units")]
    assert interacting({"rule a": {"minutes", "units"}}) == []
