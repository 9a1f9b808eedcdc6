"""Batch evaluation: every good record decided, every bad one reported by line, order kept, output never half-written."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest

import ctsdsl
from ctsdsl.scale import batch
from ctsdsl import cli

from conftest import ROOT, policy_text

sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_claims import generate  # noqa: E402

GOOD = {"id": "c-1", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
        "provider_type": "therapist",
        "documentation": {"plan_of_care_includes_cts": True, "consent": True, "reason_without_patient": True,
                          "need_for_occurrence": True, "training_described": True, "caregiver_response": True,
                          "impact_on_goals": True},
        "lines": [{"code": "97550", "units": 1, "minutes": 53, "modifiers": ["GP"]},
                  {"code": "97551", "units": 2, "modifiers": ["GP"]}]}


def good(n: int) -> str:
    return json.dumps(dict(GOOD, id=f"c-{n}"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def mixed(tmp_path):
    """Ten records: good ones, and bad ones on lines 3 (broken JSON), 6 (invalid units) and 9 (no policy in force)."""
    rows = [good(n) for n in range(1, 11)]
    rows[2] = '{"id": "c-3", "payer": '
    rows[5] = json.dumps(dict(GOOD, id="c-6", lines=[{"code": "97550", "units": "one"}]))
    rows[8] = json.dumps(dict(GOOD, id="c-9", date_of_service="2019-05-01"))
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_every_good_record_is_decided_in_order_and_every_bad_one_reported_with_its_line(capsys, tmp_path, mixed):
    out, errors = tmp_path / "decisions.jsonl", tmp_path / "errors.jsonl"
    code, _, err = run(capsys, "batch", str(mixed), "-o", str(out), "--errors", str(errors))
    assert code == 2
    decided = [json.loads(line)["claim_id"] for line in out.read_text().splitlines()]
    assert decided == ["c-1", "c-2", "c-4", "c-5", "c-7", "c-8", "c-10"]
    bad = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [b["line"] for b in bad] == [3, 6, 9]
    assert bad[0]["diagnostics"][0]["code"] == "claim-syntax"
    assert bad[1]["diagnostics"][0]["path"] == "$.lines[0].units"
    assert bad[2]["kind"] == "PolicyNotFoundError"
    assert bad[1]["record"] == mixed.read_text().splitlines()[5]
    assert f"{mixed}:3:" in err and f"{mixed}:6: $.lines[0].units" in err and f"{mixed}:9: $.date_of_service" in err


def test_the_summary_counts_claims_lines_amounts_and_rules(capsys, mixed, tmp_path):
    _, _, err = run(capsys, "batch", str(mixed), "-o", str(tmp_path / "d.jsonl"))
    assert "claims: 7 decided, 3 not decided" in err
    assert "lines: 14 allowed, 0 reduced, 0 denied, 0 out of scope" in err
    assert "total allowed: $738.71" in err  # 7 x 105.53, the example claim's amount
    assert "top rules fired: no_mppr 7" in err


def test_two_jobs_write_byte_identical_output_to_one_job(tmp_path):
    claims = tmp_path / "claims.jsonl"
    claims.write_text("\n".join(generate(600, seed=5, bad=0.05)) + "\n", encoding="utf-8")
    results = []
    for jobs in (1, 2):
        out, errors = tmp_path / f"d{jobs}.jsonl", tmp_path / f"e{jobs}.jsonl"
        summary = batch.run_batch(claims, output=out, errors=errors, jobs=jobs, chunk_lines=50)
        results.append((out.read_bytes(), errors.read_bytes(), summary.render(), summary.exit_code))
    assert results[0] == results[1]
    assert results[0][1]  # some records were bad


def test_a_failure_midway_leaves_no_half_written_output(tmp_path, monkeypatch):
    claims = tmp_path / "claims.jsonl"
    claims.write_text("\n".join(good(n) for n in range(10)) + "\n", encoding="utf-8")
    out = tmp_path / "decisions.jsonl"
    out.write_text("the previous run\n", encoding="utf-8")
    calls = []

    real = batch.DecisionEncoder.encode_result

    def broken(self, *args):  # the disk fills up, say, on the sixth claim
        calls.append(1)
        if len(calls) > 5:
            raise OSError("No space left on device")
        return real(self, *args)

    monkeypatch.setattr(batch.DecisionEncoder, "encode_result", broken)
    with pytest.raises(batch.BatchIOError, match="No space left on device"):
        batch.run_batch(claims, output=out, chunk_lines=2)
    assert out.read_text() == "the previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.jsonl", "decisions.jsonl"]  # no temp file left


def test_a_missing_or_empty_file_is_a_located_error_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "d.jsonl"
    code, _, err = run(capsys, "batch", str(tmp_path / "nope.jsonl"), "-o", str(out))
    assert code == 2 and "no such claim file" in err and not out.exists()
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    code, _, err = run(capsys, "batch", str(tmp_path / "empty.jsonl"), "-o", str(out))
    assert code == 2 and "holds no claims" in err and not out.exists()
    for jobs in ("0", "65", "1000000", "٢"):  # Issue 16: a huge --jobs forked until the machine gave out
        code, _, err = run(capsys, "batch", str(tmp_path / "empty.jsonl"), "--jobs", jobs)
        assert code == 2 and "--jobs: must be a whole number of processes from 1 to 64" in err


def test_batch_decides_json_and_yaml_files_too(capsys, tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps([GOOD, {"id": "c-2"}]), encoding="utf-8")
    code, out, err = run(capsys, "batch", str(path), "-q")
    assert code == 2
    assert [json.loads(line)["claim_id"] for line in out.splitlines()] == ["c-1"]
    assert f"{path}[1]" in err and err.count("error") >= 1


def test_the_fast_encoder_writes_exactly_what_json_dumps_writes():
    encode = batch.DecisionEncoder().encode
    claims = [json.loads(text) for text in generate(300, seed=11)]
    claims.append(dict(GOOD, id="ünïcode \u2028 \"quoted\"", lines=[{"code": "97550", "units": 3.0, "minutes": 90}]))
    decisions = [d for d in ctsdsl.evaluate_all(claims) if isinstance(d, ctsdsl.Decision)]
    assert len(decisions) == len(claims)
    for decision in decisions:
        assert encode(decision) == json.dumps(decision.to_dict(), separators=(",", ":"))


def test_evaluate_all_yields_a_decision_or_an_error_per_claim_in_order():
    claims = [GOOD, {"id": "bad"}, dict(GOOD, id="c-3"), dict(GOOD, id="c-4", payer="acme")]
    results = list(ctsdsl.evaluate_all(iter(claims)))
    assert [type(r).__name__ for r in results] == ["Decision", "RecordError", "Decision", "RecordError"]
    assert results[1].index == 1 and results[1].location == "<claim 1>"
    assert results[3].error.diagnostics[0].code == "unknown-payer"
    assert results[2].claim_id == "c-3" and results[2].total_allowed == Decimal("105.53")


def test_evaluate_all_with_a_named_policy_decides_every_claim_with_it():
    results = list(ctsdsl.evaluate_all([dict(GOOD, date_of_service="2025-05-01"), GOOD], policy="medicare-cts-2025"))
    assert results[0].policy.name == "medicare-cts-2025"
    # the 2025 policy has no 2024 conversion factor: that claim is one for another policy, and says so
    assert results[1].exit_code == 2 and "outside the period of policy medicare-cts-2025" in results[1].render()


def test_the_generator_is_deterministic():
    assert list(generate(50, seed=3)) == list(generate(50, seed=3))
    assert list(generate(50, seed=3)) != list(generate(50, seed=4))


def test_the_python_example_in_the_batch_guide_prints_what_it_shows(capsys):
    text = (ROOT / "docs" / "batch.md").read_text(encoding="utf-8")
    source = text.split("```python\n", 1)[1].split("```", 1)[0]
    expected = text.split("```text output\n", 1)[1].split("```", 1)[0]
    exec(compile(source, "docs/batch.md", "exec"), {"__name__": "__docs__"})  # noqa: S102
    assert capsys.readouterr().out == expected


CSV_HEADER = ("id,payer,date_of_service,place_of_service,provider_type,documentation.consent,"
              "documentation.plan_of_care_includes_cts,code,units,minutes,modifiers,line_date_of_service\n")


def test_a_csv_of_claim_lines_is_grouped_into_claims_by_id(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text(CSV_HEADER
                    + "c-1,medicare,2024-05-01,11,therapist,true,true,97550,1,53,GP KX,2024-05-01\n"
                    + "c-1,medicare,2024-05-01,11,therapist,true,true,97551,2,,GP,\n"
                    + "c-2,medicare,2024-05-01,11,therapist,yes,true,97550,one,30,GP,\n"
                    + "c-3,medicare,2024-05-01,11,therapist,true,true,97550,1,30,,\n"
                    + "c-3,medicare,2024-05-01,12,therapist,true,true,97551,1,,,\n", encoding="utf-8")
    out, errors = tmp_path / "d.jsonl", tmp_path / "e.jsonl"
    summary = batch.run_batch(path, output=out, errors=errors)
    decision = json.loads(out.read_text())
    expected = ctsdsl.evaluate({
        "id": "c-1", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
        "provider_type": "therapist", "documentation": {"consent": True, "plan_of_care_includes_cts": True},
        "lines": [{"code": "97550", "units": 1, "minutes": 53, "modifiers": ["GP", "KX"],
                   "date_of_service": "2024-05-01"}, {"code": "97551", "units": 2, "modifiers": ["GP"]}]})
    assert decision == json.loads(json.dumps(expected.to_dict()))
    bad = [json.loads(line) for line in errors.read_text().splitlines()]
    # a record's line is its claim's first row; a diagnostic's, the row at fault
    assert [(b["line"], b["diagnostics"][0]["line"], b["diagnostics"][0]["path"] or b["diagnostics"][0]["message"])
            for b in bad] == [(4, 4, "$.lines[0].units"),
                              (5, 6, 'place_of_service is "12" here but "11" on line 5, the claim\'s first row')]
    assert summary.claims == 1 and summary.errors == 2


CSV_ROW = "{id},medicare,2024-05-01,11,therapist,true,true,{code},{units},53,GP,\n"


def csv_run(tmp_path, *rows: str):
    """Decide a CSV of these rows (after CSV_HEADER): the ids decided, and (record line, diagnostic line, message)."""
    path = tmp_path / "claims.csv"
    path.write_bytes((CSV_HEADER + "".join(rows)).encode("utf-8", "surrogateescape"))
    errors = []
    batch.run_batch(path, output=tmp_path / "d.jsonl", on_error=errors.append)
    decided = [json.loads(line)["claim_id"] for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    return decided, [(e.line, e.error.diagnostics[0].span.line or e.line, e.error.diagnostics[0].message)
                     for e in errors]


def row(id: str, code: str = "97550", units: str = "1") -> str:
    return CSV_ROW.format(id=id, code=code, units=units)


def test_a_csv_row_with_a_wrong_number_of_cells_refuses_its_claim_only(tmp_path):
    # Issue 16: one malformed row stopped the whole run with 0 decisions
    decided, bad = csv_run(tmp_path, row("c-1"), row("c-2"), row("c-2", "97551").replace(",GP,", ",GP,,x,"),
                           row("c-3"))
    assert decided == ["c-1", "c-3"]
    assert bad == [(3, 4, "14 cells where the header has 12")]


def test_a_csv_row_too_broken_to_name_its_claim_refuses_the_claims_on_either_side(tmp_path):
    # It may have been a row of either: deciding one without it would decide it wrongly.
    decided, bad = csv_run(tmp_path, row("c-1"), row("c-2"), 'c-2,medicare,"2024-05-01"x,11\n', row("c-3"),
                           row("c-4"))
    assert decided == ["c-1", "c-4"]
    assert [(record, at) for record, at, _ in bad] == [(3, 4), (5, 4)]
    assert bad[1][2].endswith("that row, just before this claim's first, may have been one of its rows")


def test_a_csv_row_that_is_not_utf8_refuses_its_claim_and_the_rest_are_decided(tmp_path):
    broken = row("c-2", "97551").replace("97551", b"9755\xff".decode("utf-8", "surrogateescape"))
    decided, bad = csv_run(tmp_path, row("c-1"), row("c-2"), broken, row("c-3"))
    assert decided == ["c-1", "c-3"]
    assert bad == [(3, 4, "invalid UTF-8 (byte 0xff)")]


def test_a_csv_quote_left_open_at_the_end_is_an_error_record_not_a_cell_to_the_end_of_the_file(tmp_path):
    decided, bad = csv_run(tmp_path, row("c-1"), row("c-2"), 'c-3,medicare,"2024-05-01,11\n')
    assert decided == ["c-1"]  # the open row may have been c-2's
    assert bad == [(3, 4, "malformed CSV: unexpected end of data")]


@pytest.mark.parametrize("units", ["1_0", "١", "１", " 1e1"])
def test_a_csv_count_is_a_number_only_in_ascii_digits(tmp_path, units):
    decided, bad = csv_run(tmp_path, row("c-1", units=units))
    assert decided == [] and bad[0][2] == f"expected an integer, got {json.dumps(units, ensure_ascii=False)}"


def test_a_csv_header_with_an_unknown_column_is_refused_before_anything_is_written(capsys, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("id,payer,code,unit\nc-1,medicare,97550,1\n", encoding="utf-8")
    code, _, err = run(capsys, "batch", str(path), "-o", str(tmp_path / "d.jsonl"))
    assert code == 2 and f"{path}:1:1: error: unknown column 'unit'" in err
    assert not (tmp_path / "d.jsonl").exists()


def test_a_csv_claim_of_too_many_rows_is_reported_without_holding_them_all(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("id,payer,date_of_service,place_of_service,code,units\n"
                    + "c-1,medicare,2024-05-01,11,97552,1\n" * 3000, encoding="utf-8")
    errors = []
    summary = batch.run_batch(path, output=tmp_path / "d.jsonl", on_error=errors.append)
    assert summary.errors == 1 and errors[0].error.diagnostics[0].path == "$.lines"
    assert "more than the maximum of 1000" in errors[0].error.diagnostics[0].message


def test_an_output_folder_that_does_not_exist_is_a_clear_error(capsys, mixed, tmp_path):
    code, _, err = run(capsys, "batch", str(mixed), "-o", str(tmp_path / "no" / "such" / "d.jsonl"))
    assert code == 2 and "error: cannot write or read" in err and "No such file or directory" in err


def test_a_bad_record_keeps_no_traceback_that_would_pin_its_chunk_in_memory(mixed):
    with mixed.open("rb") as fh:
        records = [(i, n, line) for i, (n, line) in enumerate(ctsdsl.claims.validation.jsonl_lines(fh))]
    errors = batch._Worker(str(mixed), None).chunk(records).errors
    assert len(errors) == 3
    assert all(e.error.__traceback__ is None and e.error.__context__ is None for e in errors)


def test_the_batch_guide_shows_the_summary_of_its_20000_generated_claims(tmp_path):
    # docs/batch.md quotes the summary for `python benchmarks/gen_claims.py 20000`: it must stay true.
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join(generate(20_000)) + "\n", encoding="utf-8")
    summary = batch.run_batch(path, output=tmp_path / "d.jsonl", progress=False)
    guide = (ROOT / "docs" / "batch.md").read_text(encoding="utf-8")
    shown = guide.split("```text\nclaims: 20,000 decided", 1)[1].split("```", 1)[0]
    assert "claims: 20,000 decided" + shown == summary.render() + "\n"


def test_an_overlong_record_is_refused_at_its_line_without_being_read_whole(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("ctsdsl.claims.files.MAX_JSONL_LINE_BYTES", 2000)
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join([good(1), json.dumps(dict(GOOD, id="x" * 50_000)), good(3)]) + "\n", encoding="utf-8")
    with open(path, "rb") as fh:
        assert [(n, len(raw)) for n, raw in ctsdsl.claims.validation.jsonl_lines(fh)][1] == (2, 2001)  # cut, not held whole
    out, errors = tmp_path / "d.jsonl", tmp_path / "e.jsonl"
    code, _, err = run(capsys, "batch", str(path), "-o", str(out), "--errors", str(errors))
    assert code == 2
    assert [json.loads(line)["claim_id"] for line in out.read_text().splitlines()] == ["c-1", "c-3"]
    (bad,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert bad["line"] == 2 and bad["diagnostics"][0]["code"] == "claim-too-large"
    assert f"{path}:2:1: error: a record of more than 2000 bytes, the limit" in err


def test_eval_refuses_an_overlong_record_of_a_jsonl_file_at_its_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("ctsdsl.claims.files.MAX_JSONL_LINE_BYTES", 2000)
    path = tmp_path / "claims.jsonl"
    path.write_text(good(1) + "\n" + json.dumps(dict(GOOD, id="x" * 50_000)), encoding="utf-8")  # no last newline
    code, _, err = run(capsys, "eval", str(path))
    assert code == 2 and f"{path}:2:1: error: a record of more than 2000 bytes" in err


def test_eval_reads_a_jsonl_file_whole_so_refuses_one_over_the_file_limit_and_points_to_batch(capsys, tmp_path,
                                                                                             monkeypatch):
    monkeypatch.setattr("ctsdsl.claims.files.MAX_CLAIM_FILE_BYTES", 5000)
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join(good(n) for n in range(20)) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", str(path))
    assert code == 2 and "larger than 5000 bytes" in err and "ctsdsl batch" in err
    code, _, _ = run(capsys, "batch", str(path), "-o", str(tmp_path / "d.jsonl"))
    assert code == 0


def test_a_record_that_breaks_a_policy_is_reported_at_the_record_and_at_the_policy_line(capsys, tmp_path):
    policy = tmp_path / "p.cts"
    policy.write_text(policy_text('table caps from "caps.csv" key code cites s\n'
                                  'rule cap { title "Cap" cites s applies to line when line.units > caps[line.code].max '
                                  'deny message "m" }'), encoding="utf-8")
    (tmp_path / "caps.csv").write_text("code,max\n97550,1\n", encoding="utf-8")
    claims = tmp_path / "c.jsonl"
    claims.write_text(good(1) + "\n", encoding="utf-8")  # its 97551 line has no row in caps.csv
    code, _, err = run(capsys, "batch", str(claims), "--policy", str(policy), "-o", str(tmp_path / "d.jsonl"))
    assert code == 3
    first, second = err.splitlines()[:2]
    assert first == f"{claims}:1: could not be decided:"
    assert second.startswith(f"{policy}:") and "rule `cap` could not be evaluated at $.lines[1]" in second


def test_an_amount_past_decimal_arithmetic_is_its_claims_error_and_the_run_goes_on(capsys, tmp_path):
    # Each figure is within the bound; their product has 30 digits and cannot be rounded to cents,
    # which was an internal error (exit 70) that stopped the whole run (issue 16).
    policy = tmp_path / "p.cts"
    policy.write_text(policy_text('fee f { title "f" cites s applies to line where line.units > 1 '
                                  'amount $999999999999999 * 999999999999999.0 }\n'
                                  'fee g { title "g" cites s amount $10 }'), encoding="utf-8")
    claims = tmp_path / "c.jsonl"
    claims.write_text("\n".join(json.dumps({"id": f"c-{units}", "payer": "test", "date_of_service": "2024-05-01",
                                            "place_of_service": "11", "lines": [{"code": "97550", "units": units}]})
                                for units in (1, 2, 1)) + "\n", encoding="utf-8")
    out = tmp_path / "d.jsonl"
    code, _, err = run(capsys, "batch", str(claims), "--policy", str(policy), "-o", str(out))
    assert code == 3 and "an amount computed for this claim is beyond decimal arithmetic" in err
    assert [json.loads(line)["claim_id"] for line in out.read_text().splitlines()] == ["c-1", "c-1"]
    code, _, err = run(capsys, "eval", str(claims), "--policy", str(policy))
    assert code == 3 and f"{claims}:2: error: an amount computed for this claim" in err


@pytest.mark.parametrize(("plain", "broken", "path"), [
    ('"place_of_service": "11"', '"place_of_service": "\\udc80"', "$.place_of_service"),
    ('"id": "c-2"', '"id": "c\\ud800"', "$.id"),
])
def test_a_record_with_a_lone_surrogate_is_reported_and_the_run_goes_on(capsys, tmp_path, plain, broken, path):
    # JSON may escape half of a UTF-16 pair; no UTF-8 writer can write it back, so it is refused on the way in.
    claims = tmp_path / "c.jsonl"
    claims.write_text("\n".join([good(1), good(2).replace(plain, broken), good(3)]) + "\n", encoding="utf-8")
    out, errors = tmp_path / "d.jsonl", tmp_path / "e.jsonl"
    code, _, _ = run(capsys, "batch", str(claims), "-o", str(out), "--errors", str(errors))
    assert code == 2
    assert [json.loads(line)["claim_id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["c-1", "c-3"]
    (error,) = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    assert (error["line"], error["diagnostics"][0]["path"]) == (2, path)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_batch_chooses_policies_from_a_folder_of_ones_own(capsys, tmp_path, jobs):
    import shutil
    tree = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "medicare", tree / "medicare")
    (tree / "medicare" / "cts-2024.cts").unlink()  # this tree has no 2024 policy: a 2024 claim has none in force
    claims = tmp_path / "c.jsonl"
    claims.write_text(json.dumps(dict(GOOD, id="y25", date_of_service="2025-05-01")) + "\n" + good(1) + "\n",
                      encoding="utf-8")
    out = tmp_path / "d.jsonl"
    code, _, err = run(capsys, "batch", str(claims), "--policies", str(tree), "-o", str(out), "-j", jobs)
    assert code == 2 and "no medicare policy covers 2024-05-01: the earliest, medicare-cts-2025" in err
    assert [json.loads(line)["claim_id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["y25"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_batch_assume_documented_reads_flags_not_given_as_false_as_documented_in_every_worker(capsys, tmp_path, jobs):
    unstated = dict(GOOD, id="unstated", documentation={"consent": None})  # the other flags absent
    refused = dict(GOOD, id="refused", documentation=dict(GOOD["documentation"], consent=False))
    claims = tmp_path / "c.jsonl"
    claims.write_text(json.dumps(unstated) + "\n" + json.dumps(refused) + "\n", encoding="utf-8")
    plain, assumed = tmp_path / "plain.jsonl", tmp_path / "assumed.jsonl"
    assert run(capsys, "batch", str(claims), "-o", str(plain), "-j", jobs)[0] == 0
    assert run(capsys, "batch", str(claims), "-o", str(assumed), "-j", jobs, "--assume-documented")[0] == 0
    without = [json.loads(line) for line in plain.read_text(encoding="utf-8").splitlines()]
    with_flag = [json.loads(line) for line in assumed.read_text(encoding="utf-8").splitlines()]
    assert [d["outcome"] for d in without] == ["deny", "deny"]  # absent flags: not documented
    assert [d["outcome"] for d in with_flag] == ["pay", "deny"]  # a flag given as false is never assumed
    assert [d.get("assumed_documented") for d in with_flag] == [True, True]
    assert all("assumed_documented" not in d for d in without)


def test_batch_assume_documented_applies_to_a_json_file_read_whole(capsys, tmp_path):
    claims = tmp_path / "c.json"
    claims.write_text(json.dumps(dict(GOOD, documentation={})), encoding="utf-8")
    out = tmp_path / "d.jsonl"
    assert run(capsys, "batch", str(claims), "-o", str(out), "--assume-documented")[0] == 0
    assert json.loads(out.read_text(encoding="utf-8"))["outcome"] == "pay"


def test_evaluate_all_assume_documented_says_so_on_each_decision():
    (decision,) = ctsdsl.evaluate_all([dict(GOOD, documentation={})], assume_documented=True)
    assert decision.outcome == "pay" and decision.assumed_documented


def test_batch_on_the_sql_engine_assumes_the_documentation_as_the_row_engine_does(capsys, tmp_path):
    pytest.importorskip("duckdb")
    claims = tmp_path / "c.jsonl"
    claims.write_text(good(1) + "\n", encoding="utf-8")
    row = run(capsys, "batch", str(claims), "--assume-documented", "-q")
    sql = run(capsys, "batch", str(claims), "--engine", "sql", "--assume-documented", "-q")
    assert row[0] == sql[0] == 0 and sql[1] == row[1] and '"assumed_documented":true' in sql[1]


def test_decisions_written_from_the_rules_results_are_the_bytes_the_decision_objects_give(tmp_path):
    # `ctsdsl batch` writes each decision straight from what the rules computed (encode_result),
    # not through Decision objects: on the generated mix (denied, reduced, adjusted, out-of-scope
    # and unknown-fee lines, every bundled policy, some claims with unstated facts) the bytes and
    # the summary are what `encode(evaluate(claim))` and `Summary.add` give.
    import random

    from gen_claims import claim as generated

    rng = random.Random(14)
    claims = [generated(n, rng) for n in range(1500)]
    for n in range(0, 1500, 50):  # a few leave a fact unstated: those take the Decision path
        claims[n]["lines"][0]["minutes"] = None
    for n in range(7, 1500, 40):  # and a few bill a charge, which denied lines adjust
        for line in claims[n]["lines"]:
            line["charge"] = 120.5
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    out = tmp_path / "decisions.jsonl"
    summary = batch.run_batch(path, output=out)
    expected, by_objects = [], batch.Summary()
    encoder = batch.DecisionEncoder()
    for c in claims:
        decision = ctsdsl.evaluate(c)
        expected.append(encoder.encode(decision) + "\n")
        assert encoder.encode(decision) == json.dumps(decision.to_dict(), separators=(",", ":"))
        by_objects.add(decision)
    assert out.read_text(encoding="utf-8") == "".join(expected)
    assert summary.render(top=50) == by_objects.render(top=50) and summary.claims == 1500
    statuses = set(by_objects.lines)
    assert {"allowed", "reduced", "denied", "needs_record"} <= statuses, statuses
