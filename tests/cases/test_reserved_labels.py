"""A metric's ``name:`` label may not take a name the run already gives another meaning.

``metrics: [exact, {one: {name: pass_rate}}]`` on three failing cases made the suite's
pass-rate gate read the labelled metric (1.0000) and the run exit 0: gates look aggregates
up by name, so the label replaced the suite's pass rate. A label naming another built-in
metric (``latency_ms`` on a custom score) would take that metric's unit, direction and floor.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem

SUITE = """
suite: s
target: python:app:echo
metrics:
  - exact
  - {entry}
cases:
  - {{id: a, input: x, expected: x}}
"""


def _load(tmp_path: Path, entry: str) -> None:
    path = tmp_path / "t.eval.yaml"
    path.write_text(textwrap.dedent(SUITE.format(entry=entry)).lstrip())
    load_suite(path, known_metric=unknown_metric_problem)


@pytest.mark.parametrize(
    ("entry", "label"),
    [
        ("{contains: {value: x, name: pass_rate}}", "pass_rate"),
        ("{contains: {value: x, name: latency_ms}}", "latency_ms"),
        ("{regex: {pattern: x, name: rouge_l}}", "rouge_l"),
    ],
)
def test_a_label_taking_a_reserved_name_is_a_collection_error(
    tmp_path: Path, entry: str, label: str
) -> None:
    with pytest.raises(EvalFileError) as err:
        _load(tmp_path, entry)
    message = str(err.value)
    assert f"label {label!r}" in message
    assert "t.eval.yaml" in message and "metrics" in message


def test_a_label_of_its_own_metric_name_or_a_new_name_is_fine(tmp_path: Path) -> None:
    _load(tmp_path, "{contains: {value: x, name: contains}}")
    _load(tmp_path, "{contains: {value: x, name: has_x}}")


def test_a_pass_rate_label_cannot_turn_a_failing_suite_green(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return 'wrong'\n")
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        s=textwrap.dedent(
            """
            suite: s
            target: python:app:echo
            metrics: [exact, {contains: {value: wrong, name: pass_rate}}]
            gates: [{metric: pass_rate, min: 0.9}]
            cases:
              - {id: a, input: x, expected: x}
              - {id: b, input: y, expected: y}
            """
        ),
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*label 'pass_rate'*"])
