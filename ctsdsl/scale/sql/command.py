"""The command line of the SQL backend: `ctsdsl sql POLICY` and `ctsdsl batch --engine sql`.

Batch reads records as the row engine's batch does (batch.py's readers, so a malformed record
gets the same located error), validates them, chooses each claim's policy, decides a chunk of
claims per policy in one query, and writes the same JSON Lines in input order.
"""

from __future__ import annotations

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
                  policies: str | None, on_error=None):
    """Decide a .jsonl or .csv file of claims with the SQL backend; returns the batch `Summary`."""
    _require()
    from .. import batch as b
    from ...claims.validation import jsonl_lines, parse_jsonl_record, validate_for
    from ...claims.csv_rows import csv_records
    from ..output import OutputFile, abandon_all, check_targets, publish_all, shown
    from .run import SqlEvaluator

    path = Path(path)
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise UsageError(Diagnostic("engine-input", f"--engine sql reads .jsonl or .csv files, not {path.name}",
                                    shown(path), hint="decide it with the row engine (--engine row)"))
    check_targets(path, output, errors)
    choose = b.PolicyChooser(policy, b.registry_for(policies))  # batch's own policy choice
    encode = b.DecisionEncoder().encode
    summary = b.Summary()
    sql_of: dict[int, SqlEvaluator] = {}
    name = shown(path)
    with b.stop_on_signals():
        out = OutputFile(output)
        err = OutputFile(errors) if errors else None
        try:
            with b.open_input(path) as fh:
                source = jsonl_lines(fh) if path.suffix.lower() == ".jsonl" else csv_records(fh, name)
                count = 0
                for chunk in b.chunk_records(source, CHUNK):
                    count += len(chunk)
                    _decide_chunk(chunk, name, choose, sql_of, encode, summary, out, err,
                                  parse_jsonl_record, validate_for, on_error)
            if not count:
                raise ClaimError(Diagnostic("claim-empty", f"{name} holds no claims", name))
            publish_all(out, err)
        except BaseException:
            abandon_all(out, err)
            raise
    return summary


def _decide_chunk(chunk, name, choose, sql_of, encode, summary, out, err, parse, validate, on_error) -> None:
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
        for pos, result in zip(positions, sql_of[key].decide(claims)):
            if isinstance(result, int):  # the SQL says the row engine would fail here: it decides, or names why
                index, lineno, raw = chunk[pos]
                try:
                    result = b.decide_record(claims[result], f"{name}:{lineno}", choose)
                except CtsdslError as exc:
                    result = b.RecordError(index, f"{name}:{lineno}", b.bare_error(exc), _text(raw))
            results[pos] = result
    decided = []
    errors = []
    for result in results:
        if isinstance(result, b.RecordError):
            errors.append(result)
            summary.add_error(result)
        else:
            decided.append(encode(result))
            summary.add(result)
    # Input order: decisions and errors interleave as the records did; each output keeps its own order.
    b.write_result(b.ChunkResult("".join(f"{d}\n" for d in decided), len(decided), errors, b.Summary()),
             out, err, on_error)


def _text(raw: object) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r\n") if type(raw) is bytes else ""
