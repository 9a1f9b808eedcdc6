"""The data a compiled policy reads, prepared by period: dated parameters' values and tables' rows.

A period is a stretch of dates over which no dated value or table row changes (`period_bounds`).
The compiler puts each dated parameter's value in each period (`value_on`) and each table's rows in
force in each period (`rows_by_period`) into the generated function's namespace, so a lookup at run
time is a list index, not a search by date.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..language import nodes as n
from .runtime import UNSET, PeriodRows, period_dates, period_starts
from ..language.tables import TableData


def period_bounds(params: Iterable[n.Param], tables: Iterable[TableData]) -> tuple[str, ...]:
    """Dates where some dated value or table row may change: a period lies between two of them.

    A date at or after a bound is in the next period. A value that ends on E
    changes after E: the bound is E + "\\0", which sorts after E and before E's next day.
    """
    bounds = set()
    for p in params:
        for d in p.dated or ():
            bounds.add(d.start)
            if d.end is not None:
                bounds.add(d.end + "\0")
    for table in tables:
        if table.dated_by:
            bounds.update(start for versions in table.rows.values() for start, _ in versions)
    return tuple(sorted(bounds))


def literal_value(v: n.Literal | n.SetLiteral | None) -> object:
    """A parameter's literal as the generated code holds it (a set literal as a frozenset)."""
    if isinstance(v, n.SetLiteral):
        return frozenset(i.value for i in v.items)
    return None if v is None else v.value


def value_on(param: n.Param, date: str) -> object:
    """A dated parameter's value on `date` (a period's first date), or UNSET where it has none."""
    for d in param.dated:
        if d.start <= date and (d.end is None or date <= d.end):
            return literal_value(d.value)
    return UNSET


# Tables whose rows by period would hold more references than this are looked up by period on
# demand instead: a year of daily rows of 100,000 codes must not be copied 365 times up front.
_MAX_PRECOMPUTED_ROWS = 2_000_000


def rows_by_period(table: TableData, bounds: tuple[str, ...]):
    """`R_<table>`: its rows in force in each period (a PeriodRows), or one PeriodRows if undated."""
    if not table.dated_by:
        return PeriodRows({key: versions[0][1] for key, versions in table.rows.items()}, table.name, "")
    starts = period_starts(bounds)
    if len(starts) * len(table.rows) > _MAX_PRECOMPUTED_ROWS:
        return _LazyPeriods(table, bounds)
    return [_period_rows(table, bounds, p) for p in range(len(starts))]


def _period_rows(table: TableData, bounds: tuple[str, ...], p: int) -> PeriodRows:
    start = period_starts(bounds)[p]
    rows = {}
    for key in table.rows:
        row = table.lookup(key, start) if start else None
        if row is not None:
            rows[key] = row
    return PeriodRows(rows, table.name, period_dates(bounds, p))


class _LazyPeriods:
    """A large table's rows by period, each period's built when a claim first needs it (the last 64 kept)."""

    def __init__(self, table: TableData, bounds: tuple[str, ...]) -> None:
        self.table, self.bounds = table, bounds
        self.built: dict[int, PeriodRows] = {}

    def __getitem__(self, p: int) -> PeriodRows:
        rows = self.built.get(p)
        if rows is None:
            if len(self.built) >= 64:
                self.built.clear()
            rows = self.built[p] = _period_rows(self.table, self.bounds, p)
        return rows
