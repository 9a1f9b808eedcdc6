"""Choosing the policy for a claim: by name, or by the claim's payer and date of service.

The policies here are made up for the tests (payer "acme", "Acme's manual"): no real payer's terms.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctsdsl.engine.registry import Registry, entry_for_claim, entry_named, folder_registry
from ctsdsl.errors import ClaimError, PolicyNotFoundError

POLICY = """policy "{name}" {{
  payer "{payer}"
  version "1"
  effective {start} to {end}
  governs "97550"
}}

source s {{
  title "Acme's manual (made up for a test)"
  url "https://example.com/manual"
}}

fee flat {{
  title "A flat $30.00 a unit"
  cites s
  amount 30.00 * units_allowed
}}
"""


def write(folder: Path, name: str, payer: str = "acme", start: str = "2024-01-01", end: str = "2024-12-31") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.cts"
    path.write_text(POLICY.format(name=name, payer=payer, start=start, end=end), encoding="utf-8")
    return path


def claim(date: str = "2024-05-01", payer: str = "acme", **line) -> dict:
    return {"id": "c1", "payer": payer, "date_of_service": date, "place_of_service": "11",
            "lines": [{"code": "97550", "units": 1, "minutes": 30, **line}]}


@pytest.fixture
def two_years(tmp_path: Path) -> Registry:
    folder = tmp_path / "policies"
    write(folder, "acme-2024")
    write(folder, "acme-2025", start="2025-01-01", end="2025-12-31")
    return Registry(folder)


def test_a_claim_is_decided_by_the_policy_in_force_for_its_payer_on_its_date(two_years: Registry):
    assert two_years.policy_for(claim("2024-05-01")).name == "acme-2024"
    assert two_years.policy_for(claim("2025-05-01")).name == "acme-2025"
    assert two_years.evaluator_for(claim("2025-05-01")).info.name == "acme-2025"


def test_a_payer_spelt_in_other_case_is_refused_with_the_spelling_it_meant(two_years: Registry):
    with pytest.raises(PolicyNotFoundError) as caught:
        two_years.policy_for(claim(payer="ACME"))
    d = caught.value.diagnostics[0]
    assert d.code == "unknown-payer" and d.path == "$.payer"
    assert d.hint.startswith("did you mean 'acme'?")


def test_a_date_before_the_earliest_policy_names_when_it_starts(two_years: Registry):
    with pytest.raises(PolicyNotFoundError, match="the earliest, acme-2024, takes effect 2024-01-01") as caught:
        two_years.policy_for(claim("2023-06-01"))
    assert caught.value.diagnostics[0].path == "$.date_of_service"


def test_two_policies_of_one_payer_in_force_on_one_day_is_an_error_not_a_choice(tmp_path: Path):
    folder = tmp_path / "policies"
    write(folder, "acme-a")
    write(folder, "acme-b", start="2024-06-01", end="2025-05-31")
    with pytest.raises(PolicyNotFoundError, match="2 policies cover payer 'acme' on 2024-07-01"):
        Registry(folder).policy_for(claim("2024-07-01"))


def test_a_line_dated_under_another_policy_is_refused_with_the_fix(two_years: Registry):
    spanning = claim("2024-12-30", date_of_service="2025-01-02")
    with pytest.raises(ClaimError) as caught:
        two_years.evaluator_for(spanning)
    d = caught.value.diagnostics[0]
    assert d.code == "claim-spans-policies" and d.path == "$.lines[0].date_of_service"
    assert "under policy acme-2025" in d.message and d.hint.startswith("split the claim")


def test_a_misspelt_policy_name_suggests_the_year_meant(two_years: Registry):
    with pytest.raises(PolicyNotFoundError) as caught:
        two_years.by_name("acme-2052")
    assert caught.value.diagnostics[0].hint == "did you mean 'acme-2025'?"


def test_the_nearest_folder_holding_the_name_wins_and_a_missing_name_is_located(tmp_path: Path, two_years: Registry):
    own = Registry(tmp_path / "mine")
    write(own.root, "acme-2024", end="2024-06-30")  # an analyst's copy beside the tree's
    assert entry_named([own, two_years], "acme-2024", "here").path.parent == own.root
    assert entry_named([own, two_years], "acme-2025", "here").path.parent == two_years.root
    with pytest.raises(PolicyNotFoundError) as caught:
        entry_named([own, two_years], "nope", "cases.yaml:3")
    d = caught.value.diagnostics[0]
    assert d.source_name == "cases.yaml:3" and f"{own.root} or {two_years.root}" in d.message


def test_the_nearest_folder_with_the_claims_payer_chooses_among_its_own(tmp_path: Path, two_years: Registry):
    other = Registry(tmp_path / "other")
    write(other.root, "northwind-2024", payer="northwind")
    assert entry_for_claim([other, two_years], claim()).name == "acme-2024"  # other has no acme policy
    assert entry_for_claim([other, two_years], claim(payer="northwind")).name == "northwind-2024"


def test_a_folder_that_is_not_there_is_a_clear_error(tmp_path: Path):
    with pytest.raises(PolicyNotFoundError, match="is not a folder of policies"):
        folder_registry(tmp_path / "missing")
