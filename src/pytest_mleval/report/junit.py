"""The run's gates as JUnit test cases, named once for ``--junitxml`` and ``mleval merge``.

A failing gate made pytest exit 1 while the JUnit XML listed only passing test cases, so a CI
dashboard reading it (GitLab's test report, an action annotating from JUnit) showed a green
run; a sharded CI's gates, decided by ``mleval merge``, were in no JUnit file at all. Each
gate is a test case of its suite, ``gate[pass_rate]``, failed with its message; a suite whose
gates were not checked has a skipped ``gates[not checked]``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from ..results.records import PASS_RATE, GateResult, RunResults, SuiteInfo
from .views import unchecked_gates

__all__ = ["GateCase", "gate_cases", "write_gates_junit"]


@dataclass(frozen=True)
class GateCase:
    """One gate (or a suite's gates not checked, or the run's incompleteness) as a test case."""

    nodeid: str
    """``file::suite::gate[...]``, as a pytest node id."""
    outcome: Literal["passed", "failed", "skipped", "error"]
    """How a JUnit reader shows it."""
    message: str | None = None
    """Why it failed, was skipped or errored."""


def _label(gate: GateResult) -> str:
    if gate.metric in (PASS_RATE, "regression"):
        what = gate.metric
    else:
        what = f"{gate.stat}({gate.metric})"
    return what if gate.on in ("estimate", "baseline") else f"{what}.{gate.on}"


def _prefix(suite: SuiteInfo, nodeids: Mapping[str, str], root: str) -> str:
    """The node id its gates hang under: its cases' (``file::suite``), else its file's."""
    if suite.name in nodeids:
        return nodeids[suite.name]
    path = suite.file or suite.name
    if os.path.isabs(path):
        with contextlib.suppress(ValueError):  # another drive on Windows: kept absolute
            path = os.path.relpath(path, root)
    return f"{path.replace(os.sep, '/')}::{suite.name}"


def gate_cases(run: RunResults, root: str) -> list[GateCase]:
    """The run's gates, and its suites' gates not checked, as test cases.

    Args:
        run: The run's results, gates decided.
        root: The directory node ids are relative to (pytest's rootdir).

    Returns:
        One case per gate (two gates on one statistic get distinct names), then one skipped
        ``gates[not checked]`` per suite whose gates were not checked.
    """
    nodeids: dict[str, str] = {}
    for c in run.cases:
        if c.nodeid and "::" in c.nodeid:
            nodeids.setdefault(c.suite, c.nodeid.rsplit("::", 1)[0])
    suites = {s.name: s for s in run.suites}
    seen: dict[str, int] = {}
    out: list[GateCase] = []
    for gate in run.gates:
        info = suites.get(gate.suite) or SuiteInfo(name=gate.suite, file="", n_cases=0)
        name = f"{_prefix(info, nodeids, root)}::gate[{_label(gate)}]"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # two gates on the same statistic: distinct test cases
            name = f"{name[:-1]}-{seen[name]}]"
        out.append(GateCase(name, "passed" if gate.passed else "failed", gate.message))
    for suite, why in unchecked_gates(run):
        info = suites.get(suite) or SuiteInfo(name=suite, file="", n_cases=0)
        out.append(GateCase(f"{_prefix(info, nodeids, root)}::gates[not checked]", "skipped", why))
    return out


def _names(nodeid: str) -> tuple[str, str]:
    """``(classname, name)`` as pytest's JUnit writer derives them from a node id, so a
    merge's gate reads as the same test case as an unsharded run's."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def write_gates_junit(
    path: Path, run: RunResults, root: str, *, incomplete: Sequence[str] = ()
) -> None:
    """Write a JUnit XML file of the run's gates (``mleval merge --junitxml``).

    The shards' own ``--junitxml`` files carry the cases; this one carries what only the
    merge decides: the gates over every case, and the merge's incompleteness as an error.

    Args:
        path: The file to write (its folder is created).
        run: The merged run, gates decided.
        root: The directory node ids are relative to.
        incomplete: Why the merged run is incomplete: one errored ``run[incomplete]`` case.
    """
    cases = gate_cases(run, root)
    if incomplete:
        cases.append(GateCase("mleval::run[incomplete]", "error", "; ".join(incomplete)))
    counts = {o: sum(c.outcome == o for c in cases) for o in ("failed", "skipped", "error")}
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="mleval",
        errors=str(counts["error"]),
        failures=str(counts["failed"]),
        skipped=str(counts["skipped"]),
        tests=str(len(cases)),
        time="0",
        timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        hostname=socket.gethostname(),
    )
    tags = {"failed": "failure", "skipped": "skipped", "error": "error"}
    for case in cases:
        classname, name = _names(case.nodeid)
        el = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        if case.outcome in tags:
            child = ET.SubElement(el, tags[case.outcome], message=case.message or "")
            child.text = case.message or ""
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
