"""``mleval compare`` says its verdict, in every format, not only through its exit status.

Before, the text and Markdown outputs were the comparison's tables alone: a regression read
"(REGRESSION)" on a metric's row, a clean comparison said nothing, and a comparison of two runs
with no suite in common exited 1 with no line saying why. The Markdown, meant for a pull
request, had no verdict at all. Now each output leads with (Markdown) or ends with (text) the
regression rule's verdict and each suite's regression gate; JSON carries ``regressed`` and the
gates.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults


def _run(suite: str, score: float) -> str:
    cases = [
        CaseResult(
            suite=suite,
            case_id=f"c{i}",
            passed=score > 0.5,
            scores={"q": MetricScore(score=score)},
        )
        for i in range(20)
    ]
    return RunResults(cases=cases).model_dump_json()


def _compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], base: str, cand: str, *fmt: str
) -> tuple[int, str]:
    (tmp_path / "b.json").write_text(base)
    (tmp_path / "c.json").write_text(cand)
    code = main(["compare", str(tmp_path / "b.json"), str(tmp_path / "c.json"), *fmt])
    return code, capsys.readouterr().out


def test_a_regression_is_said_in_text_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _compare(tmp_path, capsys, _run("s", 1.0), _run("s", 0.0))
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("regression s: FAIL regression beyond margin 0: ") for line in lines)
    assert lines[-1] == "verdict: REGRESSION in 1 of 1 suite(s) (exit status 1)"
    code, md = _compare(tmp_path, capsys, _run("s", 1.0), _run("s", 0.0), "--format", "md")
    assert code == 1
    first = md.splitlines()[0]
    assert first == "❌ **Regression in 1 of 1 suite(s)**"
    assert "| s | ❌ regression beyond margin 0: pass_rate -1" in md
    code, js = _compare(tmp_path, capsys, _run("s", 1.0), _run("s", 0.0), "--format", "json")
    data = json.loads(js)
    assert data["regressed"] is True
    assert [g["passed"] for g in data["gates"]] == [False]


def test_no_regression_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _compare(tmp_path, capsys, _run("s", 1.0), _run("s", 1.0))
    assert code == 0
    lines = out.splitlines()
    assert any(line.startswith("regression s: PASS no significant regression") for line in lines)
    assert lines[-1] == "verdict: no regression in 1 suite(s) (exit status 0)"
    _, md = _compare(tmp_path, capsys, _run("s", 1.0), _run("s", 1.0), "--format", "md")
    assert md.splitlines()[0] == "✅ **No regression in 1 suite(s)**"


def test_runs_with_no_suite_in_common_say_why_they_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _compare(tmp_path, capsys, _run("s", 1.0), _run("t", 1.0))
    assert code == 1
    assert "regression cannot be checked: the baseline shares no suite" in out
    assert out.splitlines()[-1].startswith("verdict: regression could not be checked in 1 of 1")


def test_an_empty_baseline_is_not_read_as_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = RunResults().model_dump_json()
    code, out = _compare(tmp_path, capsys, empty, _run("s", 1.0))
    assert code == 1  # the rule's: a suite whose regression nobody checked fails its gate
    assert out.splitlines()[-1] == (
        "verdict: regression could not be checked in 1 of 1 suite(s) (exit status 1)"
    )
    _, md = _compare(tmp_path, capsys, empty, _run("s", 1.0), "--format", "md")
    assert md.splitlines()[0] == "❌ **Regression could not be checked in 1 of 1 suite(s)**"


def test_two_empty_runs_compare_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = RunResults().model_dump_json()
    code, out = _compare(tmp_path, capsys, empty, empty)
    assert out.splitlines()[-1] == f"verdict: nothing was compared (exit status {code})"
    _, md = _compare(tmp_path, capsys, empty, empty, "--format", "md")
    assert md.splitlines()[0] == "⚠️ **Nothing was compared**"


def test_a_large_markdown_comparison_fits_a_pull_request_comment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: no limit (the run's own summary has one): 150 suites of 20 metrics wrote a
    # comparison GitHub refuses whole as a comment.
    from pytest_mleval.report.summary import COMMENT_LIMIT

    def big(score: float, worse: str) -> str:
        cases = [
            CaseResult(
                suite=f"suite-{s:03d}",
                case_id=f"c{i}",
                passed=True,
                scores={
                    f"metric_{m:02d}": MetricScore(
                        score=0.0 if f"suite-{s:03d}" == worse else score,
                        threshold=0.5 if worse else None,
                    )
                    for m in range(20)
                },
            )
            for s in range(150)
            for i in range(12)
        ]
        return RunResults(cases=cases).model_dump_json()

    code, md = _compare(tmp_path, capsys, big(1.0, ""), big(1.0, "suite-149"), "--format", "md")
    assert len(md) <= COMMENT_LIMIT
    lines = md.splitlines()
    assert lines[0] == "❌ **Regression in 1 of 150 suite(s)**"
    # The failing suite's gate comes first, whatever its place among the suites.
    assert lines[4].startswith("| suite-149 | ❌ ")
    assert any(line.startswith("> ✂️ Shortened to fit a pull-request comment") for line in lines)
    # What the comparison does not cover is still said.
    assert any(line.startswith("> ⚠️ suite suite-000: the pass rule") for line in lines)
    code_text, text = _compare(tmp_path, capsys, big(1.0, ""), big(1.0, "suite-149"))
    assert code == code_text == 1 and len(text) > COMMENT_LIMIT  # the text output keeps all
