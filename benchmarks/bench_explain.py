"""How evaluate's and explain's cost grow with a claim's lines, from 1 to 1000.

Run from the repository root:

    python benchmarks/bench_explain.py

The claim is the bundled example's lines repeated (1 to 1000 lines, the schema's most), so every
line shares its let values with half of the others: the shape that made explain quadratic (issue
16). For `ctsdsl.evaluate` (validate, decide, build the decision) and for explain (traced
evaluation plus the text it prints), prints the best of three runs per size, explain's peak
memory, the growth exponent between sizes and the exponent fitted over all of them (least
squares on log time against log lines; 1.0 is linear, issue 14's target is at most 1.1).
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ctsdsl.api import bundled, evaluate  # noqa: E402
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


def main() -> int:
    evaluator = bundled().evaluator_for(claim_of(1))
    explain(evaluator, claim_of(3))  # compile the traced evaluator outside the timings
    evaluate(claim_of(3))
    claims = {lines: claim_of(lines) for lines in SIZES}
    print("ctsdsl.evaluate (validate, decide, the decision) of the example claim repeated")
    _growth([min(_timed(evaluate, claims[lines]) for _ in range(5)) for lines in SIZES], {})
    print("explain (traced evaluation + text) of the example claim repeated")
    peaks = {}
    for lines in SIZES:
        tracemalloc.start()
        explain(evaluator, claims[lines])
        peaks[lines] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    _growth([min(_timed(lambda c: explain(evaluator, c), claims[lines]) for _ in range(3)) for lines in SIZES], peaks)
    return 0


def _growth(times: list[float], peaks: dict[int, int]) -> None:
    """Each size's time (and peak memory), the exponent between sizes and the one fitted over all."""
    for lines, best in zip(SIZES, times):
        peak = f"  peak {peaks[lines] / 1e6:>6.1f} MB" if lines in peaks else ""
        print(f"  {lines:>5} lines  {best * 1000:>10.3f} ms{peak}")
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
