"""pytest-mleval: LLM evaluation as ordinary pytest tests.

The names below load on first use: pytest imports this package at start-up for every project
that has it installed, so importing it must stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_face

if TYPE_CHECKING:
    from .api import Checker, check, load_cases
    from .cases.schema import Case
    from .cases.suite import Suite, load_suite
    from .errors import MlevalError
    from .metrics.registry import MetricValue, Sample, metric, register_metric
    from .report.notebook import load_run
    from .results.records import CaseResult, RunResults, load_results
    from .targets.registry import EvalCase, TargetOutput, register_target_kind

__all__ = [
    "Case",
    "CaseResult",
    "Checker",
    "EvalCase",
    "MetricValue",
    "MlevalError",
    "RunResults",
    "Sample",
    "Suite",
    "TargetOutput",
    "check",
    "load_cases",
    "load_results",
    "load_run",
    "load_suite",
    "metric",
    "register_metric",
    "register_target_kind",
]

_WHERE = {
    "Checker": "api",
    "check": "api",
    "load_cases": "api",
    "Case": "cases.schema",
    "EvalCase": "cases.case",
    "Suite": "cases.suite",
    "load_suite": "cases.suite",
    "MlevalError": "errors",
    "MetricValue": "metrics.registry",
    "Sample": "metrics.registry",
    "metric": "metrics.registry",
    "register_metric": "metrics.registry",
    "CaseResult": "results.records",
    "RunResults": "results.records",
    "load_results": "results.records",
    "load_run": "report.notebook",
    "TargetOutput": "targets.registry",
    "register_target_kind": "targets.registry",
}


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
