"""The playground's JSON: errors as `ctsdsl batch --errors` writes them, diagnostics, traces and layers.

A decision is `Decision.to_dict()`, as `ctsdsl eval --json` prints it; nothing here makes a
second shape for it.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

from ..batch import RecordError
from ..decision import Decision
from ..errors import CtsdslError, Diagnostic
from ..evaluator import Evaluation, Evaluator, shown_path
from ..overlay import Layer
from ..runtime import shown


def diagnostic_dict(d: Diagnostic) -> dict:
    """A diagnostic as `ctsdsl batch --errors` writes one, with its severity and where its span ends."""
    body = RecordError(0, d.source_name, CtsdslError(d)).to_dict()["diagnostics"][0]
    body.update(severity=d.severity, end_line=d.span.end_line or None, end_column=d.span.end_column or None)
    if os.path.isabs(d.source_name):  # a policy or data file: named as decisions name it, not by this machine's path
        body["source"] = shown_path(d.source_name)
    return body


def error_dict(exc: CtsdslError, location: str) -> dict:
    """An error as `ctsdsl batch --errors` writes a bad record (``line`` and ``record`` empty here)."""
    body = RecordError(0, location, exc).to_dict()
    body["diagnostics"] = [diagnostic_dict(d) for d in exc.diagnostics]
    return body


def value(v: object) -> object:
    """A value a rule read, as JSON: money and numbers as decimal text (as decisions write amounts)."""
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (set, frozenset)):
        return [value(x) for x in sorted(v, key=str)]
    if isinstance(v, (list, tuple)):
        return [value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): value(x) for k, x in v.items()}
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def layers_list(layers: list[Layer]) -> list[dict]:
    """An overlay chain, child first, as `ctsdsl explain` lists it."""
    return [{"policy": l.header.name if l.header else None, "version": l.header.version if l.header else None,
             "file": shown_path(str(l.path)), "added": list(l.added), "overridden": list(l.overridden),
             "disabled": list(l.disabled)} for l in layers]


def trace_list(evaluator: Evaluator, decision: Decision, evaluations: list[Evaluation],
               layers: list[Layer]) -> list[dict]:
    """Every rule and fee evaluated, in order: on which line, whether it fired, what it read, whom it cites."""
    infos = {("rule", i.id): i for i in evaluator.rules} | {("fee", i.id): i for i in evaluator.fees}
    findings = {(f.rule, f.line): f for f in decision.findings}
    layer_of = {shown_path(str(l.path)): f"{l.header.name} {l.header.version}" for l in layers if l.header}
    out = []
    for ev in evaluations:
        info = infos.get((ev.kind, ev.rule))
        finding = findings.get((ev.rule, ev.line)) or findings.get((ev.rule, None))
        seen: set[str] = set()
        reads = []
        for label, v in ev.reads:
            if label not in seen:  # a quantifier reads the same name on every line: the first says it
                seen.add(label)
                reads.append({"name": label, "value": value(v), "shown": shown(v)})
        file = shown_path(ev.file) if ev.file else ""
        out.append({
            "rule": ev.rule, "kind": ev.kind, "line": ev.line, "applicable": ev.applicable, "fired": ev.fired,
            "title": info.title if info else "", "citation": (finding.citation if finding else
                                                               info.citation if info else ""),
            "finding": finding.id if finding and ev.fired else None, "reads": reads, "file": file,
            "layer": layer_of.get(file), "span": {"line": info.span.line, "column": info.span.column}
            if info and info.span.line else None})
    return out


def display_name(path: Path, root: Path) -> str:
    """A bundled policy's file as requests name it: relative to the bundled tree, with slashes."""
    return path.resolve().relative_to(root.resolve()).as_posix()
