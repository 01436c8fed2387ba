"""The one regression rule: the run's gate and ``mleval compare`` agree on verdict and exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.compare import compare_runs, regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults, SuiteInfo

# rouge_l is informational (no threshold); contains always passes, so the pass rate holds.
SUITE = """
suite: s
target: python:app:answer
metrics:
  - rouge_l
  - contains: {value: "refund"}
{extra}
cases:
""" + "".join(
    f"  - {{id: c{i}, input: q{i}, expected: 'refund within thirty days of delivery {i}'}}\n"
    for i in range(24)
)

GOOD = "def answer(case):\n    return case.expected\n"
# Most answers lose words: rouge_l drops a lot, "refund" is still there.
WORSE = (
    "def answer(case):\n"
    "    if int(case.id[1:]) < 4:\n"
    "        return case.expected\n"
    "    return 'refund ' + case.id\n"
)


def _run_pair(pytester: pytest.Pytester, extra: str = "", *args: str) -> pytest.RunResult:
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE.replace("{extra}", extra))
    pytester.makepyfile(app=GOOD)
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=24)
    pytester.makepyfile(app=WORSE)
    return pytester.runpytest("--mleval-baseline", "base.json", *args)


def _compare_cli(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    code = main(
        [
            "compare",
            str(pytester.path / "base.json"),
            str(pytester.path / "reports" / "mleval-results.json"),
        ]
    )
    capsys.readouterr()
    return code


def test_informational_metric_regression_fails_the_run_and_compare_agrees(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _run_pair(pytester)
    result.stdout.fnmatch_lines(["*rouge_l*regressed*", "*gate s: FAIL regression beyond*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _compare_cli(pytester, capsys) == 1
    run = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    rouge = next(m for m in run["comparison"]["suites"][0]["metrics"] if m["metric"] == "rouge_l")
    assert rouge["gating"] and rouge["regression"]
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "Gates: 0/1 passed" in summary


def test_regression_metrics_narrows_the_gate_in_the_run_and_in_compare(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _run_pair(pytester, "regression_metrics: [pass_rate]")
    result.stdout.fnmatch_lines(["*gate s: PASS no significant regression*1 gating metric*"])
    assert result.ret == pytest.ExitCode.OK
    # mleval compare reads the suite's regression_metrics from the candidate's results.
    assert _compare_cli(pytester, capsys) == 0
    run = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    rows = {m["metric"]: m for m in run["comparison"]["suites"][0]["metrics"]}
    assert rows["pass_rate"]["gating"] and not rows["rouge_l"]["gating"]
    assert rows["rouge_l"]["verdict"] == "regressed" and not rows["rouge_l"]["regression"]


def test_regression_metrics_flag_narrows_suites_without_their_own(
    pytester: pytest.Pytester,
) -> None:
    result = _run_pair(pytester, "", "--mleval-regression-metrics", "pass_rate,contains")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*gate s: PASS*2 gating metric*"])


def _runs(drop: float, *, metric: str = "m") -> tuple[RunResults, RunResults]:
    base, cand = [], []
    for i in range(40):
        v = 0.5 + 0.01 * (i % 10)
        base.append(CaseResult(suite="s", case_id=f"c{i}", scores={metric: MetricScore(score=v)}))
        w = v - drop + 0.002 * (i % 3)
        cand.append(CaseResult(suite="s", case_id=f"c{i}", scores={metric: MetricScore(score=w)}))
    return RunResults(cases=base), RunResults(cases=cand)


def test_significant_drop_within_margin_never_reads_regressed() -> None:
    base, cand = _runs(0.03)
    comparison = compare_runs(base, cand, margin=0.05)
    m = next(r for r in comparison.suites[0].metrics if r.metric == "m")
    assert m.p_adjusted < 0.05 and not m.regression
    assert m.verdict == "worse within margin"


def test_compare_uses_each_suites_margin_from_the_candidate() -> None:
    base, cand = _runs(0.03)
    cand.suites = [SuiteInfo(name="s", regression_margin=0.05)]
    comparison, gates = regression_check(base, cand)
    assert not comparison.regressed and gates[0].passed
    comparison, gates = regression_check(base, cand, margin=0.0)
    assert comparison.regressed and not gates[0].passed


def test_raw_measures_are_compared_but_gate_only_when_named() -> None:
    base, cand = _runs(-30.0, metric="latency_ms")  # latency rose by 30 ms
    comparison, gates = regression_check(base, cand)
    m = comparison.suites[0].metrics[-1]
    assert m.metric == "latency_ms" and m.verdict == "regressed" and not m.gating
    assert gates[0].passed
    comparison, gates = regression_check(base, cand, metrics=["latency_ms"])
    assert comparison.regressed and not gates[0].passed
    # The margin of a raw measure is relative to the baseline mean (30 ms of ~0.55 is huge).
    comparison, gates = regression_check(base, cand, metrics=["latency_ms"], margin=100.0)
    assert gates[0].passed


def test_compare_cli_metrics_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_mleval.results.records import write_results

    base, cand = _runs(0.2)
    write_results(tmp_path / "b.json", base)
    write_results(tmp_path / "c.json", cand)
    assert main(["compare", str(tmp_path / "b.json"), str(tmp_path / "c.json")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out
    args = ["compare", str(tmp_path / "b.json"), str(tmp_path / "c.json"), "--metrics", "pass_rate"]
    assert main(args) == 0


def test_raw_measures_with_zero_or_one_values_are_not_compared_as_pass_fail() -> None:
    base = RunResults(
        cases=[
            CaseResult(suite="s", case_id=f"c{i}", scores={"cost_usd": MetricScore(score=0.0)})
            for i in range(10)
        ]
    )
    cand = RunResults(
        cases=[
            CaseResult(suite="s", case_id=f"c{i}", scores={"cost_usd": MetricScore(score=1.0)})
            for i in range(10)
        ]
    )
    m = compare_runs(base, cand).suites[0].metrics[-1]
    assert m.metric == "cost_usd" and "McNemar" not in m.test


def test_identical_bounded_scores_never_get_a_zero_width_difference_interval() -> None:
    base, _ = _runs(0.0)
    m = next(r for r in compare_runs(base, base).suites[0].metrics if r.metric == "m")
    assert m.diff == 0 and m.ci_low < 0 < m.ci_high
    raw, _ = _runs(0.0, metric="latency_ms")
    m = compare_runs(raw, raw).suites[0].metrics[-1]
    assert m.metric == "latency_ms" and m.ci_low == m.ci_high == 0  # unbounded: no bound exists


def test_misspelt_regression_metric_is_an_error_not_a_green(pytester: pytest.Pytester) -> None:
    # Before: the gate compared pass_rate only, read PASS and exited 0 while rouge_l regressed.
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE.replace("{extra}", ""))
    pytester.makepyfile(app=GOOD)
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=24)
    typo = "regression_metrics: [pass_rate, rougel]"
    pytester.makefile(".eval.yaml", s=SUITE.replace("{extra}", typo))
    pytester.makepyfile(app=WORSE)
    result = pytester.runpytest("--mleval-baseline", "base.json")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*s.eval.yaml:*regression_metrics*'rougel' is not a metric of suite s*"]
    )
    assert "PASS no significant regression" not in result.stdout.str()


def test_misspelt_regression_metrics_flag_fails_the_gate(pytester: pytest.Pytester) -> None:
    # Before: "PASS no significant regression ... 1 gating metric(s)" and exit 0.
    result = _run_pair(pytester, "", "--mleval-regression-metrics", "pass_rate,rougel")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*gate s: FAIL regression cannot be checked*'rougel'*did you mean 'rouge_l'*"]
    )
