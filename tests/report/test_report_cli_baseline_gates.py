"""``mleval report RESULTS --baseline BASE`` decides the regression gate it shows.

Before, the re-rendered report drew the comparison's table ("regressed" in red on a gating
metric) under a green "passed" badge with no regression gate: the comparison was added to the
page but not its verdict, where the same two files read "REGRESSION" (exit 1) in
``mleval compare``. Now the regression gates of that baseline replace any the run had from its
own, so the badge and the gates table say it.
"""

from __future__ import annotations

import html as html_text
import json
import re
from pathlib import Path

from pytest_mleval.cli import main
from pytest_mleval.results.records import CaseResult, MetricScore, RunMeta, RunResults


def _run(score: float, **meta: object) -> str:
    cases = [
        CaseResult(suite="s", case_id=f"c{i}", passed=True, scores={"q": MetricScore(score=score)})
        for i in range(20)
    ]
    return RunResults(cases=cases, meta=RunMeta(exit_status=0, **meta)).model_dump_json()  # type: ignore[arg-type]


def _report(tmp_path: Path, base: float, cand: float) -> str:
    (tmp_path / "base.json").write_text(_run(base))
    (tmp_path / "cand.json").write_text(_run(cand))
    out = tmp_path / "r.html"
    args = ["report", str(tmp_path / "cand.json"), "--baseline", str(tmp_path / "base.json")]
    assert main([*args, "-o", str(out), "--no-history"]) == 0
    return out.read_text(encoding="utf-8")


def _report_own_gate(
    tmp_path: Path, base: float, cand: float, *, passed: bool, message: str, exit_status: int
) -> str:
    """The report of a run that had its own regression gate, against another baseline."""
    own = json.loads(_run(cand))
    own["meta"]["exit_status"] = exit_status
    own["gates"] = [
        {
            "suite": "s",
            "metric": "regression",
            "stat": "paired",
            "on": "baseline",
            "min": 0.0,
            "passed": passed,
            "message": message,
        }
    ]
    (tmp_path / "cand.json").write_text(json.dumps(own))
    (tmp_path / "base.json").write_text(_run(base))
    out = tmp_path / "r.html"
    args = ["report", str(tmp_path / "cand.json"), "--baseline", str(tmp_path / "base.json")]
    assert main([*args, "-o", str(out), "--no-history"]) == 0
    return out.read_text(encoding="utf-8")


def _verdict(html: str) -> str:
    found = re.search(r'id="verdict">([^<]*)', html)
    assert found
    return html_text.unescape(found.group(1))


def test_a_regression_against_the_given_baseline_is_the_reports_verdict(tmp_path: Path) -> None:
    html = _report(tmp_path, base=1.0, cand=0.0)
    assert _verdict(html).startswith("failed: 1 gate(s) failed")
    assert "regression beyond margin 0: q -1" in html


def test_no_regression_reads_passed_with_its_gate(tmp_path: Path) -> None:
    html = _report(tmp_path, base=1.0, cand=1.0)
    assert _verdict(html) == "passed"
    assert "no significant regression beyond margin 0" in html


def test_the_runs_own_regression_gate_gives_way_to_the_given_baselines(tmp_path: Path) -> None:
    html = _report_own_gate(
        tmp_path,
        base=1.0,
        cand=0.0,
        passed=True,
        message="no significant regression beyond margin 0 (the run's own baseline)",
        exit_status=0,
    )
    assert "the run's own baseline" not in html
    assert _verdict(html).startswith("failed: 1 gate(s) failed")


def test_a_regression_against_the_given_baseline_says_whose_verdict_it_is(
    tmp_path: Path,
) -> None:
    # Before, the badge read "failed: 1 gate(s) failed (exit status 0)": the failing gate is
    # this baseline's, the exit status the run's own, and the two read as one contradiction.
    verdict = _verdict(_report(tmp_path, base=1.0, cand=0.0))
    assert "(exit status 0)" not in verdict
    assert verdict == (
        "failed: 1 gate(s) failed (against the baseline given after the run; "
        "the run itself exited 0)"
    )


def test_a_run_failed_by_its_own_regression_gate_says_so_against_another_baseline(
    tmp_path: Path,
) -> None:
    # The run exited 1 on its own regression gate; against the baseline given now nothing
    # regressed. Before, the badge read "failed: pytest reported failures (exit status 1)".
    html = _report_own_gate(
        tmp_path,
        base=0.5,
        cand=0.5,
        passed=False,
        message="regression beyond margin 0: q -0.5",
        exit_status=1,
    )
    verdict = _verdict(html)
    assert "pytest reported failures" not in verdict
    assert verdict == (
        "failed: 1 regression gate(s) failed against the run's own baseline when it ran; "
        "none against the baseline given after the run (the run itself exited 1)"
    )


def test_the_stored_run_is_not_marked_rebaselined(tmp_path: Path) -> None:
    from pytest_mleval.results.rebaseline import with_baseline
    from pytest_mleval.results.records import load_results, run_status

    (tmp_path / "base.json").write_text(_run(1.0))
    (tmp_path / "cand.json").write_text(_run(0.0))
    run = load_results(tmp_path / "cand.json")
    rebased = with_baseline(run, load_results(tmp_path / "base.json"))
    assert run_status(run) == ("passed", "passed")
    assert run_status(rebased)[0] == "failed"
