"""Run the property checks of tests/test_properties.py for longer, and print how many inputs failed.

    python benchmarks/fuzz.py                   # 1000 examples per check
    python benchmarks/fuzz.py --examples 20000  # longer
    python benchmarks/fuzz.py --only claims     # one check: policy-text, policy-load, claims

The suite runs each check on a few dozen inputs so it stays fast; this script runs the
same strategies and the same checks on as many as you ask, carries on past a failure
(Hypothesis alone would stop at the first and shrink it), and prints, per check, the
inputs tried, the inputs that failed, and the first few failures. It exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_properties as props  # noqa: E402 - the tests folder is not a package

CHECKS = {
    "policy-text": (props.mutated_policies(), lambda case: props.check_policy_text(case[1])),
    "policy-load": (props.mutated_policies(), lambda case: props.check_policy_load(*case)),
    "claims": (props.valid_claims(), props.check_claim),
}


def run(name: str, examples: int, shown: int) -> tuple[int, int]:
    strategy, check = CHECKS[name]
    tried, failures = 0, []

    # Generate only: no shrinking, no example database, so every input counts once.
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def each(case):
        nonlocal tried
        tried += 1
        try:
            check(case)
        except Exception:  # noqa: BLE001 - a fuzzer records every failure and carries on
            failures.append((case, traceback.format_exc(limit=3)))

    start = time.perf_counter()
    each()
    elapsed = time.perf_counter() - start
    print(f"{name}: {tried} inputs tried, {len(failures)} failed ({elapsed:.1f} s)")
    for case, trace in failures[:shown]:
        print(f"  input: {case!r}"[:600])
        print("  " + trace.strip().replace("\n", "\n  "))
    return tried, len(failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="inputs per check (default 1000)")
    parser.add_argument("--only", choices=sorted(CHECKS), action="append", help="run only this check (repeatable)")
    parser.add_argument("--show", type=int, default=3, help="failures to print per check (default 3)")
    args = parser.parse_args(argv)
    total_tried = total_failed = 0
    for name in args.only or CHECKS:
        tried, failed = run(name, args.examples, args.show)
        total_tried += tried
        total_failed += failed
    print(f"total: {total_tried} inputs tried, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
