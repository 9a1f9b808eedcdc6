"""The claim contract, at the bottom of the package: what a claim may say, reading it, validating it.

`fields` lists the claim fields a policy may read, from `schemas/claim.schema.json`; `files` reads
JSON, YAML and JSON Lines (`csv_rows` flat CSV rows), each error located; `validation` checks a claim
against the schema plus the deciding policy's declared fields; `checks` compiles the schema into the
fast path's checks, so the schema stays the one definition of a valid claim. Claims in exchange
formats (837P, FHIR) are `ctsdsl.interop`'s.
"""
