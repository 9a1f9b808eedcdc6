"""Spark SQL is the row engine: `evaluate_dataframe(df, engine="sql")` decides claims as the default engine does.

One Spark session, one SQL run (planning the policy's views costs a minute on this machine): the
analyst cases of Medicare 2024, a sample of generated 2024 claims, and claims the SQL must hand
back (invalid, or failing in the row engine). Each claim the SQL decides must have the lines,
findings, outcome and total of the row engine's decision for the same DataFrame row; each one it
hands back is decided by the row engine. Skipped without the spark extra.
"""

from __future__ import annotations

import json
import shutil
import sys
from decimal import Decimal

import pytest

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install 'ctsdsl[spark]'")
pytest.importorskip("sqlglot", reason="the sql extra is not installed: pip install 'ctsdsl[sql]'")
if not shutil.which("java"):
    pytest.skip("Spark needs Java on the PATH", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

from ctsdsl.errors import CtsdslError  # noqa: E402
from ctsdsl.review.case_files import find_case_files, load_cases  # noqa: E402
from ctsdsl.scale.spark_sql import claim_schema  # noqa: E402
from ctsdsl.spark import evaluate_dataframe  # noqa: E402  (the public path)

from conftest import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_claims import generate  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
POLICY = "medicare-cts-2024"
GENERATED = 150  # of which about a third are dated 2024


def _claims() -> list[dict]:
    claims = []
    for case_file in find_case_files([ROOT / "policies" / "medicare"]):
        for case in load_cases(case_file):
            claim = case.claim
            if not case.params and not case.rows and isinstance(claim, dict) \
                    and str(claim.get("date_of_service", "")).startswith("2024") and claim.get("payer") == "medicare":
                claims.append(claim)
    claims += [c for c in map(json.loads, generate(GENERATED, seed=18)) if c["date_of_service"].startswith("2024")]
    good = claims[-1]
    claims.append(dict(good, id="bad-code", lines=[dict(good["lines"][0], code="9755")]))  # fails the pattern
    claims.append(dict(good, id="bad-date", date_of_service="2024-02-30"))                  # not a calendar date
    claims.append(dict(good, id="late", date_of_service="2031-05-01",                       # past the dated figures
                       lines=[dict(line, date_of_service="2031-05-01") for line in good["lines"]]))
    # Doubles whose DECIMAL(28,6) cast DuckDB gets wrong past 4e9 (native_checks.exact): Spark's must hold
    # their shortest digits, or hand the claim back; the message prints the spend, so a digit off shows.
    claims.append(dict(good, id="spend-past-4e9", therapy_spend_to_date=4_000_000_000.07))
    claims.append(dict(good, id="spend-1e12", therapy_spend_to_date=1e12 + 0.123))
    return claims


def _expected(decision: dict) -> tuple[tuple, list[tuple], list[tuple]]:
    """A decision document as the rows of the three relations."""
    cid = decision["claim_id"]
    claim = (cid, decision["outcome"], Decimal(decision["total_allowed"]), decision["total_complete"],
             decision["policy"]["name"])
    lines = [(cid, ln["index"], ln["code"], ln["status"], ln["units_billed"], ln["units_allowed"],
              None if ln["allowed_amount"] is None else Decimal(ln["allowed_amount"]), ln["findings"])
             for ln in decision["lines"]]
    findings = [(cid, f["id"], f["line"], f["rule"], f["title"], f["severity"], f["reason_codes"], f["message"],
                 f["citation"], f["origin"]["policy"], f["origin"]["version"], f["origin"]["file"],
                 f["origin"]["line"]) for f in decision["findings"]]
    return claim, lines, findings


@pytest.fixture(scope="module")
def decided():
    spark = (SparkSession.builder.master("local[2]").appName("ctsdsl-tests-sql")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    texts = [json.dumps(c) for c in _claims()]
    df = spark.read.schema(claim_schema()).json(spark.sparkContext.parallelize(texts, 2))
    sql = evaluate_dataframe(df, column=None, policy=POLICY, engine="sql")
    row = {r.claim_id: r for r in evaluate_dataframe(df, column=None, policy=POLICY).collect()}
    got = ({tuple(r) for r in sql.claims.collect()}, [tuple(r) for r in sql.lines.collect()],
           [tuple(r) for r in sql.findings.collect()], sql.handed.collect())
    yield row, got
    spark.stop()


def test_every_claim_spark_sql_decides_has_the_row_engines_lines_findings_and_total(decided):
    row, (claims, lines, findings, _) = decided
    assert len(claims) > 60
    by_claim: dict[str, tuple[list, list]] = {}
    for ln in lines:
        by_claim.setdefault(ln[0], ([], []))[0].append(ln)
    for f in findings:
        by_claim.setdefault(f[0], ([], []))[1].append(f)
    different = []
    for claim in claims:
        cid = claim[0]
        assert row[cid].decision is not None, f"{cid}: decided on SQL, an error in the row engine"
        want_claim, want_lines, want_findings = _expected(json.loads(row[cid].decision))
        got_lines, got_findings = by_claim.get(cid, ([], []))
        if (claim, sorted(got_lines, key=lambda x: x[1]), sorted(got_findings, key=lambda x: int(x[1][1:]))) \
                != (want_claim, want_lines, want_findings):
            different.append(cid)
    assert not different, f"{len(different)} claims decided differently, e.g. {different[:5]}"


def test_claims_the_sql_cannot_vouch_for_go_to_the_row_engine(decided):
    row, (claims, _, _, handed) = decided
    back = {r.claim_id for r in handed}
    assert {"bad-code", "bad-date", "late"} <= back
    assert not back & {c[0] for c in claims}
    assert {c[0] for c in claims} | back == set(row)  # every claim decided once
    for r in handed:
        assert (r.decision, r.error) == (row[r.claim_id].decision, row[r.claim_id].error)
    assert json.loads(row["bad-code"].error)["diagnostics"][0]["code"] == "claim-invalid"
    assert len(back) <= 6, f"handed back: {sorted(back)}"


def test_engine_sql_refuses_what_it_cannot_decide_alike(decided):
    spark = SparkSession.getActiveSession()
    df = spark.createDataFrame([('{"id": "x"}',)], "claim string")
    with pytest.raises(CtsdslError, match="typed claims"):
        evaluate_dataframe(df, policy=POLICY, engine="sql")
    with pytest.raises(CtsdslError, match="one policy"):
        evaluate_dataframe(df, column=None, engine="sql")
    with pytest.raises(CtsdslError, match="unknown engine"):
        evaluate_dataframe(df, engine="duckdb")
