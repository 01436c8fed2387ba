"""The run's gates as test cases of ``--junitxml``.

A failing gate makes pytest exit 1, but its JUnit XML listed only the test cases, all passing:
a CI dashboard reading it (GitLab's test report, an action annotating from JUnit) showed a
green run. Each gate is now a test case of its suite, ``gate[pass_rate]``, failed with its
message; a suite whose gates were not checked (none of their cases selected) has a skipped
``gates[not checked]``. Only the controller records them, before pytest writes the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

import pytest

from ..results.records import PASS_RATE, GateResult, RunResults, SuiteInfo

__all__ = ["record_gates"]


def _log_xml(config: pytest.Config) -> Any:
    """pytest's JUnit writer of this session, or ``None`` (no ``--junitxml``)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # a pytest without it: the run goes on without junit gates
        return None
    return config.stash.get(xml_key, None)


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


def _report(nodeid: str, outcome: str, message: str | None) -> pytest.TestReport:
    path = nodeid.split("::", 1)[0]
    longrepr: Any = None
    if outcome == "failed":
        longrepr = message
    elif outcome == "skipped":
        longrepr = (path, None, message or "")
    return pytest.TestReport(
        nodeid=nodeid,
        location=(path, None, nodeid.rsplit("::", 1)[-1]),
        keywords={},
        outcome=outcome,  # type: ignore[arg-type]
        longrepr=longrepr,
        when="call",
    )


def record_gates(config: pytest.Config, run: RunResults, unchecked: list[tuple[str, str]]) -> None:
    """Add the run's gates to the session's JUnit XML (nothing without ``--junitxml``).

    Args:
        config: The session's config (the controller's).
        run: The run's results, gates decided.
        unchecked: ``(suite, why)`` of the suites with gates not checked.
    """
    xml = _log_xml(config)
    if xml is None:
        return
    nodeids: dict[str, str] = {}
    for c in run.cases:
        if c.nodeid and "::" in c.nodeid:
            nodeids.setdefault(c.suite, c.nodeid.rsplit("::", 1)[0])
    suites = {s.name: s for s in run.suites}
    root = str(config.rootpath)
    seen: dict[str, int] = {}
    reports = []
    for gate in run.gates:
        info = suites.get(gate.suite) or SuiteInfo(name=gate.suite, file="", n_cases=0)
        name = f"{_prefix(info, nodeids, root)}::gate[{_label(gate)}]"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # two gates on the same statistic: distinct test cases
            name = f"{name[:-1]}-{seen[name]}]"
        reports.append(_report(name, "passed" if gate.passed else "failed", gate.message))
    for suite, why in unchecked:
        info = suites.get(suite) or SuiteInfo(name=suite, file="", n_cases=0)
        reports.append(
            _report(f"{_prefix(info, nodeids, root)}::gates[not checked]", "skipped", why)
        )
    for report in reports:
        xml.pytest_runtest_logreport(report)
