"""Decisions as Parquet tables, for `ctsdsl batch ... --engine sql -o DIR --format parquet` (issue 18).

Three files in DIR, each a row per item, in input order (docs/sql.md, "Parquet"):

* ``claims.parquet``: a row per decided claim: its outcome, total, digest and policy;
* ``lines.parquet``: a row per claim line: status, units billed and allowed, amount, finding ids,
  adjustments (the 835's CAS), remarks, what to confirm;
* ``findings.parquet``: a row per finding: rule, title, severity, reason codes, message,
  citation, sources and the layer (policy, version, file, line) the rule came from.

Every table starts with ``record`` (where the claim was in the input: its line, or its row in a
Parquet file, from 1) and ``claim_id``, which join them. The values are the decision document's,
field for field (tests/test_sql_parquet.py reads both and compares): amounts are DECIMAL(38,2)
where JSON writes "30.00". Rows are written a row group per chunk, so memory stays flat; the
files are written under temporary names and replace DIR's only when the run succeeds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...engine.decision import Decision
from ...errors import Diagnostic, UsageError
from ..output import BatchIOError, io_error, shown

TABLES = ("claims", "lines", "findings")
# A finding's own columns, and its rule's (the same on every finding of the rule), as add_tables takes them.
NARROW = ("record", "claim_id", "id", "line", "message")
RULE_COLUMNS = ("rule", "title", "severity", "reason_codes", "citation", "sources", "layer", "layer_version",
                "layer_file", "layer_line")
WRITE_ROWS = 65_536  # findings given their rule columns and written a slice at a time: memory stays small


def _in_record_order(parts: list) -> Any:
    """The tables `parts` (each in record order, each claim's rows in one) as one, in record order: a stable sort."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(parts) == 1:
        return parts[0]
    whole = pa.concat_tables(parts)
    return whole.take(pc.sort_indices(whole, [("record", "ascending")]))


def _schemas() -> dict[str, Any]:
    import pyarrow as pa

    money = pa.decimal128(38, 2)
    text, texts, whole = pa.string(), pa.list_(pa.string()), pa.int64()
    head = [("record", whole), ("claim_id", text)]
    adjustment = pa.struct([("group", text), ("carc", text), ("amount", money), ("quantity", whole),
                            ("finding", text)])
    source = pa.struct([("id", text), ("title", text), ("url", text), ("date", text)])
    return {
        "claims": pa.schema(head + [("claim_digest", text), ("outcome", text), ("total_allowed", money),
                                    ("total_complete", pa.bool_()), ("assumed_documented", pa.bool_()),
                                    ("policy", text), ("policy_payer", text), ("policy_version", text),
                                    ("policy_digest", text), ("policy_file", text)]),
        "lines": pa.schema(head + [("index", whole), ("code", text), ("status", text), ("units_billed", whole),
                                   ("units_allowed", whole), ("allowed_amount", money), ("findings", texts),
                                   ("adjustments", pa.list_(adjustment)), ("remarks", texts), ("confirm", texts)]),
        "findings": pa.schema(head + [("id", text), ("line", whole), ("rule", text), ("title", text),
                                      ("severity", text), ("reason_codes", texts), ("message", text),
                                      ("citation", text), ("sources", pa.list_(source)), ("layer", text),
                                      ("layer_version", text), ("layer_file", text), ("layer_line", whole)]),
    }


def check_folder(output: str | None) -> Path:
    """The folder `-o` names for Parquet output, refused when there is none or it is a file."""
    if not output:
        raise UsageError(Diagnostic("usage", "--format parquet writes three tables to a folder: name it with -o DIR",
                                    "ctsdsl batch", hint="e.g. -o decisions/ --format parquet"))
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise BatchIOError(Diagnostic("output-not-folder", f"-o {shown(folder)} is a file: --format parquet writes "
                                      "a folder of tables", shown(folder), hint="name a folder, e.g. -o decisions/"))
    return folder


class ParquetDecisions:
    """Decisions buffered a chunk at a time and written as row groups of the three tables."""

    def __init__(self, folder: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.folder = folder
        self.name = shown(folder)
        self.schemas = _schemas()
        findings = self.schemas["findings"]
        self.narrow = pa.schema([findings.field(name) for name in NARROW] + [("rule_k", pa.int64())])
        self.rule_schema = pa.schema([findings.field(name) for name in RULE_COLUMNS])
        self.columns: dict[str, dict[str, list]] = {t: {name: [] for name in self.schemas[t].names} for t in TABLES}
        self.sources: dict[int, tuple[object, list[dict]]] = {}
        self.tables: dict[str, list] = {t: [] for t in TABLES}  # tables DuckDB wrote (add_tables), to flush
        self.pool: Any = None  # the thread that writes (flush), started with the first write
        self.pending: Any = None  # the write in flight
        self.temps: dict[str, Path] = {}
        self.writers: dict[str, Any] = {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for table in TABLES:
                temp = folder / f".{table}.parquet.{os.urandom(4).hex()}.tmp"
                self.temps[table] = temp
                self.writers[table] = pq.ParquetWriter(temp, self.schemas[table])
        except OSError as exc:
            self.abandon()
            raise io_error(exc, self.name) from None

    def add(self, record: int, d: Decision) -> None:
        """One decision's rows; `record` is where its claim was in the input, from 1.

        Rows are kept as columns (a list per column, converted once a chunk by `flush`): building
        a dict per row and letting pyarrow take them apart was most of the time of writing."""
        p = d.policy
        claims = self.columns["claims"]
        head: tuple[tuple[str, object], ...] = (
            ("record", record), ("claim_id", d.claim_id), ("claim_digest", d.claim_digest), ("outcome", d.outcome),
            ("total_allowed", d.total_allowed), ("total_complete", d.total_complete),
            ("assumed_documented", d.assumed_documented), ("policy", p.name), ("policy_payer", p.payer),
            ("policy_version", p.version), ("policy_digest", p.digest), ("policy_file", p.file))
        for column, value in head:
            claims[column].append(value)
        lines = self.columns["lines"]
        for ln in d.lines:
            lines["record"].append(record)
            lines["claim_id"].append(d.claim_id)
            lines["index"].append(ln.index)
            lines["code"].append(ln.code)
            lines["status"].append(ln.status)
            lines["units_billed"].append(ln.units_billed)
            lines["units_allowed"].append(ln.units_allowed)
            lines["allowed_amount"].append(ln.allowed_amount)
            lines["findings"].append(ln.findings)
            lines["adjustments"].append([{"group": a.group, "carc": a.carc, "amount": a.amount, "quantity": a.quantity,
                                          "finding": a.finding} for a in ln.adjustments] if ln.adjustments else ())
            lines["remarks"].append(ln.remarks)
            lines["confirm"].append(ln.confirm)
        findings = self.columns["findings"]
        for f in d.findings:
            o = f.origin
            sources = self.sources.get(id(f.sources))
            if sources is None or sources[0] is not f.sources:  # the same tuple for every finding of a rule
                sources = self.sources[id(f.sources)] = (f.sources, [s.to_dict() for s in f.sources])
            row: tuple[tuple[str, object], ...] = (
                ("record", record), ("claim_id", d.claim_id), ("id", f.id), ("line", f.line), ("rule", f.rule),
                ("title", f.title), ("severity", f.severity), ("reason_codes", f.reason_codes),
                ("message", f.message), ("citation", f.citation), ("sources", sources[1]),
                ("layer", o.policy if o else None), ("layer_version", o.version if o else None),
                ("layer_file", o.file if o else None), ("layer_line", o.line if o else None))
            for column, value in row:
                findings[column].append(value)

    def add_tables(self, tables: dict[str, Any], rules: Any) -> None:
        """Decisions as tables (`pyarrow.Table`s, in record order, as the native Parquet path's DuckDB
        writes them); `flush` writes them in record order with those `add` took.

        `claims` and `lines` have their tables' columns; `findings` has the `NARROW` columns and
        `rule_k`, a row of `rules` (a table of the `RULE_COLUMNS`): a rule's title, citation and
        sources, about a kilobyte a finding, are written out only as the rows are written."""
        for table in ("claims", "lines"):
            self.tables[table].append(tables[table].cast(self.schemas[table]))
        self.tables["findings"].append((tables["findings"].cast(self.narrow), rules.cast(self.rule_schema)))

    def flush(self) -> None:
        """Write what is buffered as row groups of each table, in record order.

        Putting the native path's tables in order and encoding them (about a second for 100,000
        claims) is done by a thread of its own while DuckDB decides the next batch: pyarrow lets go
        of the GIL. One write is in flight at a time, so memory holds two batches at most."""
        import pyarrow as pa

        parts: dict[str, list] = {}
        for table in TABLES:
            columns = self.columns[table]
            parts[table] = self.tables[table]
            if columns["record"]:
                taken = pa.Table.from_pydict(columns, schema=self.schemas[table])
                if table == "findings":  # a row of its own rule columns for each finding `add` took
                    narrow = taken.select(list(NARROW)).append_column(
                        "rule_k", pa.array(range(taken.num_rows), pa.int64()))
                    parts[table].append((narrow, taken.select(list(RULE_COLUMNS))))
                else:
                    parts[table].append(taken)
                self.columns[table] = {name: [] for name in self.schemas[table].names}
            self.tables[table] = []
        self._wait()
        if any(parts.values()):
            if self.pool is None:
                from concurrent.futures import ThreadPoolExecutor
                self.pool = ThreadPoolExecutor(1, thread_name_prefix="ctsdsl-parquet")
            self.pending = self.pool.submit(self._write, parts)

    def _write(self, parts: dict[str, list]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        for table in ("claims", "lines"):
            if parts[table]:
                self.writers[table].write_table(_in_record_order(parts[table]))
        if not parts["findings"]:
            return
        # Each part's rule_k made an index into all the parts' rule rows, then the narrow rows put in
        # order, then a slice at a time given its rule columns and written.
        narrow, rules, offset = [], [], 0
        for rows, rule_rows in parts["findings"]:
            narrow.append(rows.set_column(rows.schema.get_field_index("rule_k"), "rule_k",
                                          pc.add(rows.column("rule_k"), offset)))
            rules.append(rule_rows)
            offset += rule_rows.num_rows
        ordered = _in_record_order(narrow)
        all_rules = pa.concat_tables(rules) if len(rules) > 1 else rules[0]
        schema = self.schemas["findings"]
        for start in range(0, ordered.num_rows, WRITE_ROWS):
            rows = ordered.slice(start, WRITE_ROWS)
            wide = all_rules.take(rows.column("rule_k"))
            columns = {name: rows.column(name) for name in NARROW} | {name: wide.column(name) for name in RULE_COLUMNS}
            self.writers["findings"].write_table(pa.table([columns[name] for name in schema.names], schema=schema))

    def _wait(self) -> None:
        """Let the write in flight finish; its error, if it failed."""
        pending, self.pending = self.pending, None
        if pending is not None:
            try:
                pending.result()
            except OSError as exc:
                raise io_error(exc, self.name) from None

    def finish(self) -> None:
        self.flush()
        self._wait()
        try:
            for writer in self.writers.values():
                writer.close()
        except OSError as exc:
            raise io_error(exc, self.name) from None
        finally:
            self._stop()

    def _stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None

    def publish(self) -> None:
        try:
            for table, temp in list(self.temps.items()):
                os.replace(temp, self.folder / f"{table}.parquet")
                del self.temps[table]
        except OSError as exc:
            raise io_error(exc, self.name) from None

    def abandon(self) -> None:
        """Drop what was written; the folder's tables stay as they were. Never raises."""
        try:
            self._wait()
        except Exception:  # noqa: BLE001 - the error that stopped the run is the one to report
            pass
        self._stop()
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the error that stopped the run is the one to report
                pass
        for temp in self.temps.values():
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass
        self.temps = {}
