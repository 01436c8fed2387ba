"""A stored run compared with a baseline given after it ran (``mleval report --baseline``, a
notebook's ``Run.report(baseline=...)``): the comparison and the verdict it implies.

Drawing the comparison without its regression gates read "regressed" in red on a gating
metric under a green "passed": the same two files fail ``mleval compare``.
"""

from __future__ import annotations

from .compare import is_regression_gate, regression_check
from .records import Rebase, RunResults

__all__ = ["with_baseline"]


def with_baseline(run: RunResults, baseline: RunResults) -> RunResults:
    """A copy of ``run`` compared with ``baseline`` under the run's regression rule.

    The run's own regression gates (from the baseline it ran against) give way to this
    baseline's; its safety probes are paired with this baseline too, at the run's own levels.

    Args:
        run: The stored run (the candidate).
        baseline: The baseline to compare it with.

    Returns:
        The run with ``comparison``, regression gates and safety rates against ``baseline``.
    """
    out = run.model_copy(deep=True)
    comparison, gates = regression_check(baseline, out, seed=out.meta.seed)
    out.comparison = comparison.model_dump(mode="json")
    own = [g for g in out.gates if is_regression_gate(g)]
    out.gates = [g for g in out.gates if not is_regression_gate(g)] + gates
    out.meta.rebased = Rebase(
        regressions_failed=sum(not g.passed for g in gates),
        own_regressions_failed=sum(not g.passed for g in own),
    )
    if out.safety is not None:
        from .safety import safety_summary

        out.safety = safety_summary(
            out, baseline=baseline, confidence=out.safety.confidence, alpha=out.safety.alpha
        )
    return out
