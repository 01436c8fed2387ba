"""What a comparison shows beside its verdict reads the same way as the verdict.

Before: a "no spread" difference interval included 0 beside a significant "regressed" with no
word of why; a sequential suite showed the fixed-n Holm p (0.062) beside the sequence's
"regressed"; "worse within margin" did not say the drop was only not shown to exceed the
margin; the terminal's flip list stopped at 10 names without "(+N more)"; and a run whose
cases were mostly deleted since the baseline read a plain "passed".
"""

from __future__ import annotations

import pytest

from pytest_mleval.report.summary import comparison_terminal
from pytest_mleval.results.compare import compare_runs, regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunMeta, RunResults, run_status
from pytest_mleval.results.sequential import CS_PAIRED_METHOD, sequential_verdicts


def _scored(values: list[float], metric: str = "q", passed: bool = True) -> RunResults:
    return RunResults(
        cases=[
            CaseResult(
                suite="s", case_id=f"c{i}", passed=passed, scores={metric: MetricScore(score=v)}
            )
            for i, v in enumerate(values)
        ]
    )


def test_a_significant_row_whose_interval_reaches_0_says_why() -> None:
    # Six cases, each exactly 0.1 lower: the exact sign-flip test gives p = 2/64, while the
    # no-spread interval (valid for any distribution) still reaches above 0.
    comparison, _ = regression_check(_scored([1.0] * 6), _scored([0.9] * 6), metrics=["q"])
    (row,) = [m for m in comparison.suites[0].metrics if m.metric == "q"]
    assert row.verdict == "regressed" and row.ci_low <= 0.0 <= row.ci_high
    assert "the interval beside it is more conservative" in (row.note or "")


def test_worse_within_margin_says_it_was_not_shown_beyond_the_margin() -> None:
    base = _scored([0.5 + 0.01 * (i % 10) for i in range(40)])
    cand = _scored([0.47 + 0.01 * (i % 10) + 0.002 * (i % 3) for i in range(40)])
    comparison = compare_runs(base, cand, margin=0.05)
    (row,) = [m for m in comparison.suites[0].metrics if m.metric == "q"]
    assert row.verdict == "worse within margin"
    assert "not shown to be worse by more than the margin 0.05" in (row.note or "")


@pytest.mark.parametrize(("n", "decided"), [(8, False), (60, True)])
def test_a_sequential_row_shows_the_sequences_own_p_value(n: int, decided: bool) -> None:
    # 8 of 8 flipped: the fixed-n test's p(adj) 0.016 stood beside the sequence's "no
    # significant change".
    base, cand = _scored([1.0] * n), _scored([0.0] * n, passed=False)
    for i, c in enumerate(cand.cases):
        c.run_order = i
    comparison = compare_runs(base, cand)
    (sc,) = comparison.suites
    sequential_verdicts(sc, base.cases, cand.cases, confidence=0.95)
    for row in sc.metrics:
        assert row.test == CS_PAIRED_METHOD
        said = row.verdict in ("regressed", "improved")
        assert said == decided == (row.p_adjusted < 0.05), (row.verdict, row.p_adjusted)


def test_the_terminal_flip_list_says_how_many_more() -> None:
    base = _scored([1.0] * 12)
    cand = _scored([0.0] * 12, passed=False)
    comparison = compare_runs(base, cand)
    lines = comparison_terminal(comparison.model_dump(mode="json"))
    (flips,) = [line for line in lines if "pass -> fail" in line]
    assert flips.endswith("(+2 more)")


@pytest.mark.parametrize("deleted", [0, 17])
def test_a_run_missing_baseline_cases_says_so_in_its_headline(deleted: int) -> None:
    base = _scored([1.0] * 20)
    cand = _scored([1.0] * (20 - deleted))
    comparison, gates = regression_check(base, cand)
    cand.comparison = comparison.model_dump(mode="json")
    cand.gates = gates
    cand.meta = RunMeta(exit_status=0)
    status, text = run_status(cand)
    assert status == "passed"
    if deleted:
        assert text == "passed (17 case(s) of the baseline are not in this run)"
    else:
        assert text == "passed"
