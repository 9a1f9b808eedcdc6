"""Analyst test cases: YAML files of claims and the decisions a policy must give them.

A case file names a policy (or lets the claim's payer and date choose one), may give
`defaults` that every case's claim is merged onto, and lists `cases`:

    policy: medicare-cts-2024
    defaults:
      id: case
      payer: medicare
      ...
    cases:
      - name: 97550 under 16 minutes is denied
        claim: {lines: [{code: "97550", units: 1, minutes: 15, modifiers: [GP]}]}
        expect:
          outcome: deny
          lines: [{status: denied, units: 0, amount: "0.00"}]
          fires: [initial_too_short]
          not_fires: [addon_without_primary]

A case may also set `params`, what-if values for the policy's parameters, and `rows`,
what-if cells of its tables: it is then decided by an overlay that overrides just those
(see `what_if`).

`run` decides every case with tracing on, so besides pass and fail it measures
rule coverage: which rules no case made fire, and which never failed to fire.
docs/testing.md is the analyst's guide to all of this.

The work is split by job: reading case files (`case_files`), running cases and counting coverage
(`case_runner`), and the report (`case_report`); `run_paths` joins them for `ctsdsl test`.
"""

from __future__ import annotations

from pathlib import Path

from ..engine.registry import Registry
from .case_files import CASE_SUFFIXES, Case, find_case_files, load_cases
from .case_report import CaseResult, RuleCoverage, TestReport, render_report
from .case_runner import Runner, compare, display_path, find_policy_files, summary, unknown_rules


def run_paths(paths: list[str | Path], registry: Registry | None = None) -> TestReport:
    """Run every case file under `paths`, measuring coverage of the policies under them."""
    runner = Runner(registry)
    policy_files = find_policy_files(paths)
    runner.track(runner.load(p) for p in policy_files)
    cases = [c for f in find_case_files(paths) for c in load_cases(f)]
    report = runner.run(cases)
    # Coverage is of the rules written in the policies under test: an overlay's folder answers for
    # the overlay's own rules, not for the Medicare rules it inherits (their cases live with them).
    # Given only case files, the policies under test are the ones those cases chose.
    scope = {display_path(str(p)) for p in policy_files} or {display_path(str(p)) for p in runner._tracked}
    # A policy that only overrides values (a new year's figures) has no rules of its own to cover,
    # so coverage alone would not notice that no case ever ran under it.
    decided = {display_path(str(p)) for p in runner._tracked}  # the policies some case was run under
    untested = [shown for shown in (display_path(str(p)) for p in policy_files) if shown not in decided]
    return TestReport(report.results, {key: c for key, c in report.coverage.items() if c.policy in scope}, untested)


__all__ = ["CASE_SUFFIXES", "Case", "CaseResult", "RuleCoverage", "Runner", "TestReport", "compare",
           "find_case_files", "find_policy_files", "load_cases", "render_report", "run_paths", "summary",
           "unknown_rules"]
