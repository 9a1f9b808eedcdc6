"""Case files read: YAML files of claims and expectations, checked and located before any case runs.

A mistake in a case file (an unknown key, an expected status no decision can have, a rule both in
`fires` and `not_fires`) is refused here with the file, line and column of the key or value at
fault, so that a case which could never pass, or never fail, does not reach the runner.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from ..claims.yaml_loader import StrictYamlLoader
from ..claims.validation import parse_yaml
from ..engine.loader import POLICY_SUFFIX, find_files
from ..errors import CtsdslError, Diagnostic, did_you_mean
from ..language.nodes import Span
from ..limits import number_problem

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
        close = did_you_mean(key, valid)
        if close:
            return f"{close} {what}: {', '.join(valid)}"
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
    raise problem(f"{what} {value!r} is not one of {', '.join(choices)}", *steps, hint=did_you_mean(value, choices))


def _check_both(problem, spec: dict, *steps: object) -> None:
    """A rule both in `fires` and in `not_fires` makes a case that can never pass."""
    both = sorted(set(as_list(spec.get("fires"))) & set(as_list(spec.get("not_fires"))))
    if both:
        raise problem(f": {', '.join(both)} both in `fires` and in `not_fires`, so the case can never pass",
                      *steps, "not_fires", hint="keep it in one of the two")


def _check_amount(problem, what: str, value: object, *steps: object) -> None:
    """An expected amount must be one a decision can have: 1e999999999 cannot be rounded to cents."""
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


def line_specs(expect: dict) -> list[dict]:
    """Every line expectation of a case, whether `lines` is a list or a mapping by line number."""
    return [spec for _, spec in _keyed_line_specs(expect)]


def as_list(value) -> list[str]:
    """An expectation's `fires` or `not_fires` as a list of rule ids: one id may be written alone."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


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
    """The case files given, and those in a `cases` folder under each folder given."""
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


__all__ = ["CASE_SUFFIXES", "Case", "as_list", "find_case_files", "line_specs", "load_cases"]
