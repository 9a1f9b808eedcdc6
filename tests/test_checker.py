"""The checker: every problem it must catch, located, with a hint and the line underlined.

Each file in tests/fixtures/errors/ is a small policy broken in exactly one way; the table
below says what the checker must say about it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import ctsdsl
from ctsdsl.claims.fields import BOOL, NUMBER, STRING

from conftest import FIXTURES

ERRORS = FIXTURES / "errors"

# fixture, code, line, column, words the message must contain, words the hint must contain
CASES = [
    ("syntax_error", "syntax", 16, 19, "unexpected `=`; expected '!='", "comparisons use `==`"),
    ("unknown_field", "unknown-field", 16, 8, "line has no field `minuts`", "did you mean `minutes`?"),
    ("type_error", "type", 16, 8, "cannot compare a string with an int", 'quote codes as strings ("97550")'),
    ("unknown_parameter", "unknown-name", 16, 21, "unknown name `max_unit`", "define it with `param`"),
    ("unknown_table", "unknown-name", 16, 8, "unknown table `rvu`", 'declare it with `table rvu from "data/rvu.csv"'),
    ("undefined_source", "unknown-source", 15, 12, "cites `cms_manual`, which is not defined",
     "define it with `source"),
    ("no_citation", "no-citation", 13, 1, "rule `r` cites no source", "add `cites <source>`"),
    ("duplicate_rule_id", "duplicate-name", 20, 1, "rule `r` is defined twice (first at line 13)", "must be unique"),
    ("missing_data_file", "table", 13, 1, "data file not found", "relative to the policy's folder"),
    ("dated_overlap", "dated-overlap", 15, 3, "one runs to 2024-06-30, the next starts 2024-06-01",
     "end the first the day before"),
    ("dated_gap", "dated-gap", 15, 3, "no value from 2024-06-01 to the day before 2024-07-01", "add one for the gap"),
    ("path_escape", "data-path", 13, 1, "may not use `..` to leave the policy's folder", 'such as "data/rvu.csv"'),
    ("bad_date_literal", "bad-date", 16, 31, "2024-13-45 is not a calendar date", "months 01-12"),
    ("bad_reason_code", "bad-value", 18, 10, "reason code `CARC abc` is not a code", "`reason CARC 16`"),
]


def errors_of(path: Path):
    return [d for d in ctsdsl.check(path) if d.severity == "error"]


def test_every_fixture_is_in_the_table():
    assert sorted(p.stem for p in ERRORS.glob("*.cts")) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(("fixture", "code", "line", "column", "message", "hint"), CASES, ids=[c[0] for c in CASES])
def test_each_broken_policy_gets_one_located_diagnostic_with_a_hint(fixture, code, line, column, message, hint):
    path = ERRORS / f"{fixture}.cts"
    (d,) = errors_of(path)
    assert (d.code, d.span.line, d.span.column) == (code, line, column)
    assert d.source_name == str(path)
    assert message in d.message
    assert hint in d.hint


@pytest.mark.parametrize(("fixture", "line", "column"), [(c[0], c[2], c[3]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_diagnostic_renders_the_source_line_with_a_caret_under_the_problem(fixture, line, column):
    path = ERRORS / f"{fixture}.cts"
    (d,) = errors_of(path)
    rendered = d.render().splitlines()
    source_line = path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert rendered[0].startswith(f"{path}:{line}:{column}: error: ")
    assert rendered[1] == f"{line:>5} | {source_line}"
    assert rendered[2].startswith("      | " + " " * (column - 1) + "^")
    assert rendered[3].startswith("  hint: ")


def test_the_bundled_policies_are_clean():
    for path in sorted(ctsdsl._resources.policies_dir().rglob("*.cts")):
        assert errors_of(path) == [], path


# ------------------------------------------------------------------ more problems, written inline


def codes(make_policy, body: str) -> list[tuple[str, str]]:
    loaded = make_policy(body, raise_on_error=False)
    return [(d.code, d.message) for d in loaded.diagnostics if d.severity == "error"]


RULE = 'rule r {{ title "R" cites s {} message "m" }}'


@pytest.mark.parametrize(("body", "code", "words"), [
    (RULE.format("when lines > 1 deny"), "unknown-name", "unknown name `lines`"),
    (RULE.format("when nosuch(line.units) deny"), "unknown-function", "unknown function `nosuch`"),
    (RULE.format("when round(line.units) > 1 deny"), "arity", "round() takes 2 arguments, not 1"),
    (RULE.format("when year(line.date_of_service, 2) > 1 deny"), "arity", "year() takes 1 argument, not 2"),
    (RULE.format('when round("x", 2) > 1 deny'), "type",
     "argument 1 of round() must be a number or an amount, not a string"),
    (RULE.format("when len(line.units) > 1 deny"), "type", "argument 1 of len() must be a list or a set, not an int"),
    (RULE.format("when line.units deny"), "type", "the `when` condition must be a bool, but this is an int"),
    (RULE.format('reduce units to "two"'), "type", "the reduced units must be an int"),
    (RULE.format("applies to claim when line.units > 1 deny"), "scope", "`line` is only available"),
    (RULE.format("applies to claim reduce units to 1"), "scope", "reduces units but applies to the claim"),
    (RULE.format("when any(claim in claim.lines where claim.units > 1) deny"), "shadow", "already names"),
    (RULE.format("when count(round in claim.lines) > 1 deny"), "shadow", "`round` already names something"),
    (RULE.format("when units_allowed > 1 deny"), "scope", "`units_allowed` is only available in a fee's amount"),
    (RULE.format('when "x" and true deny'), "type", "`and` needs a bool"),
    (RULE.format("when line.units + line.modifiers > 1 deny"), "type", "`+` needs numbers"),
    ('rule r { title "R" cites s deny }', "missing-entry", "has no message"),
    ('rule r { title "R" cites s message "m" }', "missing-entry", "has no outcome"),
    ("let a = b\nlet b = a", "let-cycle", "refers to itself"),
    ("param line = 1 cites s", "reserved-name", "`line` is a built-in name"),
    ("param x: colour = 1 cites s", "unknown-type", "unknown type `colour`"),
    ("param x: string = 1 cites s", "type", "declared string but its value is int"),
    ("param x { from 2024-01-01 to 2023-12-31 = 1 cites s }", "bad-range", "ends (2023-12-31) before it starts"),
    ('param p: set = {2024-02-30} cites s', "bad-date", "2024-02-30 is not a calendar date"),
    ("param d = 2024-04-31 cites s", "bad-date", "2024-04-31 is not a calendar date"),
    ('fee f { title "F" cites s amount $1 * $2 }', "type", "money times money"),
    ('fee f { title "F" cites s }', "missing-entry", "has no amount"),
    ('rule r { title "R" cites s deny reason XYZ 1 message "m" }', "bad-value", "reason system `XYZ`"),
    ('rule r { title "R" cites s deny reason RARC n362 message "m" }', "bad-value", "`RARC n362` is not a code"),
    # An unquoted code in a set is a number no code equals: `line.code in` it would never match.
    ('param codes: set = {"97550", 97551} cites s', "type", "the set mixes a string and an int (`97551`)"),
    (RULE.format('when line.code in {"97550", 97551} deny'), "type", "the set mixes a string and an int"),
    ('disable r because "gone" cites s', "override-without-parent", "`disable r` in a policy that extends nothing"),
    ('override rule r { title "R" cites s deny message "m" }', "override-without-parent",
     "`override rule` in a policy that extends nothing"),
    ('policy "other" { payer "x" version "1" effective 2024-01-01 }', "duplicate-header",
     "a file holds one policy"),
    ('source t { url "https://x" }', "missing-entry", "source `t` has no title"),
    ('source t { title "T" }', "missing-entry", "source `t` has no url"),
    ('source t { title "T" url "https://x" date 2024-02-30 }', "bad-date", "2024-02-30 is not a calendar date"),
    ('source t { title "T" url "https://x" confidence sure }', "bad-value", "confidence `sure` is not one of"),
    ("param x {\n from 2024-01-01 = 1 cites s\n from 2024-01-01 = 2 cites s\n}", "dated-overlap",
     "two values of `x` start on 2024-01-01"),
    (RULE.format("when -line.code > 1 deny"), "type", "`-` needs a number, not a string"),
    (RULE.format('when (if line.units > 1 then 1 else "a") == 1 deny'), "type",
     "the branches of `if` differ: an int and a string"),
    (RULE.format("when any(o in line.units where true) deny"), "type", "`any` goes over a list or set, not an int"),
    (RULE.format("when sum(o.code for o in claim.lines) > 1 deny"), "type", "`sum` adds numbers, not a string"),
    ("let u = line.units\n" + RULE.format("applies to claim when u > 1 deny"), "scope",
     "`u` reads the current line, and this rule applies to the claim"),
    (RULE.format("when line.units.x > 1 deny"), "type", "an int has no fields (`.x`)"),
    (RULE.format('when "a" in line.units deny'), "type", "`in` needs a set, list or table on the right, not an int"),
    (RULE.format("when 1 in line.modifiers deny"), "type", "an int is never in a collection of string"),
    (RULE.format("when line.modifiers < line.modifiers deny"), "type", "`<` orders numbers and dates"),
    (RULE.format("when 1 / $2 > 1 deny"), "type", "a number divided by money has no meaning"),
])
def test_the_checker_reports(make_policy, body, code, words):
    found = codes(make_policy, body)
    assert any(c == code and words in m for c, m in found), found


def test_a_set_may_hold_whole_and_decimal_numbers_together(make_policy):
    assert codes(make_policy, "param rates: set = {1, 2.5} cites s") == []


def test_a_rule_without_a_title_is_only_a_warning(make_policy):
    loaded = make_policy('rule r { cites s deny message "m" }')
    assert [(d.code, d.severity) for d in loaded.diagnostics] == [("missing-entry", "warning")]


def test_dated_values_out_of_order_are_a_warning(make_policy):
    loaded = make_policy("param x {\n  from 2024-07-01 = 2 cites s\n  from 2024-01-01 to 2024-06-30 = 1 cites s\n}")
    assert [(d.code, d.severity) for d in loaded.diagnostics] == [("dated-order", "warning")]


def test_a_dated_parameter_must_start_by_the_policy_effective_date(make_policy):
    found = codes(make_policy, "param x { from 2024-02-01 = 1 cites s }")
    assert found == [("dated-gap", "`x` has no value from 2024-01-01 (the policy's start) to the day before "
                                   "2024-02-01")]


def test_a_date_in_a_message_hole_is_checked_too(make_policy):
    found = codes(make_policy, RULE.format('when line.units > 1 deny') .replace('"m"', '"{2024-00-01}"'))
    assert found == [("bad-date", "2024-00-01 is not a calendar date")]


def test_every_problem_is_reported_in_one_run(make_policy):
    found = codes(make_policy, 'rule r { title "R" cites nowhere when line.minuts > 1 deny }')
    assert [c for c, _ in found] == ["unknown-source", "missing-entry", "unknown-field"]


def test_a_negative_parameter_is_a_number_like_any_other(make_policy):
    loaded = make_policy("param offset: int = -1 cites s\nparam rate: money = -$0.50 cites s")
    assert loaded.checked.param_types == {"offset": "int", "rate": "money"}


# ------------------------------------------------------------------ data tables


def table_policy(tmp_path: Path, data_name: str, data: str, make_policy, column: str):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / data_name).write_text(data, encoding="utf-8")
    return make_policy(f'table t from "data/{data_name}" key code cites s\n'
                       f'let flag = t[line.code].{column}\n', raise_on_error=False)


def test_a_yaml_column_of_true_and_false_is_a_boolean_column(tmp_path, make_policy):
    loaded = table_policy(tmp_path, "t.yaml", "- {code: '97550', timed: true}\n- {code: '97552', timed: false}\n",
                          make_policy, "timed")
    table = loaded.checked.tables["t"]
    assert table.columns["timed"] == BOOL
    assert table.lookup("97552")["timed"] is False
    assert loaded.checked.let_types["flag"] == BOOL


def test_a_boolean_column_may_drive_a_condition(tmp_path, make_policy):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.yaml").write_text("- {code: '97550', timed: true}\n", encoding="utf-8")
    loaded = make_policy('table t from "data/t.yaml" key code cites s\n'
                         + RULE.format("when t[line.code].timed deny"), raise_on_error=False)
    assert loaded.checked.errors == []


def test_a_yaml_column_mixing_booleans_and_text_is_text_throughout(tmp_path, make_policy):
    loaded = table_policy(tmp_path, "t.yaml", "- {code: '97550', note: true}\n- {code: '97552', note: maybe}\n",
                          make_policy, "note")
    table = loaded.checked.tables["t"]
    assert table.columns["note"] == STRING
    assert table.lookup("97550")["note"] == "true"


def test_an_unknown_table_column_is_located_with_the_columns_it_has(tmp_path, make_policy):
    loaded = table_policy(tmp_path, "t.csv", "code,total\n97550,1.59\n", make_policy, "totl")
    (d,) = loaded.checked.errors
    assert (d.code, d.message) == ("unknown-column", "table `t` has no column `totl`")
    assert d.hint == "did you mean `total`?"


@pytest.mark.parametrize(("condition", "hint"), [
    ('line.modifiers == "GP"', 'to ask whether a collection holds a value, use `in`: "GP" in line.modifiers'),
    ('line.date_of_service > "2024-01-01"', "write a date without quotes: 2024-01-01"),
    ("line.code == 97550", 'quote codes as strings ("97550")'),
])
def test_a_mismatched_comparison_hints_at_what_was_meant(make_policy, condition, hint):
    loaded = make_policy(RULE.format(f"when {condition} deny"), raise_on_error=False)
    (d,) = [d for d in loaded.diagnostics if d.code == "type"]
    assert d.message.startswith("cannot compare") and d.hint == hint


def test_a_typo_in_a_column_of_numbers_is_reported_at_its_cell_and_nowhere_else(tmp_path, make_policy):
    # Left as text, "1.5x9" would turn the column into text and fail every line of the policy that reads it.
    loaded = table_policy(tmp_path, "t.csv", "code,total\n97550,1.59\n97551,0.79\n97552,0.6x7\n", make_policy,
                          "total + 1")
    (d,) = loaded.checked.errors
    assert (Path(d.source_name).name, d.span.line, d.span.column, d.span.end_column) == ("t.csv", 4, 7, 12)
    assert d.message == "column `total` holds numbers, but '0.6x7' is not one"
    assert loaded.checked.tables["t"].columns["total"] == NUMBER


@pytest.mark.parametrize("cell", ["$1.59", "1,59"])
def test_a_number_written_with_a_dollar_or_a_decimal_comma_is_a_typo_too(tmp_path, make_policy, cell):
    loaded = table_policy(tmp_path, "t.csv", f'code,total\n97550,"{cell}"\n97551,0.79\n97552,0.67\n', make_policy,
                          "total")
    assert [d.message for d in loaded.checked.errors] == [f"column `total` holds numbers, but '{cell}' is not one"]


def test_a_column_of_codes_some_of_which_look_like_numbers_stays_text(tmp_path, make_policy):
    loaded = table_policy(tmp_path, "t.csv", "code,primary\n97551,97550\nG0540,G0539\nG0542,G0541\n", make_policy,
                          "primary")
    assert loaded.checked.errors == [] and loaded.checked.tables["t"].columns["primary"] == STRING


def test_a_problem_in_a_yaml_row_points_at_the_line_the_row_starts_on(tmp_path, make_policy):
    loaded = table_policy(tmp_path, "t.yaml", "# rates\n- code: '97550'\n  total: 1.59\n- total: 0.79\n",
                          make_policy, "total")
    (d,) = loaded.checked.errors
    assert (d.message, d.span.line) == ("row without a `code`", 4)


def with_effective(tmp_path, effective: str, body: str):
    """The test policy with another `effective` entry: (its text, the loaded policy)."""
    from conftest import HEADER
    from ctsdsl.engine.loader import load_text
    text = HEADER.replace("effective 2024-01-01 to 2024-12-31", f"effective {effective}") + body
    return text, load_text(text, tmp_path / "p.cts", raise_on_error=False)


def test_a_policy_without_an_end_date_needs_its_last_dated_value_open_too(tmp_path):
    # Otherwise every claim after the last value's end stops with an evaluation error.
    text, loaded = with_effective(tmp_path, "2024-01-01", "param cf { from 2024-01-01 to 2024-12-31 = $33 cites s }\n")
    (d,) = loaded.checked.errors
    assert (d.code, d.message) == ("dated-gap", "`cf` has no value after 2024-12-31, but the policy has no end date")
    assert with_effective(tmp_path, "2024-01-01", "param cf { from 2024-01-01 = $33 cites s }\n")[1].checked.errors == []


def test_a_data_file_date_must_be_a_real_day_in_a_dated_column_and_in_a_date_column(tmp_path, make_policy):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("code,effective_from,ends\n97550,2024-02-30,2024-12-31\n"
                                             "97551,2024-01-01,2024-13-01\n", encoding="utf-8")
    loaded = make_policy('table t from "data/t.csv" key code dated effective_from cites s\n', raise_on_error=False)
    assert sorted((d.span.line, d.message) for d in loaded.checked.errors) == [
        (2, "row '97550' has no valid `effective_from` date (YYYY-MM-DD)"),
        (3, "2024-13-01 in column `ends` is not a calendar date")]


def test_a_yaml_table_reads_cells_as_a_csv_one_does(tmp_path, make_policy):
    # A bare 02 is a code, as in CSV (YAML alone would make it the number 2), and a decimal is exact.
    loaded = table_policy(tmp_path, "t.yaml", "- {code: '97550', pos: 02, amount: 123456789012.3456789}\n"
                                              "- {code: '97551', pos: 07, amount: 1.59}\n", make_policy, "pos")
    table = loaded.checked.tables["t"]
    assert (table.columns["pos"], table.lookup("97550")["pos"]) == (STRING, "02")
    assert (table.columns["amount"], table.lookup("97550")["amount"]) == (NUMBER, Decimal("123456789012.3456789"))


# ------------------------------------------------------------------ the header's dates


def test_a_policy_date_that_is_no_date_is_reported_at_effective_and_gaps_are_not_measured_from_it(tmp_path):
    text, loaded = with_effective(tmp_path, "2024-01-01 to 2024-13-31",
                                  "param cf { from 2024-01-01 to 2024-12-31 = $33 cites s }\n")
    (d,) = loaded.checked.errors
    assert (d.code, d.message) == ("bad-date", "2024-13-31 is not a calendar date")
    assert (d.span.line, d.span.column) == (text.splitlines().index("  effective 2024-01-01 to 2024-13-31") + 1, 3)


def test_inherited_outside_an_override_says_where_it_may_be_used(make_policy):
    (d,) = make_policy(RULE.format("when inherited deny"), raise_on_error=False).checked.errors
    assert d.message == "`inherited` has nothing to stand for here"
    assert "only available inside an `override`" in d.hint


# ------------------------------------------------------------------ text columns met as numbers


def column_error(tmp_path, make_policy, csv: str, condition: str):
    """The one error of a rule reading column n of table t (data/t.csv holding `csv`) in `condition`."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text(csv, encoding="utf-8")
    loaded = make_policy('table t from "data/t.csv" key code cites s\n'
                         + RULE.format(f"applies to line when {condition} deny"), raise_on_error=False)
    (d,) = loaded.checked.errors
    return d


def test_a_column_made_text_by_one_cell_says_which_cell_when_compared_with_a_number(tmp_path, make_policy):
    d = column_error(tmp_path, make_policy, "code,n\n97550,3\n97551,n/a\n97552,2\n", "t[line.code].n > 2")
    assert d.message == "cannot compare a string with an int"
    assert d.hint == ("column `n` of table `t` was read as text, because one of its cells is not a number: 'n/a' in "
                      "row '97551' (t.csv line 3); a column is numbers only if every cell is one")


def test_a_column_of_text_used_in_arithmetic_says_it_holds_text(tmp_path, make_policy):
    d = column_error(tmp_path, make_policy, "code,n\n97550,a\n97551,b\n", "t[line.code].n + 1 > 2")
    assert (d.message, d.hint) == ("`+` needs numbers, not a string", "column `n` of table `t` holds text, not "
                                   "numbers (t.csv)")


def test_a_quantifier_variable_may_not_take_a_tables_name(tmp_path, make_policy):
    loaded = table_policy(tmp_path, "t.csv", "code,x\n97550,1\n", make_policy, "x")
    assert loaded.checked.errors == []
    body = 'table t from "data/t.csv" key code cites s\n' + \
        'rule r { title "R" cites s applies to line when count(t in claim.lines) > 1 deny message "m" }\n'
    loaded = make_policy(body, raise_on_error=False)
    assert [(d.code, d.message) for d in loaded.checked.errors] == [
        ("shadow", "`t` already names something; choose another variable name")]


def test_an_all_digit_code_column_compared_with_a_code_points_to_as_text(tmp_path, make_policy):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "t.csv").write_text("code,primary\n97550,\n97551,97550\n", encoding="utf-8")
    def compare(code: str) -> str:
        return ('table t from "data/t.csv" key code cites s\n'
                f'rule r {{ title "R" cites s applies to line when line.code == {code} deny message "m" }}\n')
    (d,) = make_policy(compare("t[line.code].primary"), raise_on_error=False).checked.errors
    assert "was read as numbers, since every cell is one" in d.hint and "as_text(...)" in d.hint
    assert make_policy(compare("as_text(t[line.code].primary)")).checked.errors == []


def test_an_override_in_a_policy_without_a_parent_is_one_error_not_a_flood(make_policy):
    loaded = make_policy("override rule r { when true }", raise_on_error=False)
    assert [d.code for d in loaded.checked.diagnostics] == ["override-without-parent"]
