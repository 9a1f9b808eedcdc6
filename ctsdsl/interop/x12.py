"""X12 837P interchanges (005010X222A1) into claims, parsed and validated by pyx12.

pyx12 walks the interchange against the 5010 implementation guide's map (loops, segments,
element types and code lists) and reports what breaks it; this module reads the values a
claim needs, segment by segment, and turns every problem into a located diagnostic:
segment number, file line and column, element, and what was expected.

Where the claim's fields come from (ASC X12 005010X222A1, the 837P implementation guide):

==========================  ===================================================================
claim field                 837P
==========================  ===================================================================
``id``                      CLM01, patient control number (loop 2300)
``payer``                   the payer map: 2010BB NM109 (payer id), else SBR09 (claim filing
                            indicator, loop 2000B); ``--payer`` overrides both
``date_of_service``         the earliest line's DTP*472 (loop 2400; D8, or an RD8 range of one day)
``place_of_service``        CLM05-1, or SV105 where a line gives it (every line must agree)
``provider_type``           PRV03 taxonomy of the line's rendering provider (2420A), else the
                            claim's (2310B), else the billing provider's (2000A); see taxonomy.py
``lines[].code``            SV101-2 (SV101-1 must be HC: CPT/HCPCS)
``lines[].modifiers``       SV101-3 to SV101-6
``lines[].units``           SV104, a whole number (SV103 must be UN, units)
``lines[].date_of_service`` DTP*472, given when it differs from the claim's
``lines[].charge``          SV102 (CLM02, the claim's total, is kept beside the claim)
==========================  ===================================================================

Errors in a claim's own segments (2300 and below) stop that claim; errors in the segments
around it (the envelope, the billing provider, the subscriber, the payer) stop every claim
they cover, and an error in the SE count every claim of its transaction set: a claim whose
context is broken would be decided on values no one can vouch for.

The interchange's text, its segments and where each is, is `x12_text`'s; this module reads the
claims from pyx12's walk over it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ClaimError, Diagnostic
from ..language.nodes import Span
from .draft import Draft, ReadClaim, ReadOptions, charge_number, finish, require
from .origin import Origin
from .taxonomy import provider_type
from .x12_text import X12Text, read_text, segment_values

IMPLEMENTATION = "005010X222A1"  # 837 Professional, version 5010 with its addenda
_TYPES = {"AN": "text", "ID": "a code", "R": "a decimal number", "DT": "a date CCYYMMDD", "TM": "a time HHMM"}
_ENVELOPE = ("ISA", "GS", "ST")
_LEVELS = {"20": "2000A", "22": "2000B", "23": "2000C"}  # HL03: billing provider, subscriber, patient


# ---------------------------------------------------------------- pyx12's errors, collected


@lru_cache(maxsize=1)
def _collector_class() -> type:
    error_handler = require("pyx12.error_handler", "x12", "an X12 interchange")

    class Collector(error_handler.errh_null):  # type: ignore[name-defined]
        """pyx12's error handler interface, keeping each error with the element it concerns."""

        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, str, Any, str]] = []  # (message, element ref, element node, about)
            self._element: Any = None
            self._segment: Any = None

        def drain(self) -> list[tuple[str, str, Any, str]]:
            found, self.found = self.found, []
            return found

        def add_seg(self, map_node: Any, seg: Any, seg_count: int, cur_line: int, ls_id: Any) -> None:
            self._segment = map_node  # for a missing segment, pyx12 names the one missing here

        def add_ele(self, map_node: Any) -> None:
            self._element = map_node

        def handle_errors(self, err_list: list) -> None:
            self.found.extend((message, "", None, "") for _, _, message, _, _ in err_list)

        def isa_error(self, err_cde: str, err_str: str) -> None:
            self.found.append((err_str, "", None, ""))

        gs_error = st_error = isa_error

        def seg_error(self, err_cde: str, err_str: str, err_value: str | None = None,
                      src_line: int | None = None) -> None:
            about = self._segment.get_path() if self._segment is not None else ""
            self.found.append((err_str, "", None, about))

        def ele_error(self, err_cde: str, err_str: str, bad_value: str | None, refdes: str | None = None) -> None:
            node = self._element
            self.found.append((err_str, refdes or getattr(node, "refdes", "") or "", node, ""))

    return Collector


def _expected(node: Any) -> str:
    """What an element should hold, from pyx12's map: 'Service Unit Count: a decimal number, 1 to 15 characters'."""
    if node is None:
        return ""
    kind = _TYPES.get(getattr(node, "data_type", ""), "a whole number" if str(getattr(node, "data_type", "")).startswith("N")
                      else "")
    low, high = getattr(node, "min_len", None), getattr(node, "max_len", None)
    size = f"{low} to {high} characters" if low and high else ""
    return f"expected {getattr(node, 'name', 'the element')}: " + ", ".join(p for p in (kind, size) if p)


# ---------------------------------------------------------------- claims


@dataclass
class _Line:
    number: int  # the LX segment's
    lx: str
    sv1: int = 0
    dtp: int = 0
    dates: tuple[date, date] | None = None
    taxonomy: tuple[int, str] | None = None  # 2420A PRV


@dataclass
class _Claim:
    number: int  # the CLM segment's
    context: dict[str, tuple[int, str]]  # billing taxonomy, SBR09, payer id: (segment, value)
    problems: list[Diagnostic] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)
    taxonomy: tuple[int, str] | None = None  # 2310B PRV


class _Reader:
    """One pass over an interchange: pyx12's segments in, finished claims out (at each SE)."""

    def __init__(self, source: X12Text, options: ReadOptions, nodes: Any, collector: Any) -> None:
        self.source, self.options, self.nodes, self.collector = source, options, nodes, collector
        self.context: dict[str, tuple[int, str]] = {}
        self.scopes: dict[str, list[Diagnostic]] = {key: [] for key in (*_ENVELOPE, *_LEVELS.values())}
        self.used: set[str] = set()
        self.first: dict[str, int] = {}  # the segment of each scope's first error
        self.claim: _Claim | None = None
        self.pending: list[_Claim] = []  # closed claims of the open transaction set
        self.open: dict[str, int] = {}  # envelope segment -> the number of the one now open
        self.last = 0

    def claims(self) -> Iterator[ReadClaim]:
        for problem in self.source.problems:
            yield self._standalone([problem], len(self.source.segments))
        try:
            for node in self.nodes:
                self.last = node.cur_line_number or self.last + 1
                yield from self._segment(node)
        except Exception as exc:  # noqa: BLE001 - pyx12 on hostile input may raise anything; never a traceback
            stop = min(self.last + 1, len(self.source.segments)) or 1
            yield self._standalone(self.source.origin(stop).error(
                "x12-invalid", f"the X12 parser stopped here: {exc}").diagnostics, stop)
            yield from self._abandon("the X12 parser stopped before the end of its transaction set")
            return
        if len(self.source.segments) > self.last and not self.source.problems:
            yield self._standalone(self.source.origin(self.last + 1).error(
                "x12-invalid", "the X12 parser read no further").diagnostics, self.last + 1)
        yield from self._abandon("its transaction set has no SE: the file ends inside it, and may be cut short")
        for segment, closing in (("GS", "GE"), ("ISA", "IEA")):
            if segment in self.open:
                yield self._standalone(self.source.origin(self.open[segment]).error(
                    "x12-invalid", f"the {segment} segment has no {closing}: the file may be cut short").diagnostics,
                    self.open[segment])
        yield from self._leftovers(list(self.scopes))

    def _segment(self, node: Any) -> Iterator[ReadClaim]:
        number, segment = self.last, node.id
        path = node.x12_map_node.get_path() if node.x12_map_node is not None else ""
        loops = path.split("/")[1:-1]
        found = [(self._problem(number, message, ref, element), about)
                 for message, ref, element, about in self.collector.drain()]
        closed = None
        if segment in ("CLM", "HL", "SE", "GE", "IEA", "ST", "GS", "ISA") and self.claim is not None:
            closed = self.claim
            self._close_claim()
        if segment in _ENVELOPE:
            keep = _ENVELOPE[:_ENVELOPE.index(segment)]
            yield from self._leftovers([k for k in self.scopes if k not in keep])
            self.open[segment] = number
            found += [(p, "") for p in self._version(node, number, segment)]
        elif segment == "HL":
            level = _LEVELS.get(node.get_value("HL03") or "")
            if level:
                deeper = list(_LEVELS.values())[list(_LEVELS.values()).index(level):]
                yield from self._leftovers(deeper)
                for key in [k for k in self.context if _CONTEXT_OF.get(k) in deeper]:
                    del self.context[key]
        elif segment == "CLM":
            self.claim = _Claim(number, dict(self.context))
        in_claim = self.claim is not None and "2300" in loops
        for problem, about in found:
            self._route(problem, about, number, segment, loops, closed if not in_claim or segment == "CLM" else None)
        if in_claim:
            assert self.claim is not None
            self.claim.segments.append(number)
            self._read_claim_segment(node, number, segment, loops)
        else:
            self._read_context_segment(node, number, segment, loops)
        if segment == "SE":
            yield from self._end_transaction()
            self.open.pop("ST", None)
        elif segment in ("GE", "IEA"):
            self.open.pop("GS" if segment == "GE" else "ISA", None)
            yield from self._leftovers(["GS"] if segment == "GE" else ["GS", "ISA"])

    def _route(self, problem: Diagnostic, about: str, number: int, segment: str, loops: list[str],
               closed: _Claim | None) -> None:
        """Give a problem to the claim or the scope it concerns.

        pyx12 notices a missing mandatory segment or loop only when the next one arrives, and
        names the missing one (`about`): a claim's missing DTP*472 is seen at the next CLM, and
        belongs to the claim before it; a missing 2010BB payer loop to every claim of its subscriber.
        """
        about_loops = about.split("/")[1:-1]
        if "2300" in about_loops and closed is not None:
            closed.problems.append(problem)
            return
        level = next((k for k in reversed(about_loops) if k in _LEVELS.values()), None) if "2300" not in about_loops \
            else None
        if level is None and self.claim is not None and "2300" in loops:
            self.claim.problems.append(problem)
            return
        scope = level or next((k for k in reversed(loops) if k in self.scopes), None)
        if segment in ("SE", "ST"):
            scope = "ST"
        elif segment in ("GS", "GE") or scope is None and "GS_LOOP" in loops and "ST_LOOP" not in loops:
            scope = "GS"
        elif scope is None:
            scope = "ST" if "ST_LOOP" in loops else "ISA"
        self.first.setdefault(scope, number)
        self.scopes[scope].append(problem)

    # -- values

    def _read_context_segment(self, node: Any, number: int, segment: str, loops: list[str]) -> None:
        if segment == "PRV" and loops[-1:] == ["2000A"]:
            self.context["billing_taxonomy"] = (number, node.get_value("PRV03") or "")
        elif segment == "SBR":
            self.context["filing_indicator"] = (number, node.get_value("SBR09") or "")
        elif segment == "NM1" and loops[-1:] == ["2010BB"]:
            self.context["payer_id"] = (number, node.get_value("NM109") or "")

    def _read_claim_segment(self, node: Any, number: int, segment: str, loops: list[str]) -> None:
        claim = self.claim
        assert claim is not None
        line = claim.lines[-1] if claim.lines and "2400" in loops else None
        if segment == "LX":
            claim.lines.append(_Line(number, (node.get_value("LX01") or "").strip()))
        elif segment == "SV1" and line is not None:
            line.sv1 = number
        elif segment == "DTP" and line is not None and node.get_value("DTP01") == "472":
            line.dtp = number
            line.dates = self._dates(claim, number, node.get_value("DTP02") or "", node.get_value("DTP03") or "")
        elif segment == "PRV":
            taxonomy = (number, node.get_value("PRV03") or "")
            if line is not None and "2420A" in loops:
                line.taxonomy = taxonomy
            elif "2310B" in loops:
                claim.taxonomy = taxonomy

    def _dates(self, claim: _Claim, number: int, form: str, value: str) -> tuple[date, date] | None:
        where = self.source.origin(number, "DTP03")
        try:
            if form == "D8":
                day = _date(value)
                return day, day
            if form == "RD8":
                first, _, last = value.partition("-")
                span = _date(first), _date(last)
                if span[1] < span[0]:
                    claim.problems += where.error("x12-invalid", f"the range {value} ends before it starts").diagnostics
                    return None
                return span
        except ValueError:
            return None  # pyx12 reports the bad date, located; saying it twice helps no one
        claim.problems += where.error("x12-invalid", f"DTP02 is {form!r}: expected D8 (a date) or RD8 (a range)"
                                      ).diagnostics
        return None

    # -- claims built, finished at their SE

    def _close_claim(self) -> None:
        if self.claim is None:
            return
        claim, self.claim = self.claim, None
        for scope in ("ISA", "GS", *_LEVELS.values()):
            if self.scopes[scope]:
                claim.problems += self.scopes[scope]
                self.used.add(scope)
        self.pending.append(claim)

    def _end_transaction(self) -> Iterator[ReadClaim]:
        claims, self.pending = self.pending, []
        for claim in claims:
            if self.scopes["ST"]:
                claim.problems += self.scopes["ST"]
                self.used.add("ST")
            yield finish(self._draft(claim), self.options)
        yield from self._leftovers(["ST", *_LEVELS.values()])

    def _abandon(self, why: str) -> Iterator[ReadClaim]:
        self._close_claim()
        claims, self.pending = self.pending, []
        for claim in claims:
            draft = self._draft(claim)
            draft.fail(self.source.origin(claim.number, "", "").error("x12-incomplete", f"claim {draft.claim.get('id')!r}"
                                                                      f" is not read: {why}"))
            yield finish(draft, self.options)

    def _draft(self, claim: _Claim) -> Draft:
        source = self.source
        node_value = segment_values(source, claim.number)
        claim_id = node_value(1, 0).strip()
        draft = Draft(f"{source.name}:segment {claim.number}", {"id": claim_id}, problems=list(claim.problems),
                      record="".join(source.segments[n - 1] + source.terminator for n in claim.segments))
        draft.origins["$.id"] = source.origin(claim.number, "CLM01")
        draft.total_charge = _amount(node_value(2, 0))
        self._payer(draft, claim)
        places: dict[str, Origin] = {}  # each line's place of service: SV105, else CLM05-1
        lines: list[dict[str, Any]] = []
        dates: list[date] = []
        types: dict[str, tuple[str, Origin]] = {}
        for index, line in enumerate(claim.lines):
            lines.append(self._line(draft, claim, line, index, types, places, dates))
        if len(places) > 1:
            draft.fail(source.origin(claim.number, "CLM05-1").error(
                "x12-unsupported", "its lines name different places of service (CLM05-1, SV105): "
                + ", ".join(sorted(places)), "the claim schema has one place of service a claim: split the claim"))
        pos, pos_origin = next(iter(places.items()), (node_value(5, 1), source.origin(claim.number, "CLM05-1")))
        draft.claim["place_of_service"] = pos
        draft.origins["$.place_of_service"] = pos_origin
        if dates:
            draft.claim["date_of_service"] = min(dates).isoformat()
            for index, ln in enumerate(lines):
                if ln.get("date_of_service") == draft.claim["date_of_service"]:
                    del ln["date_of_service"]
        if len({kind for kind, _ in types.values()}) > 1:
            draft.fail(source.origin(claim.number).error(
                "x12-unsupported", "its lines were rendered by different kinds of provider (" + "; ".join(
                    f"{code} {kind}" for code, (kind, _) in sorted(types.items())) + ")",
                "the claim schema has one provider type a claim: split the claim"))
        elif types:
            kind, origin = next(iter(types.values()))
            draft.claim["provider_type"] = kind
            draft.origins["$.provider_type"] = origin
        draft.claim["lines"] = lines
        if not claim.lines:
            draft.fail(source.origin(claim.number).error("x12-invalid", "the claim has no service line (LX, SV1)"))
        return draft

    def _payer(self, draft: Draft, claim: _Claim) -> None:
        options, source = self.options, self.source
        if options.payer:
            draft.claim["payer"] = options.payer
            return
        payer_id, indicator = claim.context.get("payer_id"), claim.context.get("filing_indicator")
        found = None
        if options.payer_map is not None:
            for key, section, ref in ((payer_id, "payer_ids", "NM109"), (indicator, "filing_indicators", "SBR09")):
                if key and key[1] and (name := options.payer_map.lookup(section, key[1])):  # type: ignore[arg-type]
                    found = name
                    draft.origins["$.payer"] = source.origin(key[0], ref)
                    break
        if found is not None:
            draft.claim["payer"] = found
            return
        said = [f"{what} {value[1]!r} ({ref}, segment {value[0]})" for value, what, ref in
                ((payer_id, "payer id", "2010BB NM109"), (indicator, "claim filing indicator", "SBR09"))
                if value and value[1]]
        where = source.origin(payer_id[0], "NM109") if payer_id else source.origin(claim.number)
        if options.payer_map is None:
            draft.fail(where.error("x12-unknown-payer", "no payer map to tell which payer " + (" or ".join(said) or
                                   "this claim") + " is", "pass --payer-map MAP.yaml, or --payer NAME for every claim"))
        else:
            draft.fail(where.error("x12-unknown-payer", (" and ".join(said) or "no payer id or filing indicator")
                                   + f" not in the payer map {options.payer_map.source}",
                                   "add it under payer_ids: (or filing_indicators:), or pass --payer NAME"))

    def _line(self, draft: Draft, claim: _Claim, line: _Line, index: int, types: dict[str, tuple[str, Origin]],
              places: dict[str, Origin], dates: list[date]) -> dict[str, Any]:
        source, path = self.source, f"$.lines[{index}]"
        draft.line_keys.append(line.lx)
        out: dict[str, Any] = {}
        if not line.sv1:
            draft.fail(source.origin(line.number).error("x12-invalid", f"line {line.lx} has no SV1 segment"))
            draft.charges.append(None)
            return out
        sv1 = segment_values(source, line.sv1)
        qualifier = sv1(1, 1)
        if qualifier != "HC":
            draft.fail(source.origin(line.sv1, "SV101-1").error(
                "x12-unsupported", f"the code qualifier is {qualifier!r}: expected HC (a CPT or HCPCS code)"))
        out["code"] = sv1(1, 2)
        draft.origins[f"{path}.code"] = source.origin(line.sv1, "SV101-2")
        modifiers = [m for m in (sv1(1, k) for k in range(3, 7)) if m]
        if modifiers:
            out["modifiers"] = modifiers
            draft.origins[f"{path}.modifiers"] = source.origin(line.sv1, "SV101-3")
        charge = _amount(sv1(2, 0))
        draft.charges.append(charge)
        if charge is not None:  # the decision's adjustments then carry amounts
            out["charge"] = charge_number(charge)
            draft.origins[f"{path}.charge"] = source.origin(line.sv1, "SV102")
        if sv1(3, 0) != "UN":
            draft.fail(source.origin(line.sv1, "SV103").error(
                "x12-unsupported", f"the unit of measure is {sv1(3, 0)!r}: expected UN (units); ctsdsl reads units"))
        units = _amount(sv1(4, 0))
        if units is not None and units == units.to_integral_value():
            out["units"] = int(units)
        elif units is not None:
            draft.fail(source.origin(line.sv1, "SV104").error(
                "x12-invalid", f"{sv1(4, 0)} units: expected a whole number of units"))
        draft.origins[f"{path}.units"] = source.origin(line.sv1, "SV104")
        if sv1(5, 0):
            places.setdefault(sv1(5, 0), source.origin(line.sv1, "SV105"))
        else:
            places.setdefault(segment_values(source, claim.number)(5, 1), source.origin(claim.number, "CLM05-1"))
        if line.dates is not None:
            first, last = line.dates
            if first != last:
                draft.fail(source.origin(line.dtp, "DTP03").error(
                    "x12-unsupported", f"the service dates span {(last - first).days + 1} days ({first} to {last})",
                    "the claim schema holds one date a line, and units are counted by day: bill a line per date"))
            out["date_of_service"] = first.isoformat()
            dates.append(first)
            draft.origins[f"{path}.date_of_service"] = source.origin(line.dtp, "DTP03")
            draft.origins.setdefault("$.date_of_service", source.origin(line.dtp, "DTP03"))
        elif not line.dtp:
            draft.fail(source.origin(line.sv1).error("x12-invalid", f"line {line.lx} has no service date (DTP*472)"))
        taxonomy = line.taxonomy or claim.taxonomy or claim.context.get("billing_taxonomy")
        if taxonomy:
            self._provider(draft, taxonomy, types)
        return out

    def _provider(self, draft: Draft, taxonomy: tuple[int, str], types: dict[str, tuple[str, Origin]]) -> None:
        number, code = taxonomy
        if code in types:
            return
        origin = self.source.origin(number, "PRV03")
        additions = dict(self.options.payer_map.taxonomies) if self.options.payer_map else None
        kind = provider_type(code, additions)
        if kind is None:
            draft.fail(origin.error("x12-unknown-taxonomy", f"taxonomy {code} is not one ctsdsl maps to a provider "
                                    "type (therapist, physician, npp)", "if this provider bills as one of them, add "
                                    f"it to the payer map: taxonomies: {{{code}: therapist}} (docs/interop.md)"))
            return
        types[code] = (kind, origin)

    # -- errors

    def _problem(self, number: int, message: str, ref: str, element: Any) -> Diagnostic:
        where = self.source.origin(number, ref.replace("-0", "-") if ref else "")
        return Diagnostic("x12-invalid", f"{where.label}: {message}", where.source_name, where.span, _expected(element),
                          path=where.path, source_text=where.source_text)

    def _version(self, node: Any, number: int, segment: str) -> list[Diagnostic]:
        checks = {"GS": (("GS01", "HC"), ("GS08", IMPLEMENTATION)), "ST": (("ST01", "837"), ("ST03", IMPLEMENTATION))}
        out = []
        for ref, wanted in checks.get(segment, ()):
            value = node.get_value(ref) or ""
            if value != wanted:
                out += self.source.origin(number, ref).error(
                    "x12-unsupported", f"{ref} is {value!r}: ctsdsl reads 837 professional claims, {ref} {wanted}",
                    "an 837I (institutional, 005010X223A2) or another transaction is not read").diagnostics
        return out

    def _leftovers(self, scopes: list[str]) -> Iterator[ReadClaim]:
        """Errors of a scope that no claim carried away (a broken billing provider with no claim under it)."""
        for scope in scopes:
            if self.scopes[scope] and scope not in self.used:
                yield self._standalone(self.scopes[scope], self.first.get(scope, 0))
            self.scopes[scope] = []
            self.first.pop(scope, None)
            self.used.discard(scope)

    def _standalone(self, problems: list[Diagnostic], number: int) -> ReadClaim:
        return ReadClaim(f"{self.source.name}:segment {number}", error=ClaimError(problems))


_CONTEXT_OF = {"billing_taxonomy": "2000A", "filing_indicator": "2000B", "payer_id": "2000B"}


def _date(text: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise ValueError(text)
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text) if text and text.isascii() else None
    except InvalidOperation:
        return None
    return value if value is not None and value.is_finite() else None


def read_interchange(path: str | Path, options: ReadOptions) -> Iterator[ReadClaim]:
    """Every 2300 claim of an 837P interchange, in file order, each a claim or its located error.

    Raises:
        ClaimError: The file cannot be read at all (missing, not text, no ISA).
        UsageError: pyx12 is not installed (the ``x12`` extra).
    """
    context = require("pyx12.x12context", "x12", "an X12 interchange")
    params = require("pyx12.params", "x12", "an X12 interchange")
    source = read_text(Path(path))
    collector = _collector_class()()
    try:
        reader = context.X12ContextReader(params.params(), collector, io.StringIO(source.text))
    except Exception as exc:  # noqa: BLE001 - pyx12 refuses a bad ISA with X12Error; say where, not a traceback
        raise ClaimError(Diagnostic("x12-invalid", f"segment 1 (ISA): {exc}", source.name, Span(1, 1),
                                    "the ISA segment is 106 characters: 16 elements of fixed width")) from None
    yield from _Reader(source, options, reader.iter_segments(), collector).claims()
