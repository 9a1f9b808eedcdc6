"""Decide a Spark DataFrame of claims: the public entry point, as `api` is for single claims.

The work is `ctsdsl.scale.spark`'s; this module keeps the documented import path
(``from ctsdsl.spark import evaluate_dataframe``) apart from where the code lives.
Needs the spark extra (``pip install 'ctsdsl[spark]'``).
"""

from .scale.spark import DECISION_SCHEMA, evaluate_dataframe

__all__ = ["DECISION_SCHEMA", "evaluate_dataframe"]
