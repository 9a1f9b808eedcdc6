"""The SQL backend decides the diff's witnesses as the row engine does (issue 18, "including the
diff witnesses of every bundled policy pair").

Witnesses are the claims `ctsdsl diff` finds that two policies decide differently: they sit on
the edges the policies draw (a threshold crossed, a declared field absent, a date either side of
a change), which is where two engines are likeliest to part. Each witness is decided on each
side of its pair (the old policy on its date, the new on the new date, each reading the claim
without the fields only the other declares), by both engines.

The witness search is slow (seconds to a minute a pair), so CI runs one pair, the Northwind
overlay against its parent: the one with a declared field, stages of its own and the most
witnesses. `CTSDSL_SQL_DIFF_WITNESSES=all` runs every bundled pair: each Medicare year against the
next, and each illustrative overlay against its parent (about three minutes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

from ctsdsl.engine.registry import folder_registry  # noqa: E402
from ctsdsl.errors import CtsdslError  # noqa: E402
from ctsdsl.review.diff_structure import structural_changes  # noqa: E402
from ctsdsl.review.witness import witnesses  # noqa: E402
from ctsdsl.review.witness_causes import as_for  # noqa: E402
from ctsdsl.review.witness_dates import redated  # noqa: E402
from ctsdsl.scale.sql.run import SqlEvaluator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
CI_PAIRS = [("medicare/cts-2025.cts", "examples/example-northwind.cts")]


def bundled_pairs() -> list[tuple[str, str]]:
    """Every pair a reviewer diffs: each Medicare year against the next, each overlay against its parent."""
    years = sorted(p.relative_to(POLICIES).as_posix() for p in (POLICIES / "medicare").glob("cts-*.cts"))
    overlays = sorted(p.relative_to(POLICIES).as_posix() for p in (POLICIES / "examples").glob("*.cts"))
    return list(zip(years, years[1:])) + [("medicare/cts-2025.cts", overlay) for overlay in overlays]


PAIRS = bundled_pairs() if os.environ.get("CTSDSL_SQL_DIFF_WITNESSES") == "all" else CI_PAIRS


def _differences(old_file: str, new_file: str) -> tuple[list[str], int]:
    """Decide every witness of the pair on both sides with both engines: the mismatches, and how many
    decisions the SQL made (a claim it hands to the row engine is not one)."""
    registry = folder_registry(POLICIES)
    old, new = registry.load(POLICIES / old_file), registry.load(POLICIES / new_file)
    found = witnesses(old, new, structural_changes(old, new)).witnesses
    assert found, f"no witnesses for {old_file} -> {new_file}: nothing to compare"
    mismatches: list[str] = []
    decided = 0
    for loaded, side in ((old, "old"), (new, "new")):
        evaluator = registry.evaluator(loaded.path)
        claims = []
        for w in found:
            raw = w.claim if side == "old" else redated(w.claim, w.new_date)
            try:
                claims.append(evaluator.claim_model.validate(as_for(evaluator, raw)))
            except CtsdslError:
                continue  # a witness of an error on this side: no decision to compare
        for claim, result in zip(claims, SqlEvaluator(evaluator).decide(claims)):
            if isinstance(result, int):
                continue
            try:
                expected = evaluator.evaluate(claim, validate=False).to_dict()
            except CtsdslError as exc:
                mismatches.append(f"{side} {claim['id']}: SQL decided what the row engine refuses: {exc}")
                continue
            decided += 1
            got = result.to_dict()
            if got != expected:
                mismatches.append(f"{new_file if side == 'new' else old_file} {claim['id']}: " + "; ".join(
                    f"{key}: sql {json.dumps(got.get(key))[:300]} row {json.dumps(expected[key])[:300]}"
                    for key in expected if got.get(key) != expected[key]))
    return mismatches, decided


@pytest.mark.parametrize(("old_file", "new_file"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_both_engines_decide_every_witness_of_a_bundled_pair_alike(old_file: str, new_file: str):
    mismatches, decided = _differences(old_file, new_file)
    assert not mismatches, f"{len(mismatches)} witness decisions differ:\n" + "\n".join(mismatches[:5])
    assert decided > 0, "the SQL engine decided none of the witnesses itself"


def test_the_full_run_covers_every_year_to_the_next_and_every_overlay():
    pairs = bundled_pairs()
    assert ("medicare/cts-2024.cts", "medicare/cts-2025.cts") in pairs
    assert ("medicare/cts-2025.cts", "medicare/cts-2026.cts") in pairs
    assert {b for _, b in pairs if b.startswith("examples/")} == {
        p.relative_to(POLICIES).as_posix() for p in (POLICIES / "examples").glob("*.cts")}
