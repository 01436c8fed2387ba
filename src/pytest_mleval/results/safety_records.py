"""Records of a run's safety probes (``RunResults.safety``): attack success rates per suite and
probe family, and the paired comparisons with a baseline run and between a suite's variants.

Kept apart from :mod:`.records` (which holds the field) so that :mod:`.safety`, which computes
them, imports no more than it needs; :mod:`.records` re-exports nothing from here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ALL_FAMILIES", "SafetyAttack", "SafetyComparison", "SafetyFamily", "SafetySummary"]

ALL_FAMILIES = "all"
"""The ``family`` of the row that pools every family of a suite."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SafetyFamily(_Model):
    """The attack success rate of one probe family in one suite (or all of its families)."""

    suite: str
    """Suite name (``SUITE[VARIANT]`` for a variant's probes)."""
    variant: str | None = None
    """The variant the probes ran in, if any."""
    family: str
    """Probe family (``metadata.probe.family``), or ``all`` for the suite's pooled row."""
    n: int
    """Probe cases scored: their decisive metric passed (defended) or failed (attacked)."""
    successes: int
    """Attacks that got through: the decisive metric scored and did not pass."""
    errors: int = 0
    """Probe cases not scored (target error, decisive metric missing, skipped or errored):
    neither a success nor a defence, left out of ``n``."""
    rate: float = 0.0
    """Attack success rate, ``successes / n`` (0 when ``n`` is 0)."""
    ci_low: float = 0.0
    """Lower bound of the rate's Wilson interval."""
    ci_high: float = 1.0
    """Upper bound of the rate's Wilson interval."""
    confidence: float = 0.95
    """Confidence level of the interval."""
    method: str = "wilson"
    """How the interval was computed."""
    success_ids: list[str] = Field(default_factory=list)
    """Ids of the cases whose attack got through, sorted."""
    techniques: dict[str, list[int]] = Field(default_factory=dict)
    """Technique -> ``[successes, n]`` of its scored cases (empty on the pooled row)."""


class SafetyComparison(_Model):
    """One family's probes paired case by case between a reference and a candidate run.

    The test is McNemar's exact test: two-sided binomial (p = 1/2) on the discordant pairs.
    """

    against: Literal["baseline", "variant"]
    """``baseline``: this run against ``--mleval-baseline``; ``variant``: a suite's variant
    against its reference variant in this run."""
    suite: str
    """The candidate suite (this run's, or the variant's ``SUITE[VARIANT]``)."""
    reference_suite: str
    """The suite it is paired with (the baseline's suite of that name, or the reference
    variant's ``SUITE[REFERENCE]``)."""
    family: str
    """Probe family, or ``all``."""
    n: int
    """Matched pairs: cases scored on both sides."""
    b: int
    """Newly broken: defended in the reference, attacked successfully in the candidate."""
    c: int
    """Newly defended: attacked successfully in the reference, defended in the candidate."""
    rate_reference: float = 0.0
    """Attack success rate of the reference over the matched pairs."""
    rate_candidate: float = 0.0
    """Attack success rate of the candidate over the matched pairs."""
    diff: float = 0.0
    """``rate_candidate - rate_reference`` (negative: the candidate is safer), ``(b - c) / n``."""
    p_value: float = 1.0
    """Two-sided exact McNemar p-value."""
    p_adjusted: float = 1.0
    """Holm-adjusted across the family rows of one comparison (a suite against its baseline;
    every variant of a suite against the reference); the pooled ``all`` row is the one
    overall test and keeps its own p-value."""
    verdict: Literal["safer", "less safe", "no significant change"] = "no significant change"
    """``safer`` / ``less safe`` when ``p_adjusted`` is below ``alpha``."""
    unmatched: int = 0
    """Probe cases scored on one side only (or unscored on either): not paired."""


class SafetySummary(_Model):
    """The run's safety probes: per-family attack success rates and paired comparisons."""

    confidence: float = 0.95
    """Confidence level of the intervals."""
    alpha: float = 0.05
    """Significance level of the comparisons' verdicts."""
    multiplicity: str = "holm"
    """How the comparisons' p-values were adjusted."""
    families: list[SafetyFamily] = Field(default_factory=list)
    """Per suite: one row per family, then the pooled ``all`` row (with two families or more)."""
    comparisons: list[SafetyComparison] = Field(default_factory=list)
    """Paired comparisons with the baseline, then between variants."""
    notes: list[str] = Field(default_factory=list)
    """What a reader must know (a reference variant that did not run, unmatched cases)."""


class SafetyAttack(_Model):
    """A successful attack, for reports (not stored: derived from the cases)."""

    suite: str
    """Suite name."""
    case_id: str
    """Case id."""
    family: str
    """Probe family."""
    technique: str
    """Probe technique."""
    input: object = None
    """The case input."""
    output: str | None = None
    """What the target answered (raw: mask it before showing it)."""
    explanation: str | None = None
    """The decisive metric's explanation."""
