"""The SQL compiler's reading of NULL as false (`values.is_true`): written only where a NULL can reach it."""

from __future__ import annotations

import itertools

import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

from sqlglot import exp  # noqa: E402

from ctsdsl.claims.fields import CLAIM, DOCUMENTATION, LINE, Field, catalogue  # noqa: E402
from ctsdsl.scale.sql.values import col, is_true, lit, never_null, present  # noqa: E402

ALWAYS = Field("code", "string", always=True)
SOMETIMES = Field("minutes", "int", optional=True)


def test_a_required_field_or_one_with_a_default_is_always_there_and_an_optional_one_is_not():
    fields = catalogue()
    assert fields[CLAIM]["place_of_service"].always and fields[CLAIM]["provider_type"].always
    assert fields[LINE]["modifiers"].always and fields[LINE]["date_of_service"].always  # the claim's when absent
    assert fields[DOCUMENTATION]["consent"].always  # null in the schema, but read as its default false
    assert not fields[CLAIM]["therapy_spend_to_date"].always and not fields[LINE]["minutes"].always


def test_a_test_of_columns_always_there_is_not_coalesced_and_one_of_an_optional_column_is():
    code, minutes = present(col("l", "l_code"), ALWAYS), present(col("l", "l_minutes"), SOMETIMES)
    assert never_null(exp.In(this=code, expressions=[lit("97550")]))
    assert is_true(exp.EQ(this=code, expression=lit("97550"))).sql() == "(l.l_code = '97550')"
    assert not never_null(exp.GT(this=minutes, expression=lit(15)))
    assert is_true(exp.GT(this=minutes, expression=lit(15))).sql() == "COALESCE(l.l_minutes > 15, FALSE)"
    # AND with a NULL side may be NULL; OR of a COALESCE and anything that is never NULL is not.
    assert not never_null(exp.And(this=code, expression=minutes))
    assert never_null(exp.Or(this=is_true(minutes), expression=exp.Is(this=minutes, expression=exp.Null())))


def test_not_over_a_condition_left_bare_keeps_its_parentheses():
    a, b = (exp.Is(this=exp.column(x), expression=exp.Null()) for x in ("a", "b"))
    both = exp.And(this=a, expression=b)
    assert exp.Not(this=is_true(both)).sql() == "NOT (a IS NULL AND b IS NULL)"


@pytest.mark.parametrize("shape", ["and", "or", "not", "eq", "in"])
def test_every_form_left_bare_is_what_its_coalesced_form_is_on_every_mix_of_null_and_not(shape):
    con = duckdb.connect()
    x, y = exp.column("x"), exp.column("y")
    made = {"and": lambda p, q: exp.And(this=is_true(p), expression=is_true(q)),
            "or": lambda p, q: exp.Or(this=is_true(p), expression=is_true(q)),
            "not": lambda p, q: exp.Not(this=is_true(exp.And(this=is_true(p), expression=is_true(q)))),
            "eq": lambda p, q: exp.NullSafeEQ(this=p, expression=q),
            "in": lambda p, q: exp.In(this=p, expressions=[q])}[shape]
    bare, guarded = is_true(made(x, y)), exp.Coalesce(this=made(x, y), expressions=[exp.false()])
    for xv, yv in itertools.product([True, False, None], repeat=2):
        row = con.execute(f"SELECT {bare.sql('duckdb')}, {guarded.sql('duckdb')} FROM (SELECT ?::BOOLEAN AS x, "
                          "?::BOOLEAN AS y)", [xv, yv]).fetchone()
        assert row[0] == row[1], (shape, xv, yv)
