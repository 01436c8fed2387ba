"""The variants of a suite compared with each other (core): every variant's estimates, the paired
tests between them adjusted for multiplicity, a verdict per metric, and cost and speed beside
quality.

A suite with ``variants:`` (or ``matrix:``) runs as one suite per variant, ``SUITE[VARIANT]``,
each with its own aggregates; this module reads those results back, groups them by the suite
they vary, and builds one :class:`~.records.VariantSet` per suite. The paired tests are the ones
the baseline comparison uses (:func:`.compare.compare_runs`): cases matched by id, repeats
averaged per case first, exact McNemar for 0/1 scores and the sign-flip permutation test
otherwise, with the no-spread bound for scores in [0, 1]. Pure functions over result records:
nothing is read or written.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..targets.registry import COST_UNKNOWN
from .aggregate import per_case
from .records import (
    PASS_RATE,
    Aggregate,
    CaseResult,
    RunResults,
    SuiteInfo,
    VariantEstimate,
    VariantPair,
    VariantSet,
    VariantUsage,
    VariantVerdict,
    metric_kind,
)
from .units import RAW_MEASURES

if TYPE_CHECKING:
    from ..cases.suite import Suite

__all__ = ["VariantPlan", "build_variant_sets", "min_paired_cases", "variant_plans"]

ERROR_SHOWN = 200
# Characters of a variant's first error quoted in its note (the case records keep it whole).


@dataclass(frozen=True)
class VariantPlan:
    """How one suite's variants are to be compared, as its eval file says."""

    suite: str
    """The suite the variants vary."""
    variants: tuple[str, ...] = ()
    """Every variant the file declares, in the file's order (those that ran are compared)."""
    reference: str | None = None
    """The ``reference:`` variant (``None``: all pairs)."""
    multiplicity: Literal["holm", "bh"] = "holm"
    """The adjustment across the suite's pairs and metrics."""
    quality_metric: str = PASS_RATE
    """The metric the cost and quality view reads."""


def variant_plans(suites: Mapping[str, Suite]) -> dict[str, VariantPlan]:
    """The comparison plan of every suite whose variants are among ``suites``.

    Args:
        suites: Loaded suites by name (the expanded ``SUITE[VARIANT]`` ones carry their
            base suite's name, declared variants, ``reference:`` and ``multiplicity:``).

    Returns:
        Base suite name -> its plan.
    """
    out: dict[str, VariantPlan] = {}
    for suite in suites.values():
        base = suite.variant_of
        if base is None or base in out:
            continue
        out[base] = VariantPlan(
            suite=base,
            variants=tuple(v.name for v in suite.variants),
            reference=suite.spec.reference,
            multiplicity=suite.spec.multiplicity,
            quality_metric=suite.spec.quality_metric or PASS_RATE,
        )
    return out


def min_paired_cases(alpha: float) -> int:
    """The fewest matched cases with which a paired test here can reach ``p < alpha``.

    Both tests are exact conditional tests whose smallest two-sided p-value on n cases is
    ``2 ** (1 - n)`` (the sign-flip test: the observed signs and their mirror image among
    ``2 ** n`` patterns; McNemar: every discordant case the same way), so below this count no
    difference can be declared, whatever the data.
    """
    return math.floor(1.0 - math.log2(alpha)) + 1


def _base_of(info: SuiteInfo) -> tuple[str, str] | None:
    """``(base suite, variant)`` of a variant suite, else ``None``.

    A suite record without ``variant_of`` (its eval file could not be read back) still names its
    base: ``SUITE[VARIANT]``.
    """
    if info.variant is None:
        return None
    if info.variant_of is not None:
        return info.variant_of, info.variant
    tail = f"[{info.variant}]"
    if info.name.endswith(tail) and len(info.name) > len(tail):
        return info.name[: -len(tail)], info.variant
    return None


def _quantile(values: Sequence[float], q: int) -> float | None:
    """The ``q``-th percentile with numpy's default (linear) interpolation; ``None`` for none.

    ``statistics``' inclusive method is that interpolation; ``run.percentile`` cannot be used,
    as ``run`` imports this module.
    """
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[q - 1])


def _usage(variant: str, cases: Sequence[CaseResult]) -> VariantUsage:
    latencies = [float(c.latency_ms) for c in cases if c.latency_ms is not None]
    return VariantUsage(
        variant=variant,
        cases=len(cases),
        errored=sum(1 for c in cases if c.errored),
        cost_usd=sum(c.cost_usd or 0.0 for c in cases),
        # `cost_usd` is the targets' cost: theirs is unknown where they called an unpriced model.
        cost_unknown=sum(1 for c in cases if c.metadata.get(COST_UNKNOWN)),
        prompt_tokens=sum(c.usage.prompt_tokens for c in cases),
        completion_tokens=sum(c.usage.completion_tokens for c in cases),
        total_tokens=sum(c.usage.total_tokens for c in cases),
        latency_p50_ms=_quantile(latencies, 50),
        latency_p95_ms=_quantile(latencies, 95),
    )


def _mark_pareto(usage: Sequence[VariantUsage], eligible: set[str], lower: bool) -> None:
    """``pareto`` for each eligible variant no other eligible one dominates: at least as good
    and as cheap, and better or cheaper (quality lower is better for a raw measure).

    A variant with cases of unknown cost (a model with no price, counted as $0) is on no
    front and dominates none: its cost cannot be compared."""

    def good(u: VariantUsage) -> float:
        q = u.quality if u.quality is not None else 0.0
        return -q if lower else q

    pool = [
        u for u in usage if u.variant in eligible and u.quality is not None and not u.cost_unknown
    ]
    for u in pool:
        u.pareto = not any(
            good(o) >= good(u)
            and o.cost_usd <= u.cost_usd
            and (good(o) > good(u) or o.cost_usd < u.cost_usd)
            for o in pool
            if o is not u
        )


def _pair(
    metric: str,
    a: str,
    b: str,
    va: Mapping[str, float],
    vb: Mapping[str, float],
    cases: Sequence[CaseResult],
    *,
    confidence: float,
    seed: int,
    n_resamples: int,
) -> VariantPair:
    """``b`` against ``a`` on one metric over the cases both scored (sorted ids, so the
    Monte Carlo draws do not depend on the order results arrived in); the test is chosen as
    :func:`.compare.compare_runs` chooses it."""
    import numpy as np

    from .compare import paired_scores_test

    ids = sorted(set(va) & set(vb))
    xa = np.array([va[i] for i in ids])
    xb = np.array([vb[i] for i in ids])
    raw = metric_kind(cases, metric) in RAW_MEASURES
    paired = paired_scores_test(
        xa, xb, raw=raw, confidence=confidence, seed=seed, n_resamples=n_resamples
    )
    return VariantPair(
        metric=metric,
        a=a,
        b=b,
        n=len(ids),
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        diff=paired.diff,
        ci_low=paired.ci_low,
        ci_high=paired.ci_high,
        p_value=paired.p_value,
        p_adjusted=paired.p_value,
        test=paired.method,
        lower_is_better=raw,
        note=paired.note,
    )


def _unscored_reason(cases: Sequence[CaseResult], metric: str) -> str | None:
    """Why ``metric`` has no score in these cases (its first skip or error), if it was listed."""
    for c in cases:
        ms = c.scores.get(metric)
        reason = None if ms is None else ms.why_unscored()
        if reason:
            return reason
    return None


def _verdict(
    metric: str,
    pool: Sequence[str],
    estimates: Mapping[str, float],
    pairs: Sequence[VariantPair],
    *,
    lower: bool,
    reference: str | None,
) -> VariantVerdict:
    """The verdict on one metric over the variants ``pool`` (see :func:`build_variant_sets`)."""
    tested = {frozenset((p.a, p.b)): p for p in pairs}

    def beats(x: str, y: str) -> bool:
        p = tested.get(frozenset((x, y)))
        return p is not None and p.better == x

    for x in pool:
        others = [y for y in pool if y != x]
        if all(beats(x, y) for y in others):
            whom = "the other variant" if len(others) == 1 else f"each of the {len(others)} others"
            how = "lower" if lower else "better"
            return VariantVerdict(
                metric=metric,
                best=x,
                candidates=[x],
                message=f"{metric}: {x} is best, significantly {how} than {whom}",
            )
    # The top estimate; the first in the file's order among equal ones.
    top = min(pool, key=lambda v: estimates[v] if lower else -estimates[v])
    candidates = [v for v in pool if v == top or not beats(top, v)]
    untested = [v for v in candidates if v != top and frozenset((top, v)) not in tested]
    message = (
        f"{metric}: no clear winner; {', '.join(candidates)} cannot be separated from the top "
        f"estimate ({top})"
    )
    if untested and reference is not None:
        message += f" (only pairs with the reference {reference} were tested)"
    return VariantVerdict(metric=metric, candidates=candidates, message=message)


def build_variant_sets(
    run: RunResults,
    plans: Mapping[str, VariantPlan] | None = None,
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 10_000,
) -> list[VariantSet]:
    """One comparison per suite with variants, from a run's cases, suites and aggregates.

    Variant suites are grouped by the suite they vary (``SuiteInfo.variant_of``); every suite
    with at least one variant that ran gets a set, its variants in the file's order.

    - ``estimates``: each variant's aggregate (estimate and interval) of every metric.
    - ``pairs``: per metric scored by both, every pair of variants (``a`` before ``b`` in the
      file's order), or each variant against the ``reference:`` (``a`` = the reference; a
      reference that did not run, or errored in every case, falls back to all pairs, said in
      ``notes``), paired by case id with repeats averaged per case. The p-values are adjusted
      across *all* pairs and metrics of the suite (Holm, or Benjamini-Hochberg for
      ``multiplicity: bh``); ``better`` names the variant that is significantly better at
      adjusted ``p < alpha`` (``alpha = 1 - confidence``), lower being better for raw measures
      (latency, cost).
    - ``verdicts``, per metric with at least one tested pair: ``best`` is the variant
      that beats every other variant in a tested, significant pair. With all pairs that is "it
      beats each one". With a ``reference:`` only the reference's pairs are tested, so: with two
      variants, the one that beats the other (reference or not); with more, only the reference
      can be best (by beating every other), since no test compares two other variants. Without
      a winner: "no clear winner", and ``candidates`` are the variant with the top estimate and
      every variant not significantly worse than it; a variant never tested against the top
      (with a reference) cannot be separated from it, so it is a candidate.
    - ``usage``: per variant its results, errors, cost, tokens, latency p50/p95, ``quality``
      (its estimate of the quality metric) and ``pareto``: no other variant is at least as good
      and as cheap and better at one of them (a variant that errored in every case is never on
      the front).
    - ``notes``: a variant whose every case errored (once, with the first error; it is left out
      of pairs and verdicts), a single variant, a reference that did not run, pairs with too few
      matched cases for any test to reach ``alpha`` (see :func:`min_paired_cases`), cases that
      only some variants ran.

    Args:
        run: The run's cases, suites (``variant``/``variant_of``) and aggregates.
        plans: Base suite -> its plan (declared order, reference, multiplicity; see
            :func:`variant_plans`). A suite missing here keeps the order its variants appear in
            ``run.suites``, all pairs and Holm.
        confidence: Confidence level of intervals; ``alpha = 1 - confidence``.
        seed: Seed of the permutation tests' Monte Carlo draws.
        n_resamples: Monte Carlo resamples when exact enumeration is too large.

    Returns:
        One set per suite with variants, in the order the suites appear in ``run.suites``.
    """
    from .. import stats

    plans = plans or {}
    # Rounded so that 0.95 reads as alpha 0.05, not 0.050000000000000044.
    alpha = round(1.0 - confidence, 12)
    groups: dict[str, dict[str, str]] = {}
    for info in run.suites:
        found = _base_of(info)
        if found is not None:
            groups.setdefault(found[0], {})[found[1]] = info.name
    by_suite: dict[str, list[CaseResult]] = {}
    for c in run.cases:
        by_suite.setdefault(c.suite, []).append(c)
    aggs: dict[str, dict[str, Aggregate]] = {}
    for agg in run.aggregates:
        aggs.setdefault(agg.suite, {})[agg.metric] = agg

    out = []
    for base, suite_of in groups.items():
        plan = plans.get(base, VariantPlan(suite=base))
        order = [v for v in plan.variants if v in suite_of]
        ran = order + [v for v in suite_of if v not in order]
        cases = {v: by_suite.get(suite_of[v], []) for v in ran}
        vaggs = {v: aggs.get(suite_of[v], {}) for v in ran}
        notes: list[str] = []

        failed = [v for v in ran if cases[v] and all(c.error is not None for c in cases[v])]
        for v in failed:
            first = min(cases[v], key=lambda c: (c.case_id, c.repeat))
            text = (first.error or "").strip().splitlines()[0] if first.error else ""
            if len(text) > ERROR_SHOWN:
                text = text[: ERROR_SHOWN - 1] + "…"
            notes.append(
                f"variant {v}: every case errored ({len(cases[v])} result(s); first: {text}); "
                "left out of the comparisons"
            )
        compared = [v for v in ran if v not in failed]
        reference = plan.reference if plan.reference in compared else None
        if plan.reference is not None and reference is None and len(compared) > 1:
            why = "errored in every case" if plan.reference in failed else "did not run"
            notes.append(f"reference {plan.reference} {why}: all pairs compared instead")
        if len(ran) == 1:
            notes.append(f"only variant {ran[0]} ran: nothing to compare it with")
        elif len(compared) < 2:
            have = f"only {compared[0]} has" if compared else "no variant has"
            notes.append(f"{have} results: nothing to compare")

        metrics = list(dict.fromkeys(m for v in ran for m in vaggs[v]))
        estimates = []
        for m in metrics:
            for v in ran:
                if (est := vaggs[v].get(m)) is not None:
                    estimates.append(
                        VariantEstimate(
                            variant=v,
                            metric=m,
                            estimate=est.estimate,
                            ci_low=est.ci_low,
                            ci_high=est.ci_high,
                            n=est.n,
                            method=est.method,
                        )
                    )

        if reference is not None:
            couples = [(reference, v) for v in compared if v != reference]
        else:
            couples = list(itertools.combinations(compared, 2))
        pairs: list[VariantPair] = []
        for m in metrics:
            values = {
                v: per_case(cases[v], None if m == PASS_RATE else m).as_dict() for v in compared
            }
            for a, b in couples:
                if not values[a] or not values[b]:
                    if values[a] or values[b]:
                        unscored = b if values[a] else a
                        reason = _unscored_reason(cases[unscored], m)
                        if reason is not None:
                            notes.append(
                                f"{a} vs {b} on {m}: {unscored} scored it on none of its cases "
                                f"({reason}), not compared"
                            )
                    continue
                if not set(values[a]) & set(values[b]):
                    notes.append(f"{a} vs {b} on {m}: no case scored by both, not compared")
                    continue
                pairs.append(
                    _pair(
                        m,
                        a,
                        b,
                        values[a],
                        values[b],
                        [*cases[a], *cases[b]],
                        confidence=confidence,
                        seed=seed,
                        n_resamples=n_resamples,
                    )
                )
        if pairs:
            adjust = stats.benjamini_hochberg if plan.multiplicity == "bh" else stats.holm
            adjusted = adjust([p.p_value for p in pairs])
            for p, q in zip(pairs, adjusted, strict=True):
                p.p_adjusted = float(q)
                if p.p_adjusted < alpha and p.diff != 0:
                    b_better = p.diff < 0 if p.lower_is_better else p.diff > 0
                    p.better = p.b if b_better else p.a
        needed = min_paired_cases(alpha)
        few = [p for p in pairs if p.n < needed]
        if few:
            where = ", ".join(
                dict.fromkeys(f"{p.a} vs {p.b} ({p.n})" for p in sorted(few, key=lambda p: p.n))
            )
            notes.append(
                f"too few matched cases to separate variants: with fewer than {needed} no "
                f"paired test reaches p < {alpha:.2g}: {where}"
            )
        for a, b in couples:
            # Cases one of the two ran and the other did not (e.g. selected by -k): said once
            # per pair, from the pass indicator every result has.
            only_one = {c.case_id for c in cases[a]} ^ {c.case_id for c in cases[b]}
            if only_one:
                notes.append(
                    f"{a} vs {b}: {len(only_one)} case(s) ran in only one of them, "
                    "left out of their pairs"
                )

        verdicts = []
        for m in metrics:
            pool = [v for v in compared if m in vaggs[v]]
            rows = [p for p in pairs if p.metric == m]
            if len(pool) < 2 or not rows:
                # Nothing was tested: an aggregate without per-case scores (derived from
                # others), or no case scored by two variants. No verdict, not "no winner".
                continue
            lower = rows[0].lower_is_better
            verdicts.append(
                _verdict(
                    m,
                    pool,
                    {v: vaggs[v][m].estimate for v in pool},
                    rows,
                    lower=lower,
                    reference=reference,
                )
            )

        usage = [_usage(v, cases[v]) for v in ran]
        for u in usage:
            quality = vaggs[u.variant].get(plan.quality_metric)
            u.quality = quality.estimate if quality is not None else None
        q_rows = [p for p in pairs if p.metric == plan.quality_metric]
        q_lower = q_rows[0].lower_is_better if q_rows else plan.quality_metric in RAW_MEASURES
        _mark_pareto(usage, set(compared), q_lower)

        out.append(
            VariantSet(
                suite=base,
                variants=ran,
                reference=reference,
                multiplicity=plan.multiplicity,
                alpha=alpha,
                confidence=confidence,
                quality_metric=plan.quality_metric,
                estimates=estimates,
                pairs=pairs,
                verdicts=verdicts,
                usage=usage,
                notes=notes,
            )
        )
    return out
