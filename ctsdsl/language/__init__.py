"""The policy language: text to a checked syntax tree.

`grammar.lark` (and Lark's cached tables, `grammar-tables.json`) → `parser` → `transformer` → the frozen
`nodes` tree; `printer` and `formatter` print it back; `checker` (with `checker_expressions` and
`checker_hints`) validates it against the claim `fields` and the built-in `functions`. Nothing here runs
a claim: that is `ctsdsl.engine`.
"""
