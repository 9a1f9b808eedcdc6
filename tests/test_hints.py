""""Did you mean": one helper (`errors.closest`) for every misspelt name the package meets."""

from ctsdsl.errors import closest, did_you_mean


def test_a_name_in_other_case_is_the_one_meant():
    assert closest("Medicare", ["medicaid", "medicare"]) == "medicare"


def test_swapped_neighbours_count_as_one_edit_so_the_year_meant_wins():
    # difflib alone scores medicare-cts-2026 as close to the typo as medicare-cts-2025
    assert closest("medicare-cts-2052", ["medicare-cts-2026", "medicare-cts-2025"]) == "medicare-cts-2025"


def test_nothing_close_gives_no_hint():
    assert closest("zzz", ["medicare", "northwind"]) is None
    assert did_you_mean("zzz", ["medicare"]) == ""


def test_the_hint_quotes_the_name_as_its_context_writes_it():
    assert did_you_mean("unit", ["units"]) == "did you mean `units`?"
    assert did_you_mean("medicar", ["medicare"], quote="'") == "did you mean 'medicare'?"
    assert did_you_mean("9755", ["97550"], quote="") == "did you mean 97550?"


def test_choices_may_be_any_iterable_of_names_and_the_name_need_not_be_a_string():
    assert closest(9755, {"97550": 1}) == "97550"
