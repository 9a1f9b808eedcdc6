"""`ctsdsl lsp` on an install without the `lsp` extra: a message saying how to get it, never a traceback."""

from __future__ import annotations

import subprocess
import sys

# pygls hidden as on an install without it: None in sys.modules makes every import of it fail.
_WITHOUT = "import sys; sys.modules[{name!r}] = None; from ctsdsl.cli import main; sys.exit(main(['lsp']))"


def run_without(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _WITHOUT.format(name=name)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_lsp_without_pygls_says_how_to_install_the_extra_and_exits_2():
    done = run_without("pygls")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "the language server needs pygls, which is not installed" in done.stderr
    assert "pip install 'ctsdsl[lsp]'" in done.stderr


def test_lsp_without_lsprotocol_says_the_same():
    done = run_without("lsprotocol")
    assert done.returncode == 2
    assert "needs lsprotocol" in done.stderr and "pip install 'ctsdsl[lsp]'" in done.stderr
