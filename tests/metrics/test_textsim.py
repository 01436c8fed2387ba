"""ROUGE and BLEU: parity with rouge-score and sacrebleu on generated text, plus properties."""

from __future__ import annotations

import random
import sys

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from rouge_score import tokenize as rs_tokenize
from rouge_score.tokenizers import DefaultTokenizer

from pytest_mleval.errors import MetricError, MissingDependencyError
from pytest_mleval.metrics import textsim
from pytest_mleval.metrics.textsim import (
    BleuScore,
    RougeScore,
    corpus_bleu,
    rouge_l,
    rouge_l_many,
    rouge_n,
    rouge_tokenize,
    sentence_bleu,
)

# Words chosen to hit the tokenizers' corners: stems, casing, apostrophes, numbers with
# separators, dashes, HTML entities 13a unescapes, brackets and symbols, non-Latin scripts,
# characters whose lower() changes length (İ) or lands in ASCII (Kelvin sign).
WORDS = [
    "the", "cat", "sat", "on", "mat", "a", "dog", "dogs", "ran", "run", "running", "runs",
    "quickly", "jumped", "over", "lazy", "fox", "generalization", "relational", "happiness",
    "30", "days", "refund", "refunds", "return", "returned", "item", "items", "Paris", "PARIS",
    "naïve", "café", "über", "Straße", "İstanbul", "\u212aelvin", "東京", "北京は大きい",
    "Москва", "данные", "हिन्दी", "한국어", "e-mail", "don't", "ran's", "U.S.A.", "3.14",
    "1,000", "-5", "10-20", "well-known", "state-of-the-art", "...", "!?", "&amp;", "&quot;hi&quot;",
    "&lt;tag&gt;", "(parens)", "[brackets]", "{braces}", "$100", "50%", "#hash", "@user", "x/y",
    "a+b", "<skipped>", "snake_case", "²", "٣", "ﬁne", "tab\there", "end-\nline",
]  # fmt: skip


def random_text(rng: random.Random, max_words: int = 40) -> str:
    kind = rng.random()
    if kind < 0.05:
        return ""
    if kind < 0.08:
        return rng.choice(["   \n\t ", ".", "!!!", "--", "_"])
    if kind < 0.11:  # very long text
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(300, 600)))
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, max_words))]
    if rng.random() < 0.3:
        words = [w.upper() if rng.random() < 0.3 else w for w in words]
    if rng.random() < 0.2:  # repeated words
        words = words + words[: rng.randint(1, len(words))]
    sep = rng.choice([" ", " ", " ", "  ", "\n", ", ", ". ", "-"])
    text = sep.join(words)
    if rng.random() < 0.3:
        text += rng.choice([".", "!", "?", " .", "...", "  ", "\n"])
    return text


def related(rng: random.Random, a: str) -> str:
    """A text that overlaps ``a`` partly: reordered, truncated, edited words."""
    words = a.split()
    if not words or rng.random() < 0.3:
        return random_text(rng)
    out = list(words)
    for _ in range(rng.randint(0, 4)):
        op = rng.random()
        i = rng.randrange(len(out) + 1)
        if op < 0.4:
            out.insert(i, rng.choice(WORDS))
        elif op < 0.7 and out:
            del out[min(i, len(out) - 1)]
        elif out:
            j = rng.randrange(len(out))
            out[min(i, len(out) - 1)], out[j] = out[j], out[min(i, len(out) - 1)]
    if rng.random() < 0.3:
        out = [w.lower() for w in out]
    return " ".join(out)


def pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = random_text(rng)
        out.append((a, related(rng, a)))
    return out


# ------------------------------------------------------------------------------- ROUGE parity


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_tokenize_equals_rouge_score(use_stemmer: bool) -> None:
    ref = DefaultTokenizer(use_stemmer=use_stemmer)
    for a, b in pairs(200, seed=11):
        for text in (a, b):
            assert rouge_tokenize(text, use_stemmer=use_stemmer) == ref.tokenize(text), text
    assert rs_tokenize.tokenize("İstanbul \u212aelvin", None) == rouge_tokenize(
        "İstanbul \u212aelvin"
    )


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_equals_rouge_score(use_stemmer: bool) -> None:
    scorer = rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rouge3", "rougeL"], use_stemmer=use_stemmer
    )
    data = pairs(300, seed=1 + use_stemmer)
    nonzero = 0
    for target, prediction in data:
        want = scorer.score(target, prediction)
        got = {
            "rouge1": rouge_n(target, prediction, 1, use_stemmer=use_stemmer),
            "rouge2": rouge_n(target, prediction, 2, use_stemmer=use_stemmer),
            "rouge3": rouge_n(target, prediction, 3, use_stemmer=use_stemmer),
            "rougeL": rouge_l(target, prediction, use_stemmer=use_stemmer),
        }
        for name, ours in got.items():
            w = want[name]
            # Same arithmetic in the same order: bit-identical, not merely close.
            assert (ours.precision, ours.recall, ours.fmeasure) == (
                w.precision,
                w.recall,
                w.fmeasure,
            ), (name, target, prediction)
        nonzero += 0 < got["rougeL"].fmeasure < 1
    assert nonzero > 150  # the generator makes partial overlaps, not only 0 and 1


@pytest.mark.parametrize("tokenizer", ["default", "unicode"])
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_l_many_equals_rouge_l_and_rouge_score(use_stemmer: bool, tokenizer: str) -> None:
    data = pairs(300, seed=21)
    # Recurring texts (a reference scored against many outputs) take the cached path.
    targets = [t for t, _ in data] + [data[0][0]] * 5 + [p for _, p in data[:5]]
    predictions = [p for _, p in data] + [p for _, p in data[:5]] + [p for _, p in data[:5]]
    many = rouge_l_many(targets, predictions, use_stemmer=use_stemmer, tokenizer=tokenizer)
    assert many == [
        rouge_l(t, p, use_stemmer=use_stemmer, tokenizer=tokenizer)
        for t, p in zip(targets, predictions, strict=True)
    ]
    assert many[-1].fmeasure == 1.0 or not rouge_tokenize(predictions[-1], tokenizer=tokenizer)
    if tokenizer == "default":
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
        for t, p, got in zip(targets, predictions, many, strict=True):
            w = scorer.score(t, p)["rougeL"]
            assert (got.precision, got.recall, got.fmeasure) == (w.precision, w.recall, w.fmeasure)
    assert rouge_l_many([], []) == []


def test_rouge_l_with_more_distinct_tokens_than_code_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Past the code point range the LCS runs on int ids; lowered here so the test stays small.
    expected = [rouge_l(t, p) for t, p in pairs(100, seed=41)]
    monkeypatch.setattr(textsim, "_CODE_POINTS", 8)
    assert [rouge_l(t, p) for t, p in pairs(100, seed=41)] == expected


def test_empty_and_degenerate_inputs_match_rouge_score() -> None:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    cases = [("", ""), ("", "cat"), ("cat", ""), ("...", "!!!"), ("東京", "東京"), ("a", "a b")]
    for t, p in cases:
        want = scorer.score(t, p)
        for name, got in (
            ("rouge1", rouge_n(t, p, 1)),
            ("rouge2", rouge_n(t, p, 2)),
            ("rougeL", rouge_l(t, p)),
        ):
            w = want[name]
            assert (got.precision, got.recall, got.fmeasure) == (w.precision, w.recall, w.fmeasure)
    assert rouge_l("", "") == RougeScore(0.0, 0.0, 0.0)


def test_long_text_parity() -> None:
    rng = random.Random(5)
    target = " ".join(rng.choice(WORDS) for _ in range(700))
    # Drop a fifth of the words and insert others: a long LCS with gaps.
    kept = [w for w in target.split() if rng.random() > 0.2]
    prediction = " ".join(w if rng.random() > 0.1 else f"{w} {rng.choice(WORDS)}" for w in kept)
    want = rouge_scorer.RougeScorer(["rougeL"]).score(target, prediction)["rougeL"]
    got = rouge_l(target, prediction)
    assert (got.precision, got.recall, got.fmeasure) == (want.precision, want.recall, want.fmeasure)
    assert 0.5 < got.fmeasure < 1.0


# ------------------------------------------------------------------------------- Unicode tokenizer


def test_unicode_tokenizer_keeps_other_scripts() -> None:
    assert rouge_tokenize("東京は大きい", tokenizer="default") == []
    assert rouge_l("東京は大きい", "東京は大きい").fmeasure == 0.0  # what rouge-score does
    assert rouge_tokenize("東京は大きい", tokenizer="unicode") == [
        "東",
        "京",
        "は",
        "大",
        "き",
        "い",
    ]
    assert rouge_l("東京は大きい", "東京は小さい", tokenizer="unicode").fmeasure == pytest.approx(
        4 / 6
    )
    assert rouge_tokenize("Москва — столица!", tokenizer="unicode") == ["москва", "столица"]
    # Combining vowel signs stay inside the word; underscores separate words.
    assert rouge_tokenize("हिन्दी भाषा", tokenizer="unicode") == ["हिन्दी", "भाषा"]
    assert rouge_tokenize("snake_case ＡＢＣ Straße", tokenizer="unicode") == [
        "snake",
        "case",
        "abc",
        "strasse",
    ]
    assert rouge_tokenize("한국어 문장", tokenizer="unicode") == ["한국어", "문장"]


def test_unicode_tokenizer_agrees_with_default_on_plain_ascii() -> None:
    for a, _ in pairs(100, seed=31):
        if a.isascii() and "_" not in a:
            for stem in (False, True):
                assert rouge_tokenize(a, tokenizer="unicode", use_stemmer=stem) == rouge_tokenize(
                    a, use_stemmer=stem
                )


# ------------------------------------------------------------------------------- errors


def test_errors() -> None:
    with pytest.raises(MetricError, match="tokenizer"):
        rouge_l("a", "a", tokenizer="whitespace")
    with pytest.raises(MetricError, match="positive"):
        rouge_n("a", "a", 0)
    with pytest.raises(MetricError, match="2 targets but 1"):
        rouge_l_many(["a", "b"], ["a"])
    with pytest.raises(MetricError, match="tokenizer"):
        sentence_bleu("a", ["a"], tokenize="intl")
    with pytest.raises(MetricError, match="smooth_method"):
        sentence_bleu("a", ["a"], smooth_method="add-one")
    with pytest.raises(MetricError, match="reference"):
        sentence_bleu("a", [])
    with pytest.raises(MetricError, match="stream 0"):
        corpus_bleu(["a", "b"], [["a"]])
    with pytest.raises(MetricError, match="stream 0"):
        corpus_bleu(["a"], ["a"])  # type: ignore[list-item]  # a flat list instead of streams
    with pytest.raises(MetricError, match="segment 0 has no reference"):
        corpus_bleu(["a"], [[None]])
    with pytest.raises(MetricError, match="hypothesis"):
        corpus_bleu([], [[]])


def test_stemming_without_nltk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    textsim._porter.cache_clear()
    monkeypatch.setitem(sys.modules, "nltk.stem", None)
    try:
        with pytest.raises(MissingDependencyError) as info:
            rouge_l("running", "runs", use_stemmer=True)
        assert info.value.extra == "text" and info.value.package == "nltk"
        assert rouge_l("running", "running").fmeasure == 1.0  # no stemming, no nltk needed
    finally:
        textsim._porter.cache_clear()


# ------------------------------------------------------------------------------- BLEU parity


def assert_same_bleu(got: BleuScore, want: sacrebleu.BLEUScore, context: object) -> None:
    # Same arithmetic in the same order as sacrebleu: bit-identical, not merely within 1e-9.
    assert got.score == want.score, context
    assert got.precisions == tuple(want.precisions), context
    assert got.bp == want.bp, context
    assert (got.sys_len, got.ref_len) == (want.sys_len, want.ref_len), context


SMOOTHINGS = [
    ("exp", None),
    ("floor", None),
    ("floor", 0.5),
    ("add-k", None),
    ("add-k", 2),
    ("none", None),
]


@pytest.mark.parametrize(("smooth", "value"), SMOOTHINGS)
def test_sentence_bleu_equals_sacrebleu(smooth: str, value: float | None) -> None:
    rng = random.Random(7)
    data = pairs(250, seed=3)
    # The generator yields hypotheses with matches at every order, and some without any.
    assert sum(sentence_bleu(h, [r]).score > 30 for h, r in data) > 50
    for hyp, ref in data:
        refs = [ref] if rng.random() < 0.6 else [ref, related(rng, hyp), random_text(rng)]
        kwargs = {
            "smooth_method": smooth,
            "smooth_value": value,
            "lowercase": rng.random() < 0.3,
            "tokenize": "13a" if rng.random() < 0.8 else "none",
        }
        eff = rng.random() < 0.8
        want = sacrebleu.sentence_bleu(hyp, refs, use_effective_order=eff, **kwargs)
        got = sentence_bleu(hyp, refs, effective_order=eff, **kwargs)  # type: ignore[arg-type]
        assert_same_bleu(got, want, (hyp, refs, kwargs, eff))


def test_13a_tokenization_corners_equal_sacrebleu() -> None:
    tricky = [
        "He said &quot;no&quot; &amp; left &lt;b&gt;",
        "pre-\nfix <skipped> line\nbreak",
        "3.14, 1,000 and 10-20 or -5. End.",
        "U.S.A. e-mail: x/y a+b {c} [d] `e` ~f~ ^g^ |h| \\i",
        "trailing spaces and tabs \t \n",
        "",
    ]
    for hyp in tricky:
        for ref in tricky:
            if ref:
                for lc in (False, True):
                    want = sacrebleu.sentence_bleu(hyp, [ref], lowercase=lc)
                    assert_same_bleu(sentence_bleu(hyp, [ref], lowercase=lc), want, (hyp, ref))


# Characters every 13a rule reacts to: digits, periods, commas, dashes, newlines, the entities
# it unescapes, the punctuation it pads, plus letters and a few non-ASCII characters.
TOKENIZER_ALPHABET = ' \n\t.,-–0123456789aZé東&;quotampltg<>skipped!"#$%()*+/:;=?@[\\]^_`{|}~'


def test_13a_tokens_equal_sacrebleu_on_random_strings() -> None:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    reference = Tokenizer13a()
    rng = random.Random(13)
    for _ in range(20_000):
        line = "".join(rng.choice(TOKENIZER_ALPHABET) for _ in range(rng.randint(0, 30)))
        assert textsim._tokenize_13a(line) == tuple(reference(line).split()), repr(line)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(TOKENIZER_ALPHABET), max_size=40) | st.text(max_size=40))
def test_13a_tokens_property(line: str) -> None:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    assert textsim._tokenize_13a(line) == tuple(Tokenizer13a()(line).split())


@pytest.mark.parametrize("n_refs", [1, 3])
@pytest.mark.parametrize(("smooth", "value"), SMOOTHINGS)
def test_corpus_bleu_equals_sacrebleu(n_refs: int, smooth: str, value: float | None) -> None:
    data = pairs(300, seed=5 + n_refs)
    hyps = [h for h, _ in data]
    rng = random.Random(9)
    streams: list[list[str | None]] = [[r for _, r in data]]
    for _ in range(n_refs - 1):
        # None marks a segment with fewer references, as sacrebleu allows.
        streams.append([None if rng.random() < 0.2 else related(rng, h) for h in hyps])
    for lowercase in (False, True):
        want = sacrebleu.corpus_bleu(
            hyps, streams, smooth_method=smooth, smooth_value=value, lowercase=lowercase
        )
        got = corpus_bleu(
            hyps, streams, smooth_method=smooth, smooth_value=value, lowercase=lowercase
        )
        assert_same_bleu(got, want, (smooth, value, lowercase))
        assert 5 < got.score < 95
    want = sacrebleu.corpus_bleu(hyps, streams, smooth_method=smooth, tokenize="none", force=True)
    got = corpus_bleu(hyps, streams, smooth_method=smooth, tokenize="none", force=True)
    assert_same_bleu(got, want, "none")


def test_corpus_bleu_single_segment_and_zero_matches() -> None:
    for hyps, refs in ((["a cat"], [["a cat sat"]]), (["x y"], [["a b"]]), ([""], [["a b"]])):
        assert_same_bleu(corpus_bleu(hyps, refs), sacrebleu.corpus_bleu(hyps, refs), hyps)


# ------------------------------------------------------------------------------- properties

any_text = st.text(max_size=80)
wordy_text = st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join)
texts = st.one_of(any_text, wordy_text)


@settings(max_examples=200, deadline=None)
@given(texts, texts, st.sampled_from(["default", "unicode"]))
def test_rouge_properties(a: str, b: str, tokenizer: str) -> None:
    scores = [rouge_n(a, b, 1, tokenizer=tokenizer), rouge_n(a, b, 2, tokenizer=tokenizer)]
    forward = rouge_l(a, b, tokenizer=tokenizer)
    backward = rouge_l(b, a, tokenizer=tokenizer)
    for s in [*scores, forward]:
        assert 0.0 <= s.precision <= 1.0 and 0.0 <= s.recall <= 1.0 and 0.0 <= s.fmeasure <= 1.0
    assert forward.fmeasure == backward.fmeasure
    assert (forward.precision, forward.recall) == (backward.recall, backward.precision)
    if rouge_tokenize(a, tokenizer=tokenizer):
        assert rouge_l(a, a, tokenizer=tokenizer).fmeasure == 1.0
        assert rouge_n(a, a, 1, tokenizer=tokenizer).fmeasure == 1.0
    else:
        assert rouge_l(a, a, tokenizer=tokenizer).fmeasure == 0.0


@settings(max_examples=200, deadline=None)
@given(texts, texts, st.sampled_from(["exp", "floor", "add-k", "none"]))
def test_bleu_properties(a: str, b: str, smooth: str) -> None:
    s = sentence_bleu(a, [b], smooth_method=smooth)
    assert 0.0 <= s.score <= 100.0 + 1e-9
    assert 0.0 <= s.bp <= 1.0
    c = corpus_bleu([a, b], [[b, a]], smooth_method=smooth)
    assert 0.0 <= c.score <= 100.0 + 1e-9
    n_tokens = len(textsim._tokenize_13a(a.rstrip()))
    if n_tokens:
        assert sentence_bleu(a, [a], smooth_method=smooth).score == pytest.approx(100.0)
    if n_tokens >= 4:  # corpus BLEU has no effective order: it needs 4-grams to be non-zero
        assert corpus_bleu([a], [[a]], smooth_method=smooth).score == pytest.approx(100.0)


non_latin_word = st.text(
    alphabet=st.sampled_from(
        "абвгдеёжзийклмнопрстуфхцчшщыэюя"  # Cyrillic
        "αβγδεζηθικλμνξοπρστυφχψω"  # Greek
        "東京北京大小山川日月人中国语言模型評価"  # CJK ideographs
        "あいうえおかきくけこアイウエオ"  # kana
        "अआइईउकखगघचछजझटठडढणतथदधनपफबभमयरलवशसह"  # Devanagari letters
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"  # Arabic
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(non_latin_word, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_unicode_tokenizer_scores_non_latin_text(words: list[str], rng: random.Random) -> None:
    text = " ".join(words)
    assert rouge_l(text, text).fmeasure == 0.0  # rouge-score's tokenizer sees nothing
    assert rouge_l(text, text, tokenizer="unicode").fmeasure == 1.0
    shuffled = list(words)
    rng.shuffle(shuffled)
    partial = " ".join([*shuffled[: max(1, len(shuffled) // 2)], "zzz"])
    assert rouge_l(text, partial, tokenizer="unicode").fmeasure > 0.0
    assert rouge_n(text, partial, 1, tokenizer="unicode").recall > 0.0
