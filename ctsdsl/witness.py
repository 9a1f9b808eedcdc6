"""Behavioral diff: claims that two policies decide differently, and which edit moves each.

Two sources of claims. A claim file is replayed as it is. Without one, witness
claims are generated from the two policies themselves: every code they mention
(governed, in a data table, or written in a condition), each alone on an otherwise
clean claim, then varied one thing at a time: the minutes on both sides of each
time threshold (the constants in conditions and the midpoint thresholds of the
codes table's unit minutes: 15/16, 37/38, 52/53 for 30- and 15-minute units), the
units, patients represented and caregivers around each limit (and around each constant a
condition compares them with), one place of service per class
(office 11, facility 22, telehealth 02 and 10, and any other class the policies'
sets tell apart) with each provider type, no modifier and each modifier alone and beside
GP with each provider type, each documentation flag left out, each claim amount the
policies read (found in their conditions, typed by the claim schema) just under, at and
just over each money threshold, alone, with each modifier and with a second line under a
modifier a set lists beside GP, the same lines again the next day, and a same-day line of
each other code a condition names. Then each governed code beside each governed code of another role
(a rule may pair codes by role: group with initial), listed only for a cause or line change no
single-code claim showed. Last, where two edits read two different things about a claim
(`witness_axes`), the plain claims varied in both at once, listed on the same terms. Each variant is dated on
both sides of every date a policy turns on (effective dates, dated values, dated data rows),
so the next-day lines straddle each such date.

Thresholds found by search. A change can move where a threshold trips by cents without
moving any round figure: a claim total summed another way (each line at its own date's
conversion factor, say) changes the KX test only for a spend within cents of the
threshold. So for each code's plain claim, under GP and under each modifier a set lists
beside it, alone and with next-day lines, and each claim amount the policies read, the
amount where each policy's decision turns is found by bisection to the cent, and the
claim is compared just under and at each.

Dates. Two policies with overlapping effective periods decide each witness on the
same date, inside the overlap. Two policies for different periods (Medicare 2024
against 2025) cannot: a policy has no conversion factor outside its own year, and
the evaluator does not refuse such a date but fails on the missing value. There the
witness is the same claim on the same calendar day of each policy's year (2024-03-09
against 2025-03-09): the question a reviewer asks is "what happens to this claim next
year". Periods less than a year apart are compared the same number of days into each.
A replayed claim whose date lies outside a policy's period is moved to the same calendar
day of that period's year.

Each witness names every cause of each changed line: the rules whose findings differ, with
the parameters and data rows they read whose values differ (from the evaluator's trace); a
rule reducing or denying on both sides that changed or read other values, when units or
status differ; the fee, when a line priced on both sides has another amount and the fee or
what it read changed; or the `governs` list when a code comes into or out of scope. Witnesses are deduplicated by (cause, line outcome
change), keeping the simplest claim, and their number is bounded.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from functools import partial
from dataclasses import dataclass, field
from decimal import Decimal

from . import nodes as n
from .claims import line_integer_bounds
from .decision import Decision, money_text
from .diff_structure import Change
from .errors import CtsdslError
from .evaluator import Evaluator
from .loader import LoadedPolicy
from .witness_axes import Variant, combined, edit_axes, interacting

MAX_WITNESSES = 200  # shown and kept per policy pair, after deduplication
MAX_DATE_PAIRS = 12
MAX_CODES = 40  # main codes billed: governed ones first, then other codes of the data tables
MAX_CLAIMS = 40_000  # generated claims per policy pair (about ten seconds): beyond it, `truncated`
MAX_TURN_SEARCHES = 6_000  # bisections per policy pair, about 20 decisions each: beyond it, `truncated`
MAX_PAIRED_VALUES = 4  # values of each axis combined with another's, where two edits meet
MAX_PAIRED_CLAIMS = 8_000  # claims varying two axes, per policy pair: beyond it, `truncated`
_FIXED_POS = ("11", "22", "02", "10")  # office, facility, telehealth (other than home, home)
PROVIDER_TYPES = ("therapist", "physician", "npp")
DOC_FLAGS = ("plan_of_care_includes_cts", "consent", "reason_without_patient", "need_for_occurrence",
             "training_described", "caregiver_response", "impact_on_goals", "group_details")


@dataclass(frozen=True)
class Cause:
    """What moves a witness: an item (`rule x`, `fee y`, `governs`) and the values it read that differ."""

    item: str
    edit: str = ""  # the item's own structural change: "changed (when, title)", "added"
    reads: tuple[tuple[str, str, str], ...] = ()  # (name read, old value, new value)
    refs: frozenset[str] = field(default=frozenset(), compare=False)
    # Each read's kind (param, table, let); a read whose name is also a rule's or fee's is shown with
    # it ("param kx_threshold_ot"), so that rule kx_threshold_ot reading it does not read as itself.
    kinds: tuple[str, ...] = field(default=(), compare=False)
    qualified: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def key(self) -> tuple:
        return (self.item, self.edit, tuple(r[0] for r in self.reads))

    def text(self) -> str:
        parts = [f"{self.item} {self.edit}".strip()]
        parts += [f"{kind + ' ' if name in self.qualified else ''}{name} {old} -> {new}"
                  for (name, old, new), kind in zip(self.reads, self._kinds())]
        return "; ".join(parts)

    def _kinds(self) -> tuple[str, ...]:
        return self.kinds if len(self.kinds) == len(self.reads) else ("",) * len(self.reads)

    def to_dict(self) -> dict:
        return {"item": self.item, "edit": self.edit,
                "reads": [{"name": r[0], "old": r[1], "new": r[2], **({"kind": kind} if kind else {})}
                          for r, kind in zip(self.reads, self._kinds())]}


@dataclass(frozen=True)
class LineChange:
    index: int
    code: str
    old: dict  # status, units, amount, findings (rule ids)
    new: dict

    def signature(self) -> tuple:
        """What the change does to the line, coarse enough that one witness stands for many claims."""
        scope = (self.old["status"] == "out_of_scope", self.new["status"] == "out_of_scope")
        if scope[0] != scope[1]:
            return (self.code, "scope", scope)
        if (self.old["status"], self.old["units"], self.old["findings"]) == \
                (self.new["status"], self.new["units"], self.new["findings"]):
            return (self.code, "amount")
        if self.old["status"] == self.new["status"]:  # same status: which rules and whether money moved
            return (self.code, "kept", self.old["units"] != self.new["units"], self.old["amount"] != self.new["amount"],
                    tuple(sorted(set(self.old["findings"]) ^ set(self.new["findings"]))))
        return (self.code, self.old["status"], self.new["status"], self.old["units"], self.new["units"],
                self.old["amount"] != self.new["amount"],
                tuple(sorted(set(self.old["findings"]) ^ set(self.new["findings"]))))

    def to_dict(self) -> dict:
        return {"index": self.index, "code": self.code, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Witness:
    """A claim decided differently: the claim as each side saw it, its changed lines, and why."""

    label: str
    claim: dict
    old_date: str
    new_date: str
    lines: tuple[LineChange, ...]
    causes: tuple[Cause, ...]

    def key(self) -> tuple:
        # Distinct line changes only: two lines of one code changed alike are the same story as one.
        return (tuple(c.key for c in self.causes), tuple(sorted(set(l.signature() for l in self.lines), key=repr)))

    def to_dict(self) -> dict:
        return {"label": self.label, "claim": self.claim, "old_date": self.old_date, "new_date": self.new_date,
                "lines": [l.to_dict() for l in self.lines], "causes": [c.to_dict() for c in self.causes]}


@dataclass
class Behavior:
    source: str  # "generated" or the claim file
    compared: int = 0
    witnesses: list[Witness] = field(default_factory=list)
    differing: int = 0  # claims that differ, before deduplication
    truncated: bool = False
    skipped: int = 0  # replayed claims of another payer than either policy's
    alike: dict = field(default_factory=dict)  # witness key -> how many generated claims it stands for


# ---------------------------------------------------------------- dates


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _shift(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _window(p: LoadedPolicy) -> tuple[dt.date, dt.date]:
    start = _date(p.header.effective_from)
    end = _date(p.header.effective_to) if p.header.effective_to else _shift(start, 1) - dt.timedelta(days=1)
    return start, end


def _turning_dates(p: LoadedPolicy) -> set[dt.date]:
    """Every day the policy's behavior may turn on, and the day before each."""
    days: set[str] = {p.header.effective_from}
    ends: set[str] = {p.header.effective_to} if p.header.effective_to else set()
    for param in p.policy.of_kind(n.Param):
        for d in param.dated:
            days.add(d.start)
            if d.end:
                ends.add(d.end)
    for table in p.checked.tables.values():
        if table.dated_by:
            days.update(s for versions in table.rows.values() for s, _ in versions)
    days.update(l.value for l in _literals([p]) if l.kind == "date")  # a date a condition compares against
    out = set()
    for text in days:
        try:
            day = _date(text)
        except ValueError:
            continue
        out |= {day, day - dt.timedelta(days=1)}
    for text in ends:  # the last day of a period, and the first day after it
        try:
            day = _date(text)
        except ValueError:
            continue
        out |= {day, day + dt.timedelta(days=1)}
    return out


def year_offset(old: LoadedPolicy, new: LoadedPolicy) -> int:
    """0 when the effective periods overlap; else the whole years from the old period to the new."""
    (a1, b1), (a2, b2) = _window(old), _window(new)
    if a1 <= b2 and a2 <= b1:
        return 0
    return a2.year - a1.year


def date_pairs(old: LoadedPolicy, new: LoadedPolicy) -> list[tuple[str, str]]:
    """(old date, new date) for each turning day, inside each policy's period; see the module docstring."""
    (a1, b1), (a2, b2) = _window(old), _window(new)
    years = year_offset(old, new)
    pairs: set[tuple[str, str]] = set()
    for day in _turning_dates(old) | _turning_dates(new):
        for o in (day, _shift(day, -years)):
            w = _shift(o, years)
            if a1 <= o <= b1 and a2 <= w <= b2:
                pairs.add((o.isoformat(), w.isoformat()))
    if not pairs and not (a1 <= b2 and a2 <= b1):
        # Periods apart by less than a year (a first half against a second): the same offset into each.
        for o in sorted(d for d in _turning_dates(old) if a1 <= d <= b1):
            w = a2 + (o - a1)
            if w <= b2:
                pairs.add((o.isoformat(), w.isoformat()))
    ordered = sorted(pairs)
    if len(ordered) > MAX_DATE_PAIRS:  # keep the period's first day and an even spread of the rest
        step = len(ordered) / MAX_DATE_PAIRS
        ordered = [ordered[int(i * step)] for i in range(MAX_DATE_PAIRS)]
    return ordered


def moved(day: str, policy: LoadedPolicy, years: int) -> str:
    """A replayed claim's date moved to the same calendar day in the policy's period, when the two
    periods do not overlap (`years` non-zero) and the date lies outside it; see the module docstring."""
    start, end = _window(policy)
    try:
        d = _date(day)
    except ValueError:
        return day
    if start <= d <= end or not years:
        return day
    for year in (start.year, end.year):
        candidate = _shift(d, year - d.year)
        if start <= candidate <= end:
            return candidate.isoformat()
    return day


# ---------------------------------------------------------------- what the policies mention


def _literals(policies: list[LoadedPolicy]):
    for p in policies:
        for node in p.policy.walk():
            if isinstance(node, n.Literal):
                yield node


def _set_params(policies: list[LoadedPolicy]) -> list[frozenset]:
    sets = []
    for p in policies:
        for param in p.policy.of_kind(n.Param):
            for value in [param.value, *(d.value for d in param.dated)]:
                if isinstance(value, n.SetLiteral):
                    sets.append(frozenset(i.value for i in value.items))
    return sets


def _modifier_literals(policies: list[LoadedPolicy]) -> list[str]:
    found: dict[object, None] = {}  # literals of any kind, in order; only the strings are returned
    for p in policies:
        for param in p.policy.of_kind(n.Param):
            if "modifier" in param.name and isinstance(param.value, n.SetLiteral):
                found.update((i.value, None) for i in param.value.items)
        for node in p.policy.walk():
            if (isinstance(node, n.Binary) and node.op in ("in", "not in") and isinstance(node.left, n.Literal)
                    and isinstance(node.right, n.Attribute) and node.right.name == "modifiers"):
                found[node.left.value] = None
    return [m for m in found if isinstance(m, str)]


def _codes(policies: list[LoadedPolicy]) -> tuple[list[str], list[str]]:
    """(codes to bill as the main line, other codes a condition names, billed beside one)."""
    governed: dict[str, None] = {}
    for p in policies:
        governed.update((c, None) for c in p.header.governs)
        for table in p.checked.tables.values():
            governed.update((k, None) for k in table.rows if len(k) == 5 and k.isalnum())
    named = {str(l.value) for l in _literals(policies) if l.kind == "string" and len(str(l.value)) == 5
             and str(l.value).isalnum() and str(l.value).upper() == str(l.value)}
    return list(governed)[:MAX_CODES], sorted(named - set(governed))[:MAX_CODES]


def _code_row(policies: list[LoadedPolicy], code: str) -> dict:
    for p in reversed(policies):
        table = p.checked.tables.get("codes")
        if table is not None and code in table.rows:
            return table.rows[code][0][1]
    return {}


def _compared_cells(policies: list[LoadedPolicy], code: str) -> set[int]:
    """The whole numbers in `code`'s table rows that a condition compares with something
    (`mue_units > mue[line.code].max_units`): each a limit a witness bills at and one past."""
    columns: set[tuple[str, str]] = set()
    for p in policies:
        tables = set(p.checked.tables)
        for node in p.policy.walk():
            if isinstance(node, n.Binary) and node.op in _COMPARISONS:
                for side in (node.left, node.right):
                    for a in side.walk():
                        if (isinstance(a, n.Attribute) and isinstance(a.obj, n.Index)
                                and isinstance(a.obj.obj, n.Name) and a.obj.obj.name in tables):
                            columns.add((a.obj.obj.name, a.name))
    found = set()
    for p in policies:
        for table, column in columns:
            data = p.checked.tables.get(table)
            for _, row in (data.rows.get(code, []) if data else []):
                value = row.get(column)
                if isinstance(value, int) and not isinstance(value, bool):
                    found.add(value)
    return found


def _minutes(policies: list[LoadedPolicy], row: dict) -> list[int]:
    found = {0}
    unit = row.get("unit_minutes")
    if isinstance(unit, int):  # a timed code: the midpoint thresholds of its units and its add-on's
        base, addon = unit, 15
        for p in policies:
            table = p.checked.tables.get("codes")
            if table:
                for versions in table.rows.values():
                    r = versions[0][1]
                    if r.get("primary") and isinstance(r.get("unit_minutes"), int):
                        addon = r["unit_minutes"]
        found |= {base // 2, base // 2 + 1, base + addon // 2, base + addon // 2 + 1,
                  base + addon + addon // 2, base + addon + addon // 2 + 1}
    found |= {v + d for l in _literals(policies) if l.kind == "int" and 2 < l.value <= 1440
              for v in [l.value] for d in (-1, 0, 1)}
    return sorted(m for m in found if 0 <= m <= 1440)


_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def _int_probes(policies: list[LoadedPolicy]) -> dict[str, list[int]]:
    """For each integer line field a condition compares with a constant (`line.caregivers > 4`, or a
    named expression or int parameter standing for either side), the constant less one, itself and plus
    one, within the schema's bounds: a rule on five or more caregivers needs a claim with five."""
    bounds = line_integer_bounds()
    found: dict[str, set[int]] = {name: set() for name in bounds}
    for p in policies:
        lets = {let.name: let.expr for let in p.policy.of_kind(n.Let)}
        params: dict[str, list[int]] = {}
        for param in p.policy.of_kind(n.Param):
            values = [v for v in [param.value, *(d.value for d in param.dated)]
                      if isinstance(v, n.Literal) and v.kind == "int"]
            params[param.name] = [int(v.value) for v in values if isinstance(v.value, int)]

        def line_field(e: n.Node) -> str | None:
            if isinstance(e, n.Name) and e.name in lets:
                e = lets[e.name]
            if isinstance(e, n.Attribute) and isinstance(e.obj, n.Name) and e.obj.name != "claim":
                return e.name if e.name in bounds else None
            return None

        def constants(e: n.Node) -> list[int]:
            if isinstance(e, n.Name) and e.name in lets:
                e = lets[e.name]
            if isinstance(e, n.Literal) and e.kind == "int" and isinstance(e.value, int):
                return [e.value]
            return params.get(e.name, []) if isinstance(e, n.Name) else []

        for node in p.policy.walk():
            if isinstance(node, n.Binary) and node.op in _COMPARISONS:
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    name = line_field(side)
                    if name is not None:
                        found[name] |= {c + d for c in constants(other) for d in (-1, 0, 1)}
    return {name: sorted(v for v in values if bounds[name][0] <= v <= bounds[name][1])
            for name, values in found.items()}


def _pos_classes(policies: list[LoadedPolicy]) -> list[str]:
    """One place of service per class the policies' sets tell apart, starting with the usual ones."""
    sets = _set_params(policies)
    pool = list(_FIXED_POS) + sorted({v for s in sets for v in s if isinstance(v, str) and len(v) == 2
                                      and v.isdigit()} - set(_FIXED_POS))
    seen, out = set(), []
    for pos in pool:
        signature = tuple(pos in s for s in sets)
        if signature not in seen or pos in _FIXED_POS:
            seen.add(signature)
            out.append(pos)
    return out


def _amount_fields(policies: list[LoadedPolicy]) -> list[str]:
    """The claim's number fields the policies read (`claim.therapy_spend_to_date`, ...), in schema order:
    each is set either side of the money thresholds, so a new field is varied without a change here."""
    from .fields import CLAIM, NUMBER, catalogue
    read = {node.name for p in policies for node in p.policy.walk()
            if isinstance(node, n.Attribute) and isinstance(node.obj, n.Name) and node.obj.name == "claim"}
    return [name for name, f in catalogue()[CLAIM].items() if f.type == NUMBER and name in read]


def _money_thresholds(policies: list[LoadedPolicy]) -> list[Decimal]:
    found = {l.value for l in _literals(policies) if l.kind == "money" and l.value >= 100}
    # Just under, at and just over: "spend + this claim > threshold" turns below it, "spend > threshold" above.
    return sorted({v + d for v in found for d in (Decimal(-1), Decimal(0), Decimal(1))} | {Decimal(0)})


# ---------------------------------------------------------------- generating claims


def _base(code: str, row: dict, date: str) -> dict:
    line: dict = {"code": code, "units": 1, "modifiers": ["GP"]}
    lines = [line]
    if row.get("primary"):
        lines = [{"code": row["primary"], "units": 1, "minutes": 60, "modifiers": ["GP"]}, line]
        line["units"] = 2
    elif isinstance(row.get("unit_minutes"), int):
        line["minutes"] = row["unit_minutes"]
    elif not row:  # a code no codes table describes: a typical session, so time limits pass by default
        line["minutes"] = 30
    if row.get("role") == "group":
        line["patients_represented"] = 2
    return {"id": f"witness-{code}", "payer": "", "date_of_service": date, "place_of_service": "11",
            "provider_type": "therapist", "documentation": {flag: True for flag in DOC_FLAGS}, "lines": lines}


def variants(policies: list[LoadedPolicy], code: str, others: list[str]):
    """Each `Variant` of a base claim for one main code: the base first, then one thing varied at a time.

    Each change is a function that edits a fresh copy of the base claim in place; its axis and the
    fields it writes say which variants `axis_pairs` may combine.
    """
    row = _code_row(policies, code)
    main = -1
    timed = 0 if row.get("primary") else -1

    def line_field(c: dict, index: int, name: str, value) -> None:
        c["lines"][index][name] = value

    yield Variant(code, lambda c: None)
    for minutes in _minutes(policies, _code_row(policies, row["primary"]) if row.get("primary") else row):
        yield Variant(f"{code}, {minutes} minutes", partial(line_field, index=timed, name="minutes", value=minutes),
                      "minutes", frozenset({"minutes"}))
    limits = _compared_cells(policies, code)
    probes = _int_probes(policies)
    for units in sorted({1, 2, 3} | {v + d for v in limits for d in (0, 1) if 0 < v + d <= 99} | set(probes["units"])):
        yield Variant(f"{code}, {units} unit{'s' if units != 1 else ''}",
                      partial(line_field, index=main, name="units", value=units), "units", frozenset({"units"}))
    # An add-on's units past what the base session supports: also with a session long enough for them,
    # so a condition on the units billed is seen where the time rule would not reduce them.
    primary = _code_row(policies, row["primary"]) if row.get("primary") else {}
    if isinstance(primary.get("unit_minutes"), int) and isinstance(row.get("unit_minutes"), int):
        for units in probes["units"]:
            minutes = primary["unit_minutes"] + units * row["unit_minutes"]
            if units > 2 and minutes <= 1440:
                yield Variant(f"{code}, {units} units, {minutes} session minutes",
                              partial(_units_and_minutes, units=units, minutes=minutes, main=main, timed=timed),
                              "units", frozenset({"units", "minutes"}))
    for count in sorted({1, 2, 3} | set(probes["patients_represented"])):
        yield Variant(f"{code}, {_patients(count)}", partial(line_field, index=main, name="patients_represented",
                                                              value=count), "patients",
                      frozenset({"patients_represented"}))
    for count in sorted({2, 3} | set(probes["caregivers"]) - {1}):
        yield Variant(f"{code}, {count} caregivers", partial(line_field, index=main, name="caregivers", value=count),
                      "caregivers", frozenset({"caregivers"}))
    for pos in _pos_classes(policies):
        for provider in PROVIDER_TYPES:
            yield Variant(f"{code}, POS {pos}, {provider}",
                          lambda c, p=pos, t=provider: c.update(place_of_service=p, provider_type=t),
                          "place", frozenset({"place_of_service", "provider_type"}))
    mods = _modifier_literals(policies)
    # Modifier rules may hold for one kind of provider only (a therapist's discipline modifier), so
    # each modifier shape goes with each provider type. The base claim is a therapist's: its own
    # shapes leave the provider alone, so that they combine with a place of service and provider.
    for provider in PROVIDER_TYPES:
        who = "" if provider == "therapist" else f", {provider}"
        writes = frozenset({"modifiers"} | ({"provider_type"} if who else set()))
        shapes: list[tuple[str, list[str]]] = [("no modifiers", [])]
        for m in mods:
            shapes += [(f"modifier {m} alone", [m])] + ([(f"modifiers GP {m}", ["GP", m])] if m != "GP" else [])
        for label, shape in shapes:
            yield Variant(f"{code}{who}, {label}", partial(_with_modifiers, modifiers=shape,
                                                           provider=provider if who else None),
                          "modifiers", writes)
    for flag in DOC_FLAGS:
        yield Variant(f"{code}, {flag} not documented", (lambda c, f=flag: c["documentation"].__setitem__(f, False)),
                      "documentation", frozenset({f"documentation.{flag}"}))
    yield Variant(f"{code}, patient present", partial(line_field, index=main, name="patient_present", value=True),
                  "presence", frozenset({"patient_present"}))
    # A money threshold may be tracked per modifier (KX by discipline): each amount the policies read, at
    # each threshold, with each modifier alone, and with the session billed again the next day under another
    # modifier (a second discipline's session: on the same day, a date-of-service MUE would deny both).
    amounts = _amount_fields(policies)
    for name, spend, modifier in itertools.product(amounts, _money_thresholds(policies), [None, *mods]):
        what = name.replace("_", " ").removesuffix(" to date")
        yield Variant(f"{code}, {what} ${spend}" + (f", modifier {modifier}" if modifier else ""),
                      partial(_spend, field=name, spend=spend, modifier=modifier),
                      "amount", frozenset({name} | ({"modifiers"} if modifier else set())))
    siblings = _siblings_of_gp(policies)
    for name, spend, m in itertools.product(amounts, _money_thresholds(policies), siblings):
        yield Variant(f"{code}, {name.replace('_', ' ').removesuffix(' to date')} ${spend}, the session again the "
                      f"next day with {m}", partial(_priced_session_next_day, field=name, spend=spend, modifier=m))
    yield Variant(f"{code}, APM qualifying", (lambda c: c.__setitem__("apm_qualifying", True)), "apm",
                  frozenset({"apm_qualifying"}))
    yield Variant(f"{code}, the same lines again the next day", _again_next_day)
    for other in others:
        yield Variant(f"{code} with {other}", (
            lambda c, o=other: c["lines"].append({"code": o, "units": 1, "modifiers": ["GP"]})))


def _units_and_minutes(claim: dict, units: int, minutes: int, main: int, timed: int) -> None:
    claim["lines"][main]["units"] = units
    claim["lines"][timed]["minutes"] = minutes


def _spend(claim: dict, field: str, spend: Decimal, modifier: str | None) -> None:
    claim[field] = int(spend) if spend == int(spend) else float(spend)
    if modifier:
        _with_modifiers(claim, [modifier])


def _with_modifiers(claim: dict, modifiers: list[str], provider: str | None = None) -> None:
    if provider is not None:
        claim["provider_type"] = provider
    for line in claim["lines"]:
        line["modifiers"] = list(modifiers)


def _patients(count: int) -> str:
    return f"{count} patient{'s' if count != 1 else ''} represented"


def _with_patients(label: str, code: str, base: dict) -> str:
    """The label naming the main line's patients represented when the base claim sets them (a group
    code's two), so that a claim's label describes it whole; a label that already says them is kept."""
    count = base["lines"][-1].get("patients_represented", 1)  # the main line: last of the base claim
    if count == 1 or "represented" in label or not label.startswith(code):
        return label
    return f"{code} ({_patients(count)})" + label[len(code):]


def role_pairs(policies: list[LoadedPolicy], code: str):
    """(label, change to a base claim): each governed code of another role than `code`'s on the same
    day, as it is billed alone (an add-on with its primary). A rule may pair codes by role, not by
    name (a group code billed the same day as an initial one: `codes[o.code].role == "initial"`);
    codes of the main code's own role add nothing a role condition tells apart."""
    row = _code_row(policies, code)
    for other in _codes(policies)[0]:
        other_row = _code_row(policies, other)
        if other != code and other_row.get("role") and other_row.get("role") != row.get("role") \
                and other != row.get("primary") and other_row.get("primary") != code:
            yield Variant(f"{code} with {other} the same day", (
                lambda c, o=other, r=other_row: c["lines"].extend(_base(o, r, c["date_of_service"])["lines"])))


def _siblings_of_gp(policies: list[LoadedPolicy]) -> list[str]:
    """The alternatives to the base claim's GP: the modifiers a set parameter lists beside it (GO, GN)."""
    return [m for m in _modifier_literals(policies)
            if m != "GP" and any({"GP", m} <= s for s in _set_params(policies))]


def _priced_session_next_day(claim: dict, field: str, spend: Decimal, modifier: str) -> None:
    """A spend toward a threshold, and the claim's session again the next day under another modifier."""
    claim[field] = int(spend) if spend == int(spend) else float(spend)
    _again_next_day(claim, [modifier])


def _again_next_day(claim: dict, modifiers: list[str] | None = None) -> None:
    """The claim's lines billed again, dated the day after (under other `modifiers`, if given): on the eve
    of a turning date they straddle it."""
    day = (_date(claim["date_of_service"]) + dt.timedelta(days=1)).isoformat()
    claim["lines"] += [{**line, "date_of_service": day, **({"modifiers": modifiers} if modifiers else {})}
                       for line in claim["lines"]]


def _inside(claim: dict, policy: LoadedPolicy) -> bool:
    """Whether every line's date lies in the policy's period: a line beyond it belongs to the next policy."""
    start, end = _window(policy)
    return all(start <= _date(line.get("date_of_service", claim["date_of_service"])) <= end
               for line in claim["lines"])


def _comparable(claim: dict, new_date: str, old: LoadedPolicy, new: LoadedPolicy) -> bool:
    return _inside(claim, old) and _inside(_redated(claim, new_date), new)


def generate(old: LoadedPolicy, new: LoadedPolicy):
    """Every witness candidate: (label, claim on the old date, the new date, whether it pairs codes).

    The pairs of codes by role come after every code of a date has been billed alone, so that a pair
    whose every change those single claims already show can be told apart (see `witnesses`)."""
    policies = [old, new]
    codes, others = _codes(policies)
    payer = new.header.payer or old.header.payer
    for old_date, new_date in date_pairs(old, new):
        for paired in (False, True):
            for code in codes:
                row = _code_row(policies, code)
                shapes = role_pairs(policies, code) if paired else variants(policies, code, others)
                for k, (label, fn, *_) in enumerate(shapes):
                    claim = _base(code, row, old_date)
                    # Unique, so a file of them replays.
                    claim.update(payer=payer, id=f"witness-{code}-{old_date}-{'pair-' if paired else ''}{k}")
                    label = _with_patients(label, code, claim)
                    fn(claim)
                    if not _comparable(claim, new_date, old, new):  # a next-day line past a period's end
                        continue
                    yield (f"{label}, {old_date}" + (f" / {new_date}" if new_date != old_date else ""), claim,
                           new_date, paired)


def _outcome(evaluator: Evaluator, claim: dict) -> tuple:
    """What a decision says of each line, as witnesses compare it; an error is an outcome too."""
    decision, error = _decide(evaluator, claim)
    return tuple(tuple(sorted(_line_view(decision, i, error).items(), key=lambda kv: kv[0]))
                 for i in range(len(claim["lines"])))


def turning_amount(evaluator: Evaluator, claim: dict, field: str, top: Decimal) -> Decimal | None:
    """The least amount in `field`, to the cent and up to `top`, at which the decision differs from
    the one at $0, found by bisection; None if none does. Bisection finds one turn of several."""
    def at(cents: int) -> tuple:
        return _outcome(evaluator, {**claim, field: float(Decimal(cents) / 100)})

    low, high = 0, int(top * 100)
    at_zero = at(low)
    if at(high) == at_zero:
        return None
    while high - low > 1:  # at(low) == at_zero != at(high)
        middle = (low + high) // 2
        if at(middle) == at_zero:
            low = middle
        else:
            high = middle
    return Decimal(high) / 100


def at_turning_amounts(comparer: Comparer, old: LoadedPolicy, new: LoadedPolicy, result: Behavior):
    """Witness candidates at the amounts where either policy's decision turns (see the module docstring).

    At most MAX_TURN_SEARCHES bisections: past them, `result.truncated` says the search stopped short.
    """
    policies = [old, new]
    fields = _amount_fields(policies)
    if not fields:
        return
    top = 2 * max(_money_thresholds(policies) + [Decimal(5000)])
    codes, _ = _codes(policies)
    payer = new.header.payer or old.header.payer
    modifiers = ["GP", *_siblings_of_gp(policies)]  # a threshold may be the discipline's own (KX)
    shapes = list(itertools.product(modifiers, (False, True)))
    searches = 0
    for old_date, new_date in date_pairs(old, new):
        for code in codes:
            for modifier, next_day in shapes:
                claim = _base(code, _code_row(policies, code), old_date)
                claim.update(payer=payer, id=f"witness-{code}-{old_date}-turn")
                for line in claim["lines"]:
                    line["modifiers"] = [modifier]
                variant = (f", modifier {modifier}" if modifier != "GP" else "") + \
                    (", the same lines again the next day" if next_day else "")
                if next_day:
                    _again_next_day(claim)
                    if not _comparable(claim, new_date, old, new):
                        continue
                new_claim = claim if new_date == old_date else _redated(claim, new_date)
                for name in fields:
                    searches += 2
                    if searches > MAX_TURN_SEARCHES:
                        result.truncated = True
                        return
                    turns = {turning_amount(comparer.old_ev, claim, name, top),
                             turning_amount(comparer.new_ev, new_claim, name, top)} - {None}
                    what = name.replace("_", " ").removesuffix(" to date")
                    for amount in sorted({a + d for a in turns if a is not None for d in (Decimal("-0.01"), 0)}):
                        yield (_with_patients(f"{code}{variant}", code, claim)
                               + f", {what} ${amount} (where a decision turns), {old_date}"
                               + (f" / {new_date}" if new_date != old_date else "")), \
                            {**claim, name: float(amount)}, new_date


def axis_pairs(comparer: Comparer, old: LoadedPolicy, new: LoadedPolicy, changes: list[Change], result: Behavior):
    """Witness candidates that vary two axes at once, where two edits read one each (`witness_axes`):
    each code's plain claim on the first pair of dates, with the values `combined` picks.

    At most MAX_PAIRED_CLAIMS: past them, `result.truncated` says the search stopped short.
    """
    policies = [old, new]
    pairs = interacting(edit_axes(policies, changes, _amount_fields(policies)))
    dates = date_pairs(old, new)
    if not pairs or not dates:
        return
    old_date, new_date = dates[0]
    codes, others = _codes(policies)
    payer = new.header.payer or old.header.payer
    made = 0
    for code in codes:
        row = _code_row(policies, code)

        def claim_of(*shapes: Variant, code: str = code, row: dict = row) -> dict:
            claim = _base(code, row, old_date)
            claim.update(payer=payer, id=f"witness-{code}-{old_date}-axes")
            for shape in shapes:
                shape.change(claim)
            return claim

        def outcomes(*shapes: Variant) -> tuple | None:
            claim = claim_of(*shapes)
            if not _comparable(claim, new_date, old, new):
                return None
            new_claim = claim if new_date == old_date else _redated(claim, new_date)
            return _outcome(comparer.old_ev, claim), _outcome(comparer.new_ev, new_claim)

        for a, b in combined(pairs, variants(policies, code, others), outcomes, MAX_PAIRED_VALUES):
            made += 1
            if made > MAX_PAIRED_CLAIMS:
                result.truncated = True
                return
            claim = claim_of(a, b)
            label = _with_patients(f"{a.label}, {b.label.removeprefix(code).lstrip(', ')}", code, claim)
            yield f"{label}, {old_date}" + (f" / {new_date}" if new_date != old_date else ""), claim, new_date


# ---------------------------------------------------------------- comparing decisions


def _line_view(decision: Decision | None, index: int, error: str) -> dict:
    if decision is None:
        return {"status": "error", "units": None, "amount": None, "findings": [], "error": error}
    line = decision.lines[index]
    return {"status": line.status, "units": line.units_allowed, "amount": money_text(line.allowed_amount),
            "findings": sorted({f.rule for f in decision.findings if f.line in (index, None)
                                and (f.line == index or line.status != "out_of_scope")})}


def _redated(claim: dict, date: str) -> dict:
    """The claim moved to `date`, with any line's own date moved by the same whole years."""
    years = _date(date).year - _date(claim["date_of_service"]).year
    lines = [{**line, "date_of_service": _shift(_date(line["date_of_service"]), years).isoformat()}
             if line.get("date_of_service") else line for line in claim["lines"]]
    return {**claim, "date_of_service": date, "lines": lines}


def _decide(evaluator: Evaluator, claim: dict) -> tuple[Decision | None, str]:
    try:
        return evaluator.evaluate(claim), ""
    except CtsdslError as exc:
        return None, exc.diagnostics[0].message if exc.diagnostics else str(exc)


class Comparer:
    """Both policies compiled once; `compare` decides a claim with each and explains any difference."""

    def __init__(self, old: LoadedPolicy, new: LoadedPolicy, changes: list[Change]):
        self.old, self.new = old, new
        self.old_ev, self.new_ev = old.evaluator(), new.evaluator()
        # By kind and name: a parameter's change is not its namesake rule's (kx_threshold_ot is both).
        self.edits = {(c.kind, c.name): c for c in changes if c.kind in ("rule", "fee")}
        self.read_kinds = {c.name: c.kind for c in changes if c.kind in ("param", "table", "let")}
        for p in (old, new):
            self.read_kinds.update({i.name: "param" if isinstance(i, n.Param) else "table"
                                    for i in p.policy.items if isinstance(i, (n.Param, n.Table))})
        self.names = set(self.read_kinds)
        self.item_ids = {i.id for p in (old, new) for i in p.policy.items if isinstance(i, (n.Rule, n.Fee))}
        self.fees = list(dict.fromkeys(f.id for p in (new, old) for f in p.policy.of_kind(n.Fee)))
        # Each side's rule outcomes (deny, reduce, warn, info), to tell which rules can move units or status.
        self.kinds = tuple({r.id: r.outcome.kind if r.outcome else None for r in p.policy.of_kind(n.Rule)}
                           for p in (old, new))

    def compare(self, label: str, claim: dict, new_date: str, explain: bool = True) -> Witness | None:
        """The witness if the two policies decide `claim` differently; `explain` traces both to name causes."""
        new_claim = claim if new_date == claim["date_of_service"] else _redated(claim, new_date)
        a, err_a = _decide(self.old_ev, claim)
        b, err_b = _decide(self.new_ev, new_claim)
        if a is None and b is None:
            return None
        changed = []
        for i, line in enumerate(claim["lines"]):
            va, vb = _line_view(a, i, err_a), _line_view(b, i, err_b)
            if va != vb:
                changed.append(LineChange(i, line["code"], va, vb))
        if not changed:
            return None
        causes = self._causes(claim, new_claim, changed, a, b) if explain else ()
        return Witness(label, claim, claim["date_of_service"], new_date, tuple(changed), causes)

    def _reads(self, evaluator: Evaluator, claim: dict) -> dict[tuple[str, int | None], dict[str, list]]:
        """Each rule's (and line's) reads: every value read under each label, in order. One label may
        read several values: `at(o.date_of_service, conversion_factor)` over lines of two dates reads
        the factor of each, and only the second may differ."""
        try:
            _, evaluations = evaluator.trace(claim)
        except CtsdslError:
            return {}
        out: dict = {}
        for e in evaluations:
            reads = out.setdefault((e.rule, e.line), {})
            for label, value in e.reads:
                reads.setdefault(label, []).append(value)
        return out

    def _causes(self, claim, new_claim, changed: list[LineChange], a, b) -> tuple[Cause, ...]:
        causes: dict[tuple, Cause] = {}
        reads_a = reads_b = None
        for lc in changed:
            if lc.old["status"] == "error" or lc.new["status"] == "error":
                side = "old" if lc.old["status"] == "error" else "new"
                error = (lc.old if side == "old" else lc.new).get("error", "")
                cause = Cause(f"evaluation error ({side} policy)", error)
                causes.setdefault(cause.key, cause)
                continue
            if (lc.old["status"] == "out_of_scope") != (lc.new["status"] == "out_of_scope"):
                what = "added to" if lc.old["status"] == "out_of_scope" else "removed from"
                cause = Cause("governs", f"{lc.code} {what} the codes the policy governs",
                              refs=frozenset({"governs", f"governs[{lc.code}]"}))
                causes.setdefault(cause.key, cause)
                continue
            if reads_a is None or reads_b is None:  # both are read together, the first time they are needed
                reads_a, reads_b = self._reads(self.old_ev, claim), self._reads(self.new_ev, new_claim)
            for cause in self._line_causes(lc, reads_a, reads_b):
                causes.setdefault(cause.key, cause)
        return tuple(causes.values())

    # The fields of a rule or fee whose edit can move a line; a new title or citation moves nothing.
    _RULE_EFFECT = frozenset({"scope", "where", "when", "outcome"})
    _FEE_EFFECT = frozenset({"where", "amount"})

    def _line_causes(self, lc: LineChange, reads_a: dict, reads_b: dict) -> list[Cause]:
        """Every rule and fee that moves one line. A line can move for several reasons at once (a
        warning newly fired beside a new fee share; a cap that fires on both sides but to fewer
        units), so each part of its outcome is explained on its own: the findings that differ,
        the units or status when a rule firing on both sides reduced or denied differently, and
        the amount when the fee itself, or what it read, differs."""
        found = [self._cause(rule, lc, reads_a, reads_b)
                 for rule in sorted(set(lc.old["findings"]) ^ set(lc.new["findings"]))]
        if (lc.old["status"], lc.old["units"]) != (lc.new["status"], lc.new["units"]):
            for rule in sorted(set(lc.old["findings"]) & set(lc.new["findings"])):
                if {self.kinds[0].get(rule), self.kinds[1].get(rule)} <= {"warn", "info", None}:
                    continue  # a warning fired on both sides sets neither status nor units
                cause = self._cause(rule, lc, reads_a, reads_b)
                if cause.reads or self._edited("rule", rule, self._RULE_EFFECT):
                    found.append(cause)
        # A line denied on one side is not priced there: its fee, and what the fee would read, explain
        # nothing about the move; the rule that denied it does.
        if lc.old["amount"] != lc.new["amount"] and "denied" not in (lc.old["status"], lc.new["status"]):
            for fee in self.fees:
                cause = self._cause(fee, lc, reads_a, reads_b)
                if cause.reads or self._edited("fee", fee, self._FEE_EFFECT):
                    found.append(cause)
        if not found:  # nothing traced explains it: the fee prices every line, so name it and what it read
            found = [self._cause(fee, lc, reads_a, reads_b) for fee in self.fees]
        return found

    def _edited(self, kind: str, item: str, fields: frozenset[str]) -> bool:
        edit = self.edits.get((kind, item))
        return edit is not None and (edit.action != "changed" or any(d[0] in fields for d in edit.details))

    def _cause(self, rule: str, lc: LineChange, reads_a: dict, reads_b: dict) -> Cause:
        kind = "fee" if rule in self.fees else "rule"
        edit = self.edits.get((kind, rule))
        edit_text = ""
        refs = {f"{kind} {rule}"}
        if edit is not None:
            edit_text = edit.shown_action + (f" ({', '.join(d[0] for d in edit.details)})"
                                             if edit.action == "changed" else "")
            edit_text += f" in {edit.inherited_from}" if edit.inherited_from else ""
        ra = {**reads_a.get((rule, None), {}), **reads_a.get((rule, lc.index), {})}
        rb = {**reads_b.get((rule, None), {}), **reads_b.get((rule, lc.index), {})}
        differing = []
        for label in dict.fromkeys([*ra, *rb]):
            base = label.split("[")[0].split(".")[0]
            if base not in self.names:
                continue
            difference = _first_difference(ra.get(label, []), rb.get(label, []))
            if difference is not None:
                old_v, new_v = difference
                shown = label.replace("[line.code]", f"[{lc.code}]")
                differing.append((shown, _show(old_v), _show(new_v)))
                refs |= {base, shown.split("]")[0] + "]" if "[" in shown else base}
        if edit is not None and edit.action != "changed":
            differing = []  # an added or removed rule reads on one side only: its values explain nothing
        else:
            # Only values both sides read: a name one side never read (a condition short-circuited before
            # it, a fee's facility set on an office claim) says how that side evaluated, not what changed,
            # and printed on every witness it buried the values that did (issue 19). Its refs stay, so
            # a new parameter read on one side is still cited rather than listed as having no effect.
            differing = [r for r in differing if "(not read)" not in (r[1], r[2])]
        bases = [r[0].split("[")[0].split(".")[0] for r in differing]
        return Cause(f"{kind} {rule}", edit_text, tuple(differing), frozenset(refs),
                     kinds=tuple(self.read_kinds.get(b, "") for b in bases),
                     qualified=frozenset(r[0] for r, b in zip(differing, bases) if b in self.item_ids))


def _first_difference(old: list, new: list) -> tuple[object, object] | None:
    """The first pair of values read under one label that differ, in the order read; a side that read
    the label fewer times shows "(not read)". The same values read a different number of times (a
    condition short-circuited on one more line) are no difference."""
    for a, b in zip(old, new):
        if a != b:
            return a, b
    if all(v in old for v in new) and all(v in new for v in old):
        return None
    if len(old) > len(new):
        return old[len(new)], "(not read)"
    return "(not read)", new[len(old)]


def _show(value) -> str:
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(none)"
    return str(value)


def witnesses(old: LoadedPolicy, new: LoadedPolicy, changes: list[Change]) -> Behavior:
    """Generate witness claims and keep one per (cause, line outcome change)."""
    comparer = Comparer(old, new, changes)
    result = Behavior("generated")
    seen: set = set()
    # Causes and line changes shown so far: a claim pairing two codes whose every cause and line
    # change a single-code claim already showed (each code's new fee) tells nothing new.
    shown_causes: set = set()
    shown_lines: set = set()
    turning = ((label, claim, new_date, False) for label, claim, new_date in
               at_turning_amounts(comparer, old, new, result))
    # Last, so that a claim varying two axes is listed only for what no claim varying one showed.
    two_axes = ((label, claim, new_date, True) for label, claim, new_date in
                axis_pairs(comparer, old, new, changes, result))
    for label, claim, new_date, paired in itertools.chain(generate(old, new), turning, two_axes):
        if result.compared >= MAX_CLAIMS:
            result.truncated = True
            break
        result.compared += 1
        w = comparer.compare(label, claim, new_date)
        if w is None:
            continue
        result.differing += 1
        causes, lines = {c.key for c in w.causes}, {lc.signature() for lc in w.lines}
        if paired and w.key() not in seen and causes <= shown_causes and lines <= shown_lines:
            continue
        shown_causes |= causes
        shown_lines |= lines
        result.alike[w.key()] = result.alike.get(w.key(), 0) + 1
        if w.key() in seen:
            continue
        seen.add(w.key())
        if len(result.witnesses) >= MAX_WITNESSES:
            result.truncated = True
            continue
        result.witnesses.append(w)
    return result


def replay(old: LoadedPolicy, new: LoadedPolicy, changes: list[Change], claims: list[tuple[str, dict]],
           source: str) -> Behavior:
    """Decide each claim of a file with both policies; every claim that differs is a witness."""
    comparer = Comparer(old, new, changes)
    years = year_offset(old, new)
    result = Behavior(source)
    payers = {old.header.payer, new.header.payer}
    for location, claim in claims:
        if claim.get("payer") not in payers:
            result.skipped += 1
            continue
        result.compared += 1
        old_claim = copy.deepcopy(claim)
        old_date = moved(claim["date_of_service"], old, years)
        if old_date != claim["date_of_service"]:
            old_claim = _redated(claim, old_date)
        new_date = moved(claim["date_of_service"], new, years)
        dates = old_claim["date_of_service"] + (f" / {new_date}" if new_date != old_claim["date_of_service"] else "")
        keep = len(result.witnesses) < MAX_WITNESSES  # past the list's end, count without tracing
        w = comparer.compare(f"{location} ({claim.get('id', '')}), {dates}", old_claim, new_date, explain=keep)
        if w is not None:
            result.differing += 1
            if len(result.witnesses) < MAX_WITNESSES:
                result.witnesses.append(w)
            else:
                result.truncated = True
    return result


def _citations(witnesses: list[Witness]) -> tuple[set[str], set[str]]:
    """What the witnesses' causes refer to, and the codes they bring into or out of scope."""
    cited: set[str] = set()
    scoped: set[str] = set()
    for w in witnesses:
        for c in w.causes:
            cited |= c.refs
            cited.add(c.item)  # "rule ID", "fee ID": by kind, as a rule or fee change refers to itself
            scoped |= {r[len("governs["):-1] for r in c.refs if r.startswith("governs[")}
    return cited, scoped


def _witnessed(c: Change, cited: set[str], scoped: set[str]) -> bool:
    # A data row of a code that came into (or out of) scope moves claims through that code's witness.
    row_of_scoped = c.kind == "row" and c.name.split("[", 1)[-1].rstrip("]") in scoped
    return bool(c.refs & cited) or row_of_scoped


def citing(change: Change, witnesses: list[Witness]) -> list[Witness]:
    """The witnesses whose causes refer to `change`: the claims it moves, as the summary counts them."""
    return [w for w in witnesses if _witnessed(change, *_citations([w]))]


def unwitnessed(changes: list[Change], behavior: Behavior) -> list[Change]:
    """Structural changes no witness's cause refers to: they moved no compared claim."""
    cited, scoped = _citations(behavior.witnesses)
    return [c for c in changes if c.kind != "source" and not _witnessed(c, cited, scoped)
            and not (c.kind == "header" and c.name == "policy")]


__all__ = ["Behavior", "Cause", "Comparer", "LineChange", "Witness", "citing", "date_pairs", "generate", "replay",
           "unwitnessed", "witnesses"]
