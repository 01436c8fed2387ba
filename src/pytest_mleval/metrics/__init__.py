"""Metrics: the registry, the options models and the built-in metrics (core). Metrics that
need models are provided by services through the ``pytest_mleval.metrics`` entry points.

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .base import (
        MetricOptionError,
        MetricOptions,
        MetricValue,
        Sample,
        SkipMetric,
        SourceScalar,
        typed_reading,
    )
    from .registry import (
        Scored,
        case_passed,
        get_metric,
        metric,
        metric_names,
        register_metric,
        score_metric,
        validate_options,
    )
    from .textsim import corpus_bleu, rouge_l, rouge_n, sentence_bleu

_WHERE = {
    "MetricOptionError": "base",
    "MetricOptions": "base",
    "MetricValue": "base",
    "Sample": "base",
    "Scored": "registry",
    "SkipMetric": "base",
    "SourceScalar": "base",
    "case_passed": "registry",
    "corpus_bleu": "textsim",
    "get_metric": "registry",
    "metric": "registry",
    "metric_names": "registry",
    "register_metric": "registry",
    "rouge_l": "textsim",
    "rouge_n": "textsim",
    "score_metric": "registry",
    "sentence_bleu": "textsim",
    "typed_reading": "base",
    "validate_options": "registry",
}

__all__ = [
    "MetricOptionError",
    "MetricOptions",
    "MetricValue",
    "Sample",
    "Scored",
    "SkipMetric",
    "SourceScalar",
    "case_passed",
    "corpus_bleu",
    "get_metric",
    "metric",
    "metric_names",
    "register_metric",
    "rouge_l",
    "rouge_n",
    "score_metric",
    "sentence_bleu",
    "typed_reading",
    "validate_options",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
