"""What keeps `ctsdsl eval` quick to start (issue 14), checked without timing: what `import ctsdsl` loads,
and the on-disk policy cache, which must never give a decision from stale files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ctsdsl.engine import policy_cache
from ctsdsl.engine.loader import load_file

ROOT = Path(__file__).resolve().parent.parent


def test_import_ctsdsl_loads_no_batch_machinery_and_no_schema_validator():
    code = ("import sys, ctsdsl; print(' '.join(m for m in ('jsonschema', 'ctsdsl.scale.batch', 'pyarrow', 'duckdb') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_a_cached_policy_is_not_used_once_its_data_file_or_parent_changes(tmp_path, monkeypatch):
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(tmp_path / "cache"))
    tree = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "medicare", tree / "medicare")
    child = tree / "medicare" / "cts-2025.cts"
    first = load_file(child)
    again = load_file(child)  # from the cache: the same figures
    assert again.digest == first.digest
    assert any((tmp_path / "cache").glob("policy-*"))
    rvu = next(p for p in (tree / "medicare" / "data").iterdir() if p.name.startswith("rvu"))
    rvu.write_bytes(rvu.read_bytes() + b"\n")  # a data file of the chain changes: read and checked again
    changed = load_file(child)
    assert changed.digest != first.digest
    parent = tree / "medicare" / "cts-2024.cts"
    parent.write_text(parent.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert load_file(child).digest not in (first.digest, changed.digest)


def test_an_unwritable_cache_folder_only_costs_time(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(blocked / "cache"))
    assert policy_cache.cache_dir() is None
    assert load_file(ROOT / "policies" / "medicare" / "cts-2025.cts").header.name == "medicare-cts-2025"
