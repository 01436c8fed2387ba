"""A `stat: corpus` gate's corpus BLEU and interval, beside sacrebleu's bootstrap, in one run.

    .venv/bin/python bench/bench_corpus_bleu.py

Ours works from the n-gram counts each case's `bleu` score kept during the run (the texts are
not tokenised again); sacrebleu's `BLEU().corpus_score(..., n_bootstrap=...)` is timed from the
texts and, separately, its resampling alone (`significance._bootstrap_resample` on its own
statistics). Both use 10,000 resamples; the scores must agree to the bit.
"""

from __future__ import annotations

import random
import time

import sacrebleu
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.significance import _bootstrap_resample

from pytest_mleval.metrics import Sample
from pytest_mleval.metrics.registry import score_metric
from pytest_mleval.results.corpus import corpus_estimate
from pytest_mleval.results.records import CaseResult, MetricScore

WORDS = "the a cat dog sat on mat ran far home quickly slowly red blue big small".split()  # noqa: SIM905
RESAMPLES = 10_000


def pairs(n: int) -> list[tuple[str, str]]:
    rng = random.Random(n)
    out = []
    for _ in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
        hyp = [w if rng.random() < 0.7 else rng.choice(WORDS) for w in ref]
        out.append((" ".join(hyp), " ".join(ref)))
    return out


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def row(n: int) -> str:
    """One table row: n cases, both sides timed on the same texts."""
    data = pairs(n)
    cases = []
    for i, (h, r) in enumerate(data):
        s = score_metric("bleu", Sample(output=h, expected=r))
        score = MetricScore(score=s.score, data=s.data)
        cases.append(CaseResult(suite="s", case_id=str(i), scores={"bleu": score}))
    got = corpus_estimate(cases, "bleu", confidence=0.95, seed=0)
    assert not isinstance(got, str)
    hyps, refs = [h for h, _ in data], [[r for _, r in data]]
    ref_score = sacrebleu.corpus_bleu(hyps, refs).score / 100
    assert abs(got[0] - ref_score) < 1e-12, (got[0], ref_score)
    metric = BLEU()
    scored = metric.corpus_score(hyps, refs, n_bootstrap=RESAMPLES)
    stats = metric._extract_corpus_statistics(hyps, refs)
    ours = best(lambda: corpus_estimate(cases, "bleu", confidence=0.95, seed=0))
    theirs = best(lambda: BLEU().corpus_score(hyps, refs, n_bootstrap=RESAMPLES), repeat=1)
    resample = best(lambda: _bootstrap_resample(stats, metric, RESAMPLES), repeat=1)
    return (
        f"| {n:,} | {ours:.2f} s [{got[1]:.4f}, {got[2]:.4f}] | {theirs:.2f} s "
        f"(mean {scored._mean / 100:.4f} ± {scored._ci / 100:.4f}) | {resample:.2f} s "
        f"| {theirs / ours:.1f}x / {resample / ours:.1f}x |"
    )


def main() -> None:
    print(
        "| cases | ours (from kept counts) | sacrebleu corpus_score | its resampling alone | ratio |"
    )
    print("|---:|---:|---:|---:|---:|")
    for n in (1_000, 10_000):
        print(row(n), flush=True)


if __name__ == "__main__":
    main()
