"""Property tests: random policy texts and random valid claims never crash ctsdsl or break its promises.

* A policy text mangled at random (tokens deleted, repeated, swapped, replaced; the
  file cut short) either parses or fails with a `PolicySyntaxError` whose line and
  column lie inside the text; run through the whole loader, it fails only with a
  `CtsdslError`.
* A random valid claim, built from the claim schema's fields and the codes and
  modifiers the bundled policies mention, always gets a decision that validates
  against schemas/decision.schema.json, the same decision every time (traced or
  not), with units never above those billed and amounts never negative.
* The same claim and policy always give the same decision and digests.

The example counts are kept small so the suite stays fast; `benchmarks/fuzz.py`
runs the same checks with as many examples as you ask for. (The formatter's
round-trip properties live with the formatter's tests.)
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import ctsdsl
from ctsdsl.engine.decision import claim_digest
from ctsdsl.errors import CtsdslError, PolicySyntaxError
from ctsdsl.engine.loader import load_text

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies" / "medicare"
FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- policy texts

_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*|\s+|\d{4}-\d{2}-\d{2}|\$?\d+(?:\.\d+)?|\w+|==|!=|<=|>=|.',
                    re.DOTALL)
# A top-level item starts at the beginning of a line with one of these words.
_ITEM = re.compile(r"^(?=(?:policy|source|param|table|let|rule|fee|override|disable)\b)", re.MULTILINE)


@lru_cache(maxsize=1)
def policy_pieces() -> tuple[tuple[str, str], ...]:
    """(file, text) pieces of the bundled policies: each file's header with a few of its items.

    Whole files would do, but the 2024 policy takes 30 ms to parse; windows of it keep
    each example cheap while still covering every construct the files use.
    """
    pieces = []
    for path in sorted(POLICIES.glob("*.cts")):
        items = _ITEM.split(path.read_text(encoding="utf-8"))
        head = next(i for i, item in enumerate(items) if item.startswith("policy"))
        for start in range(head + 1, len(items), 3):
            pieces.append((path.name, "".join(items[: head + 1] + items[start:start + 3])))
    return tuple(pieces)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@st.composite
def mutated_policies(draw) -> tuple[str, str]:
    """A piece of a bundled policy with a few random edits at the token level."""
    name, text = draw(st.sampled_from(policy_pieces()))
    tokens = _tokens(text)
    words = [i for i, t in enumerate(tokens) if not t.isspace()]
    for _ in range(draw(st.integers(1, 4))):
        if not words:
            break
        i = draw(st.sampled_from(words))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "truncate"]))
        if kind == "delete":
            tokens[i] = ""
        elif kind == "duplicate":
            tokens[i] = tokens[i] + " " + tokens[i]
        elif kind == "swap":
            j = draw(st.sampled_from(words))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind == "replace":
            tokens[i] = tokens[draw(st.sampled_from(words))]
        else:
            tokens = tokens[:i]
            words = [w for w in words if w < i]
    return name, "".join(tokens)


def check_policy_text(text: str) -> None:
    """It parses, or fails with a syntax error located inside the text."""
    try:
        ctsdsl.parse(text, "mutated.cts")
    except PolicySyntaxError as exc:
        lines = text.splitlines() or [""]
        assert exc.diagnostics, "a syntax error without a diagnostic"
        for d in exc.diagnostics:
            assert 1 <= d.span.line <= len(lines), (d.span, len(lines))
            assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 2, (d.span, lines[d.span.line - 1])
            assert d.render()


def check_policy_load(name: str, text: str) -> None:
    """The whole loader (parse, data files, overlays, checker) fails only with a CtsdslError."""
    try:
        load_text(text, POLICIES / name, raise_on_error=False)
    except CtsdslError as exc:
        assert exc.diagnostics and exc.render()


@FAST
@given(mutated_policies())
def test_a_mutated_policy_parses_or_fails_with_a_syntax_error_located_inside_it(case):
    check_policy_text(case[1])


@settings(FAST, max_examples=20)
@given(mutated_policies())
def test_a_mutated_policy_fails_to_load_only_with_a_ctsdsl_error(case):
    check_policy_load(*case)


def test_the_pieces_cover_every_bundled_policy_and_each_parses_unmutated():
    pieces = policy_pieces()
    assert {name for name, _ in pieces} == {p.name for p in POLICIES.glob("*.cts")}
    for _, text in pieces:
        ctsdsl.parse(text)


# ---------------------------------------------------------------- claims


@lru_cache(maxsize=1)
def policy_codes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The codes and modifiers the bundled policies mention, plus a few they do not."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in POLICIES.rglob("*") if p.suffix in (".cts", ".csv"))
    codes = sorted(set(re.findall(r"\b(?:97\d{3}|G0\d{3})\b", text)) | {"99999", "A1234"})
    modifiers = sorted(set(re.findall(r'"([A-Z0-9]{2})"', text)) | {"GP", "GO", "GN", "KX", "59", "ZZ"})
    return tuple(codes), tuple(modifiers)


def _dates(year: int):
    return st.dates(min_value=date(year, 1, 1), max_value=date(year, 12, 31)).map(str)


@st.composite
def valid_claims(draw) -> dict:
    """A claim that matches schemas/claim.schema.json, for a year a bundled policy covers."""
    codes, modifiers = policy_codes()
    # The fields follow the claim schema; test_the_claim_strategy_makes_only_valid_claims checks they do.
    year = draw(st.sampled_from([2024, 2025, 2026]))
    claim_date = draw(_dates(year))
    small = st.integers(1, 4) | st.integers(1, 999)

    def line() -> dict:
        out = {"code": draw(st.sampled_from(codes)), "units": draw(small)}
        if draw(st.booleans()):
            out["minutes"] = draw(st.integers(0, 120) | st.integers(0, 1440))
        optional = {
            "modifiers": st.lists(st.sampled_from(modifiers), max_size=4),
            "patients_represented": st.integers(1, 1000),
            "caregivers": st.integers(1, 1000),
            "patient_present": st.booleans(),
            "date_of_service": _dates(year),
        }
        for key, strategy in optional.items():
            if draw(st.booleans()):
                out[key] = draw(strategy)
        return out

    claim = {
        "id": draw(st.text(min_size=1, max_size=20)),
        "payer": "medicare",
        "date_of_service": claim_date,
        "place_of_service": draw(st.sampled_from(["11", "02", "10", "22", "12", "19"]) | st.from_regex(r"\A[0-9]{2}\Z")),
        "lines": [line() for _ in range(draw(st.integers(1, 6)))],
    }
    optional = {
        "provider_type": st.sampled_from(["therapist", "physician", "npp"]),
        "therapy_spend_to_date": st.integers(0, 10_000) | st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
        "apm_qualifying": st.booleans(),
        "documentation": st.dictionaries(
            st.sampled_from(["plan_of_care_includes_cts", "consent", "reason_without_patient", "need_for_occurrence",
                             "training_described", "caregiver_response", "impact_on_goals", "group_details"]),
            st.booleans()),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            claim[key] = draw(strategy)
    return claim


@lru_cache(maxsize=1)
def decision_validator() -> Draft202012Validator:
    with open(ROOT / "schemas" / "decision.schema.json", encoding="utf-8") as fh:
        return Draft202012Validator(json.load(fh), format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_claim(claim: dict) -> None:
    """The promises every decision keeps."""
    before = copy.deepcopy(claim)
    decision = ctsdsl.evaluate(claim)
    body = decision.to_dict()
    decision_validator().validate(body)
    assert claim == before, "the claim was modified"
    again = ctsdsl.evaluate(copy.deepcopy(claim))
    assert again == decision and again.to_dict() == body
    traced, _ = ctsdsl.compile(decision.policy.name).trace(claim)
    assert traced.to_dict() == body, "tracing decided differently"
    assert body["claim_digest"] == claim_digest(claim)
    total = Decimal("0.00")
    for line, billed in zip(decision.lines, claim["lines"]):
        assert line.units_billed == billed["units"]
        assert 0 <= line.units_allowed <= line.units_billed
        if line.status == "denied":
            assert line.units_allowed == 0 and line.allowed_amount == Decimal("0.00")
        if line.allowed_amount is not None:
            assert line.allowed_amount >= 0
            total += line.allowed_amount
    assert decision.total_allowed == total >= 0


@FAST
@given(valid_claims())
def test_a_valid_claim_gets_a_schema_valid_repeatable_decision_within_its_billed_units(claim):
    check_claim(claim)


@settings(FAST, max_examples=30)
@given(valid_claims())
def test_the_claim_strategy_makes_only_valid_claims(claim):
    ctsdsl.claims.validation.validate_claim(claim)


# ---------------------------------------------------------------- reproducibility


def _typical() -> dict:
    with open(ROOT / "examples" / "claims" / "typical.json", encoding="utf-8") as fh:
        return json.load(fh)


def test_the_same_claim_and_policy_always_give_the_same_decision():
    claim = _typical()
    first = ctsdsl.evaluate(claim)
    fresh = ctsdsl.load_policy(POLICIES / "cts-2024.cts").evaluator()  # compiled afresh, not the shared copy
    for decision in (ctsdsl.evaluate(json.loads(json.dumps(claim))), fresh.evaluate(claim)):
        assert decision.to_dict() == first.to_dict()
    assert first.policy.digest == fresh.info.digest


def test_the_claim_digest_ignores_key_order_and_format_but_not_values(tmp_path):
    claim = _typical()
    reordered = dict(reversed(list(claim.items())))
    path = tmp_path / "claim.yaml"
    path.write_text(yaml.safe_dump(claim, sort_keys=False), encoding="utf-8")
    from ctsdsl.claims.validation import load_claim_file
    from_yaml = load_claim_file(path)[0][1]
    assert claim_digest(claim) == claim_digest(reordered) == claim_digest(from_yaml)
    assert claim_digest(dict(claim, id="other")) != claim_digest(claim)
    assert claim_digest(dict(claim, id="\ud800")).startswith("sha256:")  # a lone surrogate from JSON still digests


def test_the_claim_digest_writes_a_number_by_its_value_so_800_and_800_point_0_are_one_claim():
    # Issue 16: pandas and Spark write 800.0 where a person writes 800; Python callers pass a Decimal
    claim = _typical()
    digests = {claim_digest(dict(claim, therapy_spend_to_date=spend))
               for spend in (800, 800.0, Decimal("800"), Decimal("800.00"), Decimal("8E+2"))}
    assert digests == {claim_digest(claim)}
    assert claim_digest(dict(claim, therapy_spend_to_date=800.5)) == \
        claim_digest(dict(claim, therapy_spend_to_date=Decimal("800.50")))
    assert claim_digest(dict(claim, therapy_spend_to_date=800.5)) != claim_digest(claim)
    assert claim_digest(dict(claim, therapy_spend_to_date=Decimal("1E+999999"))).startswith("sha256:")


def test_the_claim_digest_is_pinned_so_stored_decisions_can_be_matched_later():
    # If this changes, every stored decision's claim_digest stops matching its claim.
    assert claim_digest(_typical()) == "sha256:" + PINNED_TYPICAL_DIGEST


PINNED_TYPICAL_DIGEST = "df2e0b0868115c010124e7fe9d1300df78a555de9689f17824b7c1845c406740"
