"""The regression gate's Holm adjustment runs over the gating metrics only.

With ``regression_metrics: [q]``, three unchanged informational metrics beside ``q`` turned
a significant drop of ``q`` (interval clear of 0) into "no significant change" and a green
gate: the adjustment counted metrics that do not gate.
"""

from __future__ import annotations

from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults, SuiteInfo


def _runs(extra: int) -> tuple[RunResults, RunResults]:
    base, cand = [], []
    for i in range(20):
        info = {f"m{k}": MetricScore(score=0.5) for k in range(extra)}
        base.append(
            CaseResult(suite="s", case_id=f"c{i}", scores={"q": MetricScore(score=1.0), **info})
        )
        q = 0.0 if i < 7 else 1.0
        cand.append(
            CaseResult(suite="s", case_id=f"c{i}", scores={"q": MetricScore(score=q), **info})
        )
    suites = [SuiteInfo(name="s", regression_metrics=["q"])]
    return RunResults(cases=base, suites=suites), RunResults(cases=cand, suites=suites)


def test_informational_metrics_do_not_dilute_the_gate() -> None:
    alone, gates_alone = regression_check(*_runs(0))
    diluted, gates = regression_check(*_runs(3))
    q_alone = next(r for r in alone.suites[0].metrics if r.metric == "q")
    q = next(r for r in diluted.suites[0].metrics if r.metric == "q")
    assert q_alone.regression and not gates_alone[0].passed
    assert q.p_adjusted == q_alone.p_adjusted
    assert q.regression and q.verdict == "regressed"
    assert not gates[0].passed
