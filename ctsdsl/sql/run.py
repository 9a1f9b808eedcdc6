"""Deciding claims on DuckDB: the plan's views over a batch's two relations, then decisions.

Decisions are assembled by the row engine's own `Evaluator._decide` from what the SQL computed
(each line's denial, units allowed and raw amount, each finding's rule, line and message), so
statuses, totals, the outcome, finding numbers and the claim digest are the row engine's code,
not a second copy of it. A claim the SQL flags as failing (see compile.py) is decided by the
row engine instead, which names the error or, for a flag that was only cautious, decides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..decision import Decision
from ..evaluator import Evaluator
from ..runtime import Result
from . import plan as plan_mod
from . import relations


class SqlEvaluator:
    """A policy compiled to SQL and loaded into its own DuckDB connection."""

    def __init__(self, evaluator: Evaluator, *, threads: int | None = None) -> None:
        import duckdb

        self.evaluator = evaluator
        self.plan = plan_mod.build(evaluator.checked)
        self.con = duckdb.connect()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # Views are bound by name: empty relations stand in until a batch is registered.
        empty = relations.build([])
        self.con.register("claims", empty.claims)
        self.con.register("lines", empty.lines)
        for statement in self.plan.statements("duckdb", pretty=False):
            self.con.execute(statement)
        self.con.execute("DROP VIEW ctsdsl_claim_done")
        self.con.execute("DROP VIEW ctsdsl_line_done")
        self.con.execute("CREATE TEMP TABLE ctsdsl_claim_done AS SELECT * FROM ctsdsl_claim_rules")
        self.con.execute("CREATE TEMP TABLE ctsdsl_line_done AS SELECT * FROM ctsdsl_line_rules")

    def decide(self, claims: Sequence[Mapping[str, Any]]) -> Iterator[Decision | int]:
        """Each validated claim's Decision, in order, or its position when the row engine must decide it."""
        rel = relations.build(claims)
        con = self.con
        con.register("claims", rel.claims)
        con.register("lines", rel.lines)
        try:
            # The views' outputs, stored once: the output queries read these, not the pipeline again.
            con.execute("DELETE FROM ctsdsl_claim_done")
            con.execute("INSERT INTO ctsdsl_claim_done SELECT * FROM ctsdsl_claim_rules")
            con.execute("DELETE FROM ctsdsl_line_done")
            con.execute("INSERT INTO ctsdsl_line_done SELECT * FROM ctsdsl_line_rules")
            failed = {row[0] for row in con.execute("SELECT claim_ord FROM ctsdsl_failed").fetchall()}
            failed |= rel.unrepresentable
            lines = con.execute("SELECT claim_ord, l_index, denied, allowed, amount FROM ctsdsl_lines "
                                "ORDER BY claim_ord, l_index").fetchall()
            findings = con.execute("SELECT claim_ord, rule, line, message FROM ctsdsl_findings "
                                   "ORDER BY claim_ord, phase, line, rule").fetchall()
        finally:
            con.unregister("claims")
            con.unregister("lines")
        li = fi = 0
        decide = self.evaluator._decide  # noqa: SLF001 - the row engine's assembly, shared on purpose
        for ord_, claim in enumerate(claims):
            n = len(claim["lines"])
            den = [False] * n
            al = [ln["units"] for ln in claim["lines"]]
            gov = [False] * n
            amt: list = [None] * n
            while li < len(lines) and lines[li][0] == ord_:
                _, i, d, a, m = lines[li]
                den[i], al[i], gov[i], amt[i] = bool(d), int(a), True, m
                li += 1
            found = []
            while fi < len(findings) and findings[fi][0] == ord_:
                _, k, line, message = findings[fi]
                found.append((k, line, message, None))
                fi += 1
            if ord_ in failed:
                yield ord_
                continue
            yield decide(claim, Result(found, den, al, gov, amt, None))
