"""Decide a Spark DataFrame of claims with compiled policies (``pip install 'ctsdsl[spark]'``).

The driver reads the policy folder (the bundled policies, or the folder holding the
``.cts`` file given) and broadcasts its files once; each executor process writes them to
a private temporary folder the first time it needs them and compiles each policy once
there, then decides its partitions with `mapInArrow`. Executors need ctsdsl installed
(or shipped with ``--py-files``), not the policy files: see docs/spark.md.

>>> from ctsdsl.spark import evaluate_dataframe            # doctest: +SKIP
>>> decisions = evaluate_dataframe(claims_df, column="claim")  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from .. import _resources
from .batch import DecisionEncoder, PolicyChooser, RecordError, bare_error, decide_record
from ..claims.validation import parse_json
from ..errors import ClaimError, CtsdslError, Diagnostic, PolicyNotFoundError, UsageError
from ..engine.loader import POLICY_SUFFIX

try:
    import pyarrow as pa
    from pyspark.sql import DataFrame, functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql.types import StringType, StructType
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("ctsdsl.scale.spark needs the spark extra: pip install 'ctsdsl[spark]'") from exc

# The decisions DataFrame: a few columns to filter and aggregate on, and the whole
# decision (schemas/decision.schema.json) as JSON text; `error` instead for a bad row.
# Columns are added at the end, so code that reads them by position keeps working.
DECISION_SCHEMA = ("claim_id string, outcome string, total_allowed decimal(18,2), policy string, "
                   "decision string, error string, total_complete boolean")
MAX_SHIPPED_BYTES = 64 * 1024 * 1024  # a policy folder is kilobytes; refuse to broadcast a whole disk by mistake
_ARROW_TYPES = (("claim_id", pa.string()), ("outcome", pa.string()), ("total_allowed", pa.decimal128(18, 2)),
                ("policy", pa.string()), ("decision", pa.string()), ("error", pa.string()),
                ("total_complete", pa.bool_()))
_SHIPPED_SUFFIXES = (POLICY_SUFFIX, ".csv", ".yaml", ".yml", ".json")


def _policy_tree(policy: str | Path | None) -> tuple[Path, str | None]:
    """The folder to ship, and the policy inside it (relative), or None to choose by payer and date."""
    if policy is None:
        return _resources.policies_dir(), None
    text = str(policy)
    if not (text.endswith(POLICY_SUFFIX) or "/" in text or "\\" in text):  # a bundled name
        return _resources.policies_dir(), text
    path = Path(policy).resolve()
    if not path.is_file():
        raise PolicyNotFoundError(Diagnostic("policy-not-found", f"no such policy file: {policy}", text))
    # The nearest folder named `policies` holds what `extends` may reach; else the file's own folder.
    root = _resources.policies_folder_above(path) or path.parent
    return root, "./" + path.relative_to(root).as_posix()


def _read_tree(root: Path) -> dict[str, bytes]:
    files, size = {}, 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in _SHIPPED_SUFFIXES:
            data = path.read_bytes()
            size += len(data)
            if size > MAX_SHIPPED_BYTES:
                raise CtsdslError(Diagnostic("policy-too-large", f"the policy folder {root} holds more than "
                                             f"{MAX_SHIPPED_BYTES} bytes of policy and data files", str(root),
                                             hint="keep policies in a folder of their own"))
            files[path.relative_to(root).as_posix()] = data
    return files


_CHOOSERS: dict[tuple[str, str | None], PolicyChooser] = {}  # per executor process: (files' digest, policy)


def _chooser(broadcast, digest: str, policy: str | None) -> PolicyChooser:
    """The compiled policies on this executor: written out and compiled on first use, then reused."""
    key = (digest, policy)
    chooser = _CHOOSERS.get(key)
    if chooser is None:
        from ..engine.registry import Registry
        # Named `policies`, so decisions name files relative to it exactly as on the driver.
        root = Path(tempfile.mkdtemp(prefix="ctsdsl-")) / "policies"
        atexit.register(shutil.rmtree, root.parent, True)  # when the Python worker exits
        for name, data in broadcast.value.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        registry = Registry(root)
        if policy is None:
            chooser = PolicyChooser(None, registry)
        elif policy.startswith("./"):
            chooser = PolicyChooser(registry.evaluator(root / policy[2:]))
        else:
            chooser = PolicyChooser(registry.evaluator(registry.by_name(policy).path))
        _CHOOSERS[key] = chooser
    return chooser


def _decide_texts(texts, choose: PolicyChooser, encode) -> dict[str, list]:
    out: dict[str, list] = {"claim_id": [], "outcome": [], "total_allowed": [], "policy": [], "decision": [],
                            "error": [], "total_complete": []}
    for text in texts:
        claim_id = None
        row: tuple  # one value per column of `out`, in its order
        try:
            if not isinstance(text, str):  # a null
                raise ClaimError(Diagnostic("claim-missing", "the claim column is null on this row", "<row>"))
            claim = parse_json(text, "<row>")  # as from a file: repeated keys refused, errors located
            claim_id = claim.get("id") if isinstance(claim, dict) and isinstance(claim.get("id"), str) else None
            decision = decide_record(claim, f"<claim {claim_id}>" if claim_id else "<row>", choose)
        except CtsdslError as exc:
            error = RecordError(-1, f"<claim {claim_id}>" if claim_id else "<row>", bare_error(exc), "")
            row = (claim_id, None, None, None, None, json.dumps(error.to_dict(), ensure_ascii=False), None)
        else:
            row = (decision.claim_id, decision.outcome, decision.total_allowed, decision.policy.name,
                   encode(decision), None, decision.total_complete)
        for column, value in zip(out, row):
            out[column].append(value)
    return out


def evaluate_dataframe(df: DataFrame, *, column: str | None = "claim", policy: str | Path | None = None,
                       engine: str = "row"):
    """Decide every claim of a DataFrame, one decision row per claim row, in the same order within each partition.

    With ``engine="sql"`` the policy's SQL runs as Spark SQL instead, with no Python worker on the
    hot path, and the result is a `ctsdsl.scale.spark_sql.SqlDecisions` of decision relations
    (claims, lines, findings) and the rows handed back to the row engine: see docs/spark.md.

    Args:
        df: The claims. ``column`` names a string column of claim JSON, or a struct column
            shaped like ``schemas/claim.schema.json``; with ``column=None`` each row is a claim
            (columns ``id``, ``payer``, ..., ``lines``).
        column: The claim column, or None for whole rows.
        policy: A bundled policy name or a ``.cts`` path (on the driver) for every claim; by
            default the bundled policy in force for each claim's payer and date of service.

    Returns:
        A DataFrame with `DECISION_SCHEMA`: ``claim_id``, ``outcome``, ``total_allowed``,
        ``policy``, ``decision`` (the decision's JSON, as ``ctsdsl batch`` writes it) and
        ``error`` (for a row that could not be decided: JSON with its diagnostics; the other
        columns but ``claim_id`` are then null), then ``total_complete`` (false when a paid
        line's amount is unknown).

    Raises:
        CtsdslError: On the driver, before any job runs, for a policy that does not load.
    """
    if engine == "sql":
        from .spark_sql import evaluate_sql, evaluator_for
        return evaluate_sql(df, evaluator_for(policy), column,
                            lambda frame, col: evaluate_dataframe(frame, column=col, policy=policy))
    if engine != "row":
        raise UsageError(Diagnostic("bad-engine", f"unknown engine {engine!r}", "<dataframe>", hint="'row' or 'sql'"))
    root, chosen = _policy_tree(policy)
    files = _read_tree(root)
    # Check the policy on the driver, so a typo fails here rather than in every task.
    if chosen is not None:
        from ..api import compile as compile_policy
        compile_policy(root / chosen[2:] if chosen.startswith("./") else chosen)
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + data + b"\0" for name, data in files.items())).hexdigest()
    broadcast = df.sparkSession.sparkContext.broadcast(files)
    if column is None:
        texts = F.to_json(F.struct(*[F.col(c) for c in df.columns]))
    elif isinstance(df.schema[column].dataType, StructType):
        texts = F.to_json(F.col(column))  # nulls are dropped: an absent optional field, as the schema wants
    elif isinstance(df.schema[column].dataType, StringType):
        texts = F.col(column)
    else:
        raise ClaimError(Diagnostic("claim-column", f"column {column!r} is {df.schema[column].dataType.simpleString()}"
                                    "; it must hold claim JSON (a string) or a claim struct", "<dataframe>"))

    def decide(batches):
        choose = _chooser(broadcast, digest, chosen)
        encode = DecisionEncoder().encode
        for batch in batches:
            columns = _decide_texts(batch.column(0).to_pylist(), choose, encode)
            yield pa.RecordBatch.from_arrays([pa.array(columns[name], type=kind) for name, kind in _ARROW_TYPES],
                                             names=[name for name, _ in _ARROW_TYPES])

    return df.select(texts.alias("_claim")).mapInArrow(decide, DECISION_SCHEMA)


__all__ = ["DECISION_SCHEMA", "evaluate_dataframe"]
