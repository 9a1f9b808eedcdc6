// The playground page: every call goes to this server's /api (docs/playground.md); nothing is stored,
// not even in the browser's storage, and the only state that outlives the page is a share link's fragment.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { bundledText: "", bundledFile: null, checkTimer: null, checkSeq: 0 };

function el(tag, attrs, ...children) {
  // Text goes in as text nodes: a shared link's policy or claim must never become markup.
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  let data;
  try { data = await response.json(); } catch (e) { data = { diagnostics: [{ message: `HTTP ${response.status}` }] }; }
  return { ok: response.ok, status: response.status, data };
}

// ------------------------------------------------------------ editors: line numbers and marks

// A diagnostic in a parent of the edited policy (or a data file) has no line in this editor.
const inEditor = (which, d) => which !== "policy" || !d.source || d.source === editedFile();
const editedFile = () => (state.bundledFile && $("policy-select").value ? state.bundledFile : "playground.cts");

function paintGutter(which, diagnostics) {
  const text = $(`${which}-text`), gutter = $(`${which}-gutter`);
  const count = text.value.split("\n").length;
  const marks = {};
  for (const d of diagnostics || []) if (d.line && inEditor(which, d)) marks[d.line] = marks[d.line] === "error" ? "error" : d.severity || "error";
  gutter.replaceChildren(...Array.from({ length: count }, (_, i) =>
    el("span", marks[i + 1] ? { class: marks[i + 1], title: "see below" } : {}, `${i + 1}\n`)));
  gutter.scrollTop = text.scrollTop;
}

function offsetOf(text, line, column) {
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
  return offset + Math.max(0, (column || 1) - 1);
}

function jumpTo(which, d) {
  const text = $(`${which}-text`);
  if (!d.line || !inEditor(which, d)) return;
  const start = offsetOf(text.value, d.line, d.column);
  const end = d.end_line ? offsetOf(text.value, d.end_line, d.end_column) : start + 1;
  text.focus();
  text.setSelectionRange(start, Math.max(end, start + 1));
  const lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 18;
  text.scrollTop = Math.max(0, (d.line - 3) * lineHeight);
}

function showDiagnostics(which, diagnostics) {
  const list = $(`${which}-diagnostics`);
  list.replaceChildren(...(diagnostics || []).map((d) => {
    const at = d.line ? `${d.line}:${d.column || 1}` : (d.path || "");
    const where = inEditor(which, d) ? at : `${d.source}:${at}`;
    return el("li", { class: d.severity || "error", "data-line": d.line || "", onclick: () => jumpTo(which, d) },
      `${where} ${d.severity || "error"} ${d.code}: ${d.message}`, d.hint ? el("span", { class: "hint" }, `hint: ${d.hint}`) : null);
  }));
  paintGutter(which, diagnostics);
}

// ------------------------------------------------------------ the policy

function policyRequest() {
  const name = $("policy-select").value, text = $("policy-text").value;
  if (name && text === state.bundledText) return { name };
  if (!name && !text.trim()) return null;
  return state.bundledFile && name ? { text, file: state.bundledFile } : { text };
}

async function pickPolicy(name, text) {
  $("policy-select").value = name || "";
  if (!name) { state.bundledText = ""; state.bundledFile = null; $("policy-text").value = text || ""; }
  else {
    const got = await api(`/api/policies/${encodeURIComponent(name)}`);
    if (!got.ok) { showDiagnostics("policy", got.data.diagnostics); return; }
    state.bundledText = got.data.text; state.bundledFile = got.data.file;
    $("policy-text").value = text === undefined || text === null ? got.data.text : text;
  }
  policyChanged();
}

function policyChanged() {
  const request = policyRequest();
  $("policy-state").textContent = !request ? "chosen by the claim's payer and date"
    : request.name ? "bundled, unchanged" : "edited: checked as you type";
  paintGutter("policy", []);
  clearTimeout(state.checkTimer);
  if (!request || request.name) { showDiagnostics("policy", []); return; }
  state.checkTimer = setTimeout(checkPolicy, 300);
}

async function checkPolicy() {
  const request = policyRequest();
  if (!request || request.name) return;
  const seq = ++state.checkSeq;
  const got = await api("/api/check", { policy: request });
  if (seq !== state.checkSeq) return; // a newer check is under way
  showDiagnostics("policy", got.data.diagnostics);
  $("policy-state").textContent = got.ok && got.data.ok
    ? `edited: no errors${got.data.warnings ? `, ${got.data.warnings} warning(s)` : ""}`
    : got.ok ? `edited: ${got.data.errors} error(s)` : "edited: cannot be checked";
}

// ------------------------------------------------------------ the claim, and the decision

function claimRequest() {
  const claim = { text: $("claim-text").value, format: $("claim-format").value };
  for (const [key, id] of [["payer", "claim-payer"], ["payer_map", "claim-payer-map"], ["records", "claim-records"]]) {
    if ($(id).value.trim()) claim[key] = $(id).value;
  }
  return claim;
}

const money = (amount) => (amount === null || amount === undefined ? "—" : `$${amount}`);
// A value a rule read, as `ctsdsl explain` prints it (runtime.shown); amounts arrive as decimal text.
const shown = (v) => (v === null || v === undefined ? "(none)" : v === true ? "yes" : v === false ? "no"
  : Array.isArray(v) ? v.map(shown).join(", ") || "none" : String(v));
// A quantifier's read names the line it came from; a `line.` read is the rule's own line.
const readText = (r) => `read ${r.label} = ${shown(r.value)}` +
  (r.line !== null && !r.label.startsWith("line.") ? ` (line #${r.line})` : "");

function renderDecision(item, showAll) {
  const x = item.explanation; // as `ctsdsl explain --format json` prints it (schemas/explain.schema.json)
  const d = x.decision;
  const lines = el("table", { class: "lines" },
    el("tr", {}, ["#", "code", "status", "units", "allowed", "findings"].map((h) => el("th", {}, h))),
    d.lines.map((l) => el("tr", { "data-status": l.status }, el("td", {}, l.index), el("td", {}, l.code),
      el("td", { class: "status" }, l.status), el("td", { class: "num" }, `${l.units_allowed}/${l.units_billed}`),
      el("td", { class: "num" }, money(l.allowed_amount)), el("td", {}, l.findings.join(" ")))));
  const findings = d.findings.map((f) => el("li", { "data-rule": f.rule },
    el("strong", {}, `${f.id} ${f.severity} ${f.rule}`), f.line === null ? " (claim) " : ` (line #${f.line}) `,
    f.reason_codes.length ? `[${f.reason_codes.join(", ")}] ` : "", f.message,
    f.citation ? el("div", { class: "cites" }, `source: ${f.citation}`) : null));
  const byLine = new Map();
  for (const t of x.evaluations) {
    if (!showAll && !t.fired) continue;
    const key = t.line === null ? "claim" : t.line;
    if (!byLine.has(key)) byLine.set(key, []);
    byLine.get(key).push(t);
  }
  const trace = [...byLine.entries()].map(([key, rules]) => el("div", {},
    el("h4", {}, key === "claim" ? "claim rules" : `line #${key} ${d.lines[key].code}: ${d.lines[key].status}`),
    rules.map((t) => el("div", { class: `rule ${t.kind} ${t.fired ? "fired" : ""} ${severityOf(d, t)}`, "data-rule": t.rule },
      el("strong", {}, t.rule), ` ${t.fired ? "fired" : t.applicable ? "did not fire" : "not applicable"}`,
      t.finding ? ` (${t.finding})` : "", t.title ? ` — ${t.title}` : "",
      x.layers.length > 1 ? el("div", { class: "cites" }, `layer: ${t.layer.policy} ${t.layer.version} (${t.layer.file})`) : null,
      el("ul", { class: "reads" }, t.reads.map((r) => el("li", {}, readText(r)))),
      t.citation ? el("div", { class: "cites" }, `cites ${t.citation}`) : null))));
  const total = money(d.total_allowed) + (d.total_complete ? "" : " known (a paid line's amount is unknown)");
  return el("article", { class: "decision", "data-claim": d.claim_id },
    el("div", { id: item === state.first ? "outcome" : null, class: `outcome ${d.outcome}` },
      `claim ${d.claim_id}: ${d.outcome.toUpperCase()}, total allowed ${total}`),
    el("div", { class: "cites" }, `policy ${d.policy.name} version ${d.policy.version} (${d.policy.file})`,
      item.location !== "claim" ? `, ${item.location}` : ""),
    lines, findings.length ? el("ul", { class: "findings" }, findings) : null,
    el("details", { class: "trace", open: "" }, el("summary", {}, "how each line was decided"), trace));
}

function severityOf(decision, t) {
  const f = decision.findings.find((x) => x.id === t.finding);
  return f ? f.severity : "";
}

async function evaluate() {
  const result = $("result");
  const body = { claim: claimRequest() };
  const policy = policyRequest();
  if (policy) body.policy = policy;
  result.replaceChildren(el("p", { class: "state" }, "deciding…"));
  const got = await api("/api/explain", body);
  if (!got.ok) {
    const diagnostics = got.data.diagnostics || [];
    const claimSide = diagnostics.some((d) => (d.source || "").startsWith("claim"));
    showDiagnostics("claim", claimSide ? diagnostics : []);
    if (!claimSide && policy && !policy.name) showDiagnostics("policy", diagnostics);
    result.replaceChildren(el("div", { class: "error-box", id: "error" }, `not decided (${got.status}, ${got.data.kind || "error"}): `,
      diagnostics.map((d) => el("div", {}, `${d.source || ""}${d.line ? `:${d.line}:${d.column || 1}` : ""}${d.path ? ` ${d.path}` : ""}: ${d.message}`,
        d.hint ? el("span", { class: "hint" }, ` (hint: ${d.hint})`) : null))));
    return;
  }
  showDiagnostics("claim", []);
  if (got.data.diagnostics.length) showDiagnostics("policy", got.data.diagnostics);
  state.first = got.data.claims[0];
  result.replaceChildren(...got.data.claims.map((c) => renderDecision(c, $("show-all").checked)));
}

// ------------------------------------------------------------ sharing by fragment

const toBase64Url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromBase64Url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

async function pipe(bytes, stream) {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

async function shareLink() {
  const policy = policyRequest();
  const shared = { claim: claimRequest(), policy: policy && policy.name ? { name: policy.name } : policy };
  if (policy && !policy.name && $("policy-select").value) shared.policy.from = $("policy-select").value;
  const bytes = new TextEncoder().encode(JSON.stringify(shared));
  const packed = typeof CompressionStream === "function"
    ? `z=${toBase64Url(await pipe(bytes, new CompressionStream("deflate-raw")))}` : `j=${toBase64Url(bytes)}`;
  return `${location.origin}${location.pathname}#${packed}`;
}

async function readFragment() {
  const hash = location.hash.slice(1);
  if (!hash.startsWith("z=") && !hash.startsWith("j=")) return null;
  let bytes = fromBase64Url(hash.slice(2));
  if (hash.startsWith("z=")) bytes = await pipe(bytes, new DecompressionStream("deflate-raw"));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// ------------------------------------------------------------ start

async function start() {
  const [policies, examples] = await Promise.all([api("/api/policies"), api("/api/examples")]);
  for (const p of policies.data) {
    $("policy-select").append(el("option", { value: p.name }, `${p.name} (${p.payer} ${p.effective_from} to ${p.effective_to || "open"})`));
  }
  state.examples = new Map(examples.data.map((e) => [e.name, e.text]));
  for (const e of examples.data) $("example-select").append(el("option", { value: e.name }, e.name));

  $("policy-select").addEventListener("change", () => pickPolicy($("policy-select").value));
  $("policy-text").addEventListener("input", policyChanged);
  $("policy-text").addEventListener("scroll", () => { $("policy-gutter").scrollTop = $("policy-text").scrollTop; });
  $("claim-text").addEventListener("input", () => paintGutter("claim", []));
  $("claim-text").addEventListener("scroll", () => { $("claim-gutter").scrollTop = $("claim-text").scrollTop; });
  $("example-select").addEventListener("change", () => {
    if (!state.examples.has($("example-select").value)) return;
    $("claim-text").value = state.examples.get($("example-select").value);
    paintGutter("claim", []);
  });
  $("claim-file").addEventListener("change", async () => {
    const file = $("claim-file").files[0];
    if (!file) return;
    $("claim-text").value = await file.text(); // read in the page: the file itself is never uploaded
    paintGutter("claim", []);
  });
  $("evaluate").addEventListener("click", evaluate);
  $("show-all").addEventListener("change", evaluate);
  document.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) evaluate(); });
  $("share").addEventListener("click", async () => {
    const link = await shareLink();
    history.replaceState(null, "", link);
    try { await navigator.clipboard.writeText(link); $("share-state").textContent = "link copied (it holds the claim)"; }
    catch (e) { $("share-state").textContent = "link in the address bar (it holds the claim)"; }
  });

  let shared = null;
  try { shared = await readFragment(); } catch (e) { $("share-state").textContent = "the link's fragment could not be read"; }
  if (shared) {
    const claim = shared.claim || {};
    $("claim-text").value = claim.text || "";
    $("claim-format").value = claim.format || "auto";
    $("claim-payer").value = claim.payer || "";
    $("claim-payer-map").value = claim.payer_map || "";
    $("claim-records").value = claim.records || "";
    const p = shared.policy;
    await pickPolicy(p ? p.name || p.from || "" : "", p && p.text !== undefined ? p.text : undefined);
    await evaluate();
  } else {
    const first = state.examples.has("typical.json") ? "typical.json" : [...state.examples.keys()][0];
    if (first) { $("example-select").value = first; $("claim-text").value = state.examples.get(first); }
    policyChanged();
    paintGutter("claim", []);
  }
  document.body.dataset.ready = "true";
}

start();
