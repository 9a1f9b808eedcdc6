"""Shared helpers: a tiny policy to build tests on, and claims to run through it.

Tests write the few lines of policy they are about and let `policy()` add the
header and a source, so each test reads like the rule it checks.
"""

from __future__ import annotations

import atexit
import copy
import csv
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from ctsdsl.engine import policy_cache
from ctsdsl.engine.loader import LoadedPolicy, load_text

# The suite keeps a policy cache of its own, empty at the start of each run and set before any test
# (or subprocess it starts) reads one: a test never decides from what a developer's runs or an earlier
# suite run left, and nothing a test keeps reaches the developer's ~/.cache/ctsdsl.
_CACHE = tempfile.mkdtemp(prefix="ctsdsl-test-cache-")
os.environ[policy_cache.CACHE_ENV] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

HEADER = '''policy "test-policy" {
  title "A policy for tests"
  payer "test"
  version "1"
  effective 2024-01-01 to 2024-12-31
  governs "97550", "97551", "97552"
}

source s {
  title "The test source"
  url "https://example.org/source"
}
'''


def policy_text(body: str) -> str:
    """A complete policy: the header and source `s`, then `body`."""
    return HEADER + "\n" + body


def load(body: str, folder: Path, name: str = "p.cts", *, raise_on_error: bool = True) -> LoadedPolicy:
    """Load (parse, check) a policy made of `body` as if it lived at folder/name."""
    path = folder / name
    path.write_text(policy_text(body), encoding="utf-8")
    return load_text(policy_text(body), path, raise_on_error=raise_on_error)


def claim(*lines: dict, **fields) -> dict:
    """A valid claim for payer `test` on 2024-05-01 with the given lines (default: one 97550)."""
    base = {"id": "c-1", "payer": "test", "date_of_service": "2024-05-01", "place_of_service": "11",
            "lines": [dict(line) for line in lines] or [{"code": "97550", "units": 1, "minutes": 30}]}
    base.update(copy.deepcopy(fields))
    return base


def medicare_claim(**fields) -> dict:
    """A clean Medicare 2024 claim that the bundled policy pays in full."""
    base = {
        "id": "m-1", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
        "provider_type": "therapist",
        "documentation": {"plan_of_care_includes_cts": True, "consent": True, "reason_without_patient": True,
                          "need_for_occurrence": True, "training_described": True, "caregiver_response": True,
                          "impact_on_goals": True},
        "lines": [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}],
    }
    base.update(copy.deepcopy(fields))
    return base


@pytest.fixture
def make_policy(tmp_path):
    """`make_policy(body)` -> a LoadedPolicy in a fresh folder."""
    def make(body: str, **kwargs) -> LoadedPolicy:
        return load(body, tmp_path, **kwargs)
    return make


@pytest.fixture
def decide(make_policy):
    """`decide(body, claim)` -> the Decision of a policy made of `body` on `claim`."""
    def run(body: str, the_claim: dict):
        return make_policy(body).evaluator().evaluate(the_claim)
    return run


def medicare_tree_without_a_fee(tmp_path: Path, code: str = "97550", year: str = "2026") -> Path:
    """A copy of the Medicare policies whose RVU table lacks `code`'s non-facility totals for `year`,
    as a release with a missing figure would leave it. Returns the copy's `policies` folder."""
    from ctsdsl import _resources
    tree = tmp_path / "policies"
    shutil.copytree(_resources.policies_dir() / "medicare", tree / "medicare")
    table = tree / "medicare" / "data" / "rvu.csv"
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    for row in rows:
        if row["code"] == code and row["effective_from"].startswith(year):
            row["total_nf"] = ""
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    table.write_text(out.getvalue(), encoding="utf-8")
    return tree


@pytest.fixture
def rows_one_by_one(monkeypatch):
    """A one-item list counting the rows the SQL engine's batch decides one by one in Python
    (`scale/sql/command._Worker.chunk`): none, where DuckDB vouches for every row (scale/sql/native.py)."""
    from ctsdsl.scale.sql import command

    count = [0]
    chunk = command._Worker.chunk

    def counted(self, rows):
        count[0] += len(rows)
        return chunk(self, rows)

    monkeypatch.setattr(command._Worker, "chunk", counted)
    return count
