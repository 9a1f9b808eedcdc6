"""Parquet to Parquet decided by DuckDB alone (ctsdsl/scale/sql/native.py): the same three tables as
deciding each row in Python, every row it cannot vouch for decided that way, in input order."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import gen_claims  # noqa: E402

from ctsdsl.engine.decision import claim_digest  # noqa: E402
from ctsdsl.scale.sql import command  # noqa: E402
from ctsdsl.scale.sql.parquet_claims import batch_claims, write_claims  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "claims"
TYPICAL = json.loads((EXAMPLES / "typical.json").read_text(encoding="utf-8"))


def _copy(claim: dict, **changes) -> dict:
    out = json.loads(json.dumps(claim))
    out.update(changes)
    return out


def _claims() -> list[dict]:
    """Generated claims of every Medicare year and the examples, some lines charged (for the
    adjustments' amounts: a third of a cent rounds half up, a line reduced by a third...)."""
    claims = [json.loads(text) for text in gen_claims.generate(600, seed=7)]
    for path in sorted(set(EXAMPLES.glob("*.json")) - {EXAMPLES / "before-2024.json"}):
        claim = json.loads(path.read_text(encoding="utf-8"))
        claims.extend(claim if isinstance(claim, list) else [claim])
    charges = [100.01, 0.01, 99.99, 250, 0.015, 1234567.89, 12.5]
    for n, claim in enumerate(claims):
        if n % 3 == 0:
            for i, line in enumerate(claim["lines"]):
                line["charge"] = charges[(n + i) % len(charges)]
        if n % 5 == 0:
            claim["therapy_spend_to_date"] = [1500.5, 800.0, 0.0001, 2410.07, 0][n % 4]
    return claims


def _decide(path: Path, out: Path, one_by_one: list, native: bool = True, output_format: str = "parquet"
            ) -> tuple[object, list, int]:
    """(summary, errors, rows decided one by one in Python) of `batch --engine sql --format parquet`
    (or, with `output_format` "json", writing JSON Lines to the file `out`); `one_by_one` is the
    `rows_one_by_one` fixture's count."""
    before = one_by_one[0]
    errors: list = []
    summary = command.run_sql_batch(path, str(out), None, None, None, on_error=errors.append,
                                    output_format=output_format, native=native)
    return summary, [e.to_dict() for e in errors], one_by_one[0] - before


def _tables(folder: Path) -> dict[str, list[dict]]:
    return {t: pq.read_table(folder / f"{t}.parquet").to_pylist() for t in ("claims", "lines", "findings")}


def _same_both_ways(path: Path, tmp_path: Path, one_by_one: list) -> tuple[int, int]:
    """Decide `path` natively and one row at a time, to tables and to JSON Lines: the same tables,
    the same bytes, summary and errors. (rows decided one by one natively, rows in all)."""
    native = _decide(path, tmp_path / "native", one_by_one)
    python = _decide(path, tmp_path / "python", one_by_one, native=False)
    assert _tables(tmp_path / "native") == _tables(tmp_path / "python")
    assert native[0].render() == python[0].render()
    assert native[1] == python[1]
    as_json = _decide(path, tmp_path / "native.jsonl", one_by_one, output_format="json")
    row_json = _decide(path, tmp_path / "python.jsonl", one_by_one, native=False, output_format="json")
    assert (tmp_path / "native.jsonl").read_bytes() == (tmp_path / "python.jsonl").read_bytes()
    assert as_json[0].render() == row_json[0].render() == native[0].render()
    assert as_json[1] == row_json[1] == native[1]
    assert as_json[2] == native[2]  # the same rows doubted, whichever the output
    return native[2], python[2]


def test_generated_and_example_claims_are_decided_by_duckdb_alone_as_python_decides_them(tmp_path, rows_one_by_one):
    claims = _claims()
    write_claims(claims, tmp_path / "c.parquet")
    one_by_one, rows = _same_both_ways(tmp_path / "c.parquet", tmp_path, rows_one_by_one)
    assert rows == len(claims)
    assert one_by_one == 0  # every one of them is a row DuckDB can vouch for
    tables = _tables(tmp_path / "native")
    assert any(a["amount"] is not None for ln in tables["lines"] for a in ln["adjustments"])
    assert {c["policy"] for c in tables["claims"]} >= {"medicare-cts-2024", "medicare-cts-2025", "medicare-cts-2026"}


def test_rows_duckdb_cannot_vouch_for_are_decided_one_by_one_in_their_place(tmp_path, rows_one_by_one):
    doubted = [
        _copy(TYPICAL, id='quote " and \\ back'),  # text the digest would escape
        _copy(TYPICAL, id="accent é"),
        _copy(TYPICAL, therapy_spend_to_date=1500.1234567),  # a seventh decimal
        _copy(TYPICAL, therapy_spend_to_date=5e9),  # past the doubles DECIMAL(28,6) holds by their digits
        _copy(TYPICAL, therapy_spend_to_date=0.00005),  # written with an exponent
        _copy(TYPICAL, payer="acme-health"),  # no policy: an error
        _copy(TYPICAL, lines=[dict(TYPICAL["lines"][0], units=0)]),  # invalid: an error
        _copy(TYPICAL, lines=[dict(TYPICAL["lines"][0], date_of_service="2026-01-02")]),  # spans two policies
        _copy(TYPICAL, lines=[dict(TYPICAL["lines"][0], modifiers=["GP", "gp"])]),  # invalid: an error
    ]
    plain = [_copy(TYPICAL, id=f"plain-{n}") for n in range(len(doubted) + 1)]
    claims = [c for pair in zip(plain, doubted) for c in pair] + plain[-1:]
    write_claims(claims, tmp_path / "c.parquet")
    one_by_one, rows = _same_both_ways(tmp_path / "c.parquet", tmp_path, rows_one_by_one)
    assert (one_by_one, rows) == (len(doubted), len(claims))
    records = [c["record"] for c in _tables(tmp_path / "native")["claims"]]
    assert records == sorted(records) and len(records) == len(claims) - 4  # four errors, the rest in input order


def test_dates_as_date32_dictionary_text_and_structs_left_null_read_as_python_reads_them(tmp_path, rows_one_by_one):
    claims = [_copy(TYPICAL, id=f"c{n}") for n in range(4)]
    claims[1]["documentation"] = {}
    del claims[2]["documentation"]
    claims[3]["lines"][0]["date_of_service"] = claims[3]["date_of_service"]
    table = pa.Table.from_pylist(claims)
    dos = table.schema.get_field_index("date_of_service")
    table = table.set_column(dos, "date_of_service", pa.array(
        [datetime.date.fromisoformat(c["date_of_service"]) for c in claims], pa.date32()))
    payer = table.schema.get_field_index("payer")  # as pandas writes a categorical column
    table = table.set_column(payer, "payer", table.column("payer").dictionary_encode())
    pq.write_table(table, tmp_path / "c.parquet")
    one_by_one, rows = _same_both_ways(tmp_path / "c.parquet", tmp_path, rows_one_by_one)
    assert (one_by_one, rows) == (0, 4)
    # and the digest is that of the claim as Python reads the row
    read = batch_claims(pq.read_table(tmp_path / "c.parquet").to_batches()[0])
    assert [c["claim_digest"] for c in _tables(tmp_path / "native")["claims"]] == [claim_digest(c) for c in read]


def test_a_file_with_a_column_type_the_checks_do_not_read_is_decided_one_by_one_whole(tmp_path, rows_one_by_one):
    table = pa.Table.from_pylist([_copy(TYPICAL, id="a", therapy_spend_to_date=1200)])
    spend = table.schema.get_field_index("therapy_spend_to_date")
    table = table.set_column(spend, "therapy_spend_to_date", pa.array([1200], pa.decimal128(10, 2)))
    pq.write_table(table, tmp_path / "c.parquet")
    assert _same_both_ways(tmp_path / "c.parquet", tmp_path, rows_one_by_one) == (1, 1)


def test_a_policy_s_declared_field_is_checked_and_read_from_its_column(tmp_path, rows_one_by_one):
    # Northwind (a made-up payer) declares line.prior_auth_number, matching ^[A-Z0-9-]{4,30}$; its
    # absence denies the line. A Medicare claim giving it is invalid: Medicare declares no such field.
    doc = {name: True for name in ("plan_of_care_includes_cts", "consent", "reason_without_patient",
                                   "need_for_occurrence", "training_described", "caregiver_response",
                                   "impact_on_goals")}
    claims = []
    for i, auth in enumerate(["NW-2025-0001", None, "nw-lower", "NW-7"]):
        line = {"code": "97550", "units": 1, "minutes": 68, "modifiers": ["GP"]}
        claims.append({"id": f"n{i}", "payer": "example-northwind", "date_of_service": "2025-03-03",
                       "place_of_service": "11", "documentation": doc,
                       "lines": [dict(line, **({"prior_auth_number": auth} if auth else {}))]})
    claims.append(_copy(TYPICAL, id="medicare-with-auth",
                        lines=[dict(TYPICAL["lines"][0], prior_auth_number="NW-2025-0001")]))
    pq.write_table(pa.Table.from_struct_array(pa.array(claims)), tmp_path / "c.parquet")  # every claim's keys
    one_by_one, rows = _same_both_ways(tmp_path / "c.parquet", tmp_path, rows_one_by_one)
    assert (one_by_one, rows) == (2, 5)  # the lower-case number and the Medicare claim: two errors
    native = _tables(tmp_path / "native")
    assert [c["claim_id"] for c in native["claims"]] == ["n0", "n1", "n3"]
    assert "prior_auth_missing" in {f["rule"] for f in native["findings"] if f["claim_id"] == "n1"}


def test_a_batch_duckdb_stops_on_is_decided_one_by_one_as_if_it_had_not_tried(tmp_path, monkeypatch, rows_one_by_one):
    from ctsdsl.scale.sql import native_decisions

    write_claims(_claims()[:50], tmp_path / "c.parquet")
    monkeypatch.setattr(native_decisions, "STATEMENTS", (*native_decisions.STATEMENTS,
                                                         "SELECT * FROM a_table_that_is_not_there"))
    one_by_one, rows = _same_both_ways(tmp_path / "c.parquet", tmp_path, rows_one_by_one)
    assert one_by_one == rows == 50


def test_a_write_that_fails_on_the_writer_thread_is_a_located_error_and_leaves_no_table(tmp_path, monkeypatch):
    from ctsdsl.errors import CtsdslError

    write_claims(_claims()[:20], tmp_path / "c.parquet")

    def full(self, table, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with pytest.raises(CtsdslError) as raised:
        command.run_sql_batch(tmp_path / "c.parquet", str(tmp_path / "out"), None, None, None,
                              output_format="parquet")
    assert "No space left on device" in str(raised.value) and "out" in str(raised.value)
    assert not list((tmp_path / "out").iterdir())  # no table, and no temporary file left
