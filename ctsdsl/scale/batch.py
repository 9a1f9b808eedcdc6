"""Batch evaluation: decide a stream of claims, in constant memory, on one core or several.

Two layers. `evaluate_all` is the developer's API: an iterable of claims in, an
iterator of `Decision` or `RecordError` out, never stopping at a bad record.
`run_batch` is what ``ctsdsl batch`` runs on a .jsonl (or .csv) file: it reads raw lines in
chunks, has each chunk parsed, validated, decided and encoded (in this process or
in worker processes), and writes the results back in input order to temporary files
that replace the targets only when the whole input has been read.

Parsing and encoding run in the workers, not only evaluation: on this workload
they cost as much as deciding the claim, and the main process would otherwise be
the bottleneck at two jobs and more.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from io import BufferedReader
from typing import TYPE_CHECKING, NamedTuple

from ..claims.validation import iter_claims, jsonl_lines, parse_jsonl_record, validate_for
from ..claims.csv_rows import csv_records
from ..engine.decision import Decision
from .decision_encoder import DecisionEncoder, Encoded
from ..errors import ClaimError, CtsdslError, Diagnostic, PolicyNotFoundError, amounts_in_range
from ..engine.evaluator import Evaluator
from ..limits import MAX_JOBS
from .output import BatchIOError, OutputFile, abandon_all, check_targets, publish_all, shown
from .policy_choice import PolicyChooser
from .pool import Interrupted, WorkerDiedError, ordered_map, stop_on_signals

__all__ = ["BatchIOError", "ChunkResult", "DecisionEncoder", "Interrupted", "PolicyChooser", "RecordError",
           "SourceRecord", "Summary", "WorkerDiedError", "bare_error", "chunk_records", "decide_record", "evaluate_all",
           "open_input", "registry_for", "run_batch", "write_result"]

if TYPE_CHECKING:  # registry imports the evaluator; batch loads it only when it must choose a policy
    from ..engine.registry import Registry

CHUNK_LINES = 2000  # a chunk is one task for a worker: large enough that pickling stays a small share
ZERO = Decimal("0.00")


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record that could not be decided: it does not parse, does not match the schema,
    has no policy in force, or a rule could not be evaluated on it.

    Attributes:
        index: The record's position in the input, from 0.
        location: Where it came from: ``claims.jsonl:12`` for line 12 of a file.
        error: The `CtsdslError`, with located diagnostics.
        record: The record's text as read, when it came from a JSON Lines file; from a CSV file
            the claim assembled from its rows, as JSON; else empty.
    """

    index: int
    location: str
    error: CtsdslError
    record: str = ""

    @property
    def line(self) -> int | None:
        """The line number in the input file, when the record came from one."""
        tail = self.location.rpartition(":")[2]
        return int(tail) if tail.isdigit() else None

    @property
    def exit_code(self) -> int:
        return self.error.exit_code

    def to_dict(self) -> dict:
        """The error as ``ctsdsl batch --errors`` writes it: one JSON object per bad record."""
        return {"line": self.line, "location": self.location, "kind": type(self.error).__name__,
                "diagnostics": [_diagnostic_dict(d, self.line) for d in self.error.diagnostics], "record": self.record}

    def render(self) -> str:
        text = self.error.render(limit=3)
        # An evaluation error is located in the policy: say which record it happened on, too.
        return text if text.startswith(self.location) else f"{self.location}: could not be decided:\n{text}"


def bare_error(exc: CtsdslError) -> CtsdslError:
    """The error without its traceback and chained errors: their frames would hold the whole chunk
    of records in a reference cycle until the next full garbage collection (memory grew with the file)."""
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    return exc


def _diagnostic_dict(d: Diagnostic, line: int | None) -> dict:
    return {"code": d.code, "message": d.message, "source": d.source_name, "line": d.span.line or line,
            "column": d.span.column or None, "path": d.path or None, "hint": d.hint or None}


@dataclass
class Summary:
    """What a batch did: counted as it goes, merged across workers, printed at the end."""

    claims: int = 0
    errors: int = 0
    outcomes: Counter = field(default_factory=Counter)
    lines: Counter = field(default_factory=Counter)  # allowed, reduced, denied, out_of_scope
    total_allowed: Decimal = ZERO
    incomplete: int = 0  # claims whose total leaves out a paid line of unknown amount
    rules: Counter = field(default_factory=Counter)  # rule id -> findings
    exit_code: int = 0  # the worst record's exit code (2 malformed, 3 not evaluable)
    notes: list[str] = field(default_factory=list)  # about the file, said even with -q: a last record cut short

    def add(self, decision: Decision) -> None:
        self.claims += 1
        self.outcomes[decision.outcome] += 1
        for line in decision.lines:
            self.lines[line.status] += 1
        self.total_allowed += decision.total_allowed
        self.incomplete += not decision.total_complete
        for finding in decision.findings:
            self.rules[finding.rule] += 1

    def add_encoded(self, encoded: Encoded) -> None:
        """`add`, for a decision written straight from its rules' results (`DecisionEncoder.encode_result`)."""
        self.claims += 1
        self.outcomes[encoded.outcome] += 1
        self.lines.update(encoded.statuses)
        self.total_allowed += encoded.total_allowed
        self.incomplete += not encoded.total_complete
        self.rules.update(encoded.rules)

    def add_error(self, error: RecordError) -> None:
        self.errors += 1
        self.exit_code = max(self.exit_code, error.exit_code)

    def merge(self, other: Summary) -> None:
        self.claims += other.claims
        self.errors += other.errors
        self.outcomes.update(other.outcomes)
        self.lines.update(other.lines)
        self.total_allowed += other.total_allowed
        self.incomplete += other.incomplete
        self.rules.update(other.rules)
        self.exit_code = max(self.exit_code, other.exit_code)
        self.notes += other.notes

    def render(self, top: int = 5) -> str:
        lines = self.lines
        out = [f"claims: {self.claims:,} decided, {self.errors:,} not decided",
               "outcomes: " + ", ".join(f"{k} {self.outcomes[k]:,}" for k in ("pay", "partial", "deny"))
               + (f", conditional {self.outcomes['conditional']:,}" if self.outcomes["conditional"] else ""),
               f"lines: {lines['allowed']:,} allowed, {lines['reduced']:,} reduced, {lines['denied']:,} denied, "
               f"{lines['out_of_scope']:,} out of scope"
               + (f", {lines['needs_record']:,} need the record" if lines["needs_record"] else ""),
               f"total allowed: ${self.total_allowed:,.2f}"
               + (f" known; {self.incomplete:,} claim(s) have lines of unknown amount" if self.incomplete else "")]
        if self.rules:
            # ties broken by name, so the summary is the same at any --jobs
            ranked = sorted(self.rules.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
            out.append("top rules fired: " + ", ".join(f"{rule} {count:,}" for rule, count in ranked))
        return "\n".join(out)


class SourceRecord(NamedTuple):
    """A claim read by another reader (an 837P, a FHIR Bundle: `ctsdsl.interop`), for `run_batch(source=...)`."""

    location: str  # where it is in its file, for messages and --errors
    claim: object  # the claim dict, or the CtsdslError that stopped it
    record: str = ""  # its text, for --errors
    context: object = None  # handed to run_batch's `encode` with the claim's decision


# ---------------------------------------------------------------- deciding a record


def decide_record(raw: object, location: str, choose: PolicyChooser) -> Decision:
    """One record decided by the policy `choose` picks for it, the claim checked against that policy's schema.

    Raises:
        CtsdslError: the claim is malformed, has no policy, or cannot be evaluated; an error about the
            claim itself is located at `location` (the record's file and line).
    """
    try:
        # Checked against the schema of the policy that decides it, which may declare fields of its own.
        claim, evaluator = validate_for(raw, location, choose)
        with amounts_in_range(location):
            return evaluator.evaluate(claim, validate=False, assume_documented=choose.assume_documented)
    except CtsdslError as exc:
        _renamed(exc, location)
        raise


def _renamed(exc: CtsdslError, location: str) -> None:
    """Errors about the claim itself (its payer, its date) name where it came from."""
    exc.diagnostics = [Diagnostic(d.code, d.message, location, d.span, d.hint, d.severity, d.path)
                       if d.source_name == "<claim>" or (isinstance(exc, PolicyNotFoundError) and d.path)
                       else d for d in exc.diagnostics]


def encode_record(raw: object, location: str, choose: PolicyChooser, encoder: DecisionEncoder
                  ) -> tuple[Encoded | None, Decision | None]:
    """`decide_record`, writing the decision's JSON straight from what the rules computed: (Encoded, None);
    or (None, Decision) for a claim whose decision needs the `Decision` (one leaving facts unstated).

    Raises:
        CtsdslError: as `decide_record`.
    """
    try:
        claim, evaluator = validate_for(raw, location, choose)
        try:
            result = evaluator.result(claim, assume_documented=choose.assume_documented)
            if result is None:
                return None, evaluator.evaluate(claim, validate=False, assume_documented=choose.assume_documented)
            return encoder.encode_result(evaluator, claim, result), None
        except ArithmeticError:  # no context manager per claim: one costs a tenth of deciding it
            with amounts_in_range(location):
                raise
    except CtsdslError as exc:
        _renamed(exc, location)
        raise


def evaluate_all(claims: Iterable[object], *, policy: Evaluator | str | Path | None = None,
                 policies: str | Path | None = None, assume_documented: bool = False
                 ) -> Iterator[Decision | RecordError]:
    """Decide claims one after another, lazily, carrying on past bad ones.

    Unlike `Evaluator.evaluate_many`, a claim that is malformed, has no policy in
    force or cannot be evaluated does not stop the iteration: it comes out as a
    `RecordError` in its place, so the output lines up with the input.

    Args:
        claims: Claims as parsed from JSON or YAML (dicts), any iterable, read one at a
            time. An item may also be a `ClaimError` (as `ctsdsl.claims.validation.iter_claims`
            yields for a record that does not parse): it is passed through as an error.
        policy: A policy name, a `.cts` path or an `Evaluator`; by default the bundled
            policy in force for each claim's payer and date of service.
        policies: A folder of policies to choose from by payer and date instead of the
            bundled ones (your own tree, overlays included).
        assume_documented: Read every documentation flag a claim does not give as false as
            documented, as `Evaluator.evaluate` does.

    Yields:
        For each claim, in order, its `Decision` or a `RecordError`.

    Raises:
        CtsdslError: Only for the `policy` argument itself (unknown name, errors in the file).

    >>> import ctsdsl
    >>> good = {"id": "c1", "payer": "medicare", "date_of_service": "2024-05-01", "place_of_service": "11",
    ...         "lines": [{"code": "97550", "units": 1, "minutes": 30}]}
    >>> [type(r).__name__ for r in ctsdsl.evaluate_all([good, {"id": "c2"}])]
    ['Decision', 'RecordError']
    """
    choose = PolicyChooser(policy, registry_for(policies), assume_documented)
    for index, claim in enumerate(claims):
        location = f"<claim {index}>"
        if isinstance(claim, CtsdslError):
            yield RecordError(index, location, claim)
            continue
        try:
            yield decide_record(claim, location, choose)
        except CtsdslError as exc:
            yield RecordError(index, location, bare_error(exc))


# ---------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """One chunk, decided: its decisions as JSON Lines text, its errors in input order, and its summary."""

    text: str  # one string, not a list: it crosses from a worker to the main process several times faster
    decided: int
    errors: list[RecordError]
    summary: Summary


def registry_for(policies: str | Path | None) -> Registry | None:
    """The registry of a `--policies` folder, or None for the bundled policies (chosen lazily)."""
    from ..engine.registry import folder_registry
    return None if policies is None else folder_registry(policies)


class _Worker:
    """What one process needs to decide chunks: its policies and its encoder, built once."""

    def __init__(self, name: str, policy: str | Path | None, policies: str | Path | None = None,
                 assume_documented: bool = False) -> None:
        self.name = name
        self.choose = PolicyChooser(policy, registry_for(policies), assume_documented)
        self.encoder = DecisionEncoder()

    def chunk(self, records: list[tuple[int, int, bytes | ClaimError]]) -> ChunkResult:
        """Decide (index, line number, raw JSON line or the error reading it) records."""
        decisions, errors, summary = [], [], Summary()
        name, choose, encoder = self.name, self.choose, self.encoder
        if choose.compiled_another:  # after the chunk that compiled it, so each policy is frozen once
            _freeze()
            choose.compiled_another = False
        for index, lineno, raw in records:
            location = f"{name}:{lineno}"
            item = parse_jsonl_record(raw, name, lineno) if type(raw) is bytes else raw
            try:
                if isinstance(item, CtsdslError):
                    raise item
                encoded, decision = encode_record(item, location, choose, encoder)
            except CtsdslError as exc:
                text = raw.decode("utf-8", "replace").rstrip("\r\n") if type(raw) is bytes else ""
                error = RecordError(index, location, bare_error(exc), text)
                errors.append(error)
                summary.add_error(error)
                continue
            if encoded is None:
                encoded = encoder.encoded(decision)  # type: ignore[arg-type]
            decisions.append(encoded.text)
            summary.add_encoded(encoded)
        return ChunkResult("".join(f"{d}\n" for d in decisions), len(decisions), errors, summary)


def _freeze() -> None:
    """Put what is alive now (compiled policies, their trees and tables: never garbage while the batch
    runs) out of the collector's sight; it rescanned them at every full collection."""
    gc.collect()
    gc.freeze()


def chunk_records(records: Iterable[tuple[int, object]], size: int) -> Iterator[list[tuple[int, int, object]]]:
    """(line number, record) pairs in lists of `size`, each record with its place in the input."""
    chunk: list = []
    for index, (lineno, raw) in enumerate(records):
        chunk.append((index, lineno, raw))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _decided_in_order(chunks: Iterator[list], worker: _Worker | None, jobs: int, init: tuple
                      ) -> Iterator[ChunkResult]:
    """Each chunk's result, in input order; with jobs > 1, at most 2 x jobs chunks in flight (flat memory)."""
    if jobs <= 1:
        for chunk in chunks:
            yield worker.chunk(chunk)  # type: ignore[union-attr]
        return
    yield from ordered_map(_chunk_worker, init, chunks, jobs)


def _chunk_worker(name: str, policy: str | Path | None, policies: str | Path | None, assume_documented: bool = False
                  ) -> Callable[[list], ChunkResult]:
    return _Worker(name, policy, policies, assume_documented).chunk


class _Progress:
    """A one-line progress bar on stderr, by bytes read; silent unless stderr is a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.start, self.shown = max(total, 1), enabled, time.monotonic(), 0.0

    def update(self, done: int, claims: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.shown < 0.2:
            return
        self.shown = now
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 30)
        rate = claims / max(now - self.start, 1e-9)
        sys.stderr.write(f"\r[{bar:<30}] {share:6.1%} {claims:,} claims {rate:,.0f}/s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def open_input(path: Path) -> BufferedReader:
    """Open a claim file for streaming, refusing what cannot be streamed; errors located like `iter_claims`."""
    try:
        if not path.is_file():
            if path.exists():
                raise ClaimError(Diagnostic("claim-file-unreadable", f"{path} is not a regular file", str(path)))
            raise ClaimError(Diagnostic("claim-file-not-found", f"no such claim file: {path}", str(path)))
        fh = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise ClaimError(Diagnostic("claim-file-unreadable", f"cannot read {path}: {exc.strerror or exc}",
                                    str(path))) from None
    if b"\0" in fh.peek(8192):
        fh.close()
        raise ClaimError(Diagnostic("claim-encoding", f"{path} is not a text file (it holds NUL bytes)", str(path),
                                    hint="claims are UTF-8 JSON Lines, one claim per line"))
    return fh


def run_batch(claims_path: str | Path, *, output: str | Path | None = None, errors: str | Path | None = None,
              jobs: int = 1, policy: str | Path | None = None, policies: str | Path | None = None,
              progress: bool | None = None,
              on_error: Callable[[RecordError], None] | None = None, chunk_lines: int = CHUNK_LINES,
              source: Iterable[SourceRecord] | None = None,
              encode: Callable[[object, Decision], str] | None = None, assume_documented: bool = False) -> Summary:
    """Decide every claim of a file and write one decision per line, in input order.

    A .jsonl file, or a .csv file of claim lines (grouped into claims by id), is streamed
    in chunks of records; a .json or .yaml file is read whole
    (and decided in this process). Decisions go to ``output`` (stdout when None) and
    bad records to ``errors`` (one JSON object each; not written when None), a regular file via a
    temporary file that replaces it only once every record is done, a FIFO or a device as a stream.

    Args:
        claims_path: The claim file.
        output: The decisions file (JSON Lines), or None for stdout.
        errors: The file for bad records (JSON Lines), or None.
        jobs: Worker processes, 1 to `limits.MAX_JOBS`; 1 decides in this process.
        policy: A policy name or path for every claim; by default the bundled one in force.
        policies: A folder of policies to choose from by payer and date instead of the bundled ones.
        progress: Show a progress bar on stderr; by default only when stderr is a terminal.
        on_error: Called with each bad record as it is found, in input order.
        chunk_lines: Records per task.
        source: The claims, already read from `claims_path` by a reader of another format (an 837P,
            FHIR): decided in this process, in order.
        encode: Writes a decision of `source` as one line, given its record's context (a FHIR
            ClaimResponse); by default the decision's JSON.
        assume_documented: Read every documentation flag a claim does not give as false as
            documented (``--assume-documented``); each decision says so.

    Returns:
        The `Summary`; its ``exit_code`` is 0 when every record was decided.

    Raises:
        CtsdslError: For the file as a whole (missing, binary, empty) or the policy; an output
            that is the claim file, or both outputs one file (`BatchIOError`); nothing is written then.
        WorkerDiedError: A worker process died (killed, out of memory); nothing is written.
        Interrupted: SIGTERM or SIGHUP (a KeyboardInterrupt, as Ctrl-C is): nothing is written, and
            the temporary files are removed.
    """
    if not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"jobs must be 1 to {MAX_JOBS}, not {jobs}")
    path = Path(claims_path)
    check_targets(path, output, errors)  # before anything is read: -o naming the input would destroy it
    if policy is not None or policies is not None:
        PolicyChooser(policy, registry_for(policies))  # a broken --policy fails here, once, not in every worker
    summary = Summary()
    with stop_on_signals():
        out = OutputFile(output)
        err: OutputFile | None = None
        try:
            err = OutputFile(errors) if errors else None
            if source is not None:
                _from_source(source, out, err, summary, PolicyChooser(policy, registry_for(policies), assume_documented),
                             on_error, encode, shown(path))
            elif path.suffix.lower() in (".jsonl", ".csv"):
                _stream(path, out, err, summary, jobs, (policy, policies, assume_documented), progress, on_error,
                        chunk_lines)
            else:
                _whole(path, out, err, summary, policy, policies, on_error, assume_documented)
            publish_all(out, err)
        except BaseException as exc:
            abandon_all(out, err)
            if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):  # `| head` is not an error
                # Writes name their own file; what is left is reading the claims.
                raise _read_error(exc, path) from None
            raise
    return summary


def _read_error(exc: OSError, path: Path) -> BatchIOError:
    where = exc.filename if isinstance(exc.filename, str) and not Path(exc.filename).name.startswith(".") \
        else shown(path)
    return BatchIOError(Diagnostic("batch-io", f"cannot write or read {where}: {exc.strerror or exc}", where,
                                   hint="nothing was written; the previous output, if any, is unchanged"))


def _stream(path: Path, out: OutputFile, err: OutputFile | None, summary: Summary, jobs: int,
            choice: tuple[str | Path | None, str | Path | None, bool], progress: bool | None,
            on_error: Callable[[RecordError], None] | None, chunk_lines: int) -> None:
    """Decide a .jsonl or .csv file a chunk at a time; `choice` is each worker's policy, policies, assume_documented."""
    name = shown(path)  # a file name that is not UTF-8 must not make its records unwritable
    with open_input(path) as fh:
        bar = _Progress(path.stat().st_size, sys.stderr.isatty() if progress is None else progress)
        worker = _Worker(name, *choice) if jobs <= 1 else None
        source = jsonl_lines(fh) if path.suffix.lower() == ".jsonl" else csv_records(fh, name)
        records = 0
        for chunk in _decided_in_order(chunk_records(source, chunk_lines), worker, jobs, (name, *choice)):
            write_result(chunk, out, err, on_error)
            summary.merge(chunk.summary)
            records += chunk.decided + len(chunk.errors)
            bar.update(fh.tell(), records)
        bar.close()
        if records and not _ends_with_line_end(fh):
            summary.notes.append(f"{name}: the last record (line {_last_line(fh)}) has no line end: if the file "
                                 "was cut short, that record is incomplete and any after it are missing")
    if not records:
        raise ClaimError(Diagnostic("claim-empty", f"{name} holds no claims", name,
                                    hint="a .jsonl file holds one claim per line; a .csv file, a header "
                                    "and one row per claim line"))


def _ends_with_line_end(fh: BufferedReader) -> bool:
    fh.seek(0, os.SEEK_END)
    if fh.tell() == 0:
        return True
    fh.seek(-1, os.SEEK_END)
    return fh.read(1) in (b"\n", b"\r")


def _last_line(fh: BufferedReader) -> int:
    fh.seek(0)
    return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) + 1


def _whole(path: Path, out: OutputFile, err: OutputFile | None, summary: Summary, policy: str | Path | None,
           policies: str | Path | None, on_error: Callable[[RecordError], None] | None,
           assume_documented: bool) -> None:
    """Decide a .json or .yaml file, read whole, in this process."""
    encoder = DecisionEncoder()
    pairs = list(iter_claims(path))
    decided = evaluate_all((item for _, item in pairs), policy=policy, policies=policies,
                           assume_documented=assume_documented)
    for index, result in enumerate(decided):
        if isinstance(result, RecordError):
            located = RecordError(index, pairs[index][0], result.error)
            write_result(ChunkResult("", 0, [located], Summary()), out, err, on_error)
            summary.add_error(located)
        else:
            out.write(encoder.encode(result) + "\n")
            summary.add(result)


def _from_source(source: Iterable[SourceRecord], out: OutputFile, err: OutputFile | None, summary: Summary,
                 choose: PolicyChooser, on_error: Callable[[RecordError], None] | None,
                 encode: Callable[[object, Decision], str] | None, name: str) -> None:
    """Decide claims another reader has read, in this process, carrying on past bad ones."""
    encoder, count = DecisionEncoder(), 0
    for index, item in enumerate(source):
        count += 1
        try:
            if isinstance(item.claim, CtsdslError):
                raise item.claim
            decision = decide_record(item.claim, item.location, choose)
        except CtsdslError as exc:
            error = RecordError(index, item.location, bare_error(exc), item.record)
            write_result(ChunkResult("", 0, [error], Summary()), out, err, on_error)
            summary.add_error(error)
            continue
        out.write((encode(item.context, decision) if encode else encoder.encode(decision)) + "\n")
        summary.add(decision)
    if not count:
        raise ClaimError(Diagnostic("claim-empty", f"{name} holds no claims", name))


def write_result(result: ChunkResult, out: OutputFile, err: OutputFile | None,
                 on_error: Callable[[RecordError], None] | None) -> None:
    """A chunk's decisions to `out`, its bad records to `err` (and `on_error`), in input order."""
    if result.text:
        out.write(result.text)
    for error in result.errors:
        if err:
            err.write(json.dumps(error.to_dict(), ensure_ascii=False) + "\n")
        if on_error:
            on_error(error)
