# Medicare caregiver training services, calendar year 2026: what changed from 2025.

policy "medicare-cts-2026" {
  title "Medicare caregiver training services (CPT 97550-97552, HCPCS G0539-G0543), CY2026"
  payer "medicare"
  version "2026.1"
  effective 2026-01-01 to 2026-12-31
  extends "medicare-cts-2025"
  changes "CY2026 PFS final rule (CMS-1832-F): the telehealth list has no provisional category, so "
          "CTS is on it permanently; two conversion factors ($33.4009 by default, $33.5675 for "
          "qualifying APM participants); KX $2,480; 2026 RVU totals not in the reference, so fees "
          "are unknown (null)."
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
  title "rvuedge: 2026 work RVUs 1.00 / 0.54 / 0.23 (RVU26A); PE, MP and totals not found"
  url "https://rvuedge.com/cpt-codes/medicine/97552/"
  confidence likely
}

# Most therapists are not qualifying APM participants: their factor is the default.
override param conversion_factor: money {
  from 2026-01-01 to 2026-12-31 = $33.4009 cites cf_2026
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

override rule fee_unknown {
  cites rvu_2026
}
