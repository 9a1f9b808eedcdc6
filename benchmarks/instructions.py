"""Instructions per claim, counted by valgrind: figures the machine's load does not change.

Run from the repository root (valgrind must be installed):

    python benchmarks/instructions.py            # ctsdsl.evaluate and ctsdsl batch --jobs 1
    python benchmarks/instructions.py --n 500    # fewer claims, quicker

Wall-clock figures on a shared 2-core machine vary two- to five-fold with other work; an A/B of
two trees is read here instead: each figure is a whole process under `valgrind --tool=callgrind`
doing N claims more than the same process doing the rest, divided by N (evaluate: N claims
against none; batch: 2N records against N, so both runs compile the same policies). Run it in each tree to compare
(about two minutes each).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def work(kind: str, n: int, mix: Path, out: Path) -> None:
    """The measured process: `kind` of work on n claims (after one claim of warm-up)."""
    sys.path.insert(0, str(ROOT))  # this tree's ctsdsl, whichever one the environment installed
    import ctsdsl

    if kind == "evaluate":
        claim = json.loads((ROOT / "examples/claims/typical.json").read_text(encoding="utf-8"))
        for _ in range(n + 1):
            ctsdsl.evaluate(claim)
    else:
        from ctsdsl.scale import batch

        records = mix.read_text(encoding="utf-8").splitlines(True)
        path = out / f"mix-{n}.jsonl"
        path.write_text("".join(records[:n]), encoding="utf-8")
        batch.run_batch(path, output=out / "decisions.jsonl", jobs=1)


def count(kind: str, n: int, mix: Path, out: Path) -> int:
    """The instructions of one process doing `kind` on n claims."""
    trace = out / "callgrind.out"
    # No policy cache (engine/policy_cache.py): the first process of a pair would fill it and the
    # second read it, and the difference would count compiling, not deciding.
    env = {**os.environ, "CTSDSL_CACHE_DIR": ""}
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={trace}", sys.executable,
                          __file__, "--work", kind, "--n", str(n), "--mix", str(mix), "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT, check=True, env=env)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="claims per measured run (default 1,000)")
    parser.add_argument("--work", choices=("evaluate", "batch"), help=argparse.SUPPRESS)
    parser.add_argument("--mix", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.work:
        work(args.work, args.n, args.mix, args.out)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("instructions.py needs valgrind (apt install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        mix = out / "mix.jsonl"
        subprocess.run([sys.executable, str(ROOT / "benchmarks/gen_claims.py"), str(2 * args.n), "-o", str(mix),
                        "--seed", "14"], check=True, capture_output=True)
        for kind, what in (("evaluate", "ctsdsl.evaluate of examples/claims/typical.json"),
                           ("batch", "ctsdsl batch --jobs 1, per record of the generated mix")):
            # batch: 2N records against N, so that both runs compile the same policies (the mix
            # names all of them within its first few hundred claims)
            base = args.n if kind == "batch" else 0
            per_claim = (count(kind, base + args.n, mix, out) - count(kind, base, mix, out)) / args.n
            print(f"  {what:<58} {per_claim:>12,.0f} instructions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
