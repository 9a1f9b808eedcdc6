"""What ``ctsdsl eval``, ``explain`` and ``batch`` need to read real-format files: options, readers, answers.

Kept here, not in cli.py, so that the command line only asks "is this an interchange or a
FHIR file?" and hands it over.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ClaimError, Diagnostic, UsageError
from .source import Kind, ReadClaim, ReadOptions, read_claims, sniff


def add_options(p: argparse.ArgumentParser) -> None:
    """--payer-map, --payer and --records, for the commands that read claims."""
    p.add_argument("--payer-map", metavar="MAP.yaml", help="for X12 and FHIR claims: which payer each payer id "
                   "(2010BB NM109), filing indicator (SBR09) or FHIR insurer is (docs/interop.md)")
    p.add_argument("--payer", metavar="NAME", help="for X12 and FHIR claims: decide every claim under this payer")
    p.add_argument("--records", metavar="FILE.jsonl", help="for X12 and FHIR claims: session facts and documentation "
                   "by claim and line (docs/interop.md)")


def options(args: argparse.Namespace, kind: Kind | None) -> ReadOptions:
    """The reading options the command line gave, checked; an X12 file needs a way to name its payers."""
    if kind is None:
        given = [flag for flag, value in (("--payer-map", args.payer_map), ("--payer", args.payer),
                                          ("--records", args.records)) if value]
        if given:
            raise UsageError(Diagnostic("usage", f"{', '.join(given)} applies to X12 837P and FHIR claim files", "ctsdsl",
                                        hint="ctsdsl's own claims (.json, .yaml, .jsonl, .csv) name their payer and "
                                        "facts themselves"))
        return ReadOptions()
    if kind == "x12" and not (args.payer_map or args.payer):
        raise UsageError(Diagnostic(
            "usage", "an X12 interchange names its payer by id, which ctsdsl cannot turn into a payer name alone",
            "ctsdsl", hint="pass --payer-map MAP.yaml (docs/interop.md), or --payer NAME for every claim"))
    from .payer_map import load_payer_map  # here, not above: a claim of ctsdsl's own never needs YAML's import
    from .records import load_records

    return ReadOptions(payer_map=load_payer_map(args.payer_map) if args.payer_map else None, payer=args.payer,
                       records=load_records(args.records) if args.records else None)


def kind_of(path: str) -> Kind | None:
    return sniff(path) if Path(path).is_file() else None


def read_all(path: str, kind: Kind, opts: ReadOptions) -> list[ReadClaim]:
    """Every claim of the file, for ``eval`` and ``explain``: all of them, or every error at once (exit 2)."""
    claims = list(read_claims(path, opts, kind))
    problems = [d for c in claims if c.error is not None for d in c.error.diagnostics]
    if problems:
        raise ClaimError(problems)
    return claims


def batch_records(path: str, kind: Kind, opts: ReadOptions) -> Iterator[tuple[str, Any, str, ReadClaim]]:
    """(location, claim or its error, record text, the claim as read) for ``ctsdsl batch``."""
    for read in read_claims(path, opts, kind):
        yield read.location, read.claim if read.error is None else read.error, read.record, read


def fhir_body(pairs: list[tuple[ReadClaim, Any]]) -> str:
    """``ctsdsl eval --format fhir``: one ClaimResponse, or a Bundle (collection) of them."""
    from .fhir import claim_response

    responses = [claim_response(read, decision) for read, decision in pairs]
    if len(responses) == 1:
        return json.dumps(responses[0], indent=2)
    return json.dumps({"resourceType": "Bundle", "type": "collection",
                       "entry": [{"resource": r} for r in responses]}, indent=2)


def fhir_line(read: object, decision: Any) -> str:
    """``ctsdsl batch --format fhir``: one ClaimResponse a line (FHIR's NDJSON), for the claim `read`."""
    from .fhir import claim_response

    assert isinstance(read, ReadClaim)  # the context batch_records gave each record
    return json.dumps(claim_response(read, decision), separators=(",", ":"))


def require_fhir_input(kind: Kind | None) -> None:
    if kind != "fhir":
        raise UsageError(Diagnostic("usage", "--format fhir answers FHIR Claims: a ClaimResponse names the Claim's "
                                    "patient, insurer and items", "ctsdsl",
                                    hint="read a FHIR Claim (or Bundle), or use --json for ctsdsl's decisions"))
