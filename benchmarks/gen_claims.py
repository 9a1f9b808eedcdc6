"""Write N realistic, deterministic claims as JSON Lines, streaming (one claim in memory at a time).

Run from the repository root:

    python benchmarks/gen_claims.py 1000000 -o /tmp/claims.jsonl     # a million claims, about 500 MB
    python benchmarks/gen_claims.py 1000 --seed 7 --bad 0.01          # to stdout, 1% malformed records

The mix follows what a billing service sends: Medicare claims from 2024 to 2026, mostly one
session of one to three lines (97550, then 97551 add-on units, sometimes a 97552 group line),
now and then a month's sessions on one claim, a few with documentation gaps, short minutes,
telehealth places of service or an unrelated code beside the CTS lines. The same N and seed
always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator

DOC_FIELDS = ("plan_of_care_includes_cts", "consent", "reason_without_patient", "need_for_occurrence",
              "training_described", "caregiver_response", "impact_on_goals")
YEARS = (2024, 2025, 2026)
PLACES = ("11",) * 12 + ("22", "12", "02", "10")  # mostly office; some home and telehealth
PROVIDERS = ("therapist", "therapist", "therapist", "physician", "npp")


def _day(rng: random.Random) -> str:
    return f"{rng.choice(YEARS)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _session(rng: random.Random, day: str | None) -> list[dict]:
    """One training session: 97550 with its minutes, add-on 97551 units, sometimes a group line."""
    minutes = rng.choice((16, 25, 30, 38, 45, 53, 60, 68, 75))
    first: dict = {"code": "97550", "units": 1, "minutes": minutes, "modifiers": ["GP"]}
    if rng.random() < 0.3:
        first["caregivers"] = rng.randint(1, 3)
    lines = [first]
    if minutes >= 38 or rng.random() < 0.1:  # sometimes billed without the minutes to support it
        extra = rng.random() < 0.1  # or one unit more than the minutes support
        lines.append({"code": "97551", "units": max(1, (minutes - 23) // 15) + extra, "modifiers": ["GP"]})
    if rng.random() < 0.2:
        lines.append({"code": "97552", "units": 1, "modifiers": ["GP"],
                      "patients_represented": rng.randint(2, 6)})
    if day is not None:
        for line in lines:
            line["date_of_service"] = day
    return lines


def claim(n: int, rng: random.Random) -> dict:
    """The n-th claim: its fields drawn from `rng`."""
    dos = _day(rng)
    docs = {name: True for name in DOC_FIELDS}
    if rng.random() < 0.08:
        docs[rng.choice(DOC_FIELDS)] = False
    body: dict = {"id": f"c-{n:08d}", "payer": "medicare", "date_of_service": dos,
                  "place_of_service": rng.choice(PLACES), "provider_type": rng.choice(PROVIDERS),
                  "documentation": docs}
    spend = rng.choice((0, 250, 800, 1500.5, 2300, 2600, 4100))
    if rng.random() < 0.7:
        body["therapy_spend_to_date"] = spend
    if dos.startswith("2026") and rng.random() < 0.3:
        body["apm_qualifying"] = True
    if rng.random() < 0.03:  # a month of weekly sessions on one claim
        lines = [line for week in range(4) for line in _session(rng, f"{dos[:8]}{1 + 7 * week:02d}")]
    else:
        lines = _session(rng, None)
    if rng.random() < 0.05:
        lines.append({"code": "97110", "units": 2, "modifiers": ["GP"]})  # not CTS: out of scope
    if spend > 2400 and rng.random() < 0.85:  # past the KX threshold most billers add KX
        for line in lines:
            line["modifiers"] = [*line["modifiers"], "KX"]
    if any(line["code"] == "97552" for line in lines) and rng.random() < 0.9:
        docs["group_details"] = True
    body["lines"] = lines
    return body


def _malformed(n: int, rng: random.Random) -> str:
    """A record a real feed might send: cut short, a units string, a missing field."""
    good = claim(n, rng)
    kind = n % 3
    if kind == 0:
        return json.dumps(good)[: 40]
    if kind == 1:
        good["lines"][0]["units"] = "one"
        return json.dumps(good)
    del good["payer"]
    return json.dumps(good)


def generate(count: int, seed: int = 2025, bad: float = 0.0) -> Iterator[str]:
    """Yield `count` JSON Lines records (without newlines); a share `bad` of them malformed."""
    rng = random.Random(seed)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for n in range(count):
        if bad and rng.random() < bad:
            yield _malformed(n, rng)
        else:
            yield dumps(claim(n, rng))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="how many claims")
    parser.add_argument("-o", "--output", help="the .jsonl file to write (default: stdout)")
    parser.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
    parser.add_argument("--bad", type=float, default=0.0, help="share of malformed records, 0 to 1 (default 0)")
    args = parser.parse_args(argv)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        buffer: list[str] = []
        for record in generate(args.count, args.seed, args.bad):
            buffer.append(record)
            if len(buffer) == 10_000:  # write in blocks: one write per record doubles the run time
                out.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            out.write("\n".join(buffer) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
