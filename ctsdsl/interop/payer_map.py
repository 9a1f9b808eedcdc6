"""The user's payer map: which payer name (a policy's ``payer``) each id in a real claim means.

An 837P names its payer by the payer id of loop 2010BB (NM109) and the claim filing indicator
of the subscriber (SBR09, e.g. MB for Medicare Part B); a FHIR Claim by its ``insurer``. None
of them is the name ctsdsl's policies are chosen by, and which id means which payer is a fact
about the team's trading partners, so the team writes it down (YAML)::

    payer_ids:          # 2010BB NM109, or a FHIR insurer's identifier.value
      "00000": medicare
    filing_indicators:  # SBR09, used when the payer id is not listed
      MB: medicare
    insurers:           # a FHIR insurer's reference
      Organization/example-payer: acme
    taxonomies:         # NUCC codes to add to ctsdsl's table (see taxonomy.py)
      261QP2000X: therapist

Payer ids are text: quote them, or YAML reads ``00000`` as the number 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..claims.yaml_loader import StrictYamlLoader
from ..claims.validation import claim_schema, parse_yaml
from ..errors import ClaimError, Diagnostic, UsageError, did_you_mean
from ..language.nodes import NO_SPAN, Span
from ..limits import MAX_CLAIM_FILE_BYTES
from .taxonomy import PROVIDER_TYPES, ProviderType, is_taxonomy_code

Section = Literal["payer_ids", "filing_indicators", "insurers", "taxonomies"]

SECTIONS: dict[str, str] = {
    "payer_ids": "payer ids (2010BB NM109, FHIR insurer.identifier.value) to payer names",
    "filing_indicators": "claim filing indicators (SBR09) to payer names",
    "insurers": "FHIR insurer references (Organization/...) to payer names",
    "taxonomies": "NUCC taxonomy codes to a provider type (therapist, physician or npp)",
}


@dataclass(frozen=True)
class PayerMap:
    """A loaded payer map. Each section maps a value found in a claim to a payer name (or a provider type)."""

    source: str = "<payer map>"
    payer_ids: Mapping[str, str] = field(default_factory=dict)
    filing_indicators: Mapping[str, str] = field(default_factory=dict)
    insurers: Mapping[str, str] = field(default_factory=dict)
    taxonomies: Mapping[str, ProviderType] = field(default_factory=dict)

    def lookup(self, section: Section, value: str) -> str | None:
        """The payer name (or provider type) `value` maps to in `section`, or None."""
        table: Mapping[str, str] = getattr(self, section)
        return table.get(value)


def load_payer_map(path: str | Path) -> PayerMap:
    """Read and check a payer map file.

    Raises:
        UsageError: The file is missing, not YAML, or holds an unknown section, a key that is
            not text, a payer name the claim schema would refuse, or an unknown provider type;
            located at the key.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes() if Path(path).stat().st_size <= MAX_CLAIM_FILE_BYTES else None
    except OSError as exc:
        raise UsageError(Diagnostic("payer-map-unreadable", f"cannot read the payer map {name}: "
                                    f"{exc.strerror or exc}", name, hint="pass --payer-map MAP.yaml")) from None
    if data is None:
        raise UsageError(Diagnostic("payer-map-invalid", f"{name} is larger than {MAX_CLAIM_FILE_BYTES} bytes", name))
    try:
        text = data.decode("utf-8-sig")
        doc = parse_yaml(text, name)
    except UnicodeDecodeError as exc:
        raise UsageError(Diagnostic("payer-map-invalid", f"{name} is not UTF-8 text (byte {exc.start})", name)) from None
    except ClaimError as exc:  # a YAML error, already located
        raise UsageError(exc.diagnostics) from None
    return _checked(doc, name, text)


def _checked(doc: object, name: str, text: str) -> PayerMap:
    problems: list[Diagnostic] = []

    def fail(message: str, section: str | None = None, key: object = None, hint: str = "") -> None:
        problems.append(Diagnostic("payer-map-invalid", message, name, _span_of(text, section, key), hint,
                                   path="$" + (f".{section}" if section else "") + (f"[{key!r}]" if key is not None
                                                                                    else ""), source_text=text))

    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        fail("a payer map is a mapping of sections: " + ", ".join(SECTIONS))
        raise UsageError(problems)
    max_payer = claim_schema()["properties"]["payer"]["maxLength"]
    tables: dict[str, dict[str, Any]] = {}
    for section, table in doc.items():
        if section not in SECTIONS:
            fail(f"unknown section {section!r}", str(section), hint=did_you_mean(section, SECTIONS, quote="'") or
                 "the sections are " + ", ".join(f"{s} ({what})" for s, what in SECTIONS.items()))
            continue
        if not isinstance(table, dict):
            fail(f"{section} maps {SECTIONS[section]}; it is not a mapping", section)
            continue
        tables[section] = {}
        for key, value in table.items():
            if not isinstance(key, str):
                fail(f"{section}: the key {key!r} is not text", section, key,
                     "quote it: YAML reads 00000 as the number 0 and drops its leading zeros")
                continue
            if section == "taxonomies":
                if not is_taxonomy_code(key):
                    fail(f"taxonomies: {key!r} is not a NUCC taxonomy code (ten characters ending in X)", section, key)
                elif value not in PROVIDER_TYPES:
                    fail(f"taxonomies: {key} maps to {value!r}, which is not a provider type", section, key,
                         "use one of " + ", ".join(PROVIDER_TYPES))
            elif not isinstance(value, str) or not value or len(value) > max_payer:
                fail(f"{section}: {key} maps to {value!r}; a payer name is text of 1 to {max_payer} characters",
                     section, key, "the name a policy's header gives as its payer, e.g. medicare")
            tables[section][key] = value
    if problems:
        raise UsageError(problems)
    return PayerMap(name, **tables)


def _span_of(text: str, section: str | None, key: object) -> Span:
    """The line of a section's key in the YAML text, for the caret."""
    try:
        root = yaml.compose(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return NO_SPAN
    if not isinstance(root, yaml.MappingNode):
        return Span(1, 1)
    for key_node, value_node in root.value:
        if key_node.value != section:
            continue
        mark = key_node.start_mark
        if key is not None and isinstance(value_node, yaml.MappingNode):
            for inner, _ in value_node.value:
                if inner.value == str(key) or _scalar(inner) == key:
                    mark = inner.start_mark
        return Span(mark.line + 1, mark.column + 1)
    return Span(1, 1)


def _scalar(node: yaml.Node) -> object:
    try:
        return yaml.load(node.value, Loader=StrictYamlLoader) if isinstance(node, yaml.ScalarNode) else None  # noqa: S506
    except yaml.YAMLError:
        return None
