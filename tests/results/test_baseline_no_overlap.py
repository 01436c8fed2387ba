"""A baseline that compares nothing fails the regression gate instead of reading green.

A candidate whose only suite was renamed (every case scoring 0) against a baseline with the
old name exited 0 with "Run passed": no suite was in both runs, so no gate was made. A
baseline saved from a run with a collection error (0 cases) made every later run green.
"""

from __future__ import annotations

from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults


def _run(suite: str, score: float) -> RunResults:
    return RunResults(
        cases=[
            CaseResult(
                suite=suite,
                case_id=f"c{i}",
                passed=score > 0.5,
                scores={"q": MetricScore(score=score)},
            )
            for i in range(10)
        ]
    )


def test_a_baseline_sharing_no_suite_fails_the_gate() -> None:
    comparison, gates = regression_check(_run("old", 1.0), _run("new", 0.0))
    assert comparison.regressed
    assert [g.suite for g in gates] == ["new"] and not gates[0].passed
    assert "shares no suite" in gates[0].message


def test_an_empty_baseline_fails_the_gate() -> None:
    comparison, gates = regression_check(RunResults(cases=[]), _run("s", 0.0))
    assert comparison.regressed
    assert len(gates) == 1 and not gates[0].passed
    assert "baseline has no case" in gates[0].message


def test_a_new_suite_beside_a_shared_one_is_not_a_failure() -> None:
    base = _run("s", 1.0)
    cand = RunResults(cases=[*_run("s", 1.0).cases, *_run("added", 1.0).cases])
    comparison, gates = regression_check(base, cand)
    assert not comparison.regressed and all(g.passed for g in gates)
