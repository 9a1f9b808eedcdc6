"""The commands of the `ctsdsl` command line: one `cmd_<name>(args) -> exit code` per command.

`cli` parses the arguments and hands them to one of these, and turns what it raises into a
diagnostic and an exit code; each command prints its own output. The tools behind a command
(batch, diff, docgen, the formatter, the language server, ...) are imported when it runs, so
`ctsdsl eval` does not pay for what `ctsdsl serve` needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shlex
import sys
from pathlib import Path

from . import _resources
from .api import compile as compile_policy
from .claims.validation import load_claim_file, validate_for
from .engine.loader import POLICY_SUFFIX, find_files, load_file, policy_tree
from .engine.registry import OWN_POLICY_HINT, bundled, folder_registry, overlapping_policies
from .errors import ClaimError, CtsdslError, Diagnostic, PolicyNotFoundError, UsageError, amounts_in_range, printable
from .report.render import render_decision, render_explain, render_fixes

DOCS_OUTPUT = "docs/policies"
DEFAULT_RVU_TABLE = Path("policies", "medicare", "data", "rvu.csv")

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
    if args.fix and args.assume_documented:  # the fixes would be searched on the claim as stated
        raise UsageError(Diagnostic("usage", "--fix does not take --assume-documented", "ctsdsl explain",
                                    hint="--fix suggests what to document: run it on the claim as it is stated"))
    bodies: list[dict] = []
    for location, raw, _ in _claims([args.claim], several=False, args=args):
        try:
            claim, evaluator = _decided_by(raw, location, args)
            with amounts_in_range(location):
                decision, evaluations = evaluator.trace(claim, validate=False,
                                                        assume_documented=args.assume_documented)
        except CtsdslError as exc:
            _prefix(exc, location)
            raise
        fixes = None
        if args.fix:
            from .report.fix import find_fixes
            fixes = find_fixes(evaluator, claim, budget=args.budget)
        if args.format == "json":
            from .report.explain import Explanation
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
    from .scale.batch import run_batch
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

    from .scale.batch import SourceRecord
    from .interop import command as interop
    path = _claim_file(args.claims, kinds=".jsonl, .csv, .json or .yaml")
    kind = interop.kind_of(path)  # an 837P or FHIR file, by its content: read here, decided in this process
    if args.format == "fhir":
        interop.require_fhir_input(kind)
    options = interop.options(args, kind)
    source = (SourceRecord(*r) for r in interop.batch_records(path, kind, options)) if kind else None
    if args.engine == "sql":  # the SQL backend (ctsdsl/scale/sql, docs/sql.md)
        from .scale.sql.command import run_sql_batch
        if kind or args.format == "fhir":
            raise UsageError(Diagnostic("usage", "--engine sql reads claim JSON Lines, CSV or Parquet and writes "
                                        "decisions", "ctsdsl batch", hint="use --engine row for 837P, FHIR or "
                                        "--format fhir"))
        summary = run_sql_batch(path, args.output, args.errors, args.policy, args.policies, on_error=report,
                                output_format=args.format, assume_documented=args.assume_documented, jobs=args.jobs)
    elif args.format == "parquet" or Path(path).suffix.lower() == ".parquet":  # the row engine writes and reads JSON
        raise UsageError(Diagnostic("usage", "Parquet claims and decisions are the SQL engine's", "ctsdsl batch",
                                    hint="add --engine sql (the sql extra; docs/sql.md)"))
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


def cmd_sql(args) -> int:
    from .scale.sql import command
    return command.cmd_sql(args)


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
    from .claims.validation import model_for
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
    from .review.testing import render_report, run_paths
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
    from .review.diff import render_text, run_diff, to_dict
    from .review.diff_markdown import render_markdown
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
    from .review.docgen import generate
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
    from .language.formatter import format_file, write_atomically
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


def cmd_import_rvu(args) -> int:
    from .cms import rvu_import
    from .cms.pprrvu import read_release
    table = Path(args.into or DEFAULT_RVU_TABLE)
    if args.into is None and not table.is_file():
        raise UsageError(Diagnostic("usage", f"there is no {DEFAULT_RVU_TABLE} under {Path.cwd()}", "ctsdsl import rvu",
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
