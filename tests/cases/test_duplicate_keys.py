"""A key given twice in one YAML mapping is a collection error, not "the last one wins".

A second ``cases:`` key dropped the first list (1 of 3 cases ran, "Run passed"); a second
``gates:`` replaced a failing gate with a passing one; ``contains: {value: a, value: b}``
checked only ``b``. A merge key (``<<: *defaults``) that an explicit key overrides is YAML's
own rule and stays allowed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "t.eval.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return load_suite(path, known_metric=unknown_metric_problem)


@pytest.mark.parametrize(
    ("text", "key", "line", "first"),
    [
        (
            """
            suite: s
            target: python:app:echo
            metrics: [exact]
            cases:
              - {id: a, input: hi, expected: hi}
            cases:
              - {id: c, input: x, expected: x}
            """,
            "cases",
            6,
            4,
        ),
        (
            """
            suite: s
            target: python:app:echo
            metrics: [exact]
            cases:
              - {id: a, input: hi, expected: hi, expected: yo}
            """,
            "expected",
            5,
            5,
        ),
        (
            """
            suite: s
            target: python:app:echo
            metrics:
              - contains: {value: hi, value: zzz}
            cases:
              - {id: a, input: hi, expected: hi}
            """,
            "value",
            4,
            4,
        ),
    ],
)
def test_a_duplicate_key_is_a_collection_error(
    tmp_path: Path, text: str, key: str, line: int, first: int
) -> None:
    with pytest.raises(EvalFileError) as err:
        _load(tmp_path, text)
    message = str(err.value)
    assert f"duplicate key {key!r} (first at line {first})" in message
    assert f"t.eval.yaml:{line}" in message


def test_a_key_overriding_a_merge_key_is_allowed(tmp_path: Path) -> None:
    suite = _load(
        tmp_path,
        """
        suite: s
        target: python:app:echo
        metrics: [exact]
        cases:
          - &d {id: a, input: hi, expected: hi}
          - {<<: *d, id: b, expected: yo}
        """,
    )
    cases = suite.cases  # type: ignore[attr-defined]
    assert [c.expected for c in cases] == ["hi", "yo"]
