"""A comparison says when a metric's pass rule changed since the baseline.

Before, tightening ``rouge_l``'s threshold from 0.5 to 0.7 on a branch failed the regression
gate on ``pass_rate`` ("regression beyond margin 0: pass_rate -0.5") with no word that the
cases were judged by another rule, and loosening it read as an improved pass rate. The scores
themselves are compared as before; the warning says the pass rates are not like for like.
"""

from __future__ import annotations

from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults


def _run(threshold: float | None, *, n: int = 10, max_: float | None = None) -> RunResults:
    cases = []
    for i in range(n):
        score = 0.6
        passed = None if threshold is None and max_ is None else score >= (threshold or 0.0)
        cases.append(
            CaseResult(
                suite="s",
                case_id=f"c{i}",
                passed=bool(passed) if passed is not None else True,
                scores={
                    "rouge_l": MetricScore(
                        score=score, threshold=threshold, max=max_, passed=passed
                    ),
                    "exact": MetricScore(score=1.0, threshold=1.0, passed=True),
                },
            )
        )
    return RunResults(cases=cases)


def test_a_tightened_threshold_is_named() -> None:
    comparison, gates = regression_check(_run(0.5), _run(0.7))
    (warning,) = [w for w in comparison.warnings if "pass rule" in w]
    assert warning == (
        "suite s: the pass rule of rouge_l changed since the baseline on 10 of 10 paired "
        "cases (threshold 0.5 -> 0.7): pass_rate compares cases judged by different rules"
    )
    assert not gates[0].passed  # the verdict stays the rule's: the pass rate did fall


def test_a_loosened_threshold_and_a_new_bound_are_named() -> None:
    comparison, _ = regression_check(_run(0.7), _run(None))
    assert any("rouge_l" in w and "threshold 0.7 -> none" in w for w in comparison.warnings)
    comparison, _ = regression_check(_run(0.5), _run(0.5, max_=0.9))
    assert any("rouge_l" in w and "max none -> 0.9" in w for w in comparison.warnings)


def test_an_unchanged_rule_adds_no_warning() -> None:
    comparison, _ = regression_check(_run(0.5), _run(0.5))
    assert not [w for w in comparison.warnings if "pass rule" in w]
