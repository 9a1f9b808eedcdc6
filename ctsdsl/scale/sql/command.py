"""The command line of the SQL backend: `ctsdsl sql POLICY` and `ctsdsl batch --engine sql`.

Batch reads records as the row engine's batch does (batch.py's readers, so a malformed record
gets the same located error), validates them, chooses each claim's policy, decides a chunk of
claims per policy in one query, and writes the same JSON Lines in input order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...errors import ClaimError, CtsdslError, Diagnostic, UsageError

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
                  policies: str | None, on_error=None, output_format: str = "json", assume_documented: bool = False):
    """Decide a .jsonl, .csv or .parquet file of claims with the SQL backend; returns the batch `Summary`.

    `output_format` "json" writes JSON Lines to `output` (a file, or stdout); "parquet" writes
    the decisions as three tables in the folder `output` (parquet_decisions.py)."""
    _require()
    from .. import batch as b
    from ...claims.validation import jsonl_lines
    from ...claims.csv_rows import csv_records
    from ..output import OutputFile, abandon_all, check_targets, publish_all, shown
    from .parquet_claims import parquet_records
    from .parquet_decisions import ParquetDecisions, check_folder
    from .run import SqlEvaluator

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv", ".parquet"):
        raise UsageError(Diagnostic("engine-input", f"--engine sql reads .jsonl, .csv or .parquet files, not "
                                    f"{path.name}", shown(path), hint="decide it with the row engine (--engine row)"))
    folder = check_folder(output) if output_format == "parquet" else None
    check_targets(path, None if folder else output, errors)
    choose = b.PolicyChooser(policy, b.registry_for(policies), assume_documented)  # batch's own policy choice
    summary = b.Summary()
    sql_of: dict[int, SqlEvaluator] = {}
    name = shown(path)
    with b.stop_on_signals():
        out: OutputFile | ParquetDecisions = ParquetDecisions(folder) if folder else OutputFile(output)
        try:
            err = OutputFile(errors) if errors else None
        except BaseException:
            out.abandon()
            raise
        try:
            if suffix == ".parquet":
                count = _decide_file(parquet_records(path, name), name, choose, sql_of, summary, out, err, on_error)
            else:
                with b.open_input(path) as fh:
                    source = jsonl_lines(fh) if suffix == ".jsonl" else csv_records(fh, name)
                    count = _decide_file(source, name, choose, sql_of, summary, out, err, on_error)
            if not count:
                raise ClaimError(Diagnostic("claim-empty", f"{name} holds no claims", name))
            publish_all(out, err)  # type: ignore[arg-type]  # ParquetDecisions finishes and publishes as a file does
        except BaseException:
            abandon_all(out, err)  # type: ignore[arg-type]
            raise
    return summary


def _decide_file(source, name, choose, sql_of, summary, out, err, on_error) -> int:
    """Decide every record of `source` a chunk at a time, writing each chunk's results in input order."""
    from .. import batch as b
    from ...claims.validation import parse_jsonl_record, validate_for
    from ..output import OutputFile

    # JSON Lines are written from what the SQL computed, as the row engine's batch writes them;
    # Parquet tables (and decisions with documentation assumed) need the `Decision`s.
    encoder = b.DecisionEncoder() if isinstance(out, OutputFile) and not choose.assume_documented else None
    encode = b.DecisionEncoder().encode
    count = 0
    for chunk in b.chunk_records(source, CHUNK):
        count += len(chunk)
        results = _decide_chunk(chunk, name, choose, sql_of, parse_jsonl_record, validate_for, encoder)
        decided = []
        errors = []
        for (_, lineno, _), result in zip(chunk, results):
            if isinstance(result, b.RecordError):
                errors.append(result)
                summary.add_error(result)
            elif isinstance(result, b.Encoded):
                summary.add_encoded(result)
                decided.append(result.text)
            elif isinstance(out, OutputFile):
                summary.add(result)
                decided.append(encode(result))
            else:  # Parquet: the record is its line or row in the input, from 1
                summary.add(result)
                out.add(int(str(lineno).rpartition(" ")[2]), result)
        if isinstance(out, OutputFile):
            text = "".join(f"{d}\n" for d in decided)
        else:
            out.flush()
            text = ""
        # Input order: decisions and errors interleave as the records did; each output keeps its own order.
        b.write_result(b.ChunkResult(text, len(decided), errors, b.Summary()), out, err, on_error)
    return count


def _decide_chunk(chunk, name, choose, sql_of, parse, validate, encoder=None) -> list:
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
        key = id(evaluator)
        if key not in sql_of:
            from .run import SqlEvaluator
            sql_of[key] = SqlEvaluator(evaluator)  # type: ignore[arg-type]
        sql = sql_of[key]
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


def _text(raw: object) -> str:
    """A bad record as the errors file shows it: its line as read, or the claim a CSV or Parquet file gave, as JSON."""
    if type(raw) is bytes:
        return raw.decode("utf-8", "replace").rstrip("\r\n")
    return json.dumps(raw, ensure_ascii=False, default=str) if isinstance(raw, dict) else ""
