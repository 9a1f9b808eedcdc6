"""The SQL backend is the row engine: every claim decided by both gives the same decision document.

The claims: every analyst case (policies/**/cases*.yaml, what-if cases aside: they change the
policy's figures), every example claim, and claims from benchmarks/gen_claims.py
(CTSDSL_SQL_DIFF_CLAIMS of them, 3,000 by default; 100,000 with the environment variable set so).

The policies: the bundled ones as of commit 887d7e4, the last before issue 15 put rule stages
into them, which this backend refuses (tests/test_sql.py shows the refusal); today's bundled
policies too, whenever the backend accepts them. A claim the SQL flags for the row engine
(it would fail, or lies outside the policy's period) is counted, and must stay rare.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

from ctsdsl.case_files import find_case_files, load_cases  # noqa: E402
from ctsdsl.claims import validate_claim  # noqa: E402
from ctsdsl.errors import CtsdslError  # noqa: E402
from ctsdsl.registry import folder_registry  # noqa: E402
from ctsdsl.sql.errors import SqlUnsupportedError  # noqa: E402
from ctsdsl.sql.run import SqlEvaluator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = "887d7e4"
GENERATED = int(os.environ.get("CTSDSL_SQL_DIFF_CLAIMS", "3000"))


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    """The policies, their cases and the example claims as committed at SNAPSHOT."""
    try:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", SNAPSHOT, "policies", "examples"],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"needs the git history (commit {SNAPSHOT}) for the policies before rule stages")
    out = tmp_path_factory.mktemp("snapshot")
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(out, filter="data")
    return out


def _claims(root: Path) -> list[dict]:
    claims: list[dict] = []
    for case_file in find_case_files([root / "policies"]):
        for case in load_cases(case_file):
            if not case.params and not case.rows and isinstance(case.claim, dict):
                claims.append(case.claim)
    for path in sorted((root / "examples" / "claims").glob("*.json")):
        claims.append(json.loads(path.read_text(encoding="utf-8")))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gen_claims
    finally:
        sys.path.pop(0)
    claims.extend(json.loads(text) for text in gen_claims.generate(GENERATED, seed=18))
    return claims


def _differences(root: Path) -> tuple[list[str], int, int]:
    """Decide every claim with both engines under the policies of `root`; the mismatches, how many
    claims SQL decided, and how many it handed to the row engine."""
    registry = folder_registry(root / "policies")
    by_policy: dict[int, tuple[object, list[dict]]] = {}
    for raw in _claims(root):
        try:
            claim = validate_claim(raw)
            evaluator = registry.evaluator_for(claim)
        except CtsdslError:
            continue  # no decision either way: malformed, or no policy in force
        by_policy.setdefault(id(evaluator), (evaluator, []))[1].append(claim)
    mismatches, decided, handed = [], 0, 0
    for evaluator, claims in by_policy.values():
        try:
            sql = SqlEvaluator(evaluator)  # type: ignore[arg-type]
        except SqlUnsupportedError:
            continue  # shown by tests/test_sql.py; this test is about the policies SQL accepts
        for claim, result in zip(claims, sql.decide(claims)):
            if isinstance(result, int):
                handed += 1
                continue
            decided += 1
            expected = evaluator.evaluate(claim, validate=False).to_dict()  # type: ignore[attr-defined]
            if result.to_dict() != expected:
                got = result.to_dict()
                mismatches.append(f"{claim['id']}: " + "; ".join(
                    f"{key}: sql {json.dumps(got[key])[:300]} row {json.dumps(expected[key])[:300]}"
                    for key in expected if got.get(key) != expected[key]))
    return mismatches, decided, handed


def test_sql_and_row_engines_decide_every_claim_alike_under_the_policies_before_rule_stages(snapshot):
    mismatches, decided, handed = _differences(snapshot)
    assert not mismatches, f"{len(mismatches)} claims decided differently:\n" + "\n".join(mismatches[:5])
    assert decided > GENERATED * 0.9, f"SQL decided only {decided} claims; {handed} went to the row engine"


def test_sql_and_row_engines_decide_alike_under_todays_bundled_policies_where_sql_accepts_them():
    mismatches, _, _ = _differences(ROOT)
    assert not mismatches, f"{len(mismatches)} claims decided differently:\n" + "\n".join(mismatches[:5])


def test_a_claim_that_fails_in_the_row_engine_is_handed_back_to_it(snapshot):
    registry = folder_registry(snapshot / "policies")
    claim = validate_claim({"id": "c", "payer": "medicare", "date_of_service": "2024-05-01",
                            "place_of_service": "11", "lines": [{"code": "97550", "units": 1}],
                            "therapy_spend_to_date": 100})
    evaluator = registry.evaluator_for(claim)
    failing = dict(claim, lines=[{"code": "97551", "units": 1, "modifiers": ["GP"]}])
    results = list(SqlEvaluator(evaluator).decide([claim, failing]))
    assert results[0].to_dict() == evaluator.evaluate(claim).to_dict()  # type: ignore[union-attr]
    counts = defaultdict(int)
    for r in results:
        counts[type(r).__name__] += 1
    assert counts["Decision"] >= 1
