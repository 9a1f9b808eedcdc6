"""Reason codes as an 835 reports them: adjustments (group, CARC, amount, units) and remarks (RARC).

A rule's ``reason`` list names codes by system (``reason CARC 119, PR 119``); an 835 writes a
line's adjustment as a group code with a CARC (``CAS*PR*119*90.00*1``) and its remarks apart
(``LQ*HE*N362``). The mapping, which docs/language.md states for policy authors:

* ``CO 16``, ``PR 119``, ``OA 23``, ``PI 45``: CARC 16 (119, ...) in that group.
* ``CARC 16``: the group another entry of the same rule gives that CARC (``reason CARC 119,
  PR 119`` is one adjustment, PR 119), else `DEFAULT_GROUP`, CO: in X12's words a contractual
  obligation, the provider's adjustment and not the patient's to pay. A payer's billing rule
  denying a service is that, unless the policy says the patient owes it (PR), so a policy says
  PR (or OA) where its source does.
* ``RARC N362``: a remark.

Which rule's codes a line reports: the first finding on it (in the order the rules fired, the
policy's order) that explains the units not allowed: a `deny` finding on a denied line, else a
`reduce` one (a line reduced to 0 is denied), preferring one whose rule names a CARC. The other
findings stay in the decision's `findings`; an 835 line says one reason for its money.

Amounts: the charge of the units not allowed, ``charge × (units_billed - units_allowed) /
units_billed``, rounded half up to the cent (a denied line: its whole charge). What a paid
unit's charge exceeds its allowed amount by (an 835's fee-schedule adjustment) is not given:
no reference ctsdsl encodes names a code for it. Without a ``charge`` on the claim line the
adjustments carry their codes and units and no amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .decision import CENT, Adjustment, Group

GROUPS: tuple[Group, ...] = ("CO", "PR", "OA", "PI")
DEFAULT_GROUP: Group = "CO"


@dataclass(frozen=True, slots=True)
class RuleCodes:
    """A rule's reason codes as an 835 groups them: (group, CARC) pairs, in the rule's order, and RARCs."""

    adjustments: tuple[tuple[Group, str], ...] = ()
    remarks: tuple[str, ...] = ()


NO_CODES = RuleCodes()


def rule_codes(reasons: Iterable[tuple[str, str]]) -> RuleCodes:
    """A rule's ``reason`` entries, (system, code) pairs, as adjustments and remarks.

    >>> rule_codes([("CARC", "119"), ("PR", "119")])
    RuleCodes(adjustments=(('PR', '119'),), remarks=())
    >>> rule_codes([("CARC", "96"), ("RARC", "N362")])
    RuleCodes(adjustments=(('CO', '96'),), remarks=('N362',))
    """
    reasons = list(reasons)
    grouped = {code for system, code in reasons if system in GROUPS}
    pairs: list[tuple[Group, str]] = []
    remarks: list[str] = []
    for system, code in reasons:
        if system == "RARC":
            if code not in remarks:
                remarks.append(code)
            continue
        if system == "CARC":
            if code in grouped:  # `CARC 119, PR 119`: the group entry says where it goes
                continue
            pair: tuple[Group, str] = (DEFAULT_GROUP, code)
        elif system in GROUPS:
            pair = (system, code)
        else:  # the checker admits no other system
            continue
        if pair not in pairs:
            pairs.append(pair)
    return RuleCodes(tuple(pairs), tuple(remarks)) if pairs or remarks else NO_CODES


def charge_of(value: object) -> Decimal | None:
    """A claim line's ``charge`` as an exact Decimal (800.5, not 800.4999...), or None when absent."""
    if value is None:
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)  # type: ignore[arg-type]


def line_adjustments(codes: RuleCodes, finding: str, billed: int, allowed: int,
                     charge: Decimal | None) -> tuple[tuple[Adjustment, ...], tuple[str, ...]]:
    """The adjustments and remarks of a line that was allowed `allowed` of `billed` units.

    The first (group, CARC) of the deciding rule carries the amount and units; a rule naming
    several CARCs lists the others with 0 units and 0.00 (an 835's CAS may repeat a reason with
    no money), so that the amounts always add up to the charge of the units not allowed.

    >>> adjustments, remarks = line_adjustments(RuleCodes((("CO", "96"),), ("N362",)), "F2", 2, 0, Decimal("60"))
    >>> [a.to_dict() for a in adjustments], remarks
    ([{'group': 'CO', 'carc': '96', 'amount': '60.00', 'quantity': 2, 'finding': 'F2'}], ('N362',))
    """
    quantity = billed - allowed
    amount = None if charge is None else (charge * quantity / billed).quantize(CENT, rounding=ROUND_HALF_UP)
    if not codes.adjustments:
        return (Adjustment(None, None, amount, quantity, finding),), codes.remarks
    (group, carc), *others = codes.adjustments
    nothing = None if charge is None else Decimal("0.00")
    return (Adjustment(group, carc, amount, quantity, finding),
            *(Adjustment(g, c, nothing, 0, finding) for g, c in others)), codes.remarks
