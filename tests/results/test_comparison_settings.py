"""Settings of the regression rule that cannot mean anything are errors, not a verdict.

``--mleval-regression-margin nan`` ended the run with "could not finish the run's results"
and left the previous run's green Markdown and HTML in place; ``mleval compare --alpha 0``
called a drop with p < 0.001 "no significant change" and exited 0; ``--confidence 1.5`` was
a traceback; a negative or infinite margin was accepted. A margin of 1 or more (no drop of a
score in [0, 1] exceeds it) on a gating score, and a gating set naming no metric
(``--metrics ","``, ``regression_metrics: []``), turned every regression into a pass.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults

SUITE = """
suite: s
target: python:app:echo
metrics: [exact]
{extra}
cases:
  - {{id: a, input: x, expected: x}}
"""


def _runs() -> tuple[RunResults, RunResults]:
    base = [
        CaseResult(suite="s", case_id=f"c{i}", passed=True, scores={"q": MetricScore(score=1.0)})
        for i in range(20)
    ]
    cand = [
        CaseResult(suite="s", case_id=f"c{i}", passed=i > 9, scores={"q": MetricScore(score=i > 9)})
        for i in range(20)
    ]
    return RunResults(cases=base), RunResults(cases=cand)


@pytest.mark.parametrize("margin", [math.nan, math.inf, -0.1])
def test_regression_check_rejects_a_meaningless_margin(margin: float) -> None:
    with pytest.raises(ValueError, match="regression margin"):
        regression_check(*_runs(), margin=margin)


@pytest.mark.parametrize("alpha", [0.0, -1.0, 1.5, math.nan])
def test_regression_check_rejects_a_meaningless_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        regression_check(*_runs(), alpha=alpha)


@pytest.mark.parametrize(
    "args",
    [
        ["--alpha", "0"],
        ["--alpha", "1.5"],
        ["--confidence", "1.5"],
        ["--margin", "nan"],
        ["--metrics", ","],
        ["--metrics", " "],
    ],
)
def test_compare_cli_rejects_meaningless_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    base, cand = _runs()
    (tmp_path / "b.json").write_text(base.model_dump_json())
    (tmp_path / "c.json").write_text(cand.model_dump_json())
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(tmp_path / "b.json"), str(tmp_path / "c.json"), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert args[0] in err and "Traceback" not in err


@pytest.mark.parametrize(
    "flag",
    [
        "--mleval-regression-margin=nan",
        "--mleval-confidence=1.5",
        "--mleval-regression-metrics=,",
    ],
)
def test_a_meaningless_flag_is_a_usage_error(pytester: pytest.Pytester, flag: str) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE.format(extra=""))
    result = pytester.runpytest(flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{flag.split('=')[0]}*"])


@pytest.mark.parametrize(
    "extra",
    [
        "regression_margin: .nan",
        "regression_margin: .inf",
        "regression_margin: -0.1",
        "regression_metrics: []",
    ],
)
def test_a_meaningless_suite_margin_is_a_collection_error(
    pytester: pytest.Pytester, extra: str
) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE.format(extra=extra))
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines([f"*field '{extra.split(':')[0]}'*"])
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert results["collection_errors"]


@pytest.mark.parametrize("margin", [1.0, 2.5])
def test_a_margin_no_score_can_exceed_leaves_the_gate_unchecked(margin: float) -> None:
    comparison, gates = regression_check(*_runs(), margin=margin)
    assert comparison.regressed and not gates[0].passed
    assert "is 1 or more, so no drop of" in gates[0].message and "q" in gates[0].message


def test_a_large_margin_on_a_raw_measure_alone_still_gates() -> None:
    base = [
        CaseResult(suite="s", case_id=f"c{i}", scores={"latency_ms": MetricScore(score=100.0)})
        for i in range(20)
    ]
    cand = [
        CaseResult(suite="s", case_id=f"c{i}", scores={"latency_ms": MetricScore(score=150.0 + i)})
        for i in range(20)
    ]
    runs = RunResults(cases=base), RunResults(cases=cand)
    # A rise of about 60 %: within a margin of 1 (double), beyond one of 0.2.
    _, gates = regression_check(*runs, margin=1.0, metrics=["latency_ms"])
    assert gates[0].passed
    _, gates = regression_check(*runs, margin=0.2, metrics=["latency_ms"])
    assert not gates[0].passed


def test_compare_cli_fails_on_a_margin_no_score_can_exceed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = _runs()
    (tmp_path / "b.json").write_text(base.model_dump_json())
    (tmp_path / "c.json").write_text(cand.model_dump_json())
    status = main(["compare", str(tmp_path / "b.json"), str(tmp_path / "c.json"), "--margin", "1"])
    assert status == 1 and "is 1 or more" in capsys.readouterr().out
