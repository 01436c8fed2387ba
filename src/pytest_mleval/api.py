"""The Python API: eval cases and metric checks inside plain pytest tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from . import context
from .cases.schema import MetricSpec, parse_metric_entries
from .cases.suite import load_suite
from .errors import MetricError
from .metrics.registry import unknown_metric_problem
from .results.records import CaseResult
from .targets.registry import EvalCase, TargetOutput, normalize_output
from .targets.render import eval_cases

__all__ = ["Checker", "check", "load_cases"]


def load_cases(path: str | Path, *, repeats: int | None = None) -> list[Any]:
    """Cases of an eval file as ``pytest.param`` objects (ids and tag markers set).

    Use with ``@pytest.mark.parametrize("case", load_cases("evals/x.eval.yaml"))``; each
    value is an :class:`~pytest_mleval.targets.registry.EvalCase`.
    """
    suite = load_suite(path, known_metric=unknown_metric_problem)
    params = []
    n = repeats or suite.spec.repeats
    for ec in eval_cases(suite, repeats):
        config = context.current_config()
        if config is not None:
            from .collect import register_tag_marker

            for tag in ec.tags:
                register_tag_marker(config, tag)
        marks = [getattr(pytest.mark, tag) for tag in ec.tags]
        case_id = ec.id if n == 1 else f"{ec.id}[r{ec.repeat + 1}]"
        params.append(pytest.param(ec, id=f"{suite.name}::{case_id}", marks=marks))
    return params


def _as_eval_case(case: Any, suite: str | None) -> EvalCase:
    if isinstance(case, EvalCase):
        return case
    if isinstance(case, dict):
        known = {k: v for k, v in case.items() if k in EvalCase.__dataclass_fields__}
        known.setdefault("id", "case")
        known.setdefault("input", None)
        known["suite"] = suite or known.get("suite") or "python"
        ec = EvalCase(**known)
        ec.metrics = [MetricSpec(**m) for m in parse_metric_entries(case.get("metrics"))]
        return ec
    raise TypeError(f"check() takes an EvalCase or a dict, got {type(case).__name__}")


def check(
    case: Any,
    output: Any,
    *,
    metrics: list[Any] | None = None,
    suite: str | None = None,
    raise_on_fail: bool = True,
    item: pytest.Item | None = None,
) -> CaseResult:
    """Score ``output`` for ``case`` with the case's metrics (or ``metrics``), record the result.

    Args:
        case: An ``EvalCase`` from :func:`load_cases`, or a dict with ``id``, ``input``,
            ``expected``...
        output: What the system produced: a string, or a dict with ``output`` and extras.
        metrics: Metric entries (as in YAML) replacing the case's own.
        suite: Suite name for results (defaults to the case's suite).
        raise_on_fail: Raise an ``AssertionError`` with the metric table when the case fails.
        item: The pytest item to record on (defaults to the running test).

    Returns:
        The case result, also recorded for the run's results, gates and reports.
    """
    from .collect import EvalCaseFailure

    ec = _as_eval_case(case, suite)
    if suite is not None:
        ec.suite = suite
    if metrics is not None:
        ec.metrics = [MetricSpec(**m) for m in parse_metric_entries(metrics)]
        for m in ec.metrics:
            problem = unknown_metric_problem(m.kind)
            if problem:
                raise MetricError(problem)
    out: TargetOutput = normalize_output(output)
    node = item or context.current_item()
    from .collect import score_metered

    result, scored = score_metered(ec, out, nodeid=node.nodeid if node is not None else "")
    if node is not None:
        node.user_properties.append((context.CASE_PROPERTY, result.model_dump_json()))
        for s in scored:
            if s.score is not None:
                node.user_properties.append((f"mleval.{s.name}", round(s.score, 6)))
    if raise_on_fail and not result.passed:
        raise EvalCaseFailure(result, scored)
    return result


class Checker:
    """The ``mleval`` fixture: :func:`check` bound to the current test."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item

    def check(self, case: Any, output: Any, **kwargs: Any) -> CaseResult:
        """See :func:`pytest_mleval.check`."""
        kwargs.setdefault("item", self.item)
        return check(case, output, **kwargs)
