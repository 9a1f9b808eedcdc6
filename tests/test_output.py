"""Where batch output goes: never onto the claims or onto itself, regular files replaced whole with the
permissions a file should have, FIFOs and devices streamed, a full disk named for the file that filled."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from ctsdsl.scale import batch
from ctsdsl import cli

from test_batch import good, run


@pytest.fixture
def claims(tmp_path) -> Path:
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join([good(1), json.dumps({"id": "bad"}), good(3)]) + "\n", encoding="utf-8")
    return path


def test_output_and_errors_naming_one_file_are_refused_before_anything_is_read(capsys, tmp_path, claims):
    # Issue 16: the errors replaced the decisions, and 19 825 decisions were lost
    same = tmp_path / "all.jsonl"
    same.write_text("the previous run\n", encoding="utf-8")
    code, _, err = run(capsys, "batch", str(claims), "-o", str(same), "--errors", str(same))
    assert code == 2 and "-o and --errors both name" in err
    assert same.read_text() == "the previous run\n"


@pytest.mark.parametrize("flag", ["-o", "--errors"])
def test_an_output_naming_the_claim_file_is_refused_and_the_claims_are_left_whole(capsys, tmp_path, claims, flag):
    before = claims.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(claims)
    for target in (claims, link):
        code, _, err = run(capsys, "batch", str(claims), flag, str(target))
        assert code == 2 and "is the claim file itself" in err
    assert claims.read_bytes() == before


def test_a_new_output_file_gets_the_permissions_the_umask_gives_a_new_file(tmp_path, claims):
    # mkstemp's 0600 used to become the output's mode
    old = os.umask(0o027)
    try:
        batch.run_batch(claims, output=tmp_path / "d.jsonl")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d.jsonl").stat().st_mode) == 0o640


def test_an_existing_output_file_keeps_its_permissions_when_it_is_replaced(tmp_path, claims):
    out = tmp_path / "d.jsonl"
    out.write_text("the previous run\n", encoding="utf-8")
    out.chmod(0o604)
    batch.run_batch(claims, output=out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o604 and out.read_text().count("\n") == 2


def test_an_output_through_a_symbolic_link_replaces_the_links_target_and_keeps_the_link(tmp_path, claims):
    target, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    target.write_text("the previous run\n", encoding="utf-8")
    link.symlink_to(target)
    batch.run_batch(claims, output=link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert [json.loads(line)["claim_id"] for line in target.read_text().splitlines()] == ["c-1", "c-3"]


def test_an_output_that_is_a_fifo_is_written_as_a_stream_not_replaced_by_a_file(tmp_path, claims):
    fifo = tmp_path / "decisions.fifo"
    os.mkfifo(fifo)
    read: list[str] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    batch.run_batch(claims, output=fifo)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [json.loads(line)["claim_id"] for line in read[0].splitlines()] == ["c-1", "c-3"]


def test_dev_null_may_take_both_the_decisions_and_the_errors(capsys, claims):
    code, _, err = run(capsys, "batch", str(claims), "-o", os.devnull, "--errors", os.devnull, "-q")
    assert code == 2 and "claims.jsonl:2" in err  # the bad record is still reported
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # and /dev/null is still a device


needs_dev_full = pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="no /dev/full here")


@needs_dev_full
def test_a_full_disk_under_errors_names_the_errors_file_and_leaves_the_output_as_it_was(capsys, tmp_path, claims):
    # Every write to /dev/full fails as a full disk does (ENOSPC); it was reported as the decisions file
    out = tmp_path / "d.jsonl"
    out.write_text("the previous run\n", encoding="utf-8")
    code, _, err = run(capsys, "batch", str(claims), "-o", str(out), "--errors", "/dev/full")
    assert code == 2 and "cannot write or read /dev/full: No space left on device" in err
    assert out.read_text() == "the previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.jsonl", "d.jsonl"]  # no temporary file


@needs_dev_full
@pytest.mark.parametrize("command", ["eval", "batch"])
def test_a_full_standard_output_is_a_clear_error_not_an_internal_one(capsys, monkeypatch, tmp_path, command):
    claim = tmp_path / ("c.json" if command == "eval" else "c.jsonl")
    claim.write_text(good(1) + "\n", encoding="utf-8")
    with open("/dev/full", "w", encoding="utf-8") as full:
        monkeypatch.setattr("sys.stdout", full)
        code = cli.main([command, str(claim)])
    err = capsys.readouterr().err
    assert code == 2 and "standard output: No space left on device" in err and "internal error" not in err


def test_a_claim_file_whose_name_is_not_utf8_is_decided_and_its_errors_written(capsys, tmp_path):
    name = os.fsdecode(b"claims-\xff.jsonl")  # a lone surrogate in the str: not writable as UTF-8 as it is
    path = tmp_path / name
    path.write_text(good(1) + "\n" + json.dumps({"id": "bad"}) + "\n", encoding="utf-8")
    errors = tmp_path / "e.jsonl"
    code, _, err = run(capsys, "batch", str(path), "-o", str(tmp_path / "d.jsonl"), "--errors", str(errors))
    assert code == 2 and "claims-\\xff.jsonl:2" in err
    (record,) = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    assert record["location"].endswith("claims-\\xff.jsonl:2")


def test_the_last_record_without_a_line_end_is_said_even_when_quiet(capsys, tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_text(good(1) + "\n" + good(2), encoding="utf-8")  # cut off after the second record's text
    code, _, err = run(capsys, "batch", str(path), "-o", str(tmp_path / "d.jsonl"), "-q")
    assert code == 0
    assert "cut.jsonl: the last record (line 2) has no line end: if the file was cut short" in err
    path.write_text(good(1) + "\n" + good(2) + "\n", encoding="utf-8")
    assert "no line end" not in run(capsys, "batch", str(path), "-o", str(tmp_path / "d.jsonl"), "-q")[2]
