"""A comparison with a run that is not whole says so beside its verdict.

Before: a baseline that could not collect one of its eval files, or ran part of its suites
(``-k``), was compared with no word of it, in the run's comparison and in ``mleval compare``;
and ``mleval compare`` on such a candidate printed a clean table. The verdict stays the
regression rule's over the cases both ran (the candidate's own run already fails on a
collection error); the warning says what the comparison does not cover.
"""

from __future__ import annotations

import json

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import (
    CaseResult,
    CollectionError,
    MetricScore,
    RunMeta,
    RunResults,
    SuiteInfo,
)


def _run(**kwargs: object) -> RunResults:
    cases = [
        CaseResult(suite="s", case_id=f"c{i}", passed=True, scores={"q": MetricScore(score=1.0)})
        for i in range(4)
    ]
    return RunResults(cases=cases, **kwargs)  # type: ignore[arg-type]


BROKEN = CollectionError(nodeid="evals/b.eval.yaml", file="evals/b.eval.yaml", line=3, message="x")


def test_an_incomplete_baseline_is_named_in_the_comparison() -> None:
    base = _run(collection_errors=[BROKEN], meta=RunMeta(incomplete=["1 file(s) not collected"]))
    comparison, gates = regression_check(base, _run())
    assert all(g.passed for g in gates)
    (warning,) = [w for w in comparison.warnings if "baseline" in w]
    assert warning.startswith("the baseline is not a whole run (1 file(s) not collected)")


def test_a_baseline_run_on_part_of_its_suites_is_named() -> None:
    base = _run(suites=[SuiteInfo(name="s", n_cases=4, not_run=2)])
    comparison, _ = regression_check(base, _run())
    assert any("2 of 6 cases of suite s not run" in w for w in comparison.warnings)


def test_a_whole_baseline_adds_no_warning() -> None:
    comparison, _ = regression_check(_run(), _run())
    assert comparison.warnings == []


@pytest.mark.parametrize("which", ["baseline", "candidate"])
def test_mleval_compare_names_the_run_that_is_not_whole(
    tmp_path: object, which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    whole = _run().model_dump_json()
    broken = _run(collection_errors=[BROKEN]).model_dump_json()
    (root / "base.json").write_text(broken if which == "baseline" else whole)
    (root / "cand.json").write_text(broken if which == "candidate" else whole)
    code = main(["compare", str(root / "base.json"), str(root / "cand.json")])
    out = capsys.readouterr().out
    assert code == 0, out  # no regression over the cases both ran
    assert f"the {which} is not a whole run (1 file(s) could not be collected)" in out
    main(["compare", str(root / "base.json"), str(root / "cand.json"), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert any(w.startswith(f"the {which} is not a whole run") for w in data["warnings"])
