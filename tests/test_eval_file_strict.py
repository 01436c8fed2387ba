"""Strict, early eval-file checks: text as written, typed metric options, labels, datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cases import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics import unknown_metric_problem


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


def load(tmp_path: Path, body: str, name: str = "t.eval.yaml") -> object:
    return load_suite(write(tmp_path, name, body), known_metric=unknown_metric_problem)


# --------------------------------------------------------------------------- YAML text


@pytest.mark.parametrize(
    "written",
    ["yes", "no", "on", "off", "y", "0123", "1:30", "1e3", "true", "False", "0x1F", "1_000", "12.50"],
)
def test_text_fields_keep_the_scalar_as_written(tmp_path: Path, written: str) -> None:
    suite = load(
        tmp_path,
        f"""
cases:
  - id: {written}
    input: {written}
    expected: {written}
    context: [{written}]
    vars: {{v: {written}}}
    tags: [{written}]
    cluster: {written}
""",
    )
    case = suite.cases[0]  # type: ignore[attr-defined]
    assert case.id == written
    assert case.input == written
    assert case.expected == written
    assert case.context == [written]
    assert case.vars == {"v": written}
    assert case.tags == [written]
    assert case.cluster == written


@pytest.mark.parametrize("written", ["~", "null", ""])
def test_only_null_stays_empty(tmp_path: Path, written: str) -> None:
    suite = load(tmp_path, f"cases:\n  - id: a\n    input: x\n    expected: {written}\n")
    assert suite.cases[0].expected is None  # type: ignore[attr-defined]


def test_quoted_and_block_text_unchanged(tmp_path: Path) -> None:
    body = "cases:\n  - id: a\n    input: 'yes'\n    expected: |\n      on\n      0123\n"
    case = load(tmp_path, body).cases[0]  # type: ignore[attr-defined]
    assert (case.input, case.expected) == ("yes", "on\n0123\n")


def test_structured_input_keeps_yaml12_types(tmp_path: Path) -> None:
    body = "cases:\n  - id: a\n    input: {n: 3, ok: true, word: yes, t: 1:30}\n"
    case = load(tmp_path, body).cases[0]  # type: ignore[attr-defined]
    assert case.input == {"n": 3, "ok": True, "word": "yes", "t": "1:30"}


def test_text_metric_options_keep_the_text(tmp_path: Path) -> None:
    body = """
metrics:
  - contains: {value: yes}
  - icontains: {values: [on, 0123]}
  - not_contains: 1:30
cases:
  - id: a
    input: x
    metrics:
      - exact: {value: 1e3}
"""
    suite = load(tmp_path, body)
    by_name = {m.name: m.params for m in suite.metrics_for(suite.cases[0])}  # type: ignore[attr-defined]
    assert by_name["contains"] == {"value": "yes"}
    assert by_name["icontains"] == {"values": ["on", "0123"]}
    assert by_name["not_contains"] == {"value": "1:30"}
    assert by_name["exact"] == {"value": "1e3"}


def test_numeric_options_stay_numbers(tmp_path: Path) -> None:
    body = """
metrics:
  - rouge_l: {threshold: 1e-1, weight: 2}
  - hit_rate: {k: 3}
  - json_valid: {extract: true}
  - latency_ms: {max: 1500}
gates:
  - {metric: rouge_l, min: 0.6, on: ci_low}
cases: [{id: a, input: x}]
"""
    suite = load(tmp_path, body)
    m = {x.name: x for x in suite.spec.metrics}  # type: ignore[attr-defined]
    assert m["rouge_l"].threshold == 0.1 and m["rouge_l"].weight == 2
    assert m["hit_rate"].params == {"k": 3}
    assert m["json_valid"].params == {"extract": True}
    assert m["latency_ms"].max == 1500
    gate = suite.spec.gates[0]  # type: ignore[attr-defined]
    assert (gate.metric, gate.min, gate.on) == ("rouge_l", 0.6, "ci_low")


def test_on_is_a_key_everywhere(tmp_path: Path) -> None:
    # `on:` as a vars key is the text "on", not the boolean true.
    body = "cases:\n  - id: a\n    input: x\n    vars: {on: monday, yes: 1}\n"
    case = load(tmp_path, body).cases[0]  # type: ignore[attr-defined]
    assert case.vars == {"on": "monday", "yes": "1"}


def test_dataset_yaml_rows_keep_text(tmp_path: Path) -> None:
    write(tmp_path, "rows.yaml", "- {id: r1, input: on, expected: 0123}\n")
    suite = load(tmp_path, "dataset: rows.yaml\n")
    case = suite.cases[0]  # type: ignore[attr-defined]
    assert (case.input, case.expected) == ("on", "0123")


def test_yes_answer_passes_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        answers="target: python:app:echo\nmetrics: [exact]\ncases:\n"
        "  - {id: y, input: yes, expected: yes}\n"
        "  - {id: oct, input: 0123, expected: 0123}\n"
        "  - {id: time, input: 1:30, expected: 1:30}\n",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    data = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert sorted(c["expected"] for c in data["cases"]) == ["0123", "1:30", "yes"]


def test_project_support_file_reads_its_gate(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    suite = load_suite(root / "evals" / "support.eval.yaml")
    assert any(g.on == "ci_low" for g in suite.spec.gates)


def test_recursive_alias_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="invalid YAML"):
        load(tmp_path, "cases: &a [*a]\n")
