"""``mleval calibrate --target-width``: the judge metric on the human scale and how many labels
its interval needs, from the eval file's ``labels:`` or a labels file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_mleval import stats
from pytest_mleval.cli import main
from pytest_mleval.results.records import (
    CaseResult,
    MetricScore,
    RunResults,
    SuiteInfo,
    write_results,
)

CASES = 300
LABELLED = 40


def people_and_judge() -> tuple[np.ndarray, np.ndarray]:
    """People's and the judge's scores on a 1-5 scale (the judge a point generous, noisy)."""
    rng = np.random.default_rng(0)
    human = rng.integers(1, 5, CASES)
    judge = np.clip(human + 1 - (rng.random(CASES) < 0.3), 1, 5)
    return human, judge


def norm(x: np.ndarray) -> np.ndarray:
    return (x - 1) / 4


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    human, judge = people_and_judge()
    values = ", ".join(f"c{i}: {norm(human[i]):g}" for i in range(LABELLED))
    cases = "\n".join(f"  - {{id: c{i}, input: x}}" for i in range(CASES))
    eval_file = tmp_path / "s.eval.yaml"
    eval_file.write_text(
        "suite: s\ntarget: python:app:f\nmetrics: [{judge: {criteria: ok}}]\n"
        f"labels: {{metric: judge, values: {{{values}}}}}\ncases:\n{cases}\n"
    )
    run = RunResults(
        suites=[SuiteInfo(name="s", file=str(eval_file), n_cases=CASES)],
        cases=[
            CaseResult(
                suite="s",
                case_id=f"c{i}",
                scores={
                    "judge": MetricScore(
                        score=float(norm(judge[i])),
                        data={"raw_scores": [int(judge[i])], "scale": [1, 5]},
                    )
                },
            )
            for i in range(CASES)
        ],
    )
    path = tmp_path / "mleval-results.json"
    write_results(path, run)
    rows = [json.dumps({"id": f"s::c{i}", "human": int(human[i])}) for i in range(LABELLED)]
    (tmp_path / "people.jsonl").write_text("\n".join(rows) + "\n")
    return path


def plan(target: float) -> stats.LabelPlan:
    human, judge = people_and_judge()
    y, f = norm(human), norm(judge)
    return stats.ppi_labels_needed(y[:LABELLED], f[:LABELLED], f[LABELLED:], target)


def test_labels_needed_from_the_eval_files_labels(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    want = plan(0.07)
    assert want.labels_needed is not None and want.more
    assert main(["calibrate", "--results", str(stored), "--target-width", "0.07"]) == 0
    out = capsys.readouterr().out
    assert f"suite s, metric judge: {LABELLED} labelled of {CASES} judged" in out
    assert f"width {want.width:.4f}" in out
    assert f"about {want.labels_needed} labels in all, {want.more} more" in out
    assert "labels alone" in out and "on the human scale" in out


def test_labels_file_on_the_judges_scale(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The same labels on the 1-5 scale, ids SUITE::CASE: mapped as the judge maps its own.
    people = stored.parent / "people.jsonl"
    assert main(["calibrate", str(people), "--results", str(stored), "--target-width", "0.07"]) == 0
    want = plan(0.07)
    assert f"about {want.labels_needed} labels in all, {want.more} more" in capsys.readouterr().out


def test_met_and_unreachable_targets(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wide = plan(1.0)
    assert wide.more == 0
    assert main(["calibrate", "--results", str(stored), "--target-width", "1"]) == 0
    assert f"met with the {LABELLED} labels there are" in capsys.readouterr().out
    narrow = plan(0.001)
    assert narrow.labels_needed is None
    assert main(["calibrate", "--results", str(stored), "--target-width", "0.001"]) == 0
    out = capsys.readouterr().out
    assert f"not reachable by labelling these {CASES} cases" in out
    assert f"the narrowest is {narrow.best_width:.4f}" in out


def test_usage_errors(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--target-width", "0.05"]) == 2
    assert "--target-width needs --results" in capsys.readouterr().err
    assert main(["calibrate"]) == 2
    assert "give a labels file" in capsys.readouterr().err
    args = ["calibrate", "--results", str(stored), "--target-width", "0.05", "--metric", "tone"]
    assert main(args) == 2
    assert "no suite has 2 or more cases labelled" in capsys.readouterr().err
    bad = stored.parent / "bad.jsonl"
    bad.write_text('{"id": "s::c1", "human": 9}\n')
    assert main(["calibrate", str(bad), "--results", str(stored), "--target-width", "0.1"]) == 2
    assert "off the metric's scale [1, 5]" in capsys.readouterr().err
    bare = stored.parent / "bare.jsonl"
    bare.write_text('{"id": "c1", "human": 3}\n{"id": "c2", "human": 4}\n')
    # One suite in the run: plain case ids are its.
    assert main(["calibrate", str(bare), "--results", str(stored), "--target-width", "0.1"]) == 0
