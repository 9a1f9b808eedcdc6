"""Deciding many claims: `batch` (files of claims over worker processes, `pool` and `output`), `spark`
(DataFrames), `sql` (a policy compiled to SQL and run on DuckDB), and `decision_encoder`, which writes
decision JSON straight from the rules' results.
"""
