# ILLUSTRATION ONLY: this is NOT any real payer's terms. It shows how a payer overlay is written.
#
# An imaginary payer that follows Medicare's 2025 policy for caregiver training with two changes:
#
# 1. It pays a share of Medicare's allowed amount. ../shared/reference/cts-billing.md reports no
#    payer's percentage (nor any payer paying a percentage of Medicare), so the share is 100%, a
#    placeholder that leaves Medicare's amounts unchanged: a real overlay would set its contract's
#    figure, cite the contract, and pin the arithmetic in its cases. The cases here pin it with a
#    what-if value (`params`), which is a test input, not a billing fact.
# 2. It requires two or more caregivers on a group (97552) line. Page 003, as the reference
#    reports it (§8.2), claims 97552 needs at least two caregivers; the reference marks that as
#    contradicting the CMS FAQ (for Medicare, a group is decided by patients represented, and
#    Medicare's rule group_needs_two_patients still applies here). A payer could still choose the
#    stricter rule, which is what this illustration shows; the source is marked unverified.

policy "example-percent-of-medicare-2025" {
  title "Example payer (illustration only): a share of Medicare 2025, and two caregivers for 97552"
  payer "example-percent-of-medicare"
  version "2025.1"
  effective 2025-01-01 to 2025-12-31
  extends "medicare-cts-2025"
  changes "Illustration only, not any payer's terms: Medicare 2025's amounts times a share "
          "(shipped as 100%), and group CTS denied with fewer than two caregivers."
}

source example_percent_of_medicare {
  title "Illustration only, not any payer's terms: a share of Medicare's amount"
  url "docs/overlays.md"
  confidence unverified
  note "The reference gives no payer's percentage, so the share is a 100% placeholder."
}

source page_003_group_caregivers {
  title "medpayiq.com/cpt/97552 (page 003): claims 97552 needs two or more caregivers; unverified"
  url "https://medpayiq.com/cpt/97552"
  confidence unverified
  note "Reference §8.2: this contradicts the CMS FAQ, under which patients represented decide."
}

param share_of_medicare: number = 1.00 cites example_percent_of_medicare

# The share applies to the amount Medicare's fee gives the line, units and assistant factor included.
override fee physician_fee_schedule {
  title "A share of Medicare's allowed amount"
  cites example_percent_of_medicare
  amount round(inherited * share_of_medicare, 2)
}

rule group_needs_two_caregivers {
  title "Group CTS needs at least two caregivers (this payer's rule, not Medicare's)"
  cites page_003_group_caregivers, example_percent_of_medicare
  applies to line where role == "group"
  when line.caregivers < 2
  deny
  # No reason code: the reference confirms none for this case (§7).
  message "{line.code} lists {line.caregivers} caregiver; this payer pays group CTS only for two "
          "or more caregivers."
}
