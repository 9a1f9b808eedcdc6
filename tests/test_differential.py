"""The compiled Medicare 2025 policy agrees with a hand-written evaluator on thousands of claims.

`benchmarks/handwritten_medicare2025.py` encodes the same rules by hand, from the
policy files and the billing reference rather than from the generated code. A
seeded generator builds claims that sit on every boundary the rules draw
(minutes 15/16, 37/38, 52/53; the KX threshold to the cent; POS 02 and 10;
assistant, discipline and telehealth modifiers; missing documentation; several
lines and dates), and both evaluators must give the same status, units, amount
and fired rules on every line. A disagreement prints the claim to reproduce it.
"""

from __future__ import annotations

import json
import random
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import ctsdsl
from ctsdsl.claims.validation import validate_claim

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from handwritten_medicare2025 import HandwrittenMedicare2025  # noqa: E402

SEED = 20250101
CLAIMS = 4000

CODES = ("97550", "97551", "97552", "G0539", "G0540", "G0541", "G0542", "G0543")
OTHER_CODES = ("97110", "97530", "97112", "97116", "96202")
# Minutes on each side of every unit boundary of the midpoint rule (16, 38, 53, 68, 83 in total).
MINUTES = (0, 1, 7, 8, 15, 16, 17, 22, 23, 29, 30, 31, 37, 38, 39, 45, 46, 52, 53, 54, 67, 68, 69, 82, 83, 120)
POS = ("11", "12", "02", "10", "19", "21", "22", "31", "32", "99", "03")
MODIFIERS = ("GP", "GO", "GN", "CQ", "CO", "KX", "95", "93", "59")
DOC_FLAGS = ("plan_of_care_includes_cts", "consent", "reason_without_patient", "need_for_occurrence",
             "training_described", "caregiver_response", "impact_on_goals", "group_details")
# 2025 non-facility fees per unit (RVU x $32.3465, to the cent), to put the spend right at the KX threshold.
FEES = (Decimal("52.08"), Decimal("25.55"), Decimal("22.00"))
DATES = ("2025-01-01", "2025-03-08", "2025-03-09", "2025-06-15", "2025-09-30", "2025-10-01", "2025-12-31")


def _date(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(DATES)
    return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _modifiers(rng: random.Random) -> list[str]:
    roll = rng.random()
    if roll < 0.55:  # the usual: one discipline, sometimes an assistant or KX beside it
        mods = [rng.choice(("GP", "GO", "GN"))]
        if rng.random() < 0.25:
            mods.append(rng.choice(("CQ", "CO")))
        if rng.random() < 0.25:
            mods.append("KX")
        if rng.random() < 0.1:
            mods.append(rng.choice(("95", "93")))
        return mods
    if roll < 0.65:
        return []
    return rng.sample(MODIFIERS, rng.randint(1, 4))


def _line(rng: random.Random, code: str, claim_date: str) -> dict:
    line: dict = {"code": code, "units": rng.choice((1, 1, 1, 2, 2, 3, 4, 5))}
    if code in ("97550", "G0539", "G0541") or rng.random() < 0.1:
        if rng.random() < 0.93:
            line["minutes"] = rng.choice(MINUTES)
    if rng.random() < 0.9:
        line["modifiers"] = _modifiers(rng)
    if rng.random() < 0.4:
        line["patients_represented"] = rng.choice((1, 1, 2, 3)) if code in ("97552", "G0543") \
            else rng.choice((1, 1, 1, 2))
    if rng.random() < 0.3:
        line["caregivers"] = rng.randint(1, 4)
    if rng.random() < 0.05:
        line["patient_present"] = rng.random() < 0.6
    if rng.random() < 0.08:
        line["date_of_service"] = rng.choice((claim_date, _date(rng)))
    return line


def _session(rng: random.Random, claim_date: str) -> list[dict]:
    """An initial code with its add-on (or not), a group code, or any codes at all."""
    family = rng.choice((("97550", "97551", "97552"), ("G0539", "G0540", None), ("G0541", "G0542", "G0543")))
    roll = rng.random()
    if roll < 0.5:
        lines = [_line(rng, family[0], claim_date)]
        if rng.random() < 0.7:
            addon = _line(rng, family[1], claim_date)
            addon["date_of_service"] = lines[0].get("date_of_service", claim_date) if rng.random() < 0.9 \
                else _date(rng)
            addon.pop("minutes", None) if rng.random() < 0.8 else None
            lines.append(addon)
        return lines
    if roll < 0.65 and family[2]:
        return [_line(rng, family[2], claim_date)]
    pool = CODES + OTHER_CODES
    return [_line(rng, rng.choice(pool), claim_date) for _ in range(rng.randint(1, 3))]


def _spend(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.25:
        return None
    if roll < 0.65:  # on the threshold: 2410 less some fees, give or take a cent
        owed = sum((rng.choice(FEES) * rng.randint(1, 3) for _ in range(rng.randint(1, 3))), Decimal(0))
        value = Decimal(2410) - owed + rng.choice((Decimal("-0.01"), Decimal(0), Decimal(0), Decimal("0.01")))
        return int(value) if value == value.to_integral() else float(value)
    return rng.choice((0, 800, 2409.99, 2410, 2410.01, 5000, rng.randint(0, 3000)))


def generate_claim(rng: random.Random, number: int) -> dict:
    claim_date = _date(rng)
    claim: dict = {"id": f"diff-{number}", "payer": "medicare", "date_of_service": claim_date,
                   "place_of_service": rng.choice(POS)}
    if rng.random() < 0.85:
        claim["provider_type"] = rng.choice(("therapist", "therapist", "physician", "npp"))
    for field in ("therapy_spend_to_date", "pt_slp_spend_to_date", "ot_spend_to_date"):
        spend = _spend(rng) if field == "therapy_spend_to_date" or rng.random() < 0.3 else None
        if spend is not None:
            claim[field] = spend
    if rng.random() < 0.95:
        complete = rng.random() < 0.6
        claim["documentation"] = {flag: True if complete else rng.random() < 0.85 for flag in DOC_FLAGS
                                  if complete or rng.random() < 0.95}
    lines: list[dict] = []
    sessions = 1 if rng.random() < 0.7 else rng.randint(2, 4)
    for _ in range(sessions):
        lines.extend(_session(rng, claim_date))
    if rng.random() < 0.02:  # now and then a long claim
        while len(lines) < 30:
            lines.extend(_session(rng, claim_date))
    claim["lines"] = lines
    return claim


def _comparable(decision: dict) -> dict:
    """The decision without messages and metadata: what each line gets and which rules fired."""
    rules = {f["id"]: f["rule"] for f in decision["findings"]}
    return {
        "outcome": decision["outcome"],
        "total_allowed": decision["total_allowed"],
        "claim_rules": [f["rule"] for f in decision["findings"] if f["line"] is None],
        "lines": [(ln["code"], ln["status"], ln["units_allowed"], ln["allowed_amount"],
                   [rules[fid] for fid in ln["findings"]]) for ln in decision["lines"]],
        "findings": [(f["rule"], f["severity"], f["line"]) for f in decision["findings"]],
    }


@pytest.fixture(scope="module")
def evaluators():
    compiled = ctsdsl.compile("medicare-cts-2025")
    return compiled, HandwrittenMedicare2025(compiled.info, compiled.rules)


def test_compiled_and_handwritten_agree_on_generated_claims(evaluators):
    compiled, handwritten = evaluators
    rng = random.Random(SEED)
    disagreements = []
    for number in range(CLAIMS):
        claim = validate_claim(generate_claim(rng, number))
        want = _comparable(handwritten.evaluate(claim).to_dict())
        got = _comparable(compiled.evaluate(claim).to_dict())
        if got != want:
            disagreements.append((claim, want, got))
    if disagreements:
        claim, want, got = disagreements[0]
        pytest.fail(f"{len(disagreements)} of {CLAIMS} claims disagree; the first:\n{json.dumps(claim)}\n"
                    f"hand-written: {want}\ncompiled:     {got}")


def test_generated_claims_reach_every_rule_and_status(evaluators):
    """The generator is only as good as its reach: every rule fires and every status occurs."""
    compiled, _ = evaluators
    rng = random.Random(SEED)
    fired, statuses = set(), set()
    for number in range(CLAIMS):
        decision = compiled.evaluate(generate_claim(rng, number))
        fired.update(f.rule for f in decision.findings)
        statuses.update(line.status for line in decision.lines)
    # telehealth_not_covered cannot fire in 2025: the therapists' waivers ran all year; nor can
    # code_not_in_force: every generated line is dated in 2025, when every governed code exists;
    # nor fee_unknown: CMS's 2025 file gives every governed code both totals.
    assert {r.id for r in compiled.rules} - fired == {"telehealth_not_covered", "code_not_in_force", "fee_unknown"}
    assert statuses == {"allowed", "reduced", "denied", "out_of_scope"}


@pytest.mark.parametrize("spend", [2306.82, 2306.83, 2306.81])
def test_a_spend_in_dollars_and_cents_meets_the_kx_threshold_to_the_cent(evaluators, spend):
    # 97550 (52.08) + 2 x 97551 (25.55) = 103.18; 2306.82 + 103.18 is exactly 2410, not over it.
    compiled, handwritten = evaluators
    claim = json.loads(Path(__file__).resolve().parent.parent.joinpath("examples/claims/typical.json").read_text())
    claim.update(date_of_service="2025-05-01", therapy_spend_to_date=spend)
    decision = compiled.evaluate(claim)
    assert _comparable(decision.to_dict()) == _comparable(handwritten.evaluate(claim).to_dict())
    over = any(f.rule == "kx_threshold_pt_slp" for f in decision.findings)
    assert over is (spend > 2306.82)
