"""Run a compiled policy on claims and combine what its rules say into a decision.

Combining semantics (docs/language.md repeats them for analysts):

* Rules run on every line whose code the policy `governs`; other lines are
  `out_of_scope`, with no amount. Claim rules run when the claim has a governed line.
* Any `deny` denies the line (a claim rule's deny denies every governed line).
* Several `reduce` rules: the smallest number of units wins; reduced to 0 is denied.
* Every rule that fires is reported as a finding, whatever else fired.
* The amount comes from the first `fee` whose filter matches the line, with the
  line's final units; a denied line is allowed 0.00; with no matching fee, null.
* The claim's outcome: `pay` when no governed line is denied or reduced,
  `deny` when every governed line is denied, else `partial`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, cast

from .._resources import policies_folder_above
from ..language import nodes as n
from .adjustments import NO_CODES, RuleCodes, charge_of, line_adjustments, rule_codes
from ..language.checked import CheckedPolicy
from ..claims.validation import model_for
from . import policy_cache
from .decision import (Adjustment, Decision, Finding, LineDecision, Origin, PolicyInfo,
                       Severity, Source, claim_digest, claim_outcome, line_status)
from ..errors import ClaimError, Diagnostic, EvaluationError
from .runtime import ZERO, AbsentValueError, DatedLookupError, MissingRowError, Result, namespace
from .unstated import as_stated, conditional

CENT = Decimal("0.01")

# A claim as the schema defines it: read, never modified, so any mapping will do (a TypedDict too).
Claim = Mapping[str, Any]


_FIDS = [f"F{number}" for number in range(64)]
_MAX_SEEN = 100_000  # kept findings and line decisions; past that the cache starts again


def _line(seen: dict, *fields) -> LineDecision:
    """The LineDecision of these fields, built once and then shared (it is immutable)."""
    line = seen.get(fields)
    if line is None:
        line = seen[fields] = LineDecision(*fields)
    return line


def shown_path(file: str) -> str:
    """A policy file as decisions name it: relative to the nearest folder named `policies`
    above it (``medicare/cts-2024.cts``), else to its own folder; not an absolute path."""
    if not file or file.startswith("<"):  # <string>: a policy that never was a file
        return file
    path = Path(file).resolve()
    return path.relative_to(policies_folder_above(path) or path.parent).as_posix()


@dataclass(frozen=True)
class RuleInfo:
    """What a finding needs to know about the rule that produced it."""

    id: str
    title: str
    severity: Severity
    citation: str
    reasons: tuple[str, ...]
    sources: tuple[Source, ...]
    origin: Origin
    span: n.Span
    file: str
    codes: RuleCodes = NO_CODES  # its reasons as an 835 groups them (adjustments.py)


@dataclass(frozen=True)
class Evaluation:
    """One rule (or fee) evaluated on one line, as recorded in tracing mode."""

    rule: str
    line: int | None
    applicable: bool
    fired: bool
    reads: tuple[tuple[str, object], ...]
    file: str = ""  # where the rule is defined: an overlay's inherited rules keep their parent's file
    kind: str = "rule"  # or "fee"
    computed: object = None  # the units a fired reduce rule computed (the line keeps the least of them)


class Evaluator:
    """A compiled policy: call `evaluate(claim)` as often as you like; it holds no per-claim state."""

    def __init__(self, checked: CheckedPolicy, info: PolicyInfo, source_file: str = "",
                 layers: dict[str, tuple[str, str]] | None = None, *, cache_key: str | None = None) -> None:
        """Compile a checked policy.

        Args:
            checked: The checked policy (see `ctsdsl.engine.loader`).
            info: What decisions report about the policy.
            source_file: The policy's file, for locations.
            layers: For an overlay, each file's (policy name, version), so findings name their layer.
            cache_key: A digest of everything `checked` was made from (`LoadedPolicy.program_key`):
                given, the compiled program is kept on disk under it (`policy_cache.derived`).
        """
        self._cache_key = cache_key
        # Decisions name files relative to the policies root, so they read the same on every machine.
        self.info = dataclasses.replace(info, file=shown_path(info.file)) if info.file else info
        self.checked = checked
        self._source_file = source_file or checked.policy.source_name
        self._layers = layers or {}
        policy = checked.policy
        sources = {s.id: Source(s.id, s.title, s.url, s.date) for s in policy.of_kind(n.Source)}
        self.rules = [self._rule_info(r, sources) for r in policy.of_kind(n.Rule)]
        self.fees = [self._rule_info(f, sources) for f in policy.of_kind(n.Fee)]
        self.governs = frozenset(policy.header.governs) if policy.header else frozenset()
        self._rules_by_id = {r.id: r for r in self.rules}  # a finding's rule, for its reason codes
        # The claims this policy decides: the base schema and the fields it declares.
        self.claim_model = model_for(checked.declared)
        self._fn = self._build(trace=False)
        self._traced: Callable[[Claim], Result] | None = None
        # Findings and line decisions already built, by their fields: they are immutable, and most
        # claims repeat them (F1 no_mppr on every claim; line 0 97550 allowed 1/1 $52.08 on many),
        # so building one is a dict lookup, not a frozen dataclass's field-by-field __init__.
        self._seen: dict[tuple, Any] = {}

    @property
    def cache_key(self) -> str | None:
        """What names the checked policy's inputs (`LoadedPolicy.program_key`), for other things made
        from it alone to be kept on disk beside its program (the SQL backend's script); None when it
        was not read from files."""
        return self._cache_key

    def _rule_info(self, rule: n.Rule | n.Fee, sources: dict[str, Source]) -> RuleInfo:
        cited = tuple(sources[c.source] for c in rule.cites if c.source in sources)
        # The grammar admits only deny, reduce, warn and info as a rule's outcome.
        severity = cast(Severity, rule.outcome.kind if isinstance(rule, n.Rule) and rule.outcome else "info")
        given = getattr(rule, "reasons", ())
        reasons = tuple(f"{r.system} {r.code}" for r in given)
        file = rule.origin or self._source_file
        name, version = self._layers.get(file, (self.info.name, self.info.version))
        return RuleInfo(rule.id, rule.title, severity, "; ".join(s.cite() for s in cited), reasons, cited,
                        Origin(name, version, shown_path(file), rule.span.line), rule.span, file,
                        rule_codes((r.system, r.code) for r in given))

    def _build(self, trace: bool) -> Callable[[Claim], Result]:
        if self._cache_key is None:
            source, names, filename = self._generate(trace)
        else:
            source, names, filename = policy_cache.derived(
                "program", (self._cache_key, "traced" if trace else "plain"), lambda: self._generate(trace))
        self.source = source
        # As `Program.load` does, but with the compiled code from the disk cache when this source was
        # compiled before: compiling is half the time of building an evaluator (issue 14, cold eval).
        scope = {**namespace(self._fail), **names}
        for table in self.checked.tables.values():
            scope["T_" + table.name] = table
        exec(policy_cache.compiled(source, filename), scope)  # noqa: S102 - see compiler.py
        return scope["evaluate"]

    def _generate(self, trace: bool) -> tuple[str, dict, str]:
        """A `Program`'s parts that pickle: the generated source, the constants and rows it reads, its file name."""
        from .compiler import Compiler  # only when no compiled program is kept: the compiler is a fifth of start-up

        program = Compiler(self.checked, trace=trace).generate()
        return program.source, program.namespace, program.filename

    def _fail(self, kind: str, k: int, line: int | None, exc: Exception) -> EvaluationError:
        info = self.rules[k] if kind == "rule" else self.fees[k]
        if isinstance(exc, (MissingRowError, DatedLookupError)):
            reason = str(exc)
            hint = "add the row or value to the policy's data, or narrow the rule's `where` filter"
        elif isinstance(exc, AbsentValueError):  # raised by the generated code itself (runtime.given)
            reason = f"a value it reads is absent on this claim: `{exc.label}`"
            hint = "guard it with missing(...) or give a default with coalesce(..., 0)"
        else:
            reason = f"{type(exc).__name__}: {exc}"
            hint = ""
        path = f"$.lines[{line}]" if line is not None else "$"
        return EvaluationError(Diagnostic(
            "evaluation", f"{kind} `{info.id}` could not be evaluated at {path}: {reason}",
            info.file, info.span, hint, path=path, source_text=self.checked.texts.get(info.file)))

    # ------------------------------------------------------------ evaluation

    def evaluate(self, claim: Claim, *, validate: bool = True, assume_documented: bool = False) -> Decision:
        """Decide one claim.

        Args:
            claim: A claim as `schemas/claim.schema.json` defines it.
            validate: Check the claim against the schema first (turn off only for
                claims you have already validated).
            assume_documented: Read every documentation flag the claim does not give as false
                as documented (ctsdsl/engine/unstated.py); the decision says so.

        Returns:
            The `Decision`.

        Raises:
            ClaimError: the claim does not match the schema.
            EvaluationError: a rule could not be evaluated (e.g. a missing table row).
        """
        if validate:
            claim = self.claim_model.validate(claim)
        if as_stated(claim, assume_documented) is not None:  # which lines rest on a null needs the trace
            return self.trace(claim, validate=False, assume_documented=assume_documented)[0]
        try:
            result = self._fn(claim)
        except EvaluationError:
            self._refuse_outside_period(claim)
            raise
        return self._decide(claim, result)

    def result(self, claim: Claim, *, assume_documented: bool = False) -> Result | None:
        """What the rules and fees compute for a valid claim (`runtime.Result`), the raw material of its
        decision (`assemble` builds it); None for a claim whose decision needs more than that (one that
        leaves facts unstated: `evaluate` it). For writers of decisions that skip the `Decision` objects
        (`DecisionEncoder.encode_result`, what `ctsdsl batch` writes); raises as `evaluate` does."""
        if as_stated(claim, assume_documented) is not None:
            return None
        try:
            return self._fn(claim)
        except EvaluationError:
            self._refuse_outside_period(claim)
            raise

    def evaluate_many(self, claims: Iterable[Claim], *, validate: bool = True) -> Iterator[Decision]:
        """Decide claims one after another, lazily: an iterator in, an iterator out."""
        for claim in claims:
            yield self.evaluate(claim, validate=validate)

    def trace(self, claim: Claim, *, validate: bool = True,
              assume_documented: bool = False) -> tuple[Decision, list[Evaluation]]:
        """Decide a claim and record every rule evaluated, with the values it read."""
        if validate:
            claim = self.claim_model.validate(claim)
        stated = as_stated(claim, assume_documented)
        if stated is not None:
            decision, evaluations = self._trace(stated[0])
            severities = {r.id: r.severity for r in self.rules}
            return conditional(decision, evaluations, severities, stated[1], claim_digest(claim),
                               assume_documented), evaluations
        return self._trace(claim)

    def _trace(self, claim: Claim) -> tuple[Decision, list[Evaluation]]:
        if self._traced is None:
            self._traced = self._build(trace=True)
        try:
            result = self._traced(claim)
        except EvaluationError:
            self._refuse_outside_period(claim)
            raise
        decision = self._decide(claim, result)
        evaluations = []
        for kind, k, line, applicable, fired, reads, *computed in result.evaluations or ():
            info = self.rules[k] if kind == "rule" else self.fees[k]
            evaluations.append(Evaluation(info.id, line, applicable, fired, tuple(reads), info.file, kind,
                                          computed[0] if computed else None))
        return decision, evaluations

    def _refuse_outside_period(self, claim: Claim) -> None:
        """Blame the claim, not the policy, when it failed on a date the policy does not cover.

        A policy passed explicitly decides any claim it is given (what-if runs rely on that), but
        its dated figures cover only its own period: a 2025 claim under the 2024 policy stops on
        "conversion_factor has no value". That is a claim for another policy, not a broken one.
        """
        start, end = self.info.effective_from, self.info.effective_to
        dos = claim["date_of_service"]
        dated = [("$.date_of_service", dos)] + [(f"$.lines[{i}].date_of_service", line["date_of_service"])
                                                for i, line in enumerate(claim["lines"]) if "date_of_service" in line]
        outside = [(path, date) for path, date in dated if date < start or (end is not None and date > end)]
        if outside:
            raise ClaimError([Diagnostic(
                "claim-outside-policy", f"dated {date}, outside the period of policy {self.info.name} "
                f"({start} to {end or 'open'}), whose dated figures do not cover it", "<claim>", path=path,
                hint="let ctsdsl choose the policy in force (no --policy / policy=), or split the claim")
                for path, date in outside])

    def assemble(self, claim: Claim, result: Result) -> Decision:
        """The decision for `claim` from what its rules and fees computed (`runtime.Result`): statuses,
        findings, amounts, totals and digest, as `evaluate` builds them. Public for other engines of
        the same policy (the SQL backend), so every engine's decisions are built by one piece of code."""
        return self._decide(claim, result)

    def _decide(self, claim: Claim, result: Result) -> Decision:
        den, al, gov, amt = result.denied, result.allowed, result.governed, result.amounts
        lines = claim["lines"]
        rules = self.rules
        findings = []
        on_line: list[list[str]] = [[] for _ in lines]
        seen = self._seen
        if len(seen) > _MAX_SEEN:
            seen.clear()
        for number, (k, line, message, reads) in enumerate(result.findings, 1):
            fid = _FIDS[number] if number < len(_FIDS) else f"F{number}"
            finding: Finding | None
            if reads:  # traced: each finding keeps what its rule read
                info = rules[k]
                finding = Finding(fid, info.id, info.severity, line, message, info.citation, info.reasons,
                                  info.sources, info.title, info.origin, tuple(reads))
            else:
                finding = seen.get(("F", fid, k, line, message))
                if finding is None:
                    info = rules[k]
                    finding = seen[("F", fid, k, line, message)] = Finding(
                        fid, info.id, info.severity, line, message, info.citation, info.reasons, info.sources,
                        info.title, info.origin)
            findings.append(finding)
            if line is None:
                for i, governed in enumerate(gov):
                    if governed:
                        on_line[i].append(fid)
            else:
                on_line[line].append(fid)
        out_lines = []
        total = ZERO
        denied = reduced = governed_count = 0
        by_id: dict[str, RuleInfo] | None = None  # built for the first line that is not allowed
        for i, ln in enumerate(lines):
            billed = ln["units"]
            if not gov[i]:
                out_lines.append(_line(seen, i, ln["code"], "out_of_scope", billed, billed, None, tuple(on_line[i])))
                continue
            governed_count += 1
            status, units = line_status(den[i], al[i], billed)
            denied += status == "denied"
            reduced += status == "reduced"
            amount = amt[i]
            if amount is not None:
                # Half up, as `round()` in a policy and as fee schedules round: $0.125 is $0.13.
                amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
                total += amount
            if status == "allowed":
                out_lines.append(_line(seen, i, ln["code"], status, billed, units, amount, tuple(on_line[i])))
            else:
                if by_id is None:
                    by_id = {f.id: rules[k] for f, (k, *_) in zip(findings, result.findings)}
                adjustments, remarks = self.adjusted([(fid, by_id[fid]) for fid in on_line[i]], billed, units,
                                                     ln.get("charge"))
                out_lines.append(_line(seen, i, ln["code"], status, billed, units, amount, tuple(on_line[i]),
                                       adjustments, remarks))
        outcome = claim_outcome(governed_count, denied, reduced)
        return Decision(claim["id"], self.info, outcome, tuple(out_lines), tuple(findings), total,
                        claim_digest(claim))

    def codes_of(self, rule_id: str) -> RuleCodes:
        """The reason codes `adjusted` reports for a line a finding of rule `rule_id` decides: for an
        engine that writes adjustments itself (the native Parquet path, scale/sql/native.py)."""
        return self._rules_by_id[rule_id].codes

    def adjusted(self, on_line: list[tuple[str, RuleInfo]], billed: int, allowed: int,
                 charge: object) -> tuple[tuple[Adjustment, ...], tuple[str, ...]]:
        """A denied or reduced line's adjustments and remarks, from the rule that decided it (adjustments.py).

        `on_line` holds the line's findings as (finding id, the rule's `RuleInfo`), in order; `charge` is
        the line's as the claim gives it. Public for writers of decisions from raw results."""
        rules = self._rules_by_id
        # A denied line is explained by a deny rule, else (reduced to 0) by a reduce one; a rule that
        # names a CARC before one that names none.
        wanted = ("deny", "reduce") if allowed == 0 else ("reduce",)
        chosen = next((f for severity in wanted for named in (True, False) for f in on_line
                       if f[1].severity == severity and bool(rules[f[1].id].codes.adjustments) == named), None)
        if chosen is None:  # cut short by no rule of the policy: nothing to say why
            return (), ()
        return line_adjustments(rules[chosen[1].id].codes, chosen[0], billed, allowed, charge_of(charge))
