"""Model-graded metrics: LLM judges, RAG judges, embedding similarity and judge calibration (a
service).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calibrate import calibrate, cohen_kappa, judge_labels_from_results, load_pairs
    from .rubric import AmbiguousVerdictError, parse_json_verdict, set_backend_factory

_WHERE = {
    "AmbiguousVerdictError": "rubric",
    "calibrate": "calibrate",
    "cohen_kappa": "calibrate",
    "judge_labels_from_results": "calibrate",
    "load_pairs": "calibrate",
    "parse_json_verdict": "rubric",
    "set_backend_factory": "rubric",
}

__all__ = [
    "AmbiguousVerdictError",
    "calibrate",
    "cohen_kappa",
    "judge_labels_from_results",
    "load_pairs",
    "parse_json_verdict",
    "set_backend_factory",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
