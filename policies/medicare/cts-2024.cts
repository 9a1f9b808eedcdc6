# Medicare caregiver training services, calendar year 2024.
# Every fact here comes from ../shared/reference/cts-billing.md, which gives each
# its source and confidence; the section of that reference is noted beside a rule.

policy "medicare-cts-2024" {
  title "Medicare caregiver training services (CPT 97550, 97551, 97552), CY2024"
  payer "medicare"
  version "2024.3"
  effective 2024-01-01 to 2024-12-31
  governs "97550", "97551", "97552"
  changes "First year of the CTS codes (CY2024 PFS final rule, CMS-1784-F); before 2024-01-01 the "
          "codes did not exist."
}

# ---------------------------------------------------------------- sources

source cms_pfs_2024 {
  title "CY2024 Medicare Physician Fee Schedule final rule (CMS-1784-F), as summarised by ASHA"
  url "https://asha.org/practice/reimbursement/coding/SLP-cpt-and-hcpcs-code-changes-for-2024"
  date 2023-11-16
  confidence verified
}

source ngs_cts {
  title "NGS Medicare: caregiver training services for PT, OT and SLP"
  url "https://www.ngsmedicare.com/web/ngs/physical-therapy/occupational-therapy/speech-therapy?selectedArticleId=10681602"
  confidence verified
}

source webpt_faq {
  title "WebPT: CY2024 final rule FAQ (training with the patient present is not CTS)"
  url "http://www.webpt.com./blog/final-countdown-to-2024-launching-into-the-new-year-with-the-cms-final-rule-faq"
  confidence likely
}

source telehealth_2024 {
  title "Givers Health: CMS finalizes caregiver training services in 2024 (not on the telehealth list)"
  url "https://givershealth.com/post/cms-finalizes-caregiver-training-services-in-2024"
  confidence verified
}

source ruralhealth_cts {
  title "Rural Health Information Hub: caregiver training services (consent, documentation)"
  url "https://ruralhealthinfo.org/care-management/caregiver-training-services"
  confidence verified
}

source medbridge_cts {
  title "MedBridge: new caregiver training CPT codes (need for CTS, congruent with the treatment plan)"
  url "https://www.medbridge.com/blog/2024/01/new-caregiver-training-cpt-codes-for-pt-ot-slp-a-care-and-reimbursement-opportunity/"
  confidence verified
}

source wps_modifiers {
  title "WPS Medicare: therapy modifiers GP, GO, GN (sometimes-therapy codes)"
  url "http://www.wpsmedicare.com/j5macpartb/resources/modifiers/therapymodifiers.shtml"
  confidence verified
}

source cms_cqco {
  title "CMS: CQ/CO modifiers for services furnished in whole or in part by PTAs and OTAs (85% payment)"
  url "https://cms.gov/medicare/coding-billing/therapy-services/billing-examples-using-cq/co-modifiers-services-furnished-whole-or-part-ptas-and-otas"
  confidence verified
}

source cms_ncci_addon {
  title "CMS: Medicare NCCI add-on code edits"
  url "https://cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/medicare-ncci-add-code-edits"
  confidence verified
}

source cms_aoc_2024 {
  title "CMS NCCI add-on code edits of 2024-06-03: 97551 is a type 1 add-on whose one primary is 97550"
  url "https://github.com/andrewallenbruce/northstar/tree/a37fd49831c3614a1eaa279d4addf06ad35798c4/inst/extdata/pins/ncci_aoc"
  date 2024-06-03
  confidence verified
}

source carc_107 {
  title "CARC 107: the related or qualifying claim/service was not identified on this claim"
  url "https://denialhelp.com/how-it-works/codes/carc/107"
  confidence likely
}

source provider_magazine_time {
  title "Provider Magazine: 8 insights about caregiver training services (16 minutes; 8 more minutes)"
  url "https://www.providermagazine.com/Articles/Pages/8-Insights-About-the-Future-of-Caregiver-Training-Services.aspx"
  confidence verified
}

source ama_midpoint {
  title "AMA CPT time rule, as quoted by Premera: a unit is attained when the midpoint is passed"
  url "https://www.premera.com/wa/provider/news/reminders-updates/billing-for-time/"
  confidence verified
}

source codingintel_cts {
  title "Coding Intel: caregiver training services (97552 is untimed, one per session)"
  url "https://codingintel.com/caregiver-training-services-cts"
  confidence verified
}

source apta_faq_2024 {
  title "APTA: CMS caregiver training FAQ (group is decided by patients represented)"
  url "https://www.apta.org/news/2024/03/29/cms-caregiver-faq"
  date 2024-03-29
  confidence verified
}

source ngs_kx_2024 {
  title "NGS Medicare: 2024 therapy KX modifier thresholds"
  url "https://ngsmedicare.com/web/ngs/news-article-details?selectedArticleId=10703808"
  confidence verified
}

source noridian_kx_2024 {
  title "Noridian JE: per-beneficiary KX modifier thresholds, tracked by discipline modifier"
  url "https://med.noridianmedicare.com/web/jea/provider-types/outpatient-therapy/per-beneficiary_kx_modifier_thresholds"
  confidence verified
}

source palmetto_carc_119 {
  title "Palmetto GBA: CARC 119 for therapy over the KX threshold"
  url "https://www.palmettogba.com/palmetto/jjb.nsf/DID/8EELMC7556"
  confidence verified
}

source cms_pprrvu_2024 {
  title "CMS PPRRVU 2024 files (RVU24A, RVU24AR, RVU24B, RVU24C), read via github.com/andrewallenbruce/arkrvu"
  url "https://github.com/andrewallenbruce/arkrvu"
  confidence verified
}

source asco_cf_2024 {
  title "ASCO: 2024 Medicare conversion factor updated (CAA 2024, from 2024-03-09, not retroactive)"
  url "https://society.asco.org/news-initiatives/policy-news-analysis/2024-medicare-provider-conversion-factor-updated-reflect"
  confidence verified
}

source pos_rates {
  title "Medicare Claims Processing Manual ch. 12 §20.4.2 (facility and non-facility POS), reproduced"
  url "http://www.whatismedicalinsurancebilling.org/2016/06/pos-comes-under-facility-and-non.html"
  confidence verified
}

source telehealth_pos {
  title "CMS transmittal 12671 / CR 13582: POS 02 and 10, modifiers 95 and 93"
  url "https://compliancecosmos.org/news-briefs-june-10-2024"
  confidence verified
}

source mppr_2024 {
  title "CMS PPRRVU 2024: MULT PROC indicator 0 for 97550-97552 (no therapy MPPR)"
  url "https://github.com/andrewallenbruce/arkrvu"
  confidence verified
}

source remington_need {
  title "Remington Report: CMS on payment to train caregivers (need identified and documented)"
  url "https://remingtonreport.com/intelligence-resources/remington-report/cms-proposes-payment-to-physicians-to-train-caregivers"
  confidence verified
}

source givers_2024 {
  title "Givers Health: no quantity limit; each occurrence reasonable and necessary"
  url "https://givershealth.com/post/cms-finalizes-caregiver-training-services-in-2024"
  confidence likely
}

source assistant_cts {
  title "CTS by a PTA or OTA takes CQ/CO and is paid at 85% (an inference)"
  url "https://fprehab.com/2024/01/03/new-caregiving-training-services-are-here/"
  confidence likely
}

source carc_4 {
  title "X12 CARC 4: procedure code inconsistent with the modifier, or a required modifier missing"
  url "https://www.rubydoc.info/gems/hippo/0.5.2/Hippo/CodeLists/ClaimAdjustmentReasonCodes"
  confidence likely
  note "The CARC text is verified; its use for a missing or conflicting therapy modifier is likely "
       "(reference §7)."
}

source assistant_slp {
  title "No assistant payment differential for SLP assistants"
  url "https://biologyinsights.com/what-is-modifier-97-for-therapy-assistants"
  confidence likely
}

source cms_mue_2024 {
  title "CMS NCCI practitioner MUE table of 07-01-2024: 97550 1 (MAI 2), 97551 2 (MAI 3), 97552 1 (MAI 2)"
  url "https://github.com/andrewallenbruce/northstar/tree/a37fd49831c3614a1eaa279d4addf06ad35798c4/inst/extdata/pins/ncci_mue_prac"
  date 2024-07-01
  confidence verified
}

source cms_mue_2026q2 {
  title "CMS NCCI practitioner MUE table 2026 Q2 (MAI 3 rows only): 97551, G0540 and G0542 2 (MAI 3)"
  url "https://github.com/tejitpabari99/hospital-bill-checker/blob/9cbe49205cf17ad3a9e592e4cfbbcae9c9089d04/src/lib/data/mue.json"
  date 2026-04-01
  confidence verified
}

source cms_ptp_2024 {
  title "CMS NCCI PTP edits of 07-01-2024: CTS pairs only with 36591, 36592 and 96523 (none with 97110/97112/97116)"
  url "https://github.com/andrewallenbruce/northstar/tree/a37fd49831c3614a1eaa279d4addf06ad35798c4/inst/extdata/pins/ncci_ptp_prac"
  date 2024-07-01
  confidence verified
}

source mue_g0540 {
  title "HCPCS lookup: G0540 MUE 2 (practitioner and outpatient hospital)"
  url "https://hcpcslookup.com/codes/g0540"
  confidence verified
}

source mue_mai {
  title "NGS Medicare: MUE claim lines deny when units exceed the MUE (MAI 1 line, 2 and 3 date of service)"
  url "https://ngsmedicare.com/coding-and-edits?selectedArticleId=1943300"
  confidence verified
}

source mue_carc {
  title "Noridian JF: an MUE denial is CARC 96 with RARC N362"
  url "https://med.noridianmedicare.com/web/jfb/topics/claim-submission/reason-code-guidance/mue-service-exceeds-max"
  confidence verified
}

# ---------------------------------------------------------------- parameters

param conversion_factor: money {
  from 2024-01-01 to 2024-03-08 = $32.7442 cites cms_pprrvu_2024
  # CAA 2024 raised the factor for dates of service from 9 March; it was not retroactive.
  from 2024-03-09 to 2024-12-31 = $33.2875 cites asco_cf_2024
}

# 85% for CQ/CO lines is verified (§1.10); that CTS by a PTA or OTA takes CQ/CO and the 85% is
# "likely", an inference the reference shares with one article (fprehab).
param assistant_factor: number = 0.85 cites cms_cqco, assistant_cts

# PT and SLP share one threshold, OT has its own; both $2,330 in 2024 (reference §1.11).
param kx_threshold_pt_slp: money = $2330 cites ngs_kx_2024
param kx_threshold_ot: money = $2330 cites ngs_kx_2024

param facility_pos: set = {"02", "19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51",
                           "52", "53", "56", "61"} cites pos_rates

param telehealth_pos: set = {"02", "10"} cites telehealth_pos
param telehealth_modifiers: set = {"95", "93"} cites telehealth_pos
param discipline_modifiers: set = {"GP", "GO", "GN"} cites wps_modifiers

# ---------------------------------------------------------------- facts of the service
# Not a billing rule: this policy's reading of the references it cites, on what a claim records
# about the service as it happened (its dates and minutes, where and by whom, whether the patient
# was present, how many patients were represented, an assistant's CQ or CO, audio-video 95 or
# audio-only 93). A corrected claim may complete the record's documentation, give the discipline
# modifier or KX, or bill fewer units; it may not restate these, so `ctsdsl explain --fix` never
# suggests changing them. Overlays inherit them.

facts claim.date_of_service, line.date_of_service, line.minutes, claim.place_of_service,
      claim.provider_type, line.patient_present, line.patients_represented, line.caregivers,
      line.modifiers in {"CQ", "CO"}, line.modifiers in telehealth_modifiers
      cites provider_magazine_time, pos_rates, telehealth_pos, ngs_cts, webpt_faq, apta_faq_2024,
            cms_cqco

# ---------------------------------------------------------------- data
# codes.csv gives each code's role (initial, addon, group), an add-on's primary code and
# its time unit; rvu.csv the RVUs and indicators of CMS's quarterly file (`ctsdsl import rvu`
# writes them); mue.csv the NCCI medically unlikely edits. All are dated: a row applies from its
# effective_from, so later quarters add rows rather than edit these.

table codes from "data/codes.csv" key code dated effective_from cites cms_pfs_2024, cms_pprrvu_2024, cms_aoc_2024
table rvu from "data/rvu.csv" key code dated effective_from cites cms_pprrvu_2024
table mue from "data/mue.csv" key code dated effective_from cites cms_mue_2024, cms_mue_2026q2, mue_g0540

# ---------------------------------------------------------------- stages
# What a line is (its code, time, modifiers, documentation) is decided first; then what the
# session's minutes allow across its lines, which must not count a line already denied.

stages service, session

# ---------------------------------------------------------------- named expressions

let telehealth = claim.place_of_service in telehealth_pos
                 or any(m in line.modifiers where m in telehealth_modifiers)
let facility = claim.place_of_service in facility_pos
let assistant = "CQ" in line.modifiers or "CO" in line.modifiers
let therapist = claim.provider_type == "therapist"
let coded = line.code in codes
let role = if coded then codes[line.code].role else "none"
let primary_code = if role == "addon" then codes[line.code].primary else line.code
# The session's minutes are given on the initial code's line (97550, G0539, G0541).
let session_minutes = sum(coalesce(o.minutes, 0) for o in claim.lines
                          where o.code == primary_code
                                and o.date_of_service == line.date_of_service)
let disciplines = count(m in line.modifiers where m in discipline_modifiers)

# ---------------------------------------------------------------- rules: what CTS is

rule patient_present {
  title "CTS is training without the patient present"
  cites cms_pfs_2024, webpt_faq
  applies to line
  when line.patient_present
  deny
  # CARC 16 is the reference's code for a billing error (§7); that a MAC uses it for this case
  # (and for the two group rules) is our reading: the reference has no row for it. No RARC, as
  # with every CARC 16 here (see the documentation rules).
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} is defined as training without the patient present; with the patient "
          "present, bill the treatment code for the activity (for example 97530 or 97535)."
}

# A code is billable from the date its row in data/codes.csv takes effect: the CTS codes from
# 2024-01-01 (CY2024 PFS), the G-codes from 2025-01-01. A line dated earlier, on a claim whose
# own date falls in this policy, would otherwise pass with no fee.
rule code_not_in_force {
  title "The code did not exist on the line's date of service"
  cites cms_pfs_2024
  applies to line
  when not coded
  deny
  message "{line.code} did not exist on {line.date_of_service}; the caregiver training codes exist "
          "from the date CMS created them (97550, 97551 and 97552 from 2024-01-01). Bill the "
          "service under the codes in force on that date."
}

rule telehealth_not_covered {
  title "CTS was not on the 2024 Medicare telehealth list"
  cites telehealth_2024
  applies to line
  when telehealth
  deny
  # CARC 5 for telehealth is unverified in the reference (§7): no reason code is given.
  message "{line.code} could not be furnished via telehealth in 2024 (POS "
          "{claim.place_of_service}, modifiers [{line.modifiers}]); CTS had to be in person. "
          "Rebill only if the session was in person."
}

# ---------------------------------------------------------------- rules: consent and documentation

rule consent_not_documented {
  title "The patient's consent to CTS must be documented"
  cites ruralhealth_cts
  applies to line
  when not claim.documentation.consent
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "Consent of the patient or representative to caregiver training is not documented; "
          "document it in the record before billing {line.code}."
}

rule plan_of_care_missing {
  title "A therapist's plan of care must include CTS"
  cites ngs_cts, medbridge_cts
  applies to line
  when therapist and not claim.documentation.plan_of_care_includes_cts
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "The therapy plan of care does not include caregiver training; update the plan of care "
          "before billing {line.code}."
}

# The reference (§1.5) requires the need for CTS to be identified and documented, the
# training to be congruent with the plan and aimed at the patient's outcomes, and each
# occurrence to be reasonable and necessary ("likely"). It does not list the record's
# elements one by one. The six rules below are how the Medicare policy issue (#3) breaks
# that down: need_for_occurrence_missing and impact_on_goals_missing rest on the reference's
# own words; the reason without the patient, what was trained, the caregiver's response and
# the group details are the issue's elements, not the reference's.
# CARC 16 (§7) always comes with a RARC saying what is missing; the reference names none for
# these cases, so none is encoded, and each message names the missing element instead.

rule reason_without_patient_missing {
  title "Document why the training is done without the patient"
  cites medbridge_cts, remington_need
  applies to line
  when not claim.documentation.reason_without_patient
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} is not billable until the record says why the caregiver is trained without "
          "the patient present: add that reason to the note."
}

rule need_for_occurrence_missing {
  title "Document the need for this occurrence of CTS"
  cites medbridge_cts, givers_2024
  applies to line
  when not claim.documentation.need_for_occurrence
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} is not billable until the record shows why this session was reasonable and "
          "necessary: document the need for this occurrence."
}

rule training_not_described {
  title "Document what the caregiver was trained in"
  cites medbridge_cts
  applies to line
  when not claim.documentation.training_described
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} is not billable until the record describes the strategies and techniques "
          "trained."
}

rule caregiver_response_missing {
  title "Document the caregiver's response to training"
  cites medbridge_cts
  applies to line
  when not claim.documentation.caregiver_response
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} is not billable until the record documents the caregiver's response to the "
          "training."
}

rule impact_on_goals_missing {
  title "Document how the training serves the patient's goals"
  cites medbridge_cts, remington_need
  applies to line
  when not claim.documentation.impact_on_goals
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} is not billable until the record ties the training to the patient's "
          "treatment goals (the training must be congruent with the plan and aimed at the "
          "patient's outcomes)."
}

rule group_details_missing {
  title "Document the group session's details"
  cites ngs_cts, apta_faq_2024
  applies to line where role == "group"
  when not claim.documentation.group_details
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} is not billable until the record documents the group: the patients "
          "represented and the caregivers trained."
}

# ---------------------------------------------------------------- rules: modifiers

rule discipline_modifier {
  title "A therapist's CTS line needs exactly one of GP, GO, GN"
  cites wps_modifiers, carc_4
  applies to line
  when therapist and disciplines != 1
  deny
  # CARC 4's text is verified; its use for a missing therapy modifier is "likely" (§7). Group
  # CO: the reference's group for CARC 4 (§7).
  reason CARC 4, CO 4
  message "Line {line.index} ({line.code}) has modifiers [{line.modifiers}]; a therapist's CTS "
          "line needs exactly one of GP (PT), GO (OT) or GN (SLP)."
}

rule assistant_modifier_mismatch {
  title "CQ goes only with GP, CO only with GO"
  cites cms_cqco, assistant_slp, carc_4
  applies to line
  when "CQ" in line.modifiers and "GP" not in line.modifiers
       or "CO" in line.modifiers and "GO" not in line.modifiers
  deny
  # CARC 4 for a CQ/CO conflict: "likely" (§7), as for discipline_modifier; group CO (§7).
  reason CARC 4, CO 4
  message "Line {line.index} ({line.code}) has modifiers [{line.modifiers}]: CQ is for PTAs under "
          "a PT plan (with GP) and CO for OTAs under an OT plan (with GO); SLP has no assistant "
          "modifier."
}

# ---------------------------------------------------------------- rules: add-on and time

# 97551 is a type 1 add-on (CMS's add-on code file of 2024-06-03, verified): payable only with
# its primary, 97550, for the same patient on the same date.
rule addon_without_primary {
  title "An add-on code needs its primary code on the same date"
  cites cms_pfs_2024, cms_ncci_addon, cms_aoc_2024, carc_107
  applies to line where role == "addon"
  when not any(o in claim.lines
               where o.code == primary_code and o.date_of_service == line.date_of_service)
  deny
  # CARC 107's text is verified; its use for an add-on without its primary is "likely" (§7),
  # whose group for it is "usually CO".
  reason CARC 107, CO 107
  message "{line.code} on {line.date_of_service} has no {primary_code} for the same date on this "
          "claim; bill {primary_code} for the first 30 minutes, or remove {line.code}."
}

rule initial_minutes_missing {
  title "An initial code needs the session's minutes"
  cites provider_magazine_time
  applies to line where role == "initial"
  when missing(line.minutes)
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} has no minutes; give the total face-to-face minutes of the session on the "
          "{line.code} line."
}

rule initial_too_short {
  title "An initial 30-minute code needs at least 16 minutes (the midpoint rule)"
  cites provider_magazine_time, ama_midpoint
  applies to line where role == "initial" and not missing(line.minutes)
  reduce units to min(1, midpoint_units(line.minutes, codes[line.code].unit_minutes))
  message "{line.code} allows "
          "{min(1, midpoint_units(line.minutes, codes[line.code].unit_minutes))} unit for "
          "{line.minutes} minutes: it needs at least 16 minutes and is reported once per session."
}

rule addon_units_from_minutes {
  title "Add-on units follow the midpoint rule past the first 30 minutes"
  cites provider_magazine_time, ama_midpoint
  applies to line where role == "addon" and primary_code in codes
  reduce units to midpoint_addon_units(session_minutes,
                                       codes[primary_code].unit_minutes,
                                       codes[line.code].unit_minutes)
  message "{session_minutes} session minutes support "
          "{midpoint_addon_units(session_minutes, codes[primary_code].unit_minutes, codes[line.code].unit_minutes)} "
          "unit(s) of {line.code} (the first at 38 minutes, one more per 15); {line.units} billed."
}

# The add-on units a session's minutes support belong to the session, not to each line: split
# over several lines of the code on one date (a line per caregiver, say), the lines share them,
# in line order, and a line denied in the first stage (no primary, no documentation, an MUE)
# uses none of them. Each line is first held to the session's units on its own (above).
let addon_units_supported = midpoint_addon_units(session_minutes,
                                                 codes[primary_code].unit_minutes,
                                                 codes[line.code].unit_minutes)
let addon_units_before = sum(o.units_allowed for o in claim.lines
                             where o.code == line.code
                                   and o.date_of_service == line.date_of_service
                                   and not o.denied
                                   and o.index < line.index)

rule addon_units_shared_across_lines {
  title "Lines of one add-on code on one date share the units the session's minutes support"
  cites provider_magazine_time, ama_midpoint
  stage session
  applies to line where role == "addon" and primary_code in codes and not line.denied
  when addon_units_before > 0
  reduce units to addon_units_supported - addon_units_before
  message "{session_minutes} session minutes on {line.date_of_service} support "
          "{addon_units_supported} unit(s) of {line.code}; earlier lines of the code on that date "
          "were allowed {addon_units_before}, which leaves line {line.index} "
          "{max(0, addon_units_supported - addon_units_before)} of the {line.units} billed."
}

# An MUE's adjudication indicator says what it counts: MAI 1 the units of one line; MAI 2 and 3
# (every CTS code's) the units of every line of the code on the date of service, so splitting a
# session over lines does not pass the edit. When the date's units exceed it, each of those
# lines is denied (reference §5; data file §3.1). Only this claim's lines are seen: units on
# another claim of the same day count too for the payer, and are not here.
let mue_units = if mue[line.code].mai == 1
                then line.units
                else sum(o.units for o in claim.lines
                         where o.code == line.code and o.date_of_service == line.date_of_service)

rule mue_exceeded {
  title "Units over the code's medically unlikely edit (MUE) deny the line"
  cites cms_mue_2024, cms_mue_2026q2, mue_g0540, mue_mai, mue_carc
  applies to line where line.code in mue
  when mue_units > mue[line.code].max_units
  deny
  # Group CO: the reference's row for CARC 96 gives no group, but says (verified, §7) that an
  # MUE denial cannot be billed to the beneficiary, nor shifted to them by an ABN: CO's meaning.
  reason CARC 96, CO 96, RARC N362
  message "{mue_units} units of {line.code} on {line.date_of_service} exceed its MUE of "
          "{mue[line.code].max_units} (MAI {mue[line.code].mai}: "
          "{if mue[line.code].mai == 1 then \"this line's units\" else \"all its lines on the date, counted together\"}); "
          "the line is denied and cannot be billed to the beneficiary."
}

# ---------------------------------------------------------------- rules: group

rule group_needs_two_patients {
  title "Group CTS needs at least two patients represented"
  cites apta_faq_2024, provider_magazine_time
  applies to line where role == "group"
  when line.patients_represented < 2
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} represents {line.patients_represented} patient; group CTS needs two or more "
          "patients represented (the number of caregivers does not matter). Bill the individual "
          "codes instead."
}

rule group_one_unit_per_session {
  title "Group CTS is untimed: one unit per session"
  cites codingintel_cts
  applies to line where role == "group"
  reduce units to 1
  message "{line.code} is reported once per group session; {line.units} units billed on one line."
}

rule individual_code_for_group {
  title "The individual codes are for one patient's caregivers"
  cites apta_faq_2024, ngs_cts
  applies to line where role == "initial" or role == "addon"
  when line.patients_represented > 1
  deny
  # No group for CARC 16 in the reference (§7): the default, CO, applies.
  reason CARC 16
  message "{line.code} represents {line.patients_represented} patients; training for several "
          "patients' caregivers is group CTS, billed with the group code."
}

# ---------------------------------------------------------------- rules: warnings of low confidence

# CMS's PTP edits of 07-01-2024 pair neither 97550 with 97552 nor either with 97551 (data file
# §3.3, verified), so NCCI does not deny the two on one date. Whether both are payable the same
# day was the reference's open question (§10, item 2); no CMS source answers it beyond the
# absence of an edit. A warning for review, never a denial. It cites the codes' definitions:
# 97552 is a separate, group service.
rule same_day_individual_and_group {
  title "Individual and group CTS on the same date (for review: no NCCI edit pairs them)"
  cites cms_pfs_2024, cms_ptp_2024
  applies to line where role == "group"
  when any(o in claim.lines
           where o.code in codes
                 and o.date_of_service == line.date_of_service
                 and o.code != line.code
                 and codes[o.code].role == "initial")
  warn
  message "{line.code} is billed on the same date as an individual CTS code; CMS's NCCI edits do "
          "not pair them, and no CMS source says more. Check that they were separate sessions."
}

# Retired in version 2024.2: a warning that CTS bundles with 97110, 97112 or 97116 on the same
# date rested on one vendor page (page 003, "unverified", reference §8.9). CMS's own PTP edits of
# 07-01-2024 contradict it: the full practitioner and outpatient tables pair 97550 and 97552 only
# with 36591, 36592 and 96523, and 97551 with nothing (data file §3.3, verified).

# ---------------------------------------------------------------- rules: KX threshold
# Thresholds are tracked by discipline modifier; that CTS lines count toward them is
# inferred, not stated by CMS (reference §1.11, "likely").

# This claim's part of the spend is what the fee schedule allows its lines, priced as the fee
# below prices them (the RVU total for the claim's setting, 85% with CQ or CO), for the units
# billed: the threshold test runs before the line's own units are decided. Each line is priced
# on its own date of service (`at`), so a claim across the 2024-03-09 factor change sums the
# same on every line.
let pt_slp_claim_fees = sum(at(o.date_of_service,
                               round(round((if facility
                                            then rvu[o.code].total_f
                                            else rvu[o.code].total_nf)
                                           * fee_conversion_factor, 2)
                                     * (if "CQ" in o.modifiers or "CO" in o.modifiers
                                        then assistant_factor
                                        else 1), 2))
                            * o.units for o in claim.lines
                            where at(o.date_of_service,
                                     o.code in rvu
                                     and not missing(if facility
                                                     then rvu[o.code].total_f
                                                     else rvu[o.code].total_nf))
                                  and ("GP" in o.modifiers or "GN" in o.modifiers))
let ot_claim_fees = sum(at(o.date_of_service,
                           round(round((if facility
                                        then rvu[o.code].total_f
                                        else rvu[o.code].total_nf)
                                       * fee_conversion_factor, 2)
                                 * (if "CQ" in o.modifiers or "CO" in o.modifiers
                                    then assistant_factor
                                    else 1), 2))
                        * o.units for o in claim.lines
                        where at(o.date_of_service,
                                 o.code in rvu
                                 and not missing(if facility
                                                 then rvu[o.code].total_f
                                                 else rvu[o.code].total_nf))
                              and "GO" in o.modifiers)

# The two thresholds are tracked apart (reference §1.11, verified), so a claim may give the
# spend toward each; the single therapy_spend_to_date serves a threshold it does not name.
let pt_slp_spend = coalesce(claim.pt_slp_spend_to_date, claim.therapy_spend_to_date)
let ot_spend = coalesce(claim.ot_spend_to_date, claim.therapy_spend_to_date)

rule kx_threshold_pt_slp {
  title "Over the PT/SLP KX threshold without KX"
  cites ngs_kx_2024, palmetto_carc_119
  applies to line where ("GP" in line.modifiers or "GN" in line.modifiers)
                        and "KX" not in line.modifiers
                        and not missing(pt_slp_spend)
  when pt_slp_spend + pt_slp_claim_fees > kx_threshold_pt_slp
  deny
  # Group PR, the patient's to pay: Palmetto's use of CARC 119 over the KX threshold (§7, verified).
  reason CARC 119, PR 119
  message "PT/SLP spend of {dollars(pt_slp_spend)} plus this claim's {dollars(pt_slp_claim_fees)} "
          "passes the PT/SLP threshold of {dollars(kx_threshold_pt_slp)}; add KX when the services "
          "are medically necessary."
}

rule kx_threshold_ot {
  title "Over the OT KX threshold without KX"
  cites ngs_kx_2024, palmetto_carc_119
  applies to line where "GO" in line.modifiers
                        and "KX" not in line.modifiers
                        and not missing(ot_spend)
  when ot_spend + ot_claim_fees > kx_threshold_ot
  deny
  # Group PR, the patient's to pay: Palmetto's use of CARC 119 over the KX threshold (§7, verified).
  reason CARC 119, PR 119
  message "OT spend of {dollars(ot_spend)} plus this claim's {dollars(ot_claim_fees)} passes the "
          "OT threshold of {dollars(kx_threshold_ot)}; add KX when the services are medically "
          "necessary."
}

# Not a billing rule: a claim-data warning. One figure given for a claim with lines toward both
# thresholds is used for both, which is right only if the pipeline meant it that way.
rule kx_spend_not_by_discipline {
  title "One therapy spend figure serves both KX thresholds"
  cites noridian_kx_2024
  applies to claim
  when not missing(claim.therapy_spend_to_date)
       and missing(claim.pt_slp_spend_to_date)
       and missing(claim.ot_spend_to_date)
       and any(o in claim.lines where "GP" in o.modifiers or "GN" in o.modifiers)
       and any(o in claim.lines where "GO" in o.modifiers)
  warn
  message "This claim has PT/SLP and OT lines but one therapy_spend_to_date "
          "({dollars(claim.therapy_spend_to_date)}), so it was used for both KX thresholds, which "
          "Medicare tracks apart. Give pt_slp_spend_to_date and ot_spend_to_date to test each "
          "threshold on its own spend."
}

# ---------------------------------------------------------------- payment

rule no_mppr {
  title "The therapy multiple procedure payment reduction does not apply to CTS"
  cites mppr_2024
  applies to claim
  info
  message "CTS lines are paid in full: the therapy MPPR does not reduce them (MULT PROC indicator "
          "0 in CMS's 2024 fee schedule file)."
}

let setting_rvu = if facility then rvu[line.code].total_f else rvu[line.code].total_nf
let setting_name = if facility then "facility" else "non-facility"
let fee_known = line.code in rvu and not missing(setting_rvu)
# The conversion factor a fee uses; an overlay may choose among several (2026 has two).
let fee_conversion_factor = conversion_factor

rule fee_unknown {
  title "No fee figure for this code and setting"
  cites cms_pprrvu_2024
  applies to line
  when not fee_known
  info
  message "No {setting_name} RVU total for {line.code} on {line.date_of_service} is in the "
          "policy's data, so its fee is unknown: an allowed line's amount is null (unknown), not "
          "zero; a denied line is allowed nothing."
}

fee physician_fee_schedule {
  title "RVU total for the setting times the conversion factor; 85% with CQ or CO"
  cites cms_pprrvu_2024, cms_cqco, pos_rates
  applies to line where fee_known
  amount round(round(setting_rvu * fee_conversion_factor, 2)
               * (if assistant then assistant_factor else 1), 2)
         * units_allowed
}
