"""Witness claims: a clean claim per code, varied one thing at a time, and codes paired by role.

`variants` yields each change as a `Variant` whose axis and written fields say which two
`witness.axis_pairs` may combine; `generate` dates every variant on both sides of each turning date.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from functools import partial

from ..claims.fields import DOCUMENTATION, catalogue
from ..claims.validation import claim_schema, example_value
from ..engine.loader import LoadedPolicy
from .witness_axes import Variant
from .witness_dates import comparable, date_pairs, parse_day
from .witness_mentions import (amount_fields, billed_codes, code_row, compared_cells, int_probes, minute_probes,
                               modifier_literals, money_thresholds, pos_classes, siblings_of_gp)

# From the claim schema, the one definition of a claim: a provider type or flag added there is varied here.
PROVIDER_TYPES = tuple(claim_schema()["properties"]["provider_type"]["enum"])
# A declared field a variant takes away: `fill_declared` leaves it away when it fills in the others.
_WITHOUT = object()


def declared_fields(policies: list[LoadedPolicy]) -> list:
    """The claim fields either policy declares that have an example to bill (`nodes.DeclaredField`s)."""
    seen: dict[str, object] = {}
    for p in policies:
        for d in p.checked.declared:
            if d.example is not None:
                seen.setdefault(d.path, d)
    return list(seen.values())


def fill_declared(claim: dict, declared: list) -> None:
    """Give every line (or the claim) each declared field's example, but where a variant took it away:
    a witness is then a claim the declaring policy accepts, whose only news is what its rules do."""
    for d in declared:
        value = example_value(d)
        for target in claim["lines"] if d.record == "line" else [claim]:
            if target.get(d.name) is _WITHOUT:
                del target[d.name]
            elif d.name not in target:
                target[d.name] = value
DOC_FLAGS = tuple(catalogue()[DOCUMENTATION])


def base_claim(code: str, row: dict, date: str) -> dict:
    """The clean claim a witness varies: `code` alone (an add-on after its primary), at an office, by a
    therapist under GP, every documentation flag set, on `date`."""
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
    row = code_row(policies, code)
    main = -1
    timed = 0 if row.get("primary") else -1

    def line_field(c: dict, index: int, name: str, value) -> None:
        c["lines"][index][name] = value

    yield Variant(code, lambda c: None)
    for minutes in minute_probes(policies, code_row(policies, row["primary"]) if row.get("primary") else row):
        yield Variant(f"{code}, {minutes} minutes", partial(line_field, index=timed, name="minutes", value=minutes),
                      "minutes", frozenset({"minutes"}))
    limits = compared_cells(policies, code)
    probes = int_probes(policies)
    for units in sorted({1, 2, 3} | {v + d for v in limits for d in (0, 1) if 0 < v + d <= 99} | set(probes["units"])):
        yield Variant(f"{code}, {units} unit{'s' if units != 1 else ''}",
                      partial(line_field, index=main, name="units", value=units), "units", frozenset({"units"}))
    # An add-on's units past what the base session supports: also with a session long enough for them,
    # so a condition on the units billed is seen where the time rule would not reduce them.
    primary = code_row(policies, row["primary"]) if row.get("primary") else {}
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
    for pos in pos_classes(policies):
        for provider in PROVIDER_TYPES:
            yield Variant(f"{code}, POS {pos}, {provider}",
                          lambda c, p=pos, t=provider: c.update(place_of_service=p, provider_type=t),
                          "place", frozenset({"place_of_service", "provider_type"}))
    mods = modifier_literals(policies)
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
    amounts = amount_fields(policies)
    for name, spend, modifier in itertools.product(amounts, money_thresholds(policies), [None, *mods]):
        what = name.replace("_", " ").removesuffix(" to date")
        yield Variant(f"{code}, {what} ${spend}" + (f", modifier {modifier}" if modifier else ""),
                      partial(_spend, field=name, spend=spend, modifier=modifier),
                      "amount", frozenset({name} | ({"modifiers"} if modifier else set())))
    siblings = siblings_of_gp(policies)
    for name, spend, m in itertools.product(amounts, money_thresholds(policies), siblings):
        yield Variant(f"{code}, {name.replace('_', ' ').removesuffix(' to date')} ${spend}, the session again the "
                      f"next day with {m}", partial(_priced_session_next_day, field=name, spend=spend, modifier=m))
    yield Variant(f"{code}, APM qualifying", (lambda c: c.__setitem__("apm_qualifying", True)), "apm",
                  frozenset({"apm_qualifying"}))
    for d in declared_fields(policies):  # the claim without each declared field: what its absence does
        yield Variant(f"{code}, without {d.path}", partial(_without, record=d.record, name=d.name), "declared",
                      frozenset({d.name}))
    yield Variant(f"{code}, the same lines again the next day", again_next_day)
    for other in others:
        yield Variant(f"{code} with {other}", (
            lambda c, o=other: c["lines"].append({"code": o, "units": 1, "modifiers": ["GP"]})))


def _without(claim: dict, record: str, name: str) -> None:
    for target in claim["lines"] if record == "line" else [claim]:
        target[name] = _WITHOUT


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


def with_patients(label: str, code: str, base: dict) -> str:
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
    row = code_row(policies, code)
    for other in billed_codes(policies)[0]:
        other_row = code_row(policies, other)
        if other != code and other_row.get("role") and other_row.get("role") != row.get("role") \
                and other != row.get("primary") and other_row.get("primary") != code:
            yield Variant(f"{code} with {other} the same day", (
                lambda c, o=other, r=other_row: c["lines"].extend(base_claim(o, r, c["date_of_service"])["lines"])))


def _priced_session_next_day(claim: dict, field: str, spend: Decimal, modifier: str) -> None:
    """A spend toward a threshold, and the claim's session again the next day under another modifier."""
    claim[field] = int(spend) if spend == int(spend) else float(spend)
    again_next_day(claim, [modifier])


def again_next_day(claim: dict, modifiers: list[str] | None = None) -> None:
    """The claim's lines billed again, dated the day after (under other `modifiers`, if given): on the eve
    of a turning date they straddle it."""
    day = (parse_day(claim["date_of_service"]) + dt.timedelta(days=1)).isoformat()
    claim["lines"] += [{**line, "date_of_service": day, **({"modifiers": modifiers} if modifiers else {})}
                       for line in claim["lines"]]


def generate(old: LoadedPolicy, new: LoadedPolicy):
    """Every witness candidate: (label, claim on the old date, the new date, whether it pairs codes).

    The pairs of codes by role come after every code of a date has been billed alone, so that a pair
    whose every change those single claims already show can be told apart (see `witnesses`)."""
    policies = [old, new]
    codes, others = billed_codes(policies)
    payer = new.header.payer or old.header.payer
    declared = declared_fields(policies)
    for old_date, new_date in date_pairs(old, new):
        for paired in (False, True):
            for code in codes:
                row = code_row(policies, code)
                shapes = role_pairs(policies, code) if paired else variants(policies, code, others)
                for k, (label, fn, *_) in enumerate(shapes):
                    claim = base_claim(code, row, old_date)
                    # Unique, so a file of them replays.
                    claim.update(payer=payer, id=f"witness-{code}-{old_date}-{'pair-' if paired else ''}{k}")
                    label = with_patients(label, code, claim)
                    fn(claim)
                    fill_declared(claim, declared)
                    if not comparable(claim, new_date, old, new):  # a next-day line past a period's end
                        continue
                    yield (f"{label}, {old_date}" + (f" / {new_date}" if new_date != old_date else ""), claim,
                           new_date, paired)


__all__ = ["DOC_FLAGS", "PROVIDER_TYPES", "again_next_day", "base_claim", "declared_fields", "fill_declared",
           "generate", "role_pairs", "variants",
           "with_patients"]
