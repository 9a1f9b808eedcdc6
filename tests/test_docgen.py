"""The policy pages in docs/policies are generated from the policy files and must not drift."""

from pathlib import Path

import pytest

from ctsdsl import _resources
from ctsdsl.cli import main
from ctsdsl.review.docgen import generate
from ctsdsl.engine.loader import load_file

ROOT = Path(__file__).resolve().parent.parent


def _pages():
    files = sorted(_resources.policies_dir().rglob("*.cts"))
    return generate([load_file(f) for f in files], _resources.policies_dir().parent)


def test_the_committed_policy_pages_match_the_policy_files():
    for name, text in _pages().items():
        committed = ROOT / "docs" / "policies" / name
        assert committed.is_file(), f"{committed} is missing: run `ctsdsl docs`"
        assert committed.read_text(encoding="utf-8") == text, f"{committed} is stale: run `ctsdsl docs`"


def test_each_year_page_lists_every_rule_with_its_sources():
    pages = _pages()
    page_2025 = pages["medicare-cts-2025.md"]
    assert "`addon_without_primary` (from policies/medicare/cts-2024.cts)" in page_2025
    assert "`telehealth_not_covered` (overridden here)" in page_2025
    assert "https://asha.org/news/2024/medicare-issues-2025-final-payment-policies-for-outpatient-services" in page_2025
    assert "$32.3465" in page_2025


def test_docs_check_fails_when_a_page_is_stale(tmp_path, capsys):
    out = tmp_path / "pages"
    assert main(["docs", "-o", str(out)]) == 0
    assert main(["docs", "--check", "-o", str(out)]) == 0
    (out / "medicare-cts-2024.md").write_text("edited by hand\n", encoding="utf-8")
    assert main(["docs", "--check", "-o", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_an_overlay_page_lists_the_rules_it_switches_off_with_the_reason_and_source(tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    overlay = folder / "acme.cts"
    overlay.write_text(
        'policy "acme-2025" {\n  title "Acme"\n  payer "acme"\n  version "1"\n'
        '  effective 2025-01-01 to 2025-12-31\n  extends "medicare-cts-2025"\n}\n\n'
        'source acme_terms {\n  title "Acme provider manual"\n  url "https://example.org/acme"\n}\n\n'
        'disable same_day_individual_and_group because "Acme does not use this warning." cites acme_terms\n',
        encoding="utf-8")
    page = generate([load_file(overlay)], tmp_path)["acme-2025.md"]
    section = page.split("## Rules switched off", 1)[1].split("##", 1)[0]
    assert "`same_day_individual_and_group`: Acme does not use this warning." in section
    assert "Acme provider manual" in section


def test_docs_check_tells_missing_pages_from_stale_ones_and_says_how_to_write_them(tmp_path, capsys):
    out = tmp_path / "pages"
    assert main(["docs", "-o", str(out)]) == 0
    (out / "medicare-cts-2024.md").write_text("edited by hand\n", encoding="utf-8")
    (out / "index.md").unlink()
    capsys.readouterr()
    assert main(["docs", "--check", "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"{out / 'index.md'} is missing" in captured.err
    assert f"{out / 'medicare-cts-2024.md'} is out of date" in captured.err
    assert f"hint: write them with `ctsdsl docs -o {out}`" in captured.err
    assert "1 missing, 1 out of date" in captured.out


def test_docs_check_of_pages_never_written_says_where_it_looked_and_to_pass_o(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no docs/policies here
    examples = str(ROOT / "policies" / "examples")
    assert main(["docs", examples, "--check"]) == 1
    err = capsys.readouterr().err
    assert "docs/policies/index.md is missing" in err and "out of date" not in err
    assert f"write them with `ctsdsl docs {examples}`" in err and "pass -o FOLDER" in err


@pytest.mark.parametrize("check", [[], ["--check"]])
def test_docs_output_that_is_a_file_exits_2_saying_it_must_be_a_folder(tmp_path, capsys, check):
    afile = tmp_path / "afile"
    afile.touch()
    assert main(["docs", str(ROOT / "policies" / "examples"), "-o", str(afile), *check]) == 2
    err = capsys.readouterr().err
    assert "the pages go in a folder" in err and "internal error" not in err


def test_docs_output_that_cannot_be_made_exits_2_naming_it(tmp_path, capsys):
    (tmp_path / "afile").touch()
    assert main(["docs", str(ROOT / "policies" / "examples"), "-o", str(tmp_path / "afile" / "pages")]) == 2
    assert f"cannot write the pages to {tmp_path / 'afile' / 'pages'}" in capsys.readouterr().err


@pytest.mark.parametrize(("names", "pages"), [
    (["../../README"], ["README.md"]),
    (["/tmp/outside"], ["tmp-outside.md"]),
    (["index", "INDEX"], ["index-2.md", "INDEX-3.md"]),
    (["a/b", "a-b", "A-B"], ["a-b.md", "a-b-2.md", "A-B-3.md"]),
    (["..", ".hidden"], ["policy.md", "hidden.md"]),
])
def test_page_names_are_plain_files_in_the_output_folder_whatever_the_policy_is_called(tmp_path, capsys, names,
                                                                                        pages):
    # Issue 16: a policy named ../../README overwrote the repository's README; one named index lost its page
    folder = tmp_path / "policies"
    folder.mkdir()
    for k, name in enumerate(names):
        (folder / f"p{k}.cts").write_text(
            f'policy "{name}" {{\n  payer "payer{k}"\n  version "1"\n  effective 2024-01-01\n  governs "97550"\n}}\n'
            'source s {\n  title "t"\n  url "https://example.org"\n}\n', encoding="utf-8")
    out = tmp_path / "deep" / "er" / "pages"
    assert main(["docs", str(folder), "-o", str(out)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == sorted(pages + ["index.md"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "policies"]  # nothing written beside
    assert not (tmp_path / "deep" / "README.md").exists() and not Path("/tmp/outside.md").exists()
    index = (out / "index.md").read_text(encoding="utf-8")
    assert all(f"]({page})" in index for page in pages)
