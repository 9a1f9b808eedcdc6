"""The claim digest is one function of the claim's values, whichever encoder computes it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctsdsl.engine import decision
from ctsdsl.engine.decision import claim_digest

orjson = pytest.importorskip("orjson")

ROOT = Path(__file__).resolve().parent.parent

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
           | st.decimals(allow_nan=False, allow_infinity=False, places=2))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


def canonical(claim) -> str:
    """The digest as the standard library's encoder computes it, orjson hidden."""
    saved, decision.orjson = decision.orjson, None
    try:
        return claim_digest(claim)
    finally:
        decision.orjson = saved


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=6), values, max_size=6))
def test_the_fast_and_the_canonical_encoder_give_one_digest(claim):
    assert claim_digest(claim) == canonical(claim)


def test_an_example_claim_is_digested_by_orjson_and_matches_the_pinned_digest(monkeypatch):
    claim = json.loads((ROOT / "examples" / "claims" / "typical.json").read_text(encoding="utf-8"))
    calls = []
    real = orjson.dumps
    monkeypatch.setattr(decision.orjson, "dumps", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert claim_digest(claim) == canonical(claim)
    assert calls  # the usual claim takes the fast path


@pytest.mark.parametrize("claim", [
    {"id": "é"}, {"id": "\x00\n\t\"\\"}, {"id": "\udc80"}, {"n": 2 ** 80}, {"n": 800.0}, {"n": 1e16},
    {"n": Decimal("800.00")}, {"b": True, "a": [1, {"z": None, "y": 2}]},
    {"n": 1500.5}, {"n": [-2.25, 0.0001, 9999999999999998.0]}, {"n": 1e-05}, {"n": 1.5e16}, {"n": 1e20},
    {"n": float("nan")}, {"n": float("-inf")}, {"n": 0.1, "d": Decimal("0.1")}, {"\x7f": None}, {"id": "a\x7fb"},
])
def test_what_orjson_writes_otherwise_or_refuses_takes_the_canonical_encoder(claim):
    # Floats by value from 1e-4 to 1e16 go through orjson too (written as Python writes them); the rest not.
    assert claim_digest(claim) == canonical(claim)
