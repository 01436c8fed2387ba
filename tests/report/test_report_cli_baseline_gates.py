"""``mleval report RESULTS --baseline BASE`` decides the regression gate it shows.

Before, the re-rendered report drew the comparison's table ("regressed" in red on a gating
metric) under a green "passed" badge with no regression gate: the comparison was added to the
page but not its verdict, where the same two files read "REGRESSION" (exit 1) in
``mleval compare``. Now the regression gates of that baseline replace any the run had from its
own, so the badge and the gates table say it.
"""

from __future__ import annotations

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


def _verdict(html: str) -> str:
    found = re.search(r'id="verdict">([^<]*)', html)
    assert found
    return found.group(1)


def test_a_regression_against_the_given_baseline_is_the_reports_verdict(tmp_path: Path) -> None:
    html = _report(tmp_path, base=1.0, cand=0.0)
    assert _verdict(html).startswith("failed: 1 gate(s) failed")
    assert "regression beyond margin 0: q -1" in html


def test_no_regression_reads_passed_with_its_gate(tmp_path: Path) -> None:
    html = _report(tmp_path, base=1.0, cand=1.0)
    assert _verdict(html) == "passed"
    assert "no significant regression beyond margin 0" in html


def test_the_runs_own_regression_gate_gives_way_to_the_given_baselines(tmp_path: Path) -> None:
    own = json.loads(_run(0.0))
    own["gates"] = [
        {
            "suite": "s",
            "metric": "regression",
            "stat": "paired",
            "on": "baseline",
            "min": 0.0,
            "passed": True,
            "message": "no significant regression beyond margin 0 (the run's own baseline)",
        }
    ]
    (tmp_path / "cand.json").write_text(json.dumps(own))
    (tmp_path / "base.json").write_text(_run(1.0))
    out = tmp_path / "r.html"
    args = ["report", str(tmp_path / "cand.json"), "--baseline", str(tmp_path / "base.json")]
    assert main([*args, "-o", str(out), "--no-history"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "the run's own baseline" not in html
    assert _verdict(html).startswith("failed: 1 gate(s) failed")
