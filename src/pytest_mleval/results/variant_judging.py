"""The ``pairwise`` judge's verdicts between variants, as win rates and a ranking (core).

The judging itself (a model call per case, pair and order) is a service's, above this layer;
this module turns its per-case verdicts into what a
:class:`~.records.VariantSet` reports: per pair the wins, ties and the win rate with a Wilson
interval, and with more than two variants a Bradley-Terry ranking with case-bootstrap
intervals. Repeats of a case are averaged first, so every interval counts cases. Pure: no
model, nothing written.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .records import VariantRank, VariantSet, VariantWinRate

__all__ = ["BOOTSTRAP_RESAMPLES", "PairJudgement", "Winner", "attach_judgements", "judged_pairs"]

BOOTSTRAP_RESAMPLES = 2000
"""Case-bootstrap resamples of the Bradley-Terry intervals."""

Winner = Literal["a", "b", "tie"]
"""A case's verdict: ``a`` or ``b`` preferred in both orders, else a ``tie``."""


@dataclass(frozen=True)
class PairJudgement:
    """The judge's verdict on one case (one repeat) of two variants, both orders asked."""

    case_id: str
    """The case judged."""
    a: str
    """The first variant."""
    b: str
    """The second variant."""
    winner: Winner
    """``a`` or ``b`` when the judge preferred it in both orders, else ``tie``."""
    repeat: int = 0
    """The repeat whose outputs were compared."""
    sample: int = 0
    """Which of the judge's samples (``samples:``) this is."""
    orders: tuple[str, ...] = ()
    """The judge's answers (``A``, ``B``, ``TIE``): ``a`` shown first, then ``b`` first."""


def judged_pairs(variants: Sequence[str], reference: str | None) -> list[tuple[str, str]]:
    """The pairs the judge compares: each variant against ``reference`` (first), else every
    pair in the variants' order."""
    if reference is not None and reference in variants:
        return [(reference, v) for v in variants if v != reference]
    return list(itertools.combinations(variants, 2))


def _score(j: PairJudgement, a: str) -> float:
    """The verdict as a score of variant ``a``: 1 won, 0.5 tie, 0 lost."""
    if j.winner == "tie":
        return 0.5
    return 1.0 if (j.a if j.winner == "a" else j.b) == a else 0.0


def _per_case(judgements: Sequence[PairJudgement], a: str, b: str) -> dict[str, float]:
    """``a``'s score against ``b`` per case, repeats averaged."""
    scores: dict[str, list[float]] = {}
    for j in judgements:
        if {j.a, j.b} == {a, b}:
            scores.setdefault(j.case_id, []).append(_score(j, a))
    return {case: sum(s) / len(s) for case, s in scores.items()}


def attach_judgements(
    variant_set: VariantSet,
    judgements: Sequence[PairJudgement],
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
) -> VariantSet:
    """``variant_set`` with the judge's win rates and, past two variants, its ranking.

    Args:
        variant_set: The suite's variant comparison (its ``variants`` and ``reference`` say
            which pairs are reported).
        judgements: The judge's verdicts, one per case, repeat and pair (either orientation).
        confidence: Confidence level of the intervals.
        seed: Seed of the ranking's case bootstrap.
        n_resamples: Bootstrap resamples.

    Returns:
        A copy with ``win_rates``, ``ranking`` and ``notes`` filled in; a pair with no
        judgement has no win rate (never a made-up 50 %).
    """
    from ..stats import win_rate_ci

    notes = list(variant_set.notes)
    win_rates: list[VariantWinRate] = []
    per_pair: dict[tuple[str, str], dict[str, float]] = {}
    for a, b in judged_pairs(variant_set.variants, variant_set.reference):
        mine = [j for j in judgements if {j.a, j.b} == {a, b}]
        if not mine:
            continue
        scores = [_score(j, a) for j in mine]
        cases = _per_case(mine, a, b)
        per_pair[(a, b)] = cases
        est = win_rate_ci(list(cases.values()), confidence=confidence)
        win_rates.append(
            VariantWinRate(
                a=a,
                b=b,
                wins_a=sum(1 for s in scores if s == 1.0),
                wins_b=sum(1 for s in scores if s == 0.0),
                ties=sum(1 for s in scores if s == 0.5),
                win_rate_a=est.estimate,
                ci_low=est.ci_low,
                ci_high=est.ci_high,
            )
        )
    ranking, ranking_notes = _ranking(
        variant_set.variants, per_pair, confidence=confidence, seed=seed, n_resamples=n_resamples
    )
    notes.extend(ranking_notes)
    return variant_set.model_copy(
        update={"win_rates": win_rates, "ranking": ranking, "notes": notes}
    )


def _ranking(
    variants: Sequence[str],
    per_pair: dict[tuple[str, str], dict[str, float]],
    *,
    confidence: float,
    seed: int,
    n_resamples: int,
) -> tuple[list[VariantRank], list[str]]:
    """Bradley-Terry strengths of the judged variants (more than two), with their notes."""
    import numpy as np

    from ..stats import bradley_terry_ci

    judged = [v for v in variants if any(v in pair for pair in per_pair)]
    if len(judged) <= 2:
        return [], []
    notes = []
    unjudged = [v for v in variants if v not in judged]
    if unjudged:
        notes.append(
            "judge ranking: no judgement of "
            + ", ".join(repr(v) for v in unjudged)
            + " (left out of the ranking)"
        )
    index = {v: i for i, v in enumerate(judged)}
    case_ids = sorted({c for cases in per_pair.values() for c in cases})
    row = {c: i for i, c in enumerate(case_ids)}
    case_wins = np.zeros((len(case_ids), len(judged), len(judged)))
    for (a, b), cases in per_pair.items():
        for case, score in cases.items():
            case_wins[row[case], index[a], index[b]] += score
            case_wins[row[case], index[b], index[a]] += 1.0 - score
    try:
        fit = bradley_terry_ci(case_wins, confidence=confidence, seed=seed, n_resamples=n_resamples)
    except ValueError as exc:
        return [], [*notes, f"judge ranking: not computed ({exc})"]
    if not fit.mle:
        totals = case_wins.sum(axis=0)
        never_lost = [v for v in judged if totals[:, index[v]].sum() == 0]
        never_won = [v for v in judged if totals[index[v]].sum() == 0]
        who = "; ".join(
            part
            for part in (
                ", ".join(never_lost) + " never lost" if never_lost else "",
                ", ".join(never_won) + " never won" if never_won else "",
            )
            if part
        )
        notes.append(
            "judge ranking: the Bradley-Terry maximum-likelihood strengths do not exist "
            f"({who or 'a group of variants never lost to the others'}), so they were fitted "
            "with one virtual tie per compared pair: the extreme strengths and their bounds "
            "understate the gap"
        )
    if fit.unplaced_resamples:
        notes.append(
            f"judge ranking: {fit.unplaced_resamples} of {n_resamples} bootstrap resamples "
            "left a variant uncompared and were left out of the intervals"
        )
    order = sorted(range(len(judged)), key=lambda i: (-float(fit.strengths[i]), i))
    ranking = [
        VariantRank(
            variant=judged[i],
            rank=rank,
            strength=float(fit.strengths[i]),
            ci_low=float(fit.ci_low[i]),
            ci_high=float(fit.ci_high[i]),
        )
        for rank, i in enumerate(order, start=1)
    ]
    return ranking, notes
