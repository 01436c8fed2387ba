"""ROUGE and BLEU parity with the reference implementations (rouge-score, sacrebleu)."""

from __future__ import annotations

import random

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from pytest_mleval.textsim import corpus_bleu, rouge_l, rouge_n, rouge_tokenize, sentence_bleu

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "quickly", "running", "runs", "ran's", "jumped", "over", "lazy", "fox", "30", "days", "refund", "return", "item", "items", "returning", "Paris", "paris", "PARIS", "naïve", "café", "über", "straße", "東京", "北京", "Москва", "данные", "e-mail", "don't", "can't", "U.S.A.", "3.14", "1,000", "-5", "well-known", "state-of-the-art", "...", "!?", "&amp;", "&lt;tag&gt;", "(parens)", "[brackets]", "{braces}", "$100", "50%", "#hash", "@user", "x/y", "a+b"]


def random_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.05:
        return ""
    if kind < 0.1:
        return "   \n\t "
    n = rng.randint(1, 40)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words = [w.upper() if rng.random() < 0.3 else w for w in words]
    sep = rng.choice([" ", " ", " ", "  ", "\n", ", ", ". "])
    text = sep.join(words)
    if rng.random() < 0.3:
        text += rng.choice([".", "!", "?", " .", "..."])
    return text


def pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = random_text(rng)
        # mix related and unrelated pairs so overlaps vary
        if rng.random() < 0.5 and a:
            words = a.split()
            rng.shuffle(words)
            b = " ".join([*words[: rng.randint(0, len(words))], rng.choice(WORDS)])
        else:
            b = random_text(rng)
        out.append((a, b))
    return out


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_parity(use_stemmer: bool) -> None:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)
    for target, prediction in pairs(300, seed=1 + use_stemmer):
        ref = scorer.score(target, prediction)
        for name, ours in (
            ("rouge1", rouge_n(target, prediction, 1, use_stemmer=use_stemmer)),
            ("rouge2", rouge_n(target, prediction, 2, use_stemmer=use_stemmer)),
            ("rougeL", rouge_l(target, prediction, use_stemmer=use_stemmer)),
        ):
            r = ref[name]
            assert ours.precision == pytest.approx(r.precision, abs=1e-12), (
                name,
                target,
                prediction,
            )
            assert ours.recall == pytest.approx(r.recall, abs=1e-12), (name, target, prediction)
            assert ours.fmeasure == pytest.approx(r.fmeasure, abs=1e-12), (name, target, prediction)


@pytest.mark.parametrize("smooth", ["exp", "floor", "add-k", "none"])
def test_sentence_bleu_parity(smooth: str) -> None:
    rng = random.Random(7)
    for hyp, ref in pairs(300, seed=3):
        refs = [ref] if rng.random() < 0.6 else [ref, random_text(rng), random_text(rng)]
        want = sacrebleu.sentence_bleu(hyp, refs, smooth_method=smooth).score
        got = sentence_bleu(hyp, refs, smooth_method=smooth).score
        assert got == pytest.approx(want, abs=1e-9), (hyp, refs)
    for hyp, ref in pairs(100, seed=4):
        want = sacrebleu.sentence_bleu(hyp, [ref], lowercase=True, tokenize="none").score
        assert sentence_bleu(hyp, [ref], lowercase=True, tokenize="none").score == pytest.approx(
            want, abs=1e-9
        )


@pytest.mark.parametrize("n_refs", [1, 2])
def test_corpus_bleu_parity(n_refs: int) -> None:
    data = pairs(300, seed=5)
    hyps = [h for h, _ in data]
    rng = random.Random(9)
    streams = [[r for _, r in data]] + [[random_text(rng) for _ in data] for _ in range(n_refs - 1)]
    for smooth in ("exp", "none", "floor"):
        want = sacrebleu.corpus_bleu(hyps, streams, smooth_method=smooth)
        got = corpus_bleu(hyps, streams, smooth_method=smooth)
        assert got.score == pytest.approx(want.score, abs=1e-9)
        assert got.bp == pytest.approx(want.bp, abs=1e-12)
        assert (got.sys_len, got.ref_len) == (want.sys_len, want.ref_len)


def test_unicode_tokenizer_scores_non_latin_text() -> None:
    assert rouge_tokenize("東京は大きい", tokenizer="default") == []
    assert rouge_l("東京は大きい", "東京は大きい").fmeasure == 0.0  # what rouge-score does
    assert rouge_l("東京は大きい", "東京は大きい", tokenizer="unicode").fmeasure == 1.0
    assert rouge_tokenize("Москва — столица", tokenizer="unicode") == ["москва", "столица"]
    assert 0 < rouge_n("данные модели", "данные", 1, tokenizer="unicode").fmeasure < 1


text = st.text(max_size=80)


@settings(max_examples=150)
@given(text, text)
def test_rouge_properties(a: str, b: str) -> None:
    for s in (
        rouge_n(a, b, 1),
        rouge_n(a, b, 2),
        rouge_l(a, b),
        rouge_l(a, b, tokenizer="unicode"),
    ):
        assert 0.0 <= s.precision <= 1.0 and 0.0 <= s.recall <= 1.0 and 0.0 <= s.fmeasure <= 1.0
    assert rouge_l(a, b).fmeasure == pytest.approx(rouge_l(b, a).fmeasure)
    if rouge_tokenize(a):
        assert rouge_l(a, a).fmeasure == 1.0


@settings(max_examples=150)
@given(text, text)
def test_bleu_properties(a: str, b: str) -> None:
    s = sentence_bleu(a, [b]).score
    assert 0.0 <= s <= 100.0 + 1e-9
    if a.split():
        assert sentence_bleu(a, [a]).score == pytest.approx(100.0)
