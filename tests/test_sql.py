"""The SQL backend's command line and its refusals: `ctsdsl sql`, `ctsdsl batch --engine sql`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

from ctsdsl.api import compile as compile_policy  # noqa: E402
from ctsdsl.scale.sql import SqlUnsupportedError  # noqa: E402
from ctsdsl.scale.sql.plan import build  # noqa: E402

HEADER = """
policy "p" {
  payer "acme"
  version "1"
  effective 2024-01-01 to 2024-12-31
  governs "97550"
}
source s {
  title "S"
  url "https://example.com"
}
"""


def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.cts"
    path.write_text(textwrap.dedent(HEADER) + textwrap.dedent(body), encoding="utf-8")
    return path


def _ctsdsl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ctsdsl", *args], capture_output=True, text=True)


def test_a_division_is_refused_naming_the_operator_and_its_line_and_column(tmp_path):
    path = _policy(tmp_path, """
        rule half {
          cites s
          when line.units / 2 > 1
          deny
          message "too many"
        }
        """)
    with pytest.raises(SqlUnsupportedError) as caught:
        build(compile_policy(path).checked)
    d = caught.value.diagnostics[0]
    assert d.code == "sql-unsupported" and "`/`" in d.message
    assert (d.source_name, d.span.line) == (str(path), 15)


def test_a_number_in_a_message_hole_is_refused_as_the_sql_cannot_write_its_digits(tmp_path):
    path = _policy(tmp_path, """
        param factor: number = 0.85 cites s
        rule r {
          cites s
          info
          message "factor {factor}"
        }
        """)
    with pytest.raises(SqlUnsupportedError, match="a message hole of type number"):
        build(compile_policy(path).checked)


def test_ctsdsl_sql_refuses_an_unsupported_policy_with_its_location_and_exit_1(tmp_path):
    path = _policy(tmp_path, """
        rule half {
          cites s
          when line.units / 2 > 1
          deny
          message "too many"
        }
        """)
    done = _ctsdsl("sql", str(path))
    assert done.returncode == 1
    assert f"{path}:15:" in done.stderr and "Traceback" not in done.stderr


def test_ctsdsl_sql_prints_views_in_the_dialect_asked_for(tmp_path):
    path = _policy(tmp_path, """
        rule too_many {
          cites s
          when line.units > 2
          deny
          message "{line.units} units"
        }
        """)
    duck = _ctsdsl("sql", str(path))
    spark = _ctsdsl("sql", str(path), "--dialect", "spark")
    assert duck.returncode == 0 and "CREATE OR REPLACE VIEW ctsdsl_lines" in duck.stdout
    assert spark.returncode == 0 and "CREATE OR REPLACE VIEW" in spark.stdout
    assert _ctsdsl("sql", str(path), "--dialect", "nosuch").returncode == 2


def test_batch_with_the_sql_engine_writes_what_the_row_engine_writes(tmp_path):
    path = _policy(tmp_path, """
        rule too_many {
          cites s
          applies to line where line.code == "97550"
          reduce units to 2
          message "{line.units} units of {line.code}; {line.modifiers}"
        }
        """)
    claims = tmp_path / "c.jsonl"
    rows = [{"id": f"c{i}", "payer": "acme", "date_of_service": "2024-05-01", "place_of_service": "11",
             "lines": [{"code": "97550", "units": i, "modifiers": ["GP"] * (i % 2)}, {"code": "97110", "units": 1}]}
            for i in range(1, 6)]
    claims.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{bad\n", encoding="utf-8")
    row = _ctsdsl("batch", str(claims), "--policy", str(path), "-o", str(tmp_path / "row.jsonl"), "-q")
    sql = _ctsdsl("batch", str(claims), "--policy", str(path), "--engine", "sql", "-o", str(tmp_path / "sql.jsonl"),
                  "-q")
    assert row.returncode == sql.returncode == 2  # the malformed last record, in both
    assert (tmp_path / "sql.jsonl").read_text() == (tmp_path / "row.jsonl").read_text()
    assert "c.jsonl:6" in sql.stderr


def test_batch_with_the_sql_engine_decides_a_policy_with_stages_and_a_declared_field_as_the_row_engine(tmp_path):
    # Northwind: three stages (the last cuts 97551 to one unit a claim, counting only lines not
    # denied before it) and `field line.prior_auth_number`, whose absence denies the line.
    doc = {name: True for name in ("plan_of_care_includes_cts", "consent", "reason_without_patient",
                                   "need_for_occurrence", "training_described", "caregiver_response",
                                   "impact_on_goals")}
    rows = []
    for i in range(6):
        lines = [{"code": "97550", "units": 1, "minutes": 68, "modifiers": ["GP"], "prior_auth_number": "NW-1"}]
        lines += [{"code": "97551", "units": 1, "modifiers": ["GP"],
                   **({"prior_auth_number": "NW-2"} if j != i % 3 else {})} for j in range(2)]
        rows.append({"id": f"n{i}", "payer": "example-northwind", "date_of_service": "2025-03-0" + str(i + 1),
                     "place_of_service": "11", "provider_type": "therapist", "documentation": doc, "lines": lines})
    claims = tmp_path / "n.jsonl"
    claims.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    row = _ctsdsl("batch", str(claims), "-o", str(tmp_path / "row.jsonl"), "-q")
    sql = _ctsdsl("batch", str(claims), "--engine", "sql", "-o", str(tmp_path / "sql.jsonl"), "-q")
    assert row.returncode == sql.returncode == 0, sql.stderr
    decided = (tmp_path / "sql.jsonl").read_text()
    assert decided == (tmp_path / "row.jsonl").read_text()
    assert "one_97551_unit_per_claim" in decided and "prior_auth_missing" in decided


def test_batch_with_the_sql_engine_hands_a_claim_with_an_unstated_fact_to_the_row_engine(tmp_path):
    full = {name: True for name in ("plan_of_care_includes_cts", "consent", "reason_without_patient",
                                    "need_for_occurrence", "training_described", "caregiver_response",
                                    "impact_on_goals")}
    rows = [{"id": f"u{i}", "payer": "medicare", "date_of_service": "2024-06-03", "place_of_service": "11",
             "provider_type": "therapist", "documentation": dict(full, consent=None) if i % 2 else full,
             "lines": [{"code": "97550", "units": 1, "minutes": None if i == 2 else 30, "modifiers": ["GP"]}]}
            for i in range(4)]
    claims = tmp_path / "u.jsonl"
    claims.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    row = _ctsdsl("batch", str(claims), "-o", str(tmp_path / "row.jsonl"), "-q")
    sql = _ctsdsl("batch", str(claims), "--engine", "sql", "-o", str(tmp_path / "sql.jsonl"), "-q")
    assert row.returncode == sql.returncode == 0, sql.stderr
    decided = (tmp_path / "sql.jsonl").read_text()
    assert decided == (tmp_path / "row.jsonl").read_text() and '"needs_record"' in decided


def test_ctsdsl_sql_prints_a_policy_with_stages_and_a_declared_field_in_spark_sql():
    done = _ctsdsl("sql", "example-northwind-2025", "--dialect", "spark")
    assert done.returncode == 0, done.stderr
    assert "CREATE OR REPLACE VIEW ctsdsl_seen2" in done.stdout and "l_prior_auth_number" in done.stdout


@pytest.mark.parametrize("output_format", ["json", "parquet"])
def test_batch_with_the_sql_engine_on_two_jobs_writes_what_one_job_writes_in_input_order(tmp_path, monkeypatch,
                                                                                         output_format):
    # Chunks of 40, so six of them cross between the processes, with malformed records among them.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import gen_claims
    from ctsdsl.scale.sql import command

    monkeypatch.setattr(command, "CHUNK", 40)
    claims = tmp_path / "c.jsonl"
    claims.write_text("".join(line + "\n" for line in gen_claims.generate(230, seed=7, bad=0.05)), encoding="utf-8")
    written = {}
    for jobs in (1, 2):
        out = tmp_path / (f"out{jobs}" if output_format == "parquet" else f"out{jobs}.jsonl")
        summary = command.run_sql_batch(claims, str(out), str(tmp_path / f"err{jobs}.jsonl"), None, None,
                                        output_format=output_format, jobs=jobs)
        tables = sorted(out.iterdir()) if output_format == "parquet" else [out]
        written[jobs] = ([t.read_bytes() if t.suffix == ".jsonl" else _rows(t) for t in tables],
                         (tmp_path / f"err{jobs}.jsonl").read_text(), summary.render())
    assert written[1] == written[2]
    decisions, errors, _ = written[2]
    assert errors.count("\n") > 0 and "claim-" in errors  # the malformed records, located, in order
    if output_format == "json":
        ids = [json.loads(line)["claim_id"] for line in decisions[0].decode().splitlines()]
        assert len(ids) + errors.count("\n") == 230 and ids == sorted(ids, key=lambda i: int(i.split("-")[-1]))


def _rows(table: Path) -> list:
    import pyarrow.parquet as pq
    return pq.read_table(table).to_pylist()


def test_batch_with_the_sql_engine_assumes_the_documentation_as_the_row_engine_does(tmp_path):
    # Every flag not given as false is documented, a null one included; a line's unstated minutes
    # are not assumed (that claim goes to the row engine, which asks to confirm them).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import gen_claims

    rows = [json.loads(text) for text in gen_claims.generate(400, seed=18)]
    for i, claim in enumerate(rows[:40]):
        doc = claim.setdefault("documentation", {})
        if i % 4 == 0:
            doc.pop("consent", None)
        elif i % 4 == 1:
            doc["consent"] = None
        elif i % 4 == 2:
            doc["training_described"] = False
        else:
            claim["lines"][0]["minutes"] = None
    claims = tmp_path / "c.jsonl"
    claims.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    row = _ctsdsl("batch", str(claims), "--assume-documented", "-o", str(tmp_path / "row.jsonl"), "-q")
    sql = _ctsdsl("batch", str(claims), "--assume-documented", "--engine", "sql", "-o", str(tmp_path / "sql.jsonl"),
                  "-q")
    assert row.returncode == sql.returncode, sql.stderr
    decided = (tmp_path / "sql.jsonl").read_text()
    assert decided == (tmp_path / "row.jsonl").read_text()
    assert decided.count('"assumed_documented":true') == len(rows) and '"needs_record"' in decided
