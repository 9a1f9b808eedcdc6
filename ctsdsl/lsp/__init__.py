"""The policy language server (`ctsdsl lsp`) and the editor knowledge it serves.

`index` finds where every name of a policy is defined and used across its overlay chain,
`hover` and `completion` say what a name is and what may be written next, and `server`
speaks the Language Server Protocol (it alone needs the `lsp` extra: pygls and lsprotocol).
The first three import no editor library, so the package type-checks without the extra.
"""
