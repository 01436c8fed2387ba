"""``--junitxml`` carries the run's gates as test cases.

Before, a failing gate made pytest exit 1 while the JUnit XML listed only passing test cases:
a CI dashboard reading it (GitLab's test report, a GitHub action annotating from JUnit) showed
a green run. Now each gate is a test case of its suite (``gate[...]``), failed with its
message when it fails; a suite's gates not checked (its cases not selected) are a skipped one; a shard, which
decides no gate, records none.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_mleval.cli import main

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


def _gates(path: Path) -> dict[str, tuple[str, str]]:
    """Each gate test case: the tag of its outcome child ("" when it passed) and message."""
    root = ET.parse(path).getroot()
    out = {}
    for c in root.iter("testcase"):
        name = f"{c.get('classname')}::{c.get('name')}"
        if "::gate" in name or "::run[" in name:
            child = next(iter(c), None)
            out[name] = ("", "") if child is None else (child.tag, child.get("message", ""))
    return out


def test_mleval_merge_writes_the_gates_of_a_sharded_run_to_junit(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, `mleval merge` wrote no JUnit: a sharded CI's gates, which only the merge
    # decides, were in no JUnit file, and a dashboard read the shards' passing cases alone.
    assert project.runpytest("--junitxml=full.xml").ret == pytest.ExitCode.TESTS_FAILED
    shards = []
    for i in (1, 2):
        project.runpytest(f"--mleval-shard={i}/2", f"--mleval-report-dir=s{i}")
        shards.append(str(project.path / f"s{i}" / "mleval-results.json"))
    out = project.path / "merged" / "gates.xml"
    assert main(["merge", *shards, "-o", "m/mleval-results.json", "--junitxml", str(out)]) == 1
    assert f"mleval: wrote {out}" in capsys.readouterr().out
    gates = _gates(out)
    # The same test cases, outcomes and messages as the unsharded run's own --junitxml.
    assert gates == _gates(project.path / "full.xml")
    assert gates["s.eval.yaml.s::gate[pass_rate]"][0] == "failure"
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")


def test_an_incomplete_merge_is_an_error_in_its_junit(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    project.runpytest("--mleval-shard=1/2", "--mleval-report-dir=s1")
    out = project.path / "gates.xml"
    code = main(["merge", str(project.path / "s1" / "mleval-results.json"), "--junitxml", str(out)])
    assert code == 1
    capsys.readouterr()
    tag, message = _gates(out)["mleval::run[incomplete]"]
    assert tag == "error" and "shard(s) missing: 2/2" in message
