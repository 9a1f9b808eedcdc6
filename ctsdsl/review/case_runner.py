"""Running cases: the policy each case names or its claim chooses, its decision traced, compared with its expectations.

The `Runner` counts coverage as it goes: each rule and fee that fired, or applied and stayed
silent, in the file that defines it (see docs/testing.md, "Rule coverage").
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from ..claims.validation import validate_for
from ..engine.decision import Decision, LineDecision, money_text
from ..engine.loader import POLICY_SUFFIX, LoadedPolicy, find_files, load_text, tree_root
from ..engine.registry import Registry, bundled, entry_for_claim, entry_named
from ..errors import CtsdslError, Diagnostic, did_you_mean
from ..language import nodes as n
from ..language.nodes import Span
from .case_files import Case, as_list, line_specs
from .case_report import CaseResult, RuleCoverage, TestReport
from .what_if import declared_param, what_if_text, with_rows


def find_policy_files(paths: Iterable[str | Path]) -> list[Path]:
    """Policies whose rules coverage is measured: those under the given folders."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(find_files(p))
    return out


class Runner:
    """Runs cases against policies chosen by name, path or claim, and tallies coverage.

    A case file's policy names, and the payer and date that choose a policy for its claims, are
    looked up as a policy's `extends` is: in the case file's policy tree (the nearest folder named
    `policies` above it, else the case file's own folder), then among the bundled policies. So
    cases in a copy of the policies run against the copy. Given a `registry`, every case uses it.
    """

    def __init__(self, registry: Registry | None = None) -> None:
        self._fixed = registry
        self.registry = registry or bundled()
        self.coverage: dict[tuple[str, str], RuleCoverage] = {}
        self._what_ifs: dict[tuple, object] = {}
        self._tracked: set[Path] = set()
        self._trees: dict[Path, Registry] = {}
        self._own = Registry(Path.cwd())  # caches the policies loaded from outside the bundled tree

    def registries_for(self, case_file: str | Path) -> list[Registry]:
        """Where a case file's policies are found, nearest first."""
        if self._fixed is not None:
            return [self._fixed]
        root, recursive = tree_root(Path(case_file).resolve())  # as a policy there would find its parent
        if not recursive and root.name == "cases":  # a policy's cases sit in `cases/` beside it
            root = root.parent
        if root == self.registry.root.resolve():
            return [self.registry]
        tree = self._trees.get(root)
        if tree is None:
            tree = self._trees[root] = Registry(root, recursive=recursive)
        return [tree, self.registry]

    def load(self, path: Path) -> LoadedPolicy:
        """A policy, loaded once per run (the bundled ones once per process)."""
        return self._cache_of(path).load(self._key(path))

    def evaluator(self, path: Path):
        return self._cache_of(path).evaluator(self._key(path))

    def _cache_of(self, path: Path) -> Registry:
        inside = Path(path).resolve().is_relative_to(self.registry.root.resolve())
        return self.registry if inside or self._fixed else self._own

    def _key(self, path: Path) -> Path:
        # One file given as x/policies/a.cts and found as /abs/x/policies/a.cts is compiled once.
        return Path(path) if self._cache_of(path) is self.registry else Path(path).resolve()

    def policy_path(self, case: Case, claim: dict) -> Path:
        """The file of the policy that decides a case: named by path or name, else chosen by the claim."""
        if case.policy and case.policy.endswith(POLICY_SUFFIX):
            return (Path(case.file).parent / case.policy).resolve()
        registries = self.registries_for(case.file)
        if case.policy:
            return entry_named(registries, case.policy, f"{case.file}:{case.line}").path
        return entry_for_claim(registries, claim).path

    def track(self, policies: Iterable[LoadedPolicy]) -> None:
        """Count coverage of every rule these policies define, fired or not."""
        for loaded in policies:
            for item in _rule_items(loaded):
                file = display_path(item.origin or str(loaded.path))
                entry = self.coverage.setdefault((file, item.id), RuleCoverage(file, item.id))
                entry.conditional = item.where is not None or getattr(item, "when", None) is not None
                home = self._condition_home(loaded, item)
                entry.condition = home if home != (file, item.id) else None

    def _condition_home(self, loaded: LoadedPolicy, item) -> tuple[str, str]:
        """(file, rule) where the rule's condition is written: up the overlay chain while
        overrides restate neither `applies to` nor `when`."""
        file = display_path(item.origin or str(loaded.path))
        if not item.override or {"applies", "when"} & set(item.given) or len(loaded.layers) < 2:
            return file, item.id
        parent = self.load(loaded.layers[1].path)
        same = next((i for i in _rule_items(parent) if i.id == item.id), None)
        return self._condition_home(parent, same) if same is not None else (file, item.id)

    def evaluator_for(self, case: Case, claim: dict):
        path = self.policy_path(case, claim)
        if path not in self._tracked:
            # Coverage covers every rule of a policy a case used, even if no case reached it.
            self._tracked.add(path)
            self.track([self.load(path)])
        if case.params or case.rows:
            return self._what_if(self.load(path), case)
        return self.evaluator(path)

    def _what_if(self, loaded: LoadedPolicy, case: Case):
        """The policy with some parameters or table cells set otherwise, for this case only."""
        key = (str(loaded.path), repr(sorted((str(k), repr(v)) for k, v in case.params.items())), repr(case.rows))
        if key not in self._what_ifs:
            def located(line: int, column: int) -> Diagnostic:
                return Diagnostic("test-case", "", case.file, Span(line, column, line, column + 1))

            if case.params:
                for name in case.params:
                    # A misspelt name is the case file's mistake, pointed at where it is written.
                    declared_param(loaded, name, located(*case.param_at.get(str(name), (case.line, 1))))
                text = what_if_text(loaded, case.params, f"{case.file}:{case.line}")
                # The overlay "lives" beside its parent, so `extends` finds the parent by name.
                loaded = load_text(text, loaded.path.with_name(".what-if" + POLICY_SUFFIX))
            if case.rows:
                loaded = with_rows(loaded, case.rows, {k: located(*at) for k, at in case.row_at.items()})
            self._what_ifs[key] = loaded.evaluator()
        return self._what_ifs[key]

    def run_case(self, case: Case) -> CaseResult:
        result = CaseResult(case)
        expected_error = case.expect.get("error")
        try:
            # Against the schema of the case's policy, which may declare fields of its own.
            claim, evaluator = validate_for(case.claim, f"{case.file}:{case.line}",
                                            lambda valid: self.evaluator_for(case, valid))
            decision, evaluations = evaluator.trace(claim, validate=False)
        except CtsdslError as exc:
            text = exc.render()
            if any(d.code == "test-case" for d in exc.diagnostics):
                # The case file's own mistake (a misspelt what-if parameter): no `error` expectation meets it.
                result.problems.append(f"case file error: {text}")
            elif expected_error is None:
                result.problems.append(f"unexpected error: {text}")
            elif str(expected_error) not in text:
                result.problems.append(f"expected an error containing {expected_error!r}, got: {text}")
            return result
        if expected_error is not None:
            result.problems.append(f"expected an error containing {expected_error!r}, but the claim was decided "
                                   f"({decision.outcome})")
            return result
        result.policy_path = evaluator.info.file
        result.policy_name = evaluator.info.name.removesuffix(" what-if")
        result.fired = frozenset(ev.rule for ev in evaluations if ev.fired)
        for ev in evaluations:
            entry = self._entry(ev.file, ev.rule)
            if ev.fired:
                entry.fired += 1
            elif ev.applicable:
                entry.not_fired += 1
        self._count_silent_fees(evaluator, decision, evaluations)
        ids = [r.id for r in evaluator.rules] + [f.id for f in evaluator.fees]
        result.problems.extend(unknown_rules(case.expect, ids, result.policy_name))
        priced = {ev.line: ev.rule for ev in evaluations if ev.fired and ev.kind == "fee"}
        result.problems.extend(compare(decision, case.expect, priced))
        if result.problems:
            result.decided = summary(decision, priced)
        return result

    def _entry(self, file: str, rule: str) -> RuleCoverage:
        file = display_path(file)
        return self.coverage.setdefault((file, rule), RuleCoverage(file, rule))

    def _count_silent_fees(self, evaluator, decision: Decision, evaluations) -> None:
        """A fee is traced only when it sets an amount; on a payable line where it did not
        (its filter was false, so an earlier fee or none set the amount) it applied and stayed silent."""
        fees = [(f.id, f.file) for f in evaluator.fees]
        fired = {(ev.rule, ev.line) for ev in evaluations if ev.fired}
        for line in decision.lines:
            if line.status not in ("allowed", "reduced"):
                continue  # out of scope, or denied: no fee runs
            for fee_id, file in fees:
                if (fee_id, line.index) in fired:
                    break
                self._entry(file, fee_id).not_fired += 1

    def run(self, cases: Iterable[Case]) -> TestReport:
        results = [self.run_case(c) for c in cases]
        return TestReport(results, self.coverage)


def _rule_items(loaded: LoadedPolicy) -> list:
    """Every rule and fee in the policy, inherited ones included."""
    return loaded.policy.of_kind(n.Rule) + loaded.policy.of_kind(n.Fee)


def display_path(path: str) -> str:
    """A path as reports show it: relative to the working folder when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def unknown_rules(expect: dict, rules: list[str], policy: str) -> list[str]:
    """The rule ids an expectation names that the policy has no rule for.

    A misspelt id in `not_fires` would otherwise pass whatever the policy did, and one in
    `fires` would fail without saying why.
    """
    named = as_list(expect.get("fires")) + as_list(expect.get("not_fires"))
    for spec in line_specs(expect):
        named += as_list(spec.get("fires")) + as_list(spec.get("not_fires"))
    problems = []
    for rule in dict.fromkeys(named):
        if rule not in rules:
            close = did_you_mean(rule, rules)
            problems.append(f"{policy} has no rule `{rule}`" + (f"; {close}" if close else ""))
    return problems


def compare(decision: Decision, expect: dict, priced: dict[int | None, str] | None = None) -> list[str]:
    """Every way the decision differs from the expectation, as 'expected X, got Y' lines.

    `priced` names the fee that set each line's amount: a fee counts as fired on the lines it
    priced (and on the claim), as coverage counts it.
    """
    priced = priced or {}
    problems: list[str] = []

    def check(what: str, expected, actual) -> None:
        if expected != actual:
            problems.append(f"{what}: expected {expected!r}, got {actual!r}")

    if "policy" in expect:
        check("policy", expect["policy"], decision.policy.name)
    if "outcome" in expect:
        check("outcome", expect["outcome"], decision.outcome)
    if "total_allowed" in expect:
        check("total_allowed", _money(expect["total_allowed"]), money_text(decision.total_allowed))
    if "total_complete" in expect:
        check("total_complete", expect["total_complete"], decision.total_complete)
    problems += _firing(expect, {f.rule for f in decision.findings} | set(priced.values()))
    if "findings" in expect:
        check("number of findings", expect["findings"], len(decision.findings))
    specs = expect.get("lines")
    if isinstance(specs, list):
        items = list(enumerate(specs))
        if len(specs) != len(decision.lines):
            problems.append(f"lines: expected {len(specs)}, the decision has {len(decision.lines)}")
    elif isinstance(specs, dict):
        items = [(int(k), v) for k, v in specs.items()]
    else:
        items = []
    for index, spec in items:
        if index >= len(decision.lines) or not isinstance(spec, dict):
            continue
        line = decision.lines[index]
        where = f"line #{index} ({line.code})"
        if "code" in spec:
            check(f"{where} code", str(spec["code"]), line.code)
        if "status" in spec:
            check(f"{where} status", spec["status"], line.status)
        if "units" in spec:
            check(f"{where} units allowed", spec["units"], line.units_allowed)
        if "amount" in spec:
            check(f"{where} amount", _money(spec["amount"]), money_text(line.allowed_amount))
        problems += _firing(spec, set(_fired_on(decision, line, priced)), f"{where}: ")
    return problems


def _fired_on(decision: Decision, line: LineDecision, priced: dict[int | None, str]) -> list[str]:
    """The rules that fired on a line as expectations see them: its findings (a claim rule's too,
    when the finding is listed on the line), then the fee that priced it."""
    rules = [f.rule for f in decision.findings if f.line == line.index or (f.line is None and f.id in line.findings)]
    if line.index in priced:
        rules.append(priced[line.index])
    return list(dict.fromkeys(rules))


def summary(decision: Decision, priced: dict[int | None, str]) -> list[str]:
    """What a policy decided, compactly: the outcome and total, then each line's status, units,
    amount and the rules (and the fee, `priced` naming it per line) that fired on it. A failing
    case shows it, so that an amount of 0.00 where 57.29 was expected comes with the denial that
    explains it."""
    fired: dict[int | None, list[str]] = {line.index: _fired_on(decision, line, priced) for line in decision.lines}
    attached = {fid for line in decision.lines for fid in line.findings}
    fired[None] = list(dict.fromkeys(f.rule for f in decision.findings if f.line is None and f.id not in attached))
    total = money_text(decision.total_allowed)
    out = [f"decided: {decision.outcome}, total allowed {total}"
           + ("" if decision.total_complete else " (incomplete)") + f" by {decision.policy.name}"]
    if fired.get(None):
        out.append(f"  claim: fired {', '.join(fired[None])}")
    for line in decision.lines:
        amount = money_text(line.allowed_amount)
        out.append(f"  line #{line.index} ({line.code}): {line.status}, {line.units_allowed} of "
                   f"{line.units_billed} unit(s), {amount if amount is not None else 'unknown'}; "
                   f"fired {', '.join(fired.get(line.index, [])) or 'none'}")
    return out


def _firing(expect: dict, fired: set[str], where: str = "") -> list[str]:
    """What an expectation's `fires` and `not_fires` say that the rules which `fired` contradict."""
    shown = ", ".join(sorted(fired)) or "none"
    return [f"{where}expected rule {rule} to fire; fired: {shown}" for rule in as_list(expect.get("fires"))
            if rule not in fired] + \
        [f"{where}expected rule {rule} not to fire, but it did" for rule in as_list(expect.get("not_fires"))
         if rule in fired]


def _money(value) -> str | None:
    if value is None:
        return None
    return money_text(Decimal(str(value)))


__all__ = ["Runner", "compare", "display_path", "find_policy_files", "summary", "unknown_rules"]
