"""litellm in a worker process: answers, failures, restarts and secrets, through the worker
to the loopback test server, exactly as the plugin's `model:` targets reach a provider."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

from pytest_mleval.errors import InferenceError
from pytest_mleval.errors import TimeoutError as CallTimeoutError
from pytest_mleval.inference import AutoProvider, ChatRequest, InferenceEngine, RetryPolicy
from pytest_mleval.inference.providers.litellm_worker import LiteLLMWorkerProvider
from pytest_mleval.inference.testserver import (
    Fault,
    OpenAITestServer,
    Rule,
    hashed_embedding,
    loopback_only,
)
from pytest_mleval.inference.worker import LiteLLMWorker

pytestmark = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)

SECRET = "sk-test-WORKERSECRET42"
MODEL = "openai/test-model"


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


@pytest.fixture(scope="module")
def worker() -> Iterator[LiteLLMWorker]:
    """A private worker (not the process-wide one), so restarts can be counted."""
    with loopback_only():  # the child keeps the guard it was started under
        w = LiteLLMWorker()
        w.wait_ready(120)
    yield w
    w.close()


def engine(worker: LiteLLMWorker, **kw: object) -> InferenceEngine:
    kw.setdefault("retry", RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, seed=0))
    provider = AutoProvider(LiteLLMWorkerProvider(api_key=SECRET, worker=worker), client="litellm")
    return InferenceEngine(provider, **kw)  # type: ignore[arg-type]


def ask(srv: OpenAITestServer, text: str, **kw: object) -> ChatRequest:
    return ChatRequest.from_prompt(MODEL, text, api_base=srv.base_url, **kw)  # type: ignore[arg-type]


def test_answers_usage_and_cost_note_come_back(worker: LiteLLMWorker) -> None:
    with OpenAITestServer(rules=[Rule(match="refund", reply="30 days")]) as srv:
        with engine(worker) as eng:
            resp = eng.complete(ask(srv, "what is the refund window?", system="Be brief."))
        body = srv.requests[0]
    assert resp.text == "30 days" and resp.model == MODEL and not resp.cached
    assert resp.usage.total_tokens > 0 and resp.latency_ms > 0
    assert resp.cost_usd == 0.0 and "not in litellm's cost map" in (resp.cost_note or "")
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert worker.import_seconds is not None and worker.import_seconds > 0
    assert worker.pid is not None and worker.pid != os.getpid()


def test_many_calls_run_concurrently_through_one_worker(worker: LiteLLMWorker) -> None:
    with OpenAITestServer(latency_s=0.3) as srv, engine(worker, concurrency=8) as eng:
        futures = eng.prefetch([ask(srv, f"q{i}") for i in range(24)])
        answers = [f.result(60).text for f in futures]
    assert answers == [f"q{i}" for i in range(24)]
    assert srv.count == 24 and srv.max_in_flight == 8


def test_embeddings_through_the_worker(worker: LiteLLMWorker) -> None:
    texts = ["a b", "a b", "c d"]
    with OpenAITestServer() as srv, engine(worker) as eng:
        vectors = eng.embed("openai/test-embed", texts, api_base=srv.base_url)
    assert vectors == [pytest.approx(hashed_embedding(t)) for t in texts]
    assert vectors[0] == vectors[1] != vectors[2]


def test_timeout_cancels_the_call_and_the_worker_keeps_serving(worker: LiteLLMWorker) -> None:
    starts = worker.starts
    hang = Fault("hang", hang_s=20, first=1)
    no_retry = RetryPolicy(max_retries=0)
    with OpenAITestServer(faults=[hang]) as srv, engine(worker, retry=no_retry, timeout=0.5) as eng:
        with pytest.raises(CallTimeoutError):
            eng.complete(ask(srv, "slow"))
        assert eng.complete(ask(srv, "fast")).text == "fast"
    assert worker.starts == starts


def test_errors_keep_their_type_and_are_retried(worker: LiteLLMWorker) -> None:
    faults = [Fault("429", first=2, retry_after=0.01)]
    with OpenAITestServer(faults=faults) as srv, engine(worker) as eng:
        resp = eng.complete(ask(srv, "hello"))
    assert resp.text == "hello" and resp.retries == 2 and srv.count == 3


def test_a_killed_worker_is_restarted_and_its_calls_retried() -> None:
    with loopback_only():
        w = LiteLLMWorker()
        w.wait_ready(120)
    try:
        with OpenAITestServer(latency_s=1.0) as srv, engine(w, concurrency=4) as eng:
            futures = eng.prefetch([ask(srv, f"q{i}") for i in range(4)])
            deadline = time.monotonic() + 30
            while srv.count < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert w.pid is not None
            os.kill(w.pid, signal.SIGKILL)
            answers = [f.result(120) for f in futures]
        assert [a.text for a in answers] == [f"q{i}" for i in range(4)]
        assert all(a.retries >= 1 for a in answers)  # each lost call was made again
        assert w.starts == 2
    finally:
        w.close()


def test_a_call_after_the_idle_worker_died_starts_a_new_one() -> None:
    with loopback_only():
        w = LiteLLMWorker()
        w.wait_ready(120)
    try:
        with OpenAITestServer() as srv, engine(w, timeout=60) as eng:
            assert eng.complete(ask(srv, "one")).text == "one"
            assert w.pid is not None
            os.kill(w.pid, signal.SIGKILL)
            # No hang and no error: the dead worker is noticed and replaced.
            assert eng.complete(ask(srv, "two")).text == "two"
        assert w.starts == 2
    finally:
        w.close()


def test_missing_litellm_is_a_clear_error_and_no_restart_loop(tmp_path: Path) -> None:
    fake = tmp_path / "shadow"
    fake.mkdir()
    (fake / "litellm.py").write_text("raise ImportError('No module named litellm')\n")
    w = LiteLLMWorker(env={"PYTHONPATH": str(fake)})
    try:
        with OpenAITestServer() as srv, engine(w) as eng:
            for _ in range(3):
                with pytest.raises(InferenceError, match=r"pip install 'pytest-mleval\[llm\]'"):
                    eng.complete(ask(srv, "hi"))
            assert srv.count == 0
        assert w.starts == 1
    finally:
        w.close()


def test_worker_log_lines_are_scrubbed(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG, logger="pytest_mleval.inference")
    # The child prints the key on its stderr at start-up (as a careless log line would), and
    # litellm's own debug log (request headers) is on too: the parent scrubs every line.
    (tmp_path / "sitecustomize.py").write_text(
        f"import sys\nsys.stderr.write('calling with key {SECRET}\\n')\n"
    )
    w = LiteLLMWorker(env={"PYTHONPATH": str(tmp_path), "LITELLM_LOG": "DEBUG"})
    try:
        with OpenAITestServer() as srv, engine(w) as eng:
            assert eng.complete(ask(srv, "hello")).text == "hello"
        deadline = time.monotonic() + 10
        while "Authorization" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        w.close()
    assert "litellm worker: calling with key sk-***" in caplog.text
    assert "Authorization" in caplog.text  # litellm's debug log reached the parent too
    assert SECRET not in caplog.text and SECRET[8:] not in caplog.text


def test_closing_a_worker_that_is_still_importing_kills_it() -> None:
    w = LiteLLMWorker()
    w.start()
    deadline = time.monotonic() + 30
    while w.pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc = w._proc
    assert proc is not None and w.import_seconds is None  # litellm's import is under way
    # A run that needed no call must not wait seconds for an import nobody uses.
    w.close()
    assert proc.returncode == -signal.SIGKILL
    with pytest.raises(InferenceError, match="closed"):
        w.wait_ready(10)


def test_a_discarded_process_wide_worker_is_replaced_by_the_next_use() -> None:
    from pytest_mleval.inference import worker as worker_module

    first = worker_module.litellm_worker()
    worker_module.discard_litellm_worker()
    second = worker_module.litellm_worker()
    assert second is not first and first._closed and not second._closed


def test_the_running_worker_sees_the_environment_of_each_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The child outlives the environment it started with (a later in-process run, a test's
    # monkeypatch): litellm there must read the key this process has when it calls.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    w = LiteLLMWorker()
    w.wait_ready(120)
    once = RetryPolicy(max_retries=0)
    try:
        provider = AutoProvider(LiteLLMWorkerProvider(worker=w), client="litellm")
        with OpenAITestServer() as srv, InferenceEngine(provider, retry=once) as eng:  # type: ignore[arg-type]
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-set-after-the-start")
            assert eng.complete(ask(srv, "one")).text == "one"
            monkeypatch.delenv("OPENAI_API_KEY")
            with pytest.raises(InferenceError, match="OPENAI_API_KEY"):
                eng.complete(ask(srv, "two"))
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-set-again")
            assert eng.complete(ask(srv, "three")).text == "three"
        assert w.starts == 1  # updated in place, not restarted
    finally:
        w.close()


SUITE = """\
suite: envs
target: model:openai/test-model
api_base: {base}
prompt: 'Say: {{{{ input }}}}'
metrics: [exact]
judge_model: null
cases:
  - {{id: c0, input: w0, expected: 'Say: w0'}}
"""


def test_an_in_process_run_after_one_without_the_key_gets_the_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reported order dependence: an earlier in-process run started the process-wide
    # worker without OPENAI_API_KEY; a later run that has it got "Missing credentials".
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAITestServer() as srv:
        pytester.makefile(".eval.yaml", t=SUITE.format(base=srv.base_url))
        args = ("-p", "no:cacheprovider", "--mleval-cache", "off", "--mleval-max-retries", "0")
        args += ("--mleval-client", "litellm")  # the native client sends no key, asks for none
        first = pytester.runpytest_inprocess(*args)
        first.assert_outcomes(errors=1)
        first.stdout.fnmatch_lines(["*OPENAI_API_KEY*"])
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-second-run")
        pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)
