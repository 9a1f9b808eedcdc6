"""The dates a witness is decided on: each day either policy may turn on, inside each policy's period.

See `witness`'s docstring for why two policies of different years decide a witness on the same
calendar day of each one's year.
"""

from __future__ import annotations

import datetime as dt

from ..engine.loader import LoadedPolicy
from ..language import nodes as n
from .witness_mentions import literals

MAX_DATE_PAIRS = 12


def parse_day(text: str) -> dt.date:
    """A date written YYYY-MM-DD (a policy's or claim's), as a `datetime.date`."""
    return dt.date.fromisoformat(text)


def _shift(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _window(p: LoadedPolicy) -> tuple[dt.date, dt.date]:
    start = parse_day(p.header.effective_from)
    end = parse_day(p.header.effective_to) if p.header.effective_to else _shift(start, 1) - dt.timedelta(days=1)
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
    days.update(l.value for l in literals([p]) if l.kind == "date")  # a date a condition compares against
    out = set()
    for text in days:
        try:
            day = parse_day(text)
        except ValueError:
            continue
        out |= {day, day - dt.timedelta(days=1)}
    for text in ends:  # the last day of a period, and the first day after it
        try:
            day = parse_day(text)
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
        d = parse_day(day)
    except ValueError:
        return day
    if start <= d <= end or not years:
        return day
    for year in (start.year, end.year):
        candidate = _shift(d, year - d.year)
        if start <= candidate <= end:
            return candidate.isoformat()
    return day


def redated(claim: dict, date: str) -> dict:
    """The claim moved to `date`, with any line's own date moved by the same whole years."""
    years = parse_day(date).year - parse_day(claim["date_of_service"]).year
    lines = [{**line, "date_of_service": _shift(parse_day(line["date_of_service"]), years).isoformat()}
             if line.get("date_of_service") else line for line in claim["lines"]]
    return {**claim, "date_of_service": date, "lines": lines}


def _inside(claim: dict, policy: LoadedPolicy) -> bool:
    """Whether every line's date lies in the policy's period: a line beyond it belongs to the next policy."""
    start, end = _window(policy)
    return all(start <= parse_day(line.get("date_of_service", claim["date_of_service"])) <= end
               for line in claim["lines"])


def comparable(claim: dict, new_date: str, old: LoadedPolicy, new: LoadedPolicy) -> bool:
    return _inside(claim, old) and _inside(redated(claim, new_date), new)


__all__ = ["MAX_DATE_PAIRS", "comparable", "date_pairs", "moved", "parse_day", "redated", "year_offset"]
