"""The `ctsdsl` command line.

Exit codes: 0 done; 1 a policy has errors (or, for `check`, any error); 2 a claim
or the command line is malformed; 3 a rule could not be evaluated; 70 an
internal error. No traceback reaches the user: every error is rendered as a
located diagnostic.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import shlex
import signal
import sys
from pathlib import Path

from . import _resources
from .api import compile as compile_policy
from ._output import drop_stdout
from .claims import load_claim_file, validate_for
from .errors import (ClaimError, CtsdslError, Diagnostic, PolicyNotFoundError, PolicySyntaxError, UsageError,
                     amounts_in_range, printable)
from .loader import POLICY_SUFFIX, find_files, load_file, policy_tree
from .limits import MAX_JOBS
from .registry import OWN_POLICY_HINT, bundled, folder_registry, overlapping_policies
from .report import render_decision, render_explain, render_fixes

EXIT_INTERNAL = 70


_CLI_OWN_POLICY_HINT = ("to decide it with a policy of your own, pass its file (--policy PATH.cts) or the "
                        "folder of your policies, to choose from by payer and date (--policies DIR)")


def _evaluator_for(claim: dict, policy: str | None, policies: str | None = None):
    if policy:
        return compile_policy(policy)
    registry = folder_registry(policies) if policies else bundled()
    try:
        return registry.evaluator_for(claim)
    except PolicyNotFoundError as exc:
        _cli_hints(exc)
        raise


def _cli_hints(exc: CtsdslError) -> None:
    """Say how to name a policy of one's own the way this command line does (the API's hint says policy=)."""
    exc.diagnostics = [dataclasses.replace(d, hint=d.hint.replace(OWN_POLICY_HINT, _CLI_OWN_POLICY_HINT))
                       for d in exc.diagnostics]


def _claim_file(path: str, several: bool = False, kinds: str = ".json, .yaml or .jsonl") -> str:
    """Refuse a folder where a claim file belongs, before it is taken for a file of unknown format."""
    if Path(path).is_dir():
        raise ClaimError(Diagnostic(
            "claim-file-is-folder", f"{path} is not a regular file but a folder: a claim file is needed", path,
            hint=f"name a claim file ({kinds})"
                 + (f", or several: {Path(path) / '*.json'}" if several else "")))
    return path


def _claims(paths: list[str], several: bool = True, args=None):
    """Every claim in the given files, validated, with where it came from (and, for X12 or FHIR, as read)."""
    from .interop import command as interop
    if args is not None and args.records and len(paths) > 1:  # a record naming another file's claim would be refused
        raise UsageError(Diagnostic("usage", "--records goes with one claim file", "ctsdsl",
                                    hint="run one ctsdsl eval per claim file and its records"))
    for path in paths:
        kind = interop.kind_of(_claim_file(path, several))  # an 837P or FHIR file, by its content
        if args is not None and getattr(args, "format", None) == "fhir":
            interop.require_fhir_input(kind)
        options = interop.options(args, kind) if args is not None else None
        if kind and options is not None:
            for read in interop.read_all(path, kind, options):
                yield read.location, read.claim, read
            continue
        # Not validated here: a claim is checked against the schema of the policy that decides it,
        # which may declare fields of its own (see `_decided_by`).
        yield from ((location, raw, None) for location, raw in load_claim_file(path))


def _decided_by(raw: object, location: str, args):
    """The claim, valid for the policy that decides it, and that policy's evaluator."""
    return validate_for(raw, location, lambda claim: _evaluator_for(claim, args.policy, args.policies))


def cmd_eval(args) -> int:
    decisions, reads = [], []
    as_json = args.json or args.format == "json"
    for location, raw, read in _claims(args.claims, args=args):
        try:
            claim, evaluator = _decided_by(raw, location, args)
            with amounts_in_range(location):
                decision = evaluator.evaluate(claim, validate=False, assume_documented=args.assume_documented)
        except CtsdslError as exc:
            _prefix(exc, location)
            raise
        decisions.append(decision)
        reads.append(read)
        if not as_json and args.format != "fhir":
            print(render_decision(decision))
            print()
    if args.format == "fhir":
        from .interop.command import fhir_body
        print(fhir_body(list(zip(reads, decisions))))
    elif as_json:
        body = [d.to_dict() for d in decisions]
        print(json.dumps(body[0] if len(body) == 1 else body, indent=2))
    return 0


def cmd_explain(args) -> int:
    bodies: list[dict] = []
    for location, raw, _ in _claims([args.claim], several=False, args=args):
        try:
            claim, evaluator = _decided_by(raw, location, args)
            with amounts_in_range(location):
                decision, evaluations = evaluator.trace(claim, validate=False)
        except CtsdslError as exc:
            _prefix(exc, location)
            raise
        fixes = None
        if args.fix:
            from .fix import find_fixes
            fixes = find_fixes(evaluator, claim, budget=args.budget)
        if args.format == "json":
            from .explain import Explanation
            body = Explanation(decision, tuple(evaluations), evaluator).to_dict()
            if fixes is not None:
                body["fixes"] = fixes.to_dict()
            bodies.append(body)
            continue
        layers = load_file(evaluator.checked.policy.source_name).layers  # the overlay chain, for its story
        print(render_explain(decision, evaluations, show_all=args.all, layers=layers))
        print()
        if fixes is not None:
            print(render_fixes(fixes))
            print()
    if args.format == "json":
        print(json.dumps(bodies[0] if len(bodies) == 1 else bodies, indent=2))
    return 0


def cmd_batch(args) -> int:
    from .batch import run_batch
    shown = 0

    def report(error) -> None:  # the first few on stderr; all of them in --errors
        nonlocal shown
        shown += 1
        if shown <= 20:
            _cli_hints(error.error)
            print(error.render(), file=sys.stderr)
        elif shown == 21:
            print("... more bad records" + (f": see {args.errors}" if args.errors else "; pass --errors FILE"),
                  file=sys.stderr)

    from .batch import SourceRecord
    from .interop import command as interop
    path = _claim_file(args.claims, kinds=".jsonl, .csv, .json or .yaml")
    kind = interop.kind_of(path)  # an 837P or FHIR file, by its content: read here, decided in this process
    if args.format == "fhir":
        interop.require_fhir_input(kind)
    options = interop.options(args, kind)
    source = (SourceRecord(*r) for r in interop.batch_records(path, kind, options)) if kind else None
    if args.engine == "sql":  # the SQL backend (ctsdsl/sql, docs/sql.md)
        from .sql.command import run_sql_batch
        if kind or args.format != "json":
            raise UsageError(Diagnostic("usage", "--engine sql reads claim JSON Lines or CSV and writes decisions",
                                        "ctsdsl batch", hint="use --engine row for 837P, FHIR or --format fhir"))
        if args.assume_documented:  # the SQL views read the claim as given; they assume nothing
            raise UsageError(Diagnostic("usage", "--engine sql does not take --assume-documented", "ctsdsl batch",
                                        hint="use --engine row (the default) to assume the documentation"))
        summary = run_sql_batch(path, args.output, args.errors, args.policy, args.policies, on_error=report)
    else:
        summary = run_batch(path, output=args.output,
                            errors=args.errors, jobs=args.jobs, policy=args.policy, policies=args.policies,
                            on_error=report, progress=False if args.quiet else None, source=source,
                            encode=interop.fhir_line if args.format == "fhir" else None,
                            assume_documented=args.assume_documented)
    for note in summary.notes:  # about the file as a whole: said even with -q
        print(f"warning: {note}", file=sys.stderr)
    if not args.quiet:
        print(summary.render(), file=sys.stderr)
    return summary.exit_code


def _cmd_sql(args) -> int:
    from .sql.command import cmd_sql
    return cmd_sql(args)


def _assume_documented_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assume-documented", action="store_true",
                   help="read every documentation flag a claim does not give as false as documented (your scrubber "
                   "checked the record); decisions say so (docs/language.md)")


def _policy_options(p: argparse.ArgumentParser, default: str) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--policy", help=f"a policy name or .cts path {default}")
    which.add_argument("--policies", metavar="DIR",
                       help="choose each claim's policy by payer and date among the policies under DIR "
                       "(your own tree, overlays included) instead of the bundled ones")


def _jobs(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes from 1 to {MAX_JOBS}, not {text!r}")
    return int(text)


def _budget(text: str) -> int:
    # A search past 100 000 evaluations takes minutes on a large claim: say so rather than hang.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"must be a whole number of evaluations from 1 to 100000, not {text!r}")
    return int(text)


def _policy_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in paths or [str(_resources.policies_dir())]:
        path = Path(p)
        if path.is_dir():
            found = find_files(path)
            if not found:  # "checked 0 files: ok" would pass a typo'd folder in CI
                raise PolicyNotFoundError(Diagnostic(
                    "no-policy-files", f"no {POLICY_SUFFIX} policy files in folder {p}", p,
                    hint="pass a folder that holds policy files, or the .cts files themselves"))
            files.extend(found)
        else:
            files.append(path)
    return files


def _same(d: Diagnostic) -> tuple:
    """What makes two diagnostics the same problem, whichever path named its file."""
    path = Path(d.source_name)
    return (str(path.resolve()) if path.is_file() else d.source_name, d.span, d.code, d.message)


def cmd_schema(args) -> int:
    from .claims import model_for
    from .api import load_policy
    with policy_tree(Path(args.policies).resolve()) if args.policies else contextlib.nullcontext():
        loaded = load_policy(args.policy)
    schema = dict(model_for(loaded.checked.declared).schema)
    header = loaded.checked.policy.header
    if loaded.checked.declared and header is not None:  # say whose schema it is: it is not the base one
        schema["title"] = f"ctsdsl claim for {header.name} {header.version}"
        fields = ", ".join(d.path for d in loaded.checked.declared)
        schema["description"] = f"{schema['description']} With the fields {header.name} declares: {fields}."
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return 0


def cmd_check(args) -> int:
    errors = warnings = 0
    files = _policy_files(args.paths)
    given = {str(path) for path in files}
    found: dict[tuple, Diagnostic] = {}
    clean = []  # the policies that load without errors, to compare their periods
    folders = [Path(p).resolve() for p in args.paths if Path(p).is_dir()]
    for path in files:
        tree = next((f for f in folders if path.resolve().is_relative_to(f)), None)
        try:
            with policy_tree(tree) if tree else contextlib.nullcontext():  # parents from the folder given
                loaded = load_file(path, raise_on_error=False)
            diagnostics = loaded.diagnostics
            if not any(d.severity == "error" for d in diagnostics):
                clean.append(loaded)
        except CtsdslError as exc:  # syntax errors and unreadable files
            diagnostics = exc.diagnostics
        for d in diagnostics:
            # A parent's problem comes back with every policy that extends it: say it once, naming
            # its file as the command line did when it can.
            key = _same(d)
            if key not in found or (d.source_name in given and found[key].source_name not in given):
                found[key] = d
    for d in overlapping_policies(clean):
        found[_same(d)] = d
    for d in found.values():
        print(d.render(), file=sys.stderr)
        errors += d.severity == "error"
        warnings += d.severity == "warning"
    verdict = "ok" if not errors else "FAILED"
    print(f"checked {len(files)} policy file(s): {errors} error(s), {warnings} warning(s): {verdict}")
    return 1 if errors else 0


def cmd_test(args) -> int:
    from .testing import render_report, run_paths
    report = run_paths(args.paths or [str(_resources.policies_dir())])
    print(printable(render_report(report, verbose=args.verbose)))  # case names and values quote the input
    if report.failed:
        return 1
    if not report.results:  # nothing tested is not a pass: a wrong path would otherwise look green in CI
        print(f"no test cases found in {', '.join(args.paths) or _resources.policies_dir()}: case files are "
              "YAML files under a `cases` folder (see docs/testing.md)", file=sys.stderr)
        return 1
    if not report.coverage and args.min_coverage > 0:
        print(f"no rules to cover, so --min-coverage {args.min_coverage:g} cannot be met", file=sys.stderr)
        return 1
    if report.coverage_percent < args.min_coverage:
        print(f"rule coverage {report.coverage_percent:.1f}% is below the required {args.min_coverage:g}%",
              file=sys.stderr)
        return 1
    return 0


def cmd_diff(args) -> int:
    from .diff import render_text, run_diff, to_dict
    from .diff_markdown import render_markdown
    try:
        report = run_diff(args.old, args.new, args.claims)
    except CtsdslError as exc:  # a side or the claim file cannot be read: bad input, whatever the cause
        print(exc.render(), file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(to_dict(report), indent=2))
    elif args.format == "markdown":
        print(render_markdown(report), end="")
    else:
        print(render_text(report))
    return report.exit_code


DOCS_OUTPUT = "docs/policies"


def _docs_output(args) -> Path:
    out = Path(args.output or DOCS_OUTPUT)
    if out.exists() and not out.is_dir():
        raise UsageError(Diagnostic(
            "output-not-folder", f"-o {out} is a file: the pages go in a folder", str(out),
            hint=f"name a folder for the pages (it is made if missing), e.g. -o {DOCS_OUTPUT}"))
    return out


def _docs_command(args) -> str:
    """The `ctsdsl docs` command that writes the pages that `args` checked."""
    words = ["ctsdsl", "docs", *args.paths] + (["-o", args.output] if args.output else [])
    return " ".join(shlex.quote(w) for w in words)


def cmd_docs(args) -> int:
    from .docgen import generate
    out = _docs_output(args)
    files = _policy_files(args.paths)
    root = Path(args.paths[0]).resolve().parent if args.paths else _resources.policies_dir().parent
    pages = generate([load_file(f) for f in files], root)
    missing = [name for name in pages if not (out / name).is_file()]
    stale = [name for name, text in pages.items()
             if name not in missing and (out / name).read_text(encoding="utf-8") != text]
    if args.check:
        for name in missing:
            print(f"{out / name} is missing", file=sys.stderr)
        for name in stale:
            print(f"{out / name} is out of date", file=sys.stderr)
        print(f"{len(pages)} page(s) in {out}: {len(missing)} missing, {len(stale)} out of date")
        if missing or stale:
            hint = f"  hint: write them with `{_docs_command(args)}`"
            if not args.output and not out.is_dir():  # the default folder is relative: from elsewhere it is not the one meant
                hint += (f"; pages are looked for in {DOCS_OUTPUT} under the current folder: "
                         "pass -o FOLDER to check (and write) them elsewhere")
            print(printable(hint), file=sys.stderr)
        return 1 if missing or stale else 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in missing + stale:
            (out / name).write_text(pages[name], encoding="utf-8")
    except OSError as exc:  # a parent that is a file, no permission, a full disk: the output's problem
        raise UsageError(Diagnostic(
            "output-not-writable", f"cannot write the pages to {out}: {exc.strerror or exc}", str(out),
            hint="name a folder you can write to with -o FOLDER")) from None
    print(f"wrote {len(missing) + len(stale)} of {len(pages)} page(s) to {out}")
    return 0


def cmd_fmt(args) -> int:
    from .formatter import format_file, write_atomically
    files = _policy_files(args.paths)
    changed = failed = 0
    for path in files:
        try:
            result = format_file(path)
        except CtsdslError as exc:  # a syntax error or an unreadable file: report it, go on with the rest
            print(exc.render(), file=sys.stderr)
            failed += 1
            continue
        if not result.changed:
            continue
        changed += 1
        if args.diff:
            print(result.unified_diff(), end="")
        if args.check:
            print(printable(f"{path} would be reformatted"))
        elif not args.diff:
            write_atomically(path, result.new)
            print(printable(f"reformatted {path}"), file=sys.stderr)
    verb = "would reformat" if args.check or args.diff else "reformatted"
    print(f"{len(files)} policy file(s): {verb} {changed}, {failed} with errors", file=sys.stderr)
    return 1 if failed or ((args.check or args.diff) and changed) else 0


def cmd_lsp(args) -> int:
    try:
        from .lsp.server import serve
    except ImportError as exc:  # the server's libraries are an extra, to keep the core install small
        missing = (exc.name or "").split(".")[0]
        if missing not in ("pygls", "lsprotocol"):
            raise
        raise UsageError(Diagnostic(
            "lsp-not-installed", f"the language server needs {missing}, which is not installed",
            "ctsdsl lsp", hint="install the extra: pip install 'ctsdsl[lsp]' (in a checkout: pip install -e '.[lsp]')"))
    return serve(Path(args.policies) if args.policies else None)


def cmd_serve(args) -> int:
    from .serve.command import run
    return run(args.port)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 (any free port) to 65535, not {text!r}")
    return int(text)


_DEFAULT_RVU_TABLE = Path("policies", "medicare", "data", "rvu.csv")


def cmd_import_rvu(args) -> int:
    from . import rvu_import
    from .pprrvu import read_release
    table = Path(args.into or _DEFAULT_RVU_TABLE)
    if args.into is None and not table.is_file():
        raise UsageError(Diagnostic("usage", f"there is no {_DEFAULT_RVU_TABLE} under {Path.cwd()}", "ctsdsl import rvu",
                                    hint="run from the root of a checkout of the policies, or name the table "
                                         "with --into PATH.csv"))
    release = read_release(args.file)
    codes = [c for c in args.codes.split(",")] if args.codes else None
    plan = rvu_import.plan_import(release, table, args.effective, codes, args.source, args.confidence)
    print(plan.render(), end="")
    lines, warnings = rvu_import.conversion_factor_report(release, table, args.effective, args.conversion_factor)
    for line in lines:
        print(line, file=sys.stderr)
    for warning in warnings:
        print(warning.render(), file=sys.stderr)
    if args.check:
        return 1 if plan.changed else 0
    if plan.changed:
        rvu_import.write(plan)
        print(f"wrote {table}; next: `ctsdsl test` runs the cases, `ctsdsl diff` shows what claims it moves",
              file=sys.stderr)
    return 0


def _prefix(exc: CtsdslError, location: str) -> None:
    """Name the claim file in errors that arose while deciding it, or choosing its policy (a path into the claim)."""
    exc.diagnostics = [d if d.source_name != "<claim>" and not (isinstance(exc, PolicyNotFoundError) and d.path)
                       else Diagnostic(d.code, d.message, location, d.span, d.hint,
                                                                     d.severity, d.path) for d in exc.diagnostics]


def _interop_options(p: argparse.ArgumentParser) -> None:
    from .interop.command import add_options
    add_options(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctsdsl", description="Billing policy as code for caregiver training "
                                     "services (CPT 97550, 97551, 97552).")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("eval", help="decide claims and print the decisions")
    p.add_argument("claims", nargs="+", metavar="CLAIM",
                   help="claim files: .json, .yaml or .jsonl; an X12 837P or FHIR Claim file (docs/interop.md)")
    _policy_options(p, "(default: the bundled policy in force)")
    p.add_argument("--json", action="store_true", help="print decisions as JSON (schemas/decision.schema.json)")
    p.add_argument("--format", choices=("text", "json", "fhir"), default="text",
                   help="text, JSON decisions (as --json), or fhir: a FHIR ClaimResponse for each FHIR Claim")
    _assume_documented_option(p)
    _interop_options(p)
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("batch", help="decide a file of claims (.jsonl streamed), one decision per line, in order")
    p.add_argument("claims", metavar="CLAIMS",
                   help="a claim file: .jsonl or .csv of claim lines (both streamed), .json or .yaml")
    p.add_argument("-o", "--output", metavar="FILE", help="write decisions here (default: stdout)")
    p.add_argument("--errors", metavar="FILE", help="write each bad record here, as JSON with its line number")
    p.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N", help="worker processes (default 1)")
    _policy_options(p, "for every claim (default: the bundled one in force)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--format", choices=("json", "fhir"), default="json",
                   help="a decision per line (default), or fhir: a FHIR ClaimResponse per line for FHIR Claims")
    _assume_documented_option(p)
    _interop_options(p)
    p.add_argument("--engine", choices=("row", "sql"), default="row",
                   help="row: the compiled Python rules (default); sql: the policy as SQL on DuckDB, the same "
                        "decisions (the sql extra; docs/sql.md)")
    p.set_defaults(run=cmd_batch)

    p = sub.add_parser("sql", help="print a policy as SQL views over claims and lines (the sql extra; docs/sql.md)")
    p.add_argument("policy", metavar="POLICY", help="a policy name or .cts path")
    p.add_argument("--dialect", default="duckdb", help="the SQL dialect to write (sqlglot's names: duckdb, spark, ...)")
    p.set_defaults(run=_cmd_sql)

    p = sub.add_parser("explain", help="show which rules fired on which line, the values they read, and why")
    p.add_argument("claim", metavar="CLAIM")
    _policy_options(p, "(default: the bundled policy in force)")
    p.add_argument("--all", action="store_true", help="also list the rules that did not fire")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default), or json as schemas/explain.schema.json defines it")
    p.add_argument("--fix", action="store_true",
                   help="for each denied or reduced line, the smallest changes that make it payable")
    p.add_argument("--budget", type=_budget, default=400, metavar="N",
                   help="with --fix: at most N evaluations of changed claims (default 400)")
    _interop_options(p)
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("check", help="validate policy files and report every problem")
    p.add_argument("paths", nargs="*", metavar="PATH", help="policy files or folders (default: the bundled ones)")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("schema", help="print the claim schema of a policy: the base schema and the fields it declares "
                       "(JSON Schema 2020-12)")
    p.add_argument("policy", metavar="POLICY", help="a bundled policy's name, or a policy file")
    p.add_argument("--policies", metavar="DIR", help="the policy tree an overlay finds its parents in")
    p.set_defaults(run=cmd_schema)

    p = sub.add_parser("test", help="run analyst test cases (YAML) and report rule coverage")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="folders with policies and cases/*.yaml, or case files (default: the bundled policies)")
    p.add_argument("--min-coverage", type=float, default=0.0, metavar="PERCENT",
                   help="fail when fewer rules than this are covered (fired in some case and, "
                        "if they have a condition, silent in another)")
    p.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    p.set_defaults(run=cmd_test)

    p = sub.add_parser("diff", help="what changed between two policy versions, and which claims now decide "
                       "differently (exit 0 none, 1 some, 2 bad input)")
    p.add_argument("old", metavar="OLD", help="a policy file, a folder of policies, or REV:path in git")
    p.add_argument("new", metavar="NEW", help="the same, for the new version")
    p.add_argument("--claims", metavar="FILE", help="replay these claims (.jsonl, .json, .yaml) instead of "
                   "generating witness claims")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="text for a terminal, markdown for a pull-request comment, json for tools")
    p.set_defaults(run=cmd_diff)

    p = sub.add_parser("docs", help="write a Markdown page per policy, generated from the policy files")
    p.add_argument("paths", nargs="*", metavar="PATH", help="policy files or folders (default: the bundled ones)")
    p.add_argument("-o", "--output", metavar="FOLDER",
                   help=f"folder for the pages, made if missing (default: {DOCS_OUTPUT} under the current folder)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if any page is missing or out of date")
    p.set_defaults(run=cmd_docs)

    p = sub.add_parser("import", help="bring a CMS data release into a policy's data tables")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    p = kinds.add_parser("rvu", help="CMS's quarterly relative value file (PPRRVU…csv) into a dated RVU table",
                         description="Write or update the dated rows of an RVU table from CMS's PPRRVU file: "
                         "work, PE and MP RVUs, both totals, and the status, global, MULT PROC and PC/TC "
                         "indicators. Prints each cell changed; a second run changes nothing.")
    p.add_argument("file", metavar="PPRRVU.csv", help="the release file, as CMS publishes it")
    p.add_argument("--effective", required=True, metavar="YYYY-MM-DD",
                   help="the first date of service the rows apply to (a July release: YYYY-07-01)")
    p.add_argument("--codes", metavar="CODE,...", help="codes to import (default: those the table holds)")
    p.add_argument("--into", metavar="CSV",
                   help=f"the RVU table to update (default: {_DEFAULT_RVU_TABLE}, in a checkout of the policies)")
    p.add_argument("--source", metavar="TEXT", help="the rows' source cell (default: the release's title, "
                   "date and file name)")
    p.add_argument("--confidence", default="verified", metavar="LEVEL",
                   help="the rows' confidence: verified (the default: a CMS file), likely or unverified")
    p.add_argument("--conversion-factor", default="conversion_factor", metavar="PARAM",
                   help="the policy parameter to compare with the file's CONV FACTOR (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the table would change")
    p.set_defaults(run=cmd_import_rvu)

    p = sub.add_parser("fmt", help="lay policy files out canonically, keeping every comment")
    p.add_argument("paths", nargs="*", metavar="PATH", help="policy files or folders (default: the bundled ones)")
    p.add_argument("--check", action="store_true", help="write nothing; list the files that would change, exit 1 if any")
    p.add_argument("--diff", action="store_true",
                   help="write nothing; print a unified diff of the changes, exit 1 if any")
    p.set_defaults(run=cmd_fmt)

    p = sub.add_parser("lsp", help="run the language server for editors, on stdin and stdout (docs/editors.md)")
    p.add_argument("--policies", metavar="DIR", help="treat DIR as the policy tree: an overlay finds its parent by "
                   "name anywhere under it, as --policies does for eval")
    p.set_defaults(run=cmd_lsp)

    p = sub.add_parser("serve", help="the playground: edit a policy, decide a claim, read the trace, in a local "
                       "web page on 127.0.0.1 (the serve extra; docs/playground.md)")
    p.add_argument("--port", type=_port, default=8000, metavar="N", help="the port (default 8000; 0: any free one)")
    p.set_defaults(run=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"ctsdsl {__version__}")
        return 0
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    # Text output may quote a file name that is not UTF-8 (a lone surrogate): escape it, never fail on it.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        code = args.run(args)
        sys.stdout.flush()  # here, not at exit, so that a full disk or /dev/full is reported
        return code
    except CtsdslError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        drop_stdout()
        return 0
    except OSError as exc:
        if exc.errno is None or exc.filename is not None:
            raise
        # Writing the output failed (ENOSPC on a full disk or /dev/full, EIO): not a bug.
        drop_stdout()
        print(f"ctsdsl: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP during a batch (batch.Interrupted)
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"ctsdsl: stopped by {signal.Signals(signum).name}; nothing was written", file=sys.stderr)
        return 128 + signum
    except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
        print(f"ctsdsl: internal error: {type(exc).__name__}: {exc}\n"
              "  this is a bug in ctsdsl; please report it with the command and input that caused it",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
