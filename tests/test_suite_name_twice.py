"""Two eval files naming the same suite are a collection error naming both files.

Before, their cases were merged: the same ids averaged as repeats of one case, "suite s: 10
cases" shown for 20 items, and only the first file's gates and settings kept.
"""

from __future__ import annotations

import json

import pytest

FIRST = """suite: s
target: python:app:echo
metrics: [exact]
gates: [{metric: pass_rate, min: 1.0}]
cases:
  - {id: a, input: x, expected: x}
"""

SECOND = """suite: s
target: python:app:wrong
metrics: [exact]
cases:
  - {id: a, input: x, expected: x}
"""


@pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["inline", "xdist"])
def test_a_second_file_with_the_same_suite_name_is_a_collection_error(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    pytester.makepyfile(
        app="def echo(case):\n    return case.input\n\ndef wrong(case):\n    return 'no'\n"
    )
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", one=FIRST, two=SECOND)
    result = pytester.runpytest(*args)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*two.eval.yaml:1: field 'suite': suite 's' is also the suite of *one.eval.yaml*"]
    )
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert [c["case_id"] for c in results["cases"]] == ["a"]
    assert results["cases"][0]["passed"] is True
    assert len(results["collection_errors"]) == 1


def test_the_same_file_given_twice_is_not_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", one=FIRST)
    result = pytester.runpytest("one.eval.yaml", "one.eval.yaml", ".")
    assert result.ret == 0
