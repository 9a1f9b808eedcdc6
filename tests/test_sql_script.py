"""A policy's SQL script (the statements an embedded run executes) is kept in the policy cache:
a later SQL engine of the same policy builds no plan and decides as the first did; a changed
policy, or another one, never finds it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

from ctsdsl.api import compile as compile_policy  # noqa: E402
from ctsdsl.engine import policy_cache  # noqa: E402
from ctsdsl.scale.sql import plan, script  # noqa: E402
from ctsdsl.scale.sql.run import SqlEvaluator  # noqa: E402

from conftest import claim  # noqa: E402

DOC = {"plan_of_care_includes_cts": True, "consent": True, "training_described": True}
CLAIMS = [{"id": f"s{i}", "payer": "medicare", "date_of_service": "2025-03-03", "place_of_service": "11",
           "documentation": DOC, "lines": [{"code": "97550", "units": 1, "minutes": 40 + 5 * i, "modifiers": ["GP"]},
                                           {"code": "97551", "units": 1 + i, "modifiers": ["GP"]}]}
          for i in range(4)]


def _refuse_to_plan(*_args, **_kwargs):
    raise AssertionError("a plan was built")


def test_a_second_sql_engine_of_a_policy_reads_its_script_and_builds_no_plan(monkeypatch, tmp_path):
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path))
    evaluator = compile_policy("medicare-cts-2025")
    first = [d.to_dict() for d in SqlEvaluator(evaluator).decide(CLAIMS)]
    monkeypatch.setattr(plan, "build", _refuse_to_plan)
    again = SqlEvaluator(evaluator)
    assert [d.to_dict() for d in again.decide(CLAIMS)] == first
    assert first == [evaluator.evaluate(c).to_dict() for c in CLAIMS]
    assert any(p.name.startswith("sql-") for p in tmp_path.iterdir())


def test_two_policies_never_share_a_script(monkeypatch, tmp_path):
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path))
    a, b = compile_policy("medicare-cts-2025"), compile_policy("medicare-cts-2024")
    assert a.cache_key != b.cache_key
    assert script.load(a) != script.load(b)


def test_a_policy_not_read_from_files_is_planned_each_time_and_keeps_nothing(monkeypatch, tmp_path, make_policy):
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path / "cache"))
    evaluator = make_policy("""
rule too_many_units {
  cites s
  when line.units > 1
  deny
  message "{line.units} units of 97550"
}
""").evaluator()
    assert evaluator.cache_key is None
    decided = list(SqlEvaluator(evaluator).decide([claim({"code": "97550", "units": 2, "minutes": 45})]))
    assert decided[0].to_dict() == evaluator.evaluate(claim({"code": "97550", "units": 2, "minutes": 45})).to_dict()
    assert decided[0].findings[0].message == "2 units of 97550"
    assert not (tmp_path / "cache").exists() or not any(p.name.startswith("sql-") for p in (tmp_path / "cache").iterdir())


def test_a_new_duckdb_or_sqlglot_version_makes_the_script_anew(monkeypatch, tmp_path):
    import duckdb
    import sqlglot

    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path))
    evaluator = compile_policy("medicare-cts-2025")
    script.load(evaluator)
    monkeypatch.setattr(plan, "build", _refuse_to_plan)
    script.load(evaluator)  # kept
    for library in (duckdb, sqlglot):
        with monkeypatch.context() as m:
            m.setattr(library, "__version__", library.__version__ + ".next")
            with pytest.raises(AssertionError, match="a plan was built"):
                script.load(evaluator)
