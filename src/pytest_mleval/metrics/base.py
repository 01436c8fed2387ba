"""What a metric function sees and answers: the sample, the value, the options model.

The lowest module of :mod:`pytest_mleval.metrics`: the built-in metrics and the registry both
build on it, so neither needs the other to define a metric.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

from ..errors import MetricError

__all__ = [
    "RESERVED_OPTIONS",
    "MetricFn",
    "MetricOptionError",
    "MetricOptions",
    "MetricValue",
    "Sample",
    "SkipMetric",
    "SourceScalar",
    "typed_reading",
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


def typed_reading(value: Any) -> Any:
    """``value`` with every SourceScalar replaced by its typed reading.

    Args:
        value: An option value as the eval-file reader built it (lists and dicts are walked).

    Returns:
        The same structure with YAML 1.2 readings in place of the source texts.
    """
    if isinstance(value, SourceScalar):
        return value.typed
    if isinstance(value, list):
        return [typed_reading(v) for v in value]
    if isinstance(value, dict):
        return {k: typed_reading(v) for k, v in value.items()}
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
        return {k: (_plain(v) if k in text else typed_reading(v)) for k, v in data.items()}

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


class SkipMetric(Exception):
    """Raised by a metric that cannot be computed here (e.g. no judge model): never a score."""
