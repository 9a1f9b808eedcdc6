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

The work is split by job: what the policies mention (`witness_mentions`), the dates to decide on
(`witness_dates`), the claims varied one thing at a time (`witness_claims`), two things at once
(`witness_axes`), and deciding and explaining a difference (`witness_causes`). This module runs the
search (and the turning-amount bisection) within its limits, replays a claim file, and tells which
structural changes no witness cites.
"""

from __future__ import annotations

import copy
import itertools
from decimal import Decimal

from ..engine.evaluator import Evaluator
from ..engine.loader import LoadedPolicy
from .diff_structure import Change
from .witness_axes import Variant, combined, edit_axes, interacting
from .witness_causes import Behavior, Cause, Comparer, LineChange, Witness, line_outcomes
from .witness_claims import (DOC_FLAGS, PROVIDER_TYPES, again_next_day, base_claim, declared_fields, fill_declared,
                             generate, variants, with_patients)
from .witness_dates import comparable, date_pairs, moved, redated, year_offset
from .witness_mentions import amount_fields, billed_codes, code_row, money_thresholds, siblings_of_gp

MAX_WITNESSES = 200  # shown and kept per policy pair, after deduplication
MAX_CLAIMS = 40_000  # generated claims per policy pair (about ten seconds): beyond it, `truncated`
MAX_TURN_SEARCHES = 6_000  # bisections per policy pair, about 20 decisions each: beyond it, `truncated`
MAX_PAIRED_VALUES = 4  # values of each axis combined with another's, where two edits meet
MAX_PAIRED_CLAIMS = 8_000  # claims varying two axes, per policy pair: beyond it, `truncated`


def turning_amount(evaluator: Evaluator, claim: dict, field: str, top: Decimal) -> Decimal | None:
    """The least amount in `field`, to the cent and up to `top`, at which the decision differs from
    the one at $0, found by bisection; None if none does. Bisection finds one turn of several."""
    def at(cents: int) -> tuple:
        return line_outcomes(evaluator, {**claim, field: float(Decimal(cents) / 100)})

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
    fields = amount_fields(policies)
    if not fields:
        return
    top = 2 * max(money_thresholds(policies) + [Decimal(5000)])
    codes, _ = billed_codes(policies)
    payer = new.header.payer or old.header.payer
    modifiers = ["GP", *siblings_of_gp(policies)]  # a threshold may be the discipline's own (KX)
    shapes = list(itertools.product(modifiers, (False, True)))
    declared = declared_fields(policies)
    searches = 0
    for old_date, new_date in date_pairs(old, new):
        for code in codes:
            for modifier, next_day in shapes:
                claim = base_claim(code, code_row(policies, code), old_date)
                claim.update(payer=payer, id=f"witness-{code}-{old_date}-turn")
                for line in claim["lines"]:
                    line["modifiers"] = [modifier]
                variant = (f", modifier {modifier}" if modifier != "GP" else "") + \
                    (", the same lines again the next day" if next_day else "")
                if next_day:
                    again_next_day(claim)
                    if not comparable(claim, new_date, old, new):
                        continue
                fill_declared(claim, declared)
                new_claim = claim if new_date == old_date else redated(claim, new_date)
                for name in fields:
                    searches += 2
                    if searches > MAX_TURN_SEARCHES:
                        result.truncated = True
                        return
                    turns = {turning_amount(comparer.old_ev, claim, name, top),
                             turning_amount(comparer.new_ev, new_claim, name, top)} - {None}
                    what = name.replace("_", " ").removesuffix(" to date")
                    for amount in sorted({a + d for a in turns if a is not None for d in (Decimal("-0.01"), 0)}):
                        yield (with_patients(f"{code}{variant}", code, claim)
                               + f", {what} ${amount} (where a decision turns), {old_date}"
                               + (f" / {new_date}" if new_date != old_date else "")), \
                            {**claim, name: float(amount)}, new_date


def axis_pairs(comparer: Comparer, old: LoadedPolicy, new: LoadedPolicy, changes: list[Change], result: Behavior):
    """Witness candidates that vary two axes at once, where two edits read one each (`witness_axes`):
    each code's plain claim on the first pair of dates, with the values `combined` picks.

    At most MAX_PAIRED_CLAIMS: past them, `result.truncated` says the search stopped short.
    """
    policies = [old, new]
    pairs = interacting(edit_axes(policies, changes, amount_fields(policies)))
    dates = date_pairs(old, new)
    if not pairs or not dates:
        return
    old_date, new_date = dates[0]
    codes, others = billed_codes(policies)
    payer = new.header.payer or old.header.payer
    declared = declared_fields(policies)
    made = 0
    for code in codes:
        row = code_row(policies, code)

        def claim_of(*shapes: Variant, code: str = code, row: dict = row) -> dict:
            claim = base_claim(code, row, old_date)
            claim.update(payer=payer, id=f"witness-{code}-{old_date}-axes")
            for shape in shapes:
                shape.change(claim)
            fill_declared(claim, declared)
            return claim

        def outcomes(*shapes: Variant) -> tuple | None:
            claim = claim_of(*shapes)
            if not comparable(claim, new_date, old, new):
                return None
            new_claim = claim if new_date == old_date else redated(claim, new_date)
            return line_outcomes(comparer.old_ev, claim), line_outcomes(comparer.new_ev, new_claim)

        for a, b in combined(pairs, variants(policies, code, others), outcomes, MAX_PAIRED_VALUES):
            made += 1
            if made > MAX_PAIRED_CLAIMS:
                result.truncated = True
                return
            claim = claim_of(a, b)
            label = with_patients(f"{a.label}, {b.label.removeprefix(code).lstrip(', ')}", code, claim)
            yield f"{label}, {old_date}" + (f" / {new_date}" if new_date != old_date else ""), claim, new_date


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
            old_claim = redated(claim, old_date)
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


__all__ = ["DOC_FLAGS", "PROVIDER_TYPES", "Behavior", "Cause", "Comparer", "LineChange", "Witness", "citing",
           "date_pairs", "generate", "replay", "turning_amount", "unwitnessed", "witnesses"]
