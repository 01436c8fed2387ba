"""Bad input never crashes the run or loses results: each problem is one precise error."""

from __future__ import annotations

import json

import pytest

APP = """
def echo(case):
    return case.text

def boom(case):
    if case.id == "bad":
        raise RuntimeError("the target exploded")
    return "fine"

def none(case):
    return None
"""

GOOD = "target: python:app:echo\nmetrics: [exact]\ncases: [{id: ok, input: a, expected: a}]\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", good=GOOD)
    return pytester


def run(pytester: pytest.Pytester, name: str, body: str) -> pytest.RunResult:
    pytester.makefile(".eval.yaml", **{name: body})
    return pytester.runpytest()


def test_malformed_yaml_is_one_collection_error_with_line(project: pytest.Pytester) -> None:
    result = run(
        project,
        "broken",
        "target: python:app:echo\ncases:\n  - id: a\n    input: [unclosed\n  - id: b\n",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*broken.eval.yaml:*invalid YAML*"])
    text = result.stdout.str()
    assert "Traceback" not in text
    # the other file still ran and its result was written
    data = json.loads((project.path / "reports" / "mleval-results.json").read_text())
    assert [c["case_id"] for c in data["cases"]] == ["ok"]


def test_unknown_metric_lists_valid_names(project: pytest.Pytester) -> None:
    body = "target: python:app:echo\ncases:\n  - id: c1\n    input: x\n    metrics: [rouge_z]\n"
    result = run(project, "um", body)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*um.eval.yaml:5: case 'c1', field 'metrics': unknown metric 'rouge_z'; valid metrics: *rouge_l*"
        ]
    )


def test_missing_input_names_case_and_field(project: pytest.Pytester) -> None:
    body = "target: python:app:echo\ncases:\n  - id: first\n    input: x\n  - id: second\n    expected: y\n"
    result = run(project, "mi", body)
    result.stdout.fnmatch_lines(
        ["*mi.eval.yaml:5: case 'second', field 'input': required field is missing*"]
    )


def test_duplicate_case_id(project: pytest.Pytester) -> None:
    body = "target: python:app:echo\ncases:\n  - {id: a, input: x}\n  - {id: a, input: y}\n"
    result = run(project, "dup", body)
    result.stdout.fnmatch_lines(
        [
            "*dup.eval.yaml:4: case 'a', field 'id': duplicate case id (first defined in this file, line 3)*"
        ]
    )


def test_wrong_threshold_type(project: pytest.Pytester) -> None:
    body = "target: python:app:echo\ncases:\n  - id: t\n    input: x\n    metrics:\n      - exact: {threshold: high}\n"
    result = run(project, "thr", body)
    result.stdout.fnmatch_lines(
        ["*thr.eval.yaml:6: case 't', field 'metrics.exact.threshold': *must be a number*"]
    )


def test_unknown_top_level_field(project: pytest.Pytester) -> None:
    result = run(project, "uf", "target: python:app:echo\nmetricz: [exact]\ncases: []\n")
    result.stdout.fnmatch_lines(["*uf.eval.yaml:2: field 'metricz': unknown field*"])


def test_missing_dataset_file(project: pytest.Pytester) -> None:
    result = run(project, "ds", "target: python:app:echo\ndataset: data/nope.jsonl\n")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*ds.eval.yaml: field 'dataset': dataset file not found*nope.jsonl*"]
    )


def test_bad_dataset_row_names_line(project: pytest.Pytester) -> None:
    (project.path / "rows.jsonl").write_text('{"input": "a"}\n{"input": \n')
    result = run(project, "dsrow", "target: python:app:echo\ndataset: rows.jsonl\n")
    result.stdout.fnmatch_lines(["*rows.jsonl:2: invalid JSON*"])


def test_dataset_missing_mapped_column(project: pytest.Pytester) -> None:
    (project.path / "rows.csv").write_text("question,answer\nq,a\n")
    body = "target: python:app:echo\ndataset: {path: rows.csv, mapping: {input: prompt}}\n"
    result = run(project, "dscol", body)
    result.stdout.fnmatch_lines(
        [
            "*rows.csv:2: field 'input': column 'prompt' not found; available: ?'answer', 'question'?*"
        ]
    )


def test_target_that_raises_errors_only_that_case(project: pytest.Pytester) -> None:
    body = "target: python:app:boom\nmetrics: [contains]\ncases:\n  - {id: bad, input: x, expected: fine}\n  - {id: good, input: y, expected: fine}\n"
    result = run(project, "tr", body)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*RuntimeError: the target exploded*", "*app.py*"])
    data = json.loads((project.path / "reports" / "mleval-results.json").read_text())
    bad = next(c for c in data["cases"] if c["case_id"] == "bad")
    assert bad["passed"] is False and "the target exploded" in bad["error"]


def test_target_returning_none_is_an_error(project: pytest.Pytester) -> None:
    result = run(project, "tn", "target: python:app:none\ncases: [{id: n, input: x}]\n")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*target returned None*"])


def test_unimportable_target_errors_cases(project: pytest.Pytester) -> None:
    result = run(project, "ti", "target: python:nowhere:fn\ncases: [{id: n, input: x}]\n")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*cannot import module 'nowhere'*"])


def test_metric_that_raises_fails_case(project: pytest.Pytester) -> None:
    project.makeconftest(
        "from pytest_mleval import metric\n\n@metric('fragile')\ndef fragile(sample):\n    raise ValueError('metric broke')\n"
    )
    result = run(
        project,
        "mr",
        "target: python:app:echo\nmetrics: [fragile, exact]\ncases: [{id: m, input: a, expected: a}]\n",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fragile*error*ValueError: metric broke*"])


def test_metric_out_of_range_is_an_error(project: pytest.Pytester) -> None:
    project.makeconftest(
        "from pytest_mleval import metric\n\n@metric('big')\ndef big(sample):\n    return 3.5\n"
    )
    result = run(
        project, "mo", "target: python:app:echo\nmetrics: [big]\ncases: [{id: m, input: a}]\n"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*outside [[]0, 1[]]*"])


def test_unsafe_yaml_tags_are_refused(project: pytest.Pytester) -> None:
    body = "target: python:app:echo\ncases:\n  - id: x\n    input: !!python/object/apply:os.system ['echo pwned']\n"
    result = run(project, "unsafe", body)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*unsafe.eval.yaml:4: invalid YAML*"])


def test_sandbox_refuses_dunder_templates(project: pytest.Pytester) -> None:
    body = (
        'target: python:app:echo\nprompt: "{{ input.__class__.__mro__[1].__subclasses__() }}"\n'
        "cases: [{id: s, input: x}]\n"
    )
    result = run(project, "sb", body)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*template refused by the sandbox*"])
    case = next(
        c
        for c in json.loads((project.path / "reports" / "mleval-results.json").read_text())["cases"]
        if c["case_id"] == "s"
    )
    assert case["output"] is None and "sandbox" in case["error"]


def test_template_syntax_error_is_collection_error(project: pytest.Pytester) -> None:
    result = run(
        project, "ts", "target: python:app:echo\nprompt: '{{ input '\ncases: [{id: s, input: x}]\n"
    )
    result.stdout.fnmatch_lines(["*ts.eval.yaml: field 'prompt': template syntax error*"])


def test_missing_target(project: pytest.Pytester) -> None:
    result = run(project, "nt", "cases: [{id: s, input: x}]\n")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*has no `target:`*"])
