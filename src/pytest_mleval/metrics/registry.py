"""Metrics: pure scoring functions behind a registry.

A metric is ``fn(sample, **params) -> float | (float, explanation)``. Scores are in [0, 1]
unless the metric is a raw measure (``latency_ms``, ``cost_usd``), which passes by ``max:``.

The deterministic built-ins (:mod:`.builtin`, the trajectory metrics of :mod:`.tools` and the
leak metrics of :mod:`.safety`) are registered here when the registry loads.
Metrics that need models (judges, embeddings) live in service packages and reach the registry
through the ``pytest_mleval.metrics`` entry-point group: the providing module is imported only
when a suite uses one of its metrics, and registers it (with its options model) on import.
Third-party packages provide metrics the same way.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint
from typing import Any, TypeVar

from pydantic import ValidationError

from ..errors import MetricError
from .base import (
    RESERVED_OPTIONS,
    MetricFn,
    MetricOptionError,
    MetricOptions,
    MetricValue,
    Sample,
    SkipMetric,
    SourceScalar,
    typed_reading,
)
from .builtin import BUILTIN_METRICS
from .safety import SAFETY_METRICS
from .tools import TOOL_METRICS

__all__ = [
    "ENTRY_POINT_GROUP",
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
    "needs_options",
    "options_model",
    "owned_reserved",
    "register_metric",
    "unknown_metric_problem",
    "validate_options",
]


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
    floor: float | None = None
    """The least value a raw measure takes, where known (0 for the built-in counts, times and
    costs); ``None``: not known."""
    lower_is_better: bool = False
    """A raw measure where less is better (latency, cost): a ``threshold`` (minimum) on it
    passes the slow, costly outputs, so it is a collection error."""

    @property
    def builtin(self) -> bool:
        """Whether pytest-mleval itself provides the metric (not a user's registration).

        Told by where the function lives: this package's own modules (core built-ins and the
        service metrics its entry points name), as opposed to a user's or a plugin's.
        """
        where = self.lazy or getattr(self.fn, "__module__", "") or ""
        return where.partition(".")[0] == _PACKAGE

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
_PACKAGE = __name__.partition(".")[0]

ENTRY_POINT_GROUP = "pytest_mleval.metrics"
"""Entry-point group of metrics provided by other packages (pytest-mleval's own services too).

Each entry is ``NAME = "module:function"``. The module registers the metric when imported
(:func:`register_metric` or :func:`metric`); a function it does not register is registered
under NAME with the settings of its ``@metric`` decorator, if any.
"""
_PROVIDED: dict[str, EntryPoint] | None = None


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


def _provided() -> dict[str, EntryPoint]:
    """Metric name -> entry point, read once: only a name the registry lacks needs it."""
    global _PROVIDED
    if _PROVIDED is None:
        from importlib.metadata import entry_points

        _PROVIDED = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _PROVIDED


def _entry_point_only(name: str) -> bool:
    """Whether an entry point provides ``name`` (``python:`` references never are)."""
    return not name.startswith("python:") and name in _provided()


def _load_provided(name: str, entry: EntryPoint) -> MetricDef:
    """Import the module behind an entry point and return the metric it provides."""
    try:
        obj = entry.load()
    except Exception as exc:
        raise MetricError(
            f"metric {name!r} (entry point {entry.value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if name in _REGISTRY:  # the module registered it on import, the usual way
        return _REGISTRY[name]
    if isinstance(obj, MetricDef):
        mdef = replace(obj, name=name)
    elif callable(obj):
        mdef = _decorated(name, obj)
    else:
        raise MetricError(f"entry point {entry.value} of metric {name!r} is not a metric function")
    _REGISTRY[name] = mdef
    return mdef


def _decorated(name: str, fn: MetricFn) -> MetricDef:
    """A metric function's definition, with the settings of its ``@metric`` decorator if any."""
    found = getattr(fn, "__mleval_metric__", None)
    return MetricDef(
        name=name,
        fn=fn,
        default_threshold=getattr(found, "default_threshold", None),
        raw=bool(getattr(found, "raw", False)),
        description=getattr(found, "description", ""),
        options=getattr(found, "options", None),
    )


def metric_names() -> list[str]:
    """Sorted names of every registered metric, and of those entry points provide."""
    return sorted({*_REGISTRY, *_provided()})


def get_metric(name: str) -> MetricDef:
    """Look up a metric by name, or import ``python:MODULE:FUNC``.

    Raises:
        MetricError: unknown name (listing the valid ones) or an import failure.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    entry = None if name.startswith("python:") else _provided().get(name)
    if entry is not None:
        return _load_provided(name, entry)
    if name.startswith("python:"):
        ref = name[len("python:") :]
        module, _, attr = ref.partition(":")
        if not module or not attr:
            raise MetricError(f"custom metric {name!r} must be python:MODULE:FUNC")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise MetricError(f"cannot import custom metric {name!r}: {exc}") from None
        return replace(_decorated(name, fn), description="")
    raise MetricError(f"unknown metric {name!r}; valid metrics: {', '.join(metric_names())}")


def unknown_metric_problem(name: str) -> str | None:
    """The error message for a metric name that cannot be used, else ``None``.

    A name an entry point provides is known without importing its module (collection of a
    suite that lists a judge metric imports no judge code).
    """
    if name in _REGISTRY or _entry_point_only(name):
        return None
    try:
        get_metric(name)
    except MetricError as exc:
        return str(exc)
    return None


def _known(name: str) -> MetricDef | None:
    """Metric ``name``'s definition as collection may know it: ``None`` for a name only an
    entry point provides (its module is not imported at collection) or that cannot be loaded
    (reported as such elsewhere)."""
    mdef = _REGISTRY.get(name)
    if mdef is not None:
        return mdef
    if _entry_point_only(name):
        return None
    try:
        return get_metric(name)
    except MetricError:
        return None


def metric_is_bounded(name: str) -> bool:
    """Whether metric ``name`` is known to score in [0, 1] (registered, not a raw measure).

    False for a raw measure, and for a name only an entry point provides or that cannot be
    loaded: what is not known to be bounded is not checked as bounded.
    """
    mdef = _known(name)
    return mdef is not None and not mdef.raw


def metric_floor(name: str) -> float | None:
    """The least value raw measure ``name`` takes, when known (0 for the built-in ones)."""
    mdef = _known(name)
    return None if mdef is None or not mdef.raw else mdef.floor


def metric_lower_is_better(name: str) -> bool:
    """Whether metric ``name`` is a raw measure known to be better when lower (time, cost)."""
    mdef = _known(name)
    return mdef is not None and mdef.raw and mdef.lower_is_better


def metric_default_threshold(name: str) -> float | None:
    """The default minimum score of metric ``name``, if it has one.

    ``None`` also for a name only an entry point provides (not imported to find out) or that
    cannot be loaded.
    """
    mdef = _known(name)
    return None if mdef is None else mdef.default_threshold


def metric_can_fail(name: str) -> bool:
    """Whether metric ``name``, listed with no threshold, can still fail a case.

    True when it has a default threshold, and for a name only an entry point provides (its
    module is not imported at collection, so it is given the benefit of the doubt) or one
    that cannot be loaded (reported as such elsewhere).
    """
    mdef = _known(name)
    return mdef is None or mdef.default_threshold is not None


def owned_reserved(name: str) -> frozenset[str]:
    """The reserved option names (``name``, ``max``...) metric ``name`` declares as its own.

    ``tool_called: {name: get_weather, max: 2}`` means the tool and its most calls, not a
    label and a score ceiling: an eval-file reader passes these keys to the metric instead
    of reading them as the entry's. Only metrics already registered are looked at, so no
    provider module is imported to read an eval file.
    """
    mdef = _REGISTRY.get(name)
    if mdef is None or not isinstance(mdef.options, type):
        return frozenset()
    return frozenset(key for key in RESERVED_OPTIONS if key in mdef.options.model_fields)


def needs_options(name: str) -> bool:
    """Whether metric ``name`` has options that must be given (``tool_called``'s ``name``),
    so that an entry without any is checked when the eval file loads, not when it is scored.

    Only metrics already registered are looked at (no provider module is imported).
    """
    mdef = _REGISTRY.get(name)
    if mdef is None or not isinstance(mdef.options, type):
        return False
    return any(info.is_required() for info in mdef.options.model_fields.values())


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
        return typed_reading(dict(params))  # type: ignore[no-any-return]
    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [str(p) for p in err["loc"]]
        option = loc[0] if loc else None
        valid = model.valid_options()
        if err["type"] == "extra_forbidden":
            message = f"unknown option {option!r} of metric {name!r}; valid options: {valid}"
        else:
            where = f"option {'.'.join(loc)!r}" if loc else "options"
            msg = str(err["msg"]).removeprefix("Value error, ")  # our validators' own words
            message = f"{where} of metric {name!r}: {msg} (valid options: {valid})"
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
    raw: bool = False
    """A raw measure (latency, cost): gated by ``max:`` only, never averaged with scores."""


class _Default:
    def __repr__(self) -> str:
        return "NO_THRESHOLD"


NO_THRESHOLD = _Default()
"""Passed as ``threshold`` to make a metric informational even if it has a default."""


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
    thr: float | None = None
    raw = False
    try:
        mdef = get_metric(metric_name)
        raw = mdef.raw
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
        if math.isinf(value.score):
            # JSON has no infinity: it would be written as null and the case left out.
            raise MetricError(f"metric returned {value.score!r}, not a finite number")
        if not mdef.raw:
            if not (-1e-9 <= value.score <= 1 + 1e-9):
                raise MetricError(f"metric returned {value.score!r}, outside [0, 1]")
            # Float noise past a bound (0.33 + 0.56 + 0.11 > 1) is the bound: a score above 1
            # would read as a raw measure and get a t interval of zero width.
            clamped = min(1.0, max(0.0, value.score))
            if clamped != value.score:
                value = MetricValue(clamped, value.explanation, value.data)
    except SkipMetric as skip:
        return Scored(
            name=name,
            score=None,
            # The threshold in effect (the metric's default too): a case whose every
            # thresholded metric was skipped has no verdict (see no_verdict).
            threshold=thr,
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
        raw=raw,
    )


def case_passed(scored: list[Scored], pass_score: float | None = None) -> bool:
    """Every metric with a threshold passes (or the weighted rule, when ``pass_score`` is set).

    A metric error always fails the case.
    """
    if any(s.error for s in scored):
        return False
    if pass_score is not None:
        # Only scores in [0, 1] average: 10 ms of latency would otherwise read as a score of 10.
        weighted = [(s.score, s.weight) for s in scored if s.score is not None and _weighs(s)]
        total = sum(w for _, w in weighted)
        if total == 0:
            return False
        mean = sum(sc * w for sc, w in weighted) / total
        # Raw measures with `max:` still gate individually under the weighted rule.
        return mean >= pass_score - 1e-12 and all(
            s.passed is not False for s in scored if s.max is not None
        )
    return all(s.passed is not False for s in scored)


def no_verdict(scored: list[Scored], pass_score: float | None = None) -> str | None:
    """Why a case has no verdict, or ``None`` when it has one.

    A case whose metrics with a threshold (or ``max:``) were all skipped (a judge without a
    judge model, a metric missing its input) was checked by nothing: it would "pass" whatever
    its output. A case with no threshold at all is informational by choice and keeps its
    (vacuous) pass; a metric error is a verdict (the case errors).
    """
    if any(s.error for s in scored):
        return None
    if pass_score is not None:
        if any(_weighs(s) for s in scored):
            return None
        unscored = [s for s in scored if s.skipped and s.weight > 0]
    else:
        if any(s.passed is not None for s in scored):
            return None
        unscored = [
            s for s in scored if s.skipped and (s.threshold is not None or s.max is not None)
        ]
    if not unscored:
        return None
    why = "; ".join(f"{s.name}: {s.skipped}" for s in unscored)
    return f"no metric could give a verdict: {why}"


def _weighs(s: Scored) -> bool:
    """Whether ``s`` counts in the weighted rule's mean (a score in [0, 1] with a weight)."""
    return s.score is not None and s.weight > 0 and not s.raw


def _register_builtins() -> None:
    for builtin in (*BUILTIN_METRICS, *TOOL_METRICS, *SAFETY_METRICS):
        register_metric(
            builtin.name,
            builtin.fn,
            threshold=builtin.threshold,
            raw=builtin.raw,
            options=builtin.options,
        )
        if builtin.raw:
            # What register_metric does not take: known only of our own measures.
            _REGISTRY[builtin.name] = replace(
                _REGISTRY[builtin.name], floor=0.0, lower_is_better=builtin.lower_is_better
            )


_register_builtins()
