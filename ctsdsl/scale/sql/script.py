"""A policy's plan as the statements an embedded run executes, kept in the policy cache.

`plan.build` gives sqlglot trees of views; an embedded run (run.py) needs text: a statement per
data table, then per stored view (a stage's table, filled once a batch) its query with the views
it reads inlined as common table expressions, narrowed to the columns later views read; then the
three output queries. Nothing is created in DuckDB ahead of a batch but the data tables, so no
view is bound at start-up.

Making the script (building the trees, writing them out, asking DuckDB each stored view's
columns on empty relations) was most of a SQL engine's start-up: 0.9 to 1.05 s a policy, paid by
every process that decides a claim of it (a run of the bundled Medicare years paid it five
times, and each `--jobs` worker again). The script is a pure function of the checked policy,
ctsdsl's code and the versions of sqlglot and DuckDB, so it is kept beside the policy's compiled
program (`policy_cache.derived`, under the evaluator's `cache_key`), and a later process reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...engine import policy_cache
from ...engine.evaluator import Evaluator
from . import relations

FORMAT = "2"  # of the kept Script: a script kept by a ctsdsl whose Script had other fields is made anew
STORED_ROWS = 8_192
NUMBERED = "phase, line, rule"  # the order the row engine numbers a claim's findings in  # rows of a stored table's Arrow batches: each is a unit of DuckDB's parallel scan


@dataclass(frozen=True)
class Script:
    """The text an embedded run executes for one policy (module docstring)."""

    tables: tuple[str, ...]  # CREATE statements of the policy's data tables, once a connection
    fill: tuple[tuple[str, str], ...]  # (stored view, its query), in order, once a batch
    failed: str  # the claim_ord of the claims the row engine must decide
    lines: str  # each governed line's claim_ord, l_index, denied, allowed, amount, in order
    findings: str  # each finding's claim_ord, rule, line, message, in the row engine's order
    numbered: str  # each finding's claim_ord, rule, line, message and n, its number in its claim (F<n>)


def load(evaluator: Evaluator) -> Script:
    """The script of `evaluator`'s policy: kept from an earlier process when its inputs are unchanged.

    Raises:
        SqlUnsupportedError: the policy uses a construct the SQL backend cannot express (nothing is kept).
    """
    key = evaluator.cache_key
    if key is None:  # a policy not read from files (tests, the API's text): nothing names it
        return make(evaluator)
    import duckdb
    import sqlglot

    return policy_cache.derived("sql", (key, duckdb.__version__, sqlglot.__version__, FORMAT), lambda: make(evaluator))


def store(con: Any, name: str, query: str) -> None:
    """Hold `query`'s rows as an Arrow table registered as `name`, cut into batches of `STORED_ROWS`.

    DuckDB scans a table of its own a row group (122,880 rows) per thread, so a batch's stage
    tables, a row group each, were read by one thread; it scans an Arrow table a batch per
    thread: both cores work on every view over a stage (`SqlEvaluator.results` on 19,942 Medicare
    claims, wall median 72.7 -> 57.3 µs a claim).

    The query is executed, not made a relation (`con.sql`): a relation binds its text to learn
    its columns and is bound again when read, and binding Medicare's first stage is a fifth of a
    batch's fixed cost (the stores of a 10-claim batch 179 -> 128 ms, of 20,000 claims 440 -> 330 ms)."""
    import pyarrow as pa

    table = arrow(con.execute(query))
    con.register(name, pa.Table.from_batches(table.to_batches(max_chunksize=STORED_ROWS), schema=table.schema))


def arrow(result: Any) -> Any:
    """An executed query's rows as a `pyarrow.Table`."""
    import warnings

    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table  # DuckDB 2 / DuckDB 1
    with warnings.catch_warnings():
        # DuckDB 2 warns that an executed result is copied into Arrow: it is, once, and the copy is what is kept.
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
        return fetch()


def make(evaluator: Evaluator) -> Script:
    """Write the plan of `evaluator`'s policy out, learning each stored view's columns from DuckDB."""
    import duckdb
    from sqlglot import exp

    from . import plan as plan_mod

    plan = plan_mod.build(evaluator.checked)
    views = dict(plan.views)
    stored = set(plan.stored)
    kept = stored | {name for name in views if name.startswith(plan_mod.TABLE_PREFIX)}
    reads = {name: {t.name for t in query.find_all(exp.Table)} & set(views) for name, query in plan.views}
    text = {name: query.sql(dialect="duckdb") for name, query in plan.views}
    order = [name for name, _ in plan.views]

    def inlined(names: set[str], query: str) -> str:
        """`query` with the views it reads, and theirs, up to the stored ones, as a WITH clause."""
        needed: set[str] = set()
        stack = [n for n in names if n not in kept]
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack.extend(n for n in reads[name] if n not in kept)
        ctes = [f"{name} AS ({text[name]})" for name in order if name in needed]
        return (f"WITH {', '.join(ctes)} " if ctes else "") + query

    tables = tuple(f"CREATE OR REPLACE TEMP TABLE {name} AS {text[name]}"
                   for name in order if name.startswith(plan_mod.TABLE_PREFIX))
    con = duckdb.connect()  # the columns of each stored view, asked of DuckDB on empty relations
    try:
        con.execute("SET enable_progress_bar = false")
        relations.JsonLoader(evaluator.checked.fields).load(con, [])
        for statement in tables:
            con.execute(statement)
        read_after = _read_after([_columns_named(views[name]) for name in order])
        fill = []
        for i, name in enumerate(order):
            if name not in stored:
                continue
            query = inlined(reads[name], text[name])
            columns = [d[0] for d in con.execute(f"SELECT * FROM ({query}) LIMIT 0").description]
            keep = [c for c in columns if c in read_after[i]]
            if len(keep) != len(columns):
                # Each view adds its columns to every column of the one before (`gl.*`), so a stage's
                # table would otherwise carry every filter, flag and message of every rule before it
                # (229 columns in Medicare's first stage, 98 of them read later): writing and reading
                # them was a quarter of DuckDB's time.
                query = f"SELECT {', '.join(_quoted(c) for c in keep)} FROM ({query})"
            fill.append((name, query))
            store(con, name, query)
    finally:
        con.close()
    return Script(
        tables, tuple(fill),
        inlined({"ctsdsl_failed"}, "SELECT claim_ord FROM ctsdsl_failed"),
        inlined({"ctsdsl_lines"}, "SELECT claim_ord, l_index, denied, allowed, amount FROM ctsdsl_lines "
                                  "ORDER BY claim_ord, l_index"),
        inlined({"ctsdsl_findings"}, f"SELECT claim_ord, rule, line, message FROM ctsdsl_findings ORDER BY claim_ord, {NUMBERED}"),
        inlined({"ctsdsl_findings"}, "SELECT claim_ord, rule, line, message, row_number() OVER (PARTITION BY "
                                     f"claim_ord ORDER BY {NUMBERED}) AS n FROM ctsdsl_findings"))


def _columns_named(query: Any) -> set[str]:
    from sqlglot import exp

    return {c.name for c in query.find_all(exp.Column)}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_after(named: Sequence[set[str]]) -> list[set[str]]:
    """For each view, the column names the views after it read (every view reads its columns by name)."""
    out: list[set[str]] = []
    later: set[str] = {"claim_ord", "l_index"}  # the keys every output is ordered and joined by
    for names in reversed(named):
        out.append(set(later))
        later |= names
    return out[::-1]
