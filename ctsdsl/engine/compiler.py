"""Compile a checked policy into one Python function that evaluates a claim.

Why generate source rather than nest closures: a claim runs every rule on every
line, and a closure per node costs a Python call per node, several times what a
person would write by hand (see benchmarks/). Generated source is what a person
would write: one loop over the lines, each rule an `if`.

Safety: the source is produced only from the checked syntax tree. Every
identifier in it is either fixed here or a policy name that matched the
grammar's NAME pattern and is prefixed (`v_`), and every literal is written
with `repr` or hoisted into the namespace as a constant; no policy text is ever
pasted into the code.

The plain mode (`trace=False`) does what a careful person would do by hand,
without changing what any rule means:

* each claim and line field is read once into a local;
* each `let`, each table row looked up by a key that does not depend on a
  quantifier's variable, and each dated parameter is computed at most once per
  line, per claim, or per *period* (a stretch of dates over which no dated
  value or table row changes), on first use, so short-circuits still guard it;
* a quantifier over `claim.lines` whose `where` starts with equalities
  (`o.code == primary_code and o.date_of_service == line.date_of_service`)
  looks in an index of the lines built once per claim, instead of scanning
  every line for every line;
* fees are computed in the last stage's loop, reusing what its rules computed.

Stages (`stages a, b` and a rule's `stage b`) run one after another, each its claim rules and
then its line rules on every line; a rule of a later stage reads what earlier stages decided
(`o.denied`, `o.units_allowed`) from a copy taken as its stage starts (`sden`, `sal`), so the
order of lines and rules within a stage never changes what it reads. A `let` that reads those
is memoized per stage, not per claim.

The trace mode keeps one expression per rule, so each rule records every value
it reads. It memoizes the same lets, rows and dated values, each with the reads
that computed it, and replays those reads wherever the memo answers: a rule's
record is what it would be without the memo, while a claim total over 1000 lines
is still summed once, not once per line.

This module lays out the evaluation function (its head, stages, loops, rule and fee bodies) and
returns the `Program`; each expression's code, with the memo slots and line indexes, is written by
`compiler_expressions`, and the dated values and table rows by period are prepared by
`compiler_periods`. `safe_ident` is re-exported from the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass

from ..language import nodes as n
from .compiler_expressions import DEP_OUTCOME, ExpressionCompiler, Scope, given, safe_ident
from .compiler_periods import literal_value, period_bounds, rows_by_period, value_on
from ..claims.fields import CLAIM, LINE
from .runtime import Result, period_of, period_starts

__all__ = ["Compiler", "Program", "Scope", "safe_ident"]


@dataclass
class Program:
    """A compiled policy: the generated source, the constants and tables it reads, and its rules.

    `load(namespace)` executes the source in `namespace` (runtime.namespace: the helpers and the
    allowlisted builtins) and returns `evaluate(claim) -> runtime.Result`.
    """

    source: str
    namespace: dict
    rules: list[n.Rule]
    fees: list[n.Fee]
    filename: str = "<compiled policy>"

    def load(self, runtime_names: dict) -> Callable[[Mapping[str, Any]], Result]:
        scope = {**runtime_names, **self.namespace}
        code = compile(self.source, self.filename, "exec")
        exec(code, scope)  # noqa: S102 - source generated from the checked tree only (module docstring)
        return scope["evaluate"]



class Compiler(ExpressionCompiler):
    """Generates the evaluation function. `trace=True` also records values read, for explain and coverage."""

    def emit(self, depth: int, text: str) -> None:
        self.lines.extend(_wrapped("    " * depth + text))

    # ------------------------------------------------------------ the evaluation function

    def generate(self) -> Program:
        rules = self.policy.of_kind(n.Rule)
        fees = self.policy.of_kind(n.Fee)
        header = self.policy.header
        self.namespace["GOVERNED"] = frozenset(header.governs if header else ())
        bounds = period_bounds(self.params.values(), self.checked.tables.values())
        starts = period_starts(bounds)
        self.namespace["_period"] = period_of(bounds)
        for p in self.params.values():
            if p.dated:
                self.namespace[safe_ident("PV_", p.name)] = [value_on(p, start) for start in starts]
            else:
                self.namespace[safe_ident("P_", p.name)] = literal_value(p.value)
        for table in self.checked.tables.values():
            self.namespace[safe_ident("R_", table.name)] = rows_by_period(table, bounds)
        claim_scope = Scope({"claim": ("c", None, CLAIM)}, "dos", "cp")
        line_scope = Scope({"claim": ("c", None, CLAIM), "line": ("ln", "i", LINE)}, "ldos", "lp")
        stages = self.checked.stages or ("",)
        stage_of = {name: s for s, name in enumerate(stages)}
        by_stage: list[tuple[list, list]] = [([], []) for _ in stages]
        for k, r in enumerate(rules):
            by_stage[stage_of.get(r.stage or "", 0)][r.scope == "line"].append((k, r))
        # The bodies first: they decide which locals, memo slots and indexes the prologues set up.
        bodies = [(self.collect(lambda: self.rule_bodies(claim_rules, claim_scope)) if claim_rules else None,
                   self.collect(lambda: self.rule_bodies(line_rules, line_scope)) if line_rules else None)
                  for claim_rules, line_rules in by_stage]
        fee_body = self.collect(lambda: self.fee_body(fees, line_scope))
        reads_outcomes = any(DEP_OUTCOME in self._item_deps(item) for item in (*rules, *fees))
        fee_outcomes = any(DEP_OUTCOME in self._item_deps(f) for f in fees)
        # See the module's docstring: the fee in the last stage's loop, even one without line rules
        # (a claim rule of it may still deny), unless the fee reads other lines' outcomes.
        fused = self.fast and not fee_outcomes
        if fused:
            bodies[-1] = (bodies[-1][0], (bodies[-1][1] or []) + fee_body)

        self.lines = []
        for source, number in self.indexes.items():
            self.lines.extend(source.replace("IXK{}", f"IXK{number}").splitlines())
            self.lines.append("")
        self.emit_head()
        for local, code in self.claim_fields.items():
            self.emit(1, f"{local} = {code}")
        self.emit_claim_slots()
        if self.indexes:
            self.emit(1, f"IX = [None] * {len(self.indexes)}")
        if self.trace:
            self.emit(1, "EV = []")
        for s, (claim_body, line_body) in enumerate(bodies):
            # The first stage reads no outcome (the checker sees to it), so it needs no copy of them.
            if reads_outcomes and s > 0 and (claim_body is not None or line_body is not None):
                self.emit_stage_start(s)
            if claim_body is not None:  # a claim with no governed line is not the policy's to judge
                self.emit(1, "if any(gov):")
                self.emit(2, "i = None")
                self.lines.extend(claim_body)
            if line_body is not None:
                self.emit_line_loop()
                self.lines.extend(line_body)
        if fused:
            self.emit(1, "return Result(F, den, al, gov, amt, None)")
        else:
            # Fees in a loop of their own, after every rule has run on every line.
            if fee_outcomes:
                self.emit(1, "sden, sal = den, al")
            self.emit_line_loop()
            self.lines.extend(fee_body)
            self.emit(1, f"return Result(F, den, al, gov, amt, {'EV' if self.trace else 'None'})")
        return Program("\n".join(self.lines) + "\n", self.namespace, rules, fees,
                       f"<compiled {self.checked.policy.source_name}>")

    def rule_bodies(self, rules: list[tuple[int, n.Rule]], scope: Scope) -> None:
        for k, rule in rules:
            self.rule_body(2, k, rule, scope)

    def collect(self, emit_all: Callable[[], None]) -> list[str]:
        """The lines `emit_all` emits, set aside rather than added to the output."""
        self.lines = []
        emit_all()
        return self.lines

    def emit_head(self) -> None:
        """`def evaluate(c):` and the locals both modes start from."""
        self.emit(0, "def evaluate(c):")
        for text in ("lines = c['lines']", "dos = c['date_of_service']", "doc = c.get('documentation') or EMPTY",
                     "n = len(lines)", "F = []", "den = [False] * n", "al = [ln['units'] for ln in lines]",
                     "gov = [ln['code'] in GOVERNED for ln in lines]", "amt = [None] * n", "cp = _period(dos)"):
            self.emit(1, text)

    def emit_line_loop(self) -> None:
        """The head of a loop over the governed lines: the line's date, period, locals and fresh memo slots."""
        self.emit(1, "for i, ln in enumerate(lines):")
        self.emit(2, "if not gov[i]:")
        self.emit(3, "continue")
        self.emit(2, "ldos = ln.get('date_of_service', dos)")
        self.emit(2, "lp = cp if ldos == dos else _period(ldos)")
        for local, code in self.line_fields.items():
            self.emit(2, f"{local} = {code}")
        for var, level in self.slots.values():
            if level == "line":
                self.emit(2, f"{var} = _U")

    def emit_claim_slots(self, stage: bool = False) -> None:
        """Fresh claim and period memo slots: once a claim, or (`stage`) those of lets that read outcomes."""
        for var, level in self.slots.values():
            if level.startswith("stage ") != stage:
                continue
            if level.endswith("claim"):
                self.emit(1, f"{var} = _U")
            elif level.endswith("period") or level == "keyed":
                self.emit(1, f"{var} = {{}}")

    def emit_stage_start(self, stage: int) -> None:
        """What earlier stages decided, as this stage's rules read it, and slots that must be computed anew."""
        self.emit(1, f"# stage {stage + 1}" + (f": {self.checked.stages[stage]}" if self.checked.stages else ""))
        self.emit(1, "sden, sal = den[:], al[:]")
        self.emit_claim_slots(stage=True)

    def _item_deps(self, item: n.Rule | n.Fee) -> frozenset:
        parts: list[n.Expr | None] = [item.where]
        if isinstance(item, n.Rule):
            parts += [item.when, item.outcome.units if item.outcome else None]
            parts += [p for p in (item.message.parts if item.message else ()) if not isinstance(p, str)]
        else:
            parts.append(item.amount)
        return frozenset().union(*(self.deps(p) for p in parts))

    def rule_body(self, depth: int, k: int, rule: n.Rule, scope: Scope) -> None:
        if rule.outcome is None:
            return
        self.emit(depth, "try:")
        d = depth + 1
        if self.trace:
            self.emit(d, "TR = []")
        applies = self.expr(rule.where, scope) if rule.where is not None else "True"
        when = self.expr(rule.when, scope) if rule.when is not None else "True"
        message = self.template(rule.message, scope)
        kind = rule.outcome.kind
        if self.trace:
            self.emit(d, f"ap = {applies}")
            self.emit(d, f"fired = bool(ap and {when})")
            cond = "fired"
        elif rule.where is not None:
            cond = f"({applies}) and ({when})" if rule.when is not None else applies
        else:
            cond = when
        if kind == "reduce":
            billed = self.expr(n.Attribute(n.Name("line"), "units"), scope) if self.fast else "ln['units']"
            self.emit(d, f"if {cond}:")
            self.emit(d + 1, f"u = max(0, {self.expr(given(rule.outcome.units), scope)})")
            self.emit(d + 1, f"if u < {billed}:")
            self.emit(d + 2, f"F.append(({k}, i, {message}, {'TR' if self.trace else 'None'}))")
            self.emit(d + 2, "if u < al[i]:")
            self.emit(d + 3, "al[i] = u")
            if self.trace:
                self.emit(d + 1, "else:")
                self.emit(d + 2, "fired = False")
        else:
            self.emit(d, f"if {cond}:")
            self.emit(d + 1, f"F.append(({k}, i, {message}, {'TR' if self.trace else 'None'}))")
            if kind == "deny":
                if rule.scope == "claim":
                    self.emit(d + 1, "den = [d or g for d, g in zip(den, gov)]")
                else:
                    self.emit(d + 1, "den[i] = True")
        if self.trace:  # a reduce also says the units it computed, for explain's data
            computed = ", (u if fired else None)" if kind == "reduce" else ""
            self.emit(d, f"EV.append(('rule', {k}, i, bool(ap), fired, TR{computed}))")
        self.emit(depth, "except Exception as exc:")
        self.emit(depth + 1, f"raise _fail('rule', {k}, i, exc) from None")

    def fee_body(self, fees: list[n.Fee], scope: Scope) -> None:
        """A line's fees, the first that applies setting its amount, once every rule has run on it.

        Plain mode runs this at the end of the rules' loop: no other line's rules touch this
        line's units, so they are final, and the fee reuses the line's locals and memo slots.
        """
        self.emit(2, "if den[i] or al[i] <= 0:")
        self.emit(3, "amt[i] = ZERO")
        self.emit(3, "continue")
        self.emit(2, "units_allowed = al[i]")
        fee_scope = Scope({**scope.vars, "units_allowed": ("units_allowed", None, "int")}, scope.date_var,
                           scope.period_var)
        for j, fee in enumerate(fees):
            if fee.amount is None:
                continue
            if self.trace:
                self.emit(2, "TR = []")
            self.emit(2, "try:")
            applies = self.expr(fee.where, fee_scope) if fee.where is not None else "True"
            self.emit(3, f"if {applies}:")
            self.emit(4, f"amt[i] = {self.expr(fee.amount, fee_scope)}")
            if self.trace:
                self.emit(4, f"EV.append(('fee', {j}, i, True, True, TR))")
            self.emit(4, "continue")
            self.emit(2, "except Exception as exc:")
            self.emit(3, f"raise _fail('fee', {j}, i, exc) from None")


_WIDTH = 110  # where a generated line is broken, for a reader of the source (and of tracebacks)


# The tokens a break depends on, as `tokenize` reads them: a string (never entered), a comment (to the end
# of the line), a name, a number (so that `1e5` holds no name) and a bracket or comma; the rest is skipped.
# `tokenize` itself costs half of compiling a policy (issue 14: cold `ctsdsl eval`), for the same breaks
# (tests/test_compiler.py compares the two on every bundled policy).
_TOKEN = re.compile(r"""[rRbBuUfF]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")|#.*|[A-Za-z_]\w*|\d[\w.]*|[()\[\]{},]""")
_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")
_BREAK_BEFORE = frozenset(("and", "or", "if", "else", "for"))


def _wrapped(line: str) -> list[str]:
    """A long generated line broken inside its brackets, after a comma or before `and`, `or`, `if`,
    `else` or `for`: the same code, readable. Strings are never split, so a long message stays whole."""
    if len(line) <= _WIDTH:
        return [line]
    indent = len(line) - len(line.lstrip(" ")) + 8
    breaks, depth = [], 0
    for match in _TOKEN.finditer(line):
        text = match.group()
        if text in _OPENING:
            depth += 1
        elif text in _CLOSING:
            depth -= 1
        elif depth > 0 and text == ",":
            breaks.append(match.end())
        elif depth > 0 and text in _BREAK_BEFORE:
            breaks.append(match.start())
    if depth:  # pragma: no cover - the compiler writes whole statements (tokenize refused these)
        return [line]
    out: list[str] = []
    start, last = 0, None
    for b in breaks:
        if b - start > _WIDTH - (indent if out else 0) and last is not None and last > start:
            out.append(line[start:last].rstrip())
            start = last
        last = b
    if len(line) - start > _WIDTH - indent and last is not None and last > start:
        out.append(line[start:last].rstrip())
        start = last
    out.append(line[start:])
    return [out[0]] + [" " * indent + part.lstrip() for part in out[1:]]
