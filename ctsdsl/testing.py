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

A case may also set `params`, what-if values for the policy's parameters: it is then
decided by an overlay that overrides just those (see `what_if_text`).

`run` decides every case with tracing on, so besides pass and fail it measures
rule coverage: which rules no case made fire, and which never failed to fire.
docs/testing.md is the analyst's guide to all of this.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .claims import StrictYamlLoader, parse_yaml, validate_claim
from .decision import Decision, money_text
from .errors import CtsdslError, Diagnostic
from .loader import POLICY_SUFFIX, LoadedPolicy, load_text
from .nodes import Span
from .registry import Registry, bundled

CASE_SUFFIXES = (".yaml", ".yml")
_CASE_KEYS = {"name", "claim", "expect", "policy", "note", "params"}
_EXPECT_KEYS = {"policy", "outcome", "total_allowed", "total_complete", "lines", "fires", "not_fires", "error", "findings"}
_LINE_KEYS = {"code", "status", "units", "amount", "fires", "not_fires"}
# The values a decision can have: an expectation of any other could never pass, whatever the policy did.
_OUTCOMES = ("pay", "partial", "deny")
_STATUSES = ("allowed", "reduced", "denied", "out_of_scope")


@dataclass
class Case:
    """One test case: a claim, the policy to decide it, and what must come out."""

    name: str
    file: str
    line: int
    claim: object  # as the case file wrote it: validate_claim checks it when the case runs
    expect: dict
    policy: str | None = None
    params: dict = field(default_factory=dict)  # what-if values for the policy's parameters


@dataclass
class CaseResult:
    case: Case
    problems: list[str] = field(default_factory=list)
    policy_path: str | None = None
    policy_name: str | None = None  # of the policy that decided (a what-if: the policy it overlays)
    fired: frozenset[str] = frozenset()  # ids of the rules and fees that fired on the claim

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
        """Share of rules that fired in at least one case."""
        if not self.coverage:
            return 100.0
        return 100.0 * sum(1 for c in self.coverage.values() if c.fired) / len(self.coverage)

    @property
    def coverage_percent(self) -> float:
        """Share of rules fully covered: fired in some case and, if they have a condition,
        applied without firing in some case."""
        if not self.coverage:
            return 100.0
        silent_needed = {id(c) for c in self.never_failed_to_fire()}
        covered = sum(1 for c in self.coverage.values() if c.fired and id(c) not in silent_needed)
        return 100.0 * covered / len(self.coverage)


def _merge(base: object, override: object) -> object:
    """Deep-merge mappings; anything else (lists included) is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def _case_problem(message: str, file: str, line: int, hint: str = "") -> CtsdslError:
    return CtsdslError(Diagnostic("test-case", message, file, Span(line, 1, line, 2), hint))


def load_cases(path: str | Path) -> list[Case]:
    """Read one case file. Raises CtsdslError naming the file and line of a malformed case."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CtsdslError(Diagnostic("test-case", f"cannot read {name}: {exc.strerror}", name)) from None
    data = parse_yaml(text, name)
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise _case_problem("a case file is a mapping with a `cases` list", name, 1,
                            "see docs/testing.md for the format")
    lines = _case_lines(text)
    defaults = data.get("defaults") or {}
    cases = []
    for i, raw in enumerate(data["cases"]):
        line = lines[i] if i < len(lines) else 1
        if not isinstance(raw, dict):
            raise _case_problem(f"case {i + 1} is not a mapping", name, line)
        unknown = set(raw) - _CASE_KEYS
        if unknown:
            raise _case_problem(f"case {i + 1} has unknown key(s): {', '.join(sorted(unknown))}", name, line,
                                f"keys: {', '.join(sorted(_CASE_KEYS))}")
        expect = raw.get("expect") or {}
        unknown = set(expect) - _EXPECT_KEYS if isinstance(expect, dict) else {"(not a mapping)"}
        if unknown or not isinstance(expect, dict):
            raise _case_problem(f"case {i + 1}: unknown expectation(s): {', '.join(sorted(unknown))}", name, line,
                                f"expectations: {', '.join(sorted(_EXPECT_KEYS))}")
        if not any(value not in (None, "", [], {}) for value in expect.values()):
            raise _case_problem(f"case {i + 1} expects nothing, so it could never fail", name, line,
                                "add `expect:` with an outcome, lines, fires or not_fires, or an error")
        _check_value(f"case {i + 1}: outcome", expect.get("outcome"), _OUTCOMES, name, line)
        if not isinstance(expect.get("total_complete", True), bool):
            raise _case_problem(f"case {i + 1}: total_complete is true or false, not "
                                f"{expect['total_complete']!r}", name, line)
        for spec in _line_specs(expect):
            bad = set(spec) - _LINE_KEYS
            if bad:
                raise _case_problem(f"case {i + 1}: unknown line expectation(s): {', '.join(sorted(bad))}",
                                    name, line, f"line expectations: {', '.join(sorted(_LINE_KEYS))}")
            _check_value(f"case {i + 1}: line status", spec.get("status"), _STATUSES, name, line)
            _check_count(f"case {i + 1}: line units", spec.get("units"), name, line)
        _check_count(f"case {i + 1}: findings", expect.get("findings"), name, line)
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise _case_problem(f"case {i + 1}: `params` maps parameter names to values", name, line)
        claim = _merge(defaults, raw.get("claim") or {})
        if isinstance(claim, dict):
            claim.setdefault("id", f"{path.stem}-{i + 1}")
        cases.append(Case(str(raw.get("name") or f"case {i + 1}"), name, line, claim, expect,
                          raw.get("policy") or data.get("policy"), params))
    return cases


def _check_value(what: str, value: object, choices: tuple[str, ...], file: str, line: int) -> None:
    if value is None or value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=1)
    raise _case_problem(f"{what} {value!r} is not one of {', '.join(choices)}", file, line,
                        f"did you mean `{close[0]}`?" if close else "")


def _check_count(what: str, value: object, file: str, line: int) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise _case_problem(f"{what} {value!r} is not a whole number", file, line,
                            "write a count such as 2, without quotes")


def _line_specs(expect: dict) -> list[dict]:
    lines = expect.get("lines") or []
    if isinstance(lines, dict):
        return [v for v in lines.values() if isinstance(v, dict)]
    return [v for v in lines if isinstance(v, dict)]


def _case_lines(text: str) -> list[int]:
    """The 1-based line where each case starts, for messages that point at it."""
    try:
        root = yaml.compose(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "cases" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def find_case_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(f for f in sorted(p.rglob("*")) if f.suffix in CASE_SUFFIXES and "cases" in f.parts)
        else:
            files.append(p)
    return files


def find_policy_files(paths: Iterable[str | Path]) -> list[Path]:
    """Policies whose rules coverage is measured: those under the given folders."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(p.rglob("*" + POLICY_SUFFIX)))
    return out


class Runner:
    """Runs cases against policies chosen by name, path or claim, and tallies coverage."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or bundled()
        self.coverage: dict[tuple[str, str], RuleCoverage] = {}
        self._what_ifs: dict[tuple, object] = {}
        self._tracked: set[Path] = set()

    def track(self, policies: Iterable[LoadedPolicy]) -> None:
        """Count coverage of every rule these policies define, fired or not."""
        for loaded in policies:
            for item in _rule_items(loaded):
                file = _display(item.origin or str(loaded.path))
                entry = self.coverage.setdefault((file, item.id), RuleCoverage(file, item.id))
                entry.conditional = item.where is not None or getattr(item, "when", None) is not None
                home = self._condition_home(loaded, item)
                entry.condition = home if home != (file, item.id) else None

    def _condition_home(self, loaded: LoadedPolicy, item) -> tuple[str, str]:
        """(file, rule) where the rule's condition is written: up the overlay chain while
        overrides restate neither `applies to` nor `when`."""
        file = _display(item.origin or str(loaded.path))
        if not item.override or {"applies", "when"} & set(item.given) or len(loaded.layers) < 2:
            return file, item.id
        parent = self.registry.load(loaded.layers[1].path)
        same = next((i for i in _rule_items(parent) if i.id == item.id), None)
        return self._condition_home(parent, same) if same is not None else (file, item.id)

    def evaluator_for(self, case: Case, claim: dict):
        registry = self.registry
        if case.policy:
            if case.policy.endswith(POLICY_SUFFIX):
                path = (Path(case.file).parent / case.policy).resolve()
            else:
                path = registry.by_name(case.policy).path
        else:
            path = registry.policy_for(claim).path
        if path not in self._tracked:
            # Coverage covers every rule of a policy a case used, even if no case reached it.
            self._tracked.add(path)
            self.track([registry.load(path)])
        if case.params:
            return self._what_if(registry.load(path), case)
        return registry.evaluator(path)

    def _what_if(self, loaded: LoadedPolicy, case: Case):
        """The policy with some parameters set otherwise: an overlay written for this case only."""
        key = (str(loaded.path), tuple(sorted((k, repr(v)) for k, v in case.params.items())))
        if key not in self._what_ifs:
            text = what_if_text(loaded, case.params, f"{case.file}:{case.line}")
            # The overlay "lives" beside its parent, so `extends` finds the parent by name.
            self._what_ifs[key] = load_text(text, loaded.path.with_name(".what-if" + POLICY_SUFFIX)).evaluator()
        return self._what_ifs[key]

    def run_case(self, case: Case) -> CaseResult:
        result = CaseResult(case)
        expected_error = case.expect.get("error")
        try:
            claim = validate_claim(case.claim, f"{case.file}:{case.line}")
            evaluator = self.evaluator_for(case, claim)
            decision, evaluations = evaluator.trace(claim, validate=False)
        except CtsdslError as exc:
            text = exc.render()
            if expected_error is None:
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
        result.problems.extend(unknown_rules(case.expect, [r.id for r in evaluator.rules], result.policy_name))
        result.problems.extend(compare(decision, case.expect))
        return result

    def _entry(self, file: str, rule: str) -> RuleCoverage:
        file = _display(file)
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


_SAFE_TEXT = re.compile(r"[A-Za-z0-9 ._:/+-]{0,100}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def what_if_text(loaded: LoadedPolicy, params: dict, where: str) -> str:
    """Policy text for an overlay of `loaded` that sets `params` (a case's what-if values).

    Only parameters the policy declares may be set, and each value is written as a
    literal of the parameter's type, checked here: nothing from the case file reaches
    the policy text except names matched against the policy and values re-rendered.

    Raises:
        CtsdslError: an unknown parameter, or a value that is not of its type.
    """
    from . import nodes as n
    declared = {p.name: p for p in loaded.policy.of_kind(n.Param)}
    header = loaded.header
    if not (_SAFE_TEXT.fullmatch(header.name) and _SAFE_TEXT.fullmatch(header.payer)):
        raise CtsdslError(Diagnostic("test-case", f"params: cannot write a what-if overlay of {header.name!r} "
                                     "(its name or payer has characters an overlay header cannot repeat)", where))
    lines = [f'policy "{header.name} what-if" {{',
             '  title "what-if overlay of a test case"',
             f'  payer "{header.payer}"',
             '  version "what-if"',
             f"  effective {header.effective_from}" + (f" to {header.effective_to}" if header.effective_to else ""),
             f'  extends "{header.name}"',
             "}",
             'source what_if { title "an analyst\'s what-if in a test case, not a billing source" '
             'url "docs/testing.md" confidence unverified }']
    for name, value in params.items():
        param = declared.get(str(name)) if _IDENTIFIER.fullmatch(str(name)) else None
        if param is None:
            raise CtsdslError(Diagnostic("test-case", f"params: {header.name} has no parameter {name!r}", where,
                                         hint=f"parameters: {', '.join(sorted(declared))}"))
        literal = _literal(param, value)
        if literal is None:
            raise CtsdslError(Diagnostic("test-case", f"params: {value!r} is not a {param.type_name or 'value'} "
                                         f"for {name}", where))
        lines.append(f"override param {name}: {param.type_name} = {literal} cites what_if")
    return "\n".join(lines) + "\n"


def _literal(param, value) -> str | None:
    from decimal import Decimal, InvalidOperation
    kind = param.type_name
    if kind == "bool":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if kind == "set":
        items = value if isinstance(value, list) else None
        if items is None or not all(isinstance(v, str) and _SAFE_TEXT.fullmatch(v) for v in items):
            return None
        return "{" + ", ".join(f'"{v}"' for v in items) + "}"
    if kind == "string":
        return f'"{value}"' if isinstance(value, str) and _SAFE_TEXT.fullmatch(value) else None
    if kind in ("int", "number", "money") and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        if not number.is_finite() or (kind == "int" and number != number.to_integral_value()):
            return None
        sign, digits = ("-" if number < 0 else ""), format(abs(number), "f")
        return f"{sign}${digits}" if kind == "money" else f"{sign}{digits}"
    return None


def _rule_items(loaded: LoadedPolicy) -> list:
    """Every rule and fee in the policy, inherited ones included."""
    from . import nodes as n
    return loaded.policy.of_kind(n.Rule) + loaded.policy.of_kind(n.Fee)


def _display(path: str) -> str:
    """A path as reports show it: relative to the working folder when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def unknown_rules(expect: dict, rules: list[str], policy: str) -> list[str]:
    """The rule ids an expectation names that the policy has no rule for.

    A misspelt id in `not_fires` would otherwise pass whatever the policy did, and one in
    `fires` would fail without saying why.
    """
    named = _as_list(expect.get("fires")) + _as_list(expect.get("not_fires"))
    for spec in _line_specs(expect):
        named += _as_list(spec.get("fires")) + _as_list(spec.get("not_fires"))
    problems = []
    for rule in dict.fromkeys(named):
        if rule not in rules:
            close = difflib.get_close_matches(rule, rules, n=1)
            problems.append(f"{policy} has no rule `{rule}`" + (f"; did you mean `{close[0]}`?" if close else ""))
    return problems


def compare(decision: Decision, expect: dict) -> list[str]:
    """Every way the decision differs from the expectation, as 'expected X, got Y' lines."""
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
    problems += _firing(expect, {f.rule for f in decision.findings})
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
        on_line = {f.rule for f in decision.findings if f.line == index or (f.line is None and f.id in line.findings)}
        problems += _firing(spec, on_line, f"{where}: ")
    return problems


def _firing(expect: dict, fired: set[str], where: str = "") -> list[str]:
    """What an expectation's `fires` and `not_fires` say that the rules which `fired` contradict."""
    shown = ", ".join(sorted(fired)) or "none"
    return [f"{where}expected rule {rule} to fire; fired: {shown}" for rule in _as_list(expect.get("fires"))
            if rule not in fired] + \
        [f"{where}expected rule {rule} not to fire, but it did" for rule in _as_list(expect.get("not_fires"))
         if rule in fired]


def _money(value) -> str | None:
    if value is None:
        return None
    from decimal import Decimal
    return money_text(Decimal(str(value)))


def run_paths(paths: list[str | Path], registry: Registry | None = None) -> TestReport:
    """Run every case file under `paths`, measuring coverage of the policies under them."""
    runner = Runner(registry)
    policy_files = find_policy_files(paths)
    runner.track(runner.registry.load(p) for p in policy_files)
    cases = [c for f in find_case_files(paths) for c in load_cases(f)]
    report = runner.run(cases)
    # Coverage is of the rules written in the policies under test: an overlay's folder answers for
    # the overlay's own rules, not for the Medicare rules it inherits (their cases live with them).
    # Given only case files, the policies under test are the ones those cases chose.
    scope = {_display(str(p)) for p in policy_files} or {_display(str(p)) for p in runner._tracked}
    return TestReport(report.results, {key: c for key, c in report.coverage.items() if c.policy in scope})


def render_report(report: TestReport, *, verbose: bool = False) -> str:
    out = []
    for r in report.results:
        if r.passed:
            if verbose:
                out.append(f"ok   {r.case.file}:{r.case.line}: {r.case.name}")
            continue
        out.append(f"FAIL {r.case.file}:{r.case.line}: {r.case.name}")
        out.extend(f"       {p}" for p in r.problems)
    passed = len(report.results) - len(report.failed)
    out.append(f"{passed} passed, {len(report.failed)} failed")
    total = len(report.coverage)
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
    return "\n".join(out)
