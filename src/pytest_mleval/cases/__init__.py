"""Eval files: the suite schema, the case ready to run, the strict YAML reader and the dataset
readers (core: no pytest, no network).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .case import EvalCase
    from .jsonschema import eval_file_json_schema
    from .schema import (
        Case,
        GateSpec,
        MetricSpec,
        SuiteSpec,
        parse_metric_entries,
    )
    from .suite import Suite, load_suite

_WHERE = {
    "Case": "schema",
    "EvalCase": "case",
    "GateSpec": "schema",
    "MetricSpec": "schema",
    "Suite": "suite",
    "SuiteSpec": "schema",
    "eval_file_json_schema": "jsonschema",
    "load_suite": "suite",
    "parse_metric_entries": "schema",
}

__all__ = [
    "Case",
    "EvalCase",
    "GateSpec",
    "MetricSpec",
    "Suite",
    "SuiteSpec",
    "eval_file_json_schema",
    "load_suite",
    "parse_metric_entries",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
