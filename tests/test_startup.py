"""What keeps `ctsdsl eval` quick to start (issue 14), checked without timing: what `import ctsdsl` loads,
and the on-disk policy cache, which must never give a decision from stale files."""

from __future__ import annotations

import dataclasses
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctsdsl import _resources
from ctsdsl.engine import policy_cache
from ctsdsl.engine.evaluator import Evaluator
from ctsdsl.engine.loader import load_file
from ctsdsl.engine.runtime import UNSET
from ctsdsl.errors import CtsdslError

ROOT = Path(__file__).resolve().parent.parent


def test_import_ctsdsl_loads_no_batch_machinery_and_no_schema_validator():
    modules = ("jsonschema", "ctsdsl.scale.batch", "pyarrow", "duckdb", "importlib.resources")
    code = f"import sys, ctsdsl; print(' '.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_a_claim_decided_from_the_policy_cache_never_loads_the_parser_checker_compiler_or_yaml(tmp_path):
    # Each is only needed to make what the cache keeps: once every bundled policy is in it, `ctsdsl eval`
    # of a JSON claim imports none of them (issue 14: cold eval <= 150 ms).
    env = {"PATH": "", "CTSDSL_CACHE_DIR": str(tmp_path / "cache")}
    claim = str(ROOT / "examples" / "claims" / sorted(p.name for p in (ROOT / "examples" / "claims").glob("*.json"))[0])
    heavy = ("lark", "yaml", "ctsdsl.language.checker", "ctsdsl.engine.compiler")
    code = ("import sys; from ctsdsl.cli import main; code = main(['eval', sys.argv[1]]); "
            f"print('LOADED', [m for m in {heavy!r} if m in sys.modules], file=sys.stderr); sys.exit(code)")
    runs = [subprocess.run([sys.executable, "-c", code, claim], capture_output=True, text=True, cwd=ROOT, env=env)
            for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0]
    assert "'ctsdsl.engine.compiler'" in runs[0].stderr  # the first run parses, checks and compiles: the cache fills
    assert "LOADED []" in runs[1].stderr
    assert runs[1].stdout == runs[0].stdout


def test_an_evaluator_from_a_kept_program_decides_as_one_compiled_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path / "cache"))
    loaded = load_file(ROOT / "policies" / "medicare" / "cts-2024.cts")
    fresh = Evaluator(loaded.checked, loaded.info(), str(loaded.path), loaded.layer_names())
    loaded.evaluator()  # compiles, and keeps the program
    assert len(list((tmp_path / "cache").glob("program-*"))) == 1
    kept = loaded.evaluator()  # the program read back, not generated
    assert kept.source == fresh.source
    read = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "examples" / "claims").glob("*.json"))]
    claims = [c for c in read if isinstance(c, dict) and c.get("payer") == "medicare"
              and c["date_of_service"].startswith("2024")]
    assert len(claims) >= 3
    for claim in claims:
        assert kept.evaluate(claim).to_dict() == fresh.evaluate(claim).to_dict()


def test_a_changed_copy_of_a_loaded_policy_never_finds_the_originals_program(tmp_path, monkeypatch):
    # A test case's what-if rows give a copy with other tables but the same files: its program is its own.
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path / "cache"))
    loaded = load_file(ROOT / "policies" / "medicare" / "cts-2024.cts")
    changed = dataclasses.replace(loaded, checked=dataclasses.replace(loaded.checked, tables=dict(loaded.checked.tables)))
    assert changed.keyed_checked is None
    changed.evaluator()
    assert not list((tmp_path / "cache").glob("program-*"))
    loaded.evaluator()
    assert len(list((tmp_path / "cache").glob("program-*"))) == 1


def test_the_unset_marker_of_a_kept_program_is_still_the_runtimes_own():
    # Generated code tells a dated parameter without a value by identity (`is _U`): a copy would
    # read as a value and decide silently wrong.
    assert pickle.loads(pickle.dumps([UNSET])) == [UNSET] and pickle.loads(pickle.dumps(UNSET)) is UNSET


def test_a_cached_policy_or_program_is_not_used_once_its_data_file_or_parent_changes(tmp_path, monkeypatch):
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path / "cache"))
    tree = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "medicare", tree / "medicare")
    child = tree / "medicare" / "cts-2025.cts"
    first = load_file(child)
    first.evaluator()  # its compiled program kept too
    again = load_file(child)  # from the cache: the same figures
    assert again.digest == first.digest
    assert any((tmp_path / "cache").glob("policy-*"))
    rvu = next(p for p in (tree / "medicare" / "data").iterdir() if p.name.startswith("rvu"))
    rvu.write_bytes(rvu.read_bytes() + b"\n")  # a data file of the chain changes: read and checked again
    changed = load_file(child)
    assert changed.digest != first.digest
    assert changed.program_key() != first.program_key()
    changed.evaluator()
    assert len(list((tmp_path / "cache").glob("program-*"))) == 2
    parent = tree / "medicare" / "cts-2024.cts"
    parent.write_text(parent.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert load_file(child).digest not in (first.digest, changed.digest)


def test_an_unwritable_cache_folder_only_costs_time(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(blocked / "cache"))
    assert policy_cache.cache_dir() is None
    assert load_file(ROOT / "policies" / "medicare" / "cts-2025.cts").header.name == "medicare-cts-2025"


def test_bundled_files_are_found_inside_an_installed_package_first(tmp_path, monkeypatch):
    # A wheel carries them in ctsdsl/_data (pyproject.toml's force-include); they are found by path, without
    # importlib.resources, which only a zipped install needs.
    installed = tmp_path / "site-packages" / "ctsdsl"
    (installed / "_data" / "policies").mkdir(parents=True)
    monkeypatch.setattr(_resources, "PACKAGE_DIR", installed)
    assert _resources.policies_dir() == installed / "_data" / "policies"
    with pytest.raises(CtsdslError) as raised:
        _resources.schema_path("claim.schema.json")
    assert raised.value.diagnostics[0].code == "missing-resource"
    assert str(installed / "_data" / "schemas") in raised.value.diagnostics[0].hint


def test_generated_code_is_compiled_once_and_a_changed_or_damaged_entry_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path / "cache"))
    source, other = "def evaluate(c):\n    return c + 1\n", "def evaluate(c):\n    return c + 2\n"
    first = policy_cache.compiled(source, "<compiled policy>")
    [entry] = (tmp_path / "cache").glob("code-*")
    calls: list[str] = []
    real = compile
    monkeypatch.setattr(policy_cache, "compile", lambda *a: calls.append(a[0]) or real(*a), raising=False)
    again = policy_cache.compiled(source, "<compiled policy>")
    assert calls == [] and again.co_code == first.co_code and again is not first
    assert policy_cache.compiled(other, "<compiled policy>").co_consts != first.co_consts
    assert calls == [other]
    entry.write_bytes(entry.read_bytes()[:40])  # truncated: compiled again, no error
    scope: dict = {}
    exec(policy_cache.compiled(source, "<compiled policy>"), scope)
    assert scope["evaluate"](1) == 2 and calls == [other, source]


def test_an_evaluator_built_from_cached_code_decides_as_one_compiled_afresh(tmp_path, monkeypatch):
    claim = json.loads((ROOT / "examples" / "claims" / "typical.json").read_text(encoding="utf-8"))
    path = ROOT / "policies" / "medicare" / "cts-2024.cts"  # the claim's
    monkeypatch.setenv(policy_cache.CACHE_ENV, "")
    fresh = load_file(path).evaluator()
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path / "cache"))
    load_file(path).evaluator()
    cached = load_file(path).evaluator()
    assert any((tmp_path / "cache").glob("code-*"))
    assert cached.source == fresh.source
    assert cached.evaluate(claim).to_dict() == fresh.evaluate(claim).to_dict()
    assert cached.trace(claim)[1] == fresh.trace(claim)[1]


def _tokenize_wrapped(line: str) -> list[str]:
    """The line breaking the compiler did with `tokenize` until issue 14, as the oracle of its faster scanner."""
    import io
    import tokenize
    from ctsdsl.engine.compiler import _WIDTH
    if len(line) <= _WIDTH:
        return [line]
    tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    indent = len(line) - len(line.lstrip(" ")) + 8
    breaks, depth = [], 0
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif depth > 0 and tok.type == tokenize.OP and tok.string == ",":
            breaks.append(tok.end[1])
        elif depth > 0 and tok.type == tokenize.NAME and tok.string in ("and", "or", "if", "else", "for"):
            breaks.append(tok.start[1])
    out: list[str] = []
    start, last = 0, None
    for b in breaks:
        if b - start > _WIDTH - (indent if out else 0) and last is not None and last > start:
            out.append(line[start:last].rstrip())
            start = last
        last = b
    if len(line) - start > _WIDTH - indent and last is not None and last > start:
        out.append(line[start:last].rstrip())
        start = last
    out.append(line[start:])
    return [out[0]] + [" " * indent + part.lstrip() for part in out[1:]]


def test_generated_lines_break_where_tokenize_would_break_them(monkeypatch):
    from ctsdsl.engine import compiler
    seen: list[str] = []
    real = compiler._wrapped
    monkeypatch.setattr(compiler, "_wrapped", lambda line: seen.append(line) or real(line))
    for path in sorted((ROOT / "policies").rglob("*.cts")):
        checked = load_file(path).checked
        for trace in (False, True):
            compiler.Compiler(checked, trace=trace).generate()
    assert sum(len(line) > compiler._WIDTH for line in seen) > 100
    for line in seen:
        assert real(line) == _tokenize_wrapped(line), line
