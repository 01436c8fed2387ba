"""A gated suite that ``-k``, ``-m``, ``--deselect`` or ``--lf`` left out entirely is named.

Before, ``pytest evals -k alpha`` beside a failing gated suite ``beta`` read "Run passed" and
"Gates: 1/1 passed" in every output: the suite had no case result, so it had no record at
all, where deselecting 1 of its 2 cases read "passed on part of its suites". A suite whose
every case was deselected now reads the same way; a shard's deselection is not a user's
(``mleval merge`` puts the shards together).
"""

from __future__ import annotations

import json

import pytest

from pytest_mleval.report.history import recent_runs, resolve_url

ALPHA = """
suite: alpha
target: python:app:echo
metrics: [exact]
gates: [{metric: pass_rate, min: 0.9}]
cases:
  - {id: x, input: hi, expected: hi}
  - {id: y, input: yo, expected: yo}
"""

BETA = """
suite: beta
target: python:app:echo
metrics: [exact]
gates: [{metric: pass_rate, min: 0.9}]
cases:
  - {id: b1, input: hi, expected: nope}
  - {id: b2, input: hi, expected: nope}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", a=ALPHA, b=BETA)
    return pytester


def _results(pytester: pytest.Pytester) -> dict:  # type: ignore[type-arg]
    return json.loads((pytester.path / "reports" / "mleval-results.json").read_text())


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
@pytest.mark.parametrize(
    "select", [["-k", "alpha"], ["--deselect", "b.eval.yaml::beta"]], ids=["-k", "--deselect"]
)
def test_a_suite_left_out_entirely_is_named_in_every_output(
    project: pytest.Pytester, workers: list[str], select: list[str]
) -> None:
    result = project.runpytest(*select, *workers)
    # Deselecting is the user's choice: the run is not failed, but it is not "passed" either.
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "run passed on part of its suites: 2 of 2 cases of suite beta not run",
            "suite beta: 0 of 2 cases ran (2 not run), 0 errored",
            "gate alpha: PASS *",
            "gate beta: NOT CHECKED 1 gate(s): no case of the suite was selected",
        ]
    )
    results = _results(project)
    info = {s["name"]: s for s in results["suites"]}
    assert info["beta"]["n_cases"] == 0 and info["beta"]["not_run"] == 2
    assert info["beta"]["unchecked_gates"] == 1 and info["alpha"]["unchecked_gates"] == 0
    assert info["beta"]["file"].endswith("b.eval.yaml")
    assert info["alpha"]["not_run"] == 0
    summary = (project.path / "reports" / "mleval-summary.md").read_text()
    lines = [line for line in summary.splitlines() if line.strip()]
    assert lines[1].startswith("⚠️ **Run passed on part of its suites: 2 of 2 cases of suite")
    assert "**Gates: 1/1 passed, 1 not checked** ⚠️" in lines
    assert "| beta | 1 gate\\(s\\): no case of the suite was selected | ⚠️ not checked |" in lines
    assert (
        "⚠️ 0 of 2 cases ran (2 not run): none was selected, so its gates were not checked." in lines
    )
    html = (project.path / "reports" / "mleval-report.html").read_text()
    assert 'class="verdict warn" id="verdict">passed on part of its suites' in html
    assert '1/1 passed · <span class="st-errored">1 not checked</span>' in html
    runs = recent_runs(resolve_url(None, project.path / "reports"))
    assert runs[0].incomplete == "2 of 2 cases of suite beta not run"


def test_the_failing_suite_still_fails_when_it_runs(project: pytest.Pytester) -> None:
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert {s["name"]: s["not_run"] for s in _results(project)["suites"]} == {
        "alpha": 0,
        "beta": 0,
    }


def test_a_suite_in_another_shard_is_not_a_deselected_one(project: pytest.Pytester) -> None:
    # Two shards: each suite's cases may all land in one of them; that is the merge's business.
    for index in (1, 2):
        project.runpytest(f"--mleval-shard={index}/2", f"--mleval-report-dir=s{index}")
        for suite in json.loads((project.path / f"s{index}" / "mleval-results.json").read_text())[
            "suites"
        ]:
            assert suite["n_cases"] > 0, suite


def test_merged_shards_name_the_suite_the_selection_left_out(project: pytest.Pytester) -> None:
    from pytest_mleval.cli import main

    # Cases x and y of alpha fall in shards 1 and 2: each shard writes results.
    project.runpytest("-k", "alpha", "--mleval-report-dir=full")
    for index in (1, 2):
        project.runpytest(
            "-k", "alpha", f"--mleval-shard={index}/2", f"--mleval-report-dir=s{index}"
        )
    shards = [str(project.path / f"s{i}" / "mleval-results.json") for i in (1, 2)]
    code = main(["merge", *shards, "-o", str(project.path / "m" / "mleval-results.json")])
    assert code == 0
    full = json.loads((project.path / "full" / "mleval-results.json").read_text())
    merged = json.loads((project.path / "m" / "mleval-results.json").read_text())

    def rows(run: dict) -> dict:  # type: ignore[type-arg]
        return {
            s["name"]: (s["n_cases"], s["not_run"], s["unchecked_gates"]) for s in run["suites"]
        }

    assert rows(merged) == rows(full) == {"alpha": (2, 0, 0), "beta": (0, 2, 1)}
    summary = (project.path / "m" / "mleval-summary.md").read_text()
    assert "Run passed on part of its suites: 2 of 2 cases of suite beta not run" in summary
