"""What the checker's diagnostics say: a type in words, the fix for a common mismatch.

Both halves of the checker (its items in `checker`, its expressions in `checker_expressions`) word
their problems with these, so a type reads the same in every message.
"""

from __future__ import annotations


from ..claims.fields import (ANY, DATE, LIST, NUMERIC, ROW, SET, STRING, TABLE, compatible, element_type, inner_type,
                             kind_of)


def a_type(typ: str) -> str:
    """A checker type as a message says it: "a set of string", "an int", "a row of table `rvu`"."""
    kind = kind_of(typ)
    if kind in (SET, LIST):
        return f"a {kind} of {inner_type(typ)}"
    if kind == ROW:
        return f"a row of table `{inner_type(typ)}`"
    if kind == TABLE:
        return f"table `{inner_type(typ)}`"
    if typ == ANY:
        return "a value of unknown type"
    if typ == "numeric":  # a function parameter that takes int, number or money
        return "a number or an amount"
    if typ == "collection":
        return "a list or a set"
    return ("an " if typ[0] in "aeiou" else "a ") + typ


def comparison_hint(left: str, right: str) -> str:
    """What the analyst most likely meant, for the commonest mismatches."""
    for collection, value in ((left, right), (right, left)):
        elem = element_type(collection)
        if elem is not None and compatible(elem, value):
            return 'to ask whether a collection holds a value, use `in`: "GP" in line.modifiers'
    if {left, right} == {DATE, STRING}:
        return "write a date without quotes: 2024-01-01"
    if STRING in (left, right) and {left, right} & NUMERIC:
        return 'quote codes as strings ("97550")'
    return ""
