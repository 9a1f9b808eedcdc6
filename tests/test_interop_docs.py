"""docs/interop.md runs as written: its files are written, its commands run, their output compared."""

from __future__ import annotations

import pytest

from test_docs import run_tutorial

pytest.importorskip("pyx12")
pytest.importorskip("fhir.resources")


def test_the_interop_page_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1714608000")  # the ClaimResponse's created date, as the page shows
    ran = 0
    for command, expected, kind, printed in _with_bad_interchange(run_tutorial("interop.md", tmp_path), tmp_path):
        ran += 1
        if kind == "output":
            assert printed == expected, command
        elif kind == "output-start":
            assert printed.startswith(expected), command
    assert ran == 5


def _with_bad_interchange(steps, folder):
    """The page derives bad.837 from claims.837 in a sentence; make it so before its command runs."""
    for step in steps:
        yield step
        claims = folder / "claims.837"
        if claims.exists():
            (folder / "bad.837").write_text(claims.read_text().replace("UN*2***1", "UN*TWO***1"))
