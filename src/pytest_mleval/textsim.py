"""ROUGE and BLEU, identical to Google's ``rouge-score`` and ``sacrebleu``, and fast.

ROUGE-L's longest common subsequence runs in rapidfuzz's C++ code (a bit-parallel LCS over
token ids) instead of a Python dynamic-programming table. Tokenisation replicates the
references exactly; ``tokenizer="unicode"`` is an addition for non-Latin text, which
rouge-score's tokenizer drops entirely.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import MetricError, MissingDependencyError

__all__ = [
    "BleuScore",
    "RougeScore",
    "corpus_bleu",
    "rouge_l",
    "rouge_l_many",
    "rouge_n",
    "rouge_tokenize",
    "sentence_bleu",
    "tokenize_13a",
]


@dataclass(frozen=True)
class RougeScore:
    """Precision, recall and F1 of a ROUGE variant."""

    precision: float
    recall: float
    fmeasure: float


def _f(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


# ----------------------------------------------------------------------------- tokenizers

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VALID = re.compile(r"^[a-z0-9]+$")
# Letters and digits of any script; CJK ideographs, kana and Hangul syllables stand alone,
# since those scripts do not separate words with spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
_UNICODE_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    try:
        from nltk.stem import porter
    except ImportError:
        raise MissingDependencyError("nltk", "text", "ROUGE stemming") from None
    return porter.PorterStemmer()


@lru_cache(maxsize=2**16)
def _stem(word: str) -> str:
    return str(_stemmer().stem(word))


def rouge_tokenize(
    text: str, *, use_stemmer: bool = False, tokenizer: str = "default"
) -> list[str]:
    """Tokens as rouge-score makes them (``default``), or Unicode-aware (``unicode``).

    Stemming (nltk's Porter stemmer, as rouge-score uses it) applies to tokens longer than
    three characters.
    """
    if tokenizer == "default":
        tokens = _NON_ALNUM.sub(" ", text.lower()).split()
    elif tokenizer == "unicode":
        tokens = _UNICODE_TOKEN.findall(text.casefold())
    else:
        raise MetricError(f"unknown ROUGE tokenizer {tokenizer!r}; use 'default' or 'unicode'")
    if use_stemmer:
        tokens = [_stem(t) if len(t) > 3 else t for t in tokens]
    if tokenizer == "default":
        # rouge-score drops anything the stemmer turned into a non-[a-z0-9] token.
        tokens = [t for t in tokens if _VALID.match(t)]
    return tokens


# ----------------------------------------------------------------------------- ROUGE


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _score_ngrams(
    target: Counter[tuple[str, ...]], prediction: Counter[tuple[str, ...]]
) -> RougeScore:
    overlap = sum(min(count, prediction[g]) for g, count in target.items())
    precision = overlap / max(sum(prediction.values()), 1)
    recall = overlap / max(sum(target.values()), 1)
    return RougeScore(precision, recall, _f(precision, recall))


def rouge_n(
    target: str, prediction: str, n: int, *, use_stemmer: bool = False, tokenizer: str = "default"
) -> RougeScore:
    """ROUGE-N: n-gram overlap of prediction and target (equal to rouge-score's ``rougeN``)."""
    if n < 1:
        raise MetricError(f"ROUGE-N needs n >= 1, got {n}")
    t = rouge_tokenize(target, use_stemmer=use_stemmer, tokenizer=tokenizer)
    p = rouge_tokenize(prediction, use_stemmer=use_stemmer, tokenizer=tokenizer)
    return _score_ngrams(_ngrams(t, n), _ngrams(p, n))


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    from rapidfuzz.distance import LCSseq

    # Integer ids hash faster than strings inside rapidfuzz.
    ids: dict[str, int] = {}
    ia = [ids.setdefault(tok, len(ids)) for tok in a]
    ib = [ids.setdefault(tok, len(ids)) for tok in b]
    return int(LCSseq.similarity(ia, ib))


def _score_lcs(target: Sequence[str], prediction: Sequence[str]) -> RougeScore:
    if not target or not prediction:
        return RougeScore(0.0, 0.0, 0.0)
    lcs = _lcs_length(target, prediction)
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    return RougeScore(precision, recall, _f(precision, recall))


def rouge_l(
    target: str, prediction: str, *, use_stemmer: bool = False, tokenizer: str = "default"
) -> RougeScore:
    """ROUGE-L: longest common subsequence of tokens (equal to rouge-score's ``rougeL``)."""
    return _score_lcs(
        rouge_tokenize(target, use_stemmer=use_stemmer, tokenizer=tokenizer),
        rouge_tokenize(prediction, use_stemmer=use_stemmer, tokenizer=tokenizer),
    )


def rouge_l_many(
    targets: Sequence[str],
    predictions: Sequence[str],
    *,
    use_stemmer: bool = False,
    tokenizer: str = "default",
) -> list[RougeScore]:
    """ROUGE-L for many pairs at once."""
    if len(targets) != len(predictions):
        raise MetricError("targets and predictions must have the same length")
    return [
        rouge_l(t, p, use_stemmer=use_stemmer, tokenizer=tokenizer)
        for t, p in zip(targets, predictions, strict=True)
    ]


# ----------------------------------------------------------------------------- BLEU


@dataclass(frozen=True)
class BleuScore:
    """BLEU on sacrebleu's 0-100 scale, with its parts."""

    score: float
    precisions: tuple[float, ...]
    bp: float
    sys_len: int
    ref_len: int


# sacrebleu's 13a tokenizer (mteval-v13a), rule for rule.
_13A_RULES = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)


@lru_cache(maxsize=2**16)
def tokenize_13a(line: str) -> str:
    """sacrebleu's default ``13a`` tokenization."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (
            line.replace("&quot;", '"')
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
        )
    line = f" {line} "
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


_SMOOTH_DEFAULTS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}
MAX_ORDER = 4


def _prep(text: str, lowercase: bool, tokenize: str) -> str:
    if lowercase:
        text = text.lower()
    text = text.rstrip()
    if tokenize == "13a":
        return tokenize_13a(text)
    if tokenize == "none":
        return text
    raise MetricError(f"unsupported BLEU tokenizer {tokenize!r}; use '13a' or 'none'")


def _word_ngrams(line: str) -> tuple[Counter[tuple[str, ...]], int]:
    tokens = line.split()
    grams: Counter[tuple[str, ...]] = Counter()
    for n in range(1, MAX_ORDER + 1):
        for i in range(len(tokens) - n + 1):
            grams[tuple(tokens[i : i + n])] += 1
    return grams, len(tokens)


def _closest_ref_len(hyp_len: int, ref_lens: Sequence[int]) -> int:
    closest_diff, closest_len = -1, -1
    for ref_len in ref_lens:
        diff = abs(hyp_len - ref_len)
        if closest_diff == -1 or diff < closest_diff:
            closest_diff, closest_len = diff, ref_len
        elif diff == closest_diff and ref_len < closest_len:
            closest_len = ref_len
    return closest_len


def _segment_stats(hyp: str, refs: Sequence[str]) -> list[int]:
    ref_grams: Counter[tuple[str, ...]] | None = None
    ref_lens = []
    for ref in refs:
        grams, length = _word_ngrams(ref)
        ref_lens.append(length)
        if ref_grams is None:
            ref_grams = grams
        else:
            for g, c in grams.items():
                ref_grams[g] = max(ref_grams[g], c)
    hyp_grams, hyp_len = _word_ngrams(hyp)
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    for g, c in hyp_grams.items():
        n = len(g) - 1
        total[n] += c
        if ref_grams is not None and g in ref_grams:
            correct[n] += min(c, ref_grams[g])
    return [hyp_len, _closest_ref_len(hyp_len, ref_lens), *correct, *total]


def _compute_bleu(
    stats: Sequence[float], smooth_method: str, smooth_value: float | None, effective_order: bool
) -> BleuScore:
    if smooth_method not in _SMOOTH_DEFAULTS:
        raise MetricError(f"unknown smooth_method {smooth_method!r}; use none, floor, add-k or exp")
    if smooth_value is None:
        smooth_value = _SMOOTH_DEFAULTS[smooth_method]
    sys_len, ref_len = int(stats[0]), int(stats[1])
    correct = list(stats[2 : 2 + MAX_ORDER])
    total = list(stats[2 + MAX_ORDER :])
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * MAX_ORDER
    if not any(correct):
        return BleuScore(0.0, tuple(precisions), bp, sys_len, ref_len)
    smooth_mteval = 1.0
    eff_order = MAX_ORDER
    for n in range(1, MAX_ORDER + 1):
        if smooth_method == "add-k" and n > 1:
            assert smooth_value is not None
            correct[n - 1] += smooth_value
            total[n - 1] += smooth_value
        if total[n - 1] == 0:
            break
        if effective_order:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth_method == "exp":
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
            elif smooth_method == "floor":
                assert smooth_value is not None
                precisions[n - 1] = 100.0 * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    logs = [math.log(p) if p > 0 else -9999999999.0 for p in precisions[:eff_order]]
    score = bp * math.exp(sum(logs) / eff_order)
    return BleuScore(score, tuple(precisions), bp, sys_len, ref_len)


def sentence_bleu(
    hypothesis: str,
    references: Sequence[str],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    tokenize: str = "13a",
    effective_order: bool = True,
) -> BleuScore:
    """Sentence BLEU against one or more references (equal to ``sacrebleu.sentence_bleu``)."""
    if isinstance(references, str):
        references = [references]
    hyp = _prep(hypothesis, lowercase, tokenize)
    refs = [_prep(r, lowercase, tokenize) for r in references]
    return _compute_bleu(_segment_stats(hyp, refs), smooth_method, smooth_value, effective_order)


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    tokenize: str = "13a",
    effective_order: bool = False,
) -> BleuScore:
    """Corpus BLEU (equal to ``sacrebleu.corpus_bleu``): ``references`` is a list of streams,
    each with one reference per hypothesis."""
    for stream in references:
        if len(stream) != len(hypotheses):
            raise MetricError("each reference stream needs one reference per hypothesis")
    totals = [0] * (2 + 2 * MAX_ORDER)
    for i, hyp in enumerate(hypotheses):
        refs = [
            _prep(stream[i], lowercase, tokenize) for stream in references if stream[i] is not None
        ]
        seg = _segment_stats(_prep(hyp, lowercase, tokenize), refs)
        totals = [a + b for a, b in zip(totals, seg, strict=True)]
    return _compute_bleu(totals, smooth_method, smooth_value, effective_order)
