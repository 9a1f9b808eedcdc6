"""Quantifiers over claim.lines in the SQL backend: aggregates of grouped views, decided as the row engine decides.

ctsdsl/scale/sql/quantifiers.py writes a quantifier as a column of a view grouped by claim (it
reads the quantified line and the claim) or by governed line (it reads the current line too),
not as a correlated subquery. These tests decide small policies' claims with both engines, and
read the plans of the bundled policies for any correlated subquery left.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

from sqlglot import exp  # noqa: E402

from ctsdsl.api import compile as compile_policy  # noqa: E402
from ctsdsl.engine.registry import folder_registry  # noqa: E402
from ctsdsl.errors import EvaluationError  # noqa: E402
from ctsdsl.scale.sql.plan import build  # noqa: E402
from ctsdsl.scale.sql.run import SqlEvaluator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

HEADER = """
policy "p" {
  payer "acme"
  version "1"
  effective 2024-01-01 to 2024-12-31
  governs "97550", "97551"
}
source s {
  title "S"
  url "https://example.com"
}
"""

# An add-on needs its primary on the same date; at most four units a date; a claim of more than
# two 97551 lines is denied; a line's 97551 units count against those of the lines before it.
RULES = """
rule addon_without_primary {
  cites s
  applies to line where line.code == "97551"
  when not any(o in claim.lines where o.code == "97550" and o.date_of_service == line.date_of_service)
  deny
  message "no 97550 on {line.date_of_service}"
}
rule units_of_the_date {
  cites s
  applies to line
  when sum(o.units for o in claim.lines where o.date_of_service == line.date_of_service) > 4
  warn
  message "over four units on {line.date_of_service}"
}
rule too_many_addons {
  cites s
  applies to claim
  when count(o in claim.lines where o.code == "97551") > 2
  deny
  message "more than two 97551 lines"
}
rule units_before {
  cites s
  applies to line where line.code == "97551"
  reduce units to max(0, 3 - sum(o.units for o in claim.lines where o.code == "97551" and o.index < line.index))
  message "97551 units past three on the claim"
}
rule all_on_one_date {
  cites s
  applies to claim
  when not all(o in claim.lines where o.date_of_service == claim.date_of_service)
  info
  message "lines on other dates than the claim's"
}
fee flat {
  cites s
  amount 10.00 * units_allowed
}
"""


def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.cts"
    path.write_text(textwrap.dedent(HEADER) + textwrap.dedent(body), encoding="utf-8")
    return path


def _claim(n: int, *lines: tuple[str, int, str | None]) -> dict:
    out = []
    for code, units, date in lines:
        line: dict = {"code": code, "units": units, "minutes": 30}
        if date is not None:
            line["date_of_service"] = date
        out.append(line)
    return {"id": f"c{n}", "payer": "acme", "date_of_service": "2024-05-01", "place_of_service": "11",
            "lines": out}


CLAIMS = [
    _claim(0, ("97550", 1, None), ("97551", 2, None)),
    _claim(1, ("97550", 1, "2024-05-01"), ("97551", 2, "2024-05-02")),  # its primary on another date
    _claim(2, ("97551", 1, None), ("97551", 2, None), ("97551", 3, None), ("97550", 1, None)),
    _claim(3, ("97550", 3, None), ("97551", 2, None), ("97110", 4, "2024-05-03"), ("97551", 1, "2024-05-03")),
    _claim(4, ("97110", 1, None)),  # nothing governed
    _claim(5, ("97551", 5, "2024-05-04")),
]


def _both(path: Path, claims: list[dict]) -> tuple[list, list, SqlEvaluator]:
    evaluator = compile_policy(path)
    valid = [evaluator.claim_model.validate(c) for c in claims]
    sql = SqlEvaluator(evaluator)
    return list(sql.decide(valid)), [evaluator.evaluate(c, validate=False) for c in valid], sql


def _correlated(query: exp.Expression) -> list[str]:
    """The subqueries of `query` that read a column of a relation outside them."""
    found = []
    for sub in query.find_all(exp.Subquery, exp.Exists):
        own = {t.alias_or_name for t in sub.this.find_all(exp.Table)}
        if any(c.table and c.table not in own for c in sub.this.find_all(exp.Column)):
            found.append(sub.sql("duckdb")[:200])
    return found


def test_same_date_claim_wide_and_earlier_line_quantifiers_decide_as_the_row_engine(tmp_path):
    sql, row, _ = _both(_policy(tmp_path, RULES), CLAIMS)
    assert [d if isinstance(d, int) else d.to_dict() for d in sql] == [d.to_dict() for d in row]
    fired = [{f.rule for f in d.findings} for d in row]
    # The cases above reach every rule both ways, so the comparison is not of empty decisions.
    assert "addon_without_primary" in fired[1] and "addon_without_primary" not in fired[0]
    assert "too_many_addons" in fired[2] and "too_many_addons" not in fired[3]
    assert "units_of_the_date" in fired[3] and "units_of_the_date" in fired[5] and "units_of_the_date" not in fired[0]
    assert "units_before" in fired[2] and "all_on_one_date" in fired[3] and "all_on_one_date" not in fired[2]


def test_those_quantifiers_are_grouped_views_joined_by_key_not_correlated_subqueries(tmp_path):
    plan = build(compile_policy(_policy(tmp_path, RULES)).checked)
    assert [(name, found) for name, query in plan.views if (found := _correlated(query))] == []
    # by claim (count of 97551 lines, all on the claim's date) and by line (same date, lines before it)
    grouped = {tuple(c.name for c in query.args["group"].expressions)
               for _, query in plan.views if isinstance(query, exp.Select) and query.args.get("group")}
    assert grouped == {("claim_ord",), ("claim_ord", "l_index")}


def test_a_quantifier_whose_condition_fails_on_a_line_hands_the_claim_to_the_row_engine(tmp_path):
    # `o.minutes > 20` on a line without minutes raises in the row engine: the SQL's aggregate
    # says so (BOOL_OR of the line's failure) and the claim is decided by the row engine.
    path = _policy(tmp_path, """
        rule long_lines {
          cites s
          applies to line
          when count(o in claim.lines where o.minutes > 20) > 1
          warn
          message "two long lines"
        }
        """)
    claims = [_claim(0, ("97550", 1, None), ("97551", 1, None)), _claim(1, ("97550", 1, None), ("97551", 1, None))]
    del claims[1]["lines"][1]["minutes"]
    evaluator = compile_policy(path)
    valid = [evaluator.claim_model.validate(c) for c in claims]
    sql = SqlEvaluator(evaluator)
    decided = list(sql.decide(valid))
    assert not isinstance(decided[0], int)
    assert decided[0].to_dict() == evaluator.evaluate(valid[0], validate=False).to_dict()
    assert "long_lines" in {f.rule for f in decided[0].findings}
    with pytest.raises(EvaluationError, match="o.minutes"):
        evaluator.evaluate(valid[1], validate=False)
    assert decided[1] == 1 and sql.handed == {"fails": 1}


def test_empty_filters_give_zero_and_all_holds_as_the_row_engine(tmp_path):
    path = _policy(tmp_path, """
        rule none_of_a_code {
          cites s
          applies to line
          when sum(o.units for o in claim.lines where o.code == "97552") == 0
               and count(o in claim.lines where o.code == "97552") == 0
               and all(o in claim.lines where o.units > 0)
               and none(o in claim.lines where o.code == "97552")
          info
          message "no 97552"
        }
        """)
    sql, row, _ = _both(path, CLAIMS[:3])
    assert [d.to_dict() for d in sql] == [d.to_dict() for d in row]  # type: ignore[union-attr]
    assert all("none_of_a_code" in {f.rule for f in d.findings} for d in row)


def test_a_quantifier_nested_in_another_keeps_the_correlated_form_and_decides_alike(tmp_path):
    path = _policy(tmp_path, """
        rule repeated_code {
          cites s
          applies to line
          when any(o in claim.lines where any(p in claim.lines where p.code == o.code and p.index != o.index))
          warn
          message "a code billed twice"
        }
        """)
    sql, row, _ = _both(path, CLAIMS)
    assert [d.to_dict() for d in sql if not isinstance(d, int)] == [d.to_dict() for d in row]
    assert "repeated_code" in {f.rule for f in row[2].findings}
    assert "repeated_code" not in {f.rule for f in row[0].findings}


def test_no_bundled_policy_plan_holds_a_correlated_subquery():
    registry = folder_registry(ROOT / "policies")
    left = {}
    for entry in registry.entries():
        plan = build(registry.evaluator(entry.path).checked)
        found = [(name, sub) for name, query in plan.views for sub in _correlated(query)]
        if found:
            left[entry.name] = found
    assert left == {}
