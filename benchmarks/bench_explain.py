"""How explain's cost grows with a claim's lines: traced evaluation plus the text it prints.

Run from the repository root:

    python benchmarks/bench_explain.py

The claim is the bundled example's three lines repeated (100, 300 and 1000 lines, the schema's
most), so every line shares its let values with a third of the others: the shape that made
explain quadratic (issue 16). Prints the best of three runs per size, the peak memory of one run,
and the growth exponent between sizes (1.0 is linear; the target is at most 1.1).
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

from ctsdsl.api import bundled  # noqa: E402
from ctsdsl.report.render import render_explain  # noqa: E402

SIZES = (100, 300, 1000)


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
    print("explain (traced evaluation + text) of the example claim repeated")
    times = []
    for lines in SIZES:
        claim = claim_of(lines)
        best = min(_timed(evaluator, claim) for _ in range(3))
        tracemalloc.start()
        explain(evaluator, claim)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        times.append(best)
        print(f"  {lines:>5} lines  {best * 1000:>8.0f} ms  peak {peak / 1e6:>6.1f} MB")
    for (a, ta), (b, tb) in zip(zip(SIZES, times), list(zip(SIZES, times))[1:]):
        exponent = math.log(tb / ta) / math.log(b / a)
        print(f"  growth {a} -> {b} lines: exponent {exponent:.2f}   target <= 1.1 {'met' if exponent <= 1.1 else 'MISSED'}")
    return 0


def _timed(evaluator, claim: dict) -> float:
    start = time.perf_counter()
    explain(evaluator, claim)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
