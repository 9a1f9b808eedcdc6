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
"""

from __future__ import annotations

import copy
import datetime
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .claims import StrictYamlLoader, parse_yaml, validate_for
from .decision import Decision, LineDecision, money_text
from .errors import CtsdslError, Diagnostic, PolicyNotFoundError
from .loader import POLICY_SUFFIX, LoadedPolicy, find_files, load_text, tree_root
from .nodes import Span
from .registry import Registry, bundled
from .limits import number_problem
from .tables import valid_date
from .what_if import declared_param, what_if_text, with_rows

CASE_SUFFIXES = (".yaml", ".yml")
_CASE_KEYS = {"name", "claim", "expect", "policy", "note", "params", "rows"}
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
    claim: object  # as the case file wrote it: validate_for checks it when the case runs
    expect: dict
    policy: str | None = None
    params: dict = field(default_factory=dict)  # what-if values for the policy's parameters
    param_at: dict[str, tuple[int, int]] = field(default_factory=dict)  # (line, column) of each of `params`
    rows: dict = field(default_factory=dict)  # what-if table cells: {table: {key: {column: value}}}
    row_at: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)  # where each of `rows` is


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


def _merge(base: object, override: object) -> object:
    """Deep-merge mappings; anything else (lists included) is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def _case_problem(message: str, file: str, at: tuple[int, int] | int, hint: str = "",
                  text: str | None = None) -> CtsdslError:
    line, column = (at, 1) if isinstance(at, int) else at
    return CtsdslError(Diagnostic("test-case", message, file, Span(line, column, line, column + 1), hint,
                                  source_text=text))


def _did_you_mean(unknown: Iterable[object], valid: Iterable[str], what: str) -> str:
    """A hint naming the valid keys, led by the one a misspelt key most likely meant."""
    valid = sorted(valid)
    for key in sorted(map(str, unknown)):
        close = difflib.get_close_matches(key, valid, n=1)
        if close:
            return f"did you mean `{close[0]}`? {what}: {', '.join(valid)}"
    return f"{what}: {', '.join(valid)}"


def load_cases(path: str | Path) -> list[Case]:
    """Read one case file. Raises CtsdslError naming the file, line and column of a malformed case:
    the offending key or value's where the YAML gives it, else the case's first line."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CtsdslError(Diagnostic("test-case", f"cannot read {name}: {exc.strerror}", name)) from None
    data = parse_yaml(text, name)
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise _case_problem("a case file is a mapping with a `cases` list", name, 1,
                            "see docs/testing.md for the format", text)
    nodes = _case_nodes(text)
    defaults = data.get("defaults") or {}
    cases = []
    for i, raw in enumerate(data["cases"]):
        node = nodes[i] if i < len(nodes) else None
        line = node.start_mark.line + 1 if node is not None else 1

        def problem(message: str, *steps: object, key: bool = False, hint: str = "") -> CtsdslError:
            return _case_problem(f"case {i + 1}{message}", name, _at(node, line, steps, key=key), hint, text)

        if not isinstance(raw, dict):
            raise problem(" is not a mapping")
        unknown = set(raw) - _CASE_KEYS
        if unknown:
            raise problem(f" has unknown key(s): {', '.join(sorted(map(str, unknown)))}",
                          min(unknown, key=str), key=True, hint=_did_you_mean(unknown, _CASE_KEYS, "keys"))
        expect = raw.get("expect") or {}
        if not isinstance(expect, dict):
            raise problem(": `expect` maps expectations to values", "expect",
                          hint=f"expectations: {', '.join(sorted(_EXPECT_KEYS))}")
        unknown = set(expect) - _EXPECT_KEYS
        if unknown:
            raise problem(f": unknown expectation(s): {', '.join(sorted(map(str, unknown)))}",
                          "expect", min(unknown, key=str), key=True,
                          hint=_did_you_mean(unknown, _EXPECT_KEYS, "expectations"))
        if not any(value not in (None, "", [], {}) for value in expect.values()):
            raise problem(" expects nothing, so it could never fail",
                          hint="add `expect:` with an outcome, lines, fires or not_fires, or an error")
        _check_value(problem, ": outcome", expect.get("outcome"), _OUTCOMES, "expect", "outcome")
        _check_amount(problem, ": total_allowed", expect.get("total_allowed"), "expect", "total_allowed")
        if not isinstance(expect.get("total_complete", True), bool):
            raise problem(f": total_complete is true or false, not {expect['total_complete']!r}",
                          "expect", "total_complete")
        for index, spec in _keyed_line_specs(expect):
            bad = set(spec) - _LINE_KEYS
            if bad:
                raise problem(f": unknown line expectation(s): {', '.join(sorted(map(str, bad)))}",
                              "expect", "lines", index, min(bad, key=str), key=True,
                              hint=_did_you_mean(bad, _LINE_KEYS, "line expectations"))
            _check_value(problem, ": line status", spec.get("status"), _STATUSES, "expect", "lines", index, "status")
            _check_count(problem, ": line units", spec.get("units"), "expect", "lines", index, "units")
            _check_amount(problem, ": line amount", spec.get("amount"), "expect", "lines", index, "amount")
            _check_both(problem, spec, "expect", "lines", index)
        _check_count(problem, ": findings", expect.get("findings"), "expect", "findings")
        _check_both(problem, expect, "expect")
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise problem(": `params` maps parameter names to values", "params")
        claim = _merge(defaults, raw.get("claim") or {})
        if isinstance(claim, dict):
            claim.setdefault("id", f"{path.stem}-{i + 1}")
        param_at = {str(k): _at(node, line, ("params", k), key=True) for k in params}
        rows = raw.get("rows") or {}
        if not isinstance(rows, dict):
            raise problem(": `rows` maps table names to {key: {column: value}}", "rows")
        row_at: dict[tuple[str, ...], tuple[int, int]] = {(): _at(node, line, ("rows",), key=True)}
        for table, keys in rows.items():
            row_at[(str(table),)] = _at(node, line, ("rows", table), key=True)
            for key, cells in (keys.items() if isinstance(keys, dict) else ()):
                row_at[(str(table), str(key))] = _at(node, line, ("rows", table, key), key=True)
                for column in (cells if isinstance(cells, dict) else ()):
                    row_at[(str(table), str(key), str(column))] = _at(node, line, ("rows", table, key, column), key=True)
        cases.append(Case(str(raw.get("name") or f"case {i + 1}"), name, line, claim, expect,
                          raw.get("policy") or data.get("policy"), params, param_at, rows, row_at))
    return cases


def _check_value(problem, what: str, value: object, choices: tuple[str, ...], *steps: object) -> None:
    if value is None or value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=1)
    raise problem(f"{what} {value!r} is not one of {', '.join(choices)}", *steps,
                  hint=f"did you mean `{close[0]}`?" if close else "")


def _check_both(problem, spec: dict, *steps: object) -> None:
    """A rule both in `fires` and in `not_fires` makes a case that can never pass."""
    both = sorted(set(_as_list(spec.get("fires"))) & set(_as_list(spec.get("not_fires"))))
    if both:
        raise problem(f": {', '.join(both)} both in `fires` and in `not_fires`, so the case can never pass",
                      *steps, "not_fires", hint="keep it in one of the two")


def _check_amount(problem, what: str, value: object, *steps: object) -> None:
    """An expected amount must be one a decision can have: 1e999999999 cannot be rounded to cents."""
    from decimal import Decimal, InvalidOperation
    if value is None:
        return
    try:
        why = None if isinstance(value, bool) else number_problem(Decimal(str(value)))
    except InvalidOperation:
        why = "not a number"
    if isinstance(value, bool) or why:
        raise problem(f"{what} {value!r}: {why or 'not a number'}", *steps,
                      hint='write an amount in dollars and cents, such as "52.93"')


def _check_count(problem, what: str, value: object, *steps: object) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise problem(f"{what} {value!r} is not a whole number", *steps,
                      hint="write a count such as 2, without quotes")


def _keyed_line_specs(expect: dict) -> list[tuple[object, dict]]:
    """Each line expectation with its key: its place in a `lines` list, or its key in a `lines` mapping."""
    lines = expect.get("lines") or []
    pairs = list(lines.items()) if isinstance(lines, dict) else list(enumerate(lines))
    return [(k, v) for k, v in pairs if isinstance(v, dict)]


def _line_specs(expect: dict) -> list[dict]:
    return [spec for _, spec in _keyed_line_specs(expect)]


def _case_nodes(text: str) -> list[yaml.Node]:
    """The YAML node of each case, for messages that point at the key or value at fault."""
    try:
        root = yaml.compose(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "cases" and isinstance(value, yaml.SequenceNode):
            return list(value.value)
    return []


def _at(node: yaml.Node | None, line: int, steps: Iterable[object], *, key: bool = False) -> tuple[int, int]:
    """(line, column) of the value at `steps` below a case's node (of the last step's key, with `key`);
    as far down as the YAML goes, the case's own line if it has no node."""
    if node is None:
        return line, 1
    steps = list(steps)
    for i, step in enumerate(steps):
        found = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(step):
                    found = k if key and i == len(steps) - 1 else v
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            found = node.value[step]
        if found is None:
            break
        node = found
    return node.start_mark.line + 1, node.start_mark.column + 1


def find_case_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(f for f in find_files(p, CASE_SUFFIXES) if "cases" in f.parts)
        elif p.suffix == POLICY_SUFFIX:  # read as YAML it would fail as "invalid YAML"
            raise CtsdslError(Diagnostic(
                "test-case", f"{p} is a policy file, and ctsdsl test runs case files", str(p),
                hint=f"give the policy's folder ({p.parent}) to run its cases and measure its rules' coverage, "
                "or the case files themselves"))
        else:
            files.append(p)
    return files


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
            for registry in registries:
                if any(e.name == case.policy for e in registry.entries()):
                    return registry.by_name(case.policy).path
            names = sorted({e.name for r in registries for e in r.entries()})
            close = difflib.get_close_matches(case.policy, names, n=1)
            where = " or ".join(str(r.root) for r in registries)
            raise PolicyNotFoundError(Diagnostic(
                "unknown-policy", f"no policy named {case.policy!r} in {where}", f"{case.file}:{case.line}",
                hint=f"did you mean {close[0]!r}?" if close else f"policies: {', '.join(names) or 'none'}"))
        # The nearest registry with any policy of the claim's payer chooses among its own.
        payer = claim.get("payer")
        chooser = next((r for r in registries if any(e.payer == payer for e in r.entries())), registries[-1])
        return chooser.policy_for(claim).path

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
    runner.track(runner.load(p) for p in policy_files)
    cases = [c for f in find_case_files(paths) for c in load_cases(f)]
    report = runner.run(cases)
    # Coverage is of the rules written in the policies under test: an overlay's folder answers for
    # the overlay's own rules, not for the Medicare rules it inherits (their cases live with them).
    # Given only case files, the policies under test are the ones those cases chose.
    scope = {_display(str(p)) for p in policy_files} or {_display(str(p)) for p in runner._tracked}
    # A policy that only overrides values (a new year's figures) has no rules of its own to cover,
    # so coverage alone would not notice that no case ever ran under it.
    decided = {_display(str(p)) for p in runner._tracked}  # the policies some case was run under
    untested = [shown for shown in (_display(str(p)) for p in policy_files) if shown not in decided]
    return TestReport(report.results, {key: c for key, c in report.coverage.items() if c.policy in scope}, untested)


def render_report(report: TestReport, *, verbose: bool = False) -> str:
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
