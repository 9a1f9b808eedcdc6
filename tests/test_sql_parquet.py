"""Parquet in and out of the SQL engine: `ctsdsl batch CLAIMS.parquet --engine sql [-o DIR --format parquet]`.

The Parquet claim file is the claim document as columns (docs/sql.md, "Parquet"); the decisions
come out as three tables (claims, lines, findings) holding what the JSON Lines decisions hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import gen_claims  # noqa: E402

from ctsdsl.scale.sql.parquet_claims import write_claims  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "claims"


def _ctsdsl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ctsdsl", *args], capture_output=True, text=True)


def _claims() -> list[dict]:
    """Generated claims of every bundled Medicare year, and the example claims a policy covers."""
    claims = [json.loads(text) for text in gen_claims.generate(300, seed=18)]
    for path in sorted(set(EXAMPLES.glob("*.json")) - {EXAMPLES / "before-2024.json"}):
        claim = json.loads(path.read_text(encoding="utf-8"))
        claims.extend(claim if isinstance(claim, list) else [claim])
    return claims


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("parquet")
    claims = _claims()
    (folder / "claims.jsonl").write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    write_claims(claims, folder / "claims.parquet")
    return folder


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def test_a_parquet_claim_file_is_decided_as_the_same_claims_in_json_lines(files):
    row = _ctsdsl("batch", str(files / "claims.jsonl"), "-q", "-o", str(files / "row.jsonl"))
    sql = _ctsdsl("batch", str(files / "claims.parquet"), "--engine", "sql", "-q", "-o", str(files / "sql.jsonl"))
    assert row.returncode == sql.returncode == 0, sql.stderr
    assert (files / "sql.jsonl").read_text() == (files / "row.jsonl").read_text()  # byte for byte, in input order


def test_parquet_tables_hold_the_json_lines_decisions_field_for_field(files):
    jsonl = _ctsdsl("batch", str(files / "claims.jsonl"), "--engine", "sql", "-q", "-o", str(files / "d.jsonl"))
    tables = _ctsdsl("batch", str(files / "claims.parquet"), "--engine", "sql", "-q", "-o", str(files / "out"),
                     "--format", "parquet")
    assert jsonl.returncode == tables.returncode == 0, tables.stderr
    decisions = [json.loads(line) for line in (files / "d.jsonl").read_text().splitlines()]
    claims, lines, findings = (pq.read_table(files / "out" / f"{t}.parquet").to_pylist()
                               for t in ("claims", "lines", "findings"))
    assert [c["record"] for c in claims] == list(range(1, len(decisions) + 1))
    for d, c in zip(decisions, claims):
        p = d["policy"]
        assert (c["claim_id"], c["claim_digest"], c["outcome"], _money(c["total_allowed"]), c["total_complete"]) \
            == (d["claim_id"], d["claim_digest"], d["outcome"], d["total_allowed"], d["total_complete"])
        assert (c["policy"], c["policy_payer"], c["policy_version"], c["policy_digest"], c["policy_file"]) \
            == (p["name"], p["payer"], p["version"], p["digest"], p["file"])
    expected_lines = [(n, ln) for n, d in enumerate(decisions, 1) for ln in d["lines"]]
    assert len(lines) == len(expected_lines)
    for got, (n, want) in zip(lines, expected_lines):
        assert got["record"] == n and got["index"] == want["index"]
        as_json = {"index": got["index"], "code": got["code"], "status": got["status"],
                   "units_billed": got["units_billed"], "units_allowed": got["units_allowed"],
                   "allowed_amount": _money(got["allowed_amount"]), "findings": got["findings"],
                   "adjustments": [dict(a, amount=_money(a["amount"])) for a in got["adjustments"]],
                   "remarks": got["remarks"], **({"confirm": got["confirm"]} if got["confirm"] else {})}
        assert as_json == want
    expected_findings = [(n, f) for n, d in enumerate(decisions, 1) for f in d["findings"]]
    assert len(findings) == len(expected_findings) > 0
    for got, (n, want) in zip(findings, expected_findings):
        assert got["record"] == n
        as_json = {k: got[k] for k in ("id", "rule", "title", "severity", "line", "message", "citation",
                                       "reason_codes", "sources")}
        as_json["origin"] = {"policy": got["layer"], "version": got["layer_version"], "file": got["layer_file"],
                             "line": got["layer_line"]}
        assert as_json == want


def test_a_null_cell_is_a_field_left_out_so_its_default_applies(tmp_path):
    claim = json.loads((EXAMPLES / "typical.json").read_text(encoding="utf-8"))
    left_out = json.loads(json.dumps(claim))
    del left_out["documentation"]["consent"]  # not documented: consent's default, false
    nulled = json.loads(json.dumps(claim))
    nulled["documentation"]["consent"] = None
    (tmp_path / "c.jsonl").write_text(json.dumps(left_out) + "\n", encoding="utf-8")
    write_claims([nulled], tmp_path / "c.parquet")
    row = _ctsdsl("batch", str(tmp_path / "c.jsonl"), "-q")
    sql = _ctsdsl("batch", str(tmp_path / "c.parquet"), "--engine", "sql", "-q")
    assert row.returncode == sql.returncode == 0, sql.stderr
    assert sql.stdout == row.stdout and '"denied"' in sql.stdout


def _bad(tmp_path: Path, table) -> subprocess.CompletedProcess:
    pq.write_table(table, tmp_path / "bad.parquet")
    return _ctsdsl("batch", str(tmp_path / "bad.parquet"), "--engine", "sql", "-q", "-o", str(tmp_path / "o.jsonl"))


def _table() -> object:
    return pa.Table.from_pylist([json.loads((EXAMPLES / "typical.json").read_text(encoding="utf-8"))])


def test_a_parquet_file_without_a_column_every_claim_needs_is_refused_naming_it(tmp_path):
    done = _bad(tmp_path, _table().drop_columns(["payer"]))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "bad.parquet: error: no column `payer`: every claim needs one" in done.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_a_parquet_column_of_the_wrong_type_is_refused_naming_the_column_and_both_types(tmp_path):
    table = _table()
    done = _bad(tmp_path, table.set_column(table.schema.get_field_index("date_of_service"), "date_of_service",
                                           pa.array([20240601])))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "column date_of_service holds int64; date_of_service takes a date or ISO text" in done.stderr


def test_a_line_field_of_the_wrong_type_is_refused_naming_it(tmp_path):
    claim = json.loads((EXAMPLES / "typical.json").read_text(encoding="utf-8"))
    for line in claim["lines"]:
        line["units"] = str(line["units"])
    done = _bad(tmp_path, pa.Table.from_pylist([claim]))
    assert done.returncode == 2 and "column lines.units holds string; lines.units takes integers" in done.stderr


def test_a_file_that_is_not_parquet_is_refused_as_unreadable_without_a_traceback(tmp_path):
    (tmp_path / "bad.parquet").write_text('{"id": "not parquet"}\n', encoding="utf-8")
    done = _ctsdsl("batch", str(tmp_path / "bad.parquet"), "--engine", "sql", "-q")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "bad.parquet: error: not readable as Parquet" in done.stderr


def test_a_bad_row_is_a_record_error_located_by_its_row_and_the_others_are_decided(tmp_path):
    claims = [json.loads((EXAMPLES / "typical.json").read_text(encoding="utf-8")) for _ in range(3)]
    claims[1]["lines"][0]["units"] = 0
    write_claims(claims, tmp_path / "c.parquet")
    done = _ctsdsl("batch", str(tmp_path / "c.parquet"), "--engine", "sql", "-q", "-o", str(tmp_path / "out"),
                   "--format", "parquet", "--errors", str(tmp_path / "errors.jsonl"))
    assert done.returncode == 2 and "c.parquet:row 2: $.lines[0].units: error: 0 is less than the minimum of 1" \
        in done.stderr
    assert [c["record"] for c in pq.read_table(tmp_path / "out" / "claims.parquet").to_pylist()] == [1, 3]
    error = json.loads((tmp_path / "errors.jsonl").read_text())
    assert error["location"].endswith("/c.parquet:row 2") and json.loads(error["record"])["lines"][0]["units"] == 0


def test_parquet_output_needs_a_folder_and_a_failed_run_leaves_the_old_tables(tmp_path):
    write_claims([json.loads((EXAMPLES / "typical.json").read_text(encoding="utf-8"))], tmp_path / "c.parquet")
    assert "name it with -o DIR" in _ctsdsl("batch", str(tmp_path / "c.parquet"), "--engine", "sql",
                                            "--format", "parquet").stderr
    out = tmp_path / "out"
    assert _ctsdsl("batch", str(tmp_path / "c.parquet"), "--engine", "sql", "-q", "-o", str(out),
                   "--format", "parquet").returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["claims.parquet", "findings.parquet", "lines.parquet"]
    pq.write_table(_table().drop_columns(["lines"]), tmp_path / "bad.parquet")
    failed = _ctsdsl("batch", str(tmp_path / "bad.parquet"), "--engine", "sql", "-q", "-o", str(out),
                     "--format", "parquet")
    assert failed.returncode == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary file left either


def test_the_row_engine_points_parquet_to_the_sql_engine(tmp_path):
    write_claims([json.loads((EXAMPLES / "typical.json").read_text(encoding="utf-8"))], tmp_path / "c.parquet")
    done = _ctsdsl("batch", str(tmp_path / "c.parquet"), "-q")
    assert done.returncode == 2 and "add --engine sql" in done.stderr
