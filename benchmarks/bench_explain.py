"""How evaluate's and explain's cost grow with a claim's lines, from 1 to 1000.

Run from the repository root:

    python benchmarks/bench_explain.py

The claim is the bundled example's lines repeated (1 to 1000 lines, the schema's most), so every
line shares its let values with half of the others: the shape that made explain quadratic (issue
16). For `ctsdsl.evaluate` (validate, decide, build the decision), for explain (traced
evaluation plus the text it prints) and for explain's JSON (traced evaluation, `to_dict` and the
indented JSON `ctsdsl explain --format json` prints), prints the best of three runs per size,
explain's peak memory and output per line, the growth exponent between sizes and the exponent
fitted over all of them (least squares on log time against log lines; 1.0 is linear, issue 14's
target is at most 1.1).

    python benchmarks/bench_explain.py --instructions

counts instructions instead (valgrind's callgrind, as benchmarks/instructions.py does): the text
explain at each size, as a process doing it less the same process without it. On a shared 2-core
machine the timed fit moves by 0.1 with other work (the large sizes suffer more than the small);
the counted one does not, though it cannot see the cache misses a large claim adds.

The claim's decision changes as it grows: one or two lines are paid; from three the units of a
code on the date exceed its MUE (a denial on every line), and from about 30 the claim's therapy
spend passes the KX threshold, whose rule reads the spend of every line (its first eight values
of each label). So a line of a long claim has more to explain than the one line of a short one
(the output column: 1.2 kB a line, then 4.6 from 100 lines): the exponent above 1.0 between 10
and 100 lines is mostly that.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ctsdsl.api import bundled, evaluate  # noqa: E402
from ctsdsl.report.explain import Explanation  # noqa: E402
from ctsdsl.report.render import render_explain  # noqa: E402

SIZES = (1, 10, 100, 300, 1000)
TARGET = 1.1


def claim_of(lines: int) -> dict:
    base = json.loads((ROOT / "examples" / "claims" / "typical.json").read_text(encoding="utf-8"))
    claim = copy.deepcopy(base)
    claim["lines"] = [copy.deepcopy(base["lines"][i % len(base["lines"])]) for i in range(lines)]
    return claim


def explain(evaluator, claim: dict) -> str:
    decision, evaluations = evaluator.trace(claim, validate=False)
    return render_explain(decision, evaluations)


def explain_json(evaluator, claim: dict) -> str:
    decision, evaluations = evaluator.trace(claim, validate=False)
    # chain=(): the overlay chain read from the policy's file costs the same at any size
    return json.dumps(Explanation(decision, tuple(evaluations), evaluator, chain=()).to_dict(), indent=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind, not time")
    parser.add_argument("--work", type=int, nargs=2, metavar=("LINES", "RUNS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.work:
        _work(*args.work)
        return 0
    if args.instructions:
        return _instructions()
    evaluator = bundled().evaluator_for(claim_of(1))
    explain(evaluator, claim_of(3))  # compile the traced evaluator outside the timings
    evaluate(claim_of(3))
    claims = {lines: claim_of(lines) for lines in SIZES}
    print("ctsdsl.evaluate (validate, decide, the decision) of the example claim repeated")
    _growth([min(_timed(evaluate, claims[lines]) for _ in range(5)) for lines in SIZES], {})
    for name, run in (("explain (traced evaluation + text)", explain),
                      ("explain --format json (traced evaluation + to_dict + indented JSON)", explain_json)):
        print(f"{name} of the example claim repeated")
        peaks = {}
        for lines in SIZES:
            tracemalloc.start()
            size = len(run(evaluator, claims[lines]))
            peaks[lines] = (tracemalloc.get_traced_memory()[1], size / lines)
            tracemalloc.stop()
        _growth([min(_timed(lambda c: run(evaluator, c), claims[lines]) for _ in range(3)) for lines in SIZES], peaks)
    return 0


def _work(lines: int, runs: int) -> None:
    """The counted process: compile and warm up, build every size's claim, then explain one size `runs` times."""
    evaluator = bundled().evaluator_for(claim_of(1))
    explain(evaluator, claim_of(3))
    claims = {size: claim_of(size) for size in SIZES}
    for _ in range(runs):
        explain(evaluator, claims[lines])


def _instructions() -> int:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt install valgrind)")
    # Small sizes run more often, so that each difference is well above the run-to-run noise.
    runs = {lines: max(1, 300 // lines) for lines in SIZES}
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict and set orders in every process

    def count(lines: int, n: int) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", sys.executable,
                                  __file__, "--work", str(lines), str(n)],
                                 capture_output=True, text=True, cwd=ROOT, check=True, env=env)
        found = re.search(r"Collected : (\d+)", run.stderr)
        if found is None:
            raise SystemExit(f"valgrind gave no count:\n{run.stderr[-2000:]}")
        return int(found.group(1))

    count(1, 0)  # fills the policy cache, so that every counted process reads it alike
    base = count(1, 0)
    print("explain (traced evaluation + text) of the example claim repeated, instructions per explain")
    per = [(count(lines, runs[lines]) - base) / runs[lines] for lines in SIZES]
    _growth(per, {}, unit=("M instructions", 1e-6))
    return 0


def _growth(times: list[float], peaks: dict[int, tuple[int, float]], unit: tuple[str, float] = ("ms", 1000)) -> None:
    """Each size's time (and peak memory, output per line), the exponent between sizes and the one fitted over all."""
    for lines, best in zip(SIZES, times):
        peak = ""
        if lines in peaks:
            peak = f"  peak {peaks[lines][0] / 1e6:>6.1f} MB  output {peaks[lines][1] / 1000:>5.1f} kB/line"
        print(f"  {lines:>5} lines  {best * unit[1]:>10.3f} {unit[0]}{peak}")
    for (a, ta), (b, tb) in zip(zip(SIZES, times), list(zip(SIZES, times))[1:]):
        print(f"  growth {a} -> {b} lines: exponent {math.log(tb / ta) / math.log(b / a):.2f}")
    xs, ys = [math.log(n) for n in SIZES], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    fitted = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    print(f"  fitted exponent, {SIZES[0]} to {SIZES[-1]} lines: {fitted:.2f}   "
          f"target <= {TARGET} {'met' if fitted <= TARGET else 'MISSED'}")


def _timed(run, claim: dict) -> float:
    start = time.perf_counter()
    run(claim)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
