"""Data tables: cells are numbers only when written in ASCII digits, numbers stay within what money
arithmetic can hold, and a hostile cell is a located problem, never a crash or a gigabyte."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ctsdsl.claims.fields import INT, NUMBER, STRING

from conftest import load


def table(tmp_path, name: str, data: str, column: str = "x"):
    """A policy with table `t` keyed by code from data/NAME (holding `data`), reading `column`."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / name).write_text(data, encoding="utf-8")
    return load(f'table t from "data/{name}" key code cites s\nlet v = t[line.code].{column}\n', tmp_path,
                raise_on_error=False)


def errors(loaded) -> list[tuple[str, int, str]]:
    return [(d.source_name.rsplit("/", 1)[-1], d.span.line, d.message) for d in loaded.checked.errors]


@pytest.mark.parametrize("cell", ["1_0", "١٠", "１０", "1e5", "0x1F"])
def test_a_csv_cell_is_a_number_only_in_ascii_digits(tmp_path, cell):
    loaded = table(tmp_path, "t.csv", f"code,x\n97550,1.5\n97551,2.5\n97552,3.5\n97553,{cell}\n")
    assert errors(loaded) == [("t.csv", 5, f"column `x` holds numbers, but {cell!r} is not one")]


@pytest.mark.parametrize("cell", ["1:30", "1_0", "0x_", "0x1F", "0b11", "١٠"])
def test_a_yaml_cell_is_a_number_only_in_ascii_digits_not_base_60_hex_or_with_underscores(tmp_path, cell):
    # YAML 1.1 reads 1:30 as 90 and 1_0 as 10; `0x_` crashed the loader (issue 16)
    loaded = table(tmp_path, "t.yaml", "".join(f"- {{code: '9755{i}', x: {i}.5}}\n" for i in range(4))
                   + f"- {{code: '97554', x: {cell}}}\n")
    assert errors(loaded) == [("t.yaml", 5, f"column `x` holds numbers, but {cell!r} is not one")]


def test_a_whole_number_in_ascii_digits_is_still_a_count(tmp_path):
    loaded = table(tmp_path, "t.yaml", "- {code: '97550', x: 12}\n- {code: '97551', x: -3}\n")
    assert loaded.checked.tables["t"].columns["x"] == INT
    assert loaded.checked.tables["t"].lookup("97551")["x"] == -3


@pytest.mark.parametrize(("name", "data", "line"), [
    ("t.yaml", "- {code: '97550', x: 1.0e+999999999}\n", 1),
    ("t.yaml", "- {code: '97550', x: 1.5}\n- {code: '97551', x: 1000000000000000.0}\n", 2),
    ("t.csv", "code,x\n97550,1.5\n97551," + "9" * 40 + ".5\n", 3),
    ("t.csv", "code,x\n97550," + "1" * 5000 + "\n", 2),
])
def test_a_number_past_what_money_arithmetic_holds_is_a_problem_on_its_row(tmp_path, name, data, line):
    ((file, at, message),) = errors(table(tmp_path, name, data))
    assert (file, at) == (name, line)
    assert "numbers must be below 1,000,000,000,000,000" in message or "more than 100 digits" in message


def test_a_huge_exponent_in_the_key_column_is_refused_before_it_is_written_out(tmp_path):
    # format(Decimal("1.0e+999999999"), "f") is a billion characters: 2 GB for a 35-byte file
    ((_, line, message),) = errors(table(tmp_path, "t.yaml", "- {code: 1.0e+999999999, x: 1}\n"))
    assert line == 1 and message.startswith("column `code`: 1.0E+999999999 is too large")


def test_a_yaml_integer_of_five_thousand_digits_is_a_located_yaml_error(tmp_path):
    # int() refuses past 4300 digits with a ValueError that was an internal error
    ((file, line, message),) = errors(table(tmp_path, "t.yaml", "- code: '97550'\n  x: " + "1" * 5000 + "\n"))
    assert (file, line, message) == ("t.yaml", 2, "data file is not valid YAML: a number of more than 100 digits")


@pytest.mark.parametrize(("data", "line"), [("code,x\n97550,1.5\n97551,\"2.5\n", 3),
                                            ("code,x\n97550,\"1.5\"x\n97551,2.5\n", 2)])
def test_a_csv_quote_left_open_or_followed_by_text_is_an_error_on_the_row_it_starts(tmp_path, data, line):
    ((file, at, message),) = errors(table(tmp_path, "t.csv", data))
    assert (file, at) == ("t.csv", line) and message.startswith("data file is not valid CSV")


def test_a_table_of_very_many_columns_loads_with_every_column_typed(tmp_path):
    # The repeated-column check and the column list scanned a list per column: quadratic (issue 16).
    # At 50 000 columns that was minutes; the functional check here is that they are all typed.
    columns = [f"c{i}" for i in range(50_000)]
    loaded = table(tmp_path, "t.csv", "code," + ",".join(columns) + "\n97550," + ",".join("1.5" for _ in columns)
                   + "\n", column="c49999")
    assert loaded.checked.errors == []
    types = loaded.checked.tables["t"].columns
    assert len(types) == 50_001 and types["code"] == STRING and types["c49999"] == NUMBER
    assert loaded.checked.tables["t"].lookup("97550")["c123"] == Decimal("1.5")
