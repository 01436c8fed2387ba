"""Suite aggregates and gates over case results (pure; statistics from :mod:`stats`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ..cases.schema import GateSpec
from .records import PASS_RATE, Aggregate, CaseResult, GateResult, MetricScore, metric_kind
from .units import RAW_MEASURES, fmt_bound, fmt_interval, fmt_metric, gated_unit

__all__ = ["PerCase", "aggregate_suite", "evaluate_gates", "is_raw_measure", "per_case"]

BOUNDS = (0.0, 1.0)
"""The range of every score that is not a raw measure."""


class PerCase(NamedTuple):
    """One metric's value per case (repeats averaged), in first-seen order."""

    keys: list[str]
    """Case ids."""
    values: list[float]
    """Each case's mean over its repeats."""
    clusters: list[str | None]
    """Each case's cluster."""
    missing: int
    """Cases with no value: errored, or whose metric errored or was skipped."""

    def as_dict(self) -> dict[str, float]:
        """Case id -> mean value."""
        return dict(zip(self.keys, self.values, strict=True))


def per_case(cases: Iterable[CaseResult], metric: str | None) -> PerCase:
    """Per-case values (repeats averaged first), their clusters, and how many cases had none.

    The one per-case mean: statistics, comparisons and report charts all average repeats here.

    Args:
        cases: Case records (any suites; filter first for one).
        metric: The score key, or ``None`` for the pass indicator (an errored case counts as
            failed).

    Returns:
        The per-case values; unpacks as ``(keys, values, clusters, missing)``.
    """
    sums: dict[str, list[float]] = {}
    clusters: dict[str, str | None] = {}
    missing: set[str] = set()
    for c in cases:
        if c.not_needed:
            continue  # never run (a decided sequential suite): no value, not a failure
        clusters.setdefault(c.case_id, c.cluster)
        ms = None
        if metric is None:
            value: float | None = 1.0 if c.passed else 0.0
        else:
            ms = c.scores.get(metric)
            value = None if ms is None else ms.score
        if value is None:
            # Only a case that errored, or whose metric errored or was skipped, is "missing";
            # a metric the case never asked for is simply not about that case.
            if c.error is not None or ms is not None:
                missing.add(c.case_id)
            continue
        sums.setdefault(c.case_id, []).append(float(value))
    keys = list(sums)
    values = [sum(v) / len(v) for v in sums.values()]
    return PerCase(keys, values, [clusters[k] for k in keys], len(missing - set(sums)))


def _metric_names(cases: Sequence[CaseResult]) -> list[str]:
    names: dict[str, None] = {}
    for c in cases:
        for name in c.scores:
            names.setdefault(name, None)
    return list(names)


def is_raw_measure(metric: str, values: Sequence[float]) -> bool:
    """Whether a metric is a measurement in its own units rather than a score in [0, 1].

    True for ``latency_ms``, ``cost_usd`` and ``ttft_ms``, for metrics registered with
    ``raw=True``, and for any metric with a value outside [0, 1] (token counts, seconds): those
    aggregate as means with a t interval in their units, never as a pass rate, and are never
    clipped.

    Args:
        metric: The metric's name as it appears in the scores.
        values: Its per-case values.

    Returns:
        Whether the metric is a raw measure.
    """
    if metric in RAW_MEASURES or any(not 0.0 <= v <= 1.0 for v in values):
        return True
    if metric.startswith("python:"):
        return False  # a custom metric by reference: scored in [0, 1] (metrics.score_metric)
    from ..errors import MlevalError
    from ..metrics.registry import get_metric

    try:
        return get_metric(metric).raw
    except MlevalError:
        return False  # a label or a metric unknown here (e.g. `mleval compare`): a score


def _raw_floor(metric: str) -> float | None:
    """The least value raw measure ``metric`` takes, when known (0 for the built-in ones)."""
    if metric.startswith("python:"):
        return None
    from ..metrics.registry import metric_floor

    return metric_floor(metric)


def _cluster_labels(clusters: list[str | None]) -> list[str] | None:
    """Labels for a clustered estimate (a case without a cluster is its own), or ``None``."""
    if all(c is None for c in clusters) or len(set(clusters)) < 2:
        return None
    return [c if c is not None else f"__case{i}" for i, c in enumerate(clusters)]


def _estimate(
    values: list[float],
    clusters: list[str | None],
    *,
    kind: str,
    confidence: float,
    seed: int,
) -> Any:
    """The interval for ``kind``: ``proportion`` (0/1 per case), ``score`` (bounded, [0, 1])
    or ``raw`` (a measurement in its units, unbounded)."""
    from .. import stats

    labels = _cluster_labels(clusters)
    if kind == "proportion":
        if labels is not None:
            return stats.clustered_proportion_ci(values, labels, confidence=confidence)
        return stats.proportion_ci(round(sum(values)), len(values), confidence=confidence)
    bounds = None if kind == "raw" else BOUNDS
    if labels is not None:
        return stats.clustered_mean_ci(values, labels, confidence=confidence, bounds=bounds)
    return stats.mean_ci(values, confidence=confidence, method="t", seed=seed, bounds=bounds)


def _win_rate(values: list[float], clusters: list[str | None], confidence: float) -> Any:
    """Pairwise outcomes (1 win, 0.5 tie, 0 loss): win rate, Wilson CI, sign test."""
    from dataclasses import replace

    from .. import stats

    wins = sum(1 for v in values if v == 1.0)
    losses = sum(1 for v in values if v == 0.0)
    ties = len(values) - wins - losses
    est = stats.proportion_ci(wins, len(values), confidence=confidence)
    # Ties count half in the estimate; the interval is Wilson's on wins + ties/2.
    half = stats.proportion_ci(round(wins + ties / 2), len(values), confidence=confidence)
    lo, hi, how = half.ci_low, half.ci_high, "wilson"
    labels = _cluster_labels(clusters)
    if labels is not None:
        # Clustered cases: never narrower than the clustered interval of the outcomes.
        clustered = stats.clustered_mean_ci(values, labels, confidence=confidence, bounds=BOUNDS)
        lo, hi = max(0.0, min(lo, clustered.ci_low)), min(1.0, max(hi, clustered.ci_high))
        how = "wilson or clustered t, the wider"
    p = stats.sign_test([1.0] * wins + [-1.0] * losses)
    return replace(
        est,
        estimate=(wins + ties / 2) / len(values) if values else 0.0,
        ci_low=lo,
        ci_high=hi,
        method=f"win rate, {how} (ties count half); sign test p={p:.4g}",
        note=f"{wins} wins, {ties} ties, {losses} losses",
    )


def aggregate_suite(
    suite: str, cases: Sequence[CaseResult], *, confidence: float = 0.95, seed: int = 0
) -> list[Aggregate]:
    """Pass rate and the mean of every metric, each with its confidence interval."""
    out: list[Aggregate] = []
    repeats = max((c.repeat for c in cases), default=0) + 1
    for metric in [None, *_metric_names(cases)]:
        _, values, clusters, missing = per_case(cases, metric)
        if metric is not None and not values:
            continue  # skipped everywhere (e.g. no judge model): nothing to estimate
        notes = []
        kind_of = metric_kind(cases, metric) if metric is not None else None
        raw = kind_of is not None and is_raw_measure(kind_of, values)
        if kind_of == "pairwise" and repeats == 1:
            est = _win_rate(values, clusters, confidence)
        else:
            is_binary = all(v in (0.0, 1.0) for v in values)
            kind = "raw" if raw else "proportion" if is_binary and repeats == 1 else "score"
            est = _estimate(values, clusters, kind=kind, confidence=confidence, seed=seed)
        if est.note:
            notes.append(est.note)
        lo, hi = est.ci_low, est.ci_high
        if not raw and (lo < 0.0 or hi > 1.0):
            # Scores live in [0, 1]; a t interval near the edge can spill over.
            lo, hi = max(0.0, lo), min(1.0, hi)
            notes.append("interval clipped to [0, 1]")
        floor = _raw_floor(kind_of) if raw and kind_of is not None else None
        if floor is not None and lo < floor:
            # A t (or CR1) interval on few, spread values reaches below a floor no value can
            # cross (a negative latency); the true mean is never there, so clipping keeps
            # coverage and stops a reader from seeing "-3,513 ms".
            lo = floor
            notes.append(f"interval clipped at {floor:g} (the measure cannot be below it)")
        if missing:
            notes.append(f"{missing} case(s) without a score (errored or skipped) left out")
        if repeats > 1:
            notes.append(f"{repeats} repeats averaged per case")
        out.append(
            Aggregate(
                suite=suite,
                metric=PASS_RATE if metric is None else metric,
                estimate=est.estimate,
                ci_low=lo,
                ci_high=hi,
                n=est.n,
                method=est.method,
                confidence=confidence,
                note="; ".join(notes) or None,
            )
        )
    return out


def _gate_estimate(
    gate: GateSpec,
    cases: Sequence[CaseResult],
    aggregates: dict[str, Aggregate],
    *,
    confidence: float,
    seed: int,
) -> tuple[float, float, float, str] | str:
    """(estimate, ci_low, ci_high, method) for the gate, or the reason it cannot be computed."""
    from .. import stats

    if gate.stat == "ppi_mean":
        from ..cases.labels import human_metric

        agg = aggregates.get(human_metric(gate.metric))
        if agg is None:
            return (
                f"no human-scale estimate of {gate.metric!r}: no case labelled for this suite "
                "(or variant) has a score in this run"
            )
        return agg.estimate, agg.ci_low, agg.ci_high, agg.method
    if gate.metric == PASS_RATE or gate.stat == "mean":
        agg = aggregates.get(gate.metric)
        if agg is None:
            return f"no scores for metric {gate.metric!r}"
        return agg.estimate, agg.ci_low, agg.ci_high, agg.method
    if gate.stat == "pass_rate":
        sums: dict[str, list[float]] = {}
        for c in cases:
            ms = c.scores.get(gate.metric)
            # A skipped score, or one with no threshold, neither passed nor failed: counting
            # it as a failure would fail a gate on cases the metric never judged.
            if ms is not None and _judged(ms):
                sums.setdefault(c.case_id, []).append(1.0 if ms.passed else 0.0)
        if not sums:
            return f"no pass or fail of metric {gate.metric!r} (no threshold, or skipped)"
        vals = [sum(v) / len(v) for v in sums.values()]
        first = {c.case_id: c.cluster for c in reversed(cases)}
        kind = "proportion" if all(v in (0.0, 1.0) for v in vals) else "score"
        est = _estimate(vals, [first[k] for k in sums], kind=kind, confidence=confidence, seed=seed)
        return est.estimate, max(0.0, est.ci_low), min(1.0, est.ci_high), est.method
    if gate.stat == "corpus":
        from .corpus import corpus_estimate

        return corpus_estimate(cases, gate.metric, confidence=confidence, seed=seed)
    keys, values, clusters, _ = per_case(cases, gate.metric)
    if not values:
        return f"no scores for metric {gate.metric!r}"
    if gate.stat == "median":
        kind = metric_kind(cases, gate.metric)
        bounds = None if is_raw_measure(kind or gate.metric, values) else BOUNDS
        if any(clusters):
            # Cases of a cluster move together: resample clusters (a case without one is its own).
            labels = [
                k if cl is None else f"cluster:{cl}" for k, cl in zip(keys, clusters, strict=True)
            ]
            est = stats.cluster_bootstrap_median_ci(
                values, labels, confidence=confidence, seed=seed, bounds=bounds
            )
        else:
            est = stats.median_ci(values, confidence=confidence, seed=seed, bounds=bounds)
        lo, hi = est.ci_low, est.ci_high
        if not (math.isfinite(lo) and math.isfinite(hi)):
            # An unbounded measure on too few cases: no interval of its median exists.
            if gate.on != "estimate":
                return f"{est.note}, so its {gate.on} cannot be checked"
            lo, hi = min(values), max(values)
            return est.estimate, lo, hi, f"{est.method}; the range of the values shown"
        return est.estimate, lo, hi, est.method
    if gate.stat in ("min", "max"):
        v = min(values) if gate.stat == "min" else max(values)
        return v, v, v, f"{gate.stat} (no interval)"
    return f"stat {gate.stat!r} is not available for metric {gate.metric!r}"


def _gated_cases(gate: GateSpec, cases: Sequence[CaseResult], ran: set[str]) -> int:
    """How many cases a gate's estimate stands on: every case that ran for a pass rate (an
    errored case counts as not passing), else those the metric scored."""
    if gate.metric == PASS_RATE:
        return len(ran)
    scored = set()
    for c in cases:
        ms = c.scores.get(gate.metric)
        if ms is not None and (_judged(ms) if gate.stat == "pass_rate" else ms.score is not None):
            scored.add(c.case_id)
    return len(scored)


def _judged(ms: MetricScore) -> bool:
    """Whether a score passed or failed its case (an error fails it)."""
    return ms.error is not None or (ms.skipped is None and ms.passed is not None)


def evaluate_gates(
    suite: str,
    gates: Sequence[GateSpec],
    cases: Sequence[CaseResult],
    aggregates: Sequence[Aggregate],
    *,
    confidence: float = 0.95,
    seed: int = 0,
    population: int | None = None,
    skipped: int = 0,
) -> list[GateResult]:
    """Check each gate against the run's aggregates.

    Args:
        suite: The suite's name.
        gates: Its gates.
        cases: Its case results in this run.
        aggregates: The run's aggregates (those of ``suite`` are used).
        confidence: Confidence level of the intervals.
        seed: Seed of resampling statistics.
        population: The cases of the suite's file (``None``: those in ``cases``). A gate
            decided on fewer cases than that says over how many.
        skipped: Cases of the suite its target skipped (not in ``cases``).

    Returns:
        One result per gate, in order.
    """
    by_metric = {a.metric: a for a in aggregates if a.suite == suite}
    ran = {c.case_id for c in cases}
    total = max(population or 0, len(ran))
    results = []
    for gate in gates:
        got: tuple[float, float, float, str] | str
        if not cases:
            # Every case skipped (a target without its API key): no verdict, never a pass.
            got = "no case of the suite ran" + (f" ({skipped} skipped)" if skipped else "")
        else:
            got = _gate_estimate(gate, cases, by_metric, confidence=confidence, seed=seed)
        base: dict[str, Any] = {
            "suite": suite,
            "metric": gate.metric,
            "stat": gate.stat,
            "on": gate.on,
            "min": gate.min,
            "max": gate.max,
        }
        if isinstance(got, str):
            results.append(
                GateResult(**base, passed=False, message=f"gate cannot be evaluated: {got}")
            )
            continue
        estimate, lo, hi, method = got
        value = {"estimate": estimate, "ci_low": lo, "ci_high": hi}[gate.on]
        ok = (gate.min is None or value >= gate.min - 1e-12) and (
            gate.max is None or value <= gate.max + 1e-12
        )
        label = gate.metric if gate.metric == PASS_RATE else f"{gate.stat}({gate.metric})"
        what = label if gate.on == "estimate" else f"{gate.on} of {label}"
        if gated_unit(gate.metric, gate.stat):
            # In the unit the metric table shows: four decimals print a $0.00005 cost as
            # 0.0001 and its interval as [0.0000, 0.0001].
            m = gate.metric
            value_text, estimate_text = fmt_metric(m, value), fmt_metric(m, estimate)
            ci = fmt_interval(m, lo, hi)
            lower = None if gate.min is None else fmt_bound(m, gate.min)
            upper = None if gate.max is None else fmt_bound(m, gate.max)
        else:
            value_text, estimate_text = f"{value:.4f}", f"{estimate:.4f}"
            ci = f"[{lo:.4f}, {hi:.4f}]"
            lower = None if gate.min is None else f"{gate.min:g}"
            upper = None if gate.max is None else f"{gate.max:g}"
        bound = " and ".join(
            b
            for b in (
                f">= {lower}" if lower is not None else "",
                f"<= {upper}" if upper is not None else "",
            )
            if b
        )
        message = (
            f"{what} = {value_text} (estimate {estimate_text}, {int(confidence * 100)}% CI {ci}, "
            f"{method}) {'meets' if ok else 'fails'} {bound}"
        )
        over = _gated_cases(gate, cases, ran)
        if over < total:
            # Cases not run, or that the metric could not score: not the whole suite's verdict.
            message += f" (over {over} of {total} cases)"
        results.append(
            GateResult(
                **base,
                value=value,
                estimate=estimate,
                ci_low=lo,
                ci_high=hi,
                passed=ok,
                message=message,
            )
        )
    return results
