"""A ``regression_metrics`` entry that names no metric of its suite is a collection error.

A misspelt entry (``rougel`` for ``rouge_l``) gated nothing: the run compared the other
entries, said "PASS no significant regression" and exited 0 while ROUGE-L had regressed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import Suite, load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem

SUITE = """
suite: s
target: python:app:echo
metrics:
  - rouge_l
  - contains: {{value: x, name: has_x}}
{tools}regression_metrics: {names}
cases:
  - {{id: a, input: x, expected: x}}
  - {{id: b, input: y, expected: y, metrics: [exact]}}
"""


def _load(tmp_path: Path, names: str, tools: str = "") -> Suite:
    path = tmp_path / "t.eval.yaml"
    path.write_text(textwrap.dedent(SUITE.format(names=names, tools=tools)).lstrip())
    return load_suite(path, known_metric=unknown_metric_problem)


@pytest.mark.parametrize(
    ("names", "bad", "words"),
    [
        ("[pass_rate, rougel]", "rougel", "did you mean 'rouge_l'?"),
        ("[faithfulness]", "faithfulness", "is not a metric of suite s"),
        # A labelled entry is compared under its label, never under its metric's name.
        ("[contains]", "contains", "is not a metric of suite s"),
    ],
)
def test_entry_that_names_no_metric_of_the_suite_is_an_error(
    tmp_path: Path, names: str, bad: str, words: str
) -> None:
    with pytest.raises(EvalFileError) as info:
        _load(tmp_path, names)
    err = info.value
    assert err.field == "regression_metrics"
    assert err.line == 6
    assert bad in str(err) and words in str(err)
    assert "has_x" in str(err) and "rouge_l" in str(err)  # the names it could have meant


@pytest.mark.parametrize(
    "names", ["[pass_rate]", "[rouge_l, has_x]", "[exact]", "[pass_rate, rouge_l, exact]"]
)
def test_entries_naming_the_suites_metrics_load(tmp_path: Path, names: str) -> None:
    assert _load(tmp_path, names).spec.regression_metrics is not None


def test_tool_error_of_a_suite_with_tools_can_gate(tmp_path: Path) -> None:
    tools = "tools:\n  - {name: look, description: d, parameters: {type: object}}\n"
    suite = _load(tmp_path, "[tool_error]", tools=tools)
    assert suite.spec.regression_metrics == ["tool_error"]
