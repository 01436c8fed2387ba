"""The run's gates as test cases of ``--junitxml``.

A failing gate makes pytest exit 1, but its JUnit XML listed only the test cases, all passing:
a CI dashboard reading it (GitLab's test report, an action annotating from JUnit) showed a
green run. Each gate is now a test case of its suite (named by
:func:`pytest_mleval.report.junit.gate_cases`), fed to pytest's own JUnit writer. Only the
controller records them, before pytest writes the file.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..results.records import RunResults

__all__ = ["record_gates"]


def _log_xml(config: pytest.Config) -> Any:
    """pytest's JUnit writer of this session, or ``None`` (no ``--junitxml``)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # a pytest without it: the run goes on without junit gates
        return None
    return config.stash.get(xml_key, None)


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


def record_gates(config: pytest.Config, run: RunResults) -> None:
    """Add the run's gates to the session's JUnit XML (nothing without ``--junitxml``).

    Args:
        config: The session's config (the controller's).
        run: The run's results, gates decided.
    """
    xml = _log_xml(config)
    if xml is None:
        return
    from ..report.junit import gate_cases

    for case in gate_cases(run, str(config.rootpath)):
        xml.pytest_runtest_logreport(_report(case.nodeid, case.outcome, case.message))
