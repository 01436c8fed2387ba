"""`mleval power` and `mleval calibrate` reject numbers that mean nothing.

Before: `mleval power --effect nan` was a traceback, `--effect 0` answered "a baseline of 1
cannot drop so far", a negative effect was read as its size, and `--correlation 2` was used
as given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults, write_results


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    run = RunResults(
        cases=[
            CaseResult(
                suite="s",
                case_id=f"c{i}",
                passed=i % 4 != 0,
                scores={"q": MetricScore(score=0.1 * (i % 9))},
            )
            for i in range(30)
        ]
    )
    return write_results(tmp_path / "b.json", run)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--effect", "nan"], "must be a finite number > 0"),
        (["--effect", "0"], "must be a finite number > 0"),
        (["--effect", "-0.1"], "must be a finite number > 0"),
        (["--effect", "inf"], "must be a finite number > 0"),
        (["--correlation", "2"], "must be a correlation in [-1, 1]"),
        (["--correlation", "nan"], "must be a correlation in [-1, 1]"),
    ],
)
def test_power_rejects_a_meaningless_number(
    baseline: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["power", "--baseline", str(baseline), "--metric", "pass_rate", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert says in err and args[0] in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--effect", "0.1"], ["--correlation", "-1"], []])
def test_power_accepts_sensible_numbers(baseline: Path, args: list[str]) -> None:
    assert main(["power", "--baseline", str(baseline), "--metric", "q", *args]) == 0


@pytest.mark.parametrize("width", ["0", "-0.1", "nan"])
def test_calibrate_rejects_a_meaningless_target_width(
    baseline: Path, capsys: pytest.CaptureFixture[str], width: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["calibrate", "--results", str(baseline), "--target-width", width])
    assert exit_info.value.code == 2
    assert "--target-width" in capsys.readouterr().err
