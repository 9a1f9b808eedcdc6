"""Spark: a DataFrame of claims in, a DataFrame of decisions out, the same decisions `ctsdsl batch` writes.

One local session for the module (starting Spark takes seconds); skipped without the spark extra.
"""

from __future__ import annotations

import json
import re
import shutil
import sys

import pytest

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install 'ctsdsl[spark]'")
pytest.importorskip("pyarrow", reason="the spark extra is not installed: pip install 'ctsdsl[spark]'")
if not shutil.which("java"):
    pytest.skip("Spark needs Java on the PATH", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

import ctsdsl  # noqa: E402
from ctsdsl.scale.batch import DecisionEncoder  # noqa: E402
from ctsdsl.spark import evaluate_dataframe  # noqa: E402  (the public path)

from conftest import ROOT, medicare_claim, medicare_tree_without_a_fee  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_claims import generate  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark warns about pandas 3 on some paths


@pytest.fixture(scope="module")
def spark():
    session = (SparkSession.builder.master("local[1]").appName("ctsdsl-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_a_column_of_claim_json_gives_the_decisions_batch_writes_in_order(spark):
    texts = list(generate(60, seed=9))
    decided = evaluate_dataframe(spark.createDataFrame([(t,) for t in texts], "claim string").coalesce(1))
    rows = decided.collect()
    encode = DecisionEncoder().encode
    expected = [encode(d) for d in ctsdsl.evaluate_all(json.loads(t) for t in texts)]
    assert [r.decision for r in rows] == expected
    assert [r.claim_id for r in rows] == [json.loads(t)["id"] for t in texts]
    assert all(r.error is None for r in rows)
    assert {r.policy for r in rows} <= {"medicare-cts-2024", "medicare-cts-2025", "medicare-cts-2026"}


def test_a_bad_row_gets_an_error_with_its_diagnostics_and_the_others_are_decided(spark):
    bad_units = json.dumps(medicare_claim(id="m-2", lines=[{"code": "97550", "units": "one"}]))
    rows = [(json.dumps(medicare_claim()),), ('{"id": "m-x", ',), (bad_units,), (None,)]
    out = evaluate_dataframe(spark.createDataFrame(rows, "claim string").coalesce(1)).collect()
    assert (out[0].outcome, out[0].total_allowed) == ("pay", ctsdsl.evaluate(medicare_claim()).total_allowed)
    assert out[0].total_complete is True and out[1].total_complete is None
    errors = [json.loads(r.error) for r in out[1:]]
    assert [e["diagnostics"][0]["code"] for e in errors] == ["claim-syntax", "claim-invalid", "claim-missing"]
    assert errors[1]["diagnostics"][0]["path"] == "$.lines[0].units" and out[2].claim_id == "m-2"


def test_a_struct_column_or_whole_rows_are_decided_like_json(spark):
    claim = medicare_claim()
    df = spark.read.json(spark.sparkContext.parallelize([json.dumps(claim)]))
    whole = evaluate_dataframe(df, column=None).collect()[0]
    nested = evaluate_dataframe(df.selectExpr("struct(*) AS c"), column="c").collect()[0]
    direct = ctsdsl.evaluate(claim)
    for row in (whole, nested):
        assert (row.claim_id, row.outcome, row.total_allowed) == ("m-1", direct.outcome, direct.total_allowed)


def test_a_policy_file_is_shipped_to_the_executors(spark, tmp_path):
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", folder)
    text = (folder / "medicare" / "cts-2024.cts").read_text(encoding="utf-8")
    text, edits = re.subn(r'version "2024\.\d+"', 'version "2024.99"', text)
    assert edits == 1
    (folder / "medicare" / "cts-2024.cts").write_text(text, encoding="utf-8")
    df = spark.createDataFrame([(json.dumps(medicare_claim()),)], "claim string")
    row = evaluate_dataframe(df, policy=folder / "medicare" / "cts-2024.cts").collect()[0]
    assert json.loads(row.decision)["policy"]["version"] == "2024.99"


def test_a_broken_policy_fails_on_the_driver_before_any_job(spark, tmp_path):
    df = spark.createDataFrame([("{}",)], "claim string")
    with pytest.raises(ctsdsl.PolicyNotFoundError):
        evaluate_dataframe(df, policy="no-such-policy")
    with pytest.raises(ctsdsl.PolicyNotFoundError, match="no such policy file"):
        evaluate_dataframe(df, policy=tmp_path / "missing.cts")
    with pytest.raises(ctsdsl.ClaimError, match="must hold claim JSON"):
        evaluate_dataframe(spark.createDataFrame([(1,)], "claim int"))


def test_a_claim_of_an_unknown_fee_says_its_total_is_incomplete(spark, tmp_path):
    tree = medicare_tree_without_a_fee(tmp_path)
    claim = json.dumps(medicare_claim(date_of_service="2026-03-02"))
    (row,) = evaluate_dataframe(spark.createDataFrame([(claim,)], "claim string"),
                                policy=tree / "medicare" / "cts-2026.cts").collect()
    assert (row.outcome, str(row.total_allowed), row.total_complete) == ("pay", "0.00", False)
    assert json.loads(row.decision)["total_complete"] is False
