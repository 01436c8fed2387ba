"""Metrics: pure scoring functions behind a registry.

A metric is ``fn(sample, **params) -> float | (float, explanation)``. Scores are in [0, 1]
unless the metric is a raw measure (``latency_ms``, ``cost_usd``), which passes by ``max:``.
Metrics that need models (judges, embeddings) register lazily: their module is imported only
when a suite uses them.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
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


# Built-in metrics register themselves on import; they need the registry defined above.
from . import builtin_metrics  # noqa: E402, F401
