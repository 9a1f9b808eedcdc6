"""Claims in the formats billing systems exchange: X12 837P and FHIR R4 in, FHIR ClaimResponse out.

Each reader turns its format into claim dicts exactly as ``schemas/claim.schema.json`` defines
them (validated with `ctsdsl.claims.validation.validate_claim`), so the engine sees nothing new. What a
real claim does not carry (session minutes, caregivers, the record's documentation) comes from
an optional sidecar file (`records`); what it does not give is null, not stated, so a line that
rests on it is decided ``needs_record``, never denied for it (issue 17). Which payer an id
means comes from the user's payer map (`payer_map`). The line charges an 837P or a FHIR Claim carries become the lines' ``charge``
(and stay in `ReadClaim.charges`, exactly as read), so decisions' adjustments carry amounts.

The format libraries are optional extras (``pip install 'ctsdsl[x12]'``, ``'ctsdsl[fhir]'``):
importing this package needs neither; reading such a file without its extra raises a
`UsageError` that says how to install it.
"""

from .source import ReadClaim, ReadOptions, read_claims, sniff

__all__ = ["ReadClaim", "ReadOptions", "read_claims", "sniff"]
