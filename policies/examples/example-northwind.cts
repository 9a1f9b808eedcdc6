# ILLUSTRATION ONLY: this is NOT any real payer's terms. "Northwind" is not a real payer.
#
# An imaginary commercial payer that follows Medicare's 2025 policy for caregiver training with
# six terms of its own, made up (in issue 15) to show what a payer overlay can say as data alone:
# a claim field of its own (a prior-authorization number), a limit that counts only lines not
# already denied (a rule in a later stage), a share of Medicare's amount at one rate, and three
# ordinary denials. The share, the codes and the limits are the illustration's, not billing facts
# from ../shared/reference/cts-billing.md; where a reason code's meaning comes from that
# reference, the comment beside it says so.

policy "example-northwind-2025" {
  title "Northwind (illustration only, not a real payer): Medicare 2025 with six made-up terms"
  payer "example-northwind"
  version "2025.1"
  effective 2025-01-01 to 2025-12-31
  extends "medicare-cts-2025"
  changes "Illustration only, not any payer's terms: a prior-authorization number on every CTS "
          "line; one unit of 97551 a claim; 110% of Medicare's amount at the non-facility rate; no "
          "telehealth; three patients for group CTS; therapists only."
}

source example_northwind {
  title "Illustration only, not any payer's terms: the made-up Northwind manual of issue 15"
  url "docs/overlays.md"
  confidence unverified
  note "Northwind is not a real payer; its terms were made up to exercise the language."
}

# A field Medicare's claims do not carry: a Medicare claim is valid without it, and a Northwind
# claim may give it on any line.
field line.prior_auth_number {
  title "Northwind's prior-authorization number for the line (illustration only)"
  type string matching "^[A-Z0-9-]{4,30}$"
  example "NW-2025-0001"
  cites example_northwind
}

# Medicare's stages, and one after them for the claim's own limits: they count what the
# service and session rules left.
stages service, session, claim_limits

param northwind_share_of_medicare: number = 1.10 cites example_northwind

# Term 1. CARC 197 (authorization absent) is the illustration's choice; the reference has no row
# for it (§7), so it is no statement of what a real payer returns.
rule prior_auth_missing {
  title "Every CTS line needs Northwind's prior-authorization number"
  cites example_northwind
  applies to line
  when missing(line.prior_auth_number)
  deny
  reason CARC 197
  message "{line.code} has no prior_auth_number; Northwind pays CTS only under a prior "
          "authorization: give its number on the line."
}

# Term 2. Units past the cap are cut from the later lines first; a line denied by an earlier
# stage (no authorization, say) uses none of the unit.
let addon_units_on_claim_before = sum(o.units_allowed for o in claim.lines
                                      where o.code == "97551"
                                            and not o.denied
                                            and o.index < line.index)

rule one_97551_unit_per_claim {
  title "At most one unit of 97551 a claim"
  cites example_northwind
  stage claim_limits
  applies to line where line.code == "97551" and not line.denied
  when line.units_allowed > 1 - addon_units_on_claim_before
  reduce units to 1 - addon_units_on_claim_before
  message "Northwind pays one unit of 97551 a claim; {addon_units_on_claim_before} allowed on "
          "earlier lines, so line {line.index} is allowed "
          "{max(0, 1 - addon_units_on_claim_before)} of its {line.units}."
}

# Term 3. The non-facility total whatever the place of service, then the share.
override let setting_rvu = rvu[line.code].total_nf

override fee physician_fee_schedule {
  title "110% of Medicare's non-facility amount"
  cites example_northwind
  amount round(inherited * northwind_share_of_medicare, 2)
}

# Term 4. CARC 5's text is verified in the reference (§7); its use for telehealth is not, and
# here it is the illustration's choice.
rule no_telehealth {
  title "Northwind does not pay CTS by telehealth"
  cites example_northwind
  applies to line
  when telehealth
  deny
  reason CARC 5
  message "{line.code} by telehealth (POS {claim.place_of_service}, modifiers [{line.modifiers}]): "
          "Northwind pays CTS only in person."
}

# Term 5. Stricter than Medicare's two (group_needs_two_patients still applies).
rule group_needs_three_patients {
  title "Group CTS needs at least three patients represented"
  cites example_northwind
  applies to line where role == "group"
  when line.patients_represented < 3
  deny
  # CARC 16, as Medicare's group rules here use it (our reading, cts-2024.cts).
  reason CARC 16
  message "{line.code} represents {line.patients_represented} patient(s); Northwind pays group CTS "
          "only for three or more patients represented."
}

# Term 6.
rule therapists_only {
  title "Only therapists may bill CTS to Northwind"
  cites example_northwind
  applies to line
  when not therapist
  deny
  # No reason code: the reference confirms none for this case (§7).
  message "{line.code} is billed by a {claim.provider_type}; Northwind pays CTS billed by a "
          "therapist (PT, OT or SLP) only."
}
