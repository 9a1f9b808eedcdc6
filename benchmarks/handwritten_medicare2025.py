"""Medicare CTS 2025, written by hand: the yardstick for the compiled policy.

This is the plain Python a person would write from `policies/medicare/cts-2024.cts`,
`cts-2025.cts` and `/work/shared/reference/cts-billing.md`, without looking at
what the compiler generates. It reads the same data files, applies the same
rules in the same order and builds the same `Decision`, so that two things can
be checked against it:

* correctness: `tests/test_differential.py` runs both on thousands of claims;
* speed: `benchmarks/bench_eval.py` times both (the compiled one's target is
  at most twice this one's time).

Finding metadata (title, citation, sources, origin) is descriptive text, not
logic; pass the compiled evaluator's `rules` to reuse it, so both decisions
carry identical findings. Without it, findings carry the rule id only.
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ctsdsl.engine.decision import Decision, Finding, LineDecision, PolicyInfo

DATA = Path(__file__).resolve().parent.parent / "policies" / "medicare" / "data"

GOVERNED = frozenset(("97550", "97551", "97552", "G0539", "G0540", "G0541", "G0542", "G0543"))
CONVERSION_FACTOR = Decimal("32.3465")  # CY2025, reference §2.5
ASSISTANT_FACTOR = Decimal("0.85")  # CQ/CO, reference §1.10
KX_PT_SLP = Decimal("2410")  # reference §1.11 (likely)
KX_OT = Decimal("2410")
FACILITY_POS = frozenset(("02", "19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53",
                          "56", "61"))
TELEHEALTH_POS = frozenset(("02", "10"))
TELEHEALTH_MODIFIERS = frozenset(("95", "93"))
DISCIPLINES = frozenset(("GP", "GO", "GN"))
# PT/OT/SLP telehealth waivers (reference §2.6): (first day, last day) they ran.
WAIVERS = (("2024-01-01", "2025-09-30"), ("2025-10-01", "2026-01-30"), ("2026-01-31", "2026-02-02"),
           ("2026-02-03", "2027-12-31"))
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# The rules in the policy's order; the numbers matter only for the finding order. code_not_in_force
# is listed for its place only: this evaluator decides claims whose lines all fall in 2025, when
# every governed code exists, so it never fires here.
RULES = ("patient_present", "code_not_in_force", "telehealth_not_covered", "consent_not_documented",
         "plan_of_care_missing",
         "reason_without_patient_missing", "need_for_occurrence_missing", "training_not_described",
         "caregiver_response_missing", "impact_on_goals_missing", "group_details_missing", "discipline_modifier",
         "assistant_modifier_mismatch", "addon_without_primary", "initial_minutes_missing", "initial_too_short",
         "addon_units_from_minutes", "mue_exceeded", "group_needs_two_patients", "group_one_unit_per_session",
         "individual_code_for_group", "same_day_individual_and_group",
         "kx_threshold_pt_slp", "kx_threshold_ot", "kx_spend_not_by_discipline", "no_mppr", "fee_unknown",
         "addon_units_shared_across_lines")
SEVERITY = {rule: "deny" for rule in RULES}
SEVERITY.update(initial_too_short="reduce", addon_units_from_minutes="reduce", group_one_unit_per_session="reduce",
                addon_units_shared_across_lines="reduce",
                same_day_individual_and_group="warn",
                kx_spend_not_by_discipline="warn", no_mppr="info",
                fee_unknown="info")
# Documentation every line needs, after consent and the plan of care: (rule, flag, what is missing).
DOC_RULES = (
    ("reason_without_patient_missing", "reason_without_patient",
     " is not billable until the record says why the caregiver is trained without the patient present: "
     "add that reason to the note."),
    ("need_for_occurrence_missing", "need_for_occurrence",
     " is not billable until the record shows why this session was reasonable and necessary: "
     "document the need for this occurrence."),
    ("training_not_described", "training_described",
     " is not billable until the record describes the strategies and techniques trained."),
    ("caregiver_response_missing", "caregiver_response",
     " is not billable until the record documents the caregiver's response to the training."),
    ("impact_on_goals_missing", "impact_on_goals",
     " is not billable until the record ties the training to the patient's treatment goals (the training must "
     "be congruent with the plan and aimed at the patient's outcomes)."),
)


def _read_dated(path: Path, effective_on: str) -> dict[str, dict]:
    """The rows of a dated CSV in force on a date: the newest per code not after it."""
    best: dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["effective_from"] <= effective_on and row["effective_from"] >= best.get(
                    row["code"], {}).get("effective_from", ""):
                best[row["code"]] = row
    return best


def _decimal(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _load_2025() -> tuple[dict, dict]:
    # Every 2025 row takes effect on 2025-01-01, so the rows in force on the last day serve the whole year.
    mues = {code: (int(row["max_units"]), int(row["mai"]))
            for code, row in _read_dated(DATA / "mue.csv", "2025-12-31").items()}
    codes = {}
    for code, row in _read_dated(DATA / "codes.csv", "2025-12-31").items():
        codes[code] = (row["role"], row["primary"] or None, int(row["unit_minutes"]) if row["unit_minutes"] else None,
                       mues.get(code))
    rvus = {code: (_decimal(row["total_nf"]), _decimal(row["total_f"]))
            for code, row in _read_dated(DATA / "rvu.csv", "2025-12-31").items()}
    return codes, rvus


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _midpoint(minutes: int, unit: int) -> int:
    """AMA midpoint rule: a unit once its midpoint is passed (16 of 30, 8 of 15)."""
    threshold = unit // 2 + 1
    return 0 if minutes < threshold else (minutes - threshold) // unit + 1


def _money(value):
    return Decimal(repr(value)) if isinstance(value, float) else value


def _show(value) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return "(none)" if value is None else str(value)


class HandwrittenMedicare2025:
    """Decides a claim under Medicare CTS 2025, the way a person would write it."""

    def __init__(self, info: PolicyInfo | None = None, rule_meta: list | None = None) -> None:
        """Args:
            info: The `PolicyInfo` decisions report (a placeholder if not given).
            rule_meta: The compiled evaluator's `rules` (RuleInfo list), to copy finding metadata from.
        """
        self.codes, self.rvus = _load_2025()
        self.info = info or PolicyInfo("medicare-cts-2025", "medicare", "2025.3", "2025-01-01", "2025-12-31", "")
        # rule id -> (severity, title, citation, reasons, sources, origin)
        self.meta = {r: (SEVERITY[r], "", "", (), (), None) for r in RULES}
        for r in rule_meta or ():
            self.meta[r.id] = (r.severity, r.title, r.citation, r.reasons, r.sources, r.origin)
        self.fee_cache: dict[tuple[str, bool, bool], Decimal] = {}  # (code, facility, assistant) -> fee

    def _kx_fee(self, code: str, facility: bool, assistant: bool) -> Decimal | None:
        """What the fee schedule allows one unit of `code` in this setting, for the KX sums."""
        key = (code, facility, assistant)
        fee = self.fee_cache.get(key)
        if fee is None:
            rvu = self.rvus.get(code)
            if rvu is None or rvu[1 if facility else 0] is None:
                return None
            fee = _cents(rvu[1 if facility else 0] * CONVERSION_FACTOR)
            fee = self.fee_cache[key] = _cents(fee * ASSISTANT_FACTOR) if assistant else fee
        return fee

    def evaluate(self, claim: dict) -> Decision:
        """Decide one (valid) claim."""
        lines = claim["lines"]
        dos = claim["date_of_service"]
        pos = claim["place_of_service"]
        therapist = claim.get("provider_type", "therapist") == "therapist"
        doc = claim.get("documentation") or {}
        spend = claim.get("therapy_spend_to_date")
        # Each threshold reads its own spend when the claim gives one, else the shared figure.
        pt_slp_spend, ot_spend = (_money(claim.get(field, spend)) for field in ("pt_slp_spend_to_date",
                                                                                 "ot_spend_to_date"))
        facility = pos in FACILITY_POS
        codes = self.codes

        # One pass over the lines for what other lines' rules need to know.
        dates = [ln.get("date_of_service", dos) for ln in lines]
        present: set[tuple[str, str]] = set()
        minutes: dict[tuple[str, str], int] = {}
        units_on: dict[tuple[str, str], int] = {}  # what a date-of-service MUE (MAI 2, 3) counts
        initial_dates: dict[str, set[str]] = {}  # date -> initial codes billed on it
        pt_slp_fees = ot_fees = 0
        for ln, day in zip(lines, dates):
            code = ln["code"]
            present.add((code, day))
            minutes[code, day] = minutes.get((code, day), 0) + (ln.get("minutes") or 0)
            units_on[code, day] = units_on.get((code, day), 0) + ln["units"]
            row = codes.get(code)
            if row is not None and row[0] == "initial":
                initial_dates.setdefault(day, set()).add(code)
            mods = ln.get("modifiers", ())
            if mods and (fee := self._kx_fee(code, facility, "CQ" in mods or "CO" in mods)) is not None:
                if "GP" in mods or "GN" in mods:
                    pt_slp_fees += fee * ln["units"]
                if "GO" in mods:
                    ot_fees += fee * ln["units"]

        findings: list[tuple[str, int | None, str]] = []
        governed = [ln["code"] in GOVERNED for ln in lines]
        if (any(governed) and spend is not None and "pt_slp_spend_to_date" not in claim
                and "ot_spend_to_date" not in claim
                and any("GP" in ln.get("modifiers", ()) or "GN" in ln.get("modifiers", ()) for ln in lines)
                and any("GO" in ln.get("modifiers", ()) for ln in lines)):
            findings.append(("kx_spend_not_by_discipline", None, "This claim has PT/SLP and OT lines but one "
                             f"therapy_spend_to_date (${_show(_money(spend))}), so it was used for both KX "
                             "thresholds, which Medicare tracks apart. Give pt_slp_spend_to_date and "
                             "ot_spend_to_date to test each threshold on its own spend."))
        if any(governed):
            findings.append(("no_mppr", None, "CTS lines are paid in full: the therapy MPPR does not reduce them "
                                              "(MULT PROC indicator 0 in CMS's 2024 and 2026 fee schedule files; "
                                              "the 2025 indicator was not found and is taken to be the same)."))
        n = len(lines)
        denied = [False] * n
        allowed = [ln["units"] for ln in lines]

        def deny(rule: str, i: int, message: str) -> None:
            findings.append((rule, i, message))
            denied[i] = True

        def reduce(rule: str, i: int, units: int, message: str) -> None:
            if units < lines[i]["units"]:
                findings.append((rule, i, message))
                allowed[i] = min(allowed[i], units)

        for i, ln in enumerate(lines):
            if not governed[i]:
                continue
            code, day, units = ln["code"], dates[i], ln["units"]
            mods = ln.get("modifiers", ())
            mod_text = ", ".join(mods) or "none"
            patients = ln.get("patients_represented", 1)
            role, primary, unit_minutes, mue = codes.get(code, ("none", None, None, None))

            if ln.get("patient_present", False):
                deny("patient_present", i, f"{code} is defined as training without the patient present; with the "
                     "patient present, bill the treatment code for the activity (for example 97530 or 97535).")
            telehealth = pos in TELEHEALTH_POS or any(m in TELEHEALTH_MODIFIERS for m in mods)
            if telehealth and therapist and not any(a <= day <= b for a, b in WAIVERS):
                deny("telehealth_not_covered", i, f"{code} by telehealth (POS {pos}, modifiers [{mod_text}]) on "
                     f"{day}: a PT, OT or SLP may furnish telehealth only while the statutory waivers are in force.")
            if not doc.get("consent", False):
                deny("consent_not_documented", i, "Consent of the patient or representative to caregiver training "
                     f"is not documented; verbal consent is acceptable from 2025, but it must be recorded before "
                     f"billing {code}.")
            if therapist and not doc.get("plan_of_care_includes_cts", False):
                deny("plan_of_care_missing", i, "The therapy plan of care does not include caregiver training; "
                     f"update the plan of care before billing {code}.")
            for rule, flag, text in DOC_RULES:
                if not doc.get(flag, False):
                    deny(rule, i, code + text)
            if role == "group" and not doc.get("group_details", False):
                deny("group_details_missing", i, f"{code} is not billable until the record documents the group: "
                     "the patients represented and the caregivers trained.")
            if therapist and sum(m in DISCIPLINES for m in mods) != 1:
                deny("discipline_modifier", i, f"Line {i} ({code}) has modifiers [{mod_text}]; a therapist's CTS "
                     "line needs exactly one of GP (PT), GO (OT) or GN (SLP).")
            if ("CQ" in mods and "GP" not in mods) or ("CO" in mods and "GO" not in mods):
                deny("assistant_modifier_mismatch", i, f"Line {i} ({code}) has modifiers [{mod_text}]: CQ is for "
                     "PTAs under a PT plan (with GP) and CO for OTAs under an OT plan (with GO); SLP has no "
                     "assistant modifier.")
            if role == "addon" and (primary, day) not in present:
                deny("addon_without_primary", i, f"{code} on {day} has no {primary} for the same date on this "
                     f"claim; bill {primary} for the first 30 minutes, or remove {code}.")
            if role == "initial":
                line_minutes = ln.get("minutes")
                if line_minutes is None:
                    deny("initial_minutes_missing", i, f"{code} has no minutes; give the total face-to-face "
                         f"minutes of the session on the {code} line.")
                else:
                    units_for_time = min(1, _midpoint(line_minutes, unit_minutes))
                    reduce("initial_too_short", i, units_for_time, f"{code} allows {units_for_time} unit for "
                           f"{line_minutes} minutes: it needs at least 16 minutes and is reported once per session.")
            if role == "addon" and primary in codes:
                session = minutes.get((primary, day), 0)
                addon_units = _midpoint(max(0, session - codes[primary][2]), unit_minutes)
                reduce("addon_units_from_minutes", i, addon_units, f"{session} session minutes support "
                       f"{addon_units} unit(s) of {code} (the first at 38 minutes, one more per 15); {units} billed.")
            if mue is not None:
                limit, mai = mue
                counted = units if mai == 1 else units_on[code, day]
                if counted > limit:
                    what = "this line's units" if mai == 1 else "all its lines on the date, counted together"
                    deny("mue_exceeded", i, f"{counted} units of {code} on {day} exceed its MUE of {limit} (MAI "
                         f"{mai}: {what}); the line is denied and cannot be billed to the beneficiary.")
            if role == "group":
                if patients < 2:
                    deny("group_needs_two_patients", i, f"{code} represents {patients} patient; group CTS needs two "
                         "or more patients represented (the number of caregivers does not matter). Bill the "
                         "individual codes instead.")
                reduce("group_one_unit_per_session", i, 1, f"{code} is reported once per group session; {units} "
                       "units billed on one line.")
            if role in ("initial", "addon") and patients > 1:
                deny("individual_code_for_group", i, f"{code} represents {patients} patients; training for several "
                     "patients' caregivers is group CTS, billed with the group code.")
            if role == "group" and initial_dates.get(day, set()) - {code}:
                findings.append(("same_day_individual_and_group", i, f"{code} is billed on the same date as an "
                                 "individual CTS code; CMS's NCCI edits do not pair them, and no CMS source says "
                                 "more. Check that they were separate sessions."))
            if "KX" not in mods:
                if (pt_slp_spend is not None and ("GP" in mods or "GN" in mods)
                        and pt_slp_spend + pt_slp_fees > KX_PT_SLP):
                    deny("kx_threshold_pt_slp", i, f"PT/SLP spend of ${_show(pt_slp_spend)} plus this claim's "
                         f"${_show(pt_slp_fees)} passes the PT/SLP threshold of ${KX_PT_SLP}; add KX when the "
                         "services are medically necessary.")
                if ot_spend is not None and "GO" in mods and ot_spend + ot_fees > KX_OT:
                    deny("kx_threshold_ot", i, f"OT spend of ${_show(ot_spend)} plus this claim's "
                         f"${_show(ot_fees)} passes the OT threshold of ${KX_OT}; add KX when the services are "
                         "medically necessary.")
            rvu = self.rvus.get(code)
            if rvu is None or rvu[1 if facility else 0] is None:
                findings.append(("fee_unknown", i, f"No {'facility' if facility else 'non-facility'} RVU total "
                                 f"for {code} on {day} is in the policy's data, so its fee is unknown: an "
                                 "allowed line's amount is null (unknown), not zero; a denied line is allowed "
                                 "nothing."))

        # The policy's second stage: lines of one add-on code on one date share the units their
        # session supports, in line order, a line denied above counting for none of them.
        before_stage = (denied[:], allowed[:])
        for i, ln in enumerate(lines):
            code = ln["code"]
            role, primary, unit_minutes, _ = codes.get(code, ("none", None, None, None))
            if not governed[i] or role != "addon" or primary not in codes or before_stage[0][i]:
                continue
            day = dates[i]
            before = sum(before_stage[1][j] for j in range(i)
                         if lines[j]["code"] == code and dates[j] == day and not before_stage[0][j])
            if before > 0:
                session = minutes.get((primary, day), 0)
                supported = _midpoint(max(0, session - codes[primary][2]), unit_minutes)
                reduce("addon_units_shared_across_lines", i, max(0, supported - before),
                       f"{session} session minutes on {day} support {supported} unit(s) of {code}; earlier lines "
                       f"of the code on that date were allowed {before}, which leaves line {i} "
                       f"{max(0, supported - before)} of the {ln['units']} billed.")
        return self._decision(claim, findings, governed, denied, allowed, facility)

    def _decision(self, claim: dict, raw: list, governed: list, denied: list, allowed: list,
                  facility: bool) -> Decision:
        lines = claim["lines"]
        # `evaluate` appends findings line by line in rule order, the claim's own first.
        findings = []
        on_line: list[list[str]] = [[] for _ in lines]
        for number, (rule, line, message) in enumerate(raw, 1):
            fid = f"F{number}"
            severity, title, citation, reasons, sources, origin = self.meta[rule]
            findings.append(Finding(fid, rule, severity, line, message, citation, reasons, sources, title, origin))
            if line is None:
                for i, g in enumerate(governed):
                    if g:
                        on_line[i].append(fid)
            else:
                on_line[line].append(fid)

        out = []
        total = ZERO
        n_denied = n_reduced = n_governed = 0
        for i, ln in enumerate(lines):
            code, billed = ln["code"], ln["units"]
            if not governed[i]:
                out.append(LineDecision(i, code, "out_of_scope", billed, billed, None, tuple(on_line[i])))
                continue
            n_governed += 1
            units = 0 if denied[i] else allowed[i]
            if units <= 0:
                status, units, amount = "denied", 0, ZERO
                n_denied += 1
            else:
                if units < billed:
                    status = "reduced"
                    n_reduced += 1
                else:
                    status = "allowed"
                rvu = self.rvus.get(code)
                rate = None if rvu is None else rvu[1 if facility else 0]
                if rate is None:
                    amount = None
                else:
                    mods = ln.get("modifiers", ())
                    fee = _cents(rate * CONVERSION_FACTOR)
                    if "CQ" in mods or "CO" in mods:
                        fee = _cents(fee * ASSISTANT_FACTOR)
                    amount = fee * units
            if amount is not None:
                total += amount
            out.append(LineDecision(i, code, status, billed, units, amount, tuple(on_line[i])))
        if n_governed and n_denied == n_governed:
            outcome = "deny"
        elif n_denied or n_reduced:
            outcome = "partial"
        else:
            outcome = "pay"
        return Decision(claim["id"], self.info, outcome, tuple(out), tuple(findings), total)
