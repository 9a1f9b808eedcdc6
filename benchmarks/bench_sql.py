"""Claims a second, row engine and SQL engine (DuckDB), on the same generated claims, same policy.

    python benchmarks/bench_sql.py [N] [--policy PATH]   # in process: default 20,000 claims, Medicare 2024
    python benchmarks/bench_sql.py --files N              # ctsdsl batch end to end, e.g. --files 1000000

In process, both decide validated claims; the SQL figure includes building the two relations
and assembling the decisions, not the one-off view setup (printed apart).

With --files, N generated claims (benchmarks/gen_claims.py, every Medicare year) are written as
JSON Lines and as Parquet, and `ctsdsl batch` decides them in a fresh process each: the row
engine JSON Lines to JSON Lines (--jobs 1), the SQL engine JSON Lines to JSON Lines and Parquet
to Parquet tables, each beside issue 18's target, with peak RSS on the whole file and on a
tenth of it (memory flat in the file size). The outputs are checked: the SQL engine's JSON Lines
must be the row engine's bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_claims  # noqa: E402

import ctsdsl  # noqa: E402
from ctsdsl.claims.validation import validate_claim  # noqa: E402
from ctsdsl.scale.decision_encoder import DecisionEncoder  # noqa: E402
from ctsdsl.scale.sql.run import SqlEvaluator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=20_000)
    ap.add_argument("--policy", default="medicare-cts-2024")
    ap.add_argument("--files", type=int, metavar="N", help="ctsdsl batch end to end on N generated claims")
    args = ap.parse_args()
    if args.files:
        files(args.files)
        return
    evaluator = ctsdsl.compile(args.policy)
    year = evaluator.info.effective_from[:4]
    claims = []
    texts = []
    for text in gen_claims.generate(args.n * 3, seed=18):
        claim = validate_claim(json.loads(text))
        if claim["date_of_service"].startswith(year) and all(
                line.get("date_of_service", claim["date_of_service"]).startswith(year) for line in claim["lines"]):
            claims.append(claim)
            texts.append(text)
        if len(claims) == args.n:
            break
    start = time.perf_counter()
    for text in texts:  # what every engine pays before deciding: parse and check each record
        validate_claim(json.loads(text))
    read_s = time.perf_counter() - start
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
    encode = DecisionEncoder().encode
    decided = [d for d in out if not isinstance(d, int)]
    start = time.perf_counter()
    for d in decided:
        encode(d)
    encode_s = time.perf_counter() - start
    per = {"parse + validate": read_s / len(claims), **{k: v / len(claims) for k, v in sql.seconds.items()},
           "encode JSON": encode_s / max(len(decided), 1)}
    print("per claim, µs: " + ", ".join(f"{k} {v * 1e6:.0f}" for k, v in per.items())
          + f" (row engine's evaluate + decision: {row_s / len(claims) * 1e6:.0f})")
    # What `ctsdsl batch --engine sql` does for JSON Lines: each decision's JSON written straight
    # from what the SQL computed, no `Decision` objects; beside the row engine's batch path.
    encoder = DecisionEncoder()
    start = time.perf_counter()
    texts = list(sql.encoded(claims, encoder))
    sql_json_s = time.perf_counter() - start
    row_encoder = DecisionEncoder()
    start = time.perf_counter()
    for claim in claims:
        result = evaluator.result(claim)
        if result is not None:
            row_encoder.encode_result(evaluator, claim, result)
    row_json_s = time.perf_counter() - start
    print(f"to decision JSON, as batch writes it: SQL engine {len(claims) / sql_json_s:,.0f} claims/s, row engine "
          f"{len(claims) / row_json_s:,.0f} claims/s ({sum(isinstance(t, int) for t in texts)} handed back)")


def _write(count: int, folder: Path) -> tuple[Path, Path]:
    """N generated claims as JSON Lines and as Parquet, written a slice at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ctsdsl.scale.sql.parquet_claims import claim_schema

    jsonl, parquet = folder / f"claims-{count}.jsonl", folder / f"claims-{count}.parquet"
    schema = claim_schema()
    with open(jsonl, "w", encoding="utf-8") as fh, pq.ParquetWriter(parquet, schema) as writer:
        batch: list[dict] = []
        for text in gen_claims.generate(count, seed=18):
            fh.write(text + "\n")
            batch.append(json.loads(text))
            if len(batch) == 50_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return jsonl, parquet


# A child that runs `ctsdsl` and, last on stderr, says its own peak RSS (a fresh process per run).
_CHILD = ("import resource, sys\nfrom ctsdsl.cli import main\ntry:\n    code = main(sys.argv[1:])\nfinally:\n"
          "    print(f'RSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
          "sys.exit(code)\n")


def _batch(*args: str) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one `ctsdsl batch` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, "batch", *args, "-q"], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"ctsdsl batch {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    rss = int(done.stderr.rpartition("RSS_KB=")[2].strip())
    return seconds, rss / 1024


def files(count: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        tenth = max(count // 10, 1)
        small = _write(tenth, folder)
        big = _write(count, folder)
        runs = [("row engine, JSON Lines -> JSON Lines", "row", 0, lambda f, o: (str(f[0]), "-o", str(o) + ".jsonl")),
                ("SQL engine, JSON Lines -> JSON Lines", "sql", 100_000,
                 lambda f, o: (str(f[0]), "--engine", "sql", "-o", str(o) + ".jsonl")),
                ("SQL engine, Parquet -> Parquet (native)", "sql", 200_000,
                 lambda f, o: (str(f[1]), "--engine", "sql", "-o", str(o), "--format", "parquet")),
                ("SQL engine, Parquet -> JSON Lines (native)", "sql-json", 0,
                 lambda f, o: (str(f[1]), "--engine", "sql", "-o", str(o) + ".jsonl"))]
        print(f"{count:,} generated claims ({big[0].stat().st_size / 2**20:,.1f} MB JSON Lines, "
              f"{big[1].stat().st_size / 2**20:,.1f} MB Parquet); peak RSS on the file and on a tenth of it")
        for label, engine, target, argv in runs:
            _, rss_small = _batch(*argv(small, folder / f"small-{engine}-{target}"))
            seconds, rss = _batch(*argv(big, folder / f"big-{engine}-{target}"))
            goal = f"   target >= {target:,}/s: {'met' if count / seconds >= target else 'not met'}" if target else ""
            print(f"  {label:<44} {count / seconds:>9,.0f} claims/s  {seconds:7.1f} s  RSS {rss:6.0f} MB "
                  f"(tenth: {rss_small:.0f} MB){goal}")
        same = (folder / "big-row-0.jsonl").read_bytes() == (folder / "big-sql-100000.jsonl").read_bytes()
        print(f"  SQL engine's JSON Lines {'are' if same else 'are NOT'} the row engine's bytes")
        same = (folder / "big-row-0.jsonl").read_bytes() == (folder / "big-sql-json-0.jsonl").read_bytes()
        print(f"  the native path's JSON Lines from Parquet {'are' if same else 'are NOT'} the row engine's bytes")
        held = _tables_hold(folder / "big-sql-200000", folder / "big-row-0.jsonl")
        print(f"  the Parquet tables {'hold' if held else 'do NOT hold'} the row engine's decisions "
              "(claim, digest, outcome, total; each line's status, units and amount)")


def _tables_hold(tables: Path, jsonl: Path) -> bool:
    """Whether the Parquet decision tables say, record by record, what the row engine's JSON Lines say."""
    import pyarrow.parquet as pq

    claims = pq.ParquetFile(tables / "claims.parquet").iter_batches(100_000, columns=[
        "record", "claim_id", "claim_digest", "outcome", "total_allowed"])
    lines = pq.ParquetFile(tables / "lines.parquet").iter_batches(100_000, columns=[
        "record", "index", "status", "units_allowed", "allowed_amount"])
    got_claims = (row for batch in claims for row in zip(*(c.to_pylist() for c in batch.columns)))
    got_lines = (row for batch in lines for row in zip(*(c.to_pylist() for c in batch.columns)))
    with open(jsonl, encoding="utf-8") as fh:
        for record, text in enumerate(fh, 1):
            d = json.loads(text)
            if next(got_claims) != (record, d["claim_id"], d["claim_digest"], d["outcome"],
                                    Decimal(d["total_allowed"])):
                return False
            for ln in d["lines"]:
                amount = ln["allowed_amount"]
                if next(got_lines) != (record, ln["index"], ln["status"], ln["units_allowed"],
                                       None if amount is None else Decimal(amount)):
                    return False
    return next(got_claims, None) is None and next(got_lines, None) is None


if __name__ == "__main__":
    main()
