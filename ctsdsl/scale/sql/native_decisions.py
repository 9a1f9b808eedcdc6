"""The decision tables written by DuckDB, for the native Parquet path (native.py).

What `Evaluator.assemble` and `parquet_decisions.ParquetDecisions.add` make of each claim in
Python, written as SQL over what the policy's script computed: line statuses and units, amounts
rounded half up to the cent, finding numbers and the findings on each line, the deciding rule's
adjustments and remarks (engine/adjustments.py), the outcome and total. The three queries give
the columns of `parquet_decisions`' tables, in their order (findings narrow, their rules' columns
joined as they are written); `TEXTS` gives each decision's JSON text instead, byte for byte what
`DecisionEncoder` writes, around its own per-rule texts. tests/test_sql_native.py holds both to
what Python writes, field for field and byte for byte.

The rules' and the policy's own values (titles, citations, sources, reason codes) are registered
tables made from the evaluator (`rule_table`, `policy_table`), never SQL text.
"""

from __future__ import annotations

import json
from typing import Any

from ...engine.evaluator import Evaluator
from ..decision_encoder import policy_text, rule_texts

RULES, POLICY = "ctsdsl_rules", "ctsdsl_policy"
# What the script computed, held as tables for the queries below (native.py makes them).
DECIDED, OUT_LINES, OUT_FINDINGS = "ctsdsl_decided", "ctsdsl_out_lines", "ctsdsl_out_findings"


def rule_table(evaluator: Evaluator) -> Any:
    """A row per rule, by its index in the program (`rule_k`): what a finding shows of it, and the
    reason codes (`codes`: group and CARC pairs; `remarks`) a line it decides reports; and the same
    as decision JSON writes them (`head`, `tail`, `codes_json`, `remarks_json`, DecisionEncoder's
    own texts)."""
    import pyarrow as pa

    text, texts = pa.string(), pa.list_(pa.string())
    rows = []
    written = rule_texts(evaluator)
    for k, r in enumerate(evaluator.rules):
        codes = evaluator.codes_of(r.id)
        o = r.origin
        rows.append({"rule_k": k, "rule": r.id, "title": r.title, "severity": r.severity,
                     "reason_codes": list(r.reasons), "citation": r.citation,
                     "sources": [s.to_dict() for s in r.sources],
                     "layer": o.policy if o else None, "layer_version": o.version if o else None,
                     "layer_file": o.file if o else None, "layer_line": o.line if o else None,
                     "named": bool(codes.adjustments),
                     "codes": [{"group": g, "carc": c} for g, c in codes.adjustments],
                     "remarks": list(codes.remarks),
                     "head": written[k][0], "tail": written[k][1],
                     "codes_json": [{"group_json": json.dumps(g), "carc_json": json.dumps(c)}
                                    for g, c in codes.adjustments],
                     "remarks_json": ",".join(json.dumps(m) for m in codes.remarks)})
    source = pa.struct([("id", text), ("title", text), ("url", text), ("date", text)])
    schema = pa.schema([("rule_k", pa.int64()), ("rule", text), ("title", text), ("severity", text),
                        ("reason_codes", texts), ("citation", text), ("sources", pa.list_(source)),
                        ("layer", text), ("layer_version", text), ("layer_file", text), ("layer_line", pa.int64()),
                        ("named", pa.bool_()), ("codes", pa.list_(pa.struct([("group", text), ("carc", text)]))),
                        ("remarks", texts), ("head", text), ("tail", text),
                        ("codes_json", pa.list_(pa.struct([("group_json", text), ("carc_json", text)]))),
                        ("remarks_json", text)])
    return pa.Table.from_pylist(rows, schema=schema)


def policy_table(evaluator: Evaluator) -> Any:
    import pyarrow as pa

    p = evaluator.info
    return pa.table({"policy": [p.name], "policy_payer": [p.payer], "policy_version": [p.version],
                     "policy_digest": [p.digest], "policy_file": [p.file], "policy_json": [policy_text(p)]})


# Each line of a decided claim: out of scope where the policy's rules did not govern it, else its
# status from the denial and units the rules left it (decision.line_status).
LINES = f"""
CREATE OR REPLACE TEMP TABLE ctsdsl_dl AS
SELECT d.claim_ord, d.record, d.claim_id, l.l_index AS "index", l.l_code AS code, l.l_units AS units_billed,
       l.l_charge AS charge, o.denied IS NOT NULL AS governed,
       CASE WHEN o.denied IS NULL THEN 'out_of_scope' WHEN o.denied OR o.allowed <= 0 THEN 'denied'
            WHEN o.allowed < l.l_units THEN 'reduced' ELSE 'allowed' END AS status,
       CAST(CASE WHEN o.denied IS NULL THEN l.l_units WHEN o.denied OR o.allowed <= 0 THEN 0 ELSE o.allowed END
            AS BIGINT) AS units_allowed,
       CASE WHEN o.denied IS NOT NULL THEN CAST(round(o.amount, 2) AS DECIMAL(38,2)) END AS allowed_amount
FROM {DECIDED} d JOIN lines l USING (claim_ord) LEFT JOIN {OUT_LINES} o USING (claim_ord, l_index)
"""

# Narrow: a rule's own columns (title, citation, sources...) are joined in only as the table is written.
FINDINGS = f"""
CREATE OR REPLACE TEMP TABLE ctsdsl_df AS
SELECT d.claim_ord, d.record, d.claim_id, f.n, f.line, f.rule AS rule_k, f.message, r.severity, r.named
FROM {DECIDED} d JOIN {OUT_FINDINGS} f USING (claim_ord) JOIN {RULES} r ON r.rule_k = f.rule
"""

# The findings on each line (its own, and the claim's on a governed line), and the one whose rule's codes
# explain a line not allowed: a deny finding on a denied line, else a reduce one, a rule naming a CARC
# first (Evaluator.adjusted).
ON_LINE = """
CREATE OR REPLACE TEMP TABLE ctsdsl_dlf AS
SELECT l.claim_ord, l."index", list('F' || f.n ORDER BY f.n) AS findings,
       arg_min(f.rule_k, (CASE WHEN f.severity = 'deny' THEN 0 ELSE 1 END) * 4000000000
                         + (CASE WHEN f.named THEN 0 ELSE 1 END) * 2000000000 + f.n)
         FILTER (WHERE l.governed AND l.status <> 'allowed' AND (f.severity = 'reduce' OR f.severity = 'deny' AND l.units_allowed = 0))
         AS chosen_k,
       arg_min('F' || f.n, (CASE WHEN f.severity = 'deny' THEN 0 ELSE 1 END) * 4000000000
                     + (CASE WHEN f.named THEN 0 ELSE 1 END) * 2000000000 + f.n)
         FILTER (WHERE l.governed AND l.status <> 'allowed' AND (f.severity = 'reduce' OR f.severity = 'deny' AND l.units_allowed = 0))
         AS chosen_id
FROM ctsdsl_dl l JOIN ctsdsl_df f
  ON f.claim_ord = l.claim_ord AND (f.line = l."index" OR f.line IS NULL AND l.governed)
GROUP BY l.claim_ord, l."index"
"""

# A denied or reduced line's adjustments: the charge of the units not allowed, charge x (billed -
# allowed) / billed, rounded half up to the cent in whole numbers of millionths (exact, as Decimal
# is: DuckDB divides DECIMALs as doubles), on the deciding rule's first CARC; its others 0 and 0.00.
# Each with its group and CARC as decision JSON writes them (`*_json`).
ADJUSTED = f"""
CREATE OR REPLACE TEMP TABLE ctsdsl_dla AS
SELECT l.claim_ord, l."index", coalesce(s.findings, []) AS findings,
       CASE WHEN s.chosen_k IS NULL THEN [] ELSE list_transform(
         CASE WHEN len(r.codes) = 0 THEN [{{'group': NULL::VARCHAR, 'carc': NULL::VARCHAR}}] ELSE r.codes END,
         lambda c, i: {{'group': c."group", 'carc': c.carc,
                       'amount': CASE WHEN l.charge IS NULL THEN NULL WHEN i > 1 THEN 0.00::DECIMAL(38,2)
                                      ELSE CAST(CAST((2 * CAST(l.charge * 1000000 AS HUGEINT)
                                                      * (l.units_billed - l.units_allowed) + l.units_billed * 10000)
                                                     // (2 * l.units_billed * 10000) AS DECIMAL(38,0)) * 0.01
                                                AS DECIMAL(38,2)) END,
                       'quantity': CASE WHEN i > 1 THEN 0 ELSE l.units_billed - l.units_allowed END,
                       'finding': s.chosen_id,
                       'group_json': coalesce(r.codes_json[i].group_json, 'null'),
                       'carc_json': coalesce(r.codes_json[i].carc_json, 'null')}}) END AS adjustments,
       CASE WHEN s.chosen_k IS NULL THEN [] ELSE r.remarks END AS remarks,
       CASE WHEN s.chosen_k IS NULL THEN '' ELSE r.remarks_json END AS remarks_json
FROM ctsdsl_dl l LEFT JOIN ctsdsl_dlf s USING (claim_ord, "index") LEFT JOIN {RULES} r ON r.rule_k = s.chosen_k
"""

# Each claim's outcome and total, as Evaluator.assemble makes them.
CLAIMS = f"""
CREATE OR REPLACE TEMP TABLE ctsdsl_dc AS
SELECT claim_ord, CASE WHEN governed > 0 AND denied = governed THEN 'deny'
                       WHEN denied > 0 OR reduced > 0 THEN 'partial' ELSE 'pay' END AS outcome,
       total_allowed, total_complete
FROM (SELECT claim_ord, count(*) FILTER (WHERE governed) AS governed,
             count(*) FILTER (WHERE status = 'denied') AS denied, count(*) FILTER (WHERE status = 'reduced') AS reduced,
             CAST(coalesce(sum(allowed_amount), 0) AS DECIMAL(38,2)) AS total_allowed,
             NOT bool_or(allowed_amount IS NULL AND units_allowed > 0 AND governed) AS total_complete
      FROM ctsdsl_dl GROUP BY claim_ord)
"""

TABLE_LINES = """
SELECT l.record, l.claim_id, l."index", l.code, l.status, l.units_billed, l.units_allowed, l.allowed_amount,
       a.findings,
       list_transform(a.adjustments, lambda x: {'group': x."group", 'carc': x.carc, 'amount': x.amount,
                                               'quantity': x.quantity, 'finding': x.finding}) AS adjustments,
       a.remarks, []::VARCHAR[] AS confirm
FROM ctsdsl_dl l JOIN ctsdsl_dla a USING (claim_ord, "index")
ORDER BY l.record, l."index"
"""

TABLE_CLAIMS = f"""
SELECT d.record, d.claim_id, d.claim_digest, c.outcome, c.total_allowed, c.total_complete,
       false AS assumed_documented, p.policy, p.policy_payer, p.policy_version, p.policy_digest, p.policy_file
FROM {DECIDED} d JOIN ctsdsl_dc c USING (claim_ord) CROSS JOIN {POLICY} p
ORDER BY d.record
"""

# Narrow: the rule's own columns are joined in as the table is written (ParquetDecisions.add_tables).
TABLE_FINDINGS = """
SELECT record, claim_id, 'F' || n AS id, line, message, rule_k FROM ctsdsl_df ORDER BY record, n
"""

# Text JSON writes as it is (DecisionEncoder's `_quote` escapes `"`, `\` and all but printable ASCII).
PLAIN = '^[ !#-\\[\\]-~]*$'

# Each decided claim's decision JSON, byte for byte what DecisionEncoder writes; NULL for a claim
# whose id or a message JSON would escape (decided the usual way, which escapes them).
TEXTS = f"""
WITH lt AS (
  SELECT l.claim_ord, string_agg(
    '{{"index":' || l."index" || ',"code":"' || l.code || '","status":"' || l.status
    || '","units_billed":' || l.units_billed || ',"units_allowed":' || l.units_allowed
    || ',"allowed_amount":' || coalesce('"' || CAST(l.allowed_amount AS VARCHAR) || '"', 'null')
    || ',"findings":[' || array_to_string(list_transform(a.findings, lambda f: '"' || f || '"'), ',')
    || '],"adjustments":[' || array_to_string(list_transform(a.adjustments, lambda x:
         '{{"group":' || x.group_json || ',"carc":' || x.carc_json
         || ',"amount":' || coalesce('"' || CAST(x.amount AS VARCHAR) || '"', 'null')
         || ',"quantity":' || x.quantity || ',"finding":"' || x.finding || '"}}'), ',')
    || '],"remarks":[' || a.remarks_json || ']}}', ',' ORDER BY l."index") AS lines,
    bool_and(regexp_matches(l.code, '{PLAIN}')) AS plain
  FROM ctsdsl_dl l JOIN ctsdsl_dla a USING (claim_ord, "index") GROUP BY l.claim_ord),
ft AS (
  SELECT f.claim_ord, string_agg('{{"id":"F' || f.n || '",' || r.head || ',"line":' || coalesce(CAST(f.line AS VARCHAR), 'null')
                                 || ',"message":"' || f.message || '",' || r.tail || '}}', ',' ORDER BY f.n) AS findings,
         bool_and(regexp_matches(f.message, '{PLAIN}')) AS plain
  FROM ctsdsl_df f JOIN {RULES} r ON r.rule_k = f.rule_k GROUP BY f.claim_ord)
SELECT d.claim_ord, d.record,
  CASE WHEN regexp_matches(d.claim_id, '{PLAIN}') AND lt.plain AND coalesce(ft.plain, true) THEN
    '{{"claim_id":"' || d.claim_id || '","claim_digest":"' || d.claim_digest || '","policy":' || p.policy_json
    || ',"outcome":"' || c.outcome || '","lines":[' || lt.lines || '],"findings":[' || coalesce(ft.findings, '')
    || '],"total_allowed":"' || CAST(c.total_allowed AS VARCHAR) || '","total_complete":'
    || CASE WHEN c.total_complete THEN 'true' ELSE 'false' END || '}}' END AS text,
  c.outcome, c.total_allowed, c.total_complete
FROM {DECIDED} d JOIN ctsdsl_dc c USING (claim_ord) JOIN lt USING (claim_ord) LEFT JOIN ft USING (claim_ord)
  CROSS JOIN {POLICY} p
ORDER BY d.claim_ord
"""

STATEMENTS = (LINES, FINDINGS, ON_LINE, ADJUSTED, CLAIMS)
TABLES = {"claims": TABLE_CLAIMS, "lines": TABLE_LINES, "findings": TABLE_FINDINGS}
DROPS = tuple(f"DROP TABLE IF EXISTS {name}" for name in ("ctsdsl_dl", "ctsdsl_df", "ctsdsl_dlf", "ctsdsl_dla",
                                                           "ctsdsl_dc", "ctsdsl_texts", "ctsdsl_written"))

# What a batch summary counts of the decisions written (batch.Summary), for the claims in `ctsdsl_written`
# (claim_ord): every decided one for the tables, those TEXTS gave a text for JSON Lines.
WRITTEN = "ctsdsl_written"
TALLY_CLAIMS = ("SELECT outcome, count(*), sum(total_allowed), count(*) FILTER (WHERE NOT total_complete) "
                f"FROM ctsdsl_dc JOIN {WRITTEN} USING (claim_ord) GROUP BY outcome")
TALLY_LINES = f"SELECT status, count(*) FROM ctsdsl_dl JOIN {WRITTEN} USING (claim_ord) GROUP BY status"
TALLY_RULES = (f"SELECT r.rule, count(*) FROM ctsdsl_df f JOIN {RULES} r ON r.rule_k = f.rule_k "
               f"JOIN {WRITTEN} USING (claim_ord) GROUP BY r.rule")
