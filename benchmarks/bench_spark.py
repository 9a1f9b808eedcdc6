"""Spark throughput: `ctsdsl.spark.evaluate_dataframe` on generated claims, in local mode.

Run from the repository root, with the spark extra installed (`pip install -e '.[spark]'`):

    python benchmarks/bench_spark.py              # 200,000 claims on local[2]
    python benchmarks/bench_spark.py --n 50000 --cores 1
    python benchmarks/bench_spark.py --n 20000 --sql-n 60000      # quicker

Then engine="sql" beside engine="row" in the same session, on the same typed claims (the
2024 ones of --sql-n generated, decided by Medicare 2024): the SQL's time to plan the policy's
views (once per call, on the driver) apart from its time deciding.

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
    parser.add_argument("--sql-n", type=int, default=600_000,
                        help="claims generated for engine='sql' against the row engine (default 600,000: "
                             "its 2024 third, about 200,000, decided by Medicare 2024 with both engines)")
    parser.add_argument("--no-sql", action="store_true", help="only the row engine's JSON path")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession, functions as F  # noqa: N812

    from ctsdsl.scale.spark_sql import claim_schema
    from ctsdsl.spark import evaluate_dataframe
    from gen_claims import main as generate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "claims.jsonl"
        generate([str(args.n), "-o", str(path)])
        start = time.perf_counter()
        spark = (SparkSession.builder.master(f"local[{args.cores}]").appName("ctsdsl-bench")
                 .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.shuffle.partitions", str(args.cores * 2)).getOrCreate())
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

        print(f"engine='row', claim JSON text, the bundled policy by payer and date ({args.n:,} claims):")
        first, second = run(), run()  # the first pays Python workers' start-up and each policy's compile
        for label, seconds in (("first run (workers start, compile)", first), ("second run (warm)", second)):
            rate = args.n / seconds
            print(f"  {label:<38} {rate:>10,.0f} claims/s {rate / args.cores:>10,.0f} per core"
                  f"   target >= {TARGET_PER_CORE:,} per core")
        if not args.no_sql:
            _row_beside_sql(spark, args, Path(tmp), generate, claim_schema, evaluate_dataframe, F)
        spark.stop()
    return 0


def _row_beside_sql(spark, args, tmp: Path, generate, claim_schema, evaluate_dataframe, F) -> None:  # noqa: N803
    """engine='sql' beside engine='row' on the same typed claims (Medicare 2024's), in this session."""
    path = tmp / "sql-claims.jsonl"
    generate([str(args.sql_n), "-o", str(path), "--seed", "18"])
    typed = spark.read.schema(claim_schema()).json(str(path)).where("date_of_service LIKE '2024-%'") \
        .repartition(args.cores * 2).cache()
    n = typed.count()
    policy = "medicare-cts-2024"
    print(f"\nengine='sql' beside engine='row': {n:,} typed claims (spark.read.schema(claim_schema())), {policy}:")

    def row_engine() -> float:
        start = time.perf_counter()
        out = evaluate_dataframe(typed, column=None, policy=policy).agg(F.count("*").alias("n")).first()
        assert out.n == n
        return time.perf_counter() - start

    def sql_engine() -> tuple[float, float, dict[str, int]]:
        start = time.perf_counter()
        res = evaluate_dataframe(typed, column=None, policy=policy, engine="sql")
        planned = time.perf_counter()
        counts = {"claims": res.claims.agg(F.count("*").alias("n"), F.sum("total_allowed")).first().n,
                  "lines": res.lines.count(), "findings": res.findings.count(), "handed": res.handed.count()}
        assert counts["claims"] + counts["handed"] == n
        return planned - start, time.perf_counter() - planned, counts

    row_engine()  # warm: Python workers started, the policy compiled in them
    row_seconds = row_engine()
    plan_s, run_s, counts = sql_engine()
    plan2_s, run2_s, _ = sql_engine()
    row_rate = n / row_seconds
    print(f"  engine='row' (warm)                   {row_rate:>10,.0f} claims/s {row_rate / args.cores:>10,.0f} per core")
    for label, p, r in (("engine='sql', first", plan_s, run_s), ("engine='sql', second", plan2_s, run2_s)):
        rate, whole = n / r, n / (p + r)
        print(f"  {label:<37} {rate:>10,.0f} claims/s {rate / args.cores:>10,.0f} per core deciding "
              f"({r:.1f} s; {rate / row_rate:.1f}x the row engine), planning the views {p:.1f} s; "
              f"with planning {whole:,.0f} claims/s ({whole / row_rate:.1f}x)   target >= 5x")
    print(f"  engine='sql' wrote {counts['claims']:,} claims, {counts['lines']:,} lines, {counts['findings']:,} "
          f"findings; {counts['handed']:,} claims handed to the row engine")


if __name__ == "__main__":
    sys.exit(main())
