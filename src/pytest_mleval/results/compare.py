"""Paired comparison of two runs: matched by suite and case id, tested per metric.

Pure functions over result records; the statistics live in :mod:`stats`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..metrics.base import LOWER_IS_BETTER_SCORES
from .aggregate import is_raw_measure, per_case
from .pairing import changed_inputs
from .records import (
    PASS_RATE,
    CaseResult,
    GateResult,
    RunResults,
    incomplete_reasons,
    metric_kind,
    not_run_text,
)
from .rule_changes import changed_rules
from .units import fmt_delta, fmt_p

__all__ = [
    "Comparison",
    "MetricComparison",
    "SuiteComparison",
    "check_levels",
    "check_margin",
    "compare_runs",
    "is_regression_gate",
    "not_whole_warning",
    "paired_scores_test",
    "regression_check",
    "regression_gates",
]

Verdict = Literal[
    "improved", "regressed", "worse within margin", "no significant change", "not tested"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MetricComparison(_Model):
    """Candidate minus baseline for one metric of one suite, paired by case."""

    metric: str
    """Metric name, or ``pass_rate``."""
    n: int
    """Cases present in both runs with a score in both."""
    baseline: float
    """Baseline mean over the matched cases."""
    candidate: float
    """Candidate mean over the matched cases."""
    diff: float
    """Mean paired difference (candidate - baseline)."""
    ci_low: float
    """Lower bound of the difference's confidence interval."""
    ci_high: float
    """Upper bound of the difference's confidence interval."""
    p_value: float
    """Two-sided p-value of the paired test."""
    p_adjusted: float
    """p-value after Holm adjustment across the suite's compared metrics."""
    test: str
    """Paired test used (and why, for degenerate inputs)."""
    correlation: float | None = None
    """Pearson correlation of the paired scores (how much pairing helps)."""
    verdict: Verdict
    """improved / regressed / no significant change (at the adjusted p)."""
    gating: bool = False
    """Whether a regression of this metric fails the run (see :func:`regression_check`)."""
    regression: bool = False
    """Significant drop larger than the margin (the regression gate fires)."""
    noninferiority_p: float | None = None
    """Holm-adjusted one-sided p-value of H0: drop <= margin."""
    lower_is_better: bool = False
    """True for raw measures such as latency and cost."""
    note: str | None = None
    """Anything a reader should know."""


class SuiteComparison(_Model):
    """The comparison of one suite."""

    suite: str
    """Suite name."""
    n_matched: int
    """Cases present in both runs."""
    metrics: list[MetricComparison] = Field(default_factory=list)
    """Per-metric comparisons."""
    flipped_to_fail: list[str] = Field(default_factory=list)
    """Case ids that passed in the baseline and fail now (their outputs judged wrong)."""
    flipped_to_error: list[str] = Field(default_factory=list)
    """Case ids that passed in the baseline and errored now (target, provider or a metric
    failed): nothing judged their outputs wrong, so they are not listed as failing."""
    flipped_to_pass: list[str] = Field(default_factory=list)
    """Case ids that failed in the baseline and pass now."""
    regressed: bool = False
    """Whether any gating metric regressed beyond the margin."""
    margin: float = 0.0
    """The suite's non-inferiority margin."""
    narrowed: bool = False
    """Whether the suite's ``regression_metrics`` narrowed the gating metrics."""
    unscored: dict[str, str] = Field(default_factory=dict)
    """Gating metric -> why this run scored it on none of the cases the baseline scored it on
    (skipped, errored): its regression cannot be checked, so the suite's gate fails."""
    unchecked: str | None = None
    """Why no metric of the suite could be checked for regression (no case in both runs, no
    ``regression_metrics`` entry in both), else ``None``: the suite's gate then fails."""


class Comparison(_Model):
    """A candidate run compared with a baseline run."""

    baseline_sha: str | None = None
    """Commit of the baseline run."""
    baseline_started_at: str = ""
    """When the baseline ran."""
    margin: float = 0.0
    """Non-inferiority margin of the regression gate."""
    alpha: float = 0.05
    """Significance level."""
    confidence: float = 0.95
    """Confidence level of intervals."""
    suites: list[SuiteComparison] = Field(default_factory=list)
    """Per-suite comparisons."""
    only_in_baseline: list[str] = Field(default_factory=list)
    """``suite::case`` ids present only in the baseline."""
    only_in_candidate: list[str] = Field(default_factory=list)
    """``suite::case`` ids present only in the candidate."""
    changed_input: list[str] = Field(default_factory=list)
    """``suite::case`` ids in both runs whose input differs, so not paired (see
    :func:`regression_check`)."""
    warnings: list[str] = Field(default_factory=list)
    """Problems a reader must see (e.g. disjoint suites)."""

    @property
    def regressed(self) -> bool:
        """Whether any suite regressed."""
        return any(s.regressed for s in self.suites)


def _per_case(cases: Iterable[CaseResult], metric: str) -> dict[str, float]:
    """Case id -> the case's mean over its repeats (``pass_rate``: the pass indicator)."""
    return per_case(cases, None if metric == PASS_RATE else metric).as_dict()


def _metrics(cases: Sequence[CaseResult]) -> list[str]:
    names: dict[str, None] = {PASS_RATE: None}
    for c in cases:
        for k in c.scores:
            names.setdefault(k, None)
    return list(names)


def _by_suite(run: RunResults) -> dict[str, list[CaseResult]]:
    out: dict[str, list[CaseResult]] = {}
    for c in run.cases:
        if not c.not_needed:  # a sequential suite's cases it did not need were never run
            out.setdefault(c.suite, []).append(c)
    return out


def _lost_scores(
    base: Mapping[str, float], paired: Sequence[str], cases: Sequence[CaseResult], metric: str
) -> tuple[int, str] | None:
    """(cases the baseline scored, why) when this run did not score ``metric`` on some of the
    cases both runs have and the baseline scored, else ``None``.

    Only cases whose entry for the metric was skipped or errored count: a case that errored as
    a whole shows in the pass rate, and a metric no case lists any more was removed.
    """
    paired_ids = set(paired)
    why: dict[str, str] = {}
    for c in cases:
        ms = c.scores.get(metric)
        reason = None if ms is None else ms.why_unscored()
        if reason and c.case_id in base and c.case_id not in paired_ids:
            why.setdefault(c.case_id, reason)
    if not why:
        return None
    lost = len({c.case_id for c in cases if c.case_id in base} - paired_ids)
    reasons = list(dict.fromkeys(why.values()))
    first = (
        reasons[0] if len(reasons) == 1 else f"{reasons[0]}; and {len(reasons) - 1} other reason(s)"
    )
    return len(paired_ids) + lost, f"{lost} not scored in this run, {first}"


def _nothing_checked(
    sc: SuiteComparison,
    bcases: Sequence[CaseResult],
    ccases: Sequence[CaseResult],
    narrowed: Collection[str] | None,
    *,
    changed: int = 0,
) -> str | None:
    """Why no gating metric of a suite in both runs was compared, else ``None``.

    A gate over nothing would pass whatever this run did: renamed cases (a regenerated
    dataset's ids) or a misspelt ``regression_metrics`` must not read as "no regression".
    """
    if narrowed is not None and not narrowed:
        return None  # gates nothing by choice (a `compare_to` comparison, for the reader only)
    if sc.n_matched == 0:
        only_b = len({c.case_id for c in bcases} - {c.case_id for c in ccases})
        only_c = len({c.case_id for c in ccases} - {c.case_id for c in bcases})
        same = " with the same input" if changed else ""
        also = f", {changed} with a different input" if changed else ""
        return (
            f"no case of suite {sc.suite} is in both runs{same} ({only_b} only in the baseline, "
            f"{only_c} only in this run{also}): cases are paired by id, so renamed cases need "
            "a new baseline"
        )
    if narrowed is not None and not sc.unscored and not any(m.gating for m in sc.metrics):
        return (
            f"none of its regression_metrics ({', '.join(sorted(narrowed))}) is in both runs"
            f" (compared: {', '.join(m.metric for m in sc.metrics)})"
        )
    return None


def _unpaired(
    suite: str,
    changed: Sequence[str],
    bcases: Sequence[CaseResult],
    ccases: Sequence[CaseResult],
    result: Comparison,
) -> tuple[list[CaseResult], list[CaseResult]]:
    """Both sides without the ids whose input changed, recorded and warned about."""
    result.changed_input += [f"{suite}::{i}" for i in changed]
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    result.warnings.append(
        f"suite {suite}: {len(changed)} case(s) have a different input than in the baseline "
        f"under the same id and were not paired ({shown}): a dataset without ids numbers its "
        "rows, so a row inserted or removed renames those after it; give each case an `id`"
    )
    drop = set(changed)
    return [c for c in bcases if c.case_id not in drop], [
        c for c in ccases if c.case_id not in drop
    ]


def _margin_of(margin: float | Mapping[str, float], suite: str) -> float:
    """The margin of one suite, from one margin for all or a suite -> margin mapping."""
    return float(margin.get(suite, 0.0)) if isinstance(margin, Mapping) else float(margin)


def _gates(metric: str, raw: bool, narrowed: Collection[str] | None) -> bool:
    """The default regression rule for one score key: every metric present in both runs gates,
    raw measures (latency, cost; also under a label) excepted, unless the suite narrows the set.
    """
    return metric in narrowed if narrowed is not None else not raw


def paired_scores_test(
    a: Any,
    b: Any,
    *,
    raw: bool,
    confidence: float,
    seed: int,
    n_resamples: int,
) -> Any:
    """The paired test of two runs' (or variants') per-case values, ``b - a``: the one choice
    every comparison makes.

    Exact McNemar when every value is 0 or 1, else the sign-flip permutation test; a score
    difference lives in [-1, 1], so identical or constant differences get the no-spread
    bound valid on that range, never a zero-width interval. A raw measure (latency, cost)
    that happens to be 0 or 1 is not pass/fail, and has no such bound.

    Args:
        a: The first side's per-case values (a numpy array).
        b: The second side's, paired with ``a``.
        raw: Whether the metric is a raw measure.
        confidence: Confidence level of the difference's interval.
        seed: Seed of the permutation test.
        n_resamples: Monte Carlo resamples when exact enumeration is too large.

    Returns:
        :class:`pytest_mleval.stats.PairedResult`.
    """
    import numpy as np

    from .. import stats

    binary = not raw and bool(np.all(np.isin(a, (0.0, 1.0))) and np.all(np.isin(b, (0.0, 1.0))))
    scored = not raw and bool(np.all((a >= 0) & (a <= 1)) and np.all((b >= 0) & (b <= 1)))
    return stats.paired_test(
        a,
        b,
        test="mcnemar" if binary else "permutation",
        confidence=confidence,
        seed=seed,
        n_resamples=n_resamples,
        bounds=(-1.0, 1.0) if scored else None,
    )


def compare_runs(
    baseline: RunResults,
    candidate: RunResults,
    *,
    margin: float | Mapping[str, float] = 0.0,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 10_000,
    gating: Mapping[str, Collection[str] | None] | None = None,
    pair_inputs: bool = False,
) -> Comparison:
    """Compare per suite and metric, paired by case id.

    Every metric present in both runs is compared (pass rate included). The metrics that
    gate (by default every one but raw measures such as latency and cost, also under a
    ``name:`` label; else the suite's ``regression_metrics``) have their p-values
    Holm-adjusted across the gating metrics, the others across all of a suite's metrics; the
    gating ones are then tested for non-inferiority, Holm-adjusted across them:
    a metric regresses when it is significantly worse at the adjusted level *and* the
    non-inferiority test rejects *and* the drop exceeds the margin. Prefer
    :func:`regression_check`, which reads each suite's margin and gating metrics from the
    candidate run, as the plugin's gate and ``mleval compare`` do.

    Args:
        baseline: The earlier run.
        candidate: This run.
        margin: Non-inferiority margin (per suite, or one for all): smaller drops never regress.
            For raw measures (latency, cost) named as gating, it is relative to the baseline
            mean (0.1: a rise above 10 %).
        alpha: Significance level of verdicts and the regression gate.
        confidence: Confidence level of the difference's interval.
        seed: Seed of permutation tests.
        n_resamples: Monte Carlo resamples when exact enumeration is too large.
        gating: Suite -> the metrics whose regression fails the build (a suite missing here,
            or mapped to None, uses the default rule above).
        pair_inputs: Also require the same input where both runs recorded one: an id whose
            input changed is listed in ``changed_input`` and not paired.

    Returns:
        The comparison, with unmatched cases listed rather than dropped.
    """
    import numpy as np

    from .. import stats

    base_suites, cand_suites = _by_suite(baseline), _by_suite(candidate)
    result = Comparison(
        baseline_sha=baseline.meta.git_sha,
        baseline_started_at=baseline.meta.started_at,
        margin=float(margin) if isinstance(margin, float | int) else 0.0,
        alpha=alpha,
        confidence=confidence,
    )
    for name in sorted(set(base_suites) | set(cand_suites)):
        b_ids = {c.case_id for c in base_suites.get(name, [])}
        c_ids = {c.case_id for c in cand_suites.get(name, [])}
        result.only_in_baseline += [f"{name}::{i}" for i in sorted(b_ids - c_ids)]
        result.only_in_candidate += [f"{name}::{i}" for i in sorted(c_ids - b_ids)]
    shared = sorted(set(base_suites) & set(cand_suites))
    if not shared:
        if not base_suites:
            why = (
                "the baseline has no case results (saved from a run that collected nothing?): "
                "nothing could be compared"
            )
        else:
            why = (
                "the baseline shares no suite with this run: nothing could be compared "
                f"(baseline suites: {sorted(base_suites)}; this run: {sorted(cand_suites)})"
            )
        result.warnings.append(why)
        # A comparison that compared nothing is a regression nobody checked: each of this
        # run's suites gets a failing gate rather than no gate and a green run.
        for name in sorted(cand_suites):
            result.suites.append(
                SuiteComparison(
                    suite=name,
                    n_matched=0,
                    margin=_margin_of(margin, name),
                    unchecked=why,
                    regressed=True,
                )
            )
    if result.only_in_baseline or result.only_in_candidate:
        result.warnings.append(
            f"{len(result.only_in_baseline)} case(s) only in the baseline and "
            f"{len(result.only_in_candidate)} only in this run were not compared"
        )

    for name in shared:
        bcases, ccases = base_suites[name], cand_suites[name]
        changed = changed_inputs(bcases, ccases) if pair_inputs else []
        if changed:
            bcases, ccases = _unpaired(name, changed, bcases, ccases, result)
        suite_margin = _margin_of(margin, name)
        narrowed = (gating or {}).get(name)
        sc = SuiteComparison(
            suite=name,
            n_matched=len({c.case_id for c in bcases} & {c.case_id for c in ccases}),
            margin=suite_margin,
            narrowed=narrowed is not None,
        )
        rows: list[MetricComparison] = []
        nonin_p: list[float] = []
        allowed_drop: list[float] = []
        bounded_gating: list[str] = []
        for metric in _metrics([*bcases, *ccases]):
            b, c = _per_case(bcases, metric), _per_case(ccases, metric)
            ids = sorted(set(b) & set(c))
            kind = metric_kind([*bcases, *ccases], metric)
            # Raw measures (latency, cost, tool calls, turns, custom raw values) are compared
            # in their units, a rise being worse, and gate only when named.
            raw_kind = is_raw_measure(kind, [v for d in (b, c) for v in d.values()])
            lost = _lost_scores(b, ids, ccases, metric)
            if lost is not None:
                unchecked = not ids and _gates(metric, raw_kind, narrowed)
                if unchecked:
                    sc.unscored[metric] = lost[1]
                result.warnings.append(
                    f"suite {name}: {metric} compared on {len(ids)} of the {lost[0]} cases "
                    f"the baseline scored it on ({lost[1]})"
                    + (": its regression cannot be checked, so the gate fails" if unchecked else "")
                )
            if not ids:
                continue
            bv = np.array([b[i] for i in ids])
            cv = np.array([c[i] for i in ids])
            paired = paired_scores_test(
                bv, cv, raw=raw_kind, confidence=confidence, seed=seed, n_resamples=n_resamples
            )
            lower_better = raw_kind or kind in LOWER_IS_BETTER_SCORES
            # Regression direction: a drop for scores, a rise for hallucination and for raw
            # measures (whose margin is a share of the baseline mean, as their unit is not a
            # score's).
            drop = (cv - bv) if not lower_better else (bv - cv)
            row_margin = suite_margin * abs(float(bv.mean())) if raw_kind else suite_margin
            rows.append(
                MetricComparison(
                    metric=metric,
                    n=len(ids),
                    baseline=float(bv.mean()),
                    candidate=float(cv.mean()),
                    diff=paired.diff,
                    ci_low=paired.ci_low,
                    ci_high=paired.ci_high,
                    p_value=paired.p_value,
                    p_adjusted=paired.p_value,
                    test=paired.method,
                    correlation=paired.correlation,
                    verdict="not tested",
                    # A labelled raw measure is still a raw measure by the default rule.
                    gating=_gates(metric, raw_kind, narrowed),
                    lower_is_better=lower_better,
                    note=paired.note,
                )
            )
            nonin_p.append(stats.noninferiority_pvalue(drop, row_margin))
            allowed_drop.append(row_margin)
            if rows[-1].gating and not raw_kind:
                bounded_gating.append(metric)
        base_names, cand_names = set(_metrics(bcases)), set(_metrics(ccases))
        gone = sorted(base_names - cand_names)
        if gone:
            # A renamed or removed metric is compared with nothing: say so, with the new
            # names beside it, rather than let it drop out of the table unseen.
            new = sorted(cand_names - base_names)
            result.warnings.append(
                f"suite {name}: {', '.join(gone)} scored in the baseline but by no case of "
                "this run (renamed or removed?), so not compared"
                + (f"; new in this run: {', '.join(new)}" if new else "")
            )
        if narrowed is not None:
            missing = sorted(set(narrowed) - {r.metric for r in rows})
            if missing:
                result.warnings.append(
                    f"suite {name}: regression_metrics {missing} are not in both runs"
                )
        if rows:
            adjusted = stats.holm([r.p_value for r in rows])
            gated_idx = [i for i, r in enumerate(rows) if r.gating]
            nonin_adj = stats.holm([nonin_p[i] for i in gated_idx]) if gated_idx else np.array([])
            # A gating metric is adjusted across the gating metrics only: informational rows
            # beside it must not turn its significant drop into "no significant change".
            gated_adj = stats.holm([rows[i].p_value for i in gated_idx])
            for j, i in enumerate(gated_idx):
                adjusted[i] = gated_adj[j]
            for i, r in enumerate(rows):
                r.p_adjusted = float(adjusted[i])
                better = r.diff < 0 if r.lower_is_better else r.diff > 0
                if r.p_adjusted < alpha and r.diff != 0:
                    r.verdict = "improved" if better else "regressed"
                    if r.ci_low <= 0.0 <= r.ci_high:
                        # The exact paired test is significant while the interval (e.g. the
                        # no-spread bound, valid for any distribution) still reaches 0: say
                        # why the two read differently rather than leave them side by side.
                        r.note = _join_note(
                            r.note,
                            "the paired test is significant; the interval beside it is more "
                            "conservative (it holds for any distribution) and still includes 0",
                        )
                else:
                    r.verdict = "no significant change"
            for j, i in enumerate(gated_idx):
                r = rows[i]
                r.noninferiority_p = float(nonin_adj[j])
                worse_by = r.diff if r.lower_is_better else -r.diff
                r.regression = bool(
                    r.verdict == "regressed"
                    and r.noninferiority_p < alpha
                    and worse_by > allowed_drop[i]
                )
                if r.verdict == "regressed" and not r.regression:
                    # Significantly worse, but not beyond the margin the suite tolerates: the
                    # table must not say "regressed" while the gate passes. The label does
                    # not claim the drop is inside the margin, only that it was not shown
                    # to exceed it: the note says which.
                    r.verdict = "worse within margin"
                    r.note = _join_note(
                        r.note,
                        f"significantly worse, but not shown to be worse by more than the "
                        f"margin {allowed_drop[i]:.4g} (non-inferiority p(adj) "
                        f"{r.noninferiority_p:.3g})",
                    )
        sc.metrics = rows
        sc.unchecked = _nothing_checked(sc, bcases, ccases, narrowed, changed=len(changed))
        if suite_margin >= 1.0 and bounded_gating and not sc.unchecked:
            # No drop of a score in [0, 1] exceeds a margin of 1: the gate could never fail.
            sc.unchecked = (
                f"regression margin {suite_margin:g} is 1 or more, so no drop of "
                f"{', '.join(bounded_gating)} (scores in [0, 1]) could exceed it; a margin of "
                "1 or more is only meaningful for raw measures (a relative rise)"
            )
        if sc.unchecked:
            result.warnings.append(
                f"suite {name}: regression cannot be checked, so the gate fails: {sc.unchecked}"
            )
        sc.regressed = any(r.regression for r in rows) or bool(sc.unscored or sc.unchecked)
        bp, cp = _per_case(bcases, PASS_RATE), _per_case(ccases, PASS_RATE)
        errored = {c.case_id for c in ccases if c.errored}
        for cid in sorted(set(bp) & set(cp)):
            if bp[cid] >= 0.5 > cp[cid]:
                (sc.flipped_to_error if cid in errored else sc.flipped_to_fail).append(cid)
            elif cp[cid] >= 0.5 > bp[cid]:
                sc.flipped_to_pass.append(cid)
        result.suites.append(sc)
    return result


def _unscored_gating(
    comparison: Comparison,
    gating: Mapping[str, Collection[str] | None],
    cases: Sequence[CaseResult],
) -> None:
    """A suite's gate fails when one of its gating metrics has no score anywhere in either run:
    a misspelt ``--mleval-regression-metrics`` (or ``mleval compare --metrics``) entry gated
    nothing, so the gate passed on the other entries. (A suite's own list is checked against
    its metrics when the eval file is collected.)"""
    import difflib

    scored = set(_metrics(cases))
    problems: dict[str, str] = {}
    for sc in comparison.suites:
        for name in sorted(set(gating.get(sc.suite) or ()) - scored):
            if name not in problems:
                close = difflib.get_close_matches(name, sorted(scored), n=1)
                problems[name] = (
                    f"gating metric {name!r} has no score in either run"
                    + (f" (did you mean {close[0]!r}?)" if close else "")
                    + " (misspelt, or skipped or errored on every case)"
                )
                comparison.warnings.append(
                    f"regression cannot be checked, so the gate fails: {problems[name]}"
                )
            sc.unchecked = f"{sc.unchecked}; {problems[name]}" if sc.unchecked else problems[name]
            sc.regressed = True


def _join_note(note: str | None, more: str) -> str:
    return f"{note}; {more}" if note else more


def is_regression_gate(gate: GateResult) -> bool:
    """Whether a gate is one of :func:`regression_gates` (not a suite's own gate)."""
    return gate.metric == "regression" and gate.stat == "paired" and gate.on == "baseline"


def regression_gates(comparison: Comparison) -> list[GateResult]:
    """One regression gate per compared suite, from the comparison's verdicts.

    Args:
        comparison: The output of :func:`compare_runs`.

    Returns:
        Gate results (metric ``regression``): failed where a gating metric regressed.
    """
    out = []
    for sc in comparison.suites:
        regressions = [m for m in sc.metrics if m.regression]
        tested = [m for m in sc.metrics if m.gating]
        if sc.unchecked:
            message = f"regression cannot be checked: {sc.unchecked}"
        elif sc.unscored:
            # A gating metric this run could not score is a regression nobody checked.
            message = "regression cannot be checked: " + "; ".join(
                f"{metric} was not scored on any case the baseline scored it on ({why})"
                for metric, why in sc.unscored.items()
            )
        elif regressions:
            detail = "; ".join(
                # A raw measure in its unit (``+$0.0000250``, not ``+2.5e-05``).
                f"{m.metric} {fmt_delta(m.metric, m.diff)} "
                f"[{fmt_delta(m.metric, m.ci_low)}, {fmt_delta(m.metric, m.ci_high)}] "
                f"p(adj){fmt_p(m.p_adjusted, relation=True)}"
                for m in regressions
            )
            message = f"regression beyond margin {sc.margin:g}: {detail}"
        else:
            message = (
                f"no significant regression beyond margin {sc.margin:g} "
                f"over {len(tested)} gating metric(s), {sc.n_matched} paired cases"
            )
            # A gating metric compared on fewer of them (it errored or was skipped on the
            # rest) is a weaker check than "20 paired cases" reads.
            fewer = [f"{m.metric} on {m.n}" for m in tested if m.n < sc.n_matched]
            if fewer:
                message += f" ({', '.join(fewer)} of them)"
        out.append(
            GateResult(
                suite=sc.suite,
                metric="regression",
                stat="paired",
                on="baseline",
                min=-sc.margin,
                passed=not regressions and not sc.unscored and not sc.unchecked,
                message=message,
            )
        )
    return out


def check_margin(margin: float) -> float:
    """A regression margin as a float, checked: finite and at least 0 (a margin of 1 or more
    leaves a score's gate unchecked, see :func:`compare_runs`: it stays valid for the
    relative margin of latency or cost).

    Raises:
        ValueError: NaN (every test with it fails to run), infinite or negative (no drop, or
            every drop, would regress).
    """
    value = float(margin)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"a regression margin must be a finite number >= 0, got {margin!r}")
    return value


def check_levels(*, alpha: float | None = None, confidence: float | None = None) -> None:
    """Check that a significance and a confidence level lie strictly between 0 and 1.

    Raises:
        ValueError: naming the level outside (0, 1): ``alpha`` 0 calls every drop "no
            significant change", and ``confidence`` 1.5 has no interval.
    """
    for name, level in (("alpha", alpha), ("confidence", confidence)):
        if level is not None and not 0.0 < float(level) < 1.0:
            raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {level!r}")


def not_whole_warning(run: RunResults, who: str) -> str | None:
    """``the baseline is not a whole run (...)``: a comparison with it covers only what it
    ran (``None`` for a whole run). Its cases not run are not compared, so a run that could
    not collect a file must not read as compared in full."""
    why = [*incomplete_reasons(run), not_run_text(run)]
    text = "; ".join(w for w in why if w)
    if not text:
        return None
    return f"the {who} is not a whole run ({text}): only the cases both runs ran are compared"


def regression_check(
    baseline: RunResults,
    candidate: RunResults,
    *,
    margin: float | None = None,
    metrics: Collection[str] | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 10_000,
) -> tuple[Comparison, list[GateResult]]:
    """The one regression rule: used by the run's gate and by ``mleval compare`` alike.

    Each suite's margin and gating metrics come from the candidate run's suite records
    (``regression_margin``, ``regression_metrics``), unless given here for every suite.
    Cases are paired by id and, where both runs recorded it, input: an id whose input
    changed (a dataset without ids after a row was inserted) is not paired, and a suite
    with no pair left, or none of its gating metrics in both runs, fails its gate as
    unchecked.

    Args:
        baseline: The earlier run.
        candidate: This run.
        margin: A margin for every suite, over the suites' own (default 0 where none is set).
        metrics: Gating metrics for every suite, over the suites' own ``regression_metrics``.
        alpha: Significance level.
        confidence: Confidence level of the differences' intervals.
        seed: Seed of permutation tests.
        n_resamples: Monte Carlo resamples when exact enumeration is too large.

    Returns:
        The comparison and one regression gate per compared suite; the run regressed when
        any gate failed (``comparison.regressed``).

    Raises:
        ValueError: ``alpha`` or ``confidence`` outside (0, 1), or a margin (given here or a
            suite's own) that is not a finite number of at least 0.
    """
    check_levels(alpha=alpha, confidence=confidence)
    info = {s.name: s for s in candidate.suites}
    names = {c.suite for c in candidate.cases} | {c.suite for c in baseline.cases}
    margins: dict[str, float] = {}
    gating: dict[str, Collection[str] | None] = {}
    for name in names:
        suite = info.get(name)
        own_margin = suite.regression_margin if suite is not None else None
        margins[name] = check_margin(
            margin if margin is not None else own_margin if own_margin is not None else 0.0
        )
        own_metrics = suite.regression_metrics if suite is not None else None
        chosen = metrics if metrics is not None else own_metrics
        gating[name] = set(chosen) if chosen is not None else None
    comparison = compare_runs(
        baseline,
        candidate,
        margin=margins,
        alpha=alpha,
        confidence=confidence,
        seed=seed,
        n_resamples=n_resamples,
        gating=gating,
        pair_inputs=True,
    )
    if margin is not None:
        comparison.margin = float(margin)
    partial = not_whole_warning(baseline, "baseline")
    if partial:
        # This run's own headline says when it is not whole; the baseline's would go unseen.
        comparison.warnings.insert(0, partial)
    _unscored_gating(comparison, gating, [*baseline.cases, *candidate.cases])
    unpaired = set(comparison.changed_input)
    base_by, cand_by = _by_suite(baseline), _by_suite(candidate)
    for sc in comparison.suites:
        comparison.warnings.extend(
            changed_rules(
                sc.suite,
                [c for c in base_by.get(sc.suite, []) if f"{c.suite}::{c.case_id}" not in unpaired],
                cand_by.get(sc.suite, []),
            )
        )
    sequential = {name for name, suite in info.items() if suite.sequential is not None}
    if sequential:
        # A suite that stopped on its data is judged by its anytime-valid sequences.
        from .sequential import sequential_verdicts

        base_suites, cand_suites = _by_suite(baseline), _by_suite(candidate)
        unpaired = set(comparison.changed_input)

        def paired(cases: list[CaseResult]) -> list[CaseResult]:
            # The pairs compare_runs kept: an id whose input changed is not one.
            return [c for c in cases if f"{c.suite}::{c.case_id}" not in unpaired]

        for sc in comparison.suites:
            if sc.suite in sequential:
                seq = info[sc.suite].sequential
                sequential_verdicts(
                    sc,
                    paired(base_suites[sc.suite]),
                    paired(cand_suites[sc.suite]),
                    confidence=confidence,
                    population=None if seq is None else seq.cases,
                )
    return comparison, regression_gates(comparison)
