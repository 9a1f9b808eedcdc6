"""Stop `ctsdsl batch` in every way it can be stopped, and print how many runs did not end cleanly.

    python benchmarks/batch_robustness.py              # 40 000 generated claims, --jobs 2 (and 1 for signals)
    python benchmarks/batch_robustness.py --claims 100000 --repeat 3

Each run decides a file of generated claims into an output that already holds a previous run's
decisions, and is then stopped part way:

* one worker is killed with SIGKILL (as the kernel's out-of-memory killer does);
* SIGINT, SIGTERM and SIGHUP are sent to the whole process group (a terminal's Ctrl-C, a closed
  terminal, a service manager) and to the main process alone (`kill PID`);
* the `--errors` file is on a 1 MiB tmpfs that fills up (mounted here if the machine allows it:
  it needs root, or the script says it skipped that case), and standard output is /dev/full.

A run ends cleanly when it exits within the time limit with the exit code it must have (2 for a
dead worker or a full disk, 128 + the signal's number for a signal), prints no traceback, names
the file that filled up, leaves no temporary file and no worker process behind, and leaves the
previous output as it was. The script exits 1 if any run did not.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_claims import generate  # noqa: E402

PREVIOUS = "the previous run's decisions\n"
LIMIT = 20.0  # seconds a stopped run may take to end


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def start(folder: Path, claims: Path, *extra: str) -> subprocess.Popen:
    (folder / "out.jsonl").write_text(PREVIOUS, encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "ctsdsl", "batch", str(claims), "-o", str(folder / "out.jsonl"),
                             "-q", *extra], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)  # its own process group, as a shell job has


def wait_for_workers(run: subprocess.Popen, jobs: int) -> list[int]:
    if jobs == 1:  # no workers: give it time to get into the file
        time.sleep(1.5)
        return []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = children(run.pid)
        if len(workers) >= jobs:
            time.sleep(1.0)  # let them get into the file
            return workers
        time.sleep(0.05)
    return children(run.pid)


def finish(name: str, run: subprocess.Popen, folder: Path, workers: list[int], expect: int,
           fragment: str) -> list[str]:
    """Wait for the run; what was not clean about how it ended."""
    started = time.monotonic()
    try:
        _, err = run.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
        return [f"{name}: still running after {LIMIT:.0f} s (hung)"]
    took = time.monotonic() - started
    problems = []
    if run.returncode != expect:
        problems.append(f"{name}: exit {run.returncode}, expected {expect}")
    if "Traceback" in err:
        problems.append(f"{name}: printed a traceback:\n{err[-800:]}")
    if fragment not in err:
        problems.append(f"{name}: stderr does not say {fragment!r}: {err[-300:]!r}")
    left = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    if left:
        problems.append(f"{name}: left temporary files {left}")
    if (folder / "out.jsonl").read_text(encoding="utf-8") != PREVIOUS:
        problems.append(f"{name}: the previous output was changed")
    time.sleep(0.2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in _state(w)]
    if alive:
        problems.append(f"{name}: worker processes {alive} outlived the run")
    print(f"  {name}: exit {run.returncode} after {took:.2f} s" + (" FAILED" if problems else " ok"))
    return problems


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def kill_a_worker(folder: Path, claims: Path, jobs: int) -> list[str]:
    run = start(folder, claims, "--jobs", str(jobs))
    workers = wait_for_workers(run, jobs)
    if not workers:
        return ["kill -9 a worker: no worker process appeared"]
    os.kill(workers[0], signal.SIGKILL)
    return finish("kill -9 one worker", run, folder, workers, 2, "was killed by SIGKILL")


def send(folder: Path, claims: Path, jobs: int, sig: signal.Signals, group: bool) -> list[str]:
    run = start(folder, claims, "--jobs", str(jobs))
    workers = wait_for_workers(run, jobs)
    if group:
        os.killpg(run.pid, sig)
    else:
        os.kill(run.pid, sig)
    name = f"{sig.name} to the {'process group' if group else 'main process'}, --jobs {jobs}"
    return finish(name, run, folder, workers, 128 + sig, f"stopped by {sig.name}")


def full_disk(folder: Path, claims: Path, jobs: int) -> list[str]:
    small = folder / "small"
    small.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                             capture_output=True, text=True)
    if mounted.returncode:
        print(f"  full disk for --errors: skipped, a tmpfs cannot be mounted here "
              f"({(mounted.stderr or mounted.stdout).strip() or 'mount failed'})")
        return []
    try:
        # Every record bad, so that the error file outgrows the tmpfs while the decisions do not.
        bad = folder / "bad.jsonl"
        with claims.open(encoding="utf-8") as src, bad.open("w", encoding="utf-8") as dst:
            for line in src:
                claim = json.loads(line)
                claim["lines"][0]["units"] = 0
                dst.write(json.dumps(claim) + "\n")
        errors = small / "errors.jsonl"
        run = start(folder, bad, "--jobs", str(jobs), "--errors", str(errors))
        problems = finish("full disk for --errors", run, folder, [], 2, f"cannot write or read {errors}")
        left = [p.name for p in small.iterdir()]
        if left:
            problems.append(f"full disk for --errors: left {left} on the full disk")
        return problems
    finally:
        subprocess.run(["umount", str(small)], check=False)


def full_stdout(folder: Path, claims: Path) -> list[str]:
    problems = []
    one = folder / "one.json"
    one.write_text(claims.read_text(encoding="utf-8").splitlines()[0], encoding="utf-8")
    for argv in (["eval", str(one)], ["batch", str(claims)]):
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "ctsdsl", *argv, "-q" if argv[0] == "batch" else "--json"],
                                  stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        name = f"ctsdsl {argv[0]} > /dev/full"
        ok = done.returncode == 2 and "Traceback" not in done.stderr and "standard output" in done.stderr
        print(f"  {name}: exit {done.returncode}" + ("" if ok else " FAILED"))
        if not ok:
            problems.append(f"{name}: exit {done.returncode}, stderr {done.stderr[-300:]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=40_000, help="claims in the file (default 40 000)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every case (default 1)")
    args = parser.parse_args(argv)
    failures: list[str] = []
    runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        claims = folder / "claims.jsonl"
        claims.write_text("\n".join(generate(args.claims)) + "\n", encoding="utf-8")
        for round_ in range(args.repeat):
            print(f"round {round_ + 1} of {args.repeat}, {args.claims:,} claims, --jobs {args.jobs}:")
            failures += kill_a_worker(folder, claims, args.jobs)
            runs += 1
            for jobs in sorted({args.jobs, 1}, reverse=True):  # in worker processes, and in the main one
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    for group in (True, False):
                        failures += send(folder, claims, jobs, sig, group)
                        runs += 1
            failures += full_disk(folder, claims, args.jobs)
            failures += full_stdout(folder, claims)
            runs += 3
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"total: {runs} runs, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
