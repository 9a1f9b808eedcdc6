"""ctsdsl: billing policy as code for caregiver training services (CPT 97550, 97551, 97552).

>>> import ctsdsl
>>> decision = ctsdsl.evaluate({"id": "c1", "payer": "medicare", "date_of_service": "2024-05-01",
...     "place_of_service": "11", "provider_type": "physician",
...     "documentation": {"consent": True},
...     "lines": [{"code": "97550", "units": 1, "minutes": 30}]})
>>> decision.outcome in ("pay", "partial", "deny")
True
"""

from typing import TYPE_CHECKING, Any

from .api import check, compile, evaluate, load_policy
from .engine.decision import Decision, Finding, LineDecision, PolicyInfo
from .engine.evaluator import Evaluator
from .errors import (ClaimError, CtsdslError, Diagnostic, EvaluationError, PolicyNotFoundError, PolicySemanticError,
                     PolicySyntaxError)
from .report.explain import Explanation
# `explain_claim`, not `explain`: the package's attribute `explain` is the module ctsdsl.report.explain.
from .report.explain import explain as explain_claim

if TYPE_CHECKING:  # type checkers see them as plain names; at run time they load on first use
    from .language.parser import parse
    from .scale.batch import RecordError, evaluate_all

    __version__: str

__all__ = [
    "ClaimError", "CtsdslError", "Decision", "Diagnostic", "EvaluationError", "Evaluator", "Explanation", "Finding",
    "LineDecision", "PolicyInfo", "PolicyNotFoundError", "PolicySemanticError", "PolicySyntaxError",
    "RecordError", "check", "compile", "evaluate", "evaluate_all", "explain_claim", "load_policy", "parse",
]


if not TYPE_CHECKING:
    def __getattr__(name: str) -> Any:
        # Hidden from type checkers, which would otherwise accept any attribute, typos included.
        if name in ("evaluate_all", "RecordError"):  # on first use: `ctsdsl eval` need not import the batch machinery
            from .scale import batch
            return getattr(batch, name)
        if name == "parse":  # on first use: a policy from the policy cache is never parsed (parser + lark ~23 ms)
            from .language.parser import parse
            return parse
        if name == "__version__":
            from importlib.metadata import PackageNotFoundError, version
            try:
                return version("ctsdsl")
            except PackageNotFoundError:  # running from a checkout without installing
                return "0+unknown"
        raise AttributeError(f"module 'ctsdsl' has no attribute {name!r}")
