"""Deciding claims on DuckDB: the plan's views over a batch's two relations, then decisions.

Decisions are assembled by the row engine's own `Evaluator.assemble` from what the SQL computed
(each line's denial, units allowed and raw amount, each finding's rule, line and message), so
statuses, totals, the outcome, finding numbers and the claim digest are the row engine's code,
not a second copy of it. A claim the SQL flags as failing (see compile.py) is decided by the
row engine instead, which names the error or, for a flag that was only cautious, decides it.
So is a claim with a fact it does not state (a `null`): which of its lines are needs_record
depends on what each rule read, which the row engine's trace records and the SQL does not.
`SqlEvaluator.handed` counts the claims handed back, by reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from time import perf_counter
from typing import Any

from ...engine.decision import Decision, claim_digest
from ...engine.evaluator import Evaluator
from ...engine.runtime import Result
from ...engine.unstated import as_stated
from ..decision_encoder import DecisionEncoder, Encoded
from . import relations, script


class SqlEvaluator:
    """A policy compiled to SQL and loaded into its own DuckDB connection."""

    def __init__(self, evaluator: Evaluator, *, threads: int | None = None) -> None:
        import duckdb

        self.evaluator = evaluator
        self.script = script.load(evaluator)  # kept in the policy cache: no plan is built when it is
        self.con = duckdb.connect()
        # A query past two seconds would draw DuckDB's progress bar over the batch's own output.
        self.con.execute("SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.fields = evaluator.checked.fields  # the base claim fields and the policy's declared ones
        self.loader = relations.JsonLoader(self.fields)
        # The first load in a process pays about 0.4 s of one-off start-up (DuckDB reading Arrow for the
        # first time): paid here, with the engine's start-up, not by the first batch.
        self.loader.load(self.con, [])
        # The policy's data, the same for every batch: tables made once, not VALUES rows cast again by
        # every query that looks a row up (a tenth of a small batch's time).
        for statement in self.script.tables:
            self.con.execute(statement)
        self.handed: dict[str, int] = {}  # why claims went to the row engine, counted over this evaluator's life
        # Seconds spent building the relations, in DuckDB, and assembling decisions (benchmarks/bench_sql.py).
        self.seconds = {"relations": 0.0, "sql": 0.0, "decisions": 0.0}

    def release(self) -> None:
        """Let go of the batch's tables once its results are read: a process holds an SqlEvaluator per
        policy it has met, and each would otherwise keep its last batch (hundreds of MB) until its next."""
        for name, _ in self.script.fill:
            self.con.unregister(name)
        self.con.execute("DELETE FROM claims")
        self.con.execute("DELETE FROM lines")

    def decide(self, claims: Sequence[Mapping[str, Any]], assume_documented: bool = False
               ) -> Iterator[Decision | int]:
        """Each validated claim's Decision, in order, or its position when the row engine must decide it.

        With `assume_documented`, a claim is decided as the row engine reads it then (every
        documentation flag not given as false is documented: ctsdsl/engine/unstated.py), and its
        decision names the claim as given (its digest) and says the flags were assumed. One that
        leaves a line's fact unstated still goes to the row engine."""
        given = claims
        if assume_documented:
            claims = [_assumed(claim) for claim in claims]
        decide = self.evaluator.assemble  # the row engine's assembly, shared on purpose
        for ord_, result in self.results(claims):
            if result is None:
                yield ord_
                continue
            started = perf_counter()
            decision = decide(claims[ord_], result)
            if assume_documented:
                decision = dataclasses.replace(decision, claim_digest=claim_digest(given[ord_]),
                                               assumed_documented=True)
            self.seconds["decisions"] += perf_counter() - started
            yield decision

    def encoded(self, claims: Sequence[Mapping[str, Any]], encoder: DecisionEncoder) -> Iterator[Encoded | int]:
        """`decide` (without `assume_documented`), each decision written as its JSON text straight from what the SQL computed
        (`DecisionEncoder.encode_result`, as the row engine's batch writes it), without the
        `Decision` objects: the same text as encoding `decide`'s decisions, in a third less time."""
        encode = encoder.encode_result
        for ord_, result in self.results(claims):
            if result is None:
                yield ord_
                continue
            started = perf_counter()
            text = encode(self.evaluator, claims[ord_], result)
            self.seconds["decisions"] += perf_counter() - started
            yield text

    def results(self, claims: Sequence[Mapping[str, Any]]) -> Iterator[tuple[int, Result | None]]:
        """(position, what the rules and fees computed) for each validated claim, in order, as the row
        engine's `Evaluator.result` gives it; None for a claim the row engine must decide."""
        started = perf_counter()
        con = self.con
        claims = claims if isinstance(claims, list) else list(claims)
        unrepresentable = self.loader.load(con, claims)
        nulls_left_out = unrepresentable is not None  # the loader leaves out every claim whose text holds a null
        if unrepresentable is None:  # a claim JSON cannot write: the relations built in Python instead
            rel = relations.build(claims, self.fields)
            relations.load_relations(con, rel)
            unrepresentable = rel.unrepresentable
        built = perf_counter()
        self.seconds["relations"] += built - started
        # Each stored view becomes a table of the same name, in order: the ones after it read the table.
        for name, query in self.script.fill:
            script.store(con, name, query)
        failed = {row[0] for row in con.execute(self.script.failed).fetchall()}
        lines = con.execute(self.script.lines).fetchall()
        findings = con.execute(self.script.findings).fetchall()
        self.release()
        self.seconds["sql"] += perf_counter() - built
        li = fi = 0
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
                why: str | None = "fails"
            elif ord_ in unrepresentable or not nulls_left_out:
                why = "not stated" if as_stated(claim, False) is not None else \
                    "unrepresentable" if ord_ in unrepresentable else None
            else:  # the loader left out every claim with a null, so this one states every fact
                why = None
            if why is not None:
                self.handed[why] = self.handed.get(why, 0) + 1
                yield ord_, None
                continue
            yield ord_, Result(found, den, al, gov, amt, None)


def _assumed(claim: Mapping[str, Any]) -> Mapping[str, Any]:
    """The claim with its documentation assumed, as the row engine reads it under --assume-documented;
    as given when a line leaves a fact unstated (the row engine decides it, from its trace)."""
    stated = as_stated(claim, True)
    return stated[0] if stated is not None and not stated[1] else claim
