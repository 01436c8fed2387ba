"""Metrics: the registry, the built-in metrics and scoring a case (core).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .registry import (
        MetricOptionError,
        MetricOptions,
        MetricValue,
        Sample,
        Scored,
        SkipMetric,
        case_passed,
        get_metric,
        metric,
        metric_names,
        register_metric,
        score_metric,
        validate_options,
    )
    from .scoring import error_result, score_case
    from .textsim import corpus_bleu, rouge_l, rouge_n, sentence_bleu

_WHERE = {
    "MetricOptionError": "registry",
    "MetricOptions": "registry",
    "MetricValue": "registry",
    "Sample": "registry",
    "Scored": "registry",
    "SkipMetric": "registry",
    "case_passed": "registry",
    "corpus_bleu": "textsim",
    "error_result": "scoring",
    "get_metric": "registry",
    "metric": "registry",
    "metric_names": "registry",
    "register_metric": "registry",
    "rouge_l": "textsim",
    "rouge_n": "textsim",
    "score_case": "scoring",
    "score_metric": "registry",
    "sentence_bleu": "textsim",
    "validate_options": "registry",
}

__all__ = [
    "MetricOptionError",
    "MetricOptions",
    "MetricValue",
    "Sample",
    "Scored",
    "SkipMetric",
    "case_passed",
    "corpus_bleu",
    "error_result",
    "get_metric",
    "metric",
    "metric_names",
    "register_metric",
    "rouge_l",
    "rouge_n",
    "score_case",
    "score_metric",
    "sentence_bleu",
    "validate_options",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
