"""A labelled metric on the human scale: the prediction-powered estimate (PPI++) of what people
would score, from the judge's scores on every case and the suite's human labels on a few.

For each metric with ``labels:``, :func:`human_scale_aggregates` adds an
:class:`~.records.Aggregate` named ``METRIC:human`` (:func:`~..cases.labels.human_metric`)
beside the metric's own mean, so every output that lists a suite's aggregates (terminal,
Markdown, HTML, history) shows both. Its ``method`` says ``ppi++`` with the judge's weight
and the counts of labelled and judged-only cases; its ``note`` gives the labels-only interval
for comparison and the judge's measured bias; its ``n`` counts every case used (labelled and
judged only). A ``stat: ppi_mean`` gate reads this aggregate.

The labelled cases are the labelled pairs (human score, judge score); every other case the
judge scored is a judged-only one (the two sets are disjoint, as PPI's variance assumes).
Repeats are averaged per case first, as for every statistic. A labelled case the judge did
not score (errored or skipped) is left out and said so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..cases.labels import human_metric, suite_labels
from .aggregate import BOUNDS, per_case
from .records import Aggregate, CaseResult

if TYPE_CHECKING:
    from ..cases.suite import Suite

__all__ = ["human_scale_aggregates"]


def human_scale_aggregates(
    name: str, suite: Suite, cases: Sequence[CaseResult], *, confidence: float = 0.95
) -> list[Aggregate]:
    """The ``METRIC:human`` aggregates of a suite's labelled metrics.

    Args:
        name: The suite's name in the run (``SUITE[VARIANT]`` for a variant).
        suite: The suite, whose ``labels`` (those of its variant) are used.
        cases: The suite's case results.
        confidence: Confidence level of the intervals.

    Returns:
        One aggregate per labelled metric with at least one labelled case the judge scored
        (none for a metric the run did not score at all).
    """
    from .. import stats

    out: list[Aggregate] = []
    repeats = max((c.repeat for c in cases), default=0) + 1
    for metric, labels in suite_labels(suite).items():
        judged = per_case(cases, metric).as_dict()
        pairs = [(labels.values[k], v) for k, v in judged.items() if k in labels.values]
        if not pairs:
            continue
        unlabelled = [v for k, v in judged.items() if k not in labels.values]
        human = [h for h, _ in pairs]
        est = stats.ppi_mean_ci(
            human, [j for _, j in pairs], unlabelled, confidence=confidence, bounds=BOUNDS
        )
        alone = stats.classical_mean_ci(human, confidence=confidence, bounds=BOUNDS)
        notes = [
            f"labels alone: {alone.estimate:.4f} [{max(0.0, alone.ci_low):.4f}, "
            f"{min(1.0, alone.ci_high):.4f}]",
            f"judge minus people on the labelled cases: {est.judge_bias:+.4f}",
        ]
        if est.note:
            notes.append(est.note)
        estimate, lo, hi = est.estimate, est.ci_low, est.ci_high
        if lo < 0.0 or hi > 1.0:
            # People's scores live in [0, 1], as the metric's: the normal interval, or a
            # correction of a judge near an edge, can spill over.
            estimate, lo, hi = min(1.0, max(0.0, estimate)), max(0.0, lo), min(1.0, hi)
            notes.append("clipped to [0, 1]")
        unscored = len(set(labels.values) - set(judged))
        if unscored:
            notes.append(
                f"{unscored} labelled case(s) without a judge score in this run (errored, "
                "skipped or not run) left out"
            )
        if repeats > 1:
            notes.append(f"{repeats} repeats averaged per case")
        out.append(
            Aggregate(
                suite=name,
                metric=human_metric(metric),
                estimate=estimate,
                ci_low=lo,
                ci_high=hi,
                n=est.n + est.n_unlabelled,
                method=est.method,
                confidence=confidence,
                note="; ".join(notes),
            )
        )
    return out
