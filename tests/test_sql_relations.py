"""The SQL engine's two relations, as DuckDB makes them from the claims' JSON (`JsonLoader`), are
the relations `build` makes in Python: the same columns, types and values, a claim's defaults
filled in alike; and every claim `build` would mark for the row engine is left out for it.
"""

from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

from ctsdsl.api import compile as compile_policy  # noqa: E402
from ctsdsl.claims.validation import validate_claim  # noqa: E402
from ctsdsl.scale.sql import relations  # noqa: E402
from ctsdsl.scale.sql.run import SqlEvaluator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = {"plan_of_care_includes_cts": True, "consent": True, "training_described": True}


def _generated(count: int) -> list[dict]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gen_claims
    finally:
        sys.path.pop(0)
    return [validate_claim(json.loads(text)) for text in gen_claims.generate(count, seed=7)]


def _claim(**fields) -> dict:
    claim = {"id": "r1", "payer": "medicare", "date_of_service": "2025-03-03", "place_of_service": "11",
             "documentation": DOC, "lines": [{"code": "97550", "units": 1, "minutes": 40, "modifiers": ["GP"]}]}
    claim.update(fields)
    return claim


def _rows(con, name: str) -> tuple[list, list]:
    described = con.execute(f"DESCRIBE {name}").fetchall()
    return [(d[0], d[1]) for d in described], con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()


def _both(claims: list[dict], fields=None):
    """(DuckDB's tables, build's tables, the claims the loader left out, the claims build marked)."""
    con = duckdb.connect()
    left_out = relations.JsonLoader(fields).load(con, claims)
    made = {name: _rows(con, name) for name in ("claims", "lines")}
    rel = relations.build(claims, fields)
    relations.load_relations(con, rel)
    built = {name: _rows(con, name) for name in ("claims", "lines")}
    return made, built, left_out, rel.unrepresentable


def _without(rows: list, ords: set[int]) -> list:
    return [row for row in rows if row[0] not in ords]


def test_duckdb_makes_the_relations_build_makes_for_generated_claims():
    claims = _generated(1500)
    made, built, left_out, marked = _both(claims)
    assert left_out is not None and marked <= left_out
    assert len(left_out) < len(claims) * 0.01, f"left for the row engine: {len(left_out)}"
    for name in ("claims", "lines"):
        assert made[name][0] == built[name][0], f"{name}: columns or types differ"
        assert made[name][1] == _without(built[name][1], left_out)
    assert len(made["lines"][1]) > len(claims)  # claims of more than one line among them


def test_a_claim_that_leaves_fields_out_gets_the_defaults_build_gives_it():
    bare = _claim(documentation={}, lines=[{"code": "97551", "units": 2}])
    dated = _claim(provider_type="physician", apm_qualifying=True, therapy_spend_to_date=2410.5,
                   lines=[{"code": "97550", "units": 1, "minutes": 40, "date_of_service": "2025-03-04",
                           "patients_represented": 2, "caregivers": 3, "patient_present": True, "charge": 125.25,
                           "modifiers": ["GP", "KX"]}])
    no_documentation = {k: v for k, v in _claim().items() if k != "documentation"}
    made, built, left_out, _ = _both([bare, dated, no_documentation])
    assert left_out == set()
    assert made == built
    lines = made["lines"][1]
    assert lines[0][-2] == "2025-03-03"  # a line without its own date is on the claim's
    assert lines[1][-2] == "2025-03-04"


def test_text_with_quotes_backslashes_and_accents_reads_as_build_reads_it():
    odd = _claim(id='c-"Zoë" \\ 5\u00a0', payer="medicare", lines=[
        {"code": "97550", "units": 1, "minutes": 40, "modifiers": ["GP", "ü\n"]}])
    made, built, left_out, _ = _both([odd])
    assert left_out == set() and made == built
    assert made["claims"][1][0][1] == 'c-"Zoë" \\ 5\u00a0'


@pytest.mark.parametrize("claim, why", [
    (_claim(therapy_spend_to_date=1500.1234567), "a seventh decimal"),
    (_claim(therapy_spend_to_date=10 ** 19), "19 digits"),
    (_claim(therapy_spend_to_date=1.5e16), "an exponent"),
    (_claim(documentation=dict(DOC, consent=None)), "a fact not stated"),
    (_claim(lines=[{"code": "97550", "units": 1, "minutes": None}]), "minutes not stated"),
    (_claim(lines=[{"code": "97550", "units": 1, "minutes": 40.0}]), "an integer field written as a float"),
])
def test_a_claim_duckdb_would_read_otherwise_is_left_for_the_row_engine(claim, why):
    made, built, left_out, marked = _both([_claim(id="plain"), claim])
    assert left_out == {1}, why
    assert made["claims"][1] == _without(built["claims"][1], {1})
    assert marked <= left_out


def test_the_pattern_matches_every_claim_build_marks():
    # Every value build cannot hold is one the pattern finds in the claim's JSON text.
    pattern = re.compile(relations.suspect_pattern())
    for value in (0.0000001, 1.0000001, 12345.1234567, 1e22, -1e22, float("inf"), float("nan")):
        claim = _claim(therapy_spend_to_date=value)
        assert relations.build([claim]).unrepresentable == {0}, value
        assert pattern.search(relations._texts([claim])[0]), value


def test_a_claim_json_cannot_write_is_loaded_from_build_and_decided_as_the_row_engine_decides_it():
    policy = compile_policy("medicare-cts-2025")
    con = duckdb.connect()
    loader = relations.JsonLoader(policy.checked.fields)
    decimal = _claim(id="d1", therapy_spend_to_date=Decimal("2410.50"))
    huge = _claim(id="d2", therapy_spend_to_date=10 ** 21)  # past 64 bits: orjson refuses it
    surrogate = _claim(id="d3", lines=[{"code": "97550", "units": 1, "modifiers": ["\ud800"]}])  # not UTF-8
    for claim in (decimal, huge, surrogate):
        assert loader.load(con, [_claim(), claim]) is None
    sql = SqlEvaluator(policy)
    claims = [_claim(), decimal]
    decided = list(sql.decide(claims))
    assert [d.to_dict() for d in decided] == [policy.evaluate(c).to_dict() for c in claims]
    assert sql.handed == {}  # build's relations hold the Decimal: DuckDB decided it


def test_a_claim_whose_text_only_looks_odd_is_decided_by_the_row_engine_alike():
    policy = compile_policy("medicare-cts-2025")
    sql = SqlEvaluator(policy)
    looks_odd = _claim(id="c-9e5")  # an exponent, to the pattern
    decided = list(sql.decide([_claim(), looks_odd]))
    assert decided[1] == 1 and sql.handed == {"unrepresentable": 1}
    assert decided[0].to_dict() == policy.evaluate(_claim()).to_dict()


def test_a_policys_declared_field_is_a_column_duckdb_fills_as_build_does():
    policy = compile_policy("example-northwind-2025")
    fields = policy.checked.fields
    claim = _claim(payer="example-northwind", lines=[
        {"code": "97550", "units": 1, "minutes": 68, "modifiers": ["GP"], "prior_auth_number": "NW-1"},
        {"code": "97551", "units": 1, "modifiers": ["GP"]}])
    made, built, left_out, _ = _both([claim], fields)
    assert left_out == set() and made == built
    assert ("l_prior_auth_number", "VARCHAR") in made["lines"][0]


def test_a_claim_leaving_a_fact_unstated_is_handed_back_as_such_whichever_builder_made_the_relations():
    policy = compile_policy("medicare-cts-2025")
    unstated = _claim(id="u1", documentation=dict(DOC, consent=None))
    for batch in ([_claim(), unstated], [_claim(therapy_spend_to_date=Decimal("10.5")), unstated]):
        sql = SqlEvaluator(policy)
        decided = list(sql.decide(batch))
        assert decided[1] == 1 and sql.handed == {"not stated": 1}
        assert decided[0].to_dict() == policy.evaluate(batch[0]).to_dict()
