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
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..errors import MetricError

__all__ = [
    "RESERVED_OPTIONS",
    "MetricDef",
    "MetricOptionError",
    "MetricOptions",
    "MetricValue",
    "Sample",
    "SkipMetric",
    "SourceScalar",
    "get_metric",
    "metric",
    "metric_names",
    "options_model",
    "register_metric",
    "unknown_metric_problem",
    "validate_options",
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


# --------------------------------------------------------------------------- options


class SourceScalar(str):
    """A plain YAML scalar in a metric option: the text as written, with its typed reading.

    ``contains: {value: 0123}`` means the text ``0123``; ``k: 5`` means the number 5. Which
    reading an option takes is known only once its metric's options model is looked up, so
    the eval-file reader keeps both (see :func:`validate_options`).
    """

    typed: Any

    @classmethod
    def of(cls, text: str, typed: Any) -> SourceScalar:
        """The scalar ``text`` whose YAML 1.2 reading is ``typed``."""
        obj = cls(text)
        obj.typed = typed
        return obj


def _typed(value: Any) -> Any:
    """``value`` with every SourceScalar replaced by its typed reading."""
    if isinstance(value, SourceScalar):
        return value.typed
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    """``value`` with every SourceScalar replaced by its source text."""
    if isinstance(value, SourceScalar):
        return str.__str__(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _accepts_text(annotation: Any) -> bool:
    """Whether a field annotation takes text anywhere (``str``, ``str | None``, ``list[str]``)."""
    if annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return all(isinstance(a, str) for a in get_args(annotation))
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        return any(_accepts_text(a) for a in get_args(annotation))
    return False


RESERVED_OPTIONS: dict[str, str] = {
    "name": "the label the metric is scored and reported under (default: the metric's name); "
    "needed to list one metric twice in a case",
    "threshold": "minimum score to pass (`null`: informational even if the metric has a default)",
    "max": "maximum value to pass (raw measures such as `latency_ms`, `cost_usd`)",
    "weight": "weight in the suite's weighted pass rule (`pass_score`)",
}
"""Options every metric takes; they belong to the metric entry, not to the metric function."""


class MetricOptions(BaseModel):
    """Base of a metric's options model: unknown options are errors, never silently ignored.

    Fields are the metric function's keyword parameters. A field that takes text receives a
    YAML scalar as written (``yes`` stays ``"yes"``); any other field its typed reading.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
        coerce_numbers_to_str=True,
    )

    @classmethod
    def text_fields(cls) -> frozenset[str]:
        """Names (and aliases) of the fields that take text."""
        cached = _TEXT_FIELDS.get(cls)
        if cached is None:
            names: set[str] = set()
            for fname, info in cls.model_fields.items():
                if _accepts_text(info.annotation):
                    names.add(fname)
                    if isinstance(info.alias, str):
                        names.add(info.alias)
            cached = _TEXT_FIELDS[cls] = frozenset(names)
        return cached

    @model_validator(mode="before")
    @classmethod
    def _source_scalars(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        text = cls.text_fields()
        return {k: (_plain(v) if k in text else _typed(v)) for k, v in data.items()}

    @classmethod
    def option_names(cls) -> list[str]:
        """The options a user may write (a field's alias when it has one), in order."""
        return [info.alias or name for name, info in cls.model_fields.items()]


_TEXT_FIELDS: dict[type[MetricOptions], frozenset[str]] = {}


class MetricOptionError(MetricError):
    """A metric option is unknown or has the wrong type."""

    def __init__(self, metric: str, option: str | None, message: str) -> None:
        self.metric = metric
        self.option = option
        self.problem = message
        super().__init__(message)


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
    options: type[MetricOptions] | str | None = None
    """The options model (or ``module:Class`` imported on first use); ``None`` accepts any."""

    @property
    def builtin(self) -> bool:
        """Whether pytest-mleval itself provides the metric (not a user's registration)."""
        where = self.lazy or getattr(self.fn, "__module__", "") or ""
        return where.startswith("pytest_mleval.")

    def options_model(self) -> type[MetricOptions] | None:
        """The options model, importing a lazily named one."""
        if self.options is None or not isinstance(self.options, str):
            return self.options
        module, _, attr = self.options.partition(":")
        model: type[MetricOptions] = getattr(importlib.import_module(module), attr)
        return model

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
    options: type[MetricOptions] | str | None = None,
) -> None:
    """Register (or replace) a metric under ``name``.

    Args:
        name: The name eval files use.
        fn: ``fn(sample, **options) -> float | (float, explanation) | MetricValue``.
        threshold: Default minimum score to pass (``None``: informational).
        raw: A raw measure (not bounded to [0, 1]) that passes by ``max:``.
        description: One line for listings (default: the function's first doc line).
        lazy: ``module:function`` imported on first use, instead of ``fn``.
        options: The options model (a :class:`MetricOptions` subclass, or ``module:Class``);
            with one, an unknown or mistyped option is a collection error. ``None`` accepts any.
    """
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
        options=options,
    )


def metric(
    name: str | None = None,
    *,
    threshold: float | None = None,
    raw: bool = False,
    options: type[MetricOptions] | None = None,
) -> Callable[[F], F]:
    """Decorator registering a custom metric.

    Args:
        name: The name eval files use (default: the function's name).
        threshold: Default minimum score to pass.
        raw: A raw measure (not bounded to [0, 1]) that passes by ``max:``.
        options: A :class:`MetricOptions` subclass declaring the metric's options; without one
            the metric receives whatever options the eval file gives.

    Example::

        @metric("polite", threshold=1.0)
        def polite(sample, **params):
            return float("please" in sample.output.lower())
    """

    def deco(fn: F) -> F:
        register_metric(name or fn.__name__, fn, threshold=threshold, raw=raw, options=options)
        # `python:MODULE:FUNC` references to a decorated function find its settings here.
        fn.__mleval_metric__ = _REGISTRY[name or fn.__name__]  # type: ignore[attr-defined]
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
            raw=bool(getattr(found, "raw", False)),
            options=getattr(found, "options", None),
        )
    raise MetricError(f"unknown metric {name!r}; valid metrics: {', '.join(metric_names())}")


def unknown_metric_problem(name: str) -> str | None:
    """The error message for a metric name that cannot be used, else ``None``."""
    try:
        get_metric(name)
    except MetricError as exc:
        return str(exc)
    return None


def options_model(name: str) -> type[MetricOptions] | None:
    """The options model of metric ``name`` (``None``: it accepts any options).

    Raises:
        MetricError: unknown metric.
    """
    return get_metric(name).options_model()


def validate_options(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The options of metric ``name`` validated by its model, as keyword arguments.

    Only the options given are returned (the function's own defaults apply to the rest); an
    alias (``rubric`` for ``criteria``) comes back under the field's name.

    Raises:
        MetricOptionError: an unknown option (listing the valid ones) or a wrong value.
        MetricError: unknown metric.
    """
    model = options_model(name)
    if model is None:
        return _typed(dict(params))  # type: ignore[no-any-return]
    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [str(p) for p in err["loc"]]
        option = loc[0] if loc else None
        valid = ", ".join([*model.option_names(), *RESERVED_OPTIONS])
        if err["type"] == "extra_forbidden":
            message = f"unknown option {option!r} of metric {name!r}; valid options: {valid}"
        else:
            where = f"option {'.'.join(loc)!r}" if loc else "options"
            message = f"{where} of metric {name!r}: {err['msg']} (valid options: {valid})"
        raise MetricOptionError(name, option, message) from None
    return validated.model_dump(exclude_unset=True, by_alias=True)


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
    label: str | None = None,
) -> Scored:
    """Run one metric, never raising: a failing metric becomes an error that fails the case.

    ``label`` is the name the score is recorded under (default ``name``): one metric listed
    twice in a case is told apart by it.
    """
    metric_name, name = name, label or name
    try:
        mdef = get_metric(metric_name)
        # None means "use the metric's default"; DEFAULT_OFF (YAML `threshold: null`) means none.
        if threshold is NO_THRESHOLD:
            thr = None
        elif threshold is None:
            thr = mdef.default_threshold
        else:
            thr = float(threshold)  # type: ignore[arg-type]
        # Eval files are validated at collection; this catches options given from Python.
        kwargs = validate_options(metric_name, params or {})
        value = coerce_metric_output(mdef.resolve()(sample, **kwargs))
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
from . import builtin as builtin_metrics  # noqa: E402, F401
