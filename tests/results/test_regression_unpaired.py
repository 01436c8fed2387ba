"""A suite whose regression nothing checked fails its regression gate.

Before: with every case id changed (a regenerated dataset, renamed cases) or every gating
metric missing from one run, no metric was compared and the gate read "no significant
regression ... over 0 gating metric(s), 0 paired cases", a pass, however bad this run was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults, SuiteInfo


def _run(prefix: str, passed: bool, n: int = 20, metric: str = "exact") -> RunResults:
    score = 1.0 if passed else 0.0
    cases = [
        CaseResult(
            suite="s",
            case_id=f"{prefix}{i}",
            passed=passed,
            scores={metric: MetricScore(score=score, threshold=1.0, passed=passed)},
        )
        for i in range(n)
    ]
    return RunResults(cases=cases)


def test_no_case_in_both_runs_fails_the_gate() -> None:
    comparison, (gate,) = regression_check(_run("c", True), _run("d", False))
    assert not gate.passed and comparison.regressed
    assert gate.message.startswith("regression cannot be checked: no case of suite s is in both")
    assert "20 only in the baseline, 20 only in this run" in gate.message
    assert comparison.suites[0].unchecked is not None


def test_a_few_shared_cases_are_compared() -> None:
    base, cand = _run("c", True), _run("d", True)
    cand.cases[0] = cand.cases[0].model_copy(update={"case_id": "c0"})
    comparison, (gate,) = regression_check(base, cand)
    assert gate.passed and comparison.suites[0].unchecked is None
    assert comparison.suites[0].n_matched == 1


def test_regression_metrics_none_of_which_is_in_both_runs_fail_the_gate() -> None:
    cand = _run("c", False, metric="exact")
    cand.suites = [SuiteInfo(name="s", regression_metrics=["rouge_l"])]
    comparison, (gate,) = regression_check(_run("c", True), cand)
    assert not gate.passed and comparison.regressed
    assert "none of its regression_metrics (rouge_l) is in both runs" in gate.message


def test_one_of_two_regression_metrics_scored_in_neither_run_fails_the_gate() -> None:
    # Before: a warning, and the gate passed on `exact` alone.
    cand = _run("c", True)
    cand.suites = [SuiteInfo(name="s", regression_metrics=["rouge_l", "exact"])]
    comparison, (gate,) = regression_check(_run("c", True), cand)
    assert not gate.passed and comparison.regressed
    assert "gating metric 'rouge_l' has no score in either run" in gate.message


def test_one_of_two_regression_metrics_in_one_run_only_is_checked() -> None:
    # Scored in the baseline on cases this run no longer has: compared on the rest, warned.
    base, cand = _run("c", True), _run("c", True)
    for c in base.cases[:5]:
        c.scores["rouge_l"] = MetricScore(score=1.0)
    cand.cases = cand.cases[5:]
    cand.suites = [SuiteInfo(name="s", regression_metrics=["rouge_l", "exact"])]
    comparison, (gate,) = regression_check(base, cand)
    assert gate.passed and comparison.suites[0].unchecked is None
    assert any(
        "regression_metrics ['rouge_l'] are not in both runs" in w for w in comparison.warnings
    )


def test_a_suite_only_in_this_run_has_no_gate() -> None:
    # A new suite beside a shared one has nothing to regress from: no gate, as before
    # (a baseline sharing no suite at all fails, see test_baseline_no_overlap.py).
    base = _run("c", True)
    cand = _run("c", True)
    added = _run("c", True)
    for c in added.cases:
        c.suite = "new"
    cand.cases.extend(added.cases)
    comparison, gates = regression_check(base, cand)
    assert "new" not in {g.suite for g in gates} and not comparison.regressed


APP = """
import os

def answer(case):
    # The candidate drops half of each answer: still above the threshold, far below before.
    return "the quick brown fox" if not os.environ.get("WORSE") else "the quick"
"""

SUITE = """
suite: s
target: python:app:answer
metrics:
  - rouge_l: {threshold: 0.2}
dataset: rows.jsonl
"""


def _rows(prefix: str) -> str:
    row = {"input": "q", "expected": "the quick brown fox"}
    return "".join(json.dumps({"id": f"{prefix}{i}", **row}) + "\n" for i in range(10))


def test_run_gate_and_compare_agree_when_every_id_changed(
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.syspathinsert()
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", s=SUITE)
    rows = pytester.path / "rows.jsonl"
    rows.write_text(_rows("a"))
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=10)
    rows.write_text(_rows("b"))  # the same cases under new ids
    monkeypatch.setenv("WORSE", "1")
    result = pytester.runpytest("--mleval-baseline", "base.json")
    result.assert_outcomes(passed=10)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*gate s: FAIL regression cannot be checked: no case of suite s*"])
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "regression cannot be checked" in summary
    html = (pytester.path / "reports" / "mleval-report.html").read_text()
    assert "regression cannot be checked" in html
    capsys.readouterr()
    results = str(pytester.path / "reports/mleval-results.json")
    code = main(["compare", str(pytester.path / "base.json"), results])
    assert code == 1 and "cannot be checked" in capsys.readouterr().out


def _inputs(run: RunResults, inputs: list[object]) -> RunResults:
    for case, value in zip(run.cases, inputs, strict=True):
        case.input = value
    return run


def test_an_id_whose_input_changed_is_not_paired() -> None:
    # A dataset without ids numbers its rows: a row inserted at the top shifts every id, so
    # the same id now names the next question.
    base = _inputs(_run("rows-", True), [f"q{i}" for i in range(20)])
    cand = _inputs(_run("rows-", True), [f"q{i - 1}" for i in range(20)])
    comparison, (gate,) = regression_check(base, cand)
    assert not gate.passed
    assert "no case of suite s is in both runs with the same input" in gate.message
    assert "20 with a different input" in gate.message
    assert len(comparison.changed_input) == 20 and comparison.changed_input[0] == "s::rows-0"
    assert any("give each case an `id`" in w for w in comparison.warnings)


def test_one_changed_input_is_left_out_of_the_pairs() -> None:
    base = _inputs(_run("c", True), [f"q{i}" for i in range(20)])
    cand = _inputs(_run("c", True), ["edited", *[f"q{i}" for i in range(1, 20)]])
    comparison, (gate,) = regression_check(base, cand)
    assert gate.passed and comparison.changed_input == ["s::c0"]
    assert comparison.suites[0].n_matched == 19
    assert all(m.n == 19 for m in comparison.suites[0].metrics)


def test_inputs_equal_as_json_or_once_redacted_are_the_same_case() -> None:
    from pytest_mleval.safety.pii import redact_value

    raw = [{"question": f"q{i}", "from": f"user{i}@example.com"} for i in range(20)]
    base = _inputs(_run("c", True), [redact_value(v) for v in raw])  # saved with --mleval-redact
    comparison, _ = regression_check(base, _inputs(_run("c", True), raw))
    assert comparison.changed_input == [] and comparison.suites[0].n_matched == 20
    tuples = _inputs(_run("c", True), [("a", i) for i in range(20)])
    lists = _inputs(_run("c", True), [["a", i] for i in range(20)])
    assert regression_check(lists, tuples)[0].changed_input == []


def test_a_baseline_without_inputs_pairs_by_id() -> None:
    cand = _inputs(_run("c", True), [f"q{i}" for i in range(20)])
    comparison, (gate,) = regression_check(_run("c", True), cand)
    assert gate.passed and comparison.suites[0].n_matched == 20


ECHO = "def answer(case):\n    return 'the quick brown fox'\n"
IDLESS = "suite: s\ntarget: python:app:answer\nmetrics: [exact]\ndataset: rows.jsonl\n"


def test_a_row_inserted_in_a_dataset_without_ids_fails_the_gate(
    pytester: pytest.Pytester,
) -> None:
    pytester.syspathinsert()
    pytester.makepyfile(app=ECHO)
    pytester.makefile(".eval.yaml", s=IDLESS)
    rows = pytester.path / "rows.jsonl"
    lines = [json.dumps({"input": f"q{i}", "expected": "the quick brown fox"}) for i in range(8)]
    rows.write_text("\n".join(lines) + "\n")
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=8)
    new = json.dumps({"input": "new", "expected": "the quick brown fox"})
    rows.write_text("\n".join([new, *lines]) + "\n")
    result = pytester.runpytest("--mleval-baseline", "base.json")
    result.assert_outcomes(passed=9)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*gate s: FAIL regression cannot be checked: no case of suite s is in both runs with*"]
    )


def test_a_comparison_that_gates_nothing_by_choice_is_not_unchecked() -> None:
    # compare_to suites are compared for the reader with no gating metric (gating={s: ()}).
    from pytest_mleval.results.compare import compare_runs

    comparison = compare_runs(_run("c", True), _run("c", False), gating={"s": ()})
    assert comparison.suites[0].unchecked is None
    assert not any("cannot be checked" in w for w in comparison.warnings)
    disjoint = compare_runs(_run("c", True), _run("d", True), gating={"s": ()})
    assert disjoint.suites[0].unchecked is None


def test_explicit_metric_in_neither_run_fails_every_gate() -> None:
    # `--mleval-regression-metrics pass_rate,rougel` or `mleval compare --metrics ...`: the
    # misspelt entry gated nothing and the gate passed on the pass rate alone.
    comparison, (gate,) = regression_check(
        _run("c", True, metric="rouge_l"),
        _run("c", True, metric="rouge_l"),
        metrics=["pass_rate", "rougel"],
    )
    assert not gate.passed and comparison.regressed
    assert "'rougel' has no score in either run (did you mean 'rouge_l'?)" in gate.message
    assert any("'rougel' has no score in either run" in w for w in comparison.warnings)


def test_explicit_metric_of_another_suite_is_no_problem() -> None:
    base, cand = _run("c", True), _run("c", True)
    other = [
        c.model_copy(update={"suite": "t", "scores": {"rouge_l": MetricScore(score=1.0)}})
        for c in base.cases
    ]
    base.cases += other
    cand.cases += other
    comparison, gates = regression_check(base, cand, metrics=["exact", "rouge_l"])
    assert all(g.passed for g in gates) and not comparison.regressed


def test_compare_cli_with_a_misspelt_metric_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = tmp_path / "base.json", tmp_path / "cand.json"
    base.write_text(_run("c", True).model_dump_json())
    cand.write_text(_run("c", True).model_dump_json())
    assert main(["compare", str(base), str(cand), "--metrics", "exakt"]) == 1
    assert "'exakt' has no score in either run" in capsys.readouterr().out
