"""The engine: a checked policy compiled to one Python function and run on claims.

`loader` reads a policy and what it extends and checks it, `registry` finds the policy for a claim;
`compiler` (with `compiler_expressions` and `compiler_periods`) emits the function's source, which
may use only what `runtime` exports; `evaluator` runs it and combines the rules' results into a
`decision` (`unstated` for facts a claim leaves null, `adjustments` for the reason codes an 835
reports).
"""
