"""The Markdown summary fits a pull-request comment.

GitHub refuses a comment over 65,536 characters whole, so the sticky comment of a large run
(many suites, many failing cases with long errors) never posted, and the pull request showed
no verdict at all. The summary now leaves details out, least important first, keeps the
verdict, the collection errors and the failing gates, and says what it left out.
"""

from __future__ import annotations

from pytest_mleval.report.summary import COMMENT_LIMIT, render_summary
from pytest_mleval.results.records import (
    Aggregate,
    CaseResult,
    CollectionError,
    GateResult,
    MetricScore,
    RunMeta,
    RunResults,
    SuiteInfo,
)


def _big_run(suites: int = 80, cases: int = 40) -> RunResults:
    run = RunResults(meta=RunMeta(exit_status=1))
    run.collection_errors = [
        CollectionError(nodeid="evals/bad.eval.yaml", file="evals/bad.eval.yaml", message="bad")
    ]
    for s in range(suites):
        name = f"suite-{s:03d}"
        run.suites.append(SuiteInfo(name=name, n_cases=cases))
        for m in ("pass_rate", "exact", "rouge_l", "judge"):
            run.aggregates.append(
                Aggregate(
                    suite=name,
                    metric=m,
                    estimate=0.5,
                    ci_low=0.3,
                    ci_high=0.7,
                    n=cases,
                    method="wilson",
                )
            )
        run.gates.append(
            GateResult(
                suite=name,
                metric="pass_rate",
                stat="mean",
                on="estimate",
                min=0.9,
                value=0.5,
                passed=s % 10 != 0,
                message=f"pass_rate of {name} is 0.5000, needs 0.9",
            )
        )
        for c in range(cases):
            run.cases.append(
                CaseResult(
                    suite=name,
                    case_id=f"case-{c:03d}",
                    passed=False,
                    error="RuntimeError: " + "the upstream service failed " * 20,
                    scores={"exact": MetricScore(score=0.0, passed=False)},
                )
            )
    return run


def test_a_large_run_fits_a_comment_and_keeps_its_verdict() -> None:
    run = _big_run()
    text = render_summary(run)
    assert len(text) <= COMMENT_LIMIT < 65_536
    lines = text.splitlines()
    assert lines[2].startswith("⚠️ **Run incomplete: 1 file")  # the verdict
    assert "evals/bad.eval.yaml" in text  # the files that could not be collected
    failing = [g for g in run.gates if not g.passed]
    assert all(g.message in text for g in failing)  # every failing gate is shown
    assert "✂️ Shortened to fit a pull-request comment" in text
    assert "the HTML report has everything" in text


def test_a_small_run_is_shown_whole() -> None:
    run = _big_run(suites=2, cases=3)
    text = render_summary(run)
    assert "✂️" not in text
    assert "<details><summary>3 failing or errored case result(s)</summary>" in text
    assert all(g.message in text for g in run.gates)


def test_even_a_run_that_cannot_fit_stays_under_the_limit() -> None:
    run = _big_run(suites=2, cases=1)
    run.collection_errors = [
        CollectionError(nodeid=f"evals/b{i}.eval.yaml", file=f"evals/b{i}.eval.yaml", message="x")
        for i in range(5000)
    ]
    text = render_summary(run)
    assert len(text) <= COMMENT_LIMIT
    assert text.endswith("the HTML report has everything.")
