"""The loader's walk of policy folders: any depth, no loops, the same files `Path.rglob` finds."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ctsdsl.cli import main
from ctsdsl.engine.loader import find_files

from conftest import policy_text


def deep_folder(root: Path, depth: int) -> Path:
    """root/d/d/.../d, `depth` levels, made one level at a time (os.makedirs recurses too)."""
    here = root
    for _ in range(depth):
        here = here / "d"
        os.mkdir(here)
    return here


@pytest.fixture
def deep(tmp_path):
    """A folder `policies` a hundred levels deeper than Python's recursion limit, removed afterwards
    level by level: shutil.rmtree recurses too, and pytest's clean-up of old runs would fail on it."""
    (tmp_path / "policies").mkdir()
    bottom = deep_folder(tmp_path / "policies", sys.getrecursionlimit() + 100)
    yield bottom
    here = bottom
    while here != tmp_path:
        for entry in here.iterdir():
            entry.unlink()
        here.rmdir()
        here = here.parent


def test_a_tree_deeper_than_the_recursion_limit_is_walked_and_its_policies_checked(tmp_path, deep, capsys):
    # Issue 16: rglob recursed once per level, and a deep tree ended in RecursionError (exit 70)
    (deep / "p.cts").write_text(policy_text(""), encoding="utf-8")
    assert find_files(tmp_path) == [deep / "p.cts"]
    assert main(["check", str(tmp_path / "policies")]) == 0
    assert "checked 1 policy file(s): 0 error(s)" in capsys.readouterr().out


def test_the_walk_finds_what_rglob_finds_and_does_not_follow_a_linked_folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("x.cts", "a/y.cts", "a/b/z.cts", "a/b/notes.txt", "a/.hidden.cts"):
        (tmp_path / name).write_text("", encoding="utf-8")
    (tmp_path / "a" / "b" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert find_files(tmp_path) == sorted(tmp_path.rglob("*.cts"))
    assert find_files(tmp_path, recursive=False) == [tmp_path / "x.cts"]
    assert find_files(tmp_path, (".txt",)) == [tmp_path / "a" / "b" / "notes.txt"]
