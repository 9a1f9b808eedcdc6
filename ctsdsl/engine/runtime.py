"""Every name the generated evaluation function may use, and the errors it raises.

The compiler (compiler.py) writes one Python function per policy; this module is the other
half of that contract: the helpers the function calls, the constants it reads, and the three
errors an evaluator turns into located diagnostics (a missing table row, a dated parameter
without a value, an absent value used where a value is needed). `namespace()` is the whole of what
the generated code sees. Its builtins are a short allowlist, so generated code can neither
import nor open nor reach an attribute the compiler did not write.
"""

from __future__ import annotations

import builtins
import functools
from bisect import bisect_right
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from ..limits import MAX_TRACE_READS

ZERO = Decimal("0.00")
EMPTY: dict = {}


class _Unset:
    """A memo slot not yet computed, or a dated parameter without a value in a period: one object,
    compared by identity, which stays itself through pickling (a compiled program is kept on disk)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()

# The builtins the generated code calls: loops, quantifiers, and conversions it writes itself.
_BUILTINS = ("any", "all", "sum", "len", "enumerate", "max", "min", "bool", "zip", "Exception", "True", "False",
             "None")


class Result(NamedTuple):
    """What the generated function returns for a claim: the raw material of a `Decision`.

    `findings` holds (rule number, line index or None, message, reads or None), in the order the
    rules fired; the per-line lists are indexed by line; `evaluations`, traced runs only, holds
    (kind "rule" or "fee", its number, line, applicable, fired, reads) for every rule evaluated, a reduce
    rule's with the units it computed after them.
    """

    findings: list
    denied: list[bool]
    allowed: list[int]
    governed: list[bool]
    amounts: list
    evaluations: list | None


class MissingRowError(LookupError):
    """A rule read a table row that is not there (`codes[line.code]` for an unknown code)."""


class DatedLookupError(LookupError):
    """A dated parameter has no value on the date a rule read it."""


class AbsentValueError(Exception):
    """A rule used a value the claim does not give (an optional field such as `line.minutes`, or an
    empty table cell) where a value is needed: in arithmetic, an order comparison, or a function that
    computes with it. The generated code checks for it where it happens (`given`), so the evaluator
    never has to guess from a TypeError's text; `label` is the expression as the policy writes it."""

    def __init__(self, label: str) -> None:
        super().__init__(f"`{label}` is absent on this claim")
        self.label = label


def given(value, label: str):
    """`value`, which the next operation cannot do without: an absent one (None) raises AbsentValueError."""
    if value is None:
        raise AbsentValueError(label)
    return value


class PeriodRows(dict):
    """A table's rows in force over one period (a stretch of dates over which no row changes), by key.

    Indexing a key the table has no row for raises `MissingRowError`, naming the table and the
    dates; `get` answers None, as the `in` test wants. Built once per policy and period, so a
    lookup in generated code is a list index and a dict lookup, with no Python call.
    """

    __slots__ = ("table", "dates")

    def __init__(self, rows: dict, table: str, dates: str) -> None:
        super().__init__(rows)
        self.table = table
        self.dates = dates

    def __missing__(self, key: object):
        raise MissingRowError(f"table `{self.table}` has no row for {key!r} {self.dates}")


def period_of(bounds: tuple[str, ...]) -> Callable[[str], int]:
    """The function date -> period number for the dates where some dated value or row may change.

    A partial, not a closure: it pickles with the program (policy_cache keeps compiled programs)."""
    return functools.partial(bisect_right, bounds)


def period_starts(bounds: tuple[str, ...]) -> list[str]:
    """A date standing for each period: what is in force on it is in force on the whole period."""
    return ["", *bounds]


def period_dates(bounds: tuple[str, ...], p: int) -> str:
    """Period `p` as an error message says it."""
    def day(bound: str) -> str:
        return bound.rstrip("\0")
    if not bounds:
        return "on any date"
    if p == 0:
        return f"before {day(bounds[0])}"
    if p == len(bounds):
        return f"on or after {day(bounds[-1])}" if not bounds[-1].endswith("\0") else f"after {day(bounds[-1])}"
    start, end = bounds[p - 1], bounds[p]
    first = f"after {day(start)}" if start.endswith("\0") else f"from {start}"
    last = f"to {day(end)}" if end.endswith("\0") else f"before {end}"
    return f"{first} {last}"


def no_value(name: str, date: str):
    raise DatedLookupError(f"parameter `{name}` has no value on {date}")


def at(compute: Callable[[str, int], object], date: str, period: Callable[[str], int]) -> object:
    """`at(DATE, EXPR)`: EXPR read on another date; the date is computed once and its period found."""
    return compute(date, period(date))


def num(value):
    """A claim's number as the language computes with it: JSON floats become exact Decimals (800.5, not 800.4999...)."""
    return Decimal(repr(value)) if type(value) is float else value


def bucket(cache: list, number: int, key_of, lines: list, dos: str, key) -> list:
    """The (index, line) pairs whose key is `key`, from index `number`, built on first use for this claim."""
    index = cache[number]
    if index is None:
        index = cache[number] = {}
        for pair in enumerate(lines):
            k = key_of(pair[1], dos)
            if k in index:
                index[k].append(pair)
            else:
                index[k] = [pair]
    return index.get(key, ())


def round_to(value, quantum: Decimal):
    """`round(x, places)` with its quantum (Decimal("0.01")) known: half up, integers kept integers."""
    if type(value) is Decimal:
        return value.quantize(quantum, rounding=ROUND_HALF_UP)
    if isinstance(value, int):
        return value
    return Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


def div(a, b):
    return Decimal(a) / Decimal(b)


def shown(value) -> str:
    """A value as a message quotes it."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple, frozenset, set)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ", ".join(shown(v) for v in items) or "none"
    return str(value)


# ------------------------------------------------------------ tracing: the values each rule read


def read(trace: list, label: str, value):
    # A quantifier over 1000 lines on each of 1000 lines reads millions of values: keep the first few.
    if len(trace) < MAX_TRACE_READS:
        trace.append((label, value))
    elif len(trace) == MAX_TRACE_READS:
        trace.append(("...", f"more than {MAX_TRACE_READS} values read; the rest are not recorded"))
    return value


class LineRead(tuple):
    """A read of a quantified line's field: the (label, value) pair every read is, that also says
    which line it came from (`line`), as `os.stat_result` holds more than its tuple shows. Whatever
    unpacks reads as pairs (the text explain, diff's causes) reads it unchanged."""

    line: int

    def __new__(cls, label: str, value, line: int) -> LineRead:
        self = super().__new__(cls, (label, value))
        self.line = line
        return self

    def __getnewargs__(self):
        return (self[0], self[1], self.line)


def read_line(trace: list, label: str, line: int, value):
    """`read`, for a field of the quantified line `line` (`o.units` while `o` is line 3)."""
    if len(trace) < MAX_TRACE_READS:
        trace.append(LineRead(label, value, line))
        return value
    return read(trace, label, value)


# A traced memo slot holds (value, reads). `memo_done(TR, memo_start(TR), compute)`: memo_start
# sets the reads so far aside, the computation records into the emptied list, memo_done takes
# those and puts the others back. `replay` then replays them, on the first use and every later one.
def memo_start(trace: list) -> list:
    saved = trace[:]
    trace.clear()
    return saved


def memo_done(trace: list, saved: list, value) -> tuple:
    reads = _compact(trace)
    trace[:] = saved
    return value, reads


MAX_MEMO_READS = 8  # per label: what a memoized value replays of its reads into each rule using it


def _compact(reads: list) -> list:
    """A memo's reads as every use replays them: the first MAX_MEMO_READS of each label, in order.

    A let that sums a bucket of 300 alike lines is computed once, but replayed into the rule of each
    of those lines: its 300 reads of `o.minutes` (and of the parameters read for each `o`) replayed
    300 times made explain quadratic (issue 16). The first few say which lines it read; a diff's
    causes compare a label's values by position, so they are kept in order, not deduplicated (the
    factor of a claim's first date, then of its second)."""
    if len(reads) <= MAX_MEMO_READS:
        return reads[:]
    out: list = []
    per_label: dict[str, int] = {}
    for r in reads:
        n = per_label.get(r[0], 0)
        if n < MAX_MEMO_READS:
            per_label[r[0]] = n + 1
            out.append(r)
    return out


def replay(trace: list, memo: tuple):
    value, reads = memo
    room = MAX_TRACE_READS - len(trace)
    if len(reads) <= room:
        trace.extend(reads)
    else:  # as many as fit, then read()'s marker; the rest would not be recorded anyway
        for label, value_read in reads[:max(room + 1, 0)]:
            read(trace, label, value_read)
    return value


def namespace(fail: Callable[..., Exception]) -> dict:
    """The names the generated code may use (the compiler adds the policy's constants and tables).

    `fail(kind, k, line, exc)` turns an exception inside rule or fee `k` into an EvaluationError.
    """
    allowed = {name: getattr(builtins, name) for name in _BUILTINS}
    return {"__builtins__": allowed, "Decimal": Decimal, "EMPTY": EMPTY, "ZERO": ZERO, "_U": UNSET, "Result": Result,
            "_num": num, "_given": given, "_round_to": round_to, "_HALF_UP": ROUND_HALF_UP, "_bucket": bucket, "_div": div, "_s": shown, "_nv": no_value, "_at": at,
            "_rd": read, "_rdl": read_line, "_ms": memo_start, "_mc": memo_done, "_mr": replay, "_fail": fail}
