"""The HTML report's gates table lists the gates that were not checked.

Before, a ``-k`` run that left a gated suite out read "1 not checked" in the header while its
Gates section said "No gates in this run." (the Markdown has a row for it). Now the table has a
"not checked" row per suite with its reason, and a gate of a partly selected suite on a metric
no selected case scores is named there too.
"""

from __future__ import annotations

import re

from pytest_mleval.report.html import render_report
from pytest_mleval.results.records import CaseResult, GateResult, RunMeta, RunResults, SuiteInfo


def _gates_section(html: str) -> str:
    found = re.search(r'<section id="gates">(.*?)</section>', html, re.S)
    assert found
    return found.group(1)


def test_a_suite_left_out_has_a_not_checked_row() -> None:
    run = RunResults(
        cases=[CaseResult(suite="alpha", case_id="x", passed=True)],
        suites=[
            SuiteInfo(name="alpha", n_cases=1),
            SuiteInfo(name="beta", n_cases=0, not_run=2, unchecked_gates=1),
        ],
        meta=RunMeta(exit_status=0),
    )
    section = _gates_section(render_report(run))
    assert "No gates in this run." not in section
    assert "not checked" in section
    assert "1 gate(s): no case of the suite was selected" in section
    assert "<td>beta</td>" in section


def test_a_partly_selected_suites_unchecked_gate_sits_beside_its_checked_ones() -> None:
    gate = GateResult(
        suite="s",
        metric="pass_rate",
        stat="pass_rate",
        on="estimate",
        min=0.5,
        passed=True,
        value=1.0,
        message="pass_rate = 1.0000 meets >= 0.5",
    )
    run = RunResults(
        cases=[CaseResult(suite="s", case_id="alpha", passed=True)],
        suites=[
            SuiteInfo(
                name="s", n_cases=1, not_run=1, unchecked_gates=1, unchecked_metrics=["contains"]
            )
        ],
        gates=[gate],
        meta=RunMeta(exit_status=0),
    )
    section = _gates_section(render_report(run))
    assert "pass_rate = 1.0000 meets" in section
    assert "1 gate(s) on contains: no case it scores was selected" in section
