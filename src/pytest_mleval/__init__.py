"""pytest-mleval: LLM evaluation as ordinary pytest tests.

The names below load on first use: pytest imports this package at start-up for every project
that has it installed, so importing it must stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Checker, check, load_cases
    from .cases import Case, Suite, load_suite
    from .errors import MlevalError
    from .metrics import MetricValue, Sample, metric, register_metric
    from .notebook import load_run
    from .results import CaseResult, RunResults, load_results
    from .targets import EvalCase, TargetOutput, register_target_kind

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
    "Case": "cases",
    "Suite": "cases",
    "load_suite": "cases",
    "MlevalError": "errors",
    "MetricValue": "metrics",
    "Sample": "metrics",
    "metric": "metrics",
    "register_metric": "metrics",
    "CaseResult": "results",
    "RunResults": "results",
    "load_results": "results",
    "load_run": "notebook",
    "EvalCase": "targets",
    "TargetOutput": "targets",
    "register_target_kind": "targets",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_mleval' has no attribute {name!r}")
    # Not cached in globals(): the submodule stays the single source of truth.
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
