"""End-to-end behaviour of the plugin, driven through pytester."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

APP = """
def answer(case):
    table = {"refund": "You have 30 days to return an item.", "ship": "Shipping takes 3 to 5 days."}
    return {"output": table.get(case.vars.get("topic", ""), "I do not know."), "retrieved": ["d1", "d2"]}

def boom(case):
    if case.id == "bad":
        raise RuntimeError("the target exploded")
    return "fine"

def echo(case):
    return case.text
"""

SUITE = """
suite: support
target: python:app:answer
metrics:
  - rouge_l: {threshold: 0.5}
cases:
  - id: refund
    input: How long to return?
    expected: You have 30 days to return an item.
    vars: {topic: refund}
    tags: [policy, smoke]
    metrics:
      - contains: {value: "30 days"}
  - id: ship
    input: Shipping time?
    expected: Shipping takes 3 to 5 days.
    vars: {topic: ship}
    tags: [shipping]
  - id: hats
    input: Do you sell hats?
    expected: Yes, we sell hats.
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", support=SUITE)
    pytester.syspathinsert()
    return pytester


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "mleval-results.json").read_text())


def test_cases_become_items_with_outcomes(project: pytest.Pytester) -> None:
    result = project.runpytest("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*support.eval.yaml::support::refund PASSED*",
            "*support.eval.yaml::support::ship PASSED*",
            "*support.eval.yaml::support::hats FAILED*",
        ]
    )
    # the failure report shows the metric table and a diff
    result.stdout.fnmatch_lines(
        ["*case support::hats failed*", "*rouge_l*FAIL*", "*-Yes, we sell hats.*"]
    )
    data = results(project)
    assert data["kind"] == "mleval-results" and data["schema_version"] == 1
    by_id = {c["case_id"]: c for c in data["cases"]}
    assert set(by_id) == {"refund", "ship", "hats"}
    assert by_id["refund"]["scores"]["contains"]["score"] == 1.0
    assert by_id["refund"]["retrieved"] == ["d1", "d2"]
    assert by_id["hats"]["passed"] is False
    agg = {a["metric"]: a for a in data["aggregates"]}
    assert agg["pass_rate"]["estimate"] == pytest.approx(2 / 3)
    assert agg["pass_rate"]["ci_low"] < 2 / 3 < agg["pass_rate"]["ci_high"]
    assert (project.path / "reports" / "mleval-summary.md").exists()
    result.stdout.fnmatch_lines(["*mleval summary*", "*suite support: 3 cases*", "*pass_rate*"])


def test_other_yaml_files_are_not_collected(project: pytest.Pytester) -> None:
    project.makefile(".yaml", config="suite: nope\ncases: [{id: x, input: y}]\n")
    project.makefile(".yml", data="- 1\n- 2\n")
    result = project.runpytest("--collect-only", "-q")
    assert "config.yaml" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*3 tests collected*"])


def test_eval_prefix_pattern_and_ini_override(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    body = (
        "target: python:app:echo\nmetrics: [contains]\ncases: [{id: a, input: hi, expected: hi}]\n"
    )
    pytester.makefile(".yaml", eval_greeting=body)
    pytester.makefile(".yaml", custom_checks=body)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["eval_greeting.yaml::greeting::a"])
    pytester.makeini("[pytest]\nmleval_files = custom_*.yaml\n")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["custom_checks.yaml::custom_checks::a"])
    assert "eval_greeting" not in result.stdout.str()


def test_tags_are_markers_and_selection_works(project: pytest.Pytester) -> None:
    result = project.runpytest("--strict-markers", "-m", "smoke", "-v")
    result.assert_outcomes(passed=1, deselected=2)
    result = project.runpytest("--strict-markers", "-k", "ship or hats")
    result.assert_outcomes(passed=1, failed=1, deselected=1)
    result = project.runpytest("--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.mleval*"])


def test_last_failed_and_exitfirst(project: pytest.Pytester) -> None:
    project.runpytest("-p", "cacheprovider")
    result = project.runpytest("--lf", "-v")
    result.assert_outcomes(failed=1, deselected=2)
    result = project.runpytest("-x", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed") == 2  # hats is last


def test_repeats_ids_and_per_case_averaging(project: pytest.Pytester) -> None:
    result = project.runpytest("--mleval-repeats", "2", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*support::refund[[]r1[]]", "*support::refund[[]r2[]]"])
    result = project.runpytest("--mleval-repeats", "2")
    result.assert_outcomes(passed=4, failed=2)
    data = results(project)
    assert sorted((c["case_id"], c["repeat"]) for c in data["cases"])[:2] == [
        ("hats", 0),
        ("hats", 1),
    ]
    agg = {a["metric"]: a for a in data["aggregates"]}
    assert agg["pass_rate"]["n"] == 3  # repeats averaged per case first


def test_xdist_merges_every_result_into_one_file(project: pytest.Pytester) -> None:
    for i in range(3):
        project.makefile(
            ".eval.yaml",
            **{
                f"more{i}": f"suite: more{i}\ntarget: python:app:echo\nmetrics: [contains]\n"
                + "cases:\n"
                + "".join(f"  - {{id: c{j}, input: x{j}, expected: x{j}}}\n" for j in range(5))
            },
        )
    result = project.runpytest_subprocess("-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=17, failed=1)
    data = results(project)
    assert len(data["cases"]) == 18
    assert {s["name"] for s in data["suites"]} == {"support", "more0", "more1", "more2"}
    assert len(list((project.path / "reports").glob("mleval-results*.json"))) == 1


def test_junit_carries_scores(project: pytest.Pytester) -> None:
    result = project.runpytest("--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    root = ET.parse(project.path / "junit.xml").getroot()
    case = next(tc for tc in root.iter("testcase") if tc.get("name") == "refund")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["mleval.contains"] == "1.0"
    assert float(props["mleval.rouge_l"]) == pytest.approx(1.0)
    assert "mleval_case" not in props  # the full record is not dumped into junit


def test_gates_fail_the_run(project: pytest.Pytester) -> None:
    project.makefile(
        ".eval.yaml",
        gated="""
suite: gated
target: python:app:echo
metrics: [exact]
gates:
  - {metric: exact, stat: mean, min: 0.5}
  - {metric: pass_rate, min: 0.9, on: ci_low}
cases:
  - {id: a, input: one, expected: one}
  - {id: b, input: two, expected: zwei}
""",
    )
    result = project.runpytest("gated.eval.yaml")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*gate gated: PASS mean(exact) = 0.5000*", "*gate gated: FAIL ci_low of pass_rate*"]
    )
    gates = results(project)["gates"]
    assert [g["passed"] for g in gates] == [True, False]


def test_dataset_formats_and_mapping(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    data = pytester.mkdir("data")
    (data / "a.jsonl").write_text(
        '{"q": "alpha", "a": "alpha", "kind": "x"}\n\n{"q": "beta", "a": "beta"}\n'
    )
    (data / "b.csv").write_text('q,a,tags\ngamma,gamma,"t1,t2"\n')
    (data / "c.json").write_text(json.dumps([{"q": "delta", "a": "delta"}]))
    (data / "d.yaml").write_text("cases:\n  - {q: eps, a: eps, id: custom}\n")
    pytester.makefile(
        ".eval.yaml",
        ds="""
target: python:app:echo
prompt: "{{ input }}"
metrics: [exact]
dataset:
  - {path: data/a.jsonl, mapping: {input: q, expected: a}}
  - {path: data/b.csv, mapping: {input: q, expected: a}}
  - {path: data/c.json, mapping: {input: q, expected: a}}
  - {path: data/d.yaml, mapping: {input: q, expected: a}}
""",
    )
    result = pytester.runpytest("-v", "--strict-markers", "-m", "t1 or not t1")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        ["*ds::a-1 PASSED*", "*ds::a-3 PASSED*", "*ds::b-2 PASSED*", "*ds::custom PASSED*"]
    )


def test_fixture_target(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest

@pytest.fixture
def shouting_bot():
    return lambda case: case.input.upper()
"""
    )
    pytester.makefile(
        ".eval.yaml",
        fx="target: fixture:shouting_bot\nmetrics: [exact]\ncases: [{id: a, input: hi, expected: HI}]\n",
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_custom_metrics_by_decorator_and_reference(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        mymetrics="""
def shortness(sample, limit=10):
    return (1.0 if len(sample.output) <= limit else 0.0, f"{len(sample.output)} chars")
"""
    )
    pytester.makeconftest(
        """
from pytest_mleval import metric

@metric("polite", threshold=1.0)
def polite(sample):
    return float("please" in sample.output.lower())
"""
    )
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        cm="""
target: python:app:echo
metrics:
  - polite
  - python:mymetrics:shortness: {threshold: 1, limit: 12}
cases:
  - {id: ok, input: please now}
  - {id: rude, input: now}
  - {id: long, input: please wait a very long time}
""",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*python:mymetrics:shortness*FAIL*28 chars*"])


def test_weighted_pass_rule(project: pytest.Pytester) -> None:
    project.makefile(
        ".eval.yaml",
        w="""
target: python:app:echo
pass_score: 0.6
metrics:
  - exact: {weight: 1}
  - contains: {value: hello, weight: 3}
cases:
  - {id: a, input: hello there, expected: hello}
  - {id: b, input: bye, expected: bye}
""",
    )
    result = project.runpytest("w.eval.yaml", "-v")
    result.stdout.fnmatch_lines(["*w::a PASSED*", "*w::b FAILED*"])


def test_python_api_feeds_the_same_results(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bot="""
import pytest
from pytest_mleval import load_cases, check

@pytest.mark.parametrize("case", load_cases("support.eval.yaml"))
def test_bot(case, mleval):
    mleval.check(case, "You have 30 days to return an item.")

def test_adhoc():
    check({"id": "adhoc", "input": "x", "expected": "y", "metrics": ["exact"]}, "y", suite="adhoc")
"""
    )
    result = project.runpytest("test_bot.py", "--strict-markers", "-v")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["*test_bot[[]support::refund[]] PASSED*", "*case support::ship failed*"]
    )
    data = results(project)
    assert {(c["suite"], c["case_id"]) for c in data["cases"]} == {
        ("support", "refund"),
        ("support", "ship"),
        ("support", "hats"),
        ("adhoc", "adhoc"),
    }


def test_python_api_takes_labelled_metrics(project: pytest.Pytester) -> None:
    # `name:` is the entry's label; the metric is still `contains` (was "unknown metric 'days'").
    project.makepyfile(
        test_labelled_check="""
from pytest_mleval import check

def test_labelled():
    metrics = [{"contains": {"value": "30", "name": "days"}}, {"contains": {"value": "refund"}}]
    result = check({"id": "l", "input": "x"}, "30 days", suite="lab", metrics=metrics,
                   raise_on_fail=False)
    assert result.scores["days"].score == 1.0
    assert result.scores["contains"].score == 0.0
"""
    )
    project.runpytest("test_labelled_check.py").assert_outcomes(passed=1)


def test_no_heavy_imports_after_collecting_python_suite(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
import sys
HEAVY = ["litellm", "torch", "transformers", "sentence_transformers", "scipy"]

def pytest_collection_finish(session):
    loaded = [m for m in HEAVY if m in sys.modules]
    print("HEAVY-LOADED:", loaded)
"""
    )
    result = project.runpytest_subprocess("--collect-only", "-s")
    result.stdout.fnmatch_lines(["HEAVY-LOADED: []"])


def test_no_eval_files_no_outputs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()
    assert "mleval summary" not in result.stdout.str()


def test_report_dir_and_save_baseline(project: pytest.Pytester, tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    project.runpytest("--mleval-report-dir", "out", "--mleval-save-baseline", str(base))
    assert (project.path / "out" / "mleval-results.json").exists()
    assert json.loads(base.read_text())["kind"] == "mleval-results"


def test_ini_twins(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nmleval_report_dir = ini-out\nmleval_repeats = 2\n")
    result = project.runpytest()
    result.assert_outcomes(passed=4, failed=2)
    assert (project.path / "ini-out" / "mleval-results.json").exists()


def test_help_lists_one_option_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*LLM evaluation (pytest-mleval)*", "*--mleval-baseline=PATH*", "*mleval_report_dir*"]
    )


def test_compare_to_pairs_two_suites_of_one_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app="def weak(case):\n    return 'x'\n\ndef strong(case):\n    return case.input\n"
    )
    pytester.syspathinsert()
    cases = "cases:\n" + "".join(
        f"  - {{id: c{i}, input: q{i}, expected: q{i}}}\n" for i in range(25)
    )
    pytester.makefile(
        ".eval.yaml", a="suite: a\ntarget: python:app:weak\nmetrics: [exact]\n" + cases
    )
    pytester.makefile(
        ".eval.yaml",
        b="suite: b\ntarget: python:app:strong\nmetrics: [exact]\ncompare_to: a\n" + cases,
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*b vs a (paired by case):*", "*exact*improved*"])
    data = results(pytester)
    (variant,) = data["variants"]
    assert (variant["baseline_suite"], variant["candidate_suite"]) == ("a", "b")
    exact = next(m for m in variant["suites"][0]["metrics"] if m["metric"] == "exact")
    assert exact["diff"] == 1.0 and exact["verdict"] == "improved" and "McNemar" in exact["test"]
    assert "### b vs a" in (pytester.path / "reports" / "mleval-summary.md").read_text()
    html = (pytester.path / "reports" / "mleval-report.html").read_text()
    assert 'id="variants"' in html and "b against a, paired by case" in html
