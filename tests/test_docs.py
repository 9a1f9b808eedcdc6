"""The user documentation in docs/ must not drift from the code.

Conventions in the Markdown, read from each fenced block's info string:

* ```` ```cts ````: policy text; must parse. ```` ```cts expr ````: one expression.
  ```` ```cts check ````: a complete policy; must also pass the checker, with the data
  files given in ```` ```yaml file=PATH ```` (or another language) blocks of the same page.
* ```` ```python ````: in docs/embedding.md, runs from the repository root in a fresh
  namespace; when the next block is ```` ```text output ````, what it prints must match.
* In docs/overlays.md, a tutorial run in an empty folder, in page order: a block with
  `file=PATH` writes that file (a later block for the same path replaces it), and each
  `ctsdsl` line of a ```` ```sh run ```` block runs; the next ```` ```text output ```` block
  must equal what it printed (stdout and stderr together), ```` ```text output-start ```` begin it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from ctsdsl.claims.fields import catalogue
from ctsdsl.language.functions import FUNCTIONS
from ctsdsl.engine.loader import load_text
from ctsdsl.language.parser import parse, parse_expr

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ("index.md", "language.md", "embedding.md", "overlays.md")
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def _blocks(page: str) -> list[tuple[str, list[str], str, int]]:
    """Fenced blocks of a page: (language, attributes, body, line number)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        words = m.group(1).split()
        line = text.count("\n", 0, m.start()) + 1
        out.append((words[0] if words else "", words[1:], m.group(2), line))
    return out


def _doc_pages() -> list[str]:
    return sorted(p.name for p in DOCS.glob("*.md"))


def _cts_blocks():
    for page in _doc_pages():
        for lang, attrs, body, line in _blocks(page):
            if lang == "cts":
                yield pytest.param(page, attrs, body, id=f"{page}:{line}")


def _python_blocks():
    blocks = _blocks("embedding.md")
    for k, (lang, _, body, line) in enumerate(blocks):
        if lang != "python":
            continue
        following = blocks[k + 1] if k + 1 < len(blocks) else None
        expected = following[2] if following and following[0] == "text" and "output" in following[1] else None
        yield pytest.param(body, expected, id=f"embedding.md:{line}")


def test_the_documentation_pages_exist():
    for page in PAGES:
        assert (DOCS / page).is_file(), f"docs/{page} is missing"


@pytest.mark.parametrize(("page", "attrs", "body"), list(_cts_blocks()))
def test_every_cts_block_parses(page, attrs, body):
    if "expr" in attrs:
        parse_expr(body, f"docs/{page}")
    else:
        parse(body, f"docs/{page}")


def test_every_complete_example_policy_passes_the_checker(tmp_path):
    checked = 0
    for page in _doc_pages():
        blocks = _blocks(page)
        for lang, attrs, body, line in blocks:
            if lang != "cts" or "check" not in attrs:
                continue
            folder = tmp_path / f"{Path(page).stem}-{line}"
            folder.mkdir()
            for _, data_attrs, data, _ in blocks:
                for attr in data_attrs:
                    if attr.startswith("file="):
                        target = folder / attr[len("file="):]
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text(data, encoding="utf-8")
            loaded = load_text(body, folder / "example.cts")
            assert not loaded.diagnostics, "\n".join(d.render() for d in loaded.diagnostics)
            checked += 1
    assert checked, "language.md should hold at least one complete, checked example policy"


@pytest.mark.parametrize(("source", "expected"), list(_python_blocks()))
def test_every_python_block_in_the_embedding_guide_runs(source, expected, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "docs/embedding.md", "exec"), {"__name__": "__docs__"})  # noqa: S102
    if expected is not None:
        assert out.getvalue() == expected


def _schema_fields(node: object, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for name, value in node.get("properties", {}).items():
            found.add(name)
            _schema_fields(value, found)
        for key in ("items", "$defs"):
            value = node.get(key)
            if isinstance(value, dict):
                for sub in (value.values() if key == "$defs" else [value]):
                    _schema_fields(sub, found)
    return found


@pytest.mark.parametrize("schema", ["claim.schema.json", "decision.schema.json"])
def test_every_schema_field_is_documented_in_the_embedding_guide(schema):
    with open(ROOT / "schemas" / schema, encoding="utf-8") as fh:
        fields = _schema_fields(json.load(fh), set())
    guide = (DOCS / "embedding.md").read_text(encoding="utf-8")
    missing = sorted(f for f in fields if f"`{f}`" not in guide)
    assert fields and not missing, f"docs/embedding.md does not mention {schema} fields: {missing}"


def test_every_readable_claim_field_is_documented_in_the_language_reference():
    reference = (DOCS / "language.md").read_text(encoding="utf-8")
    missing = [f"{record}.{name}" for record, fields in catalogue().items() for name in fields
               if f"`{name}`" not in reference and f".{name}`" not in reference]
    assert not missing, f"docs/language.md does not list these fields: {missing}"


def test_every_built_in_function_is_documented_in_the_language_reference():
    reference = (DOCS / "language.md").read_text(encoding="utf-8")
    missing = [name for name in FUNCTIONS if f"`{name}(" not in reference]
    assert not missing, f"docs/language.md does not describe these functions: {missing}"


def test_the_index_links_only_to_pages_that_exist():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", index)
    assert links
    for link in links:
        if "://" not in link:
            assert (DOCS / link).exists(), f"docs/index.md links to {link}, which does not exist"



@pytest.mark.parametrize(("call", "ranges"), [
    # The minute ranges docs/language.md gives for each time rule: (first minute, last minute, units).
    (lambda m: FUNCTIONS["midpoint_units"].impl(m, 30), [(0, 15, 0), (16, 45, 1), (46, 75, 2)]),
    (lambda m: FUNCTIONS["midpoint_units"].impl(m, 15), [(0, 7, 0), (8, 22, 1), (23, 37, 2)]),
    (lambda m: FUNCTIONS["midpoint_addon_units"].impl(m, 30, 15), [(0, 37, 0), (38, 52, 1), (53, 67, 2), (68, 82, 3)]),
    (lambda m: FUNCTIONS["eight_minute_units"].impl(m), [(0, 7, 0), (8, 22, 1), (23, 37, 2), (38, 52, 3)]),
], ids=["midpoint-30", "midpoint-15", "midpoint-addon-30-15", "eight-minute"])
def test_the_documented_minute_ranges_of_the_time_rules_hold(call, ranges):
    for first, last, units in ranges:
        assert [call(m) for m in range(first, last + 1)] == [units] * (last - first + 1)


def run_tutorial(page: str, folder: Path):
    """Play a tutorial page in `folder`: (command, expected, kind, printed) for each command."""
    import os
    import shlex

    from ctsdsl.cli import main
    blocks = _blocks(page)
    here = os.getcwd()
    os.chdir(folder)
    try:
        for k, (lang, attrs, body, line) in enumerate(blocks):
            for attr in attrs:
                if attr.startswith("file="):
                    target = folder / attr[len("file="):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(body, encoding="utf-8")
            if lang != "sh" or "run" not in attrs:
                continue
            following = blocks[k + 1] if k + 1 < len(blocks) else None
            kind = next((a for a in following[1] if a.startswith("output")), None) if following else None
            for command in body.splitlines():
                if not command.startswith("ctsdsl "):
                    continue
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    main(shlex.split(command)[1:])
                yield f"{page}:{line}: {command}", following[2] if kind else None, kind, out.getvalue()
    finally:
        os.chdir(here)


def test_the_overlay_tutorial_runs_as_written(tmp_path):
    ran = 0
    for command, expected, kind, printed in run_tutorial("overlays.md", tmp_path):
        ran += 1
        if kind == "output":
            assert printed == expected, command
        elif kind == "output-start":
            assert printed.startswith(expected), command
    assert ran >= 6
