"""``mleval merge``: shards that do not belong together are one clear error, never merged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.cli import main

APP = """
def echo(case):
    return "A: " + case.input
"""

SUITE = """
suite: s
target: python:app:echo
prompt: "{{ input }}"
metrics: [{contains: {value: "A:"}}]
gates:
  - {metric: pass_rate, min: 0.5}
cases:
""" + "".join(f"  - {{id: c{i}, input: x{i}}}\n" for i in range(9))


@pytest.fixture
def shards(pytester: pytest.Pytester) -> list[Path]:
    """Three shards of one run (and the project they ran in, the current directory)."""
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", s=SUITE)
    pytester.syspathinsert()
    files = []
    for i in (1, 2, 3):
        result = pytester.runpytest(f"--mleval-shard={i}/3", f"--mleval-report-dir=s{i}")
        assert result.ret == 0, result.stdout.str()
        files.append(pytester.path / f"s{i}" / "mleval-results.json")
    return files


def _merge(capsys: pytest.CaptureFixture[str], *files: Path | str) -> tuple[int, str]:
    code = main(["merge", *map(str, files), "-o", "merged/mleval-results.json"])
    return code, capsys.readouterr().err


def _edit(path: Path, dest: Path, change: Any) -> Path:
    data = json.loads(path.read_text())
    change(data)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(data))
    return dest


def test_the_shards_of_one_run_merge(
    shards: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _merge(capsys, *reversed(shards))  # in any order
    assert code == 0, err
    merged = json.loads(Path("merged/mleval-results.json").read_text())
    assert sorted(c["case_id"] for c in merged["cases"]) == sorted(f"c{i}" for i in range(9))
    assert [c["case_id"] for c in merged["cases"]] == [f"c{i}" for i in range(9)]


def test_a_corrupt_shard_file(shards: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = shards[1].read_text()
    shards[1].write_text(text[: len(text) // 2])
    code, err = _merge(capsys, *shards)
    assert code == 2
    assert str(shards[1]) in err and "not valid JSON" in err
    assert not Path("merged").exists(), "nothing merged"


def test_a_results_file_that_is_no_shard(
    shards: list[Path], pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.runpytest("--mleval-report-dir=whole")
    whole = pytester.path / "whole" / "mleval-results.json"
    code, err = _merge(capsys, shards[0], whole)
    assert code == 2 and str(whole) in err and "not a shard's results" in err


def test_shards_from_different_commits(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = _edit(shards[2], tmp_path / "other.json", lambda d: d["meta"].update(git_sha="abc123"))
    code, err = _merge(capsys, shards[0], shards[1], other)
    assert code == 2 and str(other) in err and "different commits" in err and "abc123" in err
    assert not Path("merged").exists()


def test_shards_of_another_configuration(
    shards: list[Path], pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # Another seed: the fingerprint differs, and the error says in what.
    pytester.runpytest("--mleval-shard=3/3", "--mleval-report-dir=seeded", "--mleval-seed=7")
    seeded = pytester.path / "seeded" / "mleval-results.json"
    code, err = _merge(capsys, shards[0], shards[1], seeded)
    assert code == 2 and str(seeded) in err and "option seed is 7 here, 0 there" in err
    # Another eval file: the same.
    pytester.makefile(".eval.yaml", s=SUITE.replace("min: 0.5", "min: 0.6"))
    pytester.runpytest("--mleval-shard=3/3", "--mleval-report-dir=edited")
    edited = pytester.path / "edited" / "mleval-results.json"
    code, err = _merge(capsys, shards[0], shards[1], edited)
    assert code == 2 and str(edited) in err and "eval file s.eval.yaml differs" in err
    assert not Path("merged").exists()


def test_an_eval_file_changed_after_the_shards_ran(
    shards: list[Path], pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # The suites (gates) are read back from the eval files: they must be the shards' own.
    pytester.makefile(".eval.yaml", s=SUITE.replace("min: 0.5", "min: 0.9"))
    code, err = _merge(capsys, *shards)
    assert code == 2 and "s.eval.yaml changed since the shards ran" in err
    Path("s.eval.yaml").unlink()
    code, err = _merge(capsys, *shards)
    assert code == 2 and "eval file s.eval.yaml not found" in err


def test_the_same_shard_twice(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.json"
    shutil.copy(shards[1], copy)
    code, err = _merge(capsys, shards[0], shards[1], copy)
    assert code == 2 and str(copy) in err and "shard 2/3 again" in err and str(shards[1]) in err


def test_shards_of_different_splits(
    shards: list[Path], pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.runpytest("--mleval-shard=2/2", "--mleval-report-dir=half")
    half = pytester.path / "half" / "mleval-results.json"
    code, err = _merge(capsys, shards[0], half)
    assert code == 2 and str(half) in err and "different splits" in err


def test_a_case_in_the_wrong_shard(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Shard 3's cases labelled shard 2 (an edited or mislabelled file): never merged.
    relabelled = _edit(shards[2], tmp_path / "r.json", lambda d: d["meta"]["shard"].update(index=2))
    code, err = _merge(capsys, shards[0], relabelled)
    assert code == 2 and str(relabelled) in err and "not a shard of this split" in err


def test_a_missing_shard_is_named_and_the_run_incomplete(
    shards: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _merge(capsys, shards[0], shards[2])
    assert code == 1
    assert "1 of 3 shard(s) missing: 2/3" in err
    merged = json.loads(Path("merged/mleval-results.json").read_text())
    assert merged["meta"]["incomplete"] == ["1 of 3 shard(s) missing: 2/3"]
    summary = Path("merged/mleval-summary.md").read_text()
    assert "incomplete" in summary.lower() and "2/3" in summary


def test_a_baseline_other_than_the_shards(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", s=SUITE)
    pytester.syspathinsert()
    pytester.runpytest("--mleval-report-dir=base")
    pytester.runpytest("--mleval-report-dir=base2", "--mleval-seed=3")
    files = []
    for i in (1, 2):
        pytester.runpytest(
            f"--mleval-shard={i}/2",
            f"--mleval-report-dir=s{i}",
            "--mleval-baseline=base/mleval-results.json",
        )
        files.append(pytester.path / f"s{i}" / "mleval-results.json")
    code = main(
        [
            "merge",
            *map(str, files),
            "-o",
            "m/mleval-results.json",
            "--baseline",
            "base2/mleval-results.json",
        ]
    )
    assert code == 2 and "not the one the shards were run with" in capsys.readouterr().err
    # Without --baseline the shards' own path is used, here where it exists.
    assert main(["merge", *map(str, files), "-o", "m/mleval-results.json"]) == 0
    merged = json.loads(Path("m/mleval-results.json").read_text())
    assert merged["comparison"]["suites"]
    Path("base/mleval-results.json").unlink()
    capsys.readouterr()
    assert main(["merge", *map(str, files), "-o", "m/mleval-results.json"]) == 2
    assert "pass it with --baseline" in capsys.readouterr().err


def test_an_eval_file_that_does_not_load_here(
    shards: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A metric of an extra the merging machine lacks: the suite's gates would vanish silently.
    import pytest_mleval.cases.suite as suite_module
    from pytest_mleval.errors import EvalFileError

    def broken(path: Any, **_: Any) -> Any:
        raise EvalFileError(f"{path}: unknown metric 'needs_an_extra'")

    monkeypatch.setattr(suite_module, "load_suite", broken)
    code, err = _merge(capsys, *shards)
    assert code == 2 and "eval file s.eval.yaml does not load here" in err
    assert "needs_an_extra" in err and not Path("merged").exists()
