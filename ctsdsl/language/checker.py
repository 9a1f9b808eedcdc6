"""Static validation of a parsed policy, before anything runs.

`iter_diagnostics` yields every problem it finds, each located and with a hint;
nothing stops at the first. The checker also infers the type of every expression,
which the compiler relies on (a checked policy never meets a type error at run time,
only absent optional values and missing table rows).

This module checks a policy's items (header, names, stages, declared fields, facts, parameters,
rules, fees) and is the entry point (`check`, `iter_diagnostics`); the typing of expressions, with
the state and reporting every check shares, is `checker_expressions`, and the wording of types and
hints is `checker_hints`. `CheckedPolicy`, `literal_type`, `RESERVED` and `MAX_DEPTH` are re-exported.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..claims.fields import (ANY, BOOL, CLAIM, DATE, DECLARABLE, INT, LINE, LIST_OF_STRING, MONEY, NUMBER, SET, STRING,
                             catalogue, inner_type, kind_of, set_of, with_declared)
from ..claims.validation import declared_check, example_value
from ..errors import Diagnostic, did_you_mean
from . import nodes as n
from .checker_expressions import LITERAL_TYPES, MAX_DEPTH, RESERVED, CheckedPolicy, ExpressionChecker, literal_type
from .checker_hints import a_type
from .printer import format_literal
from .tables import TableData, valid_date

__all__ = ["CONFIDENCE", "MAX_DEPTH", "PARAM_TYPES", "RESERVED", "CheckedPolicy", "Checker", "check", "fact_path",
           "iter_diagnostics", "literal_type", "param_type"]

PARAM_TYPES = frozenset(LITERAL_TYPES) | {"set"}
CONFIDENCE = ("verified", "likely", "unverified")
_REASON_CODE = re.compile(r"[A-Z0-9]+")
_NO_PARENT = frozenset({"unknown-parent", "extends-cycle"})
_EXAMPLES = {INT: "2", NUMBER: "0.85", MONEY: "$32.35", STRING: '"text"', DATE: "2025-01-01", BOOL: "true"}


class Checker(ExpressionChecker):
    """Walks a policy once, collecting diagnostics and types: the items here, their expressions in
    `ExpressionChecker`."""

    # ------------------------------------------------------------ items

    def run(self) -> CheckedPolicy:
        # A parent that could not be read leaves the overlay without what it would have inherited
        # (its codes, the entries an override does not restate): the error saying so is enough.
        self.orphan = any(d.code in _NO_PARENT for d in self.result.diagnostics)
        self.check_header()
        self.check_names()
        self.check_stages()
        self.check_declared_fields()
        header = self.policy.header
        for item in self.policy.items:
            self.at(item)
            self._in_override = bool(getattr(item, "override", False))
            if self.orphan and self._in_override:
                continue
            if getattr(item, "override", False) and not (header and header.extends):
                self.report("override-without-parent", f"`override {type(item).__name__.lower()}` in a policy "
                            "that extends nothing", item.span, 'add `extends "<parent policy>"` to the header, '
                            "or drop `override`")
                continue  # an override restates only what changes: its missing entries would be noise
            if isinstance(item, n.Source):
                self.check_source(item)
            elif isinstance(item, n.Param):
                self.check_param(item)
            elif isinstance(item, n.Table):
                self.check_cites(item.cites, f"table `{item.name}`", item.span)
            elif isinstance(item, n.Let):
                self.let_type(item.name, item.span)
            elif isinstance(item, n.Rule):
                self.check_rule(item)
            elif isinstance(item, n.Fee):
                self.check_fee(item)
            elif isinstance(item, n.Disable):
                if not (header and header.extends):  # nothing inherited to switch off: it would do nothing
                    self.report("override-without-parent", f"`disable {item.rule}` in a policy that extends "
                                "nothing", item.span, f'add `extends "<parent policy>"` to the header, or delete '
                                f"rule `{item.rule}` itself")
                self.check_cites(item.cites, f"`disable {item.rule}`", item.span)
                if not item.reason.strip():
                    self.report("missing-entry", f"`disable {item.rule}` gives no reason", item.span)
            elif isinstance(item, n.Facts):
                self.check_facts(item)
        self.current = self.policy.source_name
        self._in_override = False
        return self.result

    def check_header(self) -> None:
        headers = self.policy.of_kind(n.PolicyHeader)
        if not headers:
            self.report("no-header", "the file has no `policy \"name\" { ... }` header", n.Span(1, 1, 1, 2),
                        'start the file with: policy "name" { payer "medicare" version "1" effective 2024-01-01 }')
            return
        for extra in headers[1:]:
            self.report("duplicate-header", "a file holds one policy: a second `policy` header", extra.span,
                        "split it into two files")
        h = headers[0]
        effective = dict(h.entry_spans).get("effective", h.span)
        for attr, example in (("payer", 'payer "medicare"'), ("version", 'version "2024.1"'),
                              ("effective_from", "effective 2024-01-01 to 2024-12-31")):
            if not getattr(h, attr):
                self.report("missing-entry", f'policy "{h.name}" has no `{attr.split("_")[0]}`', h.span,
                            f"add `{example}`")
        for date in (h.effective_from, h.effective_to):
            if date and not valid_date(date):
                self.report("bad-date", f"{date} is not a calendar date", effective,
                            "write a real date as YYYY-MM-DD: months 01-12, days that exist in the month")
        if h.effective_to and h.effective_from and h.effective_to < h.effective_from:
            self.report("bad-range", f"the policy ends ({h.effective_to}) before it starts ({h.effective_from})",
                        effective)
        if not h.governs and not (h.extends and self.orphan):
            self.report("missing-entry", f'policy "{h.name}" does not say which codes it `governs`', h.span,
                        'add `governs "97550", "97551", "97552"`; lines with other codes are out of scope')

    def check_names(self) -> None:
        """Every named item must be unique, and may not hide a built-in name."""
        seen: dict[str, n.Node] = {}
        for item in self.policy.items:
            if isinstance(item, (n.PolicyHeader, n.Disable, n.Facts, n.Stages, n.DeclaredField)):
                continue
            name = getattr(item, "name", None) or getattr(item, "id", None)
            kind = type(item).__name__.lower()
            space = "source" if isinstance(item, n.Source) else "rule" if isinstance(item, (n.Rule, n.Fee)) else "value"
            key = f"{space}:{name}"
            if key in seen:
                first = seen[key]
                self.report("duplicate-name", f"{kind} `{name}` is defined twice (first at line {first.span.line})",
                            item.span, "names of rules, fees, sources, parameters, tables and lets must be unique")
            else:
                seen[key] = item
            if space == "value" and name in RESERVED:
                self.report("reserved-name", f"`{name}` is a built-in name and cannot be redefined", item.span,
                            "choose another name")

    def check_declared_fields(self) -> None:
        """Each `field` names a new claim or line field, of a declarable type with sound bounds."""
        good: list[n.DeclaredField] = []
        seen: dict[str, n.DeclaredField] = {}
        for d in self.policy.of_kind(n.DeclaredField):
            self.at(d)
            what = f"field `{d.path}`"
            before = len(self.result.errors)
            type_span = dict(d.entry_spans).get("type", d.span)
            if d.record not in ("claim", "line"):
                self.report("unknown-field", f"{what}: a declared field belongs to the claim or a line", d.span,
                            f"write `field claim.{d.name}` or `field line.{d.name}`")
            elif d.name in catalogue()[d.record]:
                self.report("already-defined", f"{what} is already a field of the claim schema", d.span,
                            f"read it as `{d.path}` without declaring it; a declaration adds a field the base "
                            "schema lacks")
            elif d.path in seen:
                self.report("duplicate-name", f"{what} is declared twice (first at line {seen[d.path].span.line})",
                            d.span, "declare each field once; an overlay inherits its parent's")
            if not d.type_name:
                self.report("missing-entry", f"{what} has no type", d.span,
                            'add e.g. `type string matching "^[A-Z0-9-]{4,30}$"` or `type int from 1 to 99`')
            elif d.type_name not in DECLARABLE:
                self.report("type", f"{what}: `{d.type_name}` is not a type a claim field may have", type_span,
                            did_you_mean(d.type_name, DECLARABLE) or f"types: {', '.join(DECLARABLE)}")
            if d.pattern is not None:
                if d.type_name != "string":
                    self.report("type", f"{what}: `matching` is for text, and this field is {d.type_name}", type_span,
                                "give a pattern only to a string field")
                try:
                    re.compile(d.pattern)
                except re.error as exc:
                    self.report("bad-value", f"{what}: the pattern does not compile: {exc}", type_span,
                                "write a JSON Schema (ECMA-262) regular expression, e.g. \"^[A-Z0-9-]{4,30}$\"")
            if d.low is not None and d.high is not None:
                if d.type_name not in ("int", "number"):
                    self.report("type", f"{what}: `from ... to ...` bounds a number, and this field is {d.type_name}",
                                type_span, "give bounds only to an int or number field")
                elif d.type_name == "int" and (d.low.kind != "int" or d.high.kind != "int"):
                    self.report("type", f"{what}: an int field's bounds are whole numbers", type_span)
                elif d.low.kind not in ("int", "number") or d.high.kind not in ("int", "number"):
                    self.report("type", f"{what}: bounds are numbers", type_span)
                elif d.low.value > d.high.value:  # both numbers, as checked above
                    self.report("bad-range", f"{what}: the bounds run backwards ({d.low.value} to {d.high.value})",
                                type_span, "write the smaller bound first")
            if d.example is not None and len(self.result.errors) == before \
                    and not declared_check(d)(example_value(d)):
                self.report("bad-value", f"{what}: the example {format_literal(d.example)} is not a valid "
                            f"{d.type_name}" + (" matching the pattern" if d.pattern is not None else "")
                            + (" within the bounds" if d.low is not None else ""),
                            dict(d.entry_spans).get("example", d.span),
                            "give a value a claim could carry: the witnesses of `ctsdsl diff` bill it")
            self.check_cites(d.cites, what, d.span)
            if not d.title:
                self.report("missing-entry", f"{what} has no title", d.span,
                            'add `title "..."`: it describes the field in the claim schema and the docs',
                            severity="warning")
            seen.setdefault(d.path, d)
            if len(self.result.errors) == before:
                good.append(d)
        self.result.declared = tuple(good)
        self.result.fields = with_declared(self.result.declared)
        self.current = self.policy.source_name

    def check_stages(self) -> None:
        """At most one `stages` list of distinct names (an overlay's has replaced its parent's by now)."""
        declared = self.policy.of_kind(n.Stages)
        for extra in declared[1:]:
            self.at(extra)
            self.report("duplicate-entry", f"`stages` is declared twice (first at line {declared[0].span.line})",
                        extra.span, "list every stage, in order, in one `stages` item")
        if not declared:
            return
        item = declared[0]
        self.at(item)
        seen: set[str] = set()
        for name, span in zip(item.names, item.name_spans or (item.span,) * len(item.names)):
            if name in seen:
                self.report("duplicate-name", f"stage `{name}` is listed twice", span, "each stage runs once: list it once")
            seen.add(name)
        self.result.stages = tuple(dict.fromkeys(item.names))
        self.current = self.policy.source_name

    def stage_index(self, rule: n.Rule, what: str) -> int:
        """The rule's stage as a position in `stages`, reporting a stage that is not declared."""
        if rule.stage is None:
            return 0
        stages = self.result.stages
        if rule.stage in stages:
            return stages.index(rule.stage)
        span = dict(rule.entry_spans).get("stage", rule.span)
        if not stages:
            self.report("unknown-stage", f"{what} is in stage `{rule.stage}`, but the policy declares no stages",
                        span, f"declare them, in the order they run: e.g. `stages checks, {rule.stage}`")
        else:
            self.report("unknown-stage", f"{what} is in stage `{rule.stage}`, which is not declared", span,
                        did_you_mean(rule.stage, stages) or f"the stages are: {', '.join(stages)}")
        return len(stages) or 1  # as if not the first: its reads of outcomes are not also reported

    def check_facts(self, facts: n.Facts) -> None:
        """Each fact names a claim field (`line.minutes`), or some values of a list of strings
        (`line.modifiers in {"CQ"}`, a set literal or a set parameter)."""
        self.check_cites(facts.cites, "`facts`", facts.span)
        for fact in facts.facts:
            path = fact_path(fact.field)
            if path is None or len(path) < 2 or path[0] not in ("claim", "line") \
                    or (len(path) == 3 and path[:2] != ("claim", "documentation")) or len(path) > 3:
                self.report("unknown-field", "a fact is a claim field: claim.FIELD, line.FIELD or "
                            "claim.documentation.FIELD", fact.field.span, "e.g. `facts line.minutes cites SOURCE`")
                continue
            record = "documentation" if len(path) == 3 else path[0]
            fields = self.result.fields[record]
            name = path[-1]
            if name in ("lines", "documentation", "index") and len(path) == 2:  # records and positions, not fields
                self.report("unknown-field", f"`{'.'.join(path)}` is not a field a claim states", fact.field.span,
                            "name a field of it: line.minutes, claim.documentation.consent")
                continue
            if name not in fields:
                self.report("unknown-field", f"{'.'.join(path[:-1])} has no field `{name}` in the claim schema",
                            fact.field.span,
                            did_you_mean(name, fields) or f"{record} fields: {', '.join(sorted(fields))}")
                continue
            if fact.values is None:
                continue
            if fields[name].type != LIST_OF_STRING:
                self.report("type", f"`{'.'.join(path)} in ...` marks some values of a list of strings as facts; "
                            f"`{'.'.join(path)}` is {a_type(fields[name].type)}", fact.values.span,
                            f"write `{'.'.join(path)}` alone: the whole field is a fact")
            elif isinstance(fact.values, n.SetLiteral):
                if any(i.kind != "string" for i in fact.values.items):
                    self.report("type", "the values of a fact are strings", fact.values.span)
            elif isinstance(fact.values, n.Name):
                param = self.params.get(fact.values.name)
                if param is None:
                    self.report("unknown-name", f"`{fact.values.name}` is not a set parameter", fact.values.span,
                                did_you_mean(fact.values.name, self.params) or "write the values: {\"CQ\", \"CO\"}")
                elif param_type(param) != set_of(STRING):
                    self.report("type", f"`{fact.values.name}` is {a_type(param_type(param))}, not a set of strings",
                                fact.values.span)
            else:
                self.report("type", "the values of a fact are a set literal or a set parameter", fact.values.span)

    def check_source(self, source: n.Source) -> None:
        if not source.title:
            self.report("missing-entry", f"source `{source.id}` has no title", source.span,
                        'add `title "..."`: the title is shown in every finding that cites it')
        if not source.url:
            self.report("missing-entry", f"source `{source.id}` has no url", source.span,
                        'add `url "https://..."` so a biller can read the source')
        if source.date and not valid_date(source.date):
            self.report("bad-date", f"{source.date} is not a calendar date", source.span)
        if source.confidence and source.confidence not in CONFIDENCE:
            self.report("bad-value", f"confidence `{source.confidence}` is not one of {', '.join(CONFIDENCE)}",
                        source.span)

    def check_cites(self, cites: tuple[n.Citation, ...], what: str, span: n.Span) -> None:
        if not cites:
            self.report("no-citation", f"{what} cites no source", span,
                        "add `cites <source>`: every rule, fee, parameter value and table names its source")
        for c in cites:
            if c.source not in self.sources:
                self.report("unknown-source", f"{what} cites `{c.source}`, which is not defined", c.span,
                            did_you_mean(c.source, self.sources) or "define it with `source name { ... }`")

    def check_param(self, param: n.Param) -> None:
        what = f"parameter `{param.name}`"
        if param.type_name and param.type_name not in PARAM_TYPES:
            self.report("unknown-type", f"{what} has unknown type `{param.type_name}`", param.span,
                        f"types: {', '.join(sorted(PARAM_TYPES))}")
        for value in (param.value, *(dv.value for dv in param.dated)):
            if value is not None:
                self.check_literal(value)
        if param.value is not None:
            self.check_cites(param.cites, what, param.span)
            kinds = {literal_type(param.value)}
        else:
            kinds = set()
            for dv in param.dated:
                self.check_cites(dv.cites, f"{what} from {dv.start}", dv.span)
                kinds.add(literal_type(dv.value))
            self.check_dated(param)
        if len(kinds) > 1:
            self.report("type", f"{what} mixes values of types {', '.join(sorted(kinds))}", param.span,
                        "every dated value of a parameter has one type")
        inferred = kinds.pop() if kinds else ANY
        if self.check_override_type(param, inferred):
            return
        declared = param.type_name
        if declared and declared in PARAM_TYPES and inferred != ANY:
            base = inferred.split(":")[0]
            if declared != base and not (declared in (NUMBER, MONEY) and base == INT) \
                    and not (declared == MONEY and base == NUMBER):
                self.report("type", f"{what} is declared {declared} but its value is {inferred}", param.span)
            elif declared != "set":
                inferred = declared
        self.result.param_types[param.name] = inferred

    def check_override_type(self, param: n.Param, inferred: str) -> bool:
        """An override keeps its parent's type: the parent's uses were checked against it.

        Returns whether a mismatch was reported: the parameter then keeps the parent's type, so that
        the parent's every use of it is not reported as well, in a file the overlay's author did not write.
        """
        parent = self.replaced.get(param.name) if param.override else None
        if parent is None:
            return False
        want = param_type(parent)
        got = param.type_name if param.type_name in PARAM_TYPES and param.type_name != "set" else inferred
        if ANY in (want, got) or _widens(want, got) or \
                (kind_of(want) == kind_of(got) == SET and ANY in (inner_type(want), inner_type(got))):
            return False
        where = f"{Path(parent.origin).name}:{parent.span.line}" if parent.origin else "the parent"
        says = f"declares it {want}" if parent.type_name and parent.type_name != "set" else f"gives it {a_type(want)}"
        self.report("type", f"`override param {param.name}`: the parent ({where}) {says}, but this value is "
                    f"{a_type(got)}", param.span,
                    f"an override keeps the parameter's type, as every use of it was written for it: write "
                    f"{a_type(want)}" + (f", such as {_EXAMPLES[want]}" if want in _EXAMPLES else ""))
        self.result.param_types[param.name] = want
        return True

    def check_dated(self, param: n.Param) -> None:
        """Dated values must be real dates, in order, without overlaps or gaps in the policy's span."""
        values = param.dated
        for dv in values:
            for date in (dv.start, dv.end):
                if date and not valid_date(date):
                    self.report("bad-date", f"{date} is not a calendar date", dv.span)
            if dv.end and dv.end < dv.start:
                self.report("bad-range", f"the value ends ({dv.end}) before it starts ({dv.start})", dv.span)
        ordered = sorted(values, key=lambda v: v.start)
        if list(ordered) != list(values):
            self.report("dated-order", f"dated values of `{param.name}` are not in date order", param.span,
                        "list them oldest first", severity="warning")
        for prev, cur in zip(ordered, ordered[1:]):
            if prev.start == cur.start:
                self.report("dated-overlap", f"two values of `{param.name}` start on {cur.start}", cur.span)
            elif prev.end and prev.end >= cur.start:
                self.report("dated-overlap", f"values of `{param.name}` overlap: one runs to {prev.end}, "
                            f"the next starts {cur.start}", cur.span, "end the first the day before the next starts")
            elif prev.end and _next_day(prev.end) != cur.start:
                self.report("dated-gap", f"`{param.name}` has no value from {_next_day(prev.end)} to the day "
                            f"before {cur.start}", cur.span, "extend one value or add one for the gap")
        header = self.policy.header
        if not (header and header.effective_from and ordered) or \
                not all(valid_date(d) for d in (header.effective_from, header.effective_to) if d):
            return  # a policy date that is no date has its own error: measuring gaps from it would only repeat it
        start, end = header.effective_from, header.effective_to
        first, last = ordered[0], ordered[-1]
        gaps: list[tuple[n.DatedValue, str, str]] = []
        if first.start > start:
            gaps.append((first, f"no value from {start} (the policy's start) to the day before {first.start}",
                         "start the first value on or before the policy's effective date"))
        if end and last.end and last.end < end:
            gaps.append((last, f"no value after {last.end}, but the policy runs to {end}", ""))
        elif not end and last.end:
            gaps.append((last, f"no value after {last.end}, but the policy has no end date",
                         "leave the last value open (`from DATE = ...`), or give the policy an end date"))
        inherited = param.origin and param.origin != self.policy.source_name
        for value, gap, hint in gaps:
            if not inherited:
                self.report("dated-gap", f"`{param.name}` has {gap}", value.span, hint)
                continue
            # The parent's values are right for the parent's dates: it is this overlay's dates that
            # outrun them, so the error belongs at its `effective`, with the parent's line to look at.
            reporting_in, self.current = self.current, self.policy.source_name
            self.report("dated-gap", f"`{param.name}` has {gap} (the parameter is inherited: its values are at "
                        f"{Path(param.origin).name}:{value.span.line})",
                        dict(header.entry_spans).get("effective", header.span),
                        f"give this policy dates its parent covers, or `override param {param.name}` with values "
                        "for the dates it lacks")
            self.current = reporting_in

    def check_rule(self, rule: n.Rule) -> None:
        what = f"rule `{rule.id}`"
        self.check_cites(rule.cites, what, rule.span)
        if not rule.title:
            self.report("missing-entry", f"{what} has no title", rule.span,
                        'add `title "..."`: it names the rule in reports and docs', severity="warning")
        if rule.outcome is None:
            self.report("missing-entry", f"{what} has no outcome", rule.span,
                        "add one of: deny, reduce units to <expression>, warn, info")
        if rule.message is None:
            self.report("missing-entry", f"{what} has no message", rule.span,
                        'add `message "..."` saying what is wrong and how to fix it; {line.minutes} quotes a value')
        stage = self.stage_index(rule, what)
        reads, self._outcome_reads = self._outcome_reads, []
        self.check_rule_expressions(rule, what)
        if self._outcome_reads and stage == 0:
            first = self.result.stages[0] if self.result.stages else None
            later = self.result.stages[1:]
            self.report("stage-order", f"{what} reads what earlier stages decided, but it is in the first stage"
                        + (f" (`{first}`)" if first else "") + ": no rule has decided anything before it",
                        self._outcome_reads[0],
                        f"put it in a later stage: `stage {later[0]}`" if later else
                        "declare the stages in the order they run, e.g. `stages checks, limits`, and give this "
                        "rule `stage limits`")
        self._outcome_reads = reads

    def check_rule_expressions(self, rule: n.Rule, what: str) -> None:
        env = {"claim": CLAIM}
        if rule.scope == "line":
            env["line"] = LINE
        elif rule.outcome and rule.outcome.kind == "reduce":
            self.report("scope", f"{what} reduces units but applies to the claim", rule.outcome.span,
                        "units belong to lines: use `applies to line where ...`")
        if rule.where is not None:
            self.expect(rule.where, env, BOOL, "the `where` filter")
        if rule.when is not None:
            self.expect(rule.when, env, BOOL, "the `when` condition")
        if rule.outcome and rule.outcome.units is not None:
            self.expect(rule.outcome.units, env, INT, "the reduced units")
        if rule.message:
            for part in rule.message.parts:
                if not isinstance(part, str):
                    self.infer(part, env)
        for reason in rule.reasons:
            if reason.system not in ("CARC", "RARC", "CO", "PR", "OA", "PI"):
                self.report("bad-value", f"reason system `{reason.system}` is not CARC, RARC or a group code",
                            reason.span, "write e.g. `reason CARC 107, RARC N362`")
            # Decisions carry the code as "CARC 107": schemas/decision.schema.json allows [A-Z0-9]+ only.
            if not _REASON_CODE.fullmatch(reason.code):
                self.report("bad-value", f"reason code `{reason.system} {reason.code}` is not a code: "
                            "codes are capital letters and digits", reason.span,
                            "write e.g. `reason CARC 16` or `reason RARC N362`")

    def check_fee(self, fee: n.Fee) -> None:
        what = f"fee `{fee.id}`"
        self.check_cites(fee.cites, what, fee.span)
        env = {"claim": CLAIM, "line": LINE, "units_allowed": INT}
        if fee.where is not None:
            self.expect(fee.where, env, BOOL, "the `where` filter")
        if fee.amount is None:
            self.report("missing-entry", f"{what} has no amount", fee.span,
                        "add `amount <expression>`, e.g. round(rvu[line.code].total_nf * cf, 2) * units_allowed")
        else:
            self.expect(fee.amount, env, MONEY, "the amount")


def _next_day(date: str) -> str:
    try:
        return (datetime.date.fromisoformat(date) + datetime.timedelta(days=1)).isoformat()
    except ValueError:
        return date


def fact_path(field: n.Expr) -> tuple[str, ...] | None:
    """`claim.documentation.consent` as ("claim", "documentation", "consent"); None for anything else."""
    names: list[str] = []
    while isinstance(field, n.Attribute):
        names.append(field.name)
        field = field.obj
    if not isinstance(field, n.Name):
        return None
    return (field.name, *reversed(names))


def param_type(param: n.Param) -> str:
    """The type a parameter's uses are checked against (as `check_param` settles it, without reporting)."""
    if param.type_name in PARAM_TYPES and param.type_name != "set":
        return param.type_name
    value = param.value if param.value is not None else (param.dated[0].value if param.dated else None)
    return literal_type(value) if value is not None else ANY


def _widens(want: str, got: str) -> bool:
    """Whether a value of type `got` may stand where `want` is declared (a whole number is a number)."""
    return got == want or (want in (NUMBER, MONEY) and got == INT) or (want == MONEY and got == NUMBER)


def check(policy: n.Policy, tables: dict[str, TableData], source_text: str | dict[str, str] | None = None,
          problems: Sequence[Diagnostic] = (), *, replaced: Mapping[str, n.Param] | None = None) -> CheckedPolicy:
    """Check a parsed policy against its loaded tables.

    Args:
        policy: The syntax tree.
        tables: Loaded tables by name (a table that failed to load is absent).
        source_text: The policy text (or, for an overlay, each file's text by name), for excerpts.
        problems: Diagnostics found earlier (parse-time structure, table loading).
        replaced: For an overlay, each overridden parameter as its parent had it.

    Returns:
        The `CheckedPolicy`; its `errors` are empty when the policy may be compiled.
    """
    checker = Checker(policy, tables, source_text, replaced)
    checker.result.diagnostics.extend(problems)
    return checker.run()


def iter_diagnostics(policy: n.Policy, tables: dict[str, TableData],
                     source_text: str | None = None) -> Iterator[Diagnostic]:
    """Yield every diagnostic for a policy, in the order found."""
    yield from check(policy, tables, source_text).diagnostics
