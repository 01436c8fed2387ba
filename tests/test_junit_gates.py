"""``--junitxml`` carries the run's gates as test cases.

Before, a failing gate made pytest exit 1 while the JUnit XML listed only passing test cases:
a CI dashboard reading it (GitLab's test report, a GitHub action annotating from JUnit) showed
a green run. Now each gate is a test case of its suite (``gate[...]``), failed with its
message when it fails; a suite's gates not checked (its cases not selected) are a skipped one; a shard, which
decides no gate, records none.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

SUITE = """
suite: s
target: python:app:echo
metrics: [exact]
gates:
  - {metric: pass_rate, min: 0.9}
  - {metric: exact, stat: mean, min: 0.1}
cases:
  - {id: a, input: hi, expected: hi}
  - {id: b, input: yo, expected: nope}
"""

OTHER = """
suite: t
target: python:app:echo
metrics: [exact]
gates: [{metric: pass_rate, min: 0.5}]
cases:
  - {id: x, input: hi, expected: hi}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE, t=OTHER)
    return pytester


def _cases(pytester: pytest.Pytester) -> dict[str, ET.Element]:
    root = ET.parse(pytester.path / "j.xml").getroot()
    return {f"{c.get('classname')}::{c.get('name')}": c for c in root.iter("testcase")}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_gates_are_test_cases_of_the_junit_report(
    project: pytest.Pytester, workers: list[str]
) -> None:
    result = project.runpytest("--junitxml=j.xml", *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    cases = _cases(project)
    failed = cases["s.eval.yaml.s::gate[pass_rate]"]
    (failure,) = failed.findall("failure")
    assert failure.get("message", "").startswith("pass_rate = 0.5000")
    assert "fails >= 0.9" in failure.get("message", "")
    passed = cases["s.eval.yaml.s::gate[mean(exact)]"]
    assert not list(passed)  # no failure, error or skipped child: it passed
    assert not list(cases["t.eval.yaml.t::gate[pass_rate]"])
    suite = ET.parse(project.path / "j.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) == 2  # case b and the gate


def test_a_gate_not_checked_is_a_skipped_test_case(project: pytest.Pytester) -> None:
    result = project.runpytest("--junitxml=j.xml", "-k", "t")
    assert result.ret == pytest.ExitCode.OK
    cases = _cases(project)
    (skipped,) = cases["s.eval.yaml.s::gates[not checked]"].findall("skipped")
    assert "no case of the suite was selected" in skipped.get("message", "")


def test_a_shard_records_no_gate(project: pytest.Pytester) -> None:
    project.runpytest("--junitxml=j.xml", "--mleval-shard=1/2")
    assert not [name for name in _cases(project) if "::gate[" in name]
