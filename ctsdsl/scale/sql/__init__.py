"""A second backend for checked policies: SQL, built as a sqlglot tree, run on DuckDB (issue 18).

Stages, one module each: `relations` (claims as two relations), `values` and `compile`
(expressions; `calls` for function calls and messages), `plan` (a policy as views), `run`
(DuckDB and decisions), `command` (the command line).
Needs the `sql` extra (duckdb, sqlglot, pyarrow).
"""

from .errors import SqlUnsupportedError

__all__ = ["SqlUnsupportedError"]
