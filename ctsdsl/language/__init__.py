"""The policy language: a policy file's text to a checked syntax tree.

`source` reads the text within the limits; `parser` drives Lark over `grammar.lark` (with Lark's cached
tables, `grammar-tables.json`) and `transformer` builds the frozen `nodes` tree; `printer` and
`formatter` print it back; `overlay` merges an overlay onto the policies it `extends` and `tables`
reads the data files beside a policy; `checker` (with `checker_expressions` and `checker_hints`)
validates the whole against the claim fields and the built-in `functions`. Nothing here runs a claim:
that is `ctsdsl.engine`.
"""
