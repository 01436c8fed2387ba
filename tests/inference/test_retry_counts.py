"""Retry counts equal what the server saw: per case (``retries``), per suite and for the run
(``usage``), and in the terminal, for cases that succeed after faults and for cases that error.

Every attempt of a case reaches the test server: a case that succeeds answered ``retries``
faults first, an errored case answered ``retries + 1`` faults (its last attempt failed too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, loopback_only

# Loaded before the first in-process pytester run (see tests/inference/test_model_targets.py).
import_litellm()

PATHS = pytest.mark.parametrize("inline", [False, True], ids=["worker", "inline"])


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-retries")
    with loopback_only() as attempts:
        yield
    assert not attempts, f"non-loopback connections attempted: {attempts}"


def suite(server: OpenAITestServer, n: int) -> str:
    cases = "".join(f"  - {{id: c{i}, input: w{i}, expected: 'Say: w{i}'}}\n" for i in range(n))
    return (
        f"suite: retries\ntarget: model:openai/test-model\napi_base: {server.base_url}\n"
        f"prompt: 'Say: {{{{ input }}}}'\nmetrics: [exact]\ncases:\n{cases}"
    )


def run(pytester: pytest.Pytester, inline: bool, max_retries: int) -> pytest.RunResult:
    args = [
        "--mleval-cache",
        "off",
        "--mleval-retry-delay",
        "0.01",
        "--mleval-timeout",
        "10",
        "--mleval-max-retries",
        str(max_retries),
    ]
    return pytester.runpytest(*args, *(["--mleval-litellm-inline"] if inline else []))


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "mleval-results.json").read_text())


@PATHS
def test_retries_of_succeeding_and_errored_cases_equal_the_faults_served(
    pytester: pytest.Pytester, inline: bool
) -> None:
    faults = [
        Fault("500", first=2, match=r"\bw0\b"),
        Fault("429", first=1, match=r"\bw1\b", retry_after=0.01),
        Fault("503", first=3, match=r"\bw2\b"),
        Fault("null_content", first=1, match=r"\bw3\b"),
        Fault("500", match=r"\bw4\b"),  # every attempt: the case errors
        Fault("empty_content", match=r"\bw5\b"),  # every attempt: the case errors
    ]
    with OpenAITestServer(faults=faults) as srv:
        pytester.makefile(".eval.yaml", t=suite(srv, 7))
        result = run(pytester, inline, max_retries=3)
        result.assert_outcomes(passed=5, errors=2)
        served = srv.faults_served
        count = srv.count
    data = results(pytester)
    by_id = {c["case_id"]: c for c in data["cases"]}
    assert {k: c["retries"] for k, c in by_id.items()} == {
        "c0": 2,
        "c1": 1,
        "c2": 3,
        "c3": 1,
        "c4": 3,
        "c5": 3,
        "c6": 0,
    }
    assert by_id["c4"]["error"] and by_id["c5"]["error"]
    errored = sum(1 for c in data["cases"] if c["error"])
    total = sum(c["retries"] for c in data["cases"])
    assert served == 2 + 1 + 3 + 1 + 4 + 4
    assert total + errored == served
    assert count == len(data["cases"]) + total
    assert data["usage"]["total"]["retries"] == total
    assert data["usage"]["suites"]["retries"]["retries"] == total
    assert data["usage"]["inference"]["total"]["retries"] == total
    result.stdout.fnmatch_lines([f"usage: *, {total} retries"])


@PATHS
def test_retry_counts_under_random_faults_where_most_cases_error(
    pytester: pytest.Pytester, inline: bool
) -> None:
    # The reported scenario: the server answered dozens of faults, the run said 0 retries.
    with OpenAITestServer(faults=[Fault("500", rate=0.8, seed=7)]) as srv:
        pytester.makefile(".eval.yaml", t=suite(srv, 20))
        result = run(pytester, inline, max_retries=2)
        served = srv.faults_served
        count = srv.count
    data = results(pytester)
    errored = sum(1 for c in data["cases"] if c["error"])
    total = sum(c["retries"] for c in data["cases"])
    assert errored > 0 and served > 20  # the scenario needs both
    assert all(c["retries"] == 2 for c in data["cases"] if c["error"])
    assert total + errored == served
    assert count == 20 + total
    assert data["usage"]["total"]["retries"] == total
    result.stdout.fnmatch_lines([f"usage: *, {total} retries"])
