"""Claims a second, row engine and SQL engine (DuckDB), on the same generated claims, same policy.

    python benchmarks/bench_sql.py [N] [--policy PATH]   # default 20,000 claims, Medicare 2024

Both decide validated claims in this process; the SQL figure includes building the two relations
and assembling the decisions, not the one-off view setup (printed apart).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_claims  # noqa: E402

import ctsdsl  # noqa: E402
from ctsdsl.claims.validation import validate_claim  # noqa: E402
from ctsdsl.scale.sql.run import SqlEvaluator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=20_000)
    ap.add_argument("--policy", default="medicare-cts-2024")
    args = ap.parse_args()
    evaluator = ctsdsl.compile(args.policy)
    claims = []
    for text in gen_claims.generate(args.n * 3, seed=18):
        claim = validate_claim(json.loads(text))
        if claim["date_of_service"].startswith("2024") and all(
                line.get("date_of_service", claim["date_of_service"]).startswith("2024") for line in claim["lines"]):
            claims.append(claim)
        if len(claims) == args.n:
            break
    start = time.perf_counter()
    row = []
    for claim in claims:
        try:
            row.append(evaluator.evaluate(claim, validate=False))
        except ctsdsl.CtsdslError:
            row.append(None)
    row_s = time.perf_counter() - start
    start = time.perf_counter()
    sql = SqlEvaluator(evaluator)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    out = list(sql.decide(claims))
    sql_s = time.perf_counter() - start
    handed = sum(isinstance(r, int) for r in out)
    same = sum(1 for a, b in zip(out, row) if not isinstance(a, int) and b is not None and a.to_dict() == b.to_dict())
    print(f"{len(claims):,} claims; row engine {len(claims) / row_s:,.0f} claims/s; SQL engine "
          f"{len(claims) / sql_s:,.0f} claims/s (+{setup:.1f} s setup), {handed} handed to the row engine, "
          f"{same:,} identical decisions")
    print("SQL engine's time: " + ", ".join(f"{k} {v:.2f} s" for k, v in sql.seconds.items()))


if __name__ == "__main__":
    main()
