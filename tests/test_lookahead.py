"""Spend that stops (issue 14, item 5): generations are issued in a look-ahead window of about
twice the concurrency ahead of the running item, so -x, --maxfail and Ctrl-C stop paying."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only

# In-process pytester runs unload modules first imported inside them (see test_model_targets).
import_litellm()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-lookahead")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with loopback_only() as attempts:
        yield
    assert not attempts, f"non-loopback connections attempted: {attempts}"


def reply(messages: list[dict[str, Any]]) -> str:
    return "ANSWER " + str(messages[-1]["content"]).split(":")[-1].strip()


def suite(server: OpenAITestServer, n: int, failing: int = 1) -> str:
    cases = "".join(
        f"  - {{id: c{i}, input: w{i}, expected: '{'wrong' if i < failing else f'ANSWER w{i}'}'}}\n"
        for i in range(n)
    )
    return (
        f"suite: ahead\ntarget: model:openai/test-model\napi_base: {server.base_url}\n"
        f"prompt: 'Say: {{{{ input }}}}'\nmetrics: [exact]\ncases:\n{cases}"
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        "--mleval-cache", "off", "--mleval-timeout", "30", "--mleval-concurrency", "4", *args
    )


# The first case's answer takes a second (it hangs, then answers): long enough for an
# up-front prefetch to have sent every other case's call (latency 10 ms, 3 free slots).
SLOW_FIRST = Fault("hang", match=r"w0$", hang_s=1.0)


def test_exitfirst_pays_for_at_most_the_window(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)], faults=[SLOW_FIRST], latency_s=0.01) as srv:
        pytester.makefile(".eval.yaml", ahead=suite(srv, n=50))
        result = run(pytester, "-x")
        result.assert_outcomes(failed=1)
        # concurrency 4: a window of 8 generations (the failing case's own included).
        assert 1 <= srv.count <= 8


def test_maxfail_pays_for_at_most_the_window_past_the_last_item(
    pytester: pytest.Pytester,
) -> None:
    with OpenAITestServer(
        rules=[Rule(reply=reply)],
        faults=[Fault("hang", match=r"w1$", hang_s=1.0)],
        latency_s=0.01,
    ) as srv:
        pytester.makefile(".eval.yaml", ahead=suite(srv, n=50, failing=2))
        result = run(pytester, "--maxfail", "2")
        result.assert_outcomes(failed=2)
        # Items 0 and 1 ran; the window past item 1 reaches item 8.
        assert 2 <= srv.count <= 9


def test_a_full_run_still_generates_every_case_once_and_concurrently(
    pytester: pytest.Pytester,
) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)], latency_s=0.2) as srv:
        pytester.makefile(".eval.yaml", ahead=suite(srv, n=24, failing=0))
        run(pytester).assert_outcomes(passed=24)
        assert srv.count == 24
        # The window keeps every slot busy: items are scored in order, calls run 4 at a time.
        assert srv.max_in_flight == 4


def test_window_is_twice_the_concurrency_split_across_xdist_workers(
    pytester: pytest.Pytester,
) -> None:
    from pytest_mleval.context import SESSION_KEY

    config = pytester.parseconfigure("--mleval-concurrency", "5")
    session = config.stash[SESSION_KEY]
    assert session.lookahead() == 10
    config.workerinput = {"workercount": 4}  # type: ignore[attr-defined]
    assert session.lookahead() == 3  # ceil(10 / 4): the run's total stays about 10
    config.workerinput = {"workercount": 32}  # type: ignore[attr-defined]
    assert session.lookahead() == 1
