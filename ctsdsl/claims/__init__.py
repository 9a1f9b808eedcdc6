"""Claims in: reading claim files and validating them against the schema of the policy that decides them.

`files` reads JSON, YAML and JSON Lines (`csv_rows` flat CSV rows), each error located; `validation`
checks a claim against the claim schema plus the deciding policy's declared fields; `checks` compiles the
schema into the fast path's checks, so the schema stays the one definition of a valid claim. Claims in
exchange formats (837P, FHIR) are `ctsdsl.interop`'s.
"""
