"""`ctsdsl import rvu`: CMS's quarterly relative value file into a policy's dated RVU table."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from ctsdsl import _resources
from ctsdsl.cli import main
from ctsdsl.errors import DataFileError
from ctsdsl.cms.pprrvu import read_release
from ctsdsl.cms.rvu_import import plan_import

from conftest import ROOT, medicare_claim

EXCERPT = ROOT / "tests" / "fixtures" / "cms" / "PPRRVU2026_Jul_nonQPP-excerpt.csv"
CTS = ["97550", "97551", "97552", "G0539", "G0540", "G0541", "G0542", "G0543"]

# Every cell the excerpt gives the CTS codes, as CMS prints them (data file §1.2, table 1.2):
# work, PE NF, PE F, MP, total NF, total F, status, global, MULT PROC, PC/TC.
JULY_2026 = {
    "97550": ("1.00", "0.57", "0.18", "0.01", "1.58", "1.19", "A", "XXX", "0", "0"),
    "97551": ("0.54", "0.24", "0.09", "0.00", "0.78", "0.63", "A", "ZZZ", "0", "0"),
    "97552": ("0.23", "0.42", "0.04", "0.01", "0.66", "0.28", "A", "XXX", "0", "0"),
    "G0539": ("1.00", "0.58", "0.18", "0.01", "1.59", "1.19", "A", "XXX", "0", "0"),
    "G0540": ("0.54", "0.24", "0.09", "0.00", "0.78", "0.63", "A", "ZZZ", "0", "0"),
    "G0541": ("1.00", "0.58", "0.18", "0.01", "1.59", "1.19", "A", "XXX", "0", "0"),
    "G0542": ("0.54", "0.24", "0.09", "0.00", "0.78", "0.63", "A", "ZZZ", "0", "0"),
    "G0543": ("0.23", "0.42", "0.04", "0.01", "0.66", "0.28", "A", "XXX", "0", "0"),
}
FIELDS = ("work", "pe_nf", "pe_f", "mp", "total_nf", "total_f", "status", "global", "mult_proc", "pctc")


def rows(table: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))


@pytest.fixture
def tree(tmp_path):
    """A copy of the bundled policies: the importer writes into its RVU table."""
    shutil.copytree(_resources.policies_dir(), tmp_path / "policies")
    return tmp_path / "policies"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_excerpt_the_project_keeps_is_cms_s_file_byte_for_byte():
    shared = ROOT.parent / "shared" / "data" / "cms" / EXCERPT.name
    if not shared.exists():
        pytest.skip("the shared CMS data folder is not beside this checkout")
    assert EXCERPT.read_bytes() == shared.read_bytes()


def test_the_reader_finds_every_column_by_its_header_name_and_keeps_only_global_rows():
    release = read_release(EXCERPT)
    assert release.title == "2026 National Physician Fee Schedule Relative Value File July Release"
    assert release.released == "06/30/2026"
    assert release.conversion_factors() == ["33.4009"]
    assert release.modifier_rows == {"0075T": ["26", "TC"]}  # a part of the service, not the service
    for code, cells in JULY_2026.items():
        row = release.rows[code]
        assert tuple({**row.figures, **row.indicators}[f] for f in FIELDS) == cells


def test_an_import_into_a_new_table_writes_every_cell_of_the_excerpt(capsys, tmp_path):
    table = tmp_path / "data" / "rvu.csv"
    code, out, _ = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-07-01", "--into", str(table),
                       "--codes", ",".join(CTS))
    assert code == 0
    assert "8 row(s) added, 0 updated, 0 unchanged" in out
    written = rows(table)
    assert [r["code"] for r in written] == CTS
    for r in written:
        assert tuple(r[f] for f in FIELDS) == JULY_2026[r["code"]]
        assert r["effective_from"] == "2026-07-01" and r["confidence"] == "verified"
        assert r["source"] == ("CMS 2026 National Physician Fee Schedule Relative Value File July Release, "
                               "released 06/30/2026 (PPRRVU2026_Jul_nonQPP-excerpt.csv)")


def test_the_bundled_table_holds_the_excerpt_exactly_and_a_second_import_changes_nothing(capsys, tree):
    # The bundled 2026 rows were written by this importer; importing again is a round trip.
    table = tree / "medicare" / "data" / "rvu.csv"
    before = table.read_bytes()
    for effective in ("2026-01-01", "2026-07-01"):
        ours = {r["code"]: r for r in rows(table) if r["effective_from"] == effective}
        assert {code: tuple(r[f] for f in FIELDS) for code, r in ours.items()} == JULY_2026
        source = next(iter(ours.values()))["source"]
        confidence = next(iter(ours.values()))["confidence"]
        code, out, _ = run(capsys, "import", "rvu", str(EXCERPT), "--effective", effective, "--into", str(table),
                           "--source", source, "--confidence", confidence, "--check")
        assert code == 0, out
        assert "0 row(s) added, 0 updated, 8 unchanged" in out
    assert table.read_bytes() == before


def test_an_update_prints_each_cell_old_to_new_and_check_writes_nothing(capsys, tree):
    table = tree / "medicare" / "data" / "rvu.csv"
    text = table.read_text(encoding="utf-8").replace("97550,2026-07-01,1.00,0.57,", "97550,2026-07-01,1.00,0.56,")
    table.write_text(text, encoding="utf-8")
    source = next(r["source"] for r in rows(table) if r["effective_from"] == "2026-07-01")
    code, out, _ = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-07-01", "--into", str(table),
                       "--source", source, "--check")
    assert code == 1
    assert "0 row(s) added, 1 updated, 7 unchanged" in out
    assert "~  97550  0.56 -> 0.57" in out
    assert table.read_text(encoding="utf-8") == text  # --check writes nothing
    code, _, err = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-07-01", "--into", str(table),
                       "--source", source)
    assert code == 0 and "wrote" in err
    assert "97550,2026-07-01,1.00,0.57," in table.read_text(encoding="utf-8")


def test_the_file_s_conversion_factor_is_reported_beside_the_policy_s_and_a_mismatch_warns(capsys, tree):
    table = tree / "medicare" / "data" / "rvu.csv"
    _, _, err = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-07-01", "--into", str(table))
    assert "the file's CONV FACTOR 33.4009 = medicare-cts-2026's conversion_factor on 2026-07-01" in err
    policy = tree / "medicare" / "cts-2026.cts"
    policy.write_text(policy.read_text(encoding="utf-8").replace("= $33.4009 cites", "= $33.4010 cites"),
                      encoding="utf-8")
    code, _, err = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-07-01", "--into", str(table))
    assert code == 0  # a warning: the factor is the policy's to state
    assert ("warning: the file's CONV FACTOR is 33.4009, but medicare-cts-2026's conversion_factor on 2026-07-01 "
            "is 33.4010 (cites cf_2026, rvu_2026)") in err


def test_a_later_quarter_is_data_only_its_rows_win_from_their_date_of_service(capsys, tree, tmp_path):
    # A made-up October release: the excerpt with 97550's non-facility PE moved (0.57 -> 0.60, its
    # total 1.58 -> 1.61), imported with no Python change. Claims before 2026-10-01 keep July's fee.
    table = tree / "medicare" / "data" / "rvu.csv"
    october = tmp_path / "PPRRVU2026_Oct-made-up.csv"
    october.write_text(EXCERPT.read_text(encoding="utf-8").replace(
        "97550,,Caregiver traing 1st 30 min,A,,1.00,0.57,,0.18,,0.01,1.58,",
        "97550,,Caregiver traing 1st 30 min,A,,1.00,0.60,,0.18,,0.01,1.61,"), encoding="utf-8")
    code, out, _ = run(capsys, "import", "rvu", str(october), "--effective", "2026-10-01", "--into", str(table))
    assert code == 0 and "8 row(s) added" in out
    # The unchanged excerpt a second time, under its own made-up date, adds its rows beside them.
    code, out, _ = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-11-01", "--into", str(table))
    assert code == 0 and "8 row(s) added" in out
    amounts = {}
    for day in ("2026-09-30", "2026-10-01", "2026-10-31", "2026-11-01"):
        claim = tree.parent / f"{day}.json"
        claim.write_text(json.dumps(medicare_claim(date_of_service=day)), encoding="utf-8")
        code, out, _ = run(capsys, "eval", str(claim), "--json", "--policies", str(tree))
        assert code == 0
        amounts[day] = json.loads(out)["lines"][0]["allowed_amount"]
    # 1.58 x 33.4009 = 52.773 -> $52.77; 1.61 x 33.4009 = 53.775 -> $53.78
    assert amounts == {"2026-09-30": "52.77", "2026-10-01": "53.78", "2026-10-31": "53.78", "2026-11-01": "52.77"}
    assert run(capsys, "check", str(tree))[0] == 0


@pytest.mark.parametrize(("edit", "where", "message"), [
    (lambda t: t.replace("HCPCS,MOD,DESCRIPTION", "CODE,MOD,DESCRIPTION"), ":1:1:",
     "has no header row starting with HCPCS in its first 40 rows"),
    (lambda t: t.replace(",PCTC,GLOB,", ",PCTX,GLOB,"), ":10:1:",
     "header has no column 'PCTC IND' (the file has 'PCTX IND')"),
    (lambda t: t.replace("97551,,Caregiver traing ea addl 15,A,,0.54,0.24,,0.09,,0.00,0.78,0.63",
                         "97551,,Caregiver traing ea addl 15,A,,0.54,0.24,,0.09,,0.00,0.78,0.64"), ":20:66:",
     "97551's FACILITY TOTAL is 0.64, but its WORK RVU, FACILITY PE RVU and MP RVU add up to 0.63"),
    (lambda t: t.replace("97552,,Group caregiver training,A,,0.23,", "97552,,Group caregiver training,A,,0.2x,"),
     ":21:", "'0.2x' in column WORK RVU of 97552 is not a number"),
    (lambda t: t + "97550,,Caregiver traing 1st 30 min,A,,1.00,0.57,,0.18,,0.01,1.58,1.19,0,XXX\n", ":28:1:",
     "97550 has a second global row (the first is at line 19)"),
])
def test_a_file_it_cannot_read_is_refused_at_the_line_and_column_with_exit_2(capsys, tree, tmp_path, edit, where,
                                                                             message):
    bad = tmp_path / "bad.csv"
    bad.write_text(edit(EXCERPT.read_text(encoding="utf-8")), encoding="utf-8")
    table = tree / "medicare" / "data" / "rvu.csv"
    before = table.read_bytes()
    code, _, err = run(capsys, "import", "rvu", str(bad), "--effective", "2026-07-01", "--into", str(table))
    assert code == 2
    assert f"{bad}{where}" in err and message in err
    assert "Traceback" not in err
    assert table.read_bytes() == before


def test_a_code_the_file_lacks_is_refused_with_the_code_it_probably_meant(capsys, tree):
    table = tree / "medicare" / "data" / "rvu.csv"
    code, _, err = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-07-01", "--into", str(table),
                       "--codes", "97550,97553,0075T")
    assert code == 2
    assert "97553 is not in PPRRVU2026_Jul_nonQPP-excerpt.csv" in err and "did you mean 97552?" in err


def test_a_code_with_only_modifier_rows_is_refused_as_having_no_global_row():
    release = read_release(EXCERPT)
    release.rows.pop("0075T")
    with pytest.raises(DataFileError, match="0075T has only rows with a modifier"):
        plan_import(release, Path("/nonexistent/rvu.csv"), "2026-07-01", ["0075T"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--effective", "2026-02-30"], "--effective '2026-02-30' is not a date"),
    (["--effective", "2026-07-01", "--confidence", "sure"], "--confidence 'sure' is not one of"),
])
def test_a_bad_date_or_confidence_is_a_usage_error(capsys, tree, argv, message):
    table = tree / "medicare" / "data" / "rvu.csv"
    code, _, err = run(capsys, "import", "rvu", str(EXCERPT), "--into", str(table), *argv)
    assert code == 2 and message in err


def test_a_missing_release_file_or_table_says_which(capsys, tmp_path, monkeypatch):
    code, _, err = run(capsys, "import", "rvu", str(tmp_path / "none.csv"), "--effective", "2026-07-01",
                       "--into", str(tmp_path / "rvu.csv"))
    assert code == 2 and f"file not found: {tmp_path / 'none.csv'}" in err
    monkeypatch.chdir(tmp_path)  # no policies/medicare/data/rvu.csv here
    code, _, err = run(capsys, "import", "rvu", str(EXCERPT), "--effective", "2026-07-01")
    assert code == 2 and "there is no policies/medicare/data/rvu.csv under" in err and "--into" in err


def test_the_fee_schedule_guide_shows_what_the_import_of_the_july_release_prints(capsys, tree, monkeypatch):
    # The guide's scenario: the table had the January rows only, and the July file arrives.
    table = tree / "medicare" / "data" / "rvu.csv"
    kept = [r for r in rows(table) if r["effective_from"] != "2026-07-01"]
    out = io.StringIO()
    writer = csv.DictWriter(out, list(kept[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    table.write_text(out.getvalue(), encoding="utf-8")
    shutil.copy(EXCERPT, tree.parent / "PPRRVU2026_Jul_nonQPP.csv")
    monkeypatch.chdir(tree.parent)
    code, printed, err = run(capsys, "import", "rvu", "PPRRVU2026_Jul_nonQPP.csv", "--effective", "2026-07-01")
    assert code == 0
    guide = (ROOT / "docs" / "fee-schedules.md").read_text(encoding="utf-8")
    shown = guide.split("<!-- import july -->\n```text\n", 1)[1].split("```\n<!-- end import -->", 1)[0]
    assert shown == printed + err
