"""The editor support outside Python: the VS Code extension in editors/vscode and .gitattributes.

The TextMate grammar repeats the language's keywords, built-in functions and types by hand (a
grammar file is JSON, it cannot import them), so these tests hold each list to its source.
Its tokenizing is tested in node by the extension's own tests, run here when node_modules is
installed (`npm ci` in editors/vscode; .ci/run does it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from ctsdsl.language.checker import PARAM_TYPES
from ctsdsl.language.functions import FUNCTIONS

from conftest import ROOT

VSCODE = ROOT / "editors" / "vscode"
TM_GRAMMAR = VSCODE / "syntaxes" / "ctsdsl.tmLanguage.json"
_ALTERNATION = re.compile(r"\\b\(([a-z_|]+)\)")  # `\b(rule|fee)`: a list of words in a pattern


def lark_keywords() -> set[str]:
    """Every word grammar.lark spells out as a literal: the language's keywords."""
    text = (ROOT / "ctsdsl" / "language" / "grammar.lark").read_text(encoding="utf-8")
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    return set(re.findall(r'"([a-z_]+)"', code))


def words_in(entry: object) -> set[str]:
    """The words of every alternation in the patterns of a grammar entry."""
    if isinstance(entry, dict):
        found = set().union(*(words_in(v) for k, v in entry.items() if k != "comment"))
        return found
    if isinstance(entry, list):
        return set().union(*(words_in(v) for v in entry))
    if isinstance(entry, str):
        return {w for group in _ALTERNATION.findall(entry) for w in group.split("|")}
    return set()


@pytest.fixture(scope="module")
def tm_grammar() -> dict:
    return json.loads(TM_GRAMMAR.read_text(encoding="utf-8"))


def test_the_textmate_grammar_highlights_exactly_the_keywords_of_grammar_lark(tm_grammar: dict):
    repository = tm_grammar["repository"]
    highlighted = words_in(repository["declarations"]) | words_in(repository["keywords"])
    assert highlighted == lark_keywords()


def test_the_textmate_grammar_knows_the_built_in_functions_and_parameter_types(tm_grammar: dict):
    assert words_in(tm_grammar["repository"]["functions"]) == set(FUNCTIONS)
    types = re.search(r"\(([a-z|]+)\)\\b$", tm_grammar["repository"]["types"]["match"])
    assert types is not None and set(types.group(1).split("|")) == PARAM_TYPES


def test_the_extension_contributes_the_language_its_grammar_and_configuration():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    [language] = manifest["contributes"]["languages"]
    assert language["extensions"] == [".cts"]
    [grammar] = manifest["contributes"]["grammars"]
    assert (grammar["language"], grammar["scopeName"]) == (language["id"], "source.ctsdsl")
    assert (VSCODE / grammar["path"]).resolve() == TM_GRAMMAR
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in configuration["brackets"]
    settings = manifest["contributes"]["configuration"]["properties"]
    assert settings["ctsdsl.server.command"]["default"] == "ctsdsl"
    assert settings["ctsdsl.server.args"]["default"] == ["lsp"]
    assert (VSCODE / "package-lock.json").is_file()  # npm ci installs exactly what was tested


def test_github_shows_policies_as_text_not_typescript():
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a checkout")
    done = subprocess.run([git, "check-attr", "linguist-language", "--", "policies/medicare/cts-2024.cts"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("linguist-language: Text")


def test_the_grammar_tokenizes_real_policies_as_vs_code_would():
    node = shutil.which("node")
    if node is None or not (VSCODE / "node_modules" / "vscode-textmate").is_dir():
        pytest.skip("needs node and the extension's node_modules: npm ci in editors/vscode")
    done = subprocess.run([node, "--test", "test/"], cwd=VSCODE, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# fail 0$", done.stdout, re.M) and not re.search(r"^# pass 0$", done.stdout, re.M)


def test_the_check_text_example_in_docs_editors_md_prints_what_it_says(tmp_path, monkeypatch, capsys):
    page = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(from ctsdsl.engine.loader import check_text.*?)```\n\nprints\n\n```text\n(.*?)```",
                        page, re.S)
    assert example is not None, "docs/editors.md has lost its check_text example"
    monkeypatch.chdir(tmp_path)  # outside any policies folder: the parent is the bundled one
    exec(compile(example.group(1), "docs/editors.md", "exec"), {"__name__": "__docs__"})  # noqa: S102
    assert capsys.readouterr().out == example.group(2)
