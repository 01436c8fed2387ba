"""A pass-rate gate that no output could fail is a collection error, not a silent green."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.schema import GateSpec
from pytest_mleval.cases.suite import Suite, load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem
from pytest_mleval.results.aggregate import aggregate_suite, evaluate_gates
from pytest_mleval.results.records import CaseResult, MetricScore


def _load(tmp_path: Path, body: str) -> Suite:
    path = tmp_path / "g.eval.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return load_suite(path, known_metric=unknown_metric_problem)


def _suite(metrics: str, gate: str = "{metric: pass_rate, min: 0.9}", extra: str = "") -> str:
    return (
        "suite: s\ntarget: python:app:echo\n"
        f"metrics: {metrics}\n{extra}"
        f"gates:\n  - {gate}\n"
        "cases:\n  - {id: a, input: x, expected: x}\n  - {id: b, input: y, expected: y}\n"
    )


@pytest.mark.parametrize(
    "metrics",
    [
        "[rouge_l]",  # informational: no default threshold
        "[rouge_l, bleu]",
        "[{exact: {threshold: null}}]",  # the default turned off
        "[]",
    ],
)
def test_pass_rate_gate_over_metrics_without_threshold_is_an_error(
    tmp_path: Path, metrics: str
) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, _suite(metrics))
    err = exc.value
    assert err.field == "gates.metric"
    assert err.line == 5  # the gate's own line
    assert "gate pass_rate can never fail" in str(err)
    assert "threshold" in str(err) and "pass_score" in str(err)


def test_error_names_the_metrics(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match=r"its metrics \(bleu, rouge_l\) have no threshold"):
        _load(tmp_path, _suite("[rouge_l, bleu]"))
    with pytest.raises(EvalFileError, match="its cases list no metric"):
        _load(tmp_path, _suite("[]"))


@pytest.mark.parametrize(
    ("metrics", "extra"),
    [
        ("[{rouge_l: {threshold: 0.5}}]", ""),
        ("[{rouge_l: {max: 0.9}}]", ""),
        ("[rouge_l, exact]", ""),  # exact has a default threshold
        ("[contains]", ""),
        ("[rouge_l]", "pass_score: 0.5\n"),
        ("[rouge_l]", "tools: [python:app:lookup]\n"),  # tool errors fail a case
    ],
)
def test_gates_that_can_fail_load(tmp_path: Path, metrics: str, extra: str) -> None:
    suite = _load(tmp_path, _suite(metrics, extra=extra))
    assert [g.metric for g in suite.spec.gates] == ["pass_rate"]


def test_a_case_own_threshold_is_enough(tmp_path: Path) -> None:
    body = (
        "target: python:app:echo\nmetrics: [rouge_l]\n"
        "gates:\n  - {metric: pass_rate, min: 0.9}\n"
        "cases:\n  - {id: a, input: x, metrics: [{rouge_l: {threshold: 0.3}}]}\n"
        "  - {id: b, input: y}\n"
    )
    assert len(_load(tmp_path, body).cases) == 2


def test_a_case_turning_the_suite_threshold_off_counts(tmp_path: Path) -> None:
    # Each case overrides the suite's thresholded rouge_l with `threshold: null`.
    body = (
        "target: python:app:echo\nmetrics: [{rouge_l: {threshold: 0.5}}]\n"
        "gates:\n  - {metric: pass_rate, min: 0.9}\n"
        "cases:\n  - {id: a, input: x, metrics: [{rouge_l: {threshold: null}}]}\n"
    )
    with pytest.raises(EvalFileError, match=r"its metrics \(rouge_l\) have no threshold"):
        _load(tmp_path, body)


def test_tool_errors_allowed_makes_tools_no_check(tmp_path: Path) -> None:
    extra = "tools: [python:app:lookup]\nallow_tool_errors: true\n"
    with pytest.raises(EvalFileError, match="can never fail"):
        _load(tmp_path, _suite("[rouge_l]", extra=extra))


def test_stat_pass_rate_of_a_metric_without_threshold_is_an_error(tmp_path: Path) -> None:
    gate = "{metric: rouge_l, stat: pass_rate, min: 0.8}"
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, _suite("[rouge_l]", gate=gate))
    assert "gate rouge_l (stat: pass_rate) can never be met" in str(exc.value)
    assert exc.value.line == 5
    # With a threshold, or gating its mean, it loads.
    _load(tmp_path, _suite("[{rouge_l: {threshold: 0.4}}]", gate=gate))
    _load(tmp_path, _suite("[rouge_l]", gate="{metric: rouge_l, stat: mean, min: 0.8}"))


def test_max_only_gates_and_other_stats_are_left_alone(tmp_path: Path) -> None:
    # A ceiling on the pass rate, or a mean gate, is not a vacuous green.
    _load(tmp_path, _suite("[rouge_l]", gate="{metric: rouge_l, min: 0.2}"))
    _load(tmp_path, _suite("[rouge_l]", gate="{metric: pass_rate, max: 0.99}"))


@pytest.mark.parametrize(
    ("gate", "field", "says"),
    [
        ("{metric: pass_rate, min: 0}", "gates.min", "every value in [0, 1] meets min 0"),
        ("{metric: exact, min: 0.0}", "gates.min", "every value in [0, 1] meets min 0"),
        ("{metric: rouge_l, stat: median, min: -1}", "gates.min", "meets min -1"),
        ("{metric: exact, max: 1}", "gates.max", "every value in [0, 1] meets max 1"),
        ("{metric: exact, min: 0, max: 1.0, on: ci_low}", "gates.min", "meets min 0 and max 1"),
        ("{metric: exact, stat: pass_rate, max: 1}", "gates.max", "meets max 1"),
        ("{metric: exact, min: 1.2}", "gates.min", "no value in [0, 1] reaches min 1.2"),
        ("{metric: pass_rate, max: -0.1}", "gates.max", "no value in [0, 1] is within max -0.1"),
        ("{metric: latency_ms, min: 500, max: 100}", "gates.min", "min 500 is above max 100"),
    ],
)
def test_a_gate_whose_bounds_decide_every_value_is_an_error(
    tmp_path: Path, gate: str, field: str, says: str
) -> None:
    # `min: 0` on a pass rate or a score in [0, 1] passed every run, whatever the outputs.
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, _suite("[exact, rouge_l, latency_ms]", gate=gate))
    assert (exc.value.line, exc.value.field) == (5, field)
    assert says in str(exc.value)


@pytest.mark.parametrize(
    "gate",
    [
        "{metric: exact, min: 0.01}",
        "{metric: pass_rate, max: 0.99}",
        "{metric: exact, min: 0, max: 0.5}",
        "{metric: exact, min: 1}",  # every case must pass
        "{metric: latency_ms, stat: mean, min: 0}",  # a raw measure is not bounded to [0, 1]
        "{metric: latency_ms, max: 1}",
        "{metric: rouge_l, stat: max, max: 0.999}",
    ],
)
def test_gates_with_bounds_that_can_fail_load(tmp_path: Path, gate: str) -> None:
    assert len(_load(tmp_path, _suite("[exact, rouge_l, latency_ms]", gate=gate)).cases) == 2


def test_collection_error_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.text\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", vacuous=_suite("[rouge_l]"))
    pytester.makefile(
        ".eval.yaml",
        good=_suite("[exact]").replace("suite: s", "suite: good"),
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*vacuous.eval.yaml:5*gate pass_rate can never fail*"])


def _results(entries: list[MetricScore]) -> list[CaseResult]:
    return [
        CaseResult(suite="s", case_id=f"c{i}", passed=True, scores={"judge": ms})
        for i, ms in enumerate(entries)
    ]


def test_metric_pass_rate_leaves_out_skipped_and_unthresholded_scores() -> None:
    # Eight cases the judge passed and two it never judged (no judge model): the pass rate
    # of `judge` is 8/8, not 8/10.
    judged = [MetricScore(score=0.9, threshold=0.5, passed=True) for _ in range(8)]
    skipped = [MetricScore(threshold=0.5, skipped="no judge model") for _ in range(2)]
    results = _results(judged + skipped)
    gate = GateSpec(metric="judge", stat="pass_rate", min=0.8)
    (result,) = evaluate_gates("s", [gate], results, aggregate_suite("s", results))
    assert result.value == 1.0 and result.passed
    assert "(over 8 of 10 cases)" in result.message  # it says what it stands on


def test_metric_pass_rate_counts_a_metric_error_as_failing() -> None:
    ok = [MetricScore(score=0.9, threshold=0.5, passed=True) for _ in range(3)]
    bad = [MetricScore(threshold=0.5, passed=False, error="JudgeError: bad reply")]
    results = _results(ok + bad)
    gate = GateSpec(metric="judge", stat="pass_rate", min=0.8)
    (result,) = evaluate_gates("s", [gate], results, aggregate_suite("s", results))
    assert result.value == 0.75 and not result.passed


def test_metric_pass_rate_with_nothing_judged_fails_with_its_reason() -> None:
    results = _results([MetricScore(score=0.4), MetricScore(threshold=0.5, skipped="no model")])
    gate = GateSpec(metric="judge", stat="pass_rate", min=0.8)
    (result,) = evaluate_gates("s", [gate], results, aggregate_suite("s", results))
    assert not result.passed
    assert "no pass or fail of metric 'judge'" in result.message
