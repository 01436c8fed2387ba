"""Variants end to end: ids, selection, gates and baselines per variant, under xdist too."""

from __future__ import annotations

import json
from typing import Any

import pytest

APP = """
def upper(case):
    return case.text.upper()

def broken(case):
    raise RuntimeError("this variant's service is down")
"""

SUITE = """
suite: shout
target: python:app:upper
prompt: "{{ input }}"
metrics: [{contains: {value: "A"}}]
variants:
  - {name: plain}
  - {name: prefixed, prompt: "a {{ input }}"}
gates:
  - {metric: pass_rate, min: 1.0}
cases:
  - {id: one, input: apple}
  - {id: two, input: berry}
"""


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


def test_each_case_runs_once_per_variant_with_its_own_gate(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", shout=SUITE)
    result = project.runpytest("-v")
    result.stdout.fnmatch_lines(
        [
            "*shout.eval.yaml::shout::one[[]plain[]] PASSED*",
            "*shout.eval.yaml::shout::one[[]prefixed[]] PASSED*",
            "*shout.eval.yaml::shout::two[[]plain[]] FAILED*",
            "*shout.eval.yaml::shout::two[[]prefixed[]] PASSED*",
        ]
    )
    run = _results(project)
    gates = {g["suite"]: g["passed"] for g in run["gates"]}
    assert gates == {"shout[plain]": False, "shout[prefixed]": True}
    info = {s["name"]: (s["variant"], s["variant_of"]) for s in run["suites"]}
    assert info == {"shout[plain]": ("plain", "shout"), "shout[prefixed]": ("prefixed", "shout")}
    assert {(c["suite"], c["variant"], c["case_id"]) for c in run["cases"]} == {
        ("shout[plain]", "plain", "one"),
        ("shout[plain]", "plain", "two"),
        ("shout[prefixed]", "prefixed", "one"),
        ("shout[prefixed]", "prefixed", "two"),
    }


def test_variants_are_selected_by_flag_and_by_k(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", shout=SUITE)
    result = project.runpytest("--mleval-variants", "prefixed")
    result.assert_outcomes(passed=2)
    assert {c["variant"] for c in _results(project)["cases"]} == {"prefixed"}
    result = project.runpytest("-k", "plain")
    result.assert_outcomes(passed=1, failed=1)
    result = project.runpytest("--mleval-variants", "nope")
    result.assert_outcomes()
    result.stdout.fnmatch_lines(
        ["*--mleval-variants selects none of its variants (plain, prefixed)*"]
    )


def test_repeats_compose_with_variants(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", shout=SUITE.replace("gates:", "repeats: 2\ngates:"))
    result = project.runpytest("-v", "-k", "one")
    result.stdout.fnmatch_lines(
        [
            "*::one[[]plain[]][[]r1[]] PASSED*",
            "*::one[[]plain[]][[]r2[]] PASSED*",
            "*::one[[]prefixed[]][[]r1[]] PASSED*",
            "*::one[[]prefixed[]][[]r2[]] PASSED*",
        ]
    )


def test_reference_only_gates_under_xdist(project: pytest.Pytester) -> None:
    body = SUITE.replace("gates:", "reference: prefixed\nvariant_gates: reference\ngates:")
    project.makefile(".eval.yaml", shout=body)
    result = project.runpytest("-n", "2")
    result.assert_outcomes(passed=3, failed=1)
    # The controller collected nothing: it read the variants' gates back from the file.
    gates = {g["suite"]: g["passed"] for g in _results(project)["gates"]}
    assert gates == {"shout[prefixed]": True}


def test_a_baseline_compares_each_variant_with_the_same_variant(
    project: pytest.Pytester,
) -> None:
    project.makefile(".eval.yaml", shout=SUITE)
    project.runpytest("--mleval-save-baseline", "base.json")
    result = project.runpytest("--mleval-baseline", "base.json")
    comparison = _results(project)["comparison"]
    assert {s["suite"] for s in comparison["suites"]} == {"shout[plain]", "shout[prefixed]"}
    assert all(s["n_matched"] == 2 for s in comparison["suites"])
    assert not comparison["only_in_baseline"] and not comparison["only_in_candidate"]
    del result


def test_a_variant_whose_target_fails_leaves_the_others_running(
    project: pytest.Pytester,
) -> None:
    body = SUITE.replace(
        '  - {name: prefixed, prompt: "a {{ input }}"}',
        '  - {name: prefixed, prompt: "a {{ input }}"}\n  - {name: down, target: "python:app:broken"}',
    )
    project.makefile(".eval.yaml", shout=body)
    result = project.runpytest()
    result.assert_outcomes(passed=3, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of shout::one[[]down[]]*",
            "*RuntimeError: this variant's service is down",
        ]
    )
    cases = _results(project)["cases"]
    assert sum(1 for c in cases if c["variant"] == "down" and c["error"]) == 2
    assert sum(1 for c in cases if c["variant"] != "down" and c["error"] is None) == 4


def test_judge_variants_options_are_checked_when_the_file_is_collected(
    project: pytest.Pytester,
) -> None:
    body = SUITE.replace("gates:", "judge_variants:\n  criteria: better\n  against: x\ngates:")
    project.makefile(".eval.yaml", shout=body)
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*shout.eval.yaml:10: field 'judge_variants.against': judge_variants: against: unknown option*"
        ]
    )


def test_each_variant_is_prefetched_through_its_own_target(project: pytest.Pytester) -> None:
    # Two variants of one model target at two endpoints: the look-ahead window must build
    # each case's request with its own variant's api_base, so each server sees only its own.
    from pytest_mleval.inference.testserver import OpenAITestServer, Rule

    with OpenAITestServer([Rule(reply="A")]) as one, OpenAITestServer([Rule(reply="A")]) as two:
        body = f"""
suite: ends
target: model:openai/test-model
metrics: [{{contains: {{value: A}}}}]
variants:
  - {{name: one, api_base: "{one.base_url}"}}
  - {{name: two, api_base: "{two.base_url}", system: Be brief.}}
cases:
""" + "".join(f"  - {{id: c{i}, input: q{i}}}\n" for i in range(6))
        project.makefile(".eval.yaml", ends=body)
        result = project.runpytest("--mleval-cache", "off")
        result.assert_outcomes(passed=12)
        assert one.count == 6 and two.count == 6
