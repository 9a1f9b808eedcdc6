# Medicare caregiver training services, calendar year 2026: what changed from 2025.

policy "medicare-cts-2026" {
  title "Medicare caregiver training services (CPT 97550-97552, HCPCS G0539-G0543), CY2026"
  payer "medicare"
  version "2026.3"
  effective 2026-01-01 to 2026-12-31
  extends "medicare-cts-2025"
  changes "CY2026 PFS final rule (CMS-1832-F): the telehealth list has no provisional category, so "
          "CTS is on it permanently; two conversion factors ($33.4009 by default, $33.5675 for "
          "qualifying APM participants); KX $2,480; 2026 RVUs and indicators from CMS's July "
          "release (data/rvu.csv, by `ctsdsl import rvu`), carried back to January; G0539/G0541 no "
          "longer valued as 97550."
}

source cms_pfs_2026 {
  title "CY2026 PFS final rule (CMS-1832-F, 90 FR 49266): provisional telehealth category dropped"
  url "https://federalstatelaw.com/federal-register/2025-19787"
  date 2025-11-05
  confidence verified
}

source cf_2026 {
  title "DecisionHealth: 2026 conversion factors $33.4009 (non-qualifying APM) and $33.5675 (qualifying APM)"
  url "https://pbn.decisionhealth.com/Articles/Detail.aspx?id=549945"
  confidence verified
}

source kx_2026 {
  title "KX threshold 2026 $2,480 (several vendor sources agree)"
  url "https://proactivechart.com/resources/medicare-2026-physical-therapy-payment-cuts"
  confidence likely
}

source rvu_2026 {
  title "CMS PPRRVU2026_Jul_nonQPP.csv (RVU26C, released 2026-06-30): RVUs and indicators, CONV FACTOR 33.4009"
  url "https://github.com/stormchaser-creator/CredentialDOMD/blob/af55107fe7e4b96ea5dec0fa03d1cd36ff70a436/scripts/data/PPRRVU2026_Jul_nonQPP.csv"
  date 2026-06-30
  confidence verified
  note "An excerpt is kept in tests/fixtures/cms/; data/rvu.csv's 2026-07-01 rows are imported "
       "from it."
}

source rvu_2026_carried_back {
  title "No copy of RVU26A/RVU26B (January-June 2026) found: the July figures are carried back to 2026-01-01"
  url "https://rvuedge.com/cpt-codes/medicine/97552/"
  confidence likely
  note "rvuedge's RVU26A work RVU of 97552 (0.23) agrees; RVU26A was re-issued once in December "
       "2025."
}

# Most therapists are not qualifying APM participants: their factor is the default.
override param conversion_factor: money {
  from 2026-01-01 to 2026-12-31 = $33.4009 cites cf_2026, rvu_2026
}

param conversion_factor_qualifying_apm: money {
  from 2026-01-01 to 2026-12-31 = $33.5675 cites cf_2026
}

# A payer-wide switch for the qualifying-APM factor; a claim chooses it with apm_qualifying.
param all_claims_qualifying_apm: bool = false cites cf_2026

override let fee_conversion_factor = if claim.apm_qualifying or all_claims_qualifying_apm
                                     then conversion_factor_qualifying_apm
                                     else conversion_factor

# Both thresholds $2,480 in 2026: vendor pages only (reference §1.11, "likely").
override param kx_threshold_pt_slp: money = $2480 cites kx_2026
override param kx_threshold_ot: money = $2480 cites kx_2026

override rule telehealth_not_covered {
  cites cms_pfs_2026, waivers_2026_lapse, waivers_2027
}

# The rows from 2026-07-01 are CMS's July release; the rows from 2026-01-01 carry the same figures
# back over January-June, "likely" (data file §1.2). G0539 and G0541 have their own rows: in 2026
# their PE NF is 0.58 to 97550's 0.57, so nothing aliases them to 97550.
override table rvu from "data/rvu.csv" key code dated effective_from cites rvu_2026, rvu_2026_carried_back

override fee physician_fee_schedule {
  cites rvu_2026, rvu_2026_carried_back, cf_2026, cms_cqco, pos_rates
}

override rule no_mppr {
  cites rvu_2026
  message "CTS lines are paid in full: the therapy MPPR does not reduce them (MULT PROC indicator "
          "0 in CMS's July 2026 fee schedule file)."
  note "0 in the July 2026 file (verified); January-June carried back."
}
