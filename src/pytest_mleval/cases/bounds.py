"""Pass bounds of a metric entry that decide every score the same way.

``rouge_l: {threshold: 0}`` marks every output "ok" and counts as a check (a pass-rate gate over
it passes whatever the target returns); ``exact: {threshold: 1.5}`` fails every output. Both
say nothing about the outputs, so they are collection errors.
"""

from __future__ import annotations

from ..metrics.base import LOWER_IS_BETTER_SCORES
from ..metrics.registry import (
    metric_default_threshold,
    metric_floor,
    metric_is_bounded,
    metric_lower_is_better,
)
from .schema import MetricSpec

__all__ = ["metric_bounds_problem"]

# Scoring compares with this slack (see registry.score_metric): a threshold of 1e-13 is 0.
_TOL = 1e-12


def metric_bounds_problem(m: MetricSpec) -> tuple[str, str] | None:
    """Why metric entry ``m``'s threshold and max decide every score, else ``None``.

    Args:
        m: One metric entry of a suite or case.

    Returns:
        ``(option, message)``: the option to point at (``threshold`` or ``max``) and the
        message, or ``None`` when some score passes and some fails. A metric not known to
        score in [0, 1] is checked against the least value it takes where that is known (0
        for the built-in raw measures), else only for a threshold above its max; a minimum
        (``threshold``) on a lower-is-better measure (``latency_ms``, ``cost_usd``) is a
        problem too: it passes the slow, costly outputs and fails the good ones.
    """
    explicit_low = m.threshold is not None
    if explicit_low:
        low = m.threshold
    elif "threshold" in m.model_fields_set:  # `threshold: null`: informational
        low = None
    else:
        low = metric_default_threshold(m.kind)
    high = m.max
    if low is not None and high is not None and low > high + _TOL:
        which = "threshold" if explicit_low else f"the default threshold of {m.kind}"
        return "threshold" if explicit_low else "max", (
            f"{which} {low:g} is above max {high:g}, so no output can pass {m.name}"
        )
    if not explicit_low and high is None:
        return None
    if low is not None and explicit_low and m.kind in LOWER_IS_BETTER_SCORES and low > _TOL:
        # A score better when lower (hallucination = 1 - faithfulness), known by name whether
        # or not its judge module is loaded: a minimum passed the hallucinating outputs.
        return _minimum_problem(m, low, high)
    if not metric_is_bounded(m.kind):
        return _raw_problem(m, low if explicit_low else None, high)
    unit = f"{m.kind} scores in [0, 1]"
    if low is not None and low > 1 + _TOL:
        return "threshold", (
            f"threshold {low:g} fails every output: {unit}; give a threshold in (0, 1]"
        )
    if high is not None and high < -_TOL:
        return "max", f"max {high:g} fails every output: {unit}; give a max in [0, 1)"
    if (low is None or low <= _TOL) and (high is None or high >= 1 - _TOL):
        option, value = ("threshold", low) if explicit_low else ("max", high)
        return option, (
            f"{option} {value:g} passes every output: {unit}; write "
            "`threshold: null` to record it without a verdict, or bounds that a bad output "
            "misses (a threshold above 0, a max below 1)"
        )
    return None


def _raw_problem(m: MetricSpec, low: float | None, high: float | None) -> tuple[str, str] | None:
    """:func:`metric_bounds_problem` for a raw measure, whose only known bound is its floor."""
    floor = metric_floor(m.kind)
    if floor is not None:
        unit = f"{m.kind} is never below {floor:g}"
        if high is not None and high < floor - _TOL:
            return "max", f"max {high:g} fails every output: {unit}"
        if low is not None and low <= floor + _TOL and high is None:
            return "threshold", (
                f"threshold {low:g} passes every output: {unit}; write `threshold: null` to "
                "record it without a verdict, or a bound that a bad output misses"
            )
    if low is not None and metric_lower_is_better(m.kind):
        return _minimum_problem(m, low, high)
    return None


def _minimum_problem(m: MetricSpec, low: float, high: float | None) -> tuple[str, str]:
    """A ``threshold`` (a minimum) on a metric that is better when lower."""
    fix = f"`max: {low:g}`" if high is None else "`max:` alone"
    return "threshold", (
        f"threshold {low:g} is a minimum: it passes outputs whose {m.kind} is {low:g} or "
        f"more and fails those below; {m.kind} is better when lower, so gate it with {fix}"
    )
