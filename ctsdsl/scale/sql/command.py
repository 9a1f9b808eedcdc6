"""The command line of the SQL backend: `ctsdsl sql POLICY` and `ctsdsl batch --engine sql`.

Batch reads records as the row engine's batch does (batch.py's readers, so a malformed record
gets the same located error), validates them, chooses each claim's policy, decides a chunk of
claims per policy in one query, and writes the same JSON Lines in input order.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ...errors import ClaimError, CtsdslError, Diagnostic, UsageError
from ..decision_encoder import Encoded

CHUNK = 20_000  # claims per query: large enough that planning is a small share, small enough for flat memory


def _require() -> None:
    try:
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        raise UsageError(Diagnostic("missing-extra", f"the SQL backend needs the sql extra ({exc.name} is not "
                                    "installed)", "<command line>", hint="pip install 'ctsdsl[sql]'")) from None


def cmd_sql(args) -> int:
    """Print the SQL of a policy, as views, in a dialect sqlglot writes."""
    _require()
    import sqlglot

    from ...api import compile as compile_policy
    from . import plan

    if args.dialect not in sqlglot.Dialect.classes:
        raise UsageError(Diagnostic("bad-dialect", f"unknown SQL dialect {args.dialect!r}", "<command line>",
                                    hint="one of " + ", ".join(sorted(k for k in sqlglot.Dialect.classes if k))))
    evaluator = compile_policy(args.policy)
    for statement in plan.build(evaluator.checked).statements(args.dialect):
        sys.stdout.write(statement + ";\n\n")
    return 0


def run_sql_batch(path: str | Path, output: str | None, errors: str | None, policy: str | None,
                  policies: str | None, on_error=None, output_format: str = "json", assume_documented: bool = False,
                  jobs: int = 1, native: bool = True):
    """Decide a .jsonl, .csv or .parquet file of claims with the SQL backend; returns the batch `Summary`.

    `output_format` "json" writes JSON Lines to `output` (a file, or stdout); "parquet" writes
    the decisions as three tables in the folder `output` (parquet_decisions.py). With `jobs` > 1,
    chunks are decided in that many worker processes, each with its own DuckDB (and its share
    of the cores), and written in input order. A Parquet file (without `assume_documented`) is
    decided by DuckDB from its columns (native.py), to tables or JSON Lines, unless `native` is
    false, which decides it row by row as JSON Lines are (for tests and benchmarks to compare)."""
    _require()
    from .. import batch as b
    from ...claims.validation import jsonl_lines
    from ...claims.csv_rows import csv_records
    from ..output import OutputFile, abandon_all, check_targets, publish_all, shown
    from .parquet_claims import parquet_records
    from .parquet_decisions import ParquetDecisions, check_folder

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv", ".parquet"):
        raise UsageError(Diagnostic("engine-input", f"--engine sql reads .jsonl, .csv or .parquet files, not "
                                    f"{path.name}", shown(path), hint="decide it with the row engine (--engine row)"))
    folder = check_folder(output) if output_format == "parquet" else None
    check_targets(path, None if folder else output, errors)
    summary = b.Summary()
    name = shown(path)
    work = (name, policy, policies, assume_documented, folder is not None, jobs)
    with b.stop_on_signals():
        out: OutputFile | ParquetDecisions = ParquetDecisions(folder) if folder else OutputFile(output)
        try:
            err = OutputFile(errors) if errors else None
        except BaseException:
            out.abandon()
            raise
        try:
            count = None
            if suffix == ".parquet" and not assume_documented and native:
                from . import native as native_path
                # DuckDB decides every row it can vouch for, on all the cores: one process, one engine a
                # policy; its worker gives the rows decided one by one as Decisions (its `parquet` mode).
                count = native_path.decide_file(path, name, _Worker(name, policy, policies, False, True, 1), summary,
                                                out, err, on_error, texts=folder is None)
            if count is None and suffix == ".parquet":  # not decided natively: row by row
                count = _decide_file(parquet_records(path, name), work, summary, out, err, on_error)
            elif count is None:
                with b.open_input(path) as fh:
                    source = jsonl_lines(fh) if suffix == ".jsonl" else csv_records(fh, name)
                    count = _decide_file(source, work, summary, out, err, on_error)
            if not count:
                raise ClaimError(Diagnostic("claim-empty", f"{name} holds no claims", name))
            publish_all(out, err)  # type: ignore[arg-type]  # ParquetDecisions finishes and publishes as a file does
        except BaseException:
            abandon_all(out, err)  # type: ignore[arg-type]
            raise
    return summary


def _decide_file(source, work: tuple, summary, out, err, on_error) -> int:
    """Decide every record of `source` a chunk at a time (in `work`'s last item of worker processes),
    writing each chunk's results in input order."""
    from .. import batch as b
    from ..pool import ordered_map

    jobs = work[-1]
    chunks = b.chunk_records(source, CHUNK)
    decided: Iterator[tuple]
    if jobs <= 1:
        worker = _Worker(*work)
        decided = (worker.chunk(chunk) for chunk in chunks)
    else:
        decided = ordered_map(_chunk_worker, work, chunks, jobs)
    count = 0
    for result, rows in decided:
        count += result.decided + len(result.errors)
        if rows:  # Parquet: each decision with its record (its line or row in the input, from 1)
            for record, decision in rows:
                out.add(record, decision)
            out.flush()
        # Input order: decisions and errors interleave as the records did; each output keeps its own order.
        b.write_result(result, out, err, on_error)
        summary.merge(result.summary)
    return count


def _chunk_worker(*work) -> Callable[[list], tuple]:
    return _Worker(*work).chunk


class _Worker:
    """What one process needs to decide chunks on the SQL engine: its policy choice, a DuckDB per
    policy (built on first use) and its encoders."""

    def __init__(self, name: str, policy: str | None, policies: str | None, assume_documented: bool,
                 parquet: bool, jobs: int) -> None:
        from .. import batch as b

        self.name = name
        self.choose = b.PolicyChooser(policy, b.registry_for(policies), assume_documented)  # batch's own choice
        self.sql_of: dict[int, Any] = {}
        self.parquet = parquet
        # Each worker's DuckDB gets its share of the cores: N of them each on every core would fight.
        self.threads = None if jobs <= 1 else max(1, (os.cpu_count() or 1) // jobs)
        # JSON Lines are written from what the SQL computed, as the row engine's batch writes them;
        # Parquet tables (and decisions with documentation assumed) need the `Decision`s.
        self.encoder = None if parquet or assume_documented else b.DecisionEncoder()
        self.encode = b.DecisionEncoder().encode

    def engine(self, evaluator: Any) -> Any:
        """This process's `SqlEvaluator` of `evaluator`'s policy."""
        return engine_for(self.sql_of, evaluator, self.threads)

    def chunk(self, chunk: list) -> tuple:
        """(a ChunkResult of the chunk's JSON Lines, errors and summary; for Parquet, its (record, Decision)s)."""
        from .. import batch as b
        from ...claims.validation import parse_jsonl_record, validate_for

        results = _decide_chunk(chunk, self.name, self.choose, self.sql_of, parse_jsonl_record, validate_for,
                                self.encoder, self.threads)
        texts: list[str] = []
        rows: list = []
        errors = []
        summary = b.Summary()
        for (_, lineno, _), result in zip(chunk, results):
            if isinstance(result, b.RecordError):
                errors.append(result)
                summary.add_error(result)
            elif isinstance(result, Encoded):
                summary.add_encoded(result)
                texts.append(result.text)
            else:
                summary.add(result)
                if self.parquet:
                    rows.append((int(str(lineno).rpartition(" ")[2]), result))
                else:
                    texts.append(self.encode(result))
        decided = len(rows) if self.parquet else len(texts)
        return b.ChunkResult("".join(f"{t}\n" for t in texts), decided, errors, summary), rows


def _decide_chunk(chunk, name, choose, sql_of, parse, validate, encoder=None, threads=None) -> list:
    """Each record's Decision or RecordError, in the chunk's order; with `encoder`, each decision
    the SQL made as its `Encoded` JSON text instead (the row engine's are still Decisions)."""
    from .. import batch as b
    results: list = [None] * len(chunk)
    groups: dict[int, tuple[object, list[int], list[dict]]] = {}
    for pos, (index, lineno, raw) in enumerate(chunk):
        location = f"{name}:{lineno}"
        try:
            item = parse(raw, name, lineno) if type(raw) is bytes else raw
            if isinstance(item, CtsdslError):
                raise item
        except CtsdslError as exc:
            results[pos] = b.RecordError(index, location, b.bare_error(exc), _text(raw))
            continue
        try:
            # Checked against the schema of the policy that decides it, which may declare fields of its own.
            claim, evaluator = validate(item, location, choose)
        except CtsdslError:
            try:  # the row engine's own path, so the error is located and worded as it words it
                results[pos] = b.decide_record(item, location, choose)
            except CtsdslError as exc:
                results[pos] = b.RecordError(index, location, b.bare_error(exc), _text(raw))
            continue
        groups.setdefault(id(evaluator), (evaluator, [], []))
        groups[id(evaluator)][1].append(pos)
        groups[id(evaluator)][2].append(claim)
    for evaluator, positions, claims in groups.values():
        sql = engine_for(sql_of, evaluator, threads)
        decided = sql.encoded(claims, encoder) if encoder is not None else sql.decide(claims, choose.assume_documented)
        for pos, result in zip(positions, decided):
            if isinstance(result, int):  # the SQL says the row engine would fail here: it decides, or names why
                index, lineno, raw = chunk[pos]
                try:
                    result = b.decide_record(claims[result], f"{name}:{lineno}", choose)
                except CtsdslError as exc:
                    result = b.RecordError(index, f"{name}:{lineno}", b.bare_error(exc), _text(raw))
            results[pos] = result
    return results


def engine_for(sql_of: dict[int, Any], evaluator: Any, threads: int | None) -> Any:
    """The `SqlEvaluator` of `evaluator` in `sql_of` (by its id), started on first use."""
    key = id(evaluator)
    if key not in sql_of:
        from .run import SqlEvaluator
        sql_of[key] = SqlEvaluator(evaluator, threads=threads)
    return sql_of[key]


def _text(raw: object) -> str:
    """A bad record as the errors file shows it: its line as read, or the claim a CSV or Parquet file gave, as JSON."""
    if type(raw) is bytes:
        return raw.decode("utf-8", "replace").rstrip("\r\n")
    return json.dumps(raw, ensure_ascii=False, default=str) if isinstance(raw, dict) else ""
