"""A Parquet claim file decided with no Python per claim: `ctsdsl batch CLAIMS.parquet --engine sql`.

The usual SQL path (command.py) reads each row into a Python claim, validates it, writes its JSON
for DuckDB, and builds each decision in Python from what the SQL computed: about 100 µs a claim,
most of it Python. Here DuckDB does it all for the rows it can vouch for, a batch of `ROWS` at a
time: it reads the batch (Arrow, as pyarrow read it from the file), tests each row against the
policy's claim schema (native_checks.py), makes the claim digest and the two relations from the
columns, runs the policy's script, and writes the three decision tables (native_decisions.py),
or for JSON Lines each decision document's text.

Each row is still decided by the policy Python would choose: the batch's distinct (payer, date of
service) pairs are given to the batch's own `PolicyChooser`, and a row whose line is dated outside
that policy's period is left to Python, which refuses it as ever. Every row the SQL cannot vouch for
(one the checks doubt, one with no policy, one the script says the row engine would fail on) goes
the usual way in the same batch, row by row, so its error or decision is the row engine's; and
the tables are written in input order, whichever way each row went. A file or policy the checks
do not cover (a column type or schema keyword they do not know) is decided the usual way whole.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlglot import exp

from ...claims.checks import is_date
from ...errors import CtsdslError
from . import native_decisions as nd
from . import script
from .native_checks import (Checks, Refused, Shape, claim_struct, conj, digest, disj, field, fn, normalized,
                            not_null, row_normalized, row_shape)
from .parquet_decisions import RULE_COLUMNS
from .relations import relation_statements
from .values import is_null, is_true, lit

ROWS = 100_000  # rows a batch: DuckDB's fixed cost a query (~0.2 s a policy) spread over many claims
RECORD = "ctsdsl_record"  # the row's place in the file, from 1, added to each batch
_KEYS = "ctsdsl_keys"  # (payer, date of service) -> its policy's number in the batch, first and last line dates
_MINE = "ctsdsl_mine"  # the rows one policy decides: RECORD, first and last line dates
_TEXT_SLICE = 10_000  # decision texts turned into Python strings and written at a time


def decide_file(path: Path, name: str, worker: Any, summary: Any, out: Any, err: Any, on_error: Any,
                texts: bool = False) -> int | None:
    """Decide the Parquet claim file at `path` into `out`; the number of records.

    `out` is a `ParquetDecisions`, or with `texts` an output file of JSON Lines (the decision
    documents, as DuckDB writes them byte for byte as the row engine's batch does). `worker` is
    command.py's `_Worker` (its policy choice, its SQL engines, and its way of deciding a chunk of
    rows one by one, giving `Decision`s). None when the file's columns are of a type this path
    does not read: the caller then decides the file the usual way.

    Raises:
        ClaimError: the file is not Parquet, cannot be read, or its columns cannot hold claims.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from .. import batch as b
    from .parquet_claims import batch_claims, batches, open_file

    reader = open_file(path, name)
    try:
        shape = row_shape(reader.schema_arrow)
    except Refused:
        return None
    if any(column.startswith("ctsdsl_") for column in reader.schema_arrow.names):
        return None  # would meet this module's own names
    natives: dict[int, _Native | None] = {}
    keys = _Keys(shape)
    count = 0
    for before, batch in batches(reader, name, ROWS):
        table = pa.Table.from_batches([batch]).append_column(
            RECORD, pa.array(range(before + 1, before + 1 + batch.num_rows), pa.int64()))
        done: list = []
        written: list = []  # with `texts`: each part's table of (record, text), in record order
        for evaluator, mine in keys.split(table, worker.choose):
            if id(evaluator) not in natives:
                natives[id(evaluator)] = _Native.make(worker.engine(evaluator), shape)
            native = natives[id(evaluator)]
            if native is None:
                continue
            decided = native.decide(table, mine, texts)
            if decided is None:
                continue
            summary.merge(decided["summary"])
            if texts:
                written.append(decided["texts"])
                done.append(decided["texts"].column("record").combine_chunks())
            else:
                out.add_tables(decided, native.rules)
                done.append(decided["claims"].column("record").combine_chunks())
            count += len(done[-1])
        left = table if not done else table.filter(pc.invert(pc.is_in(table.column(RECORD),
                                                                      value_set=pa.concat_arrays(done))))
        result = None
        if left.num_rows:
            records = left.column(RECORD).to_pylist()
            claims = batch_claims(left.drop_columns([RECORD]).combine_chunks().to_batches()[0])
            result, rows = worker.chunk([(r - 1, f"row {r}", claim) for r, claim in zip(records, claims)])
            if texts:
                written.append(pa.table({"record": pa.array([r for r, _ in rows], pa.int64()),
                                         "text": pa.array([worker.encode(d) for _, d in rows], pa.string())}))
            else:
                for record, decision in rows:
                    out.add(record, decision)
            count += result.decided + len(result.errors)
            summary.merge(result.summary)
        if texts:
            _write_texts(out, written)
        else:
            out.flush()
        if result is not None:
            b.write_result(result, out, err, on_error)
    return count


class _Keys:
    """Which policy decides each row of a batch, as the worker's `PolicyChooser` picks it by the row's
    payer and date of service (each distinct pair asked once)."""

    def __init__(self, shape: Shape) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")
        payer, dos = shape.child("payer"), shape.child("date_of_service")
        assert payer is not None and dos is not None  # parquet_claims.check_schema requires both
        pair = exp.select(normalized(field(None, "payer"), payer).as_("p"),
                          normalized(field(None, "date_of_service"), dos).as_("d"), exp.column(RECORD)) \
            .from_("ctsdsl_input")
        self.pairs = f"CREATE OR REPLACE TEMP TABLE ctsdsl_pairs AS {pair.sql(dialect='duckdb')}"
        self.distinct = "SELECT DISTINCT p, d FROM ctsdsl_pairs"
        self.groups = (f"SELECT k.g, r.{RECORD}, k.ctsdsl_from, k.ctsdsl_to FROM ctsdsl_pairs r JOIN {_KEYS} k "
                       f"ON r.p = k.p AND r.d = k.d")

    def split(self, table: Any, choose: Any) -> list[tuple[Any, Any]]:
        """(evaluator, the rows of `table` it decides: their RECORD, and the first and last date their
        lines may have) for each policy of the batch; a row whose pair has no policy is in none (the
        row engine says why)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        con = self.con
        con.register("ctsdsl_input", table)
        try:
            con.execute(self.pairs)
            pairs = con.execute(self.distinct).fetchall()
        finally:
            con.unregister("ctsdsl_input")
        chosen: dict[int, tuple[int, Any]] = {}
        keys: list[tuple[str, str, int, str | None, str | None]] = []
        for payer, date in pairs:
            if not payer or not is_date(date):  # what the row engine asks before choosing by a claim's date
                continue
            try:
                evaluator, first, last = choose.period(payer, date)
            except CtsdslError:
                continue
            g, _ = chosen.setdefault(id(evaluator), (len(chosen), evaluator))
            keys.append((payer, date, g, first, last))
        if not keys:
            return []
        payers, dates, groups, first, last = zip(*keys)
        con.register(_KEYS, pa.table({"p": pa.array(payers, pa.string()), "d": pa.array(dates, pa.string()),
                                      "g": pa.array(groups, pa.int64()), "ctsdsl_from": pa.array(first, pa.string()),
                                      "ctsdsl_to": pa.array(last, pa.string())}))
        try:
            rows = script.arrow(con.execute(self.groups))
        finally:
            con.unregister(_KEYS)
            con.execute("DROP TABLE ctsdsl_pairs")
        return [(evaluator, rows.filter(pc.equal(rows.column("g"), g_)).drop_columns(["g"]))
                for g_, evaluator in chosen.values()]


class _Native:
    """One policy's statements for the native path, on its SQL engine's connection."""

    def __init__(self, sql: Any, shape: Shape) -> None:
        self.sql = sql
        evaluator = sql.evaluator
        valid = Checks(evaluator.claim_model.schema).row(shape)
        lines = shape.child("lines")
        assert lines is not None
        in_period: exp.Expression = exp.true()
        if lines.child("date_of_service") is not None:  # each line dated within the policy's period, if it is dated
            d = fn("struct_extract", exp.column("p0"), lit("date_of_service"))
            first, last = exp.column("ctsdsl_from"), exp.column("ctsdsl_to")
            inside = conj(exp.GTE(this=d, expression=first),
                          disj(is_null(last), exp.LTE(this=d, expression=last)))
            outside = conj(not_null(d), exp.Not(this=exp.Paren(this=inside)))
            stray = fn("list_filter", field(None, "lines"),
                       exp.Lambda(this=outside, expressions=[exp.to_identifier("p0")]))
            in_period = disj(is_null(first), exp.EQ(this=fn("len", stray), expression=lit(0)))
        # The policy's rows first (`_MINE`), then each made into its values: the others are never read.
        rows = exp.select(*row_normalized(shape), exp.column(RECORD), exp.column("ctsdsl_from"),
                          exp.column("ctsdsl_to")).from_("ctsdsl_input").join(_MINE, using=[RECORD]).subquery("r")
        chosen = exp.select(
            exp.Sub(this=exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(
                this=exp.column(RECORD))])), expression=lit(1)).as_("claim_ord"),
            exp.column(RECORD).as_("record"), exp.cast(field(None, "id"), "VARCHAR").as_("claim_id"),
            digest(shape).as_("claim_digest"), claim_struct(shape, evaluator.checked.fields).as_("c")) \
            .from_(rows).where(conj(is_true(valid), in_period))
        # What a finding shows of its rule, by rule_k, for the tables' findings (ParquetDecisions.add_tables).
        rules = nd.rule_table(evaluator)
        self.rules = rules.select(list(RULE_COLUMNS))
        self.statements = [f"CREATE OR REPLACE TEMP TABLE ctsdsl_native AS {chosen.sql(dialect='duckdb')}",
                           *relation_statements(evaluator.checked.fields, "ctsdsl_native")]
        sql.con.register(nd.RULES, rules)
        sql.con.register(nd.POLICY, nd.policy_table(evaluator))

    @classmethod
    def make(cls, sql: Any, shape: Shape) -> _Native | None:
        """The policy's native statements; None when its schema holds what the checks do not cover."""
        try:
            return cls(sql, shape)
        except Refused:
            return None

    def decide(self, table: Any, mine: Any, texts: bool = False) -> dict[str, Any] | None:
        """The decision tables of the rows of `table` this policy decides (`mine`, from `_Keys.split`)
        and the SQL can vouch for, and "summary", what a batch summary counts of them; None when
        DuckDB stopped on the batch (its rows then go the usual way).

        With `texts`, "texts" instead of the tables: a table of (record, decision JSON), in record
        order; a row whose id or a message JSON would escape is not in it."""
        import duckdb

        con, s = self.sql.con, self.sql.script
        con.register("ctsdsl_input", table)
        con.register(_MINE, mine)
        try:
            for statement in self.statements:
                con.execute(statement)
            for name, query in s.fill:
                script.store(con, name, query)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {nd.DECIDED} AS SELECT claim_ord, record, claim_id, claim_digest "
                        f"FROM ctsdsl_native WHERE claim_ord NOT IN ({s.failed})")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {nd.OUT_LINES} AS {s.lines}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {nd.OUT_FINDINGS} AS {s.numbered}")
            for statement in nd.STATEMENTS:
                con.execute(statement)
            if not texts:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {nd.WRITTEN} AS SELECT claim_ord FROM {nd.DECIDED}")
                return {**{name: script.arrow(con.execute(query)) for name, query in nd.TABLES.items()},
                        "summary": _tally(con)}
            con.execute(f"CREATE OR REPLACE TEMP TABLE ctsdsl_texts AS {nd.TEXTS}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {nd.WRITTEN} AS SELECT claim_ord FROM ctsdsl_texts "
                        "WHERE text IS NOT NULL")
            written = script.arrow(con.execute("SELECT record, text FROM ctsdsl_texts WHERE text IS NOT NULL "
                                               "ORDER BY record"))
            return {"texts": written, "summary": _tally(con)}
        except duckdb.Error:
            return None  # e.g. an amount past DECIMAL(38): the row engine decides these rows, or says why
        finally:
            con.unregister("ctsdsl_input")
            con.unregister(_MINE)
            self.sql.release()
            for name in ("ctsdsl_native", nd.DECIDED, nd.OUT_LINES, nd.OUT_FINDINGS):
                con.execute(f"DROP TABLE IF EXISTS {name}")
            for statement in nd.DROPS:
                con.execute(statement)


def _write_texts(out: Any, parts: list) -> None:
    """Each part's texts (tables of record and text, each in record order) to `out`, in record order.

    A batch's decision documents are ~250 MB: they stay in their parts, are merged by record (runs of
    one part's consecutive rows), and become Python strings a run at a time, written every
    `_TEXT_SLICE` lines. Putting them in one array first (concatenating, sorting) held a second copy."""
    texts = [p.column("text") for p in parts]
    merged = heapq.merge(*[_positions(i, p.column("record").to_pylist()) for i, p in enumerate(parts)])
    pending: list[str] = []
    run_part, run_start, run_end = -1, 0, 0

    def flush_run() -> None:
        if run_end > run_start:
            pending.extend(texts[run_part].slice(run_start, run_end - run_start).to_pylist())

    for _, i, j in merged:
        if i != run_part or j != run_end:
            flush_run()
            run_part, run_start = i, j
            if len(pending) >= _TEXT_SLICE:
                out.write("".join(f"{text}\n" for text in pending))
                pending.clear()
        run_end = j + 1
    flush_run()
    out.write("".join(f"{text}\n" for text in pending))


def _positions(part: int, records: list[int]) -> Iterator[tuple[int, int, int]]:
    """(record, part, row) for each row of a part, in its (record) order."""
    for row, record in enumerate(records):
        yield record, part, row


def _tally(con: Any) -> Any:
    """The batch `Summary` of the decisions just written (the claims in `native_decisions.WRITTEN`)."""
    from .. import batch as b

    out = b.Summary()
    for outcome, n, total, incomplete in con.execute(nd.TALLY_CLAIMS).fetchall():
        out.claims += n
        out.outcomes[outcome] += n
        out.total_allowed += total
        out.incomplete += incomplete
    out.lines.update(dict(con.execute(nd.TALLY_LINES).fetchall()))
    out.rules.update(dict(con.execute(nd.TALLY_RULES).fetchall()))
    return out
