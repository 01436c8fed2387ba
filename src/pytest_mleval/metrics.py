"""Metrics: pure scoring functions behind a registry.

A metric is ``fn(sample, **params) -> float | (float, explanation)``. Scores are in [0, 1]
unless the metric is a raw measure (``latency_ms``, ``cost_usd``), which passes by ``max:``.
Metrics that need models (judges, embeddings) register lazily: their module is imported only
when a suite uses them.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import string
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import MetricError

__all__ = [
    "MetricDef",
    "MetricValue",
    "Sample",
    "SkipMetric",
    "get_metric",
    "metric",
    "metric_names",
    "register_metric",
    "unknown_metric_problem",
]


@dataclass
class Sample:
    """Everything a metric may look at for one generated output."""

    output: str
    input: Any = None
    expected: Any = None
    context: list[str] = field(default_factory=list)
    retrieved: list[str] = field(default_factory=list)
    relevant: list[str] | dict[str, float] | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    case_id: str = ""
    suite: str = ""
    base_dir: Path | None = None
    """Directory of the eval file, for metric parameters that name files."""


@dataclass(frozen=True)
class MetricValue:
    """A metric's full answer: score plus optional explanation and extra data."""

    score: float
    explanation: str | None = None
    data: dict[str, Any] | None = None


MetricFn = Callable[..., Any]


@dataclass(frozen=True)
class MetricDef:
    """A registered metric."""

    name: str
    fn: MetricFn | None
    default_threshold: float | None = None
    raw: bool = False
    """Raw measures (latency, cost) are not bounded to [0, 1] and pass by ``max:``."""
    description: str = ""
    lazy: str | None = None
    """``module:function`` imported on first use (metrics with heavy dependencies)."""

    def resolve(self) -> MetricFn:
        """The callable, importing a lazily registered metric on first use."""
        if self.fn is not None:
            return self.fn
        assert self.lazy is not None
        module, _, attr = self.lazy.partition(":")
        fn: MetricFn = getattr(importlib.import_module(module), attr)
        return fn


_REGISTRY: dict[str, MetricDef] = {}
F = TypeVar("F", bound=MetricFn)


def register_metric(
    name: str,
    fn: MetricFn | None = None,
    *,
    threshold: float | None = None,
    raw: bool = False,
    description: str = "",
    lazy: str | None = None,
) -> None:
    """Register (or replace) a metric under ``name``."""
    if not re.fullmatch(r"[A-Za-z_][\w.\-]*", name):
        raise MetricError(f"invalid metric name {name!r}")
    _REGISTRY[name] = MetricDef(
        name=name,
        fn=fn,
        default_threshold=threshold,
        raw=raw,
        description=description or ((fn.__doc__ or "").strip().splitlines() or [""])[0]
        if fn
        else description,
        lazy=lazy,
    )


def metric(
    name: str | None = None, *, threshold: float | None = None, raw: bool = False
) -> Callable[[F], F]:
    """Decorator registering a custom metric.

    Example::

        @metric("polite", threshold=1.0)
        def polite(sample, **params):
            return float("please" in sample.output.lower())
    """

    def deco(fn: F) -> F:
        register_metric(name or fn.__name__, fn, threshold=threshold, raw=raw)
        return fn

    return deco


def metric_names() -> list[str]:
    """Sorted names of every registered metric."""
    return sorted(_REGISTRY)


def get_metric(name: str) -> MetricDef:
    """Look up a metric by name, or import ``python:MODULE:FUNC``.

    Raises:
        MetricError: unknown name (listing the valid ones) or an import failure.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith("python:"):
        ref = name[len("python:") :]
        module, _, attr = ref.partition(":")
        if not module or not attr:
            raise MetricError(f"custom metric {name!r} must be python:MODULE:FUNC")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise MetricError(f"cannot import custom metric {name!r}: {exc}") from None
        found = getattr(fn, "__mleval_metric__", None)
        return MetricDef(
            name=name,
            fn=fn,
            default_threshold=getattr(found, "default_threshold", None),
        )
    raise MetricError(f"unknown metric {name!r}; valid metrics: {', '.join(metric_names())}")


def unknown_metric_problem(name: str) -> str | None:
    """The error message for a metric name that cannot be used, else ``None``."""
    try:
        get_metric(name)
    except MetricError as exc:
        return str(exc)
    return None


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
    fl = 0
    for ch in flags:
        if ch not in _FLAG_MAP:
            raise MetricError(f"unknown regex flag {ch!r}; use any of i, m, s, x")
        fl |= _FLAG_MAP[ch]
    try:
        compiled = re.compile(pat, fl)
    except re.error as exc:
        raise MetricError(f"invalid regex {pat!r}: {exc}") from None
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


def json_schema(
    sample: Sample,
    *,
    schema: dict[str, Any] | None = None,
    schema_file: str | None = None,
    extract: bool = False,
) -> MetricValue:
    """1 when the output is JSON valid against a JSON Schema."""
    import jsonschema

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
    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise MetricError(f"invalid JSON Schema: {exc.message}") from None
    errors = sorted(validator_cls(schema).iter_errors(data), key=lambda e: list(e.path))
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


def rouge_1(
    sample: Sample,
    *,
    value: Any = None,
    use_stemmer: bool = False,
    tokenizer: str = "default",
    score: str = "fmeasure",
) -> MetricValue:
    """ROUGE-1 (unigram overlap), identical to Google's rouge-score; best over references."""
    return _rouge(1, sample, value, use_stemmer, tokenizer, score)


def rouge_2(
    sample: Sample,
    *,
    value: Any = None,
    use_stemmer: bool = False,
    tokenizer: str = "default",
    score: str = "fmeasure",
) -> MetricValue:
    """ROUGE-2 (bigram overlap), identical to Google's rouge-score; best over references."""
    return _rouge(2, sample, value, use_stemmer, tokenizer, score)


def rouge_l(
    sample: Sample,
    *,
    value: Any = None,
    use_stemmer: bool = False,
    tokenizer: str = "default",
    score: str = "fmeasure",
) -> MetricValue:
    """ROUGE-L (longest common subsequence), identical to Google's rouge-score."""
    return _rouge(None, sample, value, use_stemmer, tokenizer, score)


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
    s = textsim.sentence_bleu(
        sample.output,
        refs,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        lowercase=lowercase,
        tokenize=tokenize,
    )
    # sacrebleu's 0-100 score can exceed 100 by a rounding error.
    return MetricValue(min(1.0, max(0.0, float(s.score) / 100.0)))


def latency_ms(sample: Sample) -> MetricValue:
    """The target's latency in milliseconds (a raw measure: gate it with ``max:``)."""
    if sample.latency_ms is None:
        raise MetricError("no latency was recorded for this case")
    return MetricValue(float(sample.latency_ms))


def cost_usd(sample: Sample) -> MetricValue:
    """The target's cost in US dollars (a raw measure: gate it with ``max:``)."""
    return MetricValue(float(sample.cost_usd or 0.0))


def _retrieval_metric(name: str) -> MetricFn:
    """A metric over the target's ranked ``retrieved`` ids and the case's ``relevant`` labels."""

    def fn(sample: Sample, *, k: int = 10) -> MetricValue:
        from . import retrieval_metrics

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


def _register_builtins() -> None:
    binary: Iterable[tuple[str, MetricFn]] = (
        ("exact", exact),
        ("contains", contains),
        ("icontains", icontains),
        ("not_contains", not_contains),
        ("regex", regex),
        ("json_valid", json_valid),
        ("json_schema", json_schema),
    )
    for name, fn in binary:
        register_metric(name, fn, threshold=1.0)
    for name, fn in (
        ("levenshtein", levenshtein),
        ("rouge_1", rouge_1),
        ("rouge_2", rouge_2),
        ("rouge_l", rouge_l),
        ("bleu", bleu),
    ):
        register_metric(name, fn)
    register_metric("latency_ms", latency_ms, raw=True)
    register_metric("cost_usd", cost_usd, raw=True)
    # Model-graded and embedding metrics load their modules (and models) on first use.
    for name in (
        "judge",
        "pairwise",
        "faithfulness",
        "hallucination",
        "context_recall",
        "context_precision",
        "answer_relevance",
    ):
        register_metric(name, lazy=f"pytest_mleval.judges:{name}")
    for name in ("semantic_similarity", "faithfulness_offline"):
        register_metric(name, lazy=f"pytest_mleval.embeddings:{name}")
    for name in ("hit_rate", "recall_at_k", "precision_at_k", "mrr", "ndcg_at_k"):
        register_metric(name, _retrieval_metric(name))


_register_builtins()


# --------------------------------------------------------------------------- scoring


@dataclass
class Scored:
    """The outcome of one metric on one sample."""

    name: str
    score: float | None
    threshold: float | None
    max: float | None
    passed: bool | None
    weight: float
    explanation: str | None = None
    error: str | None = None
    data: dict[str, Any] | None = None
    skipped: str | None = None


class _Default:
    def __repr__(self) -> str:
        return "NO_THRESHOLD"


NO_THRESHOLD = _Default()
"""Passed as ``threshold`` to make a metric informational even if it has a default."""


class SkipMetric(Exception):
    """Raised by a metric that cannot be computed here (e.g. no judge model): never a score."""


def coerce_metric_output(value: Any) -> MetricValue:
    """Accept a float, a (score, explanation) pair, or a MetricValue."""
    if isinstance(value, MetricValue):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        score, explanation = value
        return MetricValue(_as_float(score), None if explanation is None else str(explanation))
    return MetricValue(_as_float(value))


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, int | float):
        raise MetricError(f"a metric must return a number, got {type(value).__name__} {value!r}")
    return float(value)


def score_metric(
    name: str,
    sample: Sample,
    *,
    threshold: float | _Default | None = None,
    max_value: float | None = None,
    weight: float = 1.0,
    params: dict[str, Any] | None = None,
) -> Scored:
    """Run one metric, never raising: a failing metric becomes an error that fails the case."""
    try:
        mdef = get_metric(name)
        # None means "use the metric's default"; DEFAULT_OFF (YAML `threshold: null`) means none.
        if threshold is NO_THRESHOLD:
            thr = None
        elif threshold is None:
            thr = mdef.default_threshold
        else:
            thr = float(threshold)  # type: ignore[arg-type]
        value = coerce_metric_output(mdef.resolve()(sample, **(params or {})))
        if math.isnan(value.score):
            raise MetricError("metric returned NaN")
        if not mdef.raw and not (-1e-9 <= value.score <= 1 + 1e-9):
            raise MetricError(f"metric returned {value.score!r}, outside [0, 1]")
    except SkipMetric as skip:
        return Scored(
            name=name,
            score=None,
            threshold=None if isinstance(threshold, _Default) else threshold,
            max=max_value,
            passed=None,
            weight=weight,
            skipped=str(skip),
        )
    except Exception as exc:
        return Scored(
            name=name,
            score=None,
            threshold=None if isinstance(threshold, _Default) else threshold,
            max=max_value,
            passed=False,
            weight=weight,
            error=f"{type(exc).__name__}: {exc}",
        )
    passed: bool | None = None
    if thr is not None or max_value is not None:
        passed = (thr is None or value.score >= thr - 1e-12) and (
            max_value is None or value.score <= max_value + 1e-12
        )
    return Scored(
        name=name,
        score=value.score,
        threshold=thr,
        max=max_value,
        passed=passed,
        weight=weight,
        explanation=value.explanation,
        data=value.data,
    )


def case_passed(scored: list[Scored], pass_score: float | None = None) -> bool:
    """Every metric with a threshold passes (or the weighted rule, when ``pass_score`` is set).

    A metric error always fails the case.
    """
    if any(s.error for s in scored):
        return False
    if pass_score is not None:
        weighted = [(s.score, s.weight) for s in scored if s.score is not None and s.weight > 0]
        total = sum(w for _, w in weighted)
        if total == 0:
            return False
        mean = sum(sc * w for sc, w in weighted) / total
        # Raw measures with `max:` still gate individually under the weighted rule.
        return mean >= pass_score - 1e-12 and all(
            s.passed is not False for s in scored if s.max is not None
        )
    return all(s.passed is not False for s in scored)
