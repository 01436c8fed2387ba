"""A sequential suite's results (core): its confidence-sequence intervals and what stopping
early saved.

A suite that stopped once its verdicts were known (``sequential:``) must not report fixed-n
intervals: they are not valid after a data-dependent stop. Its aggregates of scores in [0, 1]
take the anytime-valid betting confidence sequence over the cases in the order they ran
(:mod:`pytest_mleval.stats.sequential`), and say so in their method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .aggregate import per_case
from .records import PASS_RATE, Aggregate, CaseResult, SequentialInfo, metric_kind
from .units import RAW_MEASURES

__all__ = [
    "CS_METHOD",
    "CS_PAIRED_METHOD",
    "in_run_order",
    "sequential_aggregates",
    "sequential_info",
    "sequential_line",
    "sequential_verdicts",
]

CS_METHOD = "confidence sequence (betting, anytime-valid: the suite ran sequentially)"
"""The method of a sequential suite's intervals."""


def in_run_order(cases: Sequence[CaseResult]) -> list[CaseResult]:
    """The cases in their seeded run order (``run_order``; cases without one keep their
    place after the others): the order the sequences are valid in."""
    return sorted(cases, key=lambda c: (c.run_order is None, c.run_order or 0))


def sequential_aggregates(
    aggregates: Sequence[Aggregate],
    cases: Sequence[CaseResult],
    *,
    population: int,
    confidence: float,
) -> list[Aggregate]:
    """The suite's aggregates with the confidence-sequence interval for every score in [0, 1].

    Args:
        aggregates: The suite's fixed-n aggregates.
        cases: The suite's results, in the order they ran (not-needed ones included).
        population: Cases in the suite (named in the note; the sequence covers the mean of
            the distribution they come from, not theirs alone).
        confidence: The run's confidence level.

    Returns:
        The aggregates; a raw measure (latency, cost) or a score outside [0, 1] keeps its own.
    """
    from ..stats.sequential import ConfidenceSequence

    cases = in_run_order(cases)
    out = []
    for agg in aggregates:
        metric = None if agg.metric == PASS_RATE else agg.metric
        _, values, _, _ = per_case(cases, metric)
        raw = metric is not None and metric_kind(cases, metric) in RAW_MEASURES
        if raw or not values or not all(0.0 <= v <= 1.0 for v in values):
            out.append(agg)
            continue
        # The distribution the cases come from, as the fixed-n intervals (and a `ci_low`
        # gate) mean: the finite-population sequence ends on the suite's own mean, so 2 of 2
        # passing read [1, 1] and passed `ci_low >= 0.9` where Wilson gives 0.34.
        cs = ConfidenceSequence(alpha=1.0 - confidence)
        cs.update(values)
        low, high = cs.interval()
        note = f"{len(values)} of {population} cases run"
        out.append(
            agg.model_copy(
                update={
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "method": CS_METHOD,
                    "note": f"{agg.note}; {note}" if agg.note else note,
                }
            )
        )
    return out


def sequential_info(
    cases: Sequence[CaseResult],
    *,
    population: int,
    decided_after: int | None = None,
    reason: str = "",
) -> SequentialInfo:
    """How a sequential suite ended: cases run and not needed, and the calls and cost saved
    (the mean per case run, times the cases not needed: an estimate, said so)."""
    ran = [c for c in cases if not c.not_needed]
    skipped = {c.case_id for c in cases if c.not_needed} - {c.case_id for c in ran}
    ran_ids = {c.case_id for c in ran}
    calls = [
        (len(c.trajectory.turns) if c.trajectory is not None else 1) + c.retries
        for c in ran
        if c.model is not None
    ]
    per_call = sum(calls) / len(ran) if ran and calls else 0.0
    per_cost = sum(c.cost_usd or 0.0 for c in ran) / len(ran) if ran else 0.0
    if not reason and skipped:
        reason = "decided by the xdist workers that ran its cases"
    return SequentialInfo(
        cases=population,
        run=len(ran_ids),
        not_needed=len(skipped),
        not_needed_ids=sorted(skipped),
        decided_after=decided_after,
        reason=reason,
        calls_saved=round(per_call * len(skipped)),
        cost_saved_usd=per_cost * len(skipped),
    )


CS_PAIRED_METHOD = "paired confidence sequence (betting, anytime-valid: the suite ran sequentially)"
"""The test named in a sequential suite's comparison with a baseline."""


def sequential_verdicts(
    comparison: Any,
    baseline: Sequence[CaseResult],
    candidate: Sequence[CaseResult],
    *,
    confidence: float,
    population: int | None = None,
) -> None:
    """Replace, in place, one suite's paired comparison rows by confidence-sequence verdicts.

    A suite that stopped on the data must not be judged by a fixed-n paired test: each score
    in [0, 1] gets the paired confidence sequence of candidate minus baseline over the
    matched cases in the order they ran (Bonferroni across the gating metrics, as the fixed
    rule adjusts by Holm), and the verdict it decides (:func:`stats.decide_regression`).
    Raw measures keep their fixed-n rows.

    Args:
        comparison: The suite's ``SuiteComparison`` (from :func:`.compare.compare_runs`).
        baseline: The baseline's results of the suite.
        candidate: This run's results of the suite, in the order they ran.
        confidence: The run's confidence level.
        population: Cases in the suite. Kept for callers: a regression verdict is about
            the distribution the cases come from, so the sequence is the infinite-population
            one (the finite one ended on the suite's own mean difference, zero width).
    """
    from ..stats.sequential import decide_regression, sequential_paired_test

    candidate = in_run_order(candidate)
    gating = [r for r in comparison.metrics if r.gating and not r.lower_is_better]
    alpha = (1.0 - confidence) / max(1, len(gating))
    for row in comparison.metrics:
        if row.lower_is_better:
            continue
        metric = None if row.metric == PASS_RATE else row.metric
        base = per_case(baseline, metric).as_dict()
        cand = per_case(candidate, metric).as_dict()
        ids = [i for i in cand if i in base]  # candidate order: the order the cases ran
        pairs = [(base[i], cand[i]) for i in ids]
        if not pairs or not all(0.0 <= v <= 1.0 for p in pairs for v in p):
            continue
        row_alpha = alpha if row.gating else 1.0 - confidence
        # The paired sequence's interval after the pairs and its own anytime-valid p-value
        # (below the level exactly when the interval excludes 0), Bonferroni-adjusted as its
        # level is: the fixed-n test's p (0.062 beside "regressed") was not the one deciding.
        tested = sequential_paired_test(
            [p[0] for p in pairs], [p[1] for p in pairs], confidence=1.0 - row_alpha
        )
        low, high = tested.ci_low, tested.ci_high
        decision = decide_regression((low, high), comparison.margin)
        row.ci_low, row.ci_high, row.test = float(low), float(high), CS_PAIRED_METHOD
        row.p_value = float(tested.p_value)
        row.p_adjusted = min(1.0, row.p_value * (len(gating) if row.gating else 1))
        row.verdict = {
            "regressed": "regressed",
            "improved": "improved",
            "worse within margin": "worse within margin",
        }.get(decision, "no significant change")
        row.regression = bool(row.gating and decision == "regressed")
        row.note = f"anytime-valid decision: {decision}"
    # A gating metric this run could not score stays a failed check (see compare_runs).
    comparison.regressed = any(r.regression for r in comparison.metrics) or bool(
        comparison.unscored or comparison.unchecked
    )


def sequential_line(info: SequentialInfo) -> str:
    """A sequential suite's run in one line: when it was decided and what that saved."""
    if info.not_needed:
        when = (
            f"decided after {info.decided_after} of {info.cases} cases"
            if info.decided_after is not None
            else f"decided early ({info.run} of {info.cases} cases run)"
        )
        saved = f"{info.not_needed} not needed (never run, never passed)"
        if info.calls_saved:
            saved += f", about {info.calls_saved} model calls"
            if info.cost_saved_usd:
                saved += f" and ${info.cost_saved_usd:.4g}"
            saved += " saved"
        text = f"{when} ({info.reason}); {saved}"
    else:
        text = info.reason or "every case ran"
    return text + "; intervals are anytime-valid confidence sequences"
