"""ROUGE and BLEU, score for score equal to Google's ``rouge-score`` and ``sacrebleu`` 2.x.

Both references are pure Python; these versions compute the same numbers (same tokenization,
same floating-point expressions in the same order) but push the hot loops into C: the ROUGE-L
longest common subsequence runs in rapidfuzz (bit-parallel) instead of a Python dynamic-programming
table, and n-grams are counted with ``collections.Counter`` over ``zip`` slices.

``tokenizer="unicode"`` is an addition of this package: rouge-score keeps only ``[a-z0-9]``, so it
scores Chinese, Russian or Hindi text as empty (0.0). The Unicode tokenizer keeps words of any
script and splits Chinese/Japanese ideographs and kana into one token per character.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

from rapidfuzz.distance import LCSseq

from ..errors import MetricError, MissingDependencyError

__all__ = [
    "BleuScore",
    "RougeScore",
    "bleu_from_stats",
    "bleu_segment_stats",
    "corpus_bleu",
    "rouge_l",
    "rouge_l_many",
    "rouge_n",
    "rouge_tokenize",
    "sentence_bleu",
]


@dataclass(frozen=True)
class RougeScore:
    """Precision, recall and F1 of one ROUGE comparison, each in [0, 1]."""

    precision: float
    recall: float
    fmeasure: float


@dataclass(frozen=True)
class BleuScore:
    """A BLEU result with sacrebleu's fields.

    Attributes:
        score: BLEU on sacrebleu's 0-100 scale.
        precisions: The (smoothed) n-gram precisions for n = 1..4, each 0-100.
        bp: The brevity penalty.
        sys_len: Hypothesis length in tokens (summed over the corpus).
        ref_len: Closest reference length in tokens (summed over the corpus).
    """

    score: float
    precisions: tuple[float, ...]
    bp: float
    sys_len: int
    ref_len: int


# ---------------------------------------------------------------------------------------------
# ROUGE tokenization

# rouge-score's last check on each (stemmed) token.
_ROUGE_VALID_RE = re.compile(r"^[a-z0-9]+$")

# Ideographs and kana: scripts written without spaces, so each character is a token (as BERT's
# basic tokenizer does for ideographs). Hangul is space-delimited and stays in word runs.
_CJK = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\uff66-\uff9f"  # Halfwidth Katakana
    "\U00020000-\U0002fa1f"  # CJK Extensions B-F, Compatibility Supplement
    "\U00030000-\U0003134f"  # CJK Extension G
)

_TOKENIZER_NAMES = ("default", "unicode")


def _unicode_word_pattern() -> str:
    # `\w` misses combining marks (Devanagari vowel signs, Arabic harakat, Thai vowels), which
    # would cut words apart mid-letter; the marks are added to the word class explicitly.
    marks: list[tuple[int, int]] = []
    for cp in (*range(0x20000), *range(0xE0100, 0xE01F0)):
        if unicodedata.category(chr(cp)).startswith("M"):
            if marks and marks[-1][1] == cp - 1:
                marks[-1] = (marks[-1][0], cp)
            else:
                marks.append((cp, cp))
    mark_class = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in marks
    )
    return f"[{_CJK}]|(?:[^\\W_{_CJK}]|[{mark_class}])+"


@lru_cache(maxsize=2)
def _token_re(tokenizer: str) -> re.Pattern[str]:
    if tokenizer == "default":
        # rouge-score lowercases, turns every non-[a-z0-9] run into a space and splits on
        # whitespace: its tokens are exactly the maximal [a-z0-9] runs of the lowercased text.
        body = "[a-z0-9]+"
    elif tokenizer == "unicode":
        body = _unicode_word_pattern()
    else:
        raise MetricError(f"unknown ROUGE tokenizer {tokenizer!r}; use one of {_TOKENIZER_NAMES}")
    return re.compile(body)


def _normalize_unicode(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _normalizer(tokenizer: str) -> Callable[[str], str]:
    return str.lower if tokenizer == "default" else _normalize_unicode


@lru_cache(maxsize=1)
def _porter() -> Callable[[str], str]:
    try:
        from nltk.stem import porter
    except ImportError as exc:
        raise MissingDependencyError("nltk", "text", "ROUGE stemming") from exc
    # rouge-score uses the default mode (NLTK_EXTENSIONS); stem() keeps no state, so caching
    # its results per word is safe and removes most of the stemmer's cost.
    return lru_cache(maxsize=1 << 17)(porter.PorterStemmer().stem)


def _stem_tokens(tokens: list[str], tokenizer: str) -> list[str]:
    stem = _porter()
    if tokenizer == "default":
        tokens = [stem(t) if len(t) > 3 else t for t in tokens]
        # rouge-score's final filter, in case a stem came out empty.
        return [t for t in tokens if _ROUGE_VALID_RE.match(t)]
    # Porter is an English stemmer: other scripts are left alone.
    tokens = [stem(t) if len(t) > 3 and t.isascii() and t.isalnum() else t for t in tokens]
    return [t for t in tokens if t]


def rouge_tokenize(
    text: str, *, use_stemmer: bool = False, tokenizer: str = "default"
) -> list[str]:
    """Split text into ROUGE tokens.

    Args:
        text: The text.
        use_stemmer: Porter-stem tokens longer than 3 characters as rouge-score does (needs nltk).
            With the Unicode tokenizer only ASCII-alphanumeric tokens are stemmed.
        tokenizer: ``"default"`` is rouge-score's tokenizer (lowercase, maximal ``[a-z0-9]`` runs;
            other scripts are dropped). ``"unicode"`` NFKC-normalizes and casefolds, keeps runs
            of Unicode letters, digits and combining marks, and makes each CJK ideograph or kana
            character a token.

    Returns:
        The tokens, in order.

    Raises:
        MetricError: ``tokenizer`` is not one of the names above.
        MissingDependencyError: ``use_stemmer`` is set and nltk is not installed.
    """
    pattern = _token_re(tokenizer)
    tokens: list[str] = pattern.findall(_normalizer(tokenizer)(text))
    return _stem_tokens(tokens, tokenizer) if use_stemmer else tokens


# ---------------------------------------------------------------------------------------------
# ROUGE scores


def _fmeasure(precision: float, recall: float) -> float:
    # rouge_score.scoring.fmeasure, same expression for bit-identical results.
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(zip(*(tokens[i:] for i in range(n)), strict=False))


def rouge_n(
    target: str,
    prediction: str,
    n: int,
    *,
    use_stemmer: bool = False,
    tokenizer: str = "default",
) -> RougeScore:
    """ROUGE-N: clipped n-gram overlap, equal to rouge-score's ``rouge{n}``.

    Args:
        target: The reference text.
        prediction: The generated text.
        n: The n-gram order (1 for ROUGE-1, 2 for ROUGE-2, ...).
        use_stemmer: Porter-stem tokens as rouge-score does.
        tokenizer: ``"default"`` (rouge-score's) or ``"unicode"``; see :func:`rouge_tokenize`.

    Returns:
        Precision (overlap / prediction n-grams), recall (overlap / target n-grams) and F1.

    Raises:
        MetricError: ``n`` is not positive or the tokenizer is unknown.
    """
    if n <= 0:
        raise MetricError(f"ROUGE-N needs a positive n, got {n}")
    t_ngrams = _ngrams(rouge_tokenize(target, use_stemmer=use_stemmer, tokenizer=tokenizer), n)
    p_ngrams = _ngrams(rouge_tokenize(prediction, use_stemmer=use_stemmer, tokenizer=tokenizer), n)
    overlap = sum(map(min, t_ngrams.values(), map(p_ngrams.get, t_ngrams, repeat(0))))
    precision = overlap / max(sum(p_ngrams.values()), 1)
    recall = overlap / max(sum(t_ngrams.values()), 1)
    return RougeScore(precision, recall, _fmeasure(precision, recall))


# Token ids become code points (chr) below this many tokens per pair.
_CODE_POINTS = 0x110000


def _lcs_tokens(target: list[str], prediction: list[str]) -> RougeScore:
    # rouge_score.rouge_scorer._score_lcs with the LCS length from rapidfuzz.
    if not target or not prediction:
        return RougeScore(0.0, 0.0, 0.0)
    vocab: dict[str, int] = {}
    if len(target) + len(prediction) < _CODE_POINTS:
        lcs = int(LCSseq.similarity(_encode(target, vocab), _encode(prediction, vocab)))
    else:  # more tokens than code points could number: plain int ids (slower in rapidfuzz)
        ids = [[vocab.setdefault(t, len(vocab)) for t in seq] for seq in (target, prediction)]
        lcs = int(LCSseq.similarity(*ids))
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def _encode(tokens: Iterable[str], vocab: dict[str, int]) -> str:
    # One code point per token id: rapidfuzz's LCS is fastest on str, and ids from a shared
    # vocabulary compare exactly (passing the tokens themselves would compare their hashes).
    return "".join([chr(vocab.setdefault(t, len(vocab))) for t in tokens])


def rouge_l(
    target: str,
    prediction: str,
    *,
    use_stemmer: bool = False,
    tokenizer: str = "default",
) -> RougeScore:
    """ROUGE-L: longest-common-subsequence overlap, equal to rouge-score's ``rougeL``.

    Args:
        target: The reference text.
        prediction: The generated text.
        use_stemmer: Porter-stem tokens as rouge-score does.
        tokenizer: ``"default"`` (rouge-score's) or ``"unicode"``; see :func:`rouge_tokenize`.

    Returns:
        Precision (LCS / prediction tokens), recall (LCS / target tokens) and F1; all 0.0 when
        either side has no tokens.

    Raises:
        MetricError: The tokenizer is unknown.
    """
    return _lcs_tokens(
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
    """ROUGE-L for many (target, prediction) pairs; a text that recurs is tokenized once.

    Args:
        targets: Reference texts.
        predictions: Generated texts, as many as ``targets``.
        use_stemmer: Porter-stem tokens as rouge-score does.
        tokenizer: ``"default"`` (rouge-score's) or ``"unicode"``; see :func:`rouge_tokenize`.

    Returns:
        One :class:`RougeScore` per pair, equal to ``rouge_l(target, prediction)``.

    Raises:
        MetricError: The sequences differ in length, or the tokenizer is unknown.
    """
    if len(targets) != len(predictions):
        raise MetricError(
            f"rouge_l_many got {len(targets)} targets but {len(predictions)} predictions"
        )
    # Only recurring texts are cached: holding every token list alive costs more (memory
    # traffic) than tokenizing a text seen once, measured on 10,000 distinct pairs.
    recurring = {text for text, count in Counter([*targets, *predictions]).items() if count > 1}
    cache: dict[str, list[str]] = {}

    def tokens(text: str) -> list[str]:
        if text not in recurring:
            return rouge_tokenize(text, use_stemmer=use_stemmer, tokenizer=tokenizer)
        hit = cache.get(text)
        if hit is None:
            hit = cache[text] = rouge_tokenize(text, use_stemmer=use_stemmer, tokenizer=tokenizer)
        return hit

    return [_lcs_tokens(tokens(t), tokens(p)) for t, p in zip(targets, predictions, strict=True)]


# ---------------------------------------------------------------------------------------------
# BLEU (sacrebleu 2.x, BLEU metric)

_MAX_ORDER = 4
_SMOOTH_DEFAULTS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}

# sacrebleu.tokenizers.tokenizer_re.TokenizerRegexp, which 13a applies after its unescaping.
# Rule 1 pads every character of ``[\{-\~\[-\` -\&\(-\+\:-\@\/]`` with spaces. That class
# includes the space itself, the most frequent match, so spaces are padded with str.replace and
# the regex runs on the class without the space: single-character matches never overlap, so the
# result is the same string. Replacement callables stand in for the ``\1`` templates, which
# Python 3.11 expands in Python code for every match.
_RE_PUNCT_NO_SPACE = re.compile(r"[\{-\~\[-\`!-\&\(-\+\:-\@\/]")
_RE_PERIOD_COMMA_AFTER = re.compile(r"([^0-9])([\.,])")
_RE_PERIOD_COMMA_BEFORE = re.compile(r"([\.,])([^0-9])")
_RE_DASH = re.compile(r"([0-9])(-)")


def _pad(m: re.Match[str]) -> str:
    return f" {m[0]} "


def _space_after_both(m: re.Match[str]) -> str:
    return f"{m[1]} {m[2]} "


def _space_before_both(m: re.Match[str]) -> str:
    return f" {m[1]} {m[2]}"


@lru_cache(maxsize=1 << 16)
def _tokenize_13a(line: str) -> tuple[str, ...]:
    line = line.replace("<skipped>", "")
    line = line.replace("-\n", "")
    line = line.replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"')
        line = line.replace("&amp;", "&")
        line = line.replace("&lt;", "<")
        line = line.replace("&gt;", ">")
    line = _RE_PUNCT_NO_SPACE.sub(_pad, f" {line} ".replace(" ", "   "))
    # The remaining rules need a period, comma or dash to match at all: skip them otherwise.
    if "." in line or "," in line:
        line = _RE_PERIOD_COMMA_AFTER.sub(_space_after_both, line)
        line = _RE_PERIOD_COMMA_BEFORE.sub(_space_before_both, line)
    if "-" in line:
        line = _RE_DASH.sub(_space_after_both, line)
    # sacrebleu joins the tokens with single spaces and later splits again: the same tokens.
    return tuple(line.split())


def _tokenize_none(line: str) -> tuple[str, ...]:
    return tuple(line.split())


_BLEU_TOKENIZERS: dict[str, Callable[[str], tuple[str, ...]]] = {
    "13a": _tokenize_13a,
    "none": _tokenize_none,
}


def _bleu_tokenizer(name: str, lowercase: bool) -> Callable[[str], tuple[str, ...]]:
    try:
        tok = _BLEU_TOKENIZERS[name]
    except KeyError:
        raise MetricError(
            f"unknown BLEU tokenizer {name!r}; supported: {sorted(_BLEU_TOKENIZERS)}"
        ) from None
    if lowercase:
        return lambda sent: tok(sent.lower().rstrip())
    return lambda sent: tok(sent.rstrip())


def _check_smoothing(smooth_method: str) -> None:
    if smooth_method not in _SMOOTH_DEFAULTS:
        raise MetricError(
            f"unknown BLEU smooth_method {smooth_method!r}; use one of {sorted(_SMOOTH_DEFAULTS)}"
        )


def _all_ngrams(tokens: tuple[str, ...]) -> list[Counter[tuple[str, ...]]]:
    return [
        Counter(zip(*(tokens[i:] for i in range(n)), strict=False))
        for n in range(1, _MAX_ORDER + 1)
    ]


def _closest_ref_len(hyp_len: int, ref_lens: list[int]) -> int:
    # Closest length; on a tie the shorter reference.
    closest_diff, closest_len = -1, -1
    for ref_len in ref_lens:
        diff = abs(hyp_len - ref_len)
        if closest_diff == -1 or diff < closest_diff:
            closest_diff, closest_len = diff, ref_len
        elif diff == closest_diff and ref_len < closest_len:
            closest_len = ref_len
    return closest_len


def _clipped(hyp_c: Counter[tuple[str, ...]], ref_c: Counter[tuple[str, ...]]) -> map[int]:
    # min(hyp count, ref count) per distinct hypothesis n-gram, the loop in C.
    return map(min, hyp_c.values(), map(ref_c.get, hyp_c, repeat(0)))


def _segment_stats(hyp: tuple[str, ...], refs: list[tuple[str, ...]]) -> list[int]:
    """``[hyp_len, ref_len, correct_1..4, total_1..4]`` as sacrebleu's segment statistics."""
    hyp_len = len(hyp)
    hyp_ngrams = _all_ngrams(hyp)
    if len(refs) == 1:
        correct = [
            sum(_clipped(h, r)) for h, r in zip(hyp_ngrams, _all_ngrams(refs[0]), strict=True)
        ]
    else:
        # sacrebleu clips by the max count over the references; min(h, max_k r_k) equals
        # max_k min(h, r_k), which needs no merged reference Counter (a Python-level loop).
        per_ref = [_all_ngrams(ref) for ref in refs]
        correct = [
            sum(map(max, *(_clipped(h, ref[n]) for ref in per_ref)))
            for n, h in enumerate(hyp_ngrams)
        ]
    total = [max(hyp_len - n + 1, 0) for n in range(1, _MAX_ORDER + 1)]
    return [hyp_len, _closest_ref_len(hyp_len, [len(r) for r in refs]), *correct, *total]


def _my_log(num: float) -> float:
    # sacrebleu.utils.my_log: log floored so that a zero precision zeroes the score.
    if num == 0.0:
        return -9999999999
    return math.log(num)


def _compute_bleu(
    stats: Sequence[int],
    smooth_method: str,
    smooth_value: float | None,
    effective_order: bool,
) -> BleuScore:
    """sacrebleu's ``BLEU.compute_bleu`` with the same arithmetic, so scores agree to the bit."""
    sys_len, ref_len = int(stats[0]), int(stats[1])
    correct: list[float] = list(stats[2 : 2 + _MAX_ORDER])
    total: list[float] = list(stats[2 + _MAX_ORDER :])
    if smooth_value is None:
        smooth_value = _SMOOTH_DEFAULTS[smooth_method]

    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * _MAX_ORDER
    if not any(correct):
        return BleuScore(0.0, tuple(precisions), bp, sys_len, ref_len)

    smooth_mteval = 1.0
    eff_order = _MAX_ORDER
    for n in range(1, _MAX_ORDER + 1):
        if smooth_method == "add-k" and n > 1:
            assert smooth_value is not None  # add-k always has a default
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
                assert smooth_value is not None  # floor always has a default
                precisions[n - 1] = 100.0 * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]

    score = bp * math.exp(sum([_my_log(p) for p in precisions[:eff_order]]) / eff_order)
    return BleuScore(score, tuple(precisions), bp, sys_len, ref_len)


def bleu_segment_stats(
    hypothesis: str,
    references: Sequence[str | None],
    *,
    lowercase: bool = False,
    tokenize: str = "13a",
) -> list[int]:
    """One segment's BLEU sufficient statistics, as sacrebleu counts them.

    Summed over segments they give corpus BLEU (:func:`bleu_from_stats`), which is how a
    gate with ``stat: corpus`` scores a suite without keeping its texts.

    Args:
        hypothesis: The generated text.
        references: One or more reference texts (``None`` entries are skipped).
        lowercase: Lowercase hypothesis and references first.
        tokenize: ``"13a"`` or ``"none"``.

    Returns:
        ``[hyp_len, ref_len, correct_1..4, total_1..4]``.

    Raises:
        MetricError: No reference, or an unknown tokenizer.
    """
    tok = _bleu_tokenizer(tokenize, lowercase)
    refs = [tok(r) for r in references if r is not None]
    if not refs:
        raise MetricError("sentence_bleu needs at least one reference")
    return _segment_stats(tok(hypothesis), refs)


def bleu_from_stats(
    stats: Sequence[int],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    effective_order: bool = False,
) -> BleuScore:
    """BLEU from (summed) segment statistics: ``sacrebleu.corpus_bleu``'s arithmetic.

    Args:
        stats: ``[hyp_len, ref_len, correct_1..4, total_1..4]``, one segment's or a sum.
        smooth_method: ``"exp"``, ``"floor"``, ``"add-k"`` or ``"none"``.
        smooth_value: The value for ``floor`` and ``add-k``.
        effective_order: Leave out orders with no n-grams (sentence BLEU's default).

    Returns:
        The score (0-100) with its precisions, brevity penalty and lengths.
    """
    _check_smoothing(smooth_method)
    if len(stats) != 2 + 2 * _MAX_ORDER:
        raise MetricError(f"BLEU statistics have {2 + 2 * _MAX_ORDER} counts, got {len(stats)}")
    return _compute_bleu(stats, smooth_method, smooth_value, effective_order)


def sentence_bleu(
    hypothesis: str,
    references: Sequence[str | None],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    tokenize: str = "13a",
    effective_order: bool = True,
) -> BleuScore:
    """Sentence-level BLEU, equal to ``sacrebleu.sentence_bleu`` with the same arguments.

    Args:
        hypothesis: The generated text.
        references: One or more reference texts (``None`` entries are skipped, as in sacrebleu).
        smooth_method: ``"exp"``, ``"floor"``, ``"add-k"`` or ``"none"``.
        smooth_value: The value for ``floor`` (default 0.1) and ``add-k`` (default 1).
        lowercase: Lowercase hypothesis and references first.
        tokenize: ``"13a"`` (mteval-v13a, sacrebleu's default) or ``"none"``.
        effective_order: Leave out n-gram orders the hypothesis is too short to have.

    Returns:
        The score (0-100) with its precisions, brevity penalty and lengths.

    Raises:
        MetricError: No reference, or an unknown tokenizer or smoothing method.
    """
    _check_smoothing(smooth_method)
    stats = bleu_segment_stats(hypothesis, references, lowercase=lowercase, tokenize=tokenize)
    return _compute_bleu(stats, smooth_method, smooth_value, effective_order)


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str | None]],
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    tokenize: str = "13a",
    force: bool = False,
) -> BleuScore:
    """Corpus-level BLEU, equal to ``sacrebleu.corpus_bleu`` with the same arguments.

    Args:
        hypotheses: One generated text per segment.
        references: Reference *streams* in sacrebleu's layout: ``references[k][i]`` is the
            k-th reference of segment i. A ``None`` entry means segment i has fewer references.
        smooth_method: ``"exp"``, ``"floor"``, ``"add-k"`` or ``"none"``.
        smooth_value: The value for ``floor`` (default 0.1) and ``add-k`` (default 1).
        lowercase: Lowercase hypotheses and references first.
        tokenize: ``"13a"`` (mteval-v13a, sacrebleu's default) or ``"none"``.
        force: Accepted for sacrebleu compatibility; it only silences sacrebleu's warning about
            already-tokenized input, which this implementation does not emit.

    Returns:
        The corpus score (0-100) with its precisions, brevity penalty and summed lengths.

    Raises:
        MetricError: No hypotheses or references, streams of different lengths, a segment with
            no reference, or an unknown tokenizer or smoothing method.
    """
    del force
    _check_smoothing(smooth_method)
    if not hypotheses:
        raise MetricError("corpus_bleu needs at least one hypothesis")
    if not references:
        raise MetricError("corpus_bleu needs at least one reference stream")
    for k, stream in enumerate(references):
        if isinstance(stream, str) or len(stream) != len(hypotheses):
            raise MetricError(
                f"reference stream {k} must be a sequence of {len(hypotheses)} strings "
                "(sacrebleu's layout: one stream per reference, one entry per hypothesis)"
            )
    tok = _bleu_tokenizer(tokenize, lowercase)
    totals = [0] * (2 + 2 * _MAX_ORDER)
    for i, hyp in enumerate(hypotheses):
        refs = [tok(ref) for ref in (stream[i] for stream in references) if ref is not None]
        if not refs:
            raise MetricError(f"segment {i} has no reference")
        seg = _segment_stats(tok(hyp), refs)
        for j, v in enumerate(seg):
            totals[j] += v
    return _compute_bleu(totals, smooth_method, smooth_value, effective_order=False)
