"""A case skipped by a marker is recorded as skipped, like one its target skips.

A conftest adding ``pytest.mark.skip`` (no API key) to every case of a gated suite, or
``tags: [skip]``, left no record: the suite got no gate, and the run was green (alone: exit
0 and no reports). The README promises a suite whose every case was skipped fails its gates.
"""

from __future__ import annotations

import json
import textwrap

import pytest

SUITE = textwrap.dedent(
    """
    suite: keyed
    target: python:app:echo
    metrics: [exact]
    gates: [{metric: pass_rate, min: 0.9}]
    cases:
      - {id: a, input: x, expected: x}
      - {id: b, input: y, expected: y}
    """
)

OTHER = textwrap.dedent(
    """
    suite: plain
    target: python:app:echo
    metrics: [exact]
    cases:
      - {id: c, input: z, expected: z}
    """
)

CONFTEST = """
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        if "keyed" in item.nodeid:
            item.add_marker(pytest.mark.skip(reason="no API key"))
"""


def _setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()


def _results(pytester: pytest.Pytester) -> dict[str, object]:
    data = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert isinstance(data, dict)
    return data


def test_a_suite_skipped_by_a_conftest_marker_fails_its_gate(pytester: pytest.Pytester) -> None:
    _setup(pytester)
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".eval.yaml", keyed=SUITE, plain=OTHER)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret != 0
    results = _results(pytester)
    gates = [g for g in results["gates"] if g["suite"] == "keyed"]  # type: ignore[attr-defined]
    assert len(gates) == 1 and not gates[0]["passed"]
    assert "no case of the suite ran (2 skipped)" in gates[0]["message"]
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "Run passed" not in summary


def test_a_lone_suite_skipped_by_a_marker_still_writes_its_reports(
    pytester: pytest.Pytester,
) -> None:
    _setup(pytester)
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".eval.yaml", keyed=SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(skipped=2)
    assert result.ret != 0
    suites = {s["name"]: s for s in _results(pytester)["suites"]}  # type: ignore[attr-defined]
    assert set(suites["keyed"]["skipped"]) == {"a", "b"}
    assert suites["keyed"]["skipped"]["a"] == "no API key"
