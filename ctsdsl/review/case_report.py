"""The outcome of a test run: each case's result, the coverage of every rule, and the report as text."""

from __future__ import annotations

from dataclasses import dataclass, field

from .case_files import Case


@dataclass
class CaseResult:
    case: Case
    problems: list[str] = field(default_factory=list)
    policy_path: str | None = None
    policy_name: str | None = None  # of the policy that decided (a what-if: the policy it overlays)
    fired: frozenset[str] = frozenset()  # ids of the rules and fees that fired on the claim
    decided: list[str] = field(default_factory=list)  # what the policy decided, line by line (see `summary`)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class RuleCoverage:
    """How often a rule definition fired, and was evaluated without firing, across all cases.

    A rule is counted where it is defined: a rule that 2025 inherits from 2024 is
    2024's rule, covered by a case of either year. A partial override that restates
    neither `applies to` nor `when` (only a citation or a message, say) keeps its
    parent's condition, so the parent's silent cases count for it too (`condition`).
    """

    policy: str  # the file that defines the rule
    rule: str
    fired: int = 0
    not_fired: int = 0
    conditional: bool = True  # False: no `applies to ... where` and no `when`, so it fires whenever it runs
    condition: tuple[str, str] | None = None  # (file, rule) whose condition this definition inherits


@dataclass
class TestReport:
    results: list[CaseResult]
    coverage: dict[tuple[str, str], RuleCoverage]
    untested: list[str] = field(default_factory=list)  # policies under test that decided no case

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def never_fired(self) -> list[RuleCoverage]:
        return [c for c in self.coverage.values() if c.fired == 0]

    def _silenced(self, c: RuleCoverage) -> bool:
        home = self.coverage.get(c.condition) if c.condition else None
        return bool(c.not_fired or (home is not None and home.not_fired))

    def never_failed_to_fire(self) -> list[RuleCoverage]:
        """Rules with a condition that fired in every case where they applied: their condition
        was never seen false, so nothing shows the rule stays quiet when it should."""
        return [c for c in self.coverage.values() if c.fired and c.conditional and not self._silenced(c)]

    def unconditional(self) -> list[RuleCoverage]:
        """Rules without any condition (e.g. an info on every claim): they cannot fail to fire."""
        return [c for c in self.coverage.values() if not c.conditional]

    @property
    def fired_percent(self) -> float:
        """Share of rules that fired in at least one case (0 when there are none: see `coverage_percent`)."""
        if not self.coverage:
            return 0.0
        return 100.0 * sum(1 for c in self.coverage.values() if c.fired) / len(self.coverage)

    @property
    def coverage_percent(self) -> float:
        """Share of rules fully covered: fired in some case and, if they have a condition,
        applied without firing in some case.

        With no rules at all (no case was decided and no policy file was given) nothing was
        covered: 0, so that a `--min-coverage` gate fails rather than passes on a run that
        tested nothing.
        """
        if not self.coverage:
            return 0.0
        silent_needed = {id(c) for c in self.never_failed_to_fire()}
        covered = sum(1 for c in self.coverage.values() if c.fired and id(c) not in silent_needed)
        return 100.0 * covered / len(self.coverage)


def render_report(report: TestReport, *, verbose: bool = False) -> str:
    """The report `ctsdsl test` prints: each failure with its problems and what was decided, the
    counts, then rule coverage and the rules and policies that lack a case (`verbose`: passes too)."""
    out = []
    for r in report.results:
        if r.passed:
            if verbose:
                out.append(f"ok   {r.case.file}:{r.case.line}: {r.case.name}")
            continue
        out.append(f"FAIL {r.case.file}:{r.case.line}: {r.case.name}")
        out.extend(f"       {p}" for p in r.problems)
        out.extend(f"       {d}" for d in r.decided)
    passed = len(report.results) - len(report.failed)
    out.append(f"{passed} passed, {len(report.failed)} failed")
    total = len(report.coverage)
    if not total:
        out.append("rule coverage: no rules to cover (no case was decided by a policy, and no policy file "
                   "was given), so coverage counts as 0%")
        return "\n".join(out)
    out.append(f"rule coverage: {report.coverage_percent:.1f}% of {total} rules "
               f"(fired in some case: {report.fired_percent:.1f}%; a rule with a condition must also "
               "stay silent in some case where it applies)")
    for c in sorted(report.never_fired(), key=lambda c: (c.policy, c.rule)):
        out.append(f"  never fired: {c.policy} {c.rule}")
    always = report.never_failed_to_fire()
    if always:
        out.append(f"  {len(always)} rule(s) never failed to fire (no case where they applied and stayed silent):")
        for c in sorted(always, key=lambda c: (c.policy, c.rule)):
            out.append(f"    {c.policy} {c.rule}")
    for c in sorted(report.unconditional(), key=lambda c: (c.policy, c.rule)):
        out.append(f"  no condition, so it fires whenever it runs: {c.policy} {c.rule}")
    for policy in report.untested:
        out.append(f"  no case was decided by: {policy}")
    return "\n".join(out)


__all__ = ["CaseResult", "RuleCoverage", "TestReport", "render_report"]
