"""Paired comparison of two runs: matched by suite and case id, tested per metric.

Pure functions over result records; the statistics live in :mod:`stats`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .results import CaseResult, RunResults

__all__ = [
    "Comparison",
    "MetricComparison",
    "SuiteComparison",
    "compare_runs",
]

LOWER_IS_BETTER = frozenset({"latency_ms", "cost_usd"})
PASS_RATE = "pass_rate"
Verdict = Literal["improved", "regressed", "no significant change", "not tested"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


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
    """Case ids that passed in the baseline and fail now."""
    flipped_to_pass: list[str] = Field(default_factory=list)
    """Case ids that failed in the baseline and pass now."""
    regressed: bool = False
    """Whether any gating metric regressed beyond the margin."""


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
    warnings: list[str] = Field(default_factory=list)
    """Problems a reader must see (e.g. disjoint suites)."""

    @property
    def regressed(self) -> bool:
        """Whether any suite regressed."""
        return any(s.regressed for s in self.suites)


def _per_case(cases: Iterable[CaseResult], metric: str) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for c in cases:
        if metric == PASS_RATE:
            value: float | None = 1.0 if c.passed else 0.0
        else:
            ms = c.scores.get(metric)
            value = None if ms is None else ms.score
        if value is not None:
            sums.setdefault(c.case_id, []).append(float(value))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _metrics(cases: Sequence[CaseResult]) -> list[str]:
    names: dict[str, None] = {PASS_RATE: None}
    for c in cases:
        for k in c.scores:
            names.setdefault(k, None)
    return list(names)


def _by_suite(run: RunResults) -> dict[str, list[CaseResult]]:
    out: dict[str, list[CaseResult]] = {}
    for c in run.cases:
        out.setdefault(c.suite, []).append(c)
    return out


def compare_runs(
    baseline: RunResults,
    candidate: RunResults,
    *,
    margin: float | dict[str, float] = 0.0,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 10_000,
    gating: dict[str, set[str]] | None = None,
) -> Comparison:
    """Compare per suite and metric, paired by case id.

    Args:
        baseline: The earlier run.
        candidate: This run.
        margin: Non-inferiority margin (per suite, or one for all): smaller drops never regress.
        alpha: Significance level of verdicts and the regression gate.
        confidence: Confidence level of the difference's interval.
        seed: Seed of permutation tests.
        n_resamples: Monte Carlo resamples when exact enumeration is too large.
        gating: Suite -> metrics whose regression fails the build (default: every bounded metric).

    Returns:
        The comparison, with unmatched cases listed rather than dropped.
    """
    import numpy as np

    from . import stats

    base_suites, cand_suites = _by_suite(baseline), _by_suite(candidate)
    result = Comparison(
        baseline_sha=baseline.meta.git_sha,
        baseline_started_at=baseline.meta.started_at,
        margin=margin if isinstance(margin, float | int) else 0.0,
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
        result.warnings.append(
            "the baseline shares no suite with this run: nothing could be compared "
            f"(baseline suites: {sorted(base_suites)}; this run: {sorted(cand_suites)})"
        )
    if result.only_in_baseline or result.only_in_candidate:
        result.warnings.append(
            f"{len(result.only_in_baseline)} case(s) only in the baseline and "
            f"{len(result.only_in_candidate)} only in this run were not compared"
        )

    for name in shared:
        bcases, ccases = base_suites[name], cand_suites[name]
        suite_margin = margin.get(name, 0.0) if isinstance(margin, dict) else float(margin)
        sc = SuiteComparison(
            suite=name, n_matched=len({c.case_id for c in bcases} & {c.case_id for c in ccases})
        )
        rows: list[MetricComparison] = []
        nonin_p: list[float] = []
        for metric in _metrics([*bcases, *ccases]):
            b, c = _per_case(bcases, metric), _per_case(ccases, metric)
            ids = sorted(set(b) & set(c))
            if not ids:
                continue
            bv = np.array([b[i] for i in ids])
            cv = np.array([c[i] for i in ids])
            binary = bool(np.all(np.isin(bv, (0.0, 1.0))) and np.all(np.isin(cv, (0.0, 1.0))))
            test = "mcnemar" if binary else "permutation"
            paired = stats.paired_test(
                bv, cv, test=test, confidence=confidence, seed=seed, n_resamples=n_resamples
            )
            lower_better = metric in LOWER_IS_BETTER
            # Regression direction: a drop for scores, a rise for latency and cost.
            drop = (cv - bv) if not lower_better else (bv - cv)
            nip = stats.noninferiority_pvalue(drop, suite_margin) if not lower_better else 1.0
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
                    lower_is_better=lower_better,
                    note=paired.note,
                )
            )
            nonin_p.append(nip)
        if rows:
            adjusted = stats.holm([r.p_value for r in rows])
            gate_metrics = (gating or {}).get(name)
            gated_idx = [
                i
                for i, r in enumerate(rows)
                if not r.lower_is_better and (gate_metrics is None or r.metric in gate_metrics)
            ]
            nonin_adj = stats.holm([nonin_p[i] for i in gated_idx])
            for i, r in enumerate(rows):
                r.p_adjusted = float(adjusted[i])
                better = r.diff < 0 if r.lower_is_better else r.diff > 0
                if r.p_adjusted < alpha and r.diff != 0:
                    r.verdict = "improved" if better else "regressed"
                else:
                    r.verdict = "no significant change"
            for j, i in enumerate(gated_idx):
                r = rows[i]
                r.noninferiority_p = float(nonin_adj[j])
                r.regression = bool(r.noninferiority_p < alpha and r.diff < -suite_margin)
        sc.metrics = rows
        sc.regressed = any(r.regression for r in rows)
        bp, cp = _per_case(bcases, PASS_RATE), _per_case(ccases, PASS_RATE)
        for cid in sorted(set(bp) & set(cp)):
            if bp[cid] >= 0.5 > cp[cid]:
                sc.flipped_to_fail.append(cid)
            elif cp[cid] >= 0.5 > bp[cid]:
                sc.flipped_to_pass.append(cid)
        result.suites.append(sc)
    return result
