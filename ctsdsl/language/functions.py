"""Built-in functions of the language: their signatures for the checker and their code.

Time rules are functions with parameters, not hard-coded rules, so a payer picks
the AMA midpoint rule or the CMS 8-minute rule, and the minutes, in its policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ..claims.fields import ANY, DATE, INT, MONEY, NUMBER, NUMERIC, BOOL, STRING


def midpoint_units(minutes: int, unit_minutes: int) -> int:
    """Units of a timed code under the AMA/CPT midpoint rule.

    "A unit of time is attained when the mid-point is passed": a 30-minute unit
    at 16 minutes, a second one at 46; a 15-minute unit at 8, a second at 23.

    >>> [midpoint_units(m, 30) for m in (15, 16, 45, 46)]
    [0, 1, 1, 2]
    """
    if unit_minutes <= 0:
        raise ValueError("unit_minutes must be positive")
    threshold = unit_minutes // 2 + 1
    if minutes < threshold:
        return 0
    return (minutes - threshold) // unit_minutes + 1


def midpoint_addon_units(minutes: int, base_minutes: int, addon_minutes: int) -> int:
    """Units of an add-on code after a base code, under the midpoint rule.

    The add-on counts the minutes past the base: for 97550 (30 minutes) and
    97551 (each additional 15), the first 97551 unit comes at 38 minutes in total
    and one more at each further 15 (53, 68, ...).

    >>> [midpoint_addon_units(m, 30, 15) for m in (37, 38, 52, 53)]
    [0, 1, 1, 2]
    """
    return midpoint_units(max(0, minutes - base_minutes), addon_minutes)


def eight_minute_units(minutes: int) -> int:
    """Units of 15-minute timed therapy under the CMS 8-minute rule (Pub. 100-04 ch. 5 §20.2).

    Nothing under 8 minutes; 8-22 is one unit, 23-37 two, 38-52 three, and so on.

    >>> [eight_minute_units(m) for m in (7, 8, 22, 23, 38)]
    [0, 1, 1, 2, 3]
    """
    if minutes < 8:
        return 0
    return (minutes + 7) // 15


_CENTS: dict[int, Decimal] = {}


def round_half_up(value, places: int):
    """Round a number half up (as fee schedules do), keeping integers integers."""
    if isinstance(value, int):
        return value
    quantum = _CENTS.get(places)
    if quantum is None:
        quantum = _CENTS[places] = Decimal(1).scaleb(-places)
    return Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


def dollars(value) -> str | None:
    """An amount as a biller reads it: cents rounded half up, thousands separated.

    A message hole writes a number's digits exactly (`2330`, `24.225`); billers read
    `$2,330.00`. Absent stays absent, so the hole shows `(none)`.

    >>> [dollars(v) for v in (2330, Decimal("24.225"), Decimal("-2.5"), None)]
    ['$2,330.00', '$24.23', '-$2.50', None]
    """
    if value is None:
        return None
    cents = round_half_up(Decimal(value), 2)
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


def as_text(value) -> str | None:
    """A value as text: a table cell of digits (97550) read as a number, compared with a code.

    >>> [as_text(v) for v in (97550, Decimal("1.50"), "G0539", None)]
    ['97550', '1.50', 'G0539', None]
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def coalesce(value, default):
    return default if value is None else value


def year(date: str) -> int:
    return int(date[:4])


@dataclass(frozen=True)
class Function:
    """A built-in: its argument types and how its result type follows from them."""

    name: str
    params: tuple[str, ...]  # a type, "numeric", "any", or "collection"; "..." repeats the last
    result: Callable[[list[str]], str]
    impl: Callable
    doc: str


def _numeric_join(types: list[str]) -> str:
    if MONEY in types:
        return MONEY
    if NUMBER in types:
        return NUMBER
    return INT if all(t == INT for t in types) else NUMBER


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("round", ("numeric", INT), lambda t: t[0], round_half_up,
             "round(x, places): x rounded half up to `places` decimals (money to cents: places 2)."),
    Function("dollars", ("numeric",), lambda t: STRING, dollars,
             "dollars(x): x as money text for a message, rounded to cents: `$2,330.00`, `-$2.50`."),
    Function("as_text", (ANY,), lambda t: STRING, as_text,
             "as_text(x): x as text, e.g. a table column of all-digit codes (read as numbers) to compare with a code."),
    Function("min", ("numeric", "numeric", "..."), _numeric_join, min, "min(a, b, ...): the smallest."),
    Function("max", ("numeric", "numeric", "..."), _numeric_join, max, "max(a, b, ...): the largest."),
    Function("midpoint_units", (INT, INT), lambda t: INT, midpoint_units,
             "midpoint_units(minutes, unit_minutes): units under the AMA midpoint rule."),
    Function("midpoint_addon_units", (INT, INT, INT), lambda t: INT, midpoint_addon_units,
             "midpoint_addon_units(minutes, base_minutes, addon_minutes): add-on units past a base code."),
    Function("eight_minute_units", (INT,), lambda t: INT, eight_minute_units,
             "eight_minute_units(minutes): 15-minute units under the CMS 8-minute rule."),
    Function("missing", (ANY,), lambda t: BOOL, lambda v: v is None,
             "missing(x): true when an optional field (such as line.minutes) is absent."),
    Function("coalesce", (ANY, ANY), lambda t: t[1] if t[0] == ANY else t[0], coalesce,
             "coalesce(x, default): x, or default when x is absent."),
    Function("len", ("collection",), lambda t: INT, len, "len(xs): how many items a list or set has."),
    Function("year", (DATE,), lambda t: INT, year, "year(date): the calendar year of a date."),
    # A special form: the compiler reads x's dated values on `date` (it never calls `impl`).
    Function("at", (DATE, ANY), lambda t: t[1], lambda date, value: value,
             "at(date, x): x with every dated parameter and table row in it read on `date` rather than on "
             "the line's date, e.g. `at(o.date_of_service, conversion_factor)` inside a quantifier over lines."),
)}

NUMERIC_TYPES = NUMERIC
