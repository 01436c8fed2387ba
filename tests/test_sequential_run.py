"""Sequential suites end to end: seeded random order, an early stop once the gates and the
regression verdict are decided (anytime-valid), the rest reported as not needed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_mleval.results.sequential import CS_METHOD, CS_PAIRED_METHOD

APP = """
def echo(case):
    return case.text
"""


def suite(n: int = 200, *, fail_every: int = 0, extra: str = "", gates: str | None = None) -> str:
    cases = "".join(
        f"  - {{id: c{i}, input: {'bad' if fail_every and i % fail_every == 0 else 'ok'}{i}}}\n"
        for i in range(n)
    )
    gate_lines = gates if gates is not None else "  - {metric: pass_rate, min: 0.8}\n"
    return (
        "suite: seq\ntarget: python:app:echo\nsequential: true\n"
        f"{extra}metrics: [{{contains: {{value: ok}}}}]\ngates:\n{gate_lines}cases:\n{cases}"
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    return pytester


def _results(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (pytester.path / "reports" / "mleval-results.json").read_text()
    )
    return data


def test_a_clear_suite_stops_early_and_reports_the_rest_as_not_needed(
    project: pytest.Pytester,
) -> None:
    project.makefile(".eval.yaml", seq=suite())
    result = project.runpytest("-rs")
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] < 60 and outcomes["passed"] + outcomes["skipped"] == 200
    result.stdout.fnmatch_lines(
        ["*not needed: suite seq was decided after * of 200 cases (pass_rate pass)*"]
    )
    assert result.ret == 0
    run = _results(project)
    info = run["suites"][0]["sequential"]
    assert info["cases"] == 200 and info["run"] == outcomes["passed"]
    assert info["not_needed"] == outcomes["skipped"] == len(info["not_needed_ids"])
    assert info["decided_after"] <= info["run"]
    # Not needed is never a result that could pass or fail.
    assert len(run["cases"]) == info["run"] and all(c["passed"] for c in run["cases"])
    (rate,) = [a for a in run["aggregates"] if a["metric"] == "pass_rate"]
    # The gate (`on: estimate`) was decided on the suite's own mean; the interval reported is
    # about the distribution its cases come from, so it is wider than that decision's.
    assert rate["method"] == CS_METHOD and rate["estimate"] == 1.0
    assert 0.5 < rate["ci_low"] < 1.0 and rate["ci_high"] == 1.0
    assert run["gates"][0]["passed"] is True
    assert not run["meta"]["incomplete"]
    # Every output says what stopped it, what was not needed, and which intervals these are.
    result.stdout.fnmatch_lines(
        [
            f"  sequential: decided after {info['decided_after']} of 200 cases (pass_rate pass); "
            f"{info['not_needed']} not needed (never run, never passed); intervals are "
            "anytime-valid confidence sequences"
        ]
    )
    summary = (project.path / "reports" / "mleval-summary.md").read_text()
    assert f"**Sequential:** decided after {info['decided_after']} of 200 cases" in summary
    html = (project.path / "reports" / "mleval-report.html").read_text()
    assert f"Sequential: decided after {info['decided_after']} of 200 cases" in html


def test_the_order_is_random_and_seeded(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", seq=suite(30, gates="  - {metric: pass_rate, min: 0.99}\n"))

    def order(*args: str) -> list[str]:
        result = project.runpytest("--collect-only", "-q", *args)
        return [line for line in result.outlines if "::" in line]

    first, again, other = order(), order(), order("--mleval-seed", "7")
    assert first == again and sorted(first) == sorted(other) and first != other
    assert first != sorted(first, key=lambda n: int(n.rsplit("c", 1)[1]))


def test_an_undecidable_gate_runs_every_case_and_says_why(project: pytest.Pytester) -> None:
    gates = "  - {metric: pass_rate, min: 0.8}\n  - {metric: latency_ms, stat: median, max: 1000}\n"
    body = suite(40, gates=gates).replace(
        "[{contains: {value: ok}}]", "[{contains: {value: ok}}, latency_ms]"
    )
    project.makefile(".eval.yaml", seq=body)
    result = project.runpytest()
    result.assert_outcomes(passed=40)
    info = _results(project)["suites"][0]["sequential"]
    assert info["not_needed"] == 0
    assert "gate latency_ms (median) cannot be decided early" in info["reason"]


def test_a_borderline_suite_runs_to_its_end(project: pytest.Pytester) -> None:
    # 80 % pass against a gate of 0.8: no look decides it; the last one (every case) does.
    project.makefile(".eval.yaml", seq=suite(40, fail_every=5))
    result = project.runpytest()
    result.assert_outcomes(passed=32, failed=8)
    run = _results(project)
    assert run["suites"][0]["sequential"]["not_needed"] == 0
    assert run["gates"][0]["passed"] is True  # the whole population: exactly 0.8


def test_the_flag_makes_every_suite_sequential(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", seq=suite().replace("sequential: true\n", ""))
    project.runpytest().assert_outcomes(passed=200)
    result = project.runpytest("--mleval-sequential")
    assert result.parseoutcomes()["skipped"] > 100


def test_a_baseline_comparison_is_decided_by_the_paired_sequence(
    project: pytest.Pytester,
) -> None:
    body = suite(extra="regression_margin: 0.1\n")
    project.makefile(".eval.yaml", seq=body.replace("sequential: true\n", ""))
    project.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=200)
    project.makefile(".eval.yaml", seq=body)
    result = project.runpytest("--mleval-baseline", "base.json")
    assert result.parseoutcomes()["skipped"] > 100
    run = _results(project)
    assert "pass_rate vs baseline: not worse" in run["suites"][0]["sequential"]["reason"]
    rows = run["comparison"]["suites"][0]["metrics"]
    assert {r["test"] for r in rows} == {CS_PAIRED_METHOD}
    assert all(r["verdict"] == "no significant change" for r in rows)
    assert [g["passed"] for g in run["gates"] if g["metric"] == "regression"] == [True]


def test_under_xdist_each_worker_stops_and_the_gate_holds(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", seq=suite())
    result = project.runpytest("-n", "2")
    outcomes = result.parseoutcomes()
    assert outcomes["skipped"] > 100 and outcomes["passed"] + outcomes["skipped"] == 200
    run = _results(project)
    assert run["gates"][0]["passed"] is True
    assert (
        run["suites"][0]["sequential"]["reason"]
        == "decided by the xdist workers that ran its cases"
    )


def test_calls_in_flight_are_used_not_wasted(project: pytest.Pytester) -> None:
    from pytest_mleval.inference.testserver import OpenAITestServer, Rule

    with OpenAITestServer([Rule(reply="ok fine")], latency_s=0.02) as srv:
        cases = "".join(f"  - {{id: c{i}, input: q{i}}}\n" for i in range(120))
        project.makefile(
            ".eval.yaml",
            mseq=f"suite: mseq\ntarget: model:openai/test-model\napi_base: {srv.base_url}\n"
            "sequential: true\nmetrics: [{contains: {value: ok}}]\n"
            "gates:\n  - {metric: pass_rate, min: 0.7}\ncases:\n" + cases,
        )
        result = project.runpytest("--mleval-cache", "off")
        outcomes = result.parseoutcomes()
        assert outcomes["skipped"] > 50
        # Every call made was scored: the window's calls in flight at the stop ran on.
        assert srv.count == outcomes["passed"]
        info = _results(project)["suites"][0]["sequential"]
        assert info["calls_saved"] == info["not_needed"]


def test_a_variants_suite_is_shuffled_by_case_and_each_variant_stops(
    project: pytest.Pytester,
) -> None:
    body = suite().replace(
        "sequential: true\n", "sequential: true\nvariants: [{name: a}, {name: b}]\n"
    )
    project.makefile(".eval.yaml", seq=body)
    listed = [line for line in project.runpytest("--collect-only", "-q").outlines if "::" in line]
    names = [line.rsplit("::", 1)[1] for line in listed]
    # A case's variants side by side, the cases in a random order.
    assert all(
        names[i].replace("[a]", "") == names[i + 1].replace("[b]", "")
        for i in range(0, len(names), 2)
    )
    first_cases = [n.split("[")[0] for n in names[::2]]
    assert first_cases != [f"c{i}" for i in range(200)]
    result = project.runpytest()
    assert result.parseoutcomes()["skipped"] > 200
    infos = {s["name"]: s["sequential"] for s in _results(project)["suites"]}
    assert set(infos) == {"seq[a]", "seq[b]"}
    assert all(i["decided_after"] and i["not_needed"] > 100 for i in infos.values())


def test_a_small_sequential_suite_is_not_certain_of_its_distribution(
    project: pytest.Pytester,
) -> None:
    # 2 of 2 passing: the finite-population sequence ended on [1, 1] and passed this gate,
    # where the fixed-n Wilson interval's lower end is 0.34.
    project.makefile(
        ".eval.yaml", seq=suite(2, gates="  - {metric: pass_rate, min: 0.9, on: ci_low}\n")
    )
    result = project.runpytest()
    result.assert_outcomes(passed=2)
    assert result.ret != 0
    run = _results(project)
    (rate,) = [a for a in run["aggregates"] if a["metric"] == "pass_rate"]
    assert rate["method"] == CS_METHOD and rate["ci_low"] < 0.34 and rate["ci_high"] == 1.0
    assert run["gates"][0]["passed"] is False


def test_a_sequential_regression_verdict_is_not_certain_after_every_case(
    project: pytest.Pytester,
) -> None:
    # Five cases that all pass before and fail after: the finite-population paired sequence
    # ended on a difference of exactly -1 ([-1, -1]); the distribution's is not known so well.
    body = suite(5)
    project.makefile(".eval.yaml", seq=body.replace("sequential: true\n", ""))
    project.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=5)
    project.makefile(".eval.yaml", seq=body.replace("{value: ok}", "{value: zz}"))
    project.runpytest("--mleval-baseline", "base.json").assert_outcomes(failed=5)
    rows = _results(project)["comparison"]["suites"][0]["metrics"]
    assert {r["test"] for r in rows} == {CS_PAIRED_METHOD}
    assert all(r["ci_high"] - r["ci_low"] > 0.2 for r in rows)
