"""docs/sql.md shows real output: the SQL `ctsdsl sql` prints for its small policy, and what
`ctsdsl batch --engine sql` writes for its claims. Both are run again here and must match.

A block the doc generates follows a `<!-- generated: NAME -->` line; its inputs follow
`<!-- input: policy -->` and `<!-- input: claims -->`. After changing the backend, write the
blocks anew with `python tests/test_sql_docs.py`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")
pytest.importorskip("pyarrow")

DOC = Path(__file__).resolve().parent.parent / "docs" / "sql.md"
_BLOCK = re.compile(r"<!-- (input|generated): (\w+) -->\n```(\w*)\n(.*?)```\n", re.S)


def _blocks(text: str) -> dict[tuple[str, str], str]:
    return {(m.group(1), m.group(2)): m.group(4) for m in _BLOCK.finditer(text)}


def _run(folder: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ctsdsl", *args], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def generated(text: str, folder: Path) -> dict[str, str]:
    """Each generated block of the doc `text`, as the commands write it today (run in `folder`)."""
    inputs = _blocks(text)
    (folder / "small.cts").write_text(inputs[("input", "policy")], encoding="utf-8")
    (folder / "claims.jsonl").write_text(inputs[("input", "claims")], encoding="utf-8")
    row = _run(folder, "batch", "claims.jsonl", "--policy", "small.cts", "-q")
    batch = _run(folder, "batch", "claims.jsonl", "--policy", "small.cts", "--engine", "sql", "-q")
    assert batch == row, "the SQL engine must write what the row engine writes"
    return {"sql": _run(folder, "sql", "small.cts"), "batch": batch}


def test_the_sql_and_the_batch_output_in_docs_sql_md_are_what_the_commands_write_today(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    shown = _blocks(text)
    for name, output in generated(text, tmp_path).items():
        assert shown[("generated", name)] == output, \
            f"docs/sql.md's {name} block is out of date: run python tests/test_sql_docs.py"


def _write() -> None:
    import tempfile

    text = DOC.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        fresh = generated(text, Path(folder))

    def replace(m: re.Match) -> str:
        if m.group(1) != "generated":
            return m.group(0)
        return f"<!-- generated: {m.group(2)} -->\n```{m.group(3)}\n{fresh[m.group(2)]}```\n"
    DOC.write_text(_BLOCK.sub(replace, text), encoding="utf-8")


if __name__ == "__main__":
    _write()
