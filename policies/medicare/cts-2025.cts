# Medicare caregiver training services, calendar year 2025: what changed from 2024.
# Everything not restated here is 2024's policy, read afresh from cts-2024.cts.

policy "medicare-cts-2025" {
  title "Medicare caregiver training services (CPT 97550-97552, HCPCS G0539-G0543), CY2025"
  payer "medicare"
  version "2025.3"
  effective 2025-01-01 to 2025-12-31
  extends "medicare-cts-2024"
  governs "97550", "97551", "97552", "G0539", "G0540", "G0541", "G0542", "G0543"
  changes "CY2025 PFS final rule (CMS-1807-F): CTS on the telehealth list (provisional); "
          "therapists by telehealth only under the statutory waivers; verbal consent; new codes "
          "G0539-G0543 (rows in data/codes.csv from 2025-01-01); conversion factor $32.3465; 2025 "
          "RVUs from CMS's October file (data/rvu.csv), the G-codes valued as their CPT "
          "counterparts; KX $2,410."
}

source cms_pfs_2025 {
  title "CY2025 PFS final rule (CMS-1807-F), as summarised by ASHA"
  url "https://asha.org/news/2024/medicare-issues-2025-final-payment-policies-for-outpatient-services"
  confidence verified
}

source cf_2025 {
  title "PALTmed: 2025 physician fee schedule final rule (CF $32.3465)"
  url "https://paltmed.org/news-media/2025-physician-fee-schedule-final-rule-released"
  confidence verified
}

source waivers_2025 {
  title "AOTA: telehealth waivers for PT/OT/SLP restored retroactively from 2025-10-01 through 2026-01-30"
  url "https://www.aota.org/advocacy/advocacy-news/2025/congress-extends-telehealth-waivers-retroactively-through-january-31"
  confidence verified
}

source waivers_2025_sept {
  title "Panacea: PT/OT/SLP telehealth waivers extended to 2025-03-31, then to 2025-09-30"
  url "https://www.panaceainc.com/overview-of-telehealth-rules-extensions-and-the-future-of-the-program/"
  confidence verified
}

source waivers_2026_lapse {
  title "AOTA: Medicare telehealth waivers expire again at midnight 2026-01-30"
  url "https://www.aota.org/advocacy/advocacy-news/2026/congress-allows-medicare-telehealth-waivers-to-expire-again"
  confidence verified
}

source waivers_2027 {
  title "AOTA: H.R. 7148 (Consolidated Appropriations Act 2026, signed 2026-02-03) extends PT/OT/SLP telehealth through 2027-12-31"
  url "https://www.aota.org/advocacy/advocacy-news/2026/congress-extends-medicare-telehealth-waivers-through-december-2027"
  date 2026-02-03
  confidence verified
  note "Also McGuireWoods and the National Law Review (data file §6)."
}

source waivers_2026_gap {
  title "Gill Compliance: the 2026 extension is retroactive over the 2026-01-31 to 02-02 lapse (no CMS guidance seen)"
  url "https://www.gillcompliance.com/blog/2026/2/26/medicare-telehealth-extensions-announced-through-2027"
  confidence likely
  note "AOTA awaits CMS guidance on the brief suspension; a blog says the same (data file §6)."
}

source kx_2025 {
  title "KX threshold 2025 $2,410 (two vendor sources agree)"
  url "https://prombs.com/telehealth-pt-through-sept30-2025-thresholds-kx"
  confidence likely
}

source rvu_2025 {
  title "CMS PPRRVU2025_Oct (RVU25D): 2025 RVUs of the CTS codes, the G-codes valued as their CPT counterparts"
  url "https://github.com/Psuncode/RVU-Calculator/blob/524aec04f156bb24f7ee013a3995d504d525046d/app/data/processed/rvu_data_2025.json"
  confidence verified
  note "A parsed copy of CMS's October file: RVUs only, no indicators."
}

source rvu_2025_medpayiq {
  title "medpayiq.com: 2025 totals and national amounts of 97550-97552 from RVU25A, the same as RVU25D's"
  url "https://medpayiq.com/cpt/97550"
  confidence verified
}

source gcodes_2025 {
  title "Healthicity: new HCPCS codes G0541-G0543 for direct-care caregiver training"
  url "https://www.healthicity.com/blog/new-hcpcs-codes-for-caregiver-training"
  confidence verified
}

source gcodes_behavior_2025 {
  title "EdgeMed: caregiver training codes G0539-G0540 (behavior management), work RVUs"
  url "https://edgemed.com/blog/6-steps-to-reduce-uncompensated-time-using-new-medical-codes-for-caregiver-training-services"
  confidence verified
}

override param conversion_factor: money {
  from 2025-01-01 to 2025-12-31 = $32.3465 cites cf_2025
}

# Both thresholds $2,410 in 2025: found on vendor pages only (reference §1.11, "likely").
override param kx_threshold_pt_slp: money = $2410 cites kx_2025
override param kx_threshold_ot: money = $2410 cites kx_2025

# Whether a PT, OT or SLP may furnish a telehealth service, by date of service. The list
# status of CTS is not the question: the statutory waivers are (reference §2.6).
param therapist_telehealth_allowed: bool {
  from 2024-01-01 to 2025-09-30 = true cites waivers_2025_sept
  # Lapsed 2025-10-01; a law of 2025-11-12 restored it retroactively (verified).
  from 2025-10-01 to 2026-01-30 = true cites waivers_2025
  # Lapsed at midnight 2026-01-30 (verified). H.R. 7148, signed 2026-02-03, restored it through
  # 2027-12-31 (verified); that it reaches back over the three days between is "likely": a
  # consultant and a blog say so, and CMS guidance was not seen.
  from 2026-01-31 to 2026-02-02 = true cites waivers_2026_lapse, waivers_2026_gap
  from 2026-02-03 to 2027-12-31 = true cites waivers_2027
  # The reference says nothing past 2027-12-31: false from 2028 is this policy's reading (the
  # waivers end with their last extension). No policy runs that late yet.
  from 2028-01-01 = false cites waivers_2027
}

override rule telehealth_not_covered {
  title "Therapists may furnish CTS by telehealth only while the statutory waivers run"
  cites cms_pfs_2025, waivers_2025_sept, waivers_2025
  when telehealth and therapist and not therapist_telehealth_allowed
  message "{line.code} by telehealth (POS {claim.place_of_service}, modifiers [{line.modifiers}]) "
          "on {line.date_of_service}: CTS is on the telehealth list, but a PT, OT or SLP may "
          "furnish telehealth only while the statutory waivers are in force, and they were not on "
          "this date."
}

# Verbal consent is acceptable from 2025, as long as it is documented (reference §2.4).
override rule consent_not_documented {
  cites cms_pfs_2025, ruralhealth_cts
  message "Consent of the patient or representative to caregiver training is not documented; "
          "verbal consent is acceptable from 2025, but it must be recorded before billing "
          "{line.code}."
}

override rule no_mppr {
  # MULT PROC is 0 in CMS's 2024 and July 2026 files; no 2025 indicator was found (the October
  # 2025 copy carries RVUs only), so 2025's 0 is "likely" (data file §2). The message says so: a
  # note is not shown in decisions.
  message "CTS lines are paid in full: the therapy MPPR does not reduce them (MULT PROC indicator "
          "0 in CMS's 2024 and 2026 fee schedule files; the 2025 indicator was not found and is "
          "taken to be the same)."
  note "2025 indicator not found; 0 in 2024 and 2026."
}

# Every 2025 code has its RVUs (CMS's October file), so fee_unknown, inherited, does not fire on a
# 2025 line; it stays for a code whose row a later edit leaves without a figure.
override table codes from "data/codes.csv" key code dated effective_from cites cms_pfs_2024, cms_aoc_2024, gcodes_2025, gcodes_behavior_2025
override table rvu from "data/rvu.csv" key code dated effective_from cites rvu_2025, rvu_2025_medpayiq

override fee physician_fee_schedule {
  cites rvu_2025, cf_2025, cms_cqco, pos_rates
}
