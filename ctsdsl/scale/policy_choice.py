"""Which compiled policy decides each claim of a batch: one given policy, or the bundled one (or a
`--policies` folder's) in force for the claim's payer and date of service. One chooser per
process, shared by every engine of it (the row engine's batch, the SQL engine's, its native path)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.evaluator import Evaluator

if TYPE_CHECKING:  # registry imports the evaluator; loaded only when a policy must be chosen
    from ..engine.registry import Registry


class PolicyChooser:
    """The evaluator for each claim: one given policy, or the bundled one in force for its payer and date.

    Each process builds its own, so each compiles a policy once, on first use.
    """

    def __init__(self, policy: Evaluator | str | Path | None, registry: Registry | None = None,
                 assume_documented: bool = False) -> None:
        self._registry = registry  # where to choose by payer and date: by default the bundled policies
        self._seen: set[int] = set()  # the evaluators chosen so far, by id
        self.compiled_another = False  # set when a claim is given an evaluator not chosen before
        # Carried with the policy choice so that every process deciding a file decides alike.
        self.assume_documented = assume_documented
        if policy is None or isinstance(policy, Evaluator):
            self._fixed = policy
        else:
            from ..api import compile as compile_policy
            self._fixed = compile_policy(policy)

    def __call__(self, claim: dict) -> Evaluator:
        if self._fixed is not None:
            return self._fixed
        if self._registry is None:
            from ..engine.registry import bundled
            self._registry = bundled()
        evaluator = self._registry.evaluator_for(claim)
        if id(evaluator) not in self._seen:  # the registry compiled it for this claim (or it is new to us)
            self._seen.add(id(evaluator))
            self.compiled_another = True
        return evaluator

    def period(self, payer: str, date: str) -> tuple[Evaluator, str | None, str | None]:
        """What `self` picks for claims of `payer` on `date`, and the first and last dates its lines
        may have (None: any; `Registry.check_line_dates` refuses a claim with a line outside them).

        Raises:
            CtsdslError: no policy is in force for them.
        """
        if self._fixed is not None:
            return self._fixed, None, None
        evaluator = self({"payer": payer, "date_of_service": date, "lines": []})
        entry, _ = self._registry.chosen(payer, date)  # type: ignore[union-attr]  # set by the call above
        return evaluator, entry.effective_from, entry.effective_to
