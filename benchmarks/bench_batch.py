"""Batch throughput and peak memory: `ctsdsl batch` on generated claims, at one and two jobs.

Run from the repository root:

    python benchmarks/bench_batch.py              # 1,000,000 claims (a few minutes on 2 cores)
    python benchmarks/bench_batch.py --n 100000   # quicker

Each run is a fresh process (so peak memory is its own): it reads the JSONL file,
validates, decides and writes every claim, as the command does. Figures are printed
with their targets beside them; see benchmarks/README.md for this machine's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_PER_CORE = 50_000  # claims per second per core, end to end (issue 5)
TARGET_ONE_JOB = 30_000  # claims per second, `--jobs 1`, the full decision (issue 14)


def child(path: str, jobs: int, out: str, trace: bool) -> None:
    """One measured run, in its own process: prints a JSON line of figures."""
    from ctsdsl.scale.batch import run_batch
    if trace:
        import tracemalloc
        tracemalloc.start()
    start = time.perf_counter()
    summary = run_batch(path, output=out, errors=out + ".errors", jobs=jobs, progress=False)
    seconds = time.perf_counter() - start
    figures = {"seconds": seconds, "claims": summary.claims, "errors": summary.errors,
               "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               "workers_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}
    if trace:
        figures["traced_peak_kb"] = tracemalloc.get_traced_memory()[1] // 1024
    print(json.dumps(figures))


def measure(path: Path, jobs: int, trace: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, __file__, "--child", str(path), "--jobs", str(jobs), "--out", f"{tmp}/d.jsonl"]
        result = subprocess.run(argv + (["--trace"] if trace else []), capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


_last = [0.0]  # the last stage's seconds


def stages(path: Path, count: int) -> None:
    """Where the time of one claim goes, stage by stage, in this process (microseconds per claim)."""
    from ctsdsl.scale.batch import DecisionEncoder, PolicyChooser
    from ctsdsl.claims.validation import parse_jsonl_record, validate_claim
    from ctsdsl.engine.decision import claim_digest
    with open(path, "rb") as fh:
        raw = [line for _, line in zip(range(count), fh)]
    from ctsdsl.scale.batch import _Worker
    choose, encoder = PolicyChooser(None), DecisionEncoder()
    encode = encoder.encode

    def timed(label: str, fn, items):
        # Without the cyclic GC: keeping 20,000 results alive here (a batch keeps one chunk) would make
        # it rescan them again and again, and charge that to whichever stage allocates.
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            out = [fn(item) for item in items]
            _last[0] = time.perf_counter() - start
            if len(items) > 1:
                print(f"  {label:<44} {_last[0] / len(items) * 1e6:>8.1f} µs")
            else:
                print(f"  {label}")
        finally:
            gc.enable()
        return out

    claims = timed("parse JSON (duplicate keys refused)", lambda r: parse_jsonl_record(r, "f", 2), raw)
    claims = [c for c in claims if isinstance(c, dict)]
    timed("validate (fast path)", validate_claim, claims)
    for claim in claims:  # compile each policy first: a batch does that once, not per claim
        choose(claim)
    evaluators = timed("choose the policy (payer, date)", choose, claims)
    pairs = list(zip(evaluators, claims))
    results = timed("compiled rules only (Evaluator._fn)", lambda p: p[0]._fn(p[1]), pairs)
    if hasattr(encoder, "encode_result"):  # what batch does since issue 14: JSON from the rules' results
        triples = list(zip(evaluators, claims, results))
        timed("decision JSON from the results (encode_result)", lambda t: encoder.encode_result(*t), triples)
    timed("  of which the claim digest (SHA-256)", claim_digest, claims)
    decisions = timed("for scale: rules + Decision + digest (evaluate)",
                      lambda p: p[0].evaluate(p[1], validate=False), pairs)
    timed("  and its JSON (DecisionEncoder.encode)", encode, decisions)
    timed("  and json.dumps(decision.to_dict())", lambda d: json.dumps(d.to_dict()), decisions)
    worker = _Worker("f", None)
    records = [(i, i + 1, line) for i, line in enumerate(raw)]
    worker.chunk(records)  # its policies compiled (and frozen, after the chunk that compiled them)
    worker.chunk(records)
    timed("the whole record as a batch worker decides it", lambda _: worker.chunk(records), [None])
    print(f"  {'  per claim':<44} {_last[0] / len(records) * 1e6:>8.1f} µs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="claims (default 1,000,000)")
    parser.add_argument("--claims", help="use this .jsonl file instead of generating one")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2], help="job counts to measure (default 1 2)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.jobs[0], args.out, args.trace)
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.claims) if args.claims else Path(tmp) / "claims.jsonl"
        small, traced_file = Path(tmp) / "small.jsonl", Path(tmp) / "traced.jsonl"
        if not args.claims:
            from gen_claims import main as generate
            start = time.perf_counter()
            generate([str(args.n), "-o", str(path)])
            print(f"generated {args.n:,} claims ({path.stat().st_size / 1e6:,.0f} MB) "
                  f"in {time.perf_counter() - start:.1f} s")
        with open(path, "rb") as fh, open(small, "wb") as out:  # a tenth of the file: is memory flat in the size?
            lines = sum(1 for _ in fh)
            fh.seek(0)
            for _, line in zip(range(max(lines // 10, 1)), fh):
                out.write(line)
        with open(small, "rb") as fh, open(traced_file, "wb") as out:  # tracemalloc slows Python down 20-fold
            for _, line in zip(range(20_000), fh):
                out.write(line)
        cores = os.cpu_count() or 1
        print(f"\n{lines:,} claims, {cores} cores, Python {sys.version.split()[0]}")
        print(f"  {'':<34} {'claims/s':>10} {'per core':>10} {'peak RSS':>10}   target")
        for jobs in args.jobs:
            big, tenth = measure(path, jobs), measure(small, jobs)
            rate = big["claims"] / big["seconds"]
            used = min(jobs, cores)
            rss = max(big["rss_kb"], big["workers_rss_kb"]) / 1024
            rss_tenth = max(tenth["rss_kb"], tenth["workers_rss_kb"]) / 1024
            one = (f"; >= {TARGET_ONE_JOB:,} claims/s (issue 14) {'met' if rate >= TARGET_ONE_JOB else 'MISSED'}"
                   if jobs == 1 else "")
            print(f"  {f'ctsdsl batch --jobs {jobs}':<34} {rate:>10,.0f} {rate / used:>10,.0f} {rss:>8.0f} MB"
                  f"   >= {TARGET_PER_CORE:,} claims/s per core{one}")
            print(f"  {'  peak RSS per process, 1/10 of the file':<34} {'':>10} {'':>10} {rss_tenth:>8.0f} MB"
                  f"   flat: the same as the whole file (whole file {rss:.0f} MB, {rss / rss_tenth - 1:+.0%})")
        traced = measure(traced_file, 1, trace=True)
        print(f"  {'tracemalloc peak, --jobs 1':<34} {'':>10} {'':>10} {traced['traced_peak_kb'] / 1024:>8.1f} MB"
              "   Python objects alive at once (first 20,000 claims): policies + one chunk, not the file")
        print("\nper claim, in one process (the first 20,000 claims):")
        stages(path, min(lines, 20_000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
