"""Spark throughput: `ctsdsl.spark.evaluate_dataframe` on generated claims, in local mode.

Run from the repository root, with the spark extra installed (`pip install -e '.[spark]'`):

    python benchmarks/bench_spark.py              # 200,000 claims on local[2]
    python benchmarks/bench_spark.py --n 50000 --cores 1

Local mode runs the driver and the executors on this machine, so the figure is what one
executor core does, with Spark's Arrow transfer and Python-worker overhead included; see
docs/spark.md for sizing a cluster from it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_PER_CORE = 50_000  # claims per second per core (issue 5's batch target; Spark adds its own overhead)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="claims (default 200,000)")
    parser.add_argument("--cores", type=int, default=2, help="local[N] (default 2)")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession, functions as F  # noqa: N812

    from ctsdsl.spark import evaluate_dataframe
    from gen_claims import main as generate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "claims.jsonl"
        generate([str(args.n), "-o", str(path)])
        start = time.perf_counter()
        spark = (SparkSession.builder.master(f"local[{args.cores}]").appName("ctsdsl-bench")
                 .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        print(f"Spark {spark.version} session started in {time.perf_counter() - start:.1f} s")
        claims = spark.read.text(str(path)).withColumnRenamed("value", "claim")
        claims = claims.repartition(args.cores * 2).cache()
        claims.count()  # read and cache the input first: the figure is the deciding alone

        def run() -> float:
            start = time.perf_counter()
            row = evaluate_dataframe(claims).agg(F.count("*").alias("n"), F.sum("total_allowed").alias("t")).first()
            assert row.n == args.n
            return time.perf_counter() - start

        first, second = run(), run()  # the first pays Python workers' start-up and each policy's compile
        for label, seconds in (("first run (workers start, compile)", first), ("second run (warm)", second)):
            rate = args.n / seconds
            print(f"  {label:<38} {rate:>10,.0f} claims/s {rate / args.cores:>10,.0f} per core"
                  f"   target >= {TARGET_PER_CORE:,} per core")
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
