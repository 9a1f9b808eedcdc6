"""The formatter: one canonical layout, every comment kept in place, meaning unchanged.

Each bundled policy and each messy fixture in tests/fixtures/fmt/ is checked for the three
invariants (idempotent, comments kept in order, `parse(format(x)) == parse(x)`); the fixtures
also have a golden file, tests/fixtures/fmt/formatted/NAME.cts. Hypothesis then generates
random expression trees and random re-spacings of the bundled policies.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctsdsl.language import nodes as n
from ctsdsl.cli import main
from ctsdsl.errors import PolicySyntaxError
from ctsdsl.language.formatter import find_comments, format_expr, format_policy, wrap_expr
from ctsdsl.language.parser import parse, parse_expr

from conftest import FIXTURES, ROOT

BUNDLED = sorted((ROOT / "policies").rglob("*.cts"))
MESSY = sorted((FIXTURES / "fmt").glob("*.cts"))
ALL = BUNDLED + MESSY


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def comment_texts(text: str) -> list[str]:
    return [c.text for c in find_comments(text)]


# ---------------------------------------------------------------- the invariants, on real files

@pytest.mark.parametrize("path", ALL, ids=_id)
def test_formatting_twice_changes_nothing_the_second_time(path):
    once = format_policy(path.read_text(encoding="utf-8"))
    assert format_policy(once) == once


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_every_comment_survives_formatting_in_its_original_order(path):
    text = path.read_text(encoding="utf-8")
    assert comment_texts(format_policy(text)) == comment_texts(text)


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_formatting_does_not_change_what_the_policy_parses_to(path):
    text = path.read_text(encoding="utf-8")
    assert parse(format_policy(text)) == parse(text)


@pytest.mark.parametrize("path", MESSY, ids=_id)
def test_a_messy_policy_formats_to_its_golden_file(path):
    expected = (path.parent / "formatted" / path.name).read_text(encoding="utf-8")
    assert format_policy(path.read_text(encoding="utf-8")) == expected


@pytest.mark.parametrize("path", BUNDLED, ids=_id)
def test_the_bundled_policies_are_kept_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_policy(text) == text, f"run `ctsdsl fmt {_id(path)}`"


def test_a_comment_after_code_stays_on_the_line_of_that_code():
    text = 'param a = 1 cites s  # the first\nparam b = 2 cites s\n'
    assert format_policy(text).splitlines()[0] == "param a = 1 cites s  # the first"


def test_a_comment_after_a_one_line_block_stays_after_its_closing_brace():
    text = 'source s { title "T" url "u" }  # why\n'
    assert format_policy(text).splitlines()[-1] == "}  # why"


def test_a_long_message_is_split_into_strings_that_join_to_the_same_text():
    words = " ".join(f"word{i}" for i in range(40))
    text = f'rule r {{ deny message "{words}" }}\n'
    out = format_policy(text)
    assert max(len(line) for line in out.splitlines()) <= 100
    assert parse(out) == parse(text)


SOURCES = "".join(f'source source_number_{i} {{\n  title "t"\n}}\n\n' for i in range(12))


def test_a_disable_whose_cites_would_overflow_puts_them_on_a_line_under_the_reason():
    text = SOURCES + ('disable same_day_individual_and_group because "Acme does not use this warning." '
                      'cites source_number_0, source_number_1  # why\n')
    out = format_policy(text)
    assert out.endswith('disable same_day_individual_and_group because "Acme does not use this warning."\n'
                        '                                              cites source_number_0, source_number_1'
                        '  # why\n')
    assert parse(out) == parse(text) and format_policy(out) == out


def test_a_long_disable_wraps_its_reason_and_its_cites_within_the_width():
    words = " ".join(f"word{i}" for i in range(40))
    cited = ", ".join(f"source_number_{i}" for i in range(12))
    text = SOURCES + f'disable same_day_individual_and_group because "{words}" cites {cited}\n'
    out = format_policy(text)
    assert max(len(line) for line in out.splitlines()) <= 100
    assert parse(out) == parse(text) and format_policy(out) == out


def test_a_form_feed_inside_a_string_is_not_taken_for_a_line_break():
    text = 'let v0 = "\x0c\x0c".a\nrule r0 { applies to line when v0 warn message "m" }  # c0\n'
    once = format_policy(text)
    assert format_policy(once) == once and once.endswith("}  # c0\n")


def test_an_empty_file_stays_empty_and_a_file_of_comments_keeps_them():
    assert format_policy("") == format_policy("\n\n  \n") == ""
    assert format_policy("# only a note\n\n\n# and another\n") == "# only a note\n\n# and another\n"


def test_a_file_that_does_not_parse_is_not_formatted():
    with pytest.raises(PolicySyntaxError):
        format_policy('rule r { titel "x" }\n')


# ---------------------------------------------------------------- the command

def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    target.write_text((FIXTURES / "fmt" / name).read_text(encoding="utf-8"), encoding="utf-8")
    return target


def test_fmt_rewrites_a_file_in_place_and_leaves_no_temporary_file(tmp_path, capsys):
    path = _copy(tmp_path, "messy_rules.cts")
    assert main(["fmt", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == (FIXTURES / "fmt" / "formatted" / "messy_rules.cts").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["messy_rules.cts"]
    assert "reformatted 1" in capsys.readouterr().err


def test_fmt_check_writes_nothing_lists_the_file_and_exits_1(tmp_path, capsys):
    path = _copy(tmp_path, "messy_rules.cts")
    before = path.read_text(encoding="utf-8")
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    assert path.read_text(encoding="utf-8") == before
    assert f"{path} would be reformatted" in capsys.readouterr().out


def test_fmt_check_passes_on_a_formatted_file(tmp_path):
    path = tmp_path / "ok.cts"
    path.write_text((FIXTURES / "fmt" / "formatted" / "messy_rules.cts").read_text(), encoding="utf-8")
    assert main(["fmt", "--check", str(path)]) == 0


@pytest.mark.parametrize("encoding, newline", [("utf-8-sig", "\n"), ("utf-8", "\r\n")])
def test_a_byte_order_mark_or_crlf_is_not_canonical_and_fmt_writes_plain_utf8_with_lf(tmp_path, encoding, newline):
    formatted = (FIXTURES / "fmt" / "formatted" / "messy_rules.cts").read_text(encoding="utf-8")
    path = tmp_path / "ok.cts"
    path.write_text(formatted, encoding=encoding, newline=newline)
    assert main(["fmt", "--check", str(path)]) == 1
    assert main(["fmt", str(path)]) == 0
    assert path.read_bytes() == formatted.encode("utf-8")
    assert main(["fmt", "--check", str(path)]) == 0


def test_fmt_diff_prints_a_unified_diff_writes_nothing_and_exits_1_like_check(tmp_path, capsys):
    path = _copy(tmp_path, "overlay_items.cts")
    before = path.read_text(encoding="utf-8")
    assert main(["fmt", "--diff", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- {path}\n+++ {path} (formatted)\n@@")
    assert "+override rule short {" in out
    assert path.read_text(encoding="utf-8") == before


def test_fmt_diff_of_a_formatted_file_prints_nothing_and_exits_0(tmp_path, capsys):
    path = tmp_path / "ok.cts"
    path.write_text((FIXTURES / "fmt" / "formatted" / "messy_rules.cts").read_text(), encoding="utf-8")
    assert main(["fmt", "--diff", str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_fmt_diff_says_line_ends_change_instead_of_showing_lines_that_look_the_same(tmp_path, capsys):
    formatted = (FIXTURES / "fmt" / "formatted" / "messy_rules.cts").read_text(encoding="utf-8")
    path = tmp_path / "ok.cts"
    path.write_text(formatted, encoding="utf-8-sig", newline="\r\n")
    assert main(["fmt", "--diff", str(path)]) == 1
    out = capsys.readouterr().out
    lines = formatted.count("\n")
    assert out == f"{path}: the byte-order mark is dropped; {lines} CRLF line end(s) become LF\n"


def test_fmt_diff_of_crlf_and_a_real_change_shows_only_the_real_change(tmp_path, capsys):
    path = tmp_path / "p.cts"
    path.write_bytes(b'source s {\r\n  title "t" }\r\n')
    assert main(["fmt", "--diff", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 2 CRLF line end(s) become LF\n--- {path}\n")
    assert "\r" not in out and ' source s {\n-  title "t" }\n+  title "t"\n+}\n' in out


def test_fmt_reports_a_syntax_error_with_its_location_and_still_formats_the_other_files(tmp_path, capsys):
    bad = tmp_path / "bad.cts"
    bad.write_text('policy "x" {\n  titel "x"\n}\n', encoding="utf-8")
    good = _copy(tmp_path, "messy_rules.cts")
    assert main(["fmt", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:3: error: unexpected name `titel`" in err
    assert "Traceback" not in err
    assert good.read_text(encoding="utf-8").startswith('# A policy written in a hurry')
    assert bad.read_text(encoding="utf-8") == 'policy "x" {\n  titel "x"\n}\n'


def test_fmt_names_a_missing_file_and_exits_1(tmp_path, capsys):
    assert main(["fmt", str(tmp_path / "nope.cts")]) == 1
    assert "policy file not found" in capsys.readouterr().err


def test_fmt_through_a_symbolic_link_formats_its_target_and_keeps_the_link(tmp_path):
    target = _copy(tmp_path, "messy_rules.cts")
    link = tmp_path / "link.cts"
    link.symlink_to(target)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink() and target.read_text(encoding="utf-8").startswith("# A policy written in a hurry")
    assert main(["fmt", "--check", str(target)]) == 0


def test_fmt_keeps_the_file_mode(tmp_path):
    path = _copy(tmp_path, "messy_rules.cts")
    path.chmod(0o640)
    main(["fmt", str(path)])
    assert path.stat().st_mode & 0o777 == 0o640


# ---------------------------------------------------------------- hypothesis: random syntax trees

# Names that are not keywords, so any of them parses as a name or a field.
NAMES = st.sampled_from(["a", "units_x", "code", "minutes", "rate", "codes", "claim", "line"])
LITERALS = st.one_of(
    st.integers(0, 10 ** 6).map(lambda v: n.Literal(v, "int")),
    st.decimals(0, 1000, places=2, allow_nan=False, allow_infinity=False).map(lambda v: n.Literal(v, "number")),
    st.decimals(0, 1000, places=2, allow_nan=False, allow_infinity=False).map(lambda v: n.Literal(v, "money")),
    st.text(st.characters(codec="ascii", exclude_characters="{}\r"), max_size=8).map(lambda v: n.Literal(v, "string")),
    st.dates().map(lambda d: n.Literal(d.isoformat(), "date")).filter(lambda lit: lit.value[:1] != "0"),
    st.booleans().map(lambda v: n.Literal(v, "bool")),
)
ATOMS = st.one_of(LITERALS, NAMES.map(n.Name), st.lists(LITERALS, max_size=3).map(lambda xs: n.SetLiteral(tuple(xs))))
BINARY_OPS = ["or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "/"]


def _compound(children):
    return st.one_of(
        st.builds(n.Binary, st.sampled_from(BINARY_OPS), children, children),
        st.builds(n.Unary, st.sampled_from(["not", "-"]), children),
        st.builds(n.Attribute, children, NAMES),
        st.builds(n.Index, children, children),
        st.builds(n.Call, st.sampled_from(["min", "max", "coalesce", "len"]), st.lists(children, max_size=3).map(tuple)),
        st.builds(n.Conditional, children, children, children),
        st.builds(n.Quantifier, st.sampled_from(["any", "all", "none", "count"]), NAMES, children, children),
        st.builds(n.Quantifier, st.just("count"), NAMES, children, st.none()),
        st.builds(lambda v, c, w, x: n.Quantifier("sum", v, c, w, x), NAMES, children,
                  st.one_of(st.none(), children), children),
    )


EXPRESSIONS = st.recursive(ATOMS, _compound, max_leaves=12)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_a_random_expression_prints_as_text_that_parses_back_to_the_same_tree(expr):
    assert parse_expr(format_expr(expr)) == expr


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EXPRESSIONS, min_size=1, max_size=4))
def test_a_policy_of_random_lets_and_rules_formats_idempotently_to_the_same_tree(exprs):
    body = "".join(f"let v{i} = {format_expr(e)}\n" for i, e in enumerate(exprs))
    body += "".join(f"rule r{i} {{ applies to line when {format_expr(e)} warn message \"m\" }}  # c{i}\n"
                    for i, e in enumerate(exprs))
    formatted = format_policy(body)
    assert parse(formatted) == parse(body)
    assert format_policy(formatted) == formatted
    assert comment_texts(formatted) == comment_texts(body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, st.integers(10, 60))
def test_a_random_expression_wrapped_at_any_width_parses_back_to_the_same_tree(expr, width):
    lines = wrap_expr(expr, "let v = ", width)
    assert parse_expr("\n".join(lines)[len("let v = "):]) == expr
    assert lines == [format_expr(expr).join(("let v = ", ""))] or len(lines) > 1


LONG_FEE = ("let fee = round(round((if facility then rvu[line.code].total_f else rvu[line.code].total_nf) "
            "* conversion_factor, 2) * (if \"CQ\" in line.modifiers or \"CO\" in line.modifiers "
            "then assistant_factor else 1), 2) * units_allowed\n")


def test_long_arithmetic_wraps_within_the_width_before_its_operators_under_what_it_continues():
    formatted = format_policy(LONG_FEE)
    assert formatted == (
        "let fee = round(round((if facility then rvu[line.code].total_f else rvu[line.code].total_nf)\n"
        "                      * conversion_factor, 2)\n"
        "                * (if \"CQ\" in line.modifiers or \"CO\" in line.modifiers\n"
        "                   then assistant_factor\n"
        "                   else 1), 2)\n"
        "          * units_allowed\n")
    assert all(len(line) <= 100 for line in formatted.splitlines())
    assert parse(formatted) == parse(LONG_FEE) and format_policy(formatted) == formatted


def test_a_long_condition_breaks_before_each_and_with_its_lines_inside_the_rules_indentation():
    conditions = " and ".join(f"documentation.element_number_{i}" for i in range(6))
    text = f"rule r {{\n  applies to line\n  when {conditions}\n  warn\n  message \"m\"\n}}\n"
    lines = format_policy(text).splitlines()
    assert lines[2] == "  when documentation.element_number_0"
    assert lines[3:8] == [f"       and documentation.element_number_{i}" for i in range(1, 6)]
    assert all(len(line) <= 100 for line in lines)


def test_an_expression_that_fits_stays_on_one_line():
    assert format_policy("let short = (a + b) * c\n") == "let short = (a + b) * c\n"


# ---------------------------------------------------------------- hypothesis: random re-spacings

_TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*|[^\s"#]+|\s+')


def respace(text: str, rnd: random.Random) -> str:
    """The same tokens with different spaces: a gap keeps its number of line breaks (line breaks
    decide which comments stand alone and where blank lines separate items), nothing else."""
    out = []
    for token in _TOKENS.findall(text):
        if not token.isspace():
            out.append(token)
        elif "\n" in token:
            out.append("".join(rnd.choice(["", " ", "\t", "   "]) + "\n" for _ in range(token.count("\n")))
                       + rnd.choice(["", " ", "\t\t", "      "]))
        else:
            out.append(rnd.choice([" ", "  ", "\t", " \t "]))
    return "".join(out)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL), st.randoms(use_true_random=False))
def test_a_respaced_policy_formats_to_the_same_text_as_the_original(path, rnd):
    text = path.read_text(encoding="utf-8")
    messy = respace(text, rnd)
    assert parse(messy) == parse(text)
    assert format_policy(messy) == format_policy(text)


def test_the_respacer_really_changes_the_spacing():
    text = BUNDLED[0].read_text(encoding="utf-8")
    assert respace(text, random.Random(1)) != text


def test_literals_of_every_kind_survive_formatting():
    text = ('param a = 1 cites s\nparam b = 1.50 cites s\nparam c = $2.05 cites s\nparam d = "x\\"y" cites s\n'
            'param e = 2024-02-29 cites s\nparam f = true cites s\nparam g = {"a", 1, $3} cites s\n'
            'param h: money = -$2.50 cites s\n')
    assert parse(format_policy(text)) == parse(text)
    assert parse(format_policy(text)).of_kind(n.Param)[1].value == n.Literal(Decimal("1.50"), "number")


# ---------------------------------------------------------------- hypothesis: random whole policies

_EXPRS = ["line.units > 1", "a and b or not c", "if x then 1 else 2", "coalesce(line.minutes, 0) < 16",
          'sum(o.units for o in claim.lines where o.code == "97550" and o.units > 2)', '(1 + 2) * 3 - -4 / 5',
          'line.code in {"97550", "97551"}', 'any(m in line.modifiers where m == "GP")']
_BLOCKS = {
    "rule": ['title "T"', "cites s, t", "applies to claim", "applies to line where line.units > 1", "when {e}",
             "reduce units to 2", "reason CARC 16", 'message "m {{line.code}} {long}"', 'note "n"'],
    "fee": ['title "F"', "cites s", "applies to line", "amount {e}", 'note "n"'],
    "source": ['title "S"', 'url "u"', "date 2024-01-01", "confidence verified", 'note "n {long}"'],
}


def random_policy(rnd: random.Random) -> str:
    """Policy text of random items, entries and comments (standalone, and after code), in canonical entry order."""
    count = iter(range(1, 10 ** 6))

    def trail() -> str:
        return f"  # c{next(count)}" if rnd.random() < 0.3 else ""

    def lead(indent: str = "") -> str:
        return f"{indent}# c{next(count)}\n" if rnd.random() < 0.3 else ""

    out = []
    for k in range(rnd.randint(1, 6)):
        kind = rnd.choice(["param", "dated", "let", "disable", *_BLOCKS])
        over = "override " if rnd.random() < 0.2 else ""
        long = "word " * rnd.randint(0, 40)
        if kind == "param":
            body = f"{over}param p{k}: int = {rnd.randint(0, 9)} cites s{trail()}"
        elif kind == "dated":
            values = "".join(f"{lead('  ')}  from 2024-0{i + 1}-01 = {i} cites s{trail()}\n" for i in range(rnd.randint(1, 3)))
            body = f"param d{k} {{{trail()}\n{values}}}{trail()}"
        elif kind == "let":
            body = f"{over}let l{k} = {rnd.choice(_EXPRS)}{trail()}"
        elif kind == "disable":
            body = f'disable r{k} because "why {long}" cites s{trail()}'
        else:
            entries = [e.format(e=rnd.choice(_EXPRS), long=long) for e in _BLOCKS[kind] if rnd.random() < 0.7]
            if kind == "rule" and sum(e.startswith("applies") for e in entries) > 1:
                entries.remove("applies to claim")
            inner = "".join(f"{lead('  ')}  {e}{trail()}\n" for e in entries)
            head = f"source s{k}" if kind == "source" else f"{over}{kind} r{k}"
            body = f"{head} {{{trail()}\n{inner}{lead('  ')}}}{trail()}"
        out.append(lead() + body + "\n" + rnd.choice(["", "\n"]))
    return "".join(out)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_a_random_policy_keeps_its_tree_and_comments_and_formats_idempotently(rnd):
    text = random_policy(rnd)
    formatted = format_policy(text)
    assert parse(formatted) == parse(text)
    assert format_policy(formatted) == formatted
    assert comment_texts(formatted) == comment_texts(text)


def test_fmt_says_a_disable_needs_cites_as_check_does(tmp_path, capsys):
    path = tmp_path / "d.cts"
    path.write_text('policy "x" {\n  payer "x"\n  version "1"\n  effective 2024-01-01\n  governs "97550"\n}\n'
                    'disable foo because "why"\n', encoding="utf-8")
    assert main(["fmt", "--check", str(path)]) == 1
    assert f"{path}:7:1: error: `disable foo` needs `cites SOURCE`" in capsys.readouterr().err
