"""What a playground request asks for: which policy (bundled, or edited text), and the claims in its text.

A claim arrives as text, as an analyst pasted or uploaded it. ctsdsl's own JSON and YAML are
parsed in memory by the same parsers `ctsdsl eval` uses. The X12 and FHIR readers read files
(`ctsdsl.interop.read_claims` takes a path), so such a text is written to a private folder in
memory (/dev/shm where there is one), read, and removed before the request ends; its name
never appears in an answer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import _resources
from ..claims.validation import parse_json, parse_yaml, validate_claim
from ..engine.evaluator import Evaluator
from ..engine.loader import LoadedPolicy, check_text
from ..engine.registry import bundled
from ..errors import ClaimError, CtsdslError, Diagnostic, PolicySemanticError, UsageError
from ..language.overlay import Layer
from ..limits import MAX_POLICY_BYTES

CLAIM_NAME = "claim"  # what answers call the pasted claim, where the CLI would name its file
POLICY_NAME = "playground.cts"  # an edited policy that starts from no bundled file sits at the tree's top
FORMATS = ("auto", "json", "yaml", "x12", "fhir")
_SUFFIX = {"x12": ".837", "fhir": ".json"}


class RequestError(CtsdslError):
    """The request itself is malformed: not JSON, a field of the wrong type, a policy file outside the tree."""

    exit_code = 2


def bad_request(message: str, path: str, hint: str = "") -> RequestError:
    return RequestError(Diagnostic("bad-request", message, "request", hint=hint, path=path))


def text_field(body: dict, key: str, where: str, *, required: bool = False) -> str | None:
    got = body.get(key)
    if got is None and not required:
        return None
    if not isinstance(got, str):
        raise bad_request(f"{key} must be text" + ("" if got is not None else ", and is required"), f"{where}.{key}")
    return got


@dataclass(frozen=True)
class Policy:
    """The policy a request decides with; None for the bundled one in force for each claim."""

    evaluator: Evaluator
    layers: list[Layer]
    diagnostics: list[Diagnostic]  # the warnings of an edited text (its errors stop it before here)


def bundled_file(name: str, where: str) -> Path:
    """A file in the bundled policy tree, named relative to it; refused if it would lead out of it."""
    root = _resources.policies_dir().resolve()
    path = (root / name).resolve()
    if not name or not path.is_relative_to(root) or path.suffix != ".cts":
        raise bad_request(f"{name!r} is not a .cts file of the bundled policy tree", where,
                          hint="name it as GET /api/policies lists it, e.g. medicare/cts-2024.cts")
    return path


def edited_path(file: str | None) -> Path:
    """Where edited text is checked as if saved: the bundled file it started from, or the tree's top."""
    return bundled_file(file, "$.policy.file") if file else _resources.policies_dir().resolve() / POLICY_NAME


def check_policy_text(text: str, file: str | None) -> tuple[list[Diagnostic], LoadedPolicy | None]:
    """The checker's diagnostics for edited text, checked as if saved at `file` in the bundled tree."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        raise bad_request(f"the policy is larger than {MAX_POLICY_BYTES} bytes", "$.policy.text")
    result = check_text(text, edited_path(file))
    return result.diagnostics, result.loaded


@functools.lru_cache(maxsize=16)
def _compiled(digest: str, text: str, file: str | None) -> Policy:
    """An edited policy compiled once per text (the page re-evaluates on each change of the claim)."""
    diagnostics, loaded = check_policy_text(text, file)
    errors = [d for d in diagnostics if d.severity == "error"]
    if loaded is None or errors:
        raise PolicySemanticError(errors or diagnostics)
    return Policy(loaded.evaluator(), loaded.layers, diagnostics)


def policy_of(body: dict) -> Policy | None:
    """The request's ``policy``: ``{"name": ...}`` bundled, ``{"text": ..., "file": ...}`` edited, or absent."""
    given = body.get("policy")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise bad_request("policy must be an object: {\"name\": ...} or {\"text\": ..., \"file\": ...}", "$.policy")
    text = text_field(given, "text", "$.policy")
    if text is not None:
        file = text_field(given, "file", "$.policy")
        return _compiled(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), text, file)
    name = text_field(given, "name", "$.policy", required=True)
    assert name is not None
    registry = bundled()
    entry = registry.by_name(name)
    return Policy(registry.evaluator(entry.path), registry.load(entry.path).layers, [])


def layers_for(evaluator: Evaluator) -> list[Layer]:
    """The overlay chain of a bundled policy chosen by payer and date, as `ctsdsl explain` finds it."""
    return bundled().load(Path(evaluator.checked.policy.source_name)).layers


@dataclass(frozen=True)
class ClaimText:
    text: str
    format: str = "auto"
    payer: str | None = None
    payer_map: str | None = None  # YAML, as `--payer-map` reads it
    records: str | None = None  # JSON Lines, as `--records` reads it


def claim_of(body: dict) -> ClaimText:
    given = body.get("claim")
    if not isinstance(given, dict):
        raise bad_request("claim must be an object: {\"text\": ..., \"format\": \"auto\"}", "$.claim")
    text = text_field(given, "text", "$.claim", required=True)
    fmt = text_field(given, "format", "$.claim") or "auto"
    if fmt not in FORMATS:
        raise bad_request(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}", "$.claim.format")
    assert text is not None
    return ClaimText(text, fmt, text_field(given, "payer", "$.claim"), text_field(given, "payer_map", "$.claim"),
                     text_field(given, "records", "$.claim"))


def sniffed(text: str) -> str:
    """The format of a pasted claim, by its content as `ctsdsl eval` tells a file's."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("ISA"):
        return "x12"
    if head[:1] in "{[":
        # ctsdsl's claim schema has no resourceType field, so naming one makes it FHIR
        return "fhir" if '"resourceType"' in head[:64 * 1024] else "json"
    return "yaml"


def claims_in(given: ClaimText) -> list[tuple[str, dict]]:
    """Every claim of the text, valid, with its location; or every problem at once.

    Raises:
        ClaimError: the text does not parse, or a claim does not match the claim schema.
        UsageError: an X12 or FHIR claim without its extra, or an X12 claim without a payer.
    """
    fmt = sniffed(given.text) if given.format == "auto" else given.format
    if fmt in ("x12", "fhir"):
        return _interop_claims(given, fmt)
    if given.payer_map or given.records or given.payer:
        raise UsageError(Diagnostic("usage", "payer, payer_map and records apply to X12 837P and FHIR claims",
                                    CLAIM_NAME, hint="ctsdsl's own claims name their payer and facts themselves"))
    text = given.text.removeprefix("\ufeff")
    if not text.strip():
        raise ClaimError(Diagnostic("claim-empty", "the claim is empty", CLAIM_NAME,
                                    hint="paste a claim, or pick an example"))
    doc = parse_json(text, CLAIM_NAME) if fmt == "json" else parse_yaml(text, CLAIM_NAME)
    items = [(f"{CLAIM_NAME}[{i}]", item) for i, item in enumerate(doc)] if isinstance(doc, list) \
        else [(CLAIM_NAME, doc)]
    if not items:
        raise ClaimError(Diagnostic("claim-empty", "the list holds no claims", CLAIM_NAME))
    claims, problems = [], []
    for location, item in items:
        try:
            claims.append((location, validate_claim(item, location)))
        except ClaimError as exc:
            problems += exc.diagnostics
    if problems:
        raise ClaimError(problems)
    return claims


@contextlib.contextmanager
def _private_folder() -> Iterator[Path]:
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="ctsdsl-serve-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK)
                                   else None))  # mkdtemp: mode 0700, this user's only
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _interop_claims(given: ClaimText, fmt: str) -> list[tuple[str, dict]]:
    from ..interop.payer_map import load_payer_map
    from ..interop.records import load_records
    from ..interop.source import ReadOptions, read_claims

    if fmt == "x12" and not (given.payer or given.payer_map):
        raise UsageError(Diagnostic(
            "usage", "an X12 interchange names its payer by id, which ctsdsl cannot turn into a payer name alone",
            CLAIM_NAME, hint="give a payer map (YAML, as docs/interop.md shows), or a payer for every claim"))
    with _private_folder() as folder:
        names = {folder / f"{CLAIM_NAME}{_SUFFIX[fmt]}": CLAIM_NAME + _SUFFIX[fmt],
                 folder / "payer-map.yaml": "payer map", folder / "records.jsonl": "records"}
        files = list(names)
        try:
            files[0].write_text(given.text, encoding="utf-8", errors="surrogateescape")
            if given.payer_map:
                files[1].write_text(given.payer_map, encoding="utf-8", errors="surrogateescape")
            if given.records:
                files[2].write_text(given.records, encoding="utf-8", errors="surrogateescape")
            options = ReadOptions(payer_map=load_payer_map(files[1]) if given.payer_map else None,
                                  payer=given.payer or None, records=load_records(files[2]) if given.records else None)
            reads = list(read_claims(files[0], options, fmt))  # type: ignore[arg-type]  # fmt is x12 or fhir
        except CtsdslError as exc:
            raise _renamed(exc, names) from None
        problems = [d for r in reads if r.error is not None for d in r.error.diagnostics]
        if problems:
            raise _renamed(ClaimError(problems), names)
        return [(_rename(r.location, names), r.claim) for r in reads if r.claim is not None]


def _rename(text: str, names: dict[Path, str]) -> str:
    for path, name in names.items():
        text = text.replace(str(path), name)
    return text


def _renamed(exc: CtsdslError, names: dict[Path, str]) -> CtsdslError:
    """The error with the private folder's paths replaced by what the page calls each input."""
    exc.diagnostics = [Diagnostic(d.code, _rename(d.message, names), _rename(d.source_name, names), d.span,
                                  _rename(d.hint, names), d.severity, d.path, d.source_text) for d in exc.diagnostics]
    return exc


def policy_text(name: str) -> tuple[str, str]:
    """A bundled policy's file (relative to the tree) and its text."""
    registry = bundled()
    entry = registry.by_name(name)
    root = _resources.policies_dir()
    return entry.path.resolve().relative_to(root.resolve()).as_posix(), registry.load(entry.path).text
