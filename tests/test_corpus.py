"""Every malformed claim and policy in tests/corpus gets a clear, located error and the right exit code.

Each case runs through the real command line, in-process (`ctsdsl.cli.main`), as a
user would meet it: tests/corpus/expected.yaml gives the exit code, a fragment of
the message and where the error must point. No case may print a traceback or
reach the "internal error" fallback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ctsdsl import limits
from ctsdsl.cli import main
from ctsdsl.errors import PolicyNotFoundError

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))


def _args(case: dict) -> list[str]:
    path = CORPUS / case["file"]
    if "args" in case:
        return [str(CORPUS / a) if (CORPUS / a).exists() else a.replace("{file}", str(path)) for a in case["args"]]
    if case["file"].startswith("claims/"):
        return ["eval", str(path)]
    return ["check", str(path / "policy.cts" if path.is_dir() and not path.suffix else path)]


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_a_malformed_input_gets_its_exit_code_and_a_located_message_without_a_traceback(case, capsys):
    code = main(_args(case))
    out, err = capsys.readouterr()
    said = err + out
    expected = PolicyNotFoundError.exit_code if case["exit"] == "not-found" else case["exit"]
    assert code == expected, said
    assert case["fragment"] in said
    assert "Traceback" not in said and "internal error" not in said
    if code:
        name = Path(case["file"]).name
        assert name in err or "policy.cts" in err or "/data/" in err, err  # the file is named
    if "at" in case:
        assert (f"{case['at']}: " if case["at"].startswith("$") else f"{case['at']}:") in err, err


def test_the_corpus_holds_at_least_170_cases_and_every_file_in_it_has_one():
    assert len(CASES) >= 170  # 131 before issue 16 added its hostile inputs
    listed = {c["file"] for c in CASES}
    on_disk = {str(p.relative_to(CORPUS)) for folder in ("claims", "policies") for p in (CORPUS / folder).iterdir()}
    assert on_disk == listed


def test_a_policy_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("ctsdsl.language.source.MAX_POLICY_BYTES", 100)
    path = tmp_path / "big.cts"
    path.write_text("# " + "x" * 200 + "\n", encoding="utf-8")
    assert main(["check", str(path)]) == 1
    assert "the limit is 100" in capsys.readouterr().err


def test_a_claim_file_over_the_size_limit_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("ctsdsl.claims.files.MAX_CLAIM_FILE_BYTES", 10)
    path = tmp_path / "big.json"
    path.write_text('{"id": "' + "x" * 100 + '"}', encoding="utf-8")
    assert main(["eval", str(path)]) == 2
    assert "larger than 10 bytes" in capsys.readouterr().err


def test_a_data_file_over_the_row_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("ctsdsl.language.tables.MAX_TABLE_ROWS", 3)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("code,x\n" + "".join(f"{i:05},1\n" for i in range(4)), encoding="utf-8")
    path = tmp_path / "p.cts"
    path.write_text('policy "p" { payer "t" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "t" url "u" }\ntable t from "data/t.csv" key code cites s\n', encoding="utf-8")
    from ctsdsl import check
    assert any("more than 3 rows" in d.message for d in check(path))


def _policy_with_when(tmp_path: Path, when: str) -> Path:
    path = tmp_path / "p.cts"
    path.write_text('policy "p" { payer "test" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "t" url "u" }\n'
                    f'rule r {{ title "r" cites s when {when} info message "m" }}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("depth", [limits.MAX_SYNTAX_DEPTH - 6, limits.MAX_SYNTAX_DEPTH + 1])
def test_an_expression_just_inside_the_depth_limit_compiles_and_one_past_it_is_refused(tmp_path, depth):
    # `not` nests one level per word; the rule and its `when` take a few levels of their own
    path = _policy_with_when(tmp_path, "not " * depth + "line.units > 0")
    import ctsdsl
    if depth < limits.MAX_SYNTAX_DEPTH:
        claim = {"id": "c", "payer": "test", "date_of_service": "2024-05-01", "place_of_service": "11",
                 "lines": [{"code": "97550", "units": 1}]}
        evaluator = ctsdsl.compile(path)
        assert evaluator.evaluate(claim) == evaluator.trace(claim)[0]
    else:
        with pytest.raises(ctsdsl.PolicySyntaxError, match="levels deep"):
            ctsdsl.load_policy(path)


def test_lets_written_out_up_to_the_expansion_limit_still_compile(tmp_path):
    import ctsdsl
    # each let adds three levels (a sum, a call, a name): the last one sits just under the limit
    last = limits.MAX_EXPANDED_DEPTH // 3 - 2
    lets = "let a0 = line.units\n" + "".join(f"let a{i} = coalesce(a{i - 1}, 1) + 1\n" for i in range(1, last + 1))
    path = tmp_path / "p.cts"
    path.write_text('policy "p" { payer "test" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "t" url "u" }\n' + lets +
                    f'rule r {{ title "r" cites s when a{last} > 0 info message "{{a{last}}}" }}\n', encoding="utf-8")
    claim = {"id": "c", "payer": "test", "date_of_service": "2024-05-01", "place_of_service": "11",
             "lines": [{"code": "97550", "units": 1}]}
    evaluator = ctsdsl.compile(path)
    assert evaluator.evaluate(claim).findings[0].message == str(1 + last)
    assert evaluator.trace(claim)[0].findings[0].message == str(1 + last)


def test_tracing_a_long_claim_records_a_bounded_number_of_reads_per_rule(tmp_path, monkeypatch):
    import ctsdsl
    monkeypatch.setattr("ctsdsl.engine.runtime.MAX_TRACE_READS", 5)
    path = _policy_with_when(tmp_path, "count(o in claim.lines where o.units > 0) > 0")
    claim = {"id": "c", "payer": "test", "date_of_service": "2024-05-01", "place_of_service": "11",
             "lines": [{"code": "97550", "units": 1}] * 20}
    decision, evaluations = ctsdsl.compile(path).trace(claim)
    assert len(decision.findings) == 20
    for evaluation in evaluations:
        assert len(evaluation.reads) == 6
        assert evaluation.reads[-1] == ("...", "more than 5 values read; the rest are not recorded")


def test_an_error_deep_in_a_minified_claim_shows_a_short_excerpt_around_the_place(tmp_path, capsys):
    import json
    claims = [{"id": f"c{i}", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
               "lines": [{"code": "97550", "units": 1}]} for i in range(300)]
    text = json.dumps(claims)[:-4] + ', "units": 2}]}]'  # the last line repeats `units`, 15 000 characters in
    path = tmp_path / "minified.json"
    path.write_text(text, encoding="utf-8")
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"minified.json:1:{len(text) - 13}: error: duplicate key" in err
    assert len(err) < 1000 and '"units": 1, "units": 2}]}]' in err and " | ..." in err


def test_a_yaml_claim_file_over_its_own_limit_is_refused_before_parsing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("ctsdsl.claims.files.MAX_YAML_CLAIM_CHARS", 50)
    path = tmp_path / "big.yaml"
    path.write_text("id: " + "x" * 100 + "\n", encoding="utf-8")
    assert main(["eval", str(path)]) == 2
    assert "larger than 50 characters of YAML" in capsys.readouterr().err
