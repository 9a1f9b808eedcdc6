"""The SQL backend is the row engine: every claim decided by both gives the same decision document.

The policies: every bundled one (policies/**, the illustrative overlays of policies/examples
included), with their rule stages and declared fields; each must compile to SQL.

The claims: every analyst case (policies/**/cases*.yaml, what-if cases aside: they change the
policy's figures), every example claim, and claims from benchmarks/gen_claims.py
(CTSDSL_SQL_DIFF_CLAIMS of them, 3,000 by default; 100,000 with the environment variable set so).
The generated claims are Medicare's; each overlay also decides a share of them, recast as its
payer's within its period, its declared fields given their example value on most lines (absent
on the others, so the rules that need them fire too).

A claim the SQL hands to the row engine (it would fail there, holds a value SQL cannot carry, or
leaves a fact unstated: a `null`, whose needs_record lines need the row engine's trace) is
counted, and must stay rare.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

from ctsdsl.review.case_files import find_case_files, load_cases  # noqa: E402
from ctsdsl.errors import CtsdslError  # noqa: E402
from ctsdsl.engine.registry import Registry, folder_registry  # noqa: E402
from ctsdsl.scale.sql.run import SqlEvaluator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GENERATED = int(os.environ.get("CTSDSL_SQL_DIFF_CLAIMS", "3000"))
OVERLAY_SHARE = 3  # every third generated claim of an overlay's year is also recast as its payer's


def _generated(count: int) -> list[dict]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gen_claims
    finally:
        sys.path.pop(0)
    return [json.loads(text) for text in gen_claims.generate(count, seed=18)]


def _recast(claim: dict, payer: str, declared: dict[str, dict[str, object]], n: int) -> dict:
    """`claim` as `payer`'s, each declared field given its example on all but every fifth line."""
    out = dict(claim, id=f"{claim['id']}-{payer}", payer=payer)
    out.update(declared.get("claim", {}))
    out["lines"] = [dict(line, **(declared.get("line", {}) if (n + i) % 5 else {}))
                    for i, line in enumerate(claim["lines"])]
    return out


def _claims(root: Path, registry: Registry) -> list[dict]:
    claims: list[dict] = []
    for case_file in find_case_files([root / "policies"]):
        for case in load_cases(case_file):
            if not case.params and not case.rows and isinstance(case.claim, dict):
                claims.append(case.claim)
    for path in sorted((root / "examples" / "claims").glob("*.json")):
        claims.append(json.loads(path.read_text(encoding="utf-8")))
    generated = _generated(GENERATED)
    claims.extend(generated)
    for entry in registry.entries():
        if entry.payer == "medicare":
            continue
        checked = registry.evaluator(entry.path).checked
        declared: dict[str, dict[str, object]] = {}
        for d in checked.declared:
            if d.example is not None:
                declared.setdefault(d.record, {})[d.name] = d.example.value
        for n, claim in enumerate(generated):
            dates = [claim["date_of_service"], *(line.get("date_of_service", "") for line in claim["lines"])]
            if n % OVERLAY_SHARE == 0 and all(not d or entry.covers(entry.payer, d) for d in dates):
                claims.append(_recast(claim, entry.payer, declared, n))
    return claims


def _differences(root: Path) -> tuple[list[str], Counter, Counter]:
    """Decide every claim with both engines under the policies of `root`; the mismatches, how many
    claims SQL decided per policy, and how many it handed to the row engine, by reason."""
    registry = folder_registry(root / "policies")
    by_policy: dict[int, tuple[object, list[dict]]] = {}
    for raw in _claims(root, registry):
        try:
            evaluator = registry.evaluator_for(raw)
            claim = evaluator.claim_model.validate(raw)
        except CtsdslError:
            continue  # no decision either way: malformed, or no policy in force
        by_policy.setdefault(id(evaluator), (evaluator, []))[1].append(claim)
    mismatches: list[str] = []
    decided: Counter = Counter()
    handed: Counter = Counter()
    for evaluator, claims in by_policy.values():
        sql = SqlEvaluator(evaluator)  # type: ignore[arg-type]  # every bundled policy compiles to SQL
        name = evaluator.info.name  # type: ignore[attr-defined]
        for claim, result in zip(claims, sql.decide(claims)):
            if isinstance(result, int):
                continue
            decided[name] += 1
            expected = evaluator.evaluate(claim, validate=False).to_dict()  # type: ignore[attr-defined]
            if result.to_dict() != expected:
                got = result.to_dict()
                mismatches.append(f"{name} {claim['id']}: " + "; ".join(
                    f"{key}: sql {json.dumps(got[key])[:300]} row {json.dumps(expected[key])[:300]}"
                    for key in expected if got.get(key) != expected[key]))
        handed.update(sql.handed)
    return mismatches, decided, handed


@pytest.fixture(scope="module")
def differences() -> tuple[list[str], Counter, Counter]:
    return _differences(ROOT)


def test_sql_and_row_engines_decide_every_claim_alike_under_every_bundled_policy(differences):
    mismatches, _, _ = differences
    assert not mismatches, f"{len(mismatches)} claims decided differently:\n" + "\n".join(mismatches[:5])


def test_every_bundled_policy_decides_claims_on_sql_and_few_go_back_to_the_row_engine(differences):
    _, decided, handed = differences
    names = {entry.name for entry in folder_registry(ROOT / "policies").entries()}
    assert set(decided) == names, f"no claim decided on SQL under {sorted(names - set(decided))}"
    assert sum(decided.values()) > GENERATED * 0.9
    assert sum(handed.values()) < sum(decided.values()) * 0.02, f"handed to the row engine: {dict(handed)}"


def test_a_claim_with_a_fact_it_does_not_state_is_decided_by_the_row_engine_and_counted():
    registry = folder_registry(ROOT / "policies")
    claim = {"id": "c", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
             "lines": [{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}],
             "therapy_spend_to_date": 100}
    unstated = dict(claim, id="u", lines=[dict(claim["lines"][0], minutes=None)])
    evaluator = registry.evaluator_for(claim)
    sql = SqlEvaluator(evaluator)
    results = list(sql.decide([evaluator.claim_model.validate(c) for c in (claim, unstated)]))
    assert results[0].to_dict() == evaluator.evaluate(claim).to_dict()  # type: ignore[union-attr]
    assert results[1] == 1 and sql.handed == {"not stated": 1}


def test_a_claim_that_fails_in_the_row_engine_is_handed_back_to_it():
    registry = folder_registry(ROOT / "policies")
    claim = {"id": "c", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
             "lines": [{"code": "97550", "units": 1}], "therapy_spend_to_date": 100}
    evaluator = registry.evaluator_for(claim)
    failing = dict(claim, date_of_service="2031-05-01",  # past the 2024 policy's dated figures
                   lines=[{"code": "97550", "units": 1, "minutes": 30, "modifiers": ["GP"]}])
    sql = SqlEvaluator(evaluator)
    results = list(sql.decide([evaluator.claim_model.validate(c) for c in (claim, failing)]))
    assert results[0].to_dict() == evaluator.evaluate(claim).to_dict()  # type: ignore[union-attr]
    assert results[1] == 1 and sql.handed == {"fails": 1}
    with pytest.raises(CtsdslError, match="outside the period"):
        evaluator.evaluate(failing)


# ---- the native Parquet path (scale/sql/native.py): the same claims as a Parquet file, decided by
# DuckDB alone into the three tables, which must say what the row engine's decisions say.


def _table_rows(record: int, d: dict) -> dict[str, list[dict]]:
    """A decision document as the rows `--format parquet` writes of it (parquet_decisions.py)."""
    from decimal import Decimal

    def money(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    p, head = d["policy"], {"record": record, "claim_id": d["claim_id"]}
    claims = [dict(head, claim_digest=d["claim_digest"], outcome=d["outcome"], total_allowed=money(d["total_allowed"]),
                   total_complete=d["total_complete"], assumed_documented=d.get("assumed_documented", False),
                   policy=p["name"], policy_payer=p["payer"], policy_version=p["version"], policy_digest=p["digest"],
                   policy_file=p["file"])]
    lines = [dict(head, index=ln["index"], code=ln["code"], status=ln["status"], units_billed=ln["units_billed"],
                  units_allowed=ln["units_allowed"], allowed_amount=money(ln["allowed_amount"]),
                  findings=ln["findings"], adjustments=[dict(a, amount=money(a["amount"])) for a in ln["adjustments"]],
                  remarks=ln["remarks"], confirm=ln.get("confirm", [])) for ln in d["lines"]]
    findings = [dict(head, id=f["id"], line=f["line"], rule=f["rule"], title=f["title"], severity=f["severity"],
                     reason_codes=f["reason_codes"], message=f["message"], citation=f["citation"], sources=f["sources"],
                     layer=f["origin"]["policy"], layer_version=f["origin"]["version"],
                     layer_file=f["origin"]["file"], layer_line=f["origin"]["line"]) for f in d["findings"]]
    return {"claims": claims, "lines": lines, "findings": findings}


def _states_every_fact(value: object) -> bool:
    """No `null` anywhere: Parquet has no cell for "not stated" (a null cell is a field left out)."""
    if isinstance(value, dict):
        return all(_states_every_fact(v) for v in value.values())
    if isinstance(value, list):
        return all(_states_every_fact(v) for v in value)
    return value is not None


def test_the_native_parquet_path_writes_the_row_engine_s_decisions_under_every_bundled_policy(tmp_path, rows_one_by_one):
    """To the three tables and to JSON Lines (the row engine's bytes)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from ctsdsl.scale.sql import command

    registry = folder_registry(ROOT / "policies")
    written, expected, texts = [], {"claims": [], "lines": [], "findings": []}, []
    for raw in _claims(ROOT, registry):
        if not _states_every_fact(raw):
            continue
        try:
            decision = registry.evaluator_for(raw).evaluate(raw).to_dict()
        except CtsdslError:
            continue
        written.append(raw)
        texts.append(json.dumps(decision, separators=(",", ":")) + "\n")  # what the row engine's batch writes
        for table, rows in _table_rows(len(written), decision).items():
            expected[table] += rows
    # pa.array reads every claim for the columns (from_pylist would take the first claim's keys alone).
    pq.write_table(pa.Table.from_struct_array(pa.array(written)), tmp_path / "claims.parquet")
    one_by_one = rows_one_by_one
    command.run_sql_batch(tmp_path / "claims.parquet", str(tmp_path / "out"), None, None, str(ROOT / "policies"),
                          output_format="parquet")
    for table in ("claims", "lines", "findings"):
        got = pq.read_table(tmp_path / "out" / f"{table}.parquet").to_pylist()
        assert len(got) == len(expected[table]), table
        wrong = [(g, e) for g, e in zip(got, expected[table]) if g != e]
        assert not wrong, f"{len(wrong)} {table} rows differ; the first: {wrong[0]}"
    names = {c["policy"] for c in expected["claims"]}
    assert names == {entry.name for entry in registry.entries()}
    assert one_by_one[0] < len(written) * 0.02, f"{one_by_one[0]} of {len(written)} decided one by one"
    one_by_one[0] = 0
    command.run_sql_batch(tmp_path / "claims.parquet", str(tmp_path / "out.jsonl"), None, None, str(ROOT / "policies"))
    got_texts = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    wrong_texts = [(g, e) for g, e in zip(got_texts, texts) if g != e]
    assert len(got_texts) == len(texts) and not wrong_texts, f"{len(wrong_texts)} differ; the first: {wrong_texts[:1]}"
    assert one_by_one[0] < len(written) * 0.02, f"{one_by_one[0]} of {len(written)} decided one by one (JSON Lines)"
