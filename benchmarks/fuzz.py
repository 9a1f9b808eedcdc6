"""Run the property checks of tests/test_properties.py, and the command line on hostile inputs, for
longer; print how many inputs failed.

    python benchmarks/fuzz.py                   # 1000 examples per check
    python benchmarks/fuzz.py --examples 20000  # longer
    python benchmarks/fuzz.py --only claims     # one check: policy-text, policy-load, claims, cli-policy, cli-claim

The suite runs each check on a few dozen inputs so it stays fast; this script runs the
same strategies and the same checks on as many as you ask, carries on past a failure
(Hypothesis alone would stop at the first and shrink it), and prints, per check, the
inputs tried, the inputs that failed, and the first few failures. It exits 1 if any failed.

An input fails when its check raises, and also:

* `cli-policy` and `cli-claim` run the real command line (`ctsdsl check`, `ctsdsl eval`,
  in-process) on mutated policy files and on claims mutated at the character level (digits of
  other scripts, control and bidi characters, huge numbers, cut-offs); exit 70, an internal
  error, is a failure, as is a traceback in the output;
* an input whose check takes more than --outlier times the check's median, and at least
  --floor seconds, is a wall-time outlier, and a failure too: the cost of every input is to be
  bounded by its size (issue 16 found a 338-byte policy that took 30 s to compile).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_properties as props  # noqa: E402 - the tests folder is not a package

from ctsdsl.cli import EXIT_INTERNAL  # noqa: E402
from ctsdsl.cli import main as ctsdsl  # noqa: E402

# Characters a hostile claim is edited with: digits of other scripts, controls, bidi, quotes, numbers.
HOSTILE = ["١", "５", "\x1b[2J", "\r", "\u202e", "\u200b", "\udc80", '"', "\\", "{", "}", "[", "]", ",", ":",
           "1e999999999", "9" * 40, "-", ".", "0x_", "1_0", "NaN", "null", "true", "\n", "\x00", "é"]
_WORK: dict[str, Path] = {}


def _workdir() -> Path:
    """A scratch folder holding a copy of the bundled policies, so that mutated files find their data."""
    if "root" not in _WORK:
        root = Path(tempfile.mkdtemp(prefix="ctsdsl-fuzz-"))
        shutil.copytree(props.POLICIES.parent, root / "policies")
        _WORK["root"] = root
    return _WORK["root"]


def _cli(argv: list[str]) -> None:
    """Run the command line in-process; raise if it exits 70 or prints a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = ctsdsl(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    said = out.getvalue() + err.getvalue()
    if code == EXIT_INTERNAL or "Traceback" in said:
        raise AssertionError(f"exit {code}:\n{said[-1500:]}")


def check_cli_policy(case: tuple[str, str]) -> None:
    name, text = case
    path = _workdir() / "policies" / props.POLICIES.name / f"fuzz-{name}"
    path.write_text(text, encoding="utf-8")
    _cli(["check", str(path)])


@st.composite
def hostile_claims(draw) -> str:
    """A valid claim's JSON with a few characters replaced, inserted or cut."""
    text = json.dumps(draw(props.valid_claims()), ensure_ascii=False)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "replace", "cut", "digits"]))
        piece = draw(st.sampled_from(HOSTILE))
        if kind == "insert":
            text = text[:i] + piece + text[i:]
        elif kind == "replace":
            text = text[:i] + piece + text[i + 1:]
        elif kind == "cut":
            text = text[:i]
        else:  # a number made huge or foreign in place
            text = text[:i] + piece + text[i:].lstrip("0123456789")
    return text


def check_cli_claim(text: str) -> None:
    path = _workdir() / "claim.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))  # \udc80 becomes the byte 0x80: not UTF-8
    _cli(["eval", str(path)])


CHECKS = {
    "policy-text": (props.mutated_policies(), lambda case: props.check_policy_text(case[1])),
    "policy-load": (props.mutated_policies(), lambda case: props.check_policy_load(*case)),
    "claims": (props.valid_claims(), props.check_claim),
    "cli-policy": (props.mutated_policies(), check_cli_policy),
    "cli-claim": (hostile_claims(), check_cli_claim),
}


def run(name: str, examples: int, shown: int, outlier: float, floor: float) -> tuple[int, int]:
    strategy, check = CHECKS[name]
    timed: list[tuple[float, object]] = []
    failures = []

    # Generate only: no shrinking, no example database, so every input counts once.
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def each(case):
        start = time.perf_counter()
        try:
            check(case)
        except Exception:  # noqa: BLE001 - a fuzzer records every failure and carries on
            failures.append((case, traceback.format_exc(limit=3)))
        timed.append((time.perf_counter() - start, case))

    start = time.perf_counter()
    each()
    elapsed = time.perf_counter() - start
    median = statistics.median(t for t, _ in timed) if timed else 0.0
    limit = max(floor, outlier * median)
    slow = sorted(((t, case) for t, case in timed if t > limit), key=lambda tc: -tc[0])
    failures += [(case, f"wall-time outlier: {t:.2f} s, the median is {median * 1000:.1f} ms (limit {limit:.2f} s)")
                 for t, case in slow]
    print(f"{name}: {len(timed)} inputs tried, {len(failures)} failed ({len(slow)} wall-time outliers), "
          f"median {median * 1000:.1f} ms, slowest {max((t for t, _ in timed), default=0):.2f} s ({elapsed:.1f} s)")
    for case, trace in failures[:shown]:
        print(f"  input: {case!r}"[:600])
        print("  " + trace.strip().replace("\n", "\n  "))
    return len(timed), len(failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="inputs per check (default 1000)")
    parser.add_argument("--only", choices=sorted(CHECKS), action="append", help="run only this check (repeatable)")
    parser.add_argument("--show", type=int, default=3, help="failures to print per check (default 3)")
    parser.add_argument("--outlier", type=float, default=50.0,
                        help="an input slower than this many times its check's median is a failure (default 50)")
    parser.add_argument("--floor", type=float, default=2.0,
                        help="... and slower than this many seconds (default 2: a loaded machine is not a bug)")
    args = parser.parse_args(argv)
    total_tried = total_failed = 0
    try:
        for name in args.only or CHECKS:
            tried, failed = run(name, args.examples, args.show, args.outlier, args.floor)
            total_tried += tried
            total_failed += failed
    finally:
        if "root" in _WORK:
            shutil.rmtree(_WORK["root"], ignore_errors=True)
    print(f"total: {total_tried} inputs tried, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
