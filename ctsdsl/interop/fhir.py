"""FHIR R4 Claims in, FHIR R4 ClaimResponses out, checked by fhir.resources' R4B models.

fhir.resources' default models are R5, which refuse an R4 Claim (``careTeam.qualification``
became ``specialty``, ``item.locationCodeableConcept`` a CodeableReference); its R4B models
(FHIR 4.3.0) keep R4's Claim and ClaimResponse, so they read what R4 systems send.

Where the claim's fields come from (FHIR R4 Claim):

==========================  ===================================================================
claim field                 FHIR Claim
==========================  ===================================================================
``id``                      ``identifier[0].value``, else the resource's ``id``
``payer``                   the payer map: ``insurer.identifier.value`` under ``payer_ids``, else
                            ``insurer.reference`` under ``insurers``; ``--payer`` overrides both
``date_of_service``         the earliest item's ``servicedDate`` (or a ``servicedPeriod`` of one
                            day), else a one-day ``billablePeriod``
``place_of_service``        ``item.locationCodeableConcept`` coded in CMS's place-of-service system
``provider_type``           ``careTeam.qualification`` (NUCC taxonomy) of the item's care team
                            (``careTeamSequence``; its ``primary`` member when it names several)
``lines[].code``            ``item.productOrService`` coded in CPT or HCPCS
``lines[].modifiers``       ``item.modifier`` codes
``lines[].units``           ``item.quantity.value``, a whole number
``lines[].charge``          ``item.net.value`` (``total.value``, the claim's, is kept beside it)
==========================  ===================================================================

The ClaimResponse (``use`` = predetermination) answers each item with adjudications in
HL7's adjudication categories (``submitted``: the item's net; ``eligible``: the allowed
amount) and CARIN Blue Button's discriminators (``allowedunits``; ``denialreason`` and
``adjustmentreason`` carrying the line's adjustments, each CARC with its group and amount, and
its remarks, in X12's code systems), and a ``processNote`` per finding, which the item's
``noteNumber`` names.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..claims.validation import load_claim_file
from ..errors import ClaimError, Diagnostic
from .draft import Draft, ReadClaim, ReadOptions, charge_number, finish, require
from .origin import Origin
from .taxonomy import NUCC_SYSTEM, provider_type

CODE_SYSTEMS = ("http://www.ama-assn.org/go/cpt", "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "urn:oid:2.16.840.1.113883.6.285")
POS_SYSTEMS = ("https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
               "http://www.cms.gov/place-of-service")
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CARIN_DISCRIMINATOR = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudicationDiscriminator"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC = "https://x12.org/codes/remittance-advice-remark-codes"
CARE_TEAM_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
DIGEST_SYSTEM = "https://ctsdsl.example/fhir/claim-digest"
POLICY_SYSTEM = "https://ctsdsl.example/fhir/policy"
# An item whose decision rests on the medical record is not adjudicated: HL7's adjudication codes
# (an example binding, so a local system is allowed) have none for that.
PENDING_SYSTEM = "https://ctsdsl.example/fhir/adjudication"


def _models() -> Any:
    return require("fhir.resources.R4B", "fhir", "a FHIR Claim")


def read_fhir(path: str | Path, options: ReadOptions) -> Iterator[ReadClaim]:
    """Every Claim of a FHIR JSON file: a Claim, a Bundle of them, or a list or JSON Lines file of either.

    Raises:
        ClaimError: The file cannot be read or parsed.
        UsageError: fhir.resources is not installed (the ``fhir`` extra).
    """
    _models()
    from fhir.resources.R4B.claim import Claim

    for location, resource in load_claim_file(path):
        for where, claim in _claims_in(location, resource):
            if isinstance(claim, ClaimError):
                yield ReadClaim(where, error=claim)
                continue
            try:
                model = Claim.model_validate(claim)
            except ValueError as exc:  # pydantic's ValidationError: each problem with its path
                yield ReadClaim(where, error=ClaimError(_validation(exc, where)), source=claim)
                continue
            yield finish(_draft(where, claim, model, options), options)


def _claims_in(location: str, resource: object) -> Iterator[tuple[str, dict | ClaimError]]:
    if not isinstance(resource, dict):
        resource = {}
    kind = resource.get("resourceType")
    if kind == "Claim":
        yield location, resource
    elif kind == "Bundle":
        entries = resource.get("entry") or []
        claims = [(k, e["resource"]) for k, e in enumerate(entries) if isinstance(e, dict)
                  and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Claim"]
        if not claims:
            yield location, ClaimError(Diagnostic("fhir-no-claim", "the Bundle holds no Claim", location,
                                                  path="$.entry"))
        for k, claim in claims:
            yield f"{location}: entry[{k}]", claim
    else:
        yield location, ClaimError(Diagnostic("fhir-not-a-claim", f"resourceType {kind!r}: expected a Claim or a "
                                              "Bundle of Claims", location, path="$.resourceType"))


def _validation(exc: Exception, where: str) -> list[Diagnostic]:
    errors: list[dict] = getattr(exc, "errors", lambda: [])()
    return [Diagnostic("fhir-invalid", f"not a valid FHIR R4 Claim: {e.get('msg', '')}", where,
                       path="$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.get("loc", ())))
            for e in errors] or [Diagnostic("fhir-invalid", f"not a valid FHIR R4 Claim: {exc}", where)]


def _origin(where: str, path: str, label: str = "") -> Origin:
    return Origin(where, label=label or path.removeprefix("$."), path=path)


def _codes(concept: Any, systems: tuple[str, ...] | None) -> list[str]:
    codings = getattr(concept, "coding", None) or []
    return [c.code for c in codings if c.code and (systems is None or c.system in systems)]


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value if isinstance(value, dt.date) else None


def _draft(where: str, raw: dict, claim: Any, options: ReadOptions) -> Draft:
    identifier = next((i.value for i in claim.identifier or [] if i.value), None)
    draft = Draft(where, {"id": identifier or claim.id or ""}, source=raw)
    draft.origins["$.id"] = _origin(where, "$.identifier[0].value" if identifier else "$.id")
    if not (identifier or claim.id):
        draft.fail(_origin(where, "$.identifier").error("fhir-invalid", "the Claim has neither an identifier nor an id"))
    draft.total_charge = claim.total.value if claim.total is not None else None
    _payer(draft, claim, options)
    lines: list[dict[str, Any]] = []
    dates: list[dt.date] = []
    places: dict[str, Origin] = {}
    types: dict[str, str] = {}
    fallback = (_day(claim.billablePeriod.start), _day(claim.billablePeriod.end)) if claim.billablePeriod else None
    for index, item in enumerate(claim.item or []):
        lines.append(_line(draft, claim, item, index, dates, places, types, fallback, options))
    if not lines:
        draft.fail(_origin(where, "$.item").error("fhir-invalid", "the Claim has no item"))
    if len(places) > 1:
        draft.fail(_origin(where, "$.item").error("fhir-unsupported", "its items name different places of service: "
                                                  + ", ".join(sorted(places)),
                                                  "the claim schema has one place of service a claim: split the claim"))
    if places:
        code, origin = next(iter(places.items()))
        draft.claim["place_of_service"] = code
        draft.origins["$.place_of_service"] = origin
    if dates:
        first = min(dates).isoformat()
        draft.claim["date_of_service"] = first
        for line in lines:
            if line.get("date_of_service") == first:
                del line["date_of_service"]
    if len(set(types.values())) > 1:
        draft.fail(_origin(where, "$.careTeam").error(
            "fhir-unsupported", "its items were rendered by different kinds of provider (" + "; ".join(
                f"{code} {kind}" for code, kind in sorted(types.items())) + ")",
            "the claim schema has one provider type a claim: split the claim"))
    elif types:
        draft.claim["provider_type"] = next(iter(types.values()))
        draft.origins["$.provider_type"] = _origin(where, "$.careTeam")
    draft.claim["lines"] = lines
    return draft


def _payer(draft: Draft, claim: Any, options: ReadOptions) -> None:
    if options.payer:
        draft.claim["payer"] = options.payer
        return
    insurer = claim.insurer
    value = insurer.identifier.value if insurer is not None and insurer.identifier is not None else None
    reference = insurer.reference if insurer is not None else None
    where = _origin(draft.location, "$.insurer")
    if options.payer_map is None:
        draft.fail(where.error("fhir-unknown-payer", "no payer map to tell which payer the insurer is",
                               "pass --payer-map MAP.yaml, or --payer NAME for every claim"))
        return
    for section, key in (("payer_ids", value), ("insurers", reference)):
        if key and (name := options.payer_map.lookup(section, key)):  # type: ignore[arg-type]
            draft.claim["payer"] = name
            draft.origins["$.payer"] = where
            return
    said = " and ".join(f"{what} {key!r}" for what, key in (("insurer identifier", value), ("insurer reference",
                                                                                          reference)) if key)
    draft.fail(where.error("fhir-unknown-payer", f"{said or 'no insurer'} not in the payer map "
                           f"{options.payer_map.source}", "add it under payer_ids: (an identifier) or insurers: (a "
                           "reference), or pass --payer NAME"))


def _line(draft: Draft, claim: Any, item: Any, index: int, dates: list, places: dict, types: dict,
          fallback: tuple | None, options: ReadOptions) -> dict[str, Any]:
    where, base = draft.location, f"$.item[{index}]"
    path = f"$.lines[{index}]"
    draft.line_keys.append(str(item.sequence))
    out: dict[str, Any] = {}
    codes = _codes(item.productOrService, CODE_SYSTEMS)
    if not codes:
        draft.fail(_origin(where, f"{base}.productOrService").error(
            "fhir-invalid", "no CPT or HCPCS coding", "code it in " + " or ".join(CODE_SYSTEMS[:2])))
    out["code"] = codes[0] if codes else ""
    draft.origins[f"{path}.code"] = _origin(where, f"{base}.productOrService")
    modifiers = [c for m in item.modifier or [] for c in _codes(m, None)[:1]]
    if modifiers:
        out["modifiers"] = modifiers
        draft.origins[f"{path}.modifiers"] = _origin(where, f"{base}.modifier")
    quantity = item.quantity.value if item.quantity is not None else None
    if quantity is None:
        draft.fail(_origin(where, f"{base}.quantity").error("fhir-invalid", "no quantity: the units billed are needed"))
    elif quantity != quantity.to_integral_value():
        draft.fail(_origin(where, f"{base}.quantity.value").error("fhir-invalid",
                                                                  f"{quantity} units: expected a whole number"))
    else:
        out["units"] = int(quantity)
    draft.origins[f"{path}.units"] = _origin(where, f"{base}.quantity.value")
    charge = Decimal(item.net.value) if item.net is not None and item.net.value is not None else None
    draft.charges.append(charge)
    if charge is not None:  # the decision's adjustments then carry amounts
        out["charge"] = charge_number(charge)
        draft.origins[f"{path}.charge"] = _origin(where, f"{base}.net.value")
    pos = _codes(item.locationCodeableConcept, POS_SYSTEMS)
    if pos:
        places.setdefault(pos[0], _origin(where, f"{base}.locationCodeableConcept"))
    else:
        draft.fail(_origin(where, f"{base}.locationCodeableConcept").error(
            "fhir-invalid", "no place of service", f"code it in {POS_SYSTEMS[0]}"))
    period = (item.servicedDate, item.servicedDate) if item.servicedDate else (
        (_day(item.servicedPeriod.start), _day(item.servicedPeriod.end)) if item.servicedPeriod else fallback)
    first, last = period if period else (None, None)
    served = f"{base}.serviced" if period is not fallback else "$.billablePeriod"
    if first is None:
        draft.fail(_origin(where, f"{base}.servicedDate").error("fhir-invalid", "no date of service (servicedDate, "
                                                                "servicedPeriod or the Claim's billablePeriod)"))
    elif last is not None and last != first:
        draft.fail(_origin(where, served).error(
            "fhir-unsupported", f"the service dates span {(last - first).days + 1} days ({first} to {last})",
            "the claim schema holds one date a line, and units are counted by day: an item per date"))
    else:
        out["date_of_service"] = first.isoformat()
        dates.append(first)
        draft.origins[f"{path}.date_of_service"] = _origin(where, served)
        draft.origins.setdefault("$.date_of_service", _origin(where, served))
    for code in _taxonomies(claim, item):
        kind = provider_type(code, dict(options.payer_map.taxonomies) if options.payer_map else None)
        if kind is None:
            draft.fail(_origin(where, "$.careTeam").error(
                "fhir-unknown-taxonomy", f"taxonomy {code} is not one ctsdsl maps to a provider type", "if this "
                f"provider bills as a therapist, physician or npp, add it to the payer map: taxonomies: {{{code}: ...}}"))
        else:
            types[code] = kind
    return out


def _taxonomies(claim: Any, item: Any) -> list[str]:
    team = claim.careTeam or []
    chosen = [m for m in team if m.sequence in (item.careTeamSequence or [])] or team
    primary = [m for m in chosen if "primary" in _codes(m.role, (CARE_TEAM_ROLE,))]
    return [code for m in (primary or chosen) for code in _codes(m.qualification, (NUCC_SYSTEM,))[:1]]


# ---------------------------------------------------------------- the answer: a ClaimResponse


def _concept(system: str, code: str, text: str = "") -> dict:
    concept: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text:
        concept["text"] = text
    return concept


def _money(amount: Decimal | str) -> dict:
    return {"value": float(Decimal(amount)), "currency": "USD"}


def _reasons(line: dict) -> list[dict]:
    """A line's adjustments and remarks as CARIN's reason adjudications.

    Each adjustment with a CARC is one, with the CARC coded in X12's system, its group and CARC
    as the 835 writes them (``PR 119``) in ``reason.text``, and the amount adjusted when the claim
    gave the charge; each remark (RARC) one more. An adjustment whose rule names no CARC has no
    code to give, and is left out.
    """
    kind = _concept(CARIN_DISCRIMINATOR, "denialreason" if line["status"] == "denied" else "adjustmentreason")
    out: list[dict] = []
    for adjustment in line["adjustments"]:
        if adjustment["carc"] is None:
            continue
        said: dict[str, Any] = {"category": kind, "reason": _concept(
            CARC, adjustment["carc"], f"{adjustment['group']} {adjustment['carc']}")}
        if adjustment["amount"] is not None:
            said["amount"] = _money(adjustment["amount"])
        out.append(said)
    out.extend({"category": kind, "reason": _concept(RARC, code, f"RARC {code}")} for code in line["remarks"])
    return out


def _created() -> str:
    # SOURCE_DATE_EPOCH (reproducible-builds.org) pins the date, for documentation and tests.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch and epoch.isdigit() \
        else dt.datetime.now(dt.timezone.utc)
    return moment.date().isoformat()


def claim_response(read: ReadClaim, decision: Any) -> dict:
    """The FHIR R4 ClaimResponse (use predetermination) answering a Claim read by `read_fhir`.

    Args:
        read: The claim as read, with its source Claim resource.
        decision: Its `Decision`.

    Returns:
        The ClaimResponse as JSON-ready dict, checked against fhir.resources' R4B model.
    """
    _models()
    from fhir.resources.R4B.claimresponse import ClaimResponse

    source = read.source if isinstance(read.source, dict) else {}
    body = decision.to_dict()
    findings = {f["id"]: f for f in body["findings"]}
    notes = {fid: number for number, fid in enumerate(findings, 1)}
    items = source.get("item") or []
    out_items: list[dict] = []
    pending_notes: list[dict[str, Any]] = []  # a processNote for each item that rests on the record
    for line in body["lines"]:
        sequence = items[line["index"]].get("sequence") if line["index"] < len(items) else line["index"] + 1
        adjudication: list[dict] = []
        charge = read.charges[line["index"]] if line["index"] < len(read.charges) else None
        if charge is not None:
            adjudication.append({"category": _concept(ADJUDICATION, "submitted"), "amount": _money(charge)})
        numbers = [notes[fid] for fid in line["findings"]]
        if line["status"] == "needs_record":
            # No eligible amount nor units: they would read as this item's answer, and it has none
            # until the record is consulted. Its deny and reduce findings were decided on the
            # unstated elements' defaults ("not documented"), so the item does not point to them.
            confirm = "confirm in the medical record: " + ", ".join(line["confirm"])
            adjudication.append({"category": _concept(PENDING_SYSTEM, "needs-record", "needs the record"),
                                 "reason": {"text": confirm}})
            numbers = [notes[fid] for fid in line["findings"] if findings[fid]["severity"] not in ("deny", "reduce")]
            pending_notes.append({"number": len(notes) + len(pending_notes) + 1, "type": "display",
                                  "text": f"item {sequence} ({line['code']}): not adjudicated, the decision rests "
                                          f"on the record; {confirm}"})
            numbers.append(pending_notes[-1]["number"])
        else:
            if line["allowed_amount"] is not None:
                adjudication.append({"category": _concept(ADJUDICATION, "eligible"),
                                     "amount": _money(line["allowed_amount"])})
            adjudication.append({"category": _concept(CARIN_DISCRIMINATOR, "allowedunits"),
                                 "value": line["units_allowed"]})
            adjudication.extend(_reasons(line))
        entry: dict[str, Any] = {"itemSequence": sequence, "adjudication": adjudication}
        if numbers:
            entry["noteNumber"] = numbers
        out_items.append(entry)
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "identifier": [{"system": DIGEST_SYSTEM, "value": body["claim_digest"]},
                       {"system": POLICY_SYSTEM, "value": f"{body['policy']['name']} {body['policy']['version']} "
                        f"{body['policy']['digest']}"}],
        "status": "active",
        "type": source.get("type") or _concept("http://terminology.hl7.org/CodeSystem/claim-type", "professional"),
        "use": "predetermination",
        "patient": source.get("patient") or {"display": "unknown"},
        "created": _created(),
        "insurer": source.get("insurer") or {"display": body["policy"]["payer"]},
        # RemittanceOutcome "partial": no errors, and some of the adjudication performed: the
        # items that rest on the record are not ("queued" would say nothing was processed).
        "outcome": "partial" if pending_notes else "complete",
        "disposition": f"{body['outcome']}: ctsdsl policy {body['policy']['name']} {body['policy']['version']}"
                       + ("" if body["total_complete"] else "; some allowed amounts are unknown")
                       + (f"; {len(pending_notes)} item(s) rest on the medical record" if pending_notes else ""),
        "item": out_items,
    }
    if source.get("provider"):
        response["requestor"] = source["provider"]
    if source.get("id"):
        response["request"] = {"reference": f"Claim/{source['id']}"}
    elif source.get("identifier"):
        response["request"] = {"identifier": source["identifier"][0]}
    if body["total_complete"] and not pending_notes:  # a total with items still open would read as final
        response["total"] = [{"category": _concept(ADJUDICATION, "eligible"), "amount": _money(body["total_allowed"])}]
    # The deny and reduce findings of an item that rests on the record were decided with what the
    # claim leaves unstated read as its default ("not documented"): no item points to them, and
    # they are left out rather than said of a Claim that never stated it.
    unsaid = {fid for line in body["lines"] if line["status"] == "needs_record" for fid in line["findings"]
              if findings[fid]["severity"] in ("deny", "reduce")}
    said = [{"number": notes[fid], "type": "display", "text": f["message"]}
            for fid, f in findings.items() if fid not in unsaid]
    if said or pending_notes:
        response["processNote"] = said + pending_notes
    ClaimResponse.model_validate(response)  # a bug here must not reach a payer's system as a bad resource
    return response
