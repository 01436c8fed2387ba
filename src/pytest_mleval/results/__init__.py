"""Run results: the records and results file, scoring a case into its record, suite
aggregates and gates, and the one regression rule (core).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .aggregate import aggregate_suite, evaluate_gates
    from .compare import Comparison, compare_runs, regression_check
    from .records import (
        Aggregate,
        CaseResult,
        CollectionError,
        GateResult,
        MetricScore,
        RunMeta,
        RunResults,
        SuiteInfo,
        Usage,
        load_results,
        run_status,
        write_results,
    )
    from .scoring import error_result, score_case

_WHERE = {
    "Aggregate": "records",
    "CaseResult": "records",
    "CollectionError": "records",
    "Comparison": "compare",
    "GateResult": "records",
    "MetricScore": "records",
    "RunMeta": "records",
    "RunResults": "records",
    "SuiteInfo": "records",
    "Usage": "records",
    "aggregate_suite": "aggregate",
    "compare_runs": "compare",
    "error_result": "scoring",
    "evaluate_gates": "aggregate",
    "load_results": "records",
    "regression_check": "compare",
    "run_status": "records",
    "score_case": "scoring",
    "write_results": "records",
}

__all__ = [
    "Aggregate",
    "CaseResult",
    "CollectionError",
    "Comparison",
    "GateResult",
    "MetricScore",
    "RunMeta",
    "RunResults",
    "SuiteInfo",
    "Usage",
    "aggregate_suite",
    "compare_runs",
    "error_result",
    "evaluate_gates",
    "load_results",
    "regression_check",
    "run_status",
    "score_case",
    "write_results",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
