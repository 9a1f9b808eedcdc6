"""Reviewing policies: the semantic diff, the claims that witness it, analysts' test cases, policy pages.

`diff` joins `diff_sides` (each version loaded and decided), `diff_structure` (what rules, parameters and
fees changed) and `witness` (claims that decide differently, built by the `witness_*` modules), and
`diff_markdown` writes it for a pull request; `testing` runs YAML cases (`case_files`, `case_runner`,
`case_report`); `docgen` writes the policy pages; `what_if` re-decides claims under a changed parameter.
"""
