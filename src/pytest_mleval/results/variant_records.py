"""Records of a suite's variants compared (``RunResults.variant_sets``): each variant's
estimates, the paired tests between them, the verdicts, cost and speed, and the pairwise
judge's win rates and ranking.

Kept apart from :mod:`.records` (which holds the field and re-exports these names) so that
the results file's main records stay one readable page.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..cases.schema import PASS_RATE

__all__ = [
    "VariantEstimate",
    "VariantPair",
    "VariantRank",
    "VariantSet",
    "VariantUsage",
    "VariantVerdict",
    "VariantWinRate",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VariantEstimate(_Model):
    """One variant's estimate of one metric, with its confidence interval."""

    variant: str
    """Variant name."""
    metric: str
    """Metric name, or ``pass_rate``."""
    estimate: float
    """Point estimate (as the variant suite's aggregate)."""
    ci_low: float
    """Lower confidence bound."""
    ci_high: float
    """Upper confidence bound."""
    n: int
    """Cases scored."""
    method: str = ""
    """How the interval was computed."""


class VariantPair(_Model):
    """Two variants compared on one metric, paired by case: ``b`` minus ``a``."""

    metric: str
    """Metric name, or ``pass_rate``."""
    a: str
    """The first variant (the ``reference:`` when there is one)."""
    b: str
    """The second variant."""
    n: int
    """Cases scored in both."""
    mean_a: float
    """Mean of ``a`` over those cases."""
    mean_b: float
    """Mean of ``b`` over those cases."""
    diff: float
    """Mean paired difference, ``b - a``."""
    ci_low: float
    """Lower bound of the difference's confidence interval."""
    ci_high: float
    """Upper bound of the difference's confidence interval."""
    p_value: float
    """Two-sided p-value of the paired test."""
    p_adjusted: float
    """The p-value adjusted across every pair and metric of the suite (Holm or BH)."""
    test: str
    """The paired test used (and why, for degenerate inputs)."""
    better: str | None = None
    """The variant that is significantly better at the adjusted level (``None``: neither)."""
    lower_is_better: bool = False
    """True for raw measures (latency, cost)."""
    note: str | None = None
    """Anything a reader should know."""


class VariantVerdict(_Model):
    """Which variant is best on one metric, if any is."""

    metric: str
    """Metric name, or ``pass_rate``."""
    best: str | None = None
    """The variant significantly better than every other one (``None``: no clear winner)."""
    candidates: list[str] = Field(default_factory=list)
    """Without a winner: the variants that cannot be separated from the top one."""
    message: str = ""
    """The verdict in words (``big beats every other variant`` / ``no clear winner: ...``)."""


class VariantUsage(_Model):
    """What a variant cost and how fast it was, beside its quality."""

    variant: str
    """Variant name."""
    cases: int = 0
    """Results (repeats counted)."""
    errored: int = 0
    """Results that errored."""
    cost_usd: float = 0.0
    """Cost of its calls."""
    cost_unknown: int = 0
    """Cases whose calls went to a model with no price (counted as $0 in ``cost_usd``)."""
    prompt_tokens: int = 0
    """Prompt tokens."""
    completion_tokens: int = 0
    """Completion tokens."""
    total_tokens: int = 0
    """Both."""
    latency_p50_ms: float | None = None
    """Median latency of its cases."""
    latency_p95_ms: float | None = None
    """95th percentile latency of its cases."""
    quality: float | None = None
    """Its estimate of the suite's quality metric (``quality_metric``)."""
    pareto: bool = False
    """Whether no other variant is at least as good and as cheap, and better at one of them."""


class VariantWinRate(_Model):
    """The ``pairwise`` judge's verdicts between two variants, case by case."""

    a: str
    """The first variant."""
    b: str
    """The second variant."""
    wins_a: int = 0
    """Judgements ``a`` won."""
    wins_b: int = 0
    """Judgements ``b`` won."""
    ties: int = 0
    """Ties."""
    win_rate_a: float = 0.5
    """``a``'s wins plus half the ties, over all judgements."""
    ci_low: float = 0.0
    """Lower Wilson bound of ``win_rate_a``."""
    ci_high: float = 1.0
    """Upper Wilson bound of ``win_rate_a``."""


class VariantRank(_Model):
    """A variant's Bradley-Terry strength from the pairwise judgements."""

    variant: str
    """Variant name."""
    rank: int
    """1 for the strongest."""
    strength: float
    """Bradley-Terry log-strength (the mean over variants is 0)."""
    ci_low: float
    """Lower bound (case bootstrap)."""
    ci_high: float
    """Upper bound."""


class VariantSet(_Model):
    """The variants of one suite compared: quality, the paired tests, cost and speed."""

    suite: str
    """The suite the variants vary (each ran as ``SUITE[VARIANT]``)."""
    variants: list[str] = Field(default_factory=list)
    """Variant names, in the file's order (those that ran)."""
    reference: str | None = None
    """The variant each other one was compared with (``None``: all pairs)."""
    multiplicity: str = "holm"
    """How p-values were adjusted across pairs and metrics (``holm``, ``bh``)."""
    alpha: float = 0.05
    """Significance level of the verdicts."""
    confidence: float = 0.95
    """Confidence level of the intervals."""
    quality_metric: str = PASS_RATE
    """The metric the cost and quality view uses."""
    estimates: list[VariantEstimate] = Field(default_factory=list)
    """Every variant's estimate per metric."""
    pairs: list[VariantPair] = Field(default_factory=list)
    """The paired comparisons."""
    verdicts: list[VariantVerdict] = Field(default_factory=list)
    """Per metric: the best variant, or no clear winner."""
    usage: list[VariantUsage] = Field(default_factory=list)
    """Per variant: cost, tokens, latency and quality."""
    win_rates: list[VariantWinRate] = Field(default_factory=list)
    """The ``judge_variants`` judge's win rates, per pair."""
    ranking: list[VariantRank] = Field(default_factory=list)
    """Bradley-Terry ranking from those judgements (more than two variants)."""
    notes: list[str] = Field(default_factory=list)
    """What a reader must know (a variant whose every case errored, too few cases)."""
