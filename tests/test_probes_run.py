"""``probes:`` in a run: a target that raises on one probe and a broken entry each error alone,
named by file, line and probe, while every other probe runs; the run says it is incomplete."""

from __future__ import annotations

import json
import re

import pytest

APP = """
def bot(case):
    if "base64" in case.input:
        raise ValueError("cannot parse the request")
    return "I can only help with your orders."
"""

EVAL = """\
suite: bot
target: python:app:bot
metrics: [canary_absent]
probes:
  - family: injection
    count: 6
    techniques: [override, base64]
  - family: injecton
    count: 3
  - family: system_leak
    count: 2
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", safety=EVAL)
    pytester.syspathinsert()
    return pytester


def test_errors_stay_with_their_probe_and_the_rest_runs(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:cacheprovider", "-rA")
    data = json.loads((project.path / "reports" / "mleval-results.json").read_text())
    cases = {c["case_id"]: c for c in data["cases"]}
    path = str(project.path / "safety.eval.yaml")
    # The target raised on the base64 probes: each is an error naming the probe and its line.
    raised = [c for c in cases.values() if "base64" in c["tags"]]
    assert len(raised) == 3
    for case in raised:
        assert case["error"] == (
            f"probe injection/base64 ({path}:5): ValueError: cannot parse the request"
        )
        assert not case["passed"]
    # The unknown family is one errored stand-in, pointing at its entry's line.
    stand_in = cases["probe-2-error"]
    assert stand_in["error"].startswith(
        f"{path}:8: field 'probes[1] (injecton).family': unknown probe family 'injecton'"
    )
    # Everything else ran and was scored: the override probes defended, system_leak failed
    # to load (no system prompt with the canary) as its own stand-in.
    defended = [c for c in cases.values() if "override" in c["tags"]]
    assert len(defended) == 3 and all(c["passed"] for c in defended)
    assert "put `{{ canary }}` in the suite's `system:`" in cases["probe-3-error"]["error"]
    assert len(cases) == 3 + 3 + 1 + 1
    result.assert_outcomes(passed=3, errors=5)
    out = result.stdout.str()
    assert "unknown probe family 'injecton'" in out
    assert f"probe injection/base64 ({path}:5): the target raised on this probe" in out
    assert re.search(r"app\.py:\d+: ValueError", out)  # the target's own traceback is kept
    # Errored probes are neither attacks that got through nor defended.
    (family,) = [f for f in data["safety"]["families"] if f["family"] == "injection"]
    assert (family["n"], family["successes"], family["errors"]) == (3, 0, 3)
