"""The parser: every construct of the language becomes the expected node, and syntax errors
are located, name what was expected in words, and show the line with a caret."""

from __future__ import annotations

import json
from decimal import Decimal

import lark
import pytest

from ctsdsl.language import nodes as n
from ctsdsl.language import parser
from ctsdsl.errors import PolicySyntaxError
from ctsdsl.language.parser import parse, parse_expr

from conftest import ROOT


def lit(value, kind):
    return n.Literal(value, kind)


def name(x):
    return n.Name(x)


def attr(obj, field):
    return n.Attribute(obj if isinstance(obj, n.Node) else name(obj), field)


def binary(op, left, right):
    return n.Binary(op, left, right)


def syntax_error(text: str):
    with pytest.raises(PolicySyntaxError) as info:
        parse(text, "broken.cts")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "syntax"
    return diagnostic


# ------------------------------------------------------------------ the policy header


def test_a_policy_header_holds_every_entry():
    header = parse('''
        policy "medicare-cts-2025" {
          title "Medicare CTS"
          payer "medicare"
          version "2025.1"
          effective 2025-01-01 to 2025-12-31
          extends "medicare-cts-2024"
          governs "97550", "97551"
          changes "New " "codes."
          note "Two " "strings."
        }''').header
    assert header == n.PolicyHeader(
        "medicare-cts-2025", title="Medicare CTS", payer="medicare", version="2025.1",
        effective_from="2025-01-01", effective_to="2025-12-31", extends="medicare-cts-2024",
        governs=("97550", "97551"), changes="New codes.", note="Two strings.")


def test_an_open_ended_policy_has_no_end_date():
    header = parse('policy "p" { effective 2024-01-01 }').header
    assert (header.effective_from, header.effective_to) == ("2024-01-01", None)


def test_a_header_entry_given_twice_is_left_for_the_checker_to_report():
    from ctsdsl.language.parser import parse_with_problems
    _, problems = parse_with_problems('policy "p" { payer "a" payer "b" }')
    assert [p.code for p in problems] == ["duplicate-entry"]
    assert problems[0].span.column == 24  # the second `payer`


# ------------------------------------------------------------------ sources, params, tables, lets


def test_a_source_holds_title_url_date_confidence_and_note():
    (source,) = parse('source cms { title "T" url "https://x" date 2024-03-29 confidence likely note "n" }').items
    assert source == n.Source("cms", title="T", url="https://x", date="2024-03-29", confidence="likely", note="n")


def test_a_plain_parameter_has_a_type_a_value_and_citations():
    (param,) = parse("param cf: money = $32.7442 cites a, b").items
    assert param == n.Param("cf", "money", lit(Decimal("32.7442"), "money"), (),
                            (n.Citation("a"), n.Citation("b")))


@pytest.mark.parametrize(("text", "value", "kind"), [
    ("2", 2, "int"),
    ("0.85", Decimal("0.85"), "number"),
    ("$5", Decimal("5"), "money"),
    ('"GP"', "GP", "string"),
    ("2024-01-01", "2024-01-01", "date"),
    ("true", True, "bool"),
    ("false", False, "bool"),
])
def test_a_parameter_value_may_be_any_literal(text, value, kind):
    (param,) = parse(f"param x = {text}").items
    assert param.value == lit(value, kind)
    assert param.type_name is None


@pytest.mark.parametrize(("text", "value", "kind"), [
    ("-1", -1, "int"),
    ("-0.5", Decimal("-0.5"), "number"),
    ("-$2.50", Decimal("-2.50"), "money"),
])
def test_a_parameter_value_may_be_negative(text, value, kind):
    (param,) = parse(f"param x = {text}").items
    assert param.value == lit(value, kind)


def test_a_dated_parameter_value_may_be_negative():
    (param,) = parse("param x { from 2024-01-01 = -1 }").items
    assert param.dated[0].value == lit(-1, "int")


def test_a_set_parameter_lists_its_members():
    (param,) = parse('param pos: set = {"02", "10"}').items
    assert param.value == n.SetLiteral((lit("02", "string"), lit("10", "string")))


def test_a_dated_parameter_holds_its_values_in_file_order():
    (param,) = parse('''param cf: money {
        from 2024-01-01 to 2024-03-08 = $32.7442 cites a
        from 2024-03-09 = $33.2875 cites b
    }''').items
    assert param.value is None
    assert param.dated == (
        n.DatedValue("2024-01-01", "2024-03-08", lit(Decimal("32.7442"), "money"), (n.Citation("a"),)),
        n.DatedValue("2024-03-09", None, lit(Decimal("33.2875"), "money"), (n.Citation("b"),)),
    )


def test_a_table_names_its_file_key_date_column_and_sources():
    (table,) = parse('table rvu from "data/rvu.csv" key code dated effective_from cites a').items
    assert table == n.Table("rvu", "data/rvu.csv", "code", "effective_from", (n.Citation("a"),))


def test_a_let_names_an_expression():
    (let,) = parse("let facility = claim.place_of_service in facility_pos").items
    assert let == n.Let("facility", binary("in", attr("claim", "place_of_service"), name("facility_pos")))


# ------------------------------------------------------------------ rules and fees


def test_a_rule_holds_every_entry():
    (rule,) = parse('''
        rule too_long {
          title "Too long"
          cites a, b
          applies to line where line.code == "97550"
          when line.minutes > 60
          reduce units to 2
          reason CARC 16, RARC N362
          message "{line.minutes} minutes"
          note "why"
        }''').items
    assert rule.id == "too_long" and rule.title == "Too long" and rule.note == "why"
    assert rule.cites == (n.Citation("a"), n.Citation("b"))
    assert (rule.scope, rule.where) == ("line", binary("==", attr("line", "code"), lit("97550", "string")))
    assert rule.when == binary(">", attr("line", "minutes"), lit(60, "int"))
    assert rule.outcome == n.Outcome("reduce", lit(2, "int"))
    assert rule.reasons == (n.ReasonCode("CARC", "16"), n.ReasonCode("RARC", "N362"))
    assert rule.message == n.Template((attr("line", "minutes"), " minutes"))


@pytest.mark.parametrize("outcome", ["deny", "warn", "info"])
def test_a_rule_outcome_is_deny_warn_or_info(outcome):
    (rule,) = parse(f'rule r {{ {outcome} }}').items
    assert rule.outcome == n.Outcome(outcome)


def test_a_rule_applies_to_each_line_unless_it_says_claim():
    line_rule, claim_rule = parse("rule a { deny } rule b { applies to claim deny }").items
    assert (line_rule.scope, line_rule.where) == ("line", None)
    assert claim_rule.scope == "claim"


def test_a_rule_with_two_outcomes_is_left_for_the_checker_to_report():
    from ctsdsl.language.parser import parse_with_problems
    _, problems = parse_with_problems("rule r { deny warn }")
    assert [p.code for p in problems] == ["duplicate-entry"]
    assert "more than one outcome" in problems[0].message


def test_a_fee_has_a_filter_and_an_amount():
    (fee,) = parse('fee f { title "F" cites a applies to line where fee_known amount $10 * units_allowed }').items
    assert fee == n.Fee("f", title="F", cites=(n.Citation("a"),), where=name("fee_known"),
                        amount=binary("*", lit(Decimal("10"), "money"), name("units_allowed")))


def test_override_marks_the_item_it_replaces():
    param, rule = parse("override param x = 1 cites a  override rule r { deny }").items
    assert param.override and param.name == "x"
    assert rule.override and rule.id == "r"


def test_disable_names_a_rule_a_reason_and_sources():
    (disable,) = parse('disable old_rule because "no longer " "applies" cites a').items
    assert disable == n.Disable("old_rule", "no longer applies", (n.Citation("a"),))


def test_comments_and_layout_do_not_change_the_tree():
    spread = parse('''
        # a comment
        rule r {        # another
          deny
        }''')
    assert spread == parse("rule r { deny }")


# ------------------------------------------------------------------ expressions


@pytest.mark.parametrize(("text", "tree"), [
    ("a or b and c", binary("or", name("a"), binary("and", name("b"), name("c")))),
    ("not a and b", binary("and", n.Unary("not", name("a")), name("b"))),
    ("a + b * c", binary("+", name("a"), binary("*", name("b"), name("c")))),
    ("(a + b) * c", binary("*", binary("+", name("a"), name("b")), name("c"))),
    ("a - b - c", binary("-", binary("-", name("a"), name("b")), name("c"))),
    ("a / b", binary("/", name("a"), name("b"))),
    ("-a * b", binary("*", n.Unary("-", name("a")), name("b"))),
    ("a + 1 > b", binary(">", binary("+", name("a"), lit(1, "int")), name("b"))),
])
def test_operators_bind_by_precedence(text, tree):
    assert parse_expr(text) == tree


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">=", "in", "not in"])
def test_every_comparison_parses(op):
    assert parse_expr(f"a {op} b") == binary(op, name("a"), name("b"))


def test_field_access_index_and_calls_chain():
    assert parse_expr("rvu[line.code].total_nf") == attr(n.Index(name("rvu"), attr("line", "code")), "total_nf")
    assert parse_expr("round(x, 2)") == n.Call("round", (name("x"), lit(2, "int")))
    assert parse_expr("f()") == n.Call("f", ())


def test_a_conditional_takes_everything_to_its_right():
    assert parse_expr("if a then 1 else 2 + 3") == n.Conditional(
        name("a"), lit(1, "int"), binary("+", lit(2, "int"), lit(3, "int")))


@pytest.mark.parametrize("kind", ["any", "all", "none", "count"])
def test_quantifiers_range_over_a_collection_with_a_filter(kind):
    assert parse_expr(f'{kind}(o in claim.lines where o.code == "97550")') == n.Quantifier(
        kind, "o", attr("claim", "lines"), binary("==", attr("o", "code"), lit("97550", "string")))


def test_count_without_a_filter_counts_everything():
    assert parse_expr("count(o in claim.lines)") == n.Quantifier("count", "o", attr("claim", "lines"), None)


def test_sum_adds_a_value_over_a_collection():
    assert parse_expr("sum(o.units for o in claim.lines where o.units > 1)") == n.Quantifier(
        "sum", "o", attr("claim", "lines"), binary(">", attr("o", "units"), lit(1, "int")), attr("o", "units"))


def test_a_date_literal_is_not_a_subtraction():
    assert parse_expr("2024-01-01") == lit("2024-01-01", "date")


def test_a_message_template_splits_text_and_holes():
    (rule,) = parse('rule r { message "{line.units} units {{literal}} of " "{line.code}" }').items
    assert rule.message.parts == (attr("line", "units"), " units {literal} of ", attr("line", "code"))


def test_a_message_hole_keeps_its_position_in_the_file():
    (rule,) = parse('rule r {\n  message "x {line.units}"\n}').items
    hole = rule.message.parts[1]
    assert (hole.span.line, hole.span.column) == (2, 15)


def test_spans_locate_nodes_but_do_not_take_part_in_equality():
    (rule,) = parse("\n\nrule r { deny }").items
    assert (rule.span.line, rule.span.column) == (3, 1)
    assert rule == parse("rule r { deny }").items[0]


# ------------------------------------------------------------------ syntax errors


def test_a_syntax_error_names_the_file_line_column_and_the_expected_tokens_in_words():
    d = syntax_error('param x = \nrule r { deny }')
    assert (d.source_name, d.span.line, d.span.column) == ("broken.cts", 2, 1)
    assert d.message.startswith("unexpected `rule`; expected")
    assert "a whole number" in d.message and "a quoted string" in d.message
    assert "NAME" not in d.message and "INT" not in d.message


def test_a_misspelt_keyword_gets_a_did_you_mean_hint():
    d = syntax_error("rule r {\n  tilte \"x\"\n}")
    assert (d.span.line, d.span.column) == (2, 3)
    assert d.hint == "did you mean `title`?"


def test_a_where_on_a_claim_rule_is_explained():
    d = syntax_error('rule r {\n  applies to claim where claim.payer == "x"\n  deny\n}')
    assert (d.span.line, d.span.column) == (2, 20)
    assert "put the condition in `when`" in d.hint


def test_a_single_equals_in_a_condition_is_explained():
    d = syntax_error("rule r { when line.units = 2 deny }")
    assert "unexpected `=`" in d.message
    assert "`==`" in d.hint


def test_an_unclosed_block_is_reported_at_the_end_of_the_file():
    d = syntax_error("rule r {\n  deny\n")
    assert "unexpected end of file" in d.message and "'}'" in d.message
    assert d.span.line == 2
    assert "not closed" in d.hint


def test_an_unterminated_string_is_reported_where_it_starts():
    d = syntax_error('rule r {\n  title "open\n}')
    assert d.message == "unterminated string"
    assert (d.span.line, d.span.column) == (2, 9)


@pytest.mark.parametrize(("char", "hint"), [("&", "write `and`"), ("|", "write `or`"),
                                             ("'", 'strings use double quotes: "..."')])
def test_a_character_from_another_language_gets_a_hint(char, hint):
    d = syntax_error(f"let x = a {char} b")
    assert "unexpected character" in d.message
    assert d.hint == hint


@pytest.mark.parametrize("literal", ["$١٠٠", "１00", "1٠"])
def test_a_number_written_in_digits_other_than_ascii_is_a_syntax_error_naming_the_digit(literal):
    # Issue 16: `\d` in the grammar let $١٠٠ (Arabic-Indic digits) pay $100.
    d = syntax_error(f"let x = {literal}")
    assert "numbers are written in the ASCII digits 0-9" in d.hint
    assert "DIGIT" in d.hint


@pytest.mark.parametrize("literal", ["$" + "9" * 40, "1000000000000000", "-1000000000000000.5"])
def test_a_number_literal_of_a_thousand_million_million_or_more_is_refused_where_it_stands(literal):
    # Past it, exact cents would need more than decimal arithmetic's 28 digits (exit 70 before).
    with pytest.raises(PolicySyntaxError) as info:
        parse(f"let x = {literal}", "big.cts")
    (d,) = info.value.diagnostics
    assert (d.code, d.span.line) == ("too-large", 1)
    assert "numbers must be below 1,000,000,000,000,000" in d.message


def test_the_largest_amount_a_literal_may_be_is_read_exactly():
    (let,) = parse("let x = $999999999999999.99").items
    assert let.expr == lit(Decimal("999999999999999.99"), "money")


def test_a_policy_with_cr_only_line_ends_is_located_line_by_line():
    # Lark counts lines by LF: every location in a CR-only file was line 1.
    d = syntax_error("# a comment\rlet x = 1\rlet y = = 2\r")
    assert (d.span.line, d.span.column) == (3, 9)


def test_a_comment_in_a_cr_only_file_ends_at_its_line_not_at_the_end_of_the_file():
    assert [item.name for item in parse("# a comment\rlet x = 1\r\rlet y = 2\r").items] == ["x", "y"]


def test_a_bad_message_hole_is_located_inside_the_string():
    d = syntax_error('rule r {\n  message "units: {line.}"\n}')
    assert "in a message hole" in d.message
    assert d.span.line == 2 and d.span.column == 20


@pytest.mark.parametrize(("message", "column", "what"), [
    ('"{line.minutes minutes"', 12, "an unclosed `{`"),
    ('"line.minutes} minutes"', 24, "a `}` that closes no hole"),
    ('"{line.units} of {line.code" "}"', 28, "an unclosed `{`"),  # a hole may not span two strings
])
def test_a_lone_brace_in_a_message_is_an_error_at_the_brace(message, column, what):
    # A lone brace is a hole left open or a literal brace not doubled: shown as text, either would mislead.
    d = syntax_error(f"rule r {{\n  message {message}\n}}")
    assert d.message == f"{what} in a message"
    assert (d.span.line, d.span.column) == (2, column)
    assert "{{ or }}" in d.hint


def test_a_syntax_error_renders_the_line_with_a_caret():
    with pytest.raises(PolicySyntaxError) as info:
        parse("rule r {\n  when line.units = 2\n}", "broken.cts")
    assert str(info.value).splitlines()[:3] == [
        "broken.cts:2:19: error: " + info.value.diagnostics[0].message,
        "    2 |   when line.units = 2",
        "      |                   ^",
    ]


def test_a_negative_parameter_survives_the_formatter():
    from ctsdsl.language.formatter import format_policy
    text = "param a = -1\nparam b: money = -$2.50\nparam c { from 2024-01-01 = -0.5 }\n"
    assert parse(format_policy(text)) == parse(text)


# ----------------------------------------------------------------- prebuilt parse tables

def test_the_prebuilt_parse_tables_are_for_the_current_grammar():
    saved = json.loads(parser._TABLES.read_text(encoding="utf-8"))
    assert saved["grammar_sha256"] == parser._grammar_digest(), \
        'grammar.lark changed: run python -c "import ctsdsl.language.parser as p; p.write_tables()"'


def test_the_prebuilt_parser_parses_and_fails_exactly_as_a_freshly_built_one():
    saved = json.loads(parser._TABLES.read_text(encoding="utf-8"))
    if saved["lark"] != lark.__version__:
        pytest.skip(f"the tables are for Lark {saved['lark']}, this is {lark.__version__}: they are not used "
                    '(regenerate them with python -c "import ctsdsl.language.parser as p; p.write_tables()")')
    fresh = parser._build()
    prebuilt = parser._lark()
    assert prebuilt.source_path == "<deserialized>"  # the tables were used, not rebuilt
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "policies").rglob("*.cts"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests" / "fixtures").rglob("*.cts"))]
    texts += ['rule r {\n  tilte "x"\n}', "param x = ", 'rule r { when line.units = 2 deny }']
    for text in texts:
        outcomes = []
        for lark_parser in (fresh, prebuilt):
            try:
                outcomes.append(lark_parser.parse(text, "start"))
            except Exception as exc:  # noqa: BLE001 - the failure itself is what is compared
                expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
                outcomes.append((type(exc).__name__, getattr(exc, "line", None), getattr(exc, "column", None),
                                 sorted(expected)))
        assert outcomes[0] == outcomes[1]
    assert fresh.parse("a + b * 2", "expr") == prebuilt.parse("a + b * 2", "expr")


def test_stale_or_missing_tables_only_cost_the_build(tmp_path, monkeypatch):
    stale = tmp_path / "tables.json"
    stale.write_text(json.dumps({"grammar_sha256": "0" * 64, "lark": "0", "data": {}, "memo": {}}))
    for tables in (stale, tmp_path / "missing.json"):
        monkeypatch.setattr(parser, "_TABLES", tables)
        parser._lark.cache_clear()
        try:
            assert parser._lark().source_path != "<deserialized>"
            assert parse('rule r { deny }').of_kind(n.Rule)[0].outcome.kind == "deny"
        finally:
            parser._lark.cache_clear()


def test_a_text_parsed_again_under_the_same_name_is_handed_out_again_with_its_problems():
    # Choosing a policy parses each file for its header; loading the chosen one must not parse it again.
    text = 'policy "p" { payer "a" payer "b" }\n'
    first, problems = parser.parse_with_problems(text, "p.cts")
    problems.clear()  # the caller's list: the next caller still gets every problem
    again, problems_again = parser.parse_with_problems(text, "p.cts")
    assert again is first and len(problems_again) == 1
    elsewhere, _ = parser.parse_with_problems(text, "q.cts")
    assert elsewhere is not first and elsewhere.source_name == "q.cts"


def test_the_parses_kept_are_few():
    for i in range(3 * parser._MAX_PARSED):
        parser.parse_with_problems(f'policy "p{i}" {{ payer "a" }}\n', "p.cts")
    assert len(parser._PARSED) <= parser._MAX_PARSED
