"""The `ctsdsl` command line.

Exit codes: 0 done; 1 a policy has errors (or, for `check`, any error); 2 a claim
or the command line is malformed; 3 a rule could not be evaluated; 70 an
internal error. No traceback reaches the user: every error is rendered as a
located diagnostic.

This module is the argument parser (`build_parser`) and the entry point (`main`, which turns what
a command raises into a diagnostic and an exit code); the commands themselves are `cli_commands`.
"""

from __future__ import annotations

import argparse
import io
import signal
import sys

from .cli_commands import (DEFAULT_RVU_TABLE, DOCS_OUTPUT, cmd_batch, cmd_check, cmd_diff, cmd_docs, cmd_eval,
                           cmd_explain, cmd_fmt, cmd_import_rvu, cmd_lsp, cmd_schema, cmd_serve, cmd_sql, cmd_test)
from .errors import CtsdslError
from .limits import MAX_JOBS
from .scale.output import drop_stdout

EXIT_INTERNAL = 70


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


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 (any free port) to 65535, not {text!r}")
    return int(text)


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
                   help="a claim file: .jsonl or .csv of claim lines (both streamed), .json or .yaml; "
                        ".parquet with --engine sql")
    p.add_argument("-o", "--output", metavar="FILE", help="write decisions here (default: stdout)")
    p.add_argument("--errors", metavar="FILE", help="write each bad record here, as JSON with its line number")
    p.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N", help="worker processes (default 1)")
    _policy_options(p, "for every claim (default: the bundled one in force)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--format", choices=("json", "fhir", "parquet"), default="json",
                   help="a decision per line (default); fhir: a FHIR ClaimResponse per line for FHIR Claims; "
                        "parquet (with --engine sql and -o DIR): claims, lines and findings tables")
    _assume_documented_option(p)
    _interop_options(p)
    p.add_argument("--engine", choices=("row", "sql"), default="row",
                   help="row: the compiled Python rules (default); sql: the policy as SQL on DuckDB, the same "
                        "decisions (the sql extra; docs/sql.md)")
    p.set_defaults(run=cmd_batch)

    p = sub.add_parser("sql", help="print a policy as SQL views over claims and lines (the sql extra; docs/sql.md)")
    p.add_argument("policy", metavar="POLICY", help="a policy name or .cts path")
    p.add_argument("--dialect", default="duckdb", help="the SQL dialect to write (sqlglot's names: duckdb, spark, ...)")
    p.set_defaults(run=cmd_sql)

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
    _assume_documented_option(p)
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
                   help=f"the RVU table to update (default: {DEFAULT_RVU_TABLE}, in a checkout of the policies)")
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
