"""The built-in deterministic metrics (text checks, similarity, raw measures, retrieval).

The registry registers :data:`BUILTIN_METRICS` when it loads; this module does not import the
registry, so a built-in is defined without it. Model-graded and embedding metrics are provided
by the judges service through entry points (see :mod:`.registry`); only their names are here.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from ..errors import MetricError
from ..fields import Count, Real
from .base import MetricFn, MetricOptions, MetricValue, Sample, SkipMetric

__all__ = [
    "BUILTIN_METRICS",
    "EMBEDDING_METRICS",
    "JUDGE_METRICS",
    "BleuOptions",
    "BuiltinMetric",
    "ContainsOptions",
    "ExactOptions",
    "JsonSchemaOptions",
    "JsonValidOptions",
    "LevenshteinOptions",
    "NoOptions",
    "NotContainsOptions",
    "RegexOptions",
    "RetrievalOptions",
    "RougeOptions",
    "normalize_text",
]

Reference = str | list[str] | None
"""Reference text(s): one string or a list (the best match counts)."""


def _something_to_look_for(value: str | list[str] | None) -> str | list[str] | None:
    # An empty text is in every output and an empty list has nothing missing: either would
    # make `contains` pass (and `not_contains` fail) whatever the output says.
    if value == [] or value == "" or (isinstance(value, list) and "" in value):
        raise ValueError("nothing to look for: an empty text or an empty list decides every output")
    return value


Needles = Annotated[str | list[str] | None, AfterValidator(_something_to_look_for)]
"""Text(s) to look for: one non-empty string or a non-empty list of them."""


# --------------------------------------------------------------------------- options models


class NoOptions(MetricOptions):
    """The metric takes no options of its own."""


class ExactOptions(MetricOptions):
    """Options of ``exact``."""

    value: str | list[str] | dict[str, Any] | None = None
    """Reference text(s) instead of the case's ``expected``."""
    ignore_case: bool = False
    """Compare case-insensitively (Unicode casefold)."""
    ignore_whitespace: bool = False
    """Collapse runs of whitespace before comparing."""
    ignore_punctuation: bool = False
    """Drop punctuation before comparing."""
    strip: bool = True
    """Strip leading and trailing whitespace."""
    case: bool | None = None
    """``case: false`` reads as "case does not matter" (the opposite of ``ignore_case``)."""
    whitespace: bool | None = None
    """``whitespace: false``: whitespace does not matter."""
    punctuation: bool | None = None
    """``punctuation: false``: punctuation does not matter."""


class ContainsOptions(MetricOptions):
    """Options of ``contains`` and ``icontains``."""

    value: Needles = None
    """Text the output must contain (default: the case's ``expected``); not empty."""
    values: Needles = None
    """Several texts; ``mode`` says whether all or any must be present (none empty)."""
    mode: Literal["all", "any"] = "all"
    """``all``: every value must be present; ``any``: one is enough."""


class NotContainsOptions(MetricOptions):
    """Options of ``not_contains``."""

    value: Needles = None
    """Text the output must not contain (default: the case's ``expected``); not empty."""
    values: Needles = None
    """Several forbidden texts: none may be present (none empty)."""
    ignore_case: bool = False
    """Match case-insensitively."""


class RegexOptions(MetricOptions):
    """Options of ``regex``."""

    pattern: str | None = None
    """Python regular expression searched in the output (required, or give ``value``)."""
    value: str | None = None
    """Same as ``pattern``."""
    flags: str = Field(default="", pattern=r"^[imsx]*$")
    """Any of ``i`` (ignore case), ``m`` (multiline), ``s`` (dot matches newline), ``x``."""
    fullmatch: bool = False
    """The whole output must match, not just a part."""

    @model_validator(mode="after")
    def _compiles(self) -> RegexOptions:
        # A broken pattern is the file's one error, not an error of every case at run time.
        pat = self.pattern if self.pattern is not None else self.value
        if pat:
            try:
                _compile_regex(pat, self.flags)
            except MetricError as exc:
                raise ValueError(str(exc)) from None
        return self


class JsonValidOptions(MetricOptions):
    """Options of ``json_valid``."""

    extract: bool = False
    """Read the first fenced code block of the output (a ``json`` block) when there is one."""


class JsonSchemaOptions(MetricOptions):
    """Options of ``json_schema``."""

    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    """The JSON Schema, inline."""
    schema_file: str | None = None
    """A JSON Schema file, relative to the eval file."""
    extract: bool = False
    """Read the first fenced code block of the output (a ``json`` block) when there is one."""

    @model_validator(mode="after")
    def _valid_schema(self) -> JsonSchemaOptions:
        if self.schema_ is not None:
            try:
                _schema_validator(self.schema_)
            except MetricError as exc:
                raise ValueError(str(exc)) from None
        return self


class LevenshteinOptions(MetricOptions):
    """Options of ``levenshtein``."""

    value: Reference = None
    """Reference text(s) instead of the case's ``expected``."""
    ignore_case: bool = False
    """Compare case-insensitively."""


class RougeOptions(MetricOptions):
    """Options of ``rouge_1``, ``rouge_2`` and ``rouge_l``."""

    value: Reference = None
    """Reference text(s) instead of the case's ``expected`` (the best counts)."""
    use_stemmer: bool = False
    """Porter-stem tokens, as rouge-score's ``use_stemmer``."""
    tokenizer: Literal["default", "unicode"] = "default"
    """``default``: rouge-score's (ASCII letters and digits); ``unicode``: words in any script."""
    score: Literal["fmeasure", "precision", "recall"] = "fmeasure"
    """Which of rouge-score's three numbers is the score."""


class BleuOptions(MetricOptions):
    """Options of ``bleu``."""

    value: Reference = None
    """Reference text(s) instead of the case's ``expected`` (all used together)."""
    smooth_method: Literal["exp", "floor", "add-k", "none"] = "exp"
    """sacrebleu's smoothing method."""
    smooth_value: Real | None = None
    """Smoothing value for ``floor`` (default 0.1) and ``add-k`` (default 1)."""
    lowercase: bool = False
    """Lowercase before tokenizing."""
    tokenize: Literal["13a", "none"] = "13a"
    """sacrebleu's tokenizer."""


class RetrievalOptions(MetricOptions):
    """Options of the retrieval metrics (``hit_rate``, ``recall_at_k``, ``mrr``, ...)."""

    k: Count = Field(default=10, ge=1)
    """How many of the top retrieved ids count."""


# --------------------------------------------------------------------------- helpers


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _references(sample: Sample, value: Any = None) -> list[str]:
    ref = sample.expected if value is None else value
    if ref is None:
        raise MetricError("this metric needs `expected` (or a `value:` parameter)")
    if isinstance(ref, list | tuple):
        return [_as_text(r) for r in ref]
    return [_as_text(ref)]


_PUNCT_TABLE = {ord(c): None for c in string.punctuation}


def normalize_text(
    text: str,
    *,
    ignore_case: bool = False,
    ignore_whitespace: bool = False,
    ignore_punctuation: bool = False,
    strip: bool = True,
) -> str:
    """Apply the normalisation options shared by ``exact`` and friends."""
    text = unicodedata.normalize("NFC", text)
    if ignore_case:
        text = text.casefold()
    if ignore_punctuation:
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
        text = text.translate(_PUNCT_TABLE)
    if ignore_whitespace:
        text = " ".join(text.split())
    elif strip:
        text = text.strip()
    return text


# --------------------------------------------------------------------------- built-ins


def exact(
    sample: Sample,
    *,
    value: Any = None,
    ignore_case: bool = False,
    ignore_whitespace: bool = False,
    ignore_punctuation: bool = False,
    strip: bool = True,
    case: bool | None = None,
    whitespace: bool | None = None,
    punctuation: bool | None = None,
) -> MetricValue:
    """1 when the output equals the expected text (after the chosen normalisation)."""
    # `case: false` reads naturally in YAML as "case does not matter".
    if case is not None:
        ignore_case = not case
    if whitespace is not None:
        ignore_whitespace = not whitespace
    if punctuation is not None:
        ignore_punctuation = not punctuation
    opts = {
        "ignore_case": ignore_case,
        "ignore_whitespace": ignore_whitespace,
        "ignore_punctuation": ignore_punctuation,
        "strip": strip,
    }
    out = normalize_text(sample.output, **opts)
    for ref in _references(sample, value):
        if normalize_text(ref, **opts) == out:
            return MetricValue(1.0)
    return MetricValue(0.0, "output differs from expected")


def _needles(sample: Sample, value: Any, values: Any) -> list[str]:
    if values is not None:
        value = values
    if value is None:
        return _references(sample)
    if isinstance(value, list | tuple):
        return [_as_text(v) for v in value]
    return [_as_text(value)]


def _contains(
    sample: Sample, value: Any, values: Any, mode: str, fold: bool
) -> tuple[list[str], list[str]]:
    if mode not in ("all", "any"):
        raise MetricError(f"mode must be 'all' or 'any', got {mode!r}")
    needles = _needles(sample, value, values)
    if not needles or "" in needles:
        # From the case's `expected` (options are checked at collection): "" or [] there
        # would decide every output the same way.
        raise MetricError(
            "nothing to look for: an empty text or an empty list (expected or value/values)"
        )
    hay = sample.output.casefold() if fold else sample.output
    found = [n for n in needles if (n.casefold() if fold else n) in hay]
    missing = [n for n in needles if n not in found]
    return found, missing


def contains(
    sample: Sample, *, value: Any = None, values: Any = None, mode: str = "all"
) -> MetricValue:
    """1 when the output contains the value (or all/any of a list of values)."""
    found, missing = _contains(sample, value, values, mode, fold=False)
    ok = not missing if mode == "all" else bool(found)
    return MetricValue(1.0 if ok else 0.0, None if ok else f"missing: {missing!r}")


def icontains(
    sample: Sample, *, value: Any = None, values: Any = None, mode: str = "all"
) -> MetricValue:
    """Like ``contains``, ignoring case."""
    found, missing = _contains(sample, value, values, mode, fold=True)
    ok = not missing if mode == "all" else bool(found)
    return MetricValue(1.0 if ok else 0.0, None if ok else f"missing: {missing!r}")


def not_contains(
    sample: Sample, *, value: Any = None, values: Any = None, ignore_case: bool = False
) -> MetricValue:
    """1 when the output contains none of the values."""
    found, _ = _contains(sample, value, values, "any", fold=ignore_case)
    return MetricValue(0.0 if found else 1.0, f"found forbidden: {found!r}" if found else None)


_FLAG_MAP = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def _compile_regex(pat: str, flags: str) -> re.Pattern[str]:
    """``pat`` compiled with ``flags`` (any of ``imsx``); options and scoring share it."""
    fl = 0
    for ch in flags:
        if ch not in _FLAG_MAP:
            raise MetricError(f"unknown regex flag {ch!r}; use any of i, m, s, x")
        fl |= _FLAG_MAP[ch]
    try:
        return re.compile(pat, fl)
    except re.error as exc:
        raise MetricError(f"{pat!r} is not a valid regular expression: {exc}") from None


def regex(
    sample: Sample,
    *,
    pattern: str | None = None,
    value: str | None = None,
    flags: str = "",
    fullmatch: bool = False,
) -> MetricValue:
    """1 when the regular expression matches the output (search, or fullmatch)."""
    pat = pattern if pattern is not None else value
    if not pat:
        raise MetricError("regex needs `pattern:`")
    compiled = _compile_regex(pat, flags)
    m = compiled.fullmatch(sample.output) if fullmatch else compiled.search(sample.output)
    return MetricValue(1.0 if m else 0.0, None if m else f"no match for /{pat}/")


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _parse_json(text: str, extract: bool) -> Any:
    if extract:
        m = _FENCE.search(text)
        if m:
            text = m.group(1)
    return json.loads(text)


def json_valid(sample: Sample, *, extract: bool = False) -> MetricValue:
    """1 when the output parses as JSON (``extract: true`` reads a fenced code block)."""
    try:
        _parse_json(sample.output, extract)
    except (json.JSONDecodeError, ValueError) as exc:
        return MetricValue(0.0, f"invalid JSON: {exc}")
    return MetricValue(1.0)


def _schema_validator(schema: dict[str, Any]) -> Any:
    """A validator of ``schema`` in its own draft, once the schema is checked; options and
    scoring share it."""
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise MetricError(f"the schema is not a valid JSON Schema: {exc.message}") from None
    return validator_cls(schema)


def json_schema(
    sample: Sample,
    *,
    schema: dict[str, Any] | None = None,
    schema_file: str | None = None,
    extract: bool = False,
) -> MetricValue:
    """1 when the output is JSON valid against a JSON Schema."""
    if schema is None:
        if schema_file is None:
            raise MetricError("json_schema needs `schema:` or `schema_file:`")
        p = Path(schema_file)
        if not p.is_absolute() and sample.base_dir is not None:
            p = sample.base_dir / p
        schema = json.loads(p.read_text(encoding="utf-8"))
    try:
        data = _parse_json(sample.output, extract)
    except (json.JSONDecodeError, ValueError) as exc:
        return MetricValue(0.0, f"invalid JSON: {exc}")
    errors = sorted(_schema_validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(map(str, first.path)) or "(root)"
        return MetricValue(0.0, f"{len(errors)} schema error(s); first at {where}: {first.message}")
    return MetricValue(1.0)


def levenshtein(sample: Sample, *, value: Any = None, ignore_case: bool = False) -> MetricValue:
    """Normalised Levenshtein similarity (1 - distance / max length), best over references."""
    from rapidfuzz.distance import Levenshtein

    out = sample.output.casefold() if ignore_case else sample.output
    best = 0.0
    for ref in _references(sample, value):
        ref = ref.casefold() if ignore_case else ref
        best = max(best, float(Levenshtein.normalized_similarity(out, ref)))
    return MetricValue(best)


def _rouge(
    n: int | None,
    sample: Sample,
    value: Any,
    use_stemmer: bool,
    tokenizer: str,
    score: str,
) -> MetricValue:
    from . import textsim

    if score not in ("fmeasure", "precision", "recall"):
        raise MetricError(f"score must be fmeasure, precision or recall, got {score!r}")
    best = 0.0
    for ref in _references(sample, value):
        if n is None:
            s = textsim.rouge_l(ref, sample.output, use_stemmer=use_stemmer, tokenizer=tokenizer)
        else:
            s = textsim.rouge_n(ref, sample.output, n, use_stemmer=use_stemmer, tokenizer=tokenizer)
        best = max(best, float(getattr(s, score)))
    return MetricValue(best)


def _rouge_metric(n: int | None, doc: str) -> MetricFn:
    """A ROUGE metric (best over references; ``score`` picks F1, precision or recall)."""

    def fn(
        sample: Sample,
        *,
        value: Any = None,
        use_stemmer: bool = False,
        tokenizer: str = "default",
        score: str = "fmeasure",
    ) -> MetricValue:
        return _rouge(n, sample, value, use_stemmer, tokenizer, score)

    fn.__doc__ = doc
    return fn


rouge_1 = _rouge_metric(1, "ROUGE-1 (unigram overlap), identical to Google's rouge-score.")
rouge_2 = _rouge_metric(2, "ROUGE-2 (bigram overlap), identical to Google's rouge-score.")
rouge_l = _rouge_metric(None, "ROUGE-L (longest common subsequence), identical to rouge-score.")


def bleu(
    sample: Sample,
    *,
    value: Any = None,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    tokenize: str = "13a",
) -> MetricValue:
    """Sentence BLEU / 100, identical to sacrebleu (all references used together)."""
    from . import textsim

    refs = _references(sample, value)
    seg = textsim.bleu_segment_stats(sample.output, refs, lowercase=lowercase, tokenize=tokenize)
    s = textsim.bleu_from_stats(
        seg, smooth_method=smooth_method, smooth_value=smooth_value, effective_order=True
    )
    # The segment's counts, summed over cases, give corpus BLEU (a gate's `stat: corpus`).
    data = {"bleu_stats": seg, "smooth_method": smooth_method, "smooth_value": smooth_value}
    # sacrebleu's 0-100 score can exceed 100 by a rounding error.
    return MetricValue(min(1.0, max(0.0, float(s.score) / 100.0)), data=data)


def latency_ms(sample: Sample) -> MetricValue:
    """The target's latency in milliseconds (a raw measure: gate it with ``max:``)."""
    if sample.latency_ms is None:
        raise MetricError("no latency was recorded for this case")
    return MetricValue(float(sample.latency_ms))


def ttft_ms(sample: Sample) -> MetricValue:
    """Time to first token of a streamed model call in milliseconds (a raw measure: gate it
    with ``max:``); needs ``stream: true`` on the suite (or ``params: {stream: true}``).

    A case whose call was not streamed errors rather than skip: a ``max:`` gate that is
    silently not enforced is worse than none. An answer replayed from the cache has the
    time its recorded call took.
    """
    value = sample.metadata.get("ttft_ms")
    if value is None:
        raise MetricError(
            "ttft_ms needs a streamed call: set `stream: true` on the suite "
            "(or `params: {stream: true}`); this case's call was not streamed"
        )
    try:
        return MetricValue(float(value))
    except (TypeError, ValueError):
        raise MetricError(f"the target's time to first token is not a number: {value!r}") from None


def cost_usd(sample: Sample) -> MetricValue:
    """The target's cost in US dollars (a raw measure: gate it with ``max:``).

    Not scored when the cost is unknown (a model the cost map has no price for is counted as
    0 in the totals): read as 0, a ``max:`` budget would pass every case.
    """
    unknown = (sample.metadata or {}).get("cost_unknown")  # targets.registry.COST_UNKNOWN
    if unknown:
        raise SkipMetric(f"cost unknown: {unknown}")
    return MetricValue(float(sample.cost_usd or 0.0))


def _retrieval_metric(name: str) -> MetricFn:
    """A metric over the target's ranked ``retrieved`` ids and the case's ``relevant`` labels."""

    def fn(sample: Sample, *, k: int = 10) -> MetricValue:
        from . import ranking as retrieval_metrics

        if sample.relevant is None:
            raise MetricError(f"{name} needs the case's `relevant:` document ids")
        if k < 1:
            raise MetricError(f"k must be at least 1, got {k}")
        value = float(getattr(retrieval_metrics, name)(sample.retrieved, sample.relevant, k))
        shown = ", ".join(sample.retrieved[:k]) or "nothing"
        return MetricValue(value, f"top {k}: {shown}")

    fn.__name__ = name
    fn.__doc__ = f"Retrieval {name} over the top k retrieved ids against the case's relevant ids."
    return fn


@dataclass(frozen=True)
class BuiltinMetric:
    """A built-in metric as the registry registers it."""

    name: str
    fn: MetricFn
    options: type[MetricOptions]
    threshold: float | None = None
    """Default minimum score to pass (``None``: informational)."""
    raw: bool = False
    """A raw measure (not bounded to [0, 1]) that passes by ``max:``; never below 0."""
    lower_is_better: bool = False
    """A raw measure where less is better (time, money): a minimum on it is an error."""


BUILTIN_METRICS: tuple[BuiltinMetric, ...] = (
    *(
        BuiltinMetric(name, fn, options, threshold=1.0)
        for name, fn, options in (
            ("exact", exact, ExactOptions),
            ("contains", contains, ContainsOptions),
            ("icontains", icontains, ContainsOptions),
            ("not_contains", not_contains, NotContainsOptions),
            ("regex", regex, RegexOptions),
            ("json_valid", json_valid, JsonValidOptions),
            ("json_schema", json_schema, JsonSchemaOptions),
        )
    ),
    BuiltinMetric("levenshtein", levenshtein, LevenshteinOptions),
    BuiltinMetric("rouge_1", rouge_1, RougeOptions),
    BuiltinMetric("rouge_2", rouge_2, RougeOptions),
    BuiltinMetric("rouge_l", rouge_l, RougeOptions),
    BuiltinMetric("bleu", bleu, BleuOptions),
    BuiltinMetric("latency_ms", latency_ms, NoOptions, raw=True, lower_is_better=True),
    BuiltinMetric("ttft_ms", ttft_ms, NoOptions, raw=True, lower_is_better=True),
    BuiltinMetric("cost_usd", cost_usd, NoOptions, raw=True, lower_is_better=True),
    *(
        BuiltinMetric(name, _retrieval_metric(name), RetrievalOptions)
        for name in ("hit_rate", "recall_at_k", "precision_at_k", "mrr", "ndcg_at_k")
    ),
)
"""The deterministic built-ins, in registration order."""

JUDGE_METRICS = (
    "judge",
    "pairwise",
    "faithfulness",
    "hallucination",
    "context_recall",
    "context_precision",
    "answer_relevance",
)
"""The model-graded metrics (they need a judge model), in the order the docs list them.

The judges service provides them through the ``pytest_mleval.metrics`` entry points.
"""

EMBEDDING_METRICS = ("semantic_similarity", "faithfulness_offline")
"""The embedding metrics (offline by default), provided like :data:`JUDGE_METRICS`."""
