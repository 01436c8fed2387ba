"""Baseline comparison: matching, verdicts, the regression gate, the CLI and the plugin flag."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.compare import compare_runs, regression_gates
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults, write_results


def make_run(scores: dict[str, float], suite: str = "s", threshold: float = 0.5) -> RunResults:
    cases = [
        CaseResult(
            suite=suite,
            case_id=cid,
            scores={"m": MetricScore(score=v, threshold=threshold, passed=v >= threshold)},
            passed=v >= threshold,
        )
        for cid, v in scores.items()
    ]
    return RunResults(cases=cases)


def noisy(n: int, shift: float, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    rng = random.Random(seed)
    base, cand = {}, {}
    for i in range(n):
        true = rng.uniform(0.2, 0.9)
        base[f"c{i}"] = min(1.0, max(0.0, true + rng.gauss(0, 0.05)))
        cand[f"c{i}"] = min(1.0, max(0.0, true + shift + rng.gauss(0, 0.05)))
    return base, cand


def metric(comp, name: str = "m"):  # type: ignore[no-untyped-def]
    return next(m for m in comp.suites[0].metrics if m.metric == name)


def test_identical_runs_no_change() -> None:
    base, _ = noisy(40, 0.0, 1)
    comp = compare_runs(make_run(base), make_run(base))
    m = metric(comp)
    assert m.diff == 0 and m.p_value == 1.0 and m.verdict == "no significant change"
    assert not comp.regressed


def test_clear_drop_is_a_regression_and_small_drop_within_margin_is_not() -> None:
    base, cand = noisy(80, -0.15, 2)
    comp = compare_runs(make_run(base), make_run(cand), margin=0.02)
    m = metric(comp)
    assert m.verdict == "regressed" and m.regression and comp.regressed
    assert m.ci_low < m.diff < m.ci_high < 0
    base, cand = noisy(80, -0.01, 3)
    comp = compare_runs(make_run(base), make_run(cand), margin=0.05)
    assert not comp.regressed


def test_regression_gate_message_never_reads_p_zero() -> None:
    # A p-value is never 0: the gate line read "p(adj)=0.0000" beside "<0.001" in the table.
    base, cand = noisy(80, -0.15, 2)
    comp = compare_runs(make_run(base), make_run(cand))
    assert metric(comp).p_adjusted < 0.001
    (gate,) = regression_gates(comp)
    assert not gate.passed
    assert "p(adj)<0.001" in gate.message
    assert "0.0000" not in gate.message


def test_improvement_and_flips() -> None:
    base, cand = noisy(60, 0.2, 4)
    comp = compare_runs(make_run(base), make_run(cand))
    assert metric(comp).verdict == "improved"
    assert comp.suites[0].flipped_to_pass and not metric(comp).regression
    pr = metric(comp, "pass_rate")
    assert "McNemar" in pr.test


def test_unmatched_cases_are_listed() -> None:
    comp = compare_runs(make_run({"a": 0.5, "b": 0.6}), make_run({"b": 0.6, "c": 0.7}))
    assert comp.only_in_baseline == ["s::a"] and comp.only_in_candidate == ["s::c"]
    assert any("only in the baseline" in w for w in comp.warnings)
    disjoint = compare_runs(make_run({"a": 1.0}, suite="x"), make_run({"a": 1.0}, suite="y"))
    # Nothing compared is a regression nobody checked: this run's suite fails its gate.
    assert [s.suite for s in disjoint.suites] == ["y"] and disjoint.regressed
    assert "shares no suite" in disjoint.warnings[0]


def test_cli_compare_and_power(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = noisy(80, -0.15, 5)
    b, c = tmp_path / "b.json", tmp_path / "c.json"
    write_results(b, make_run(base))
    write_results(c, make_run(cand))
    assert main(["compare", str(b), str(c), "--margin", "0.02"]) == 1
    out = capsys.readouterr().out
    assert "regressed" in out and "REGRESSION" in out
    assert main(["compare", str(b), str(b), "--format", "md"]) == 0
    assert "| metric | gates | baseline | candidate |" in capsys.readouterr().out
    assert main(["power", "--baseline", str(b), "--metric", "m", "--effect", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "minimum detectable effect at n=80" in out and "cases needed to detect 0.05" in out


def test_cli_power_uses_paired_proportions_for_pass_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_mleval import stats

    base, _ = noisy(80, 0.0, 7)
    b = tmp_path / "b.json"
    write_results(b, make_run(base))
    passed = np.array([v >= 0.5 for v in base.values()], dtype=float)
    args = ["power", "--baseline", str(b), "--metric", "pass_rate", "--correlation", "0.5"]
    assert main([*args, "--effect", "0.1"]) == 0
    out = capsys.readouterr().out
    # Two runs with pass rate p and outcome correlation rho flip 2 p (1 - p)(1 - rho) cases.
    discordant = 2 * passed.var(ddof=1) * (1 - 0.5)
    need = stats.required_n_binary(0.1, discordant=discordant)
    mde = stats.min_detectable_effect_binary(80, discordant=discordant)
    assert "Connor 1987" in out and f"flipping between runs {discordant:.4f}" in out
    assert f"cases needed to detect 0.1: {need} " in out
    assert f"minimum detectable effect at n=80 (alpha=0.05, power=0.8): {mde:.4f}" in out
    # A paired t on the same 0/1 values asks for more cases than the exact paired test.
    assert need < stats.required_n(0.1, sd_diff=float(np.sqrt(discordant)))
    assert main([*args, "--effect", "0.9"]) == 0
    assert "needs more than" in capsys.readouterr().out


def test_cli_rejects_bad_results_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["compare", str(bad), str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "mleval-results", "schema_version": 99}))
    assert main(["compare", str(other), str(other)]) == 2
    assert "schema version 99" in capsys.readouterr().err


SUITE = """
suite: s
target: python:app:answer
metrics:
  - contains: {value: "yes"}
cases:
""" + "".join(f"  - {{id: c{i}, input: q{i}}}\n" for i in range(30))


def test_plugin_baseline_flag_gates_regressions(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE)
    pytester.makepyfile(app="def answer(case):\n    return 'yes'\n")
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=30)
    # identical behaviour: no regression, exit 0
    result = pytester.runpytest("--mleval-baseline", "base.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*gate s: PASS no significant regression*"])
    # now most answers break: significant drop, the run fails even though... it fails anyway
    pytester.makepyfile(
        app="def answer(case):\n    return 'yes' if int(case.id[1:]) < 5 else 'no'\n"
    )
    result = pytester.runpytest("--mleval-baseline", "base.json")
    result.stdout.fnmatch_lines(
        ["*pass_rate*regressed*", "*gate s: FAIL regression beyond margin 0*"]
    )
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "pass → fail" in summary and "🔴 regressed" in summary


def test_plugin_baseline_missing_or_corrupt_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", s=SUITE)
    result = pytester.runpytest("--mleval-baseline", "nope.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mleval-baseline: results file not found: nope.json*"])
    (pytester.path / "corrupt.json").write_text(
        '{"kind": "mleval-results", "schema_version": 1, "cases": ['
    )
    result = pytester.runpytest("--mleval-baseline", "corrupt.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is not valid JSON*"])


def test_cases_that_errored_are_listed_apart_from_those_that_failed(
    pytester: pytest.Pytester,
) -> None:
    # A provider outage in the candidate listed its cases under "pass -> fail", as if their
    # outputs had been judged wrong; they errored, and every output says so.
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE)
    pytester.makepyfile(app="def answer(case):\n    return 'yes'\n")
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=30)
    pytester.makepyfile(
        app="def answer(case):\n"
        "    i = int(case.id[1:])\n"
        "    if i < 3:\n"
        "        raise ConnectionError('provider down')\n"
        "    return 'no' if i < 5 else 'yes'\n"
    )
    result = pytester.runpytest("--mleval-baseline", "base.json")
    result.stdout.fnmatch_lines(["    pass -> fail: c3, c4", "    pass -> errored: c0, c1, c2"])
    reports = pytester.path / "reports"
    data = json.loads((reports / "mleval-results.json").read_text())
    (suite,) = data["comparison"]["suites"]
    assert (suite["flipped_to_fail"], suite["flipped_to_error"]) == (
        ["c3", "c4"],
        ["c0", "c1", "c2"],
    )
    summary = (reports / "mleval-summary.md").read_text()
    assert "**pass → fail** (2): `c3`, `c4`" in summary
    assert "**pass → errored** (3): `c0`, `c1`, `c2`" in summary
    html = (reports / "mleval-report.html").read_text()
    assert "<strong>pass → errored</strong> (3)" in html
    from pytest_mleval.report import notebook

    run = notebook.Run(RunResults.model_validate(data))
    expect = {f"c{i}": "pass -> errored" for i in range(3)} | {
        "c3": "pass -> fail",
        "c4": "pass -> fail",
    }
    flips = run.compare(pytester.path / "base.json").flipped
    assert {f["case_id"]: f["direction"] for f in flips} == expect
    # The notebook's untested fallback (no statistics module) lists them the same way.
    real = notebook.importlib.util.find_spec
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            notebook.importlib.util,
            "find_spec",
            lambda name, *a: None if name == "pytest_mleval.stats" else real(name, *a),
        )
        flips = run.compare(pytester.path / "base.json").flipped
    assert {f["case_id"]: f["direction"] for f in flips} == expect
