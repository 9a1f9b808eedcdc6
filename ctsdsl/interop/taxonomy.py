"""NUCC provider taxonomy codes to the claim's ``provider_type`` (therapist, physician, npp).

An 837P names who billed and who rendered by taxonomy (PRV03 in loops 2000A, 2310B, 2420A);
a FHIR Claim by ``careTeam.qualification`` coded in ``http://nucc.org/provider-taxonomy``.
The claim schema knows three kinds of biller, so each code maps to one of them or to nothing.

Source: the NUCC Health Care Provider Taxonomy code set, version 21.1, as HL7 publishes it in
the ValueSet ``HealthcareProviderTaxonomy`` (repository HL7/fhir-directory-attestation,
``input/fsh/examples/ValueSet-HealthcareProviderTaxonomy.fsh``), whose displays give each
code's grouping, classification and specialization. A taxonomy code's first four characters
are its classification; every code listed there under a classification below begins with the
prefix given, and no code of another classification does:

* ``2251`` Physical Therapist (225100000X and its specializations 2251C2600X ... 2251X0800X),
  ``225X`` Occupational Therapist (225X00000X, 225XE0001X ... 225XR0403X) and ``235Z``
  Speech-Language Pathologist (235Z00000X): therapist. Their assistants (225200000X PTA,
  224Z00000X OTA, 2355S0801X SLP assistant) are not: they do not bill on their own.
* ``20`` the whole grouping "Allopathic & Osteopathic Physicians" (202C00000X ... 209800000X;
  the codes before are 19xx groups, after them 211D00000X podiatric): physician.
* ``363L`` Nurse Practitioner, ``363A`` Physician Assistant, ``364S`` Clinical Nurse
  Specialist: npp (the non-physician practitioners of Medicare's physician fee schedule).

Not mapped, on purpose: certified nurse-midwives, clinical psychologists and social workers,
and every organisation code (a 261Q clinic, an agency). Whether a policy treats them as one of
the three is the payer's word, not the code set's: a payer map may add them
(``taxonomies:``, see `payer_map`).
"""

from __future__ import annotations

import re
from typing import Literal

ProviderType = Literal["therapist", "physician", "npp"]
PROVIDER_TYPES: tuple[ProviderType, ...] = ("therapist", "physician", "npp")

NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"

# (prefix, provider type, NUCC classification or grouping), longest prefixes first.
NUCC_PREFIXES: tuple[tuple[str, ProviderType, str], ...] = (
    ("2251", "therapist", "Physical Therapist"),
    ("225X", "therapist", "Occupational Therapist"),
    ("235Z", "therapist", "Speech-Language Pathologist"),
    ("363L", "npp", "Nurse Practitioner"),
    ("363A", "npp", "Physician Assistant"),
    ("364S", "npp", "Clinical Nurse Specialist"),
    ("20", "physician", "Allopathic & Osteopathic Physicians"),
)

is_taxonomy_code = re.compile(r"[0-9]{3}[0-9A-Z]{6}X").fullmatch


def provider_type(code: str, additions: dict[str, ProviderType] | None = None) -> ProviderType | None:
    """The provider type a taxonomy code means, or None when ctsdsl does not map it.

    The payer map's additions come first, so a team can map a code the table leaves out.

    >>> provider_type("225100000X"), provider_type("207Q00000X"), provider_type("363LF0000X")
    ('therapist', 'physician', 'npp')
    >>> provider_type("261QP2000X") is None
    True
    """
    if additions and code in additions:
        return additions[code]
    return next((kind for prefix, kind, _ in NUCC_PREFIXES if code.startswith(prefix)), None)
