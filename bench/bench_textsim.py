"""ROUGE-L and BLEU against rouge-score and sacrebleu: identical scores, and how much faster.

Reference, measured side by side in the same process on the same generated pairs:
- ROUGE-L: ``rouge_score.rouge_scorer.RougeScorer(["rougeL"]).score`` per pair (pure-Python
  LCS table) vs ``textsim.rouge_l`` per pair and ``textsim.rouge_l_many`` for the batch.
- BLEU: ``sacrebleu.sentence_bleu`` per pair vs ``textsim.sentence_bleu``; also sacrebleu with
  one ``BLEU`` object reused (its fastest sentence-level use); ``sacrebleu.corpus_bleu`` vs
  ``textsim.corpus_bleu`` on the whole set with one and with two reference streams.

Both sides' tokenizer caches are cleared before every timed run; each figure is the best of
``--runs`` interleaved runs.

    .venv/bin/python bench/bench_textsim.py [--pairs 10000] [--runs 2]
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Callable
from typing import Any

import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

from pytest_mleval.metrics import textsim

PUNCT = [",", ".", "!", "?", ";", ":", "-", "(", ")", '"', "'s", "&amp;", "%", "$"]
FOREIGN = ["naïve", "café", "Straße", "東京", "Москва", "данные", "हिन्दी", "İstanbul"]


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    words = set()
    while len(words) < size:
        n = min(1 + int(rng.expovariate(0.25)), 14)
        words.add("".join(rng.choice(letters[: rng.randint(8, 26)]) for _ in range(n)))
    return sorted(words)


def make_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """Target/prediction pairs: Zipf-like words, casing, numbers, punctuation, some Unicode,
    some empty texts, lengths mostly 5-80 words with a tail of 200-400; predictions are edited
    copies of the target (deletions, insertions, swaps) or unrelated text."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    cum_weights = list(itertools.accumulate(1 / (i + 1) for i in range(len(vocab))))

    def word() -> str:
        r = rng.random()
        if r < 0.08:
            return rng.choice(PUNCT)
        if r < 0.11:
            return str(rng.randint(0, 5000)) if rng.random() < 0.7 else f"{rng.random() * 100:.2f}"
        if r < 0.13:
            return rng.choice(FOREIGN)
        w = rng.choices(vocab, cum_weights=cum_weights)[0]
        return w.capitalize() if rng.random() < 0.1 else w

    def text(k: int) -> list[str]:
        return [word() for _ in range(k)]

    out = []
    for _ in range(n):
        r = rng.random()
        k = 0 if r < 0.01 else rng.randint(200, 400) if r < 0.04 else rng.randint(5, 80)
        target = text(k)
        if rng.random() < 0.15:
            pred = text(rng.randint(0, 80))
        else:
            pred = []
            for w in target:
                x = rng.random()
                if x < 0.15:
                    continue
                pred.append(w.lower() if x < 0.2 else w)
                if x > 0.92:
                    pred.extend(text(rng.randint(1, 3)))
            for _ in range(rng.randint(0, 3)):
                if len(pred) > 1:
                    i, j = rng.randrange(len(pred)), rng.randrange(len(pred))
                    pred[i], pred[j] = pred[j], pred[i]
        out.append((" ".join(target), " ".join(pred)))
    return out


def clear_caches() -> None:
    textsim._tokenize_13a.cache_clear()
    Tokenizer13a.__call__.cache_clear()  # type: ignore[attr-defined]
    TokenizerRegexp.__call__.cache_clear()  # type: ignore[attr-defined]
    if textsim._porter.cache_info().currsize:
        textsim._porter().cache_clear()  # type: ignore[attr-defined]


def best_of(
    runs: int, fns: dict[str, Callable[[], Any]]
) -> tuple[dict[str, float], dict[str, Any]]:
    """Interleaved runs; the best wall time of each and the result of its last run."""
    times = {k: float("inf") for k in fns}
    results: dict[str, Any] = {}
    for _ in range(runs):
        for name, fn in fns.items():
            clear_caches()
            t0 = time.perf_counter()
            results[name] = fn()
            times[name] = min(times[name], time.perf_counter() - t0)
    return times, results


def rouge_bench(pairs: list[tuple[str, str]], runs: int, use_stemmer: bool) -> None:
    targets = [t for t, _ in pairs]
    preds = [p for _, p in pairs]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    times, res = best_of(
        runs,
        {
            "rouge-score": lambda: [scorer.score(t, p)["rougeL"] for t, p in pairs],
            "rouge_l": lambda: [textsim.rouge_l(t, p, use_stemmer=use_stemmer) for t, p in pairs],
            "rouge_l_many": lambda: textsim.rouge_l_many(targets, preds, use_stemmer=use_stemmer),
        },
    )
    diff = max(
        abs(getattr(ours, f) - getattr(ref, f))
        for name in ("rouge_l", "rouge_l_many")
        for ours, ref in zip(res[name], res["rouge-score"], strict=True)
        for f in ("precision", "recall", "fmeasure")
    )
    label = "stemmer" if use_stemmer else "no stemmer"
    print(f"ROUGE-L, {len(pairs)} pairs, {label}: max abs diff vs rouge-score = {diff:.3g}")
    ref = times["rouge-score"]
    for name in ("rouge-score", "rouge_l", "rouge_l_many"):
        t = times[name]
        print(
            f"  {name:<13} {t * 1000:9.1f} ms  {t / len(pairs) * 1e6:8.1f} us/pair  {ref / t:6.1f}x"
        )


def bleu_bench(pairs: list[tuple[str, str]], runs: int) -> None:
    rng = random.Random(1)
    # A second reference per pair: another edited copy for half of them.
    second = [p if rng.random() < 0.5 else t for t, p in reversed(pairs)]
    refs1 = [[t] for t, _ in pairs]
    refs2 = [[t, s] for (t, _), s in zip(pairs, second, strict=True)]
    hyps = [p for _, p in pairs]
    reused = sacrebleu.BLEU(effective_order=True)

    for label, refs in (("1 ref", refs1), ("2 refs", refs2)):
        times, res = best_of(
            runs,
            {
                "sacrebleu": lambda refs=refs: [
                    sacrebleu.sentence_bleu(h, r) for h, r in zip(hyps, refs, strict=True)
                ],
                "sacrebleu (BLEU reused)": lambda refs=refs: [
                    reused.sentence_score(h, r) for h, r in zip(hyps, refs, strict=True)
                ],
                "sentence_bleu": lambda refs=refs: [
                    textsim.sentence_bleu(h, r) for h, r in zip(hyps, refs, strict=True)
                ],
            },
        )
        diff = max(
            abs(o.score - r.score)
            for o, r in zip(res["sentence_bleu"], res["sacrebleu"], strict=True)
        )
        diff2 = max(
            abs(a.score - b.score)
            for a, b in zip(res["sacrebleu (BLEU reused)"], res["sacrebleu"], strict=True)
        )
        assert diff2 == 0
        print(f"sentence BLEU, {len(pairs)} pairs, {label}: max abs diff vs sacrebleu = {diff:.3g}")
        for name in ("sacrebleu", "sacrebleu (BLEU reused)"):
            print(
                f"  sentence_bleu {times['sentence_bleu'] * 1000:8.1f} ms vs {name} "
                f"{times[name] * 1000:8.1f} ms: {times[name] / times['sentence_bleu']:5.1f}x"
            )

    for label, streams in (
        ("1 ref stream", [[t for t, _ in pairs]]),
        ("2 ref streams", [[t for t, _ in pairs], second]),
    ):
        times, res = best_of(
            runs,
            {
                "sacrebleu": lambda s=streams: sacrebleu.corpus_bleu(hyps, s),
                "corpus_bleu": lambda s=streams: textsim.corpus_bleu(hyps, s),
            },
        )
        diff = abs(res["corpus_bleu"].score - res["sacrebleu"].score)
        print(
            f"corpus BLEU, {len(pairs)} segments, {label}: {res['corpus_bleu'].score:.6f} "
            f"(diff vs sacrebleu {diff:.3g}); {times['corpus_bleu'] * 1000:.1f} ms vs "
            f"{times['sacrebleu'] * 1000:.1f} ms: {times['sacrebleu'] / times['corpus_bleu']:.1f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--stem-pairs", type=int, default=3_000, help="pairs for the stemmer run")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    pairs = make_pairs(args.pairs, seed=0)
    n_tokens = sum(
        len(textsim.rouge_tokenize(t)) + len(textsim.rouge_tokenize(p)) for t, p in pairs
    )
    print(f"{len(pairs)} pairs, {n_tokens / len(pairs) / 2:.1f} ROUGE tokens per text on average")
    rouge_bench(pairs, args.runs, use_stemmer=False)
    rouge_bench(pairs[: args.stem_pairs], args.runs, use_stemmer=True)
    bleu_bench(pairs, args.runs)


if __name__ == "__main__":
    main()
