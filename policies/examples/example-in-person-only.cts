# ILLUSTRATION ONLY: this is NOT any real payer's terms. It shows how a payer overlay is written.
#
# An imaginary payer that follows Medicare's 2025 policy for caregiver training but keeps 2024's
# in-person-only rule: CTS furnished by telehealth is denied, whoever furnishes it. The rule
# itself is Medicare's 2024 rule (../shared/reference/cts-billing.md §1.7: 97550-97552 were not
# on the 2024 telehealth list and had to be delivered in person). The reference does not report
# any payer keeping that rule after 2024; it is an example of the kind of variation an overlay
# expresses, not a billing fact about anyone.

policy "example-in-person-only-2025" {
  title "Example payer (illustration only): Medicare 2025 with 2024's in-person-only rule for CTS"
  payer "example-in-person-only"
  version "2025.1"
  effective 2025-01-01 to 2025-12-31
  extends "medicare-cts-2025"
  changes "Illustration only, not any payer's terms: Medicare 2025, except that telehealth CTS is "
          "denied, as Medicare denied it in 2024."
}

source example_in_person_only {
  title "Illustration only, not any payer's terms: Medicare's 2024 in-person-only rule kept"
  url "docs/overlays.md"
  confidence unverified
  note "Written to illustrate overlays (docs/overlays.md); the rule is Medicare's for 2024 "
       "(reference §1.7)."
}

# Medicare 2025 denies telehealth CTS only when a therapist furnishes it outside the statutory
# waivers; this payer denies it always, as Medicare did in 2024 (telehealth_2024 is 2024's source).
override rule telehealth_not_covered {
  title "This payer keeps CTS in person: telehealth CTS is not covered"
  cites telehealth_2024, example_in_person_only
  when telehealth
  message "{line.code} by telehealth (POS {claim.place_of_service}, modifiers [{line.modifiers}]): "
          "this payer covers CTS only in person, as Medicare did in 2024. Rebill only if the "
          "session was in person."
}
