"""What the two policies of a witness search mention: the codes, limits, places, modifiers and amounts to vary.

The witness generator (`witness_claims`) varies a clean claim along each of these, so that a new
threshold, code, place-of-service class or claim amount a policy starts reading is tried without a
change here: each is read from the policies' syntax trees and data tables.
"""

from __future__ import annotations

from decimal import Decimal

from ..claims.fields import CLAIM, NUMBER, catalogue
from ..claims.validation import line_integer_bounds
from ..engine.loader import LoadedPolicy
from ..language import nodes as n

MAX_CODES = 40  # main codes billed: governed ones first, then other codes of the data tables

_FIXED_POS = ("11", "22", "02", "10")  # office, facility, telehealth (other than home, home)


def literals(policies: list[LoadedPolicy]):
    """Every literal written in the policies (conditions, parameters, amounts), in order."""
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


def modifier_literals(policies: list[LoadedPolicy]) -> list[str]:
    """The modifiers the policies name: in a `modifier` set parameter or tested with `"XX" in line.modifiers`."""
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


def billed_codes(policies: list[LoadedPolicy]) -> tuple[list[str], list[str]]:
    """(codes to bill as the main line, other codes a condition names, billed beside one)."""
    governed: dict[str, None] = {}
    for p in policies:
        governed.update((c, None) for c in p.header.governs)
        for table in p.checked.tables.values():
            governed.update((k, None) for k in table.rows if len(k) == 5 and k.isalnum())
    named = {str(l.value) for l in literals(policies) if l.kind == "string" and len(str(l.value)) == 5
             and str(l.value).isalnum() and str(l.value).upper() == str(l.value)}
    return list(governed)[:MAX_CODES], sorted(named - set(governed))[:MAX_CODES]


def code_row(policies: list[LoadedPolicy], code: str) -> dict:
    """`code`'s row of the `codes` table, the newest policy's first; {} when no table describes it."""
    for p in reversed(policies):
        table = p.checked.tables.get("codes")
        if table is not None and code in table.rows:
            return table.rows[code][0][1]
    return {}


def compared_cells(policies: list[LoadedPolicy], code: str) -> set[int]:
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


def minute_probes(policies: list[LoadedPolicy], row: dict) -> list[int]:
    """The session minutes a witness bills: both sides of each unit's midpoint threshold (15/16, 37/38, 52/53
    for a 30-minute code with a 15-minute add-on, `row` being the timed code's row) and of each whole
    number a condition compares against."""
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
    found |= {v + d for l in literals(policies) if l.kind == "int" and 2 < l.value <= 1440
              for v in [l.value] for d in (-1, 0, 1)}
    return sorted(m for m in found if 0 <= m <= 1440)


_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def int_probes(policies: list[LoadedPolicy]) -> dict[str, list[int]]:
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


def pos_classes(policies: list[LoadedPolicy]) -> list[str]:
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


def amount_fields(policies: list[LoadedPolicy]) -> list[str]:
    """The claim's number fields the policies read (`claim.therapy_spend_to_date`, ...), in schema order:
    each is set either side of the money thresholds, so a new field is varied without a change here."""
    read = {node.name for p in policies for node in p.policy.walk()
            if isinstance(node, n.Attribute) and isinstance(node.obj, n.Name) and node.obj.name == "claim"}
    return [name for name, f in catalogue()[CLAIM].items() if f.type == NUMBER and name in read]


def money_thresholds(policies: list[LoadedPolicy]) -> list[Decimal]:
    """Each money amount of $100 or more the policies write, less a dollar, itself and plus a dollar, and $0."""
    found = {l.value for l in literals(policies) if l.kind == "money" and l.value >= 100}
    # Just under, at and just over: "spend + this claim > threshold" turns below it, "spend > threshold" above.
    return sorted({v + d for v in found for d in (Decimal(-1), Decimal(0), Decimal(1))} | {Decimal(0)})


def siblings_of_gp(policies: list[LoadedPolicy]) -> list[str]:
    """The alternatives to the base claim's GP: the modifiers a set parameter lists beside it (GO, GN)."""
    return [m for m in modifier_literals(policies)
            if m != "GP" and any({"GP", m} <= s for s in _set_params(policies))]


__all__ = ["MAX_CODES", "amount_fields", "billed_codes", "code_row", "compared_cells", "int_probes", "literals",
           "minute_probes", "modifier_literals", "money_thresholds", "pos_classes", "siblings_of_gp"]
