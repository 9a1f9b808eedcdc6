"""The public Python API: load, check, compile and evaluate."""

from __future__ import annotations

from pathlib import Path

from .claims.validation import validate_for
from .engine.decision import Decision
from .engine.evaluator import Claim, Evaluator
from .engine.loader import POLICY_SUFFIX, LoadedPolicy, load_file
from .engine.registry import bundled
from .errors import CtsdslError, Diagnostic


def _is_path(path_or_name: str | Path) -> bool:
    text = str(path_or_name)
    return isinstance(path_or_name, Path) or text.endswith(POLICY_SUFFIX) or "/" in text or "\\" in text


def load_policy(path_or_name: str | Path) -> LoadedPolicy:
    """Load and check a policy: a `.cts` file, or the name of a bundled policy.

    Args:
        path_or_name: A path such as ``policies/medicare/2024.cts``, or a name
            such as ``medicare-cts-2024``.

    Returns:
        The checked policy.

    Raises:
        PolicySyntaxError, PolicySemanticError: the policy has errors.
        PolicyNotFoundError: no bundled policy has that name.

    >>> load_policy("medicare-cts-2024").header.payer
    'medicare'
    """
    if _is_path(path_or_name):
        return load_file(path_or_name)
    registry = bundled()
    return registry.load(registry.by_name(str(path_or_name)).path)


def compile(policy: LoadedPolicy | str | Path) -> Evaluator:  # noqa: A001 - the pipeline's verb
    """Compile a policy into a reusable `Evaluator`.

    Args:
        policy: A loaded policy, or anything `load_policy` accepts.

    Returns:
        An evaluator; call ``evaluator.evaluate(claim)`` as often as needed.
    """
    if not isinstance(policy, LoadedPolicy):
        if not _is_path(policy):  # a bundled name: share the registry's compiled copy
            registry = bundled()
            return registry.evaluator(registry.by_name(str(policy)).path)
        policy = load_policy(policy)
    return policy.evaluator()


def evaluate(claim: Claim, *, policy: LoadedPolicy | Evaluator | str | Path | None = None,
             assume_documented: bool = False) -> Decision:
    """Decide a claim with the bundled policy in force for its payer and date of service.

    Args:
        claim: A claim as ``schemas/claim.schema.json`` defines it.
        policy: Use this policy instead of choosing one.
        assume_documented: Read every documentation flag the claim does not give as false as
            documented, for claims whose record a scrubber has checked; the decision says so.

    Returns:
        The decision.

    Raises:
        ClaimError: the claim is malformed, or its lines are dated under more than one policy.
        PolicyNotFoundError: no bundled policy covers the claim's payer and date.
    """
    if policy is None:
        valid, evaluator = validate_for(claim, "<claim>", bundled().evaluator_for)
    else:
        evaluator = policy if isinstance(policy, Evaluator) else compile(policy)
        valid = evaluator.claim_model.validate(claim)
    return evaluator.evaluate(valid, validate=False, assume_documented=assume_documented)


def check(path: str | Path) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) for one policy file; empty when it is clean.

    Never raises for a problem with the file: a syntax error, or a file that is missing
    or cannot be read, comes back as a diagnostic like any other.

    >>> [d.code for d in check("no/such/policy.cts")]
    ['missing-file']
    """
    try:
        return load_file(path, raise_on_error=False).diagnostics
    except CtsdslError as exc:
        return exc.diagnostics
