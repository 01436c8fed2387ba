"""`model:` targets end to end: pytest -> plugin -> inference engine -> litellm -> test server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only

# In-process pytester runs unload modules first imported inside them; litellm keeps HTTP
# clients built from httpx classes across calls, so it must be loaded before the first run.
import_litellm()

SECRET = "sk-test-SECRET123"


def reply(messages: list[dict]) -> str:
    text = str(messages[-1]["content"])
    return "ANSWER: " + text.split(":")[-1].strip().upper()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with loopback_only() as attempts:
        yield attempts
    assert not attempts, f"non-loopback connections attempted: {attempts}"


def suite(
    server: OpenAITestServer, n: int = 12, extra: str = "", model: str = "openai/test-model"
) -> str:
    cases = "".join(f"  - {{id: c{i}, input: w{i}, expected: 'ANSWER: W{i}'}}\n" for i in range(n))
    return (
        f"suite: llm\ntarget: model:{model}\napi_base: {server.base_url}\n"
        "prompt: 'Say: {{ input }}'\nsystem: Be brief.\nparams: {temperature: 0}\n"
        f"metrics: [exact]\n{extra}cases:\n{cases}"
    )


def fast(*args: str) -> list[str]:
    return ["--mleval-retry-delay", "0.01", "--mleval-timeout", "5", *args]


def results(p: pytest.Pytester) -> dict:
    return json.loads((p.path / "reports" / "mleval-results.json").read_text())


def test_model_target_concurrent_cached_and_replayed(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)], latency_s=0.2) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv))
        result = pytester.runpytest(*fast("--mleval-concurrency", "6"))
        result.assert_outcomes(passed=12)
        assert srv.count == 12
        assert srv.max_in_flight > 1  # generations ran concurrently, not one per item
        body = srv.requests[0]
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert body["messages"][1]["content"].startswith("Say: w")
        data = results(pytester)
        case = data["cases"][0]
        assert case["model"] == "openai/test-model" and case["usage"]["total_tokens"] > 0
        assert case["latency_ms"] >= 150 and case["cached"] is False
        assert data["usage"]["models"]["openai/test-model"]["cases"] == 12
        # second run: answered from the cache, no new request
        pytester.runpytest(*fast()).assert_outcomes(passed=12)
        assert srv.count == 12
        assert all(c["cached"] for c in results(pytester)["cases"])
        # replay from the recorded cache: fine; a new case is a miss and errors
        pytester.makefile(".eval.yaml", llm=suite(srv, n=13))
        result = pytester.runpytest(*fast("--mleval-cache", "replay"))
        result.assert_outcomes(passed=12, errors=1)
        result.stdout.fnmatch_lines(["*CacheMissError*"])
        assert srv.count == 12


def test_faults_are_retried_and_recorded(pytester: pytest.Pytester) -> None:
    faults = [Fault("429", rate=0.25, seed=1), Fault("500", rate=0.25, seed=2)]
    with OpenAITestServer(rules=[Rule(reply=reply)], faults=faults) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv, n=20))
        result = pytester.runpytest(*fast("--mleval-cache", "off", "--mleval-max-retries", "8"))
        result.assert_outcomes(passed=20)
        retries = sum(c["retries"] for c in results(pytester)["cases"])
        assert retries > 0 and srv.count == 20 + retries


def test_server_down_errors_after_bounded_retries(pytester: pytest.Pytester) -> None:
    with OpenAITestServer() as srv:
        body = suite(srv, n=3)
    # the server is gone now: its port refuses connections
    pytester.makefile(".eval.yaml", llm=body)
    result = pytester.runpytest(*fast("--mleval-cache", "off", "--mleval-max-retries", "2"))
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*ProviderError*"])
    assert all(c["error"] and not c["passed"] for c in results(pytester)["cases"])


def test_malformed_reply_and_unknown_model_are_case_errors(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(
        rules=[Rule(reply=reply)], faults=[Fault("malformed", match="w0")]
    ) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv, n=2))
        result = pytester.runpytest(*fast("--mleval-cache", "off", "--mleval-max-retries", "1"))
        result.assert_outcomes(passed=1, errors=1)
        pytester.makefile(".eval.yaml", llm=suite(srv, n=1, model="nosuchprovider/x"))
        result = pytester.runpytest(*fast("--mleval-cache", "off"))
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*unknown model*"])


def test_key_never_written(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)], faults=[Fault("401", match="w1")]) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv, n=3))
        result = pytester.runpytest(*fast("--junitxml=junit.xml"))
        result.assert_outcomes(passed=2, errors=1)
        assert SECRET not in result.stdout.str() + result.stderr.str()
    written = [p for p in pytester.path.rglob("*") if p.is_file()]
    assert any(p.name == "cache.sqlite" for p in written)
    for p in written:
        assert SECRET.encode() not in p.read_bytes(), p


def test_max_cost_stops_new_calls(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)]) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv, n=5, model="openai/gpt-4o-mini"))
        result = pytester.runpytest(
            *fast(
                "--mleval-cache",
                "off",
                "--mleval-concurrency",
                "1",
                "--mleval-max-cost",
                "0.0000001",
            )
        )
        outcomes = result.parseoutcomes()
        assert outcomes.get("errors", 0) >= 3
        result.stdout.fnmatch_lines(["*BudgetExceededError*budget*"])
        assert srv.count < 5


@pytest.mark.parametrize("client", ["litellm", "native"])
def test_cost_budget_of_an_unpriced_model_is_not_scored_as_free(
    pytester: pytest.Pytester, client: str
) -> None:
    # A model the cost map does not price costs "0" with a note: `cost_usd: {max: ...}` then
    # passed every case, a budget checked against nothing. Unknown is not scored; a priced
    # model is.
    extra = "metrics: [exact, {cost_usd: {max: 0.01}}]\n"
    with OpenAITestServer(rules=[Rule(reply=reply)]) as srv:
        body = suite(srv, n=2).replace("metrics: [exact]\n", extra)
        pytester.makefile(".eval.yaml", llm=body)
        args = fast("--mleval-cache", "off", "--mleval-client", client)
        result = pytester.runpytest(*args, "--mleval-max-cost", "5")
        result.assert_outcomes(passed=2)
        result.stdout.fnmatch_lines(
            ["mleval: --mleval-max-cost $5 counts calls to a model with no price as $0: 2 case(s)*"]
        )
        for case in results(pytester)["cases"]:
            cost = case["scores"]["cost_usd"]
            assert cost["score"] is None and cost["passed"] is None
            assert "'openai/test-model'" in cost["skipped"] and "cost" in cost["skipped"]
        result.stdout.fnmatch_lines(["*not scored: cost_usd on 2 case(s) (skipped: *test-model*"])
        # The usage people read says the spend is unknown, not "$0".
        unknown = "$0 + unknown (2 case(s) of a model with no price)"
        result.stdout.fnmatch_lines(
            [f"usage: *{unknown}*", f"  model openai/test-model: *{unknown}*"]
        )
        reports = pytester.path / "reports"
        # (Markdown escapes `$` and brackets.)
        assert unknown in (reports / "mleval-summary.md").read_text().replace("\\", "")
        html = (reports / "mleval-report.html").read_text()
        assert html.count("+ unknown (2 case(s) of a model with no price)") == 4  # header, 3 rows
        assert results(pytester)["usage"]["models"]["openai/test-model"]["cost_unknown"] == 2
        pytester.makefile(
            ".eval.yaml",
            llm=suite(srv, n=2, model="openai/gpt-4o-mini").replace("metrics: [exact]\n", extra),
        )
        priced = pytester.runpytest(*args, "--mleval-max-cost", "5")
        priced.assert_outcomes(passed=2)
        assert "does not bound" not in priced.stdout.str()
        for case in results(pytester)["cases"]:
            cost = case["scores"]["cost_usd"]
            assert cost["score"] > 0 and cost["passed"] is True and cost["skipped"] is None
        assert "cost_unknown" not in results(pytester)["usage"]["total"]


def test_model_override_and_fallbacks(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)]) as srv:
        extra = "fallbacks: [openai/backup-model]\n"
        pytester.makefile(".eval.yaml", llm=suite(srv, n=2, extra=extra, model="nosuchprovider/x"))
        result = pytester.runpytest(*fast("--mleval-cache", "off"))
        result.assert_outcomes(passed=2)
        cases = results(pytester)["cases"]
        assert {c["fallback_used"] for c in cases} == {"openai/backup-model"}
        assert {r["model"] for r in srv.requests} == {"backup-model"}
        pytester.makefile(".eval.yaml", llm=suite(srv, n=2))
        result = pytester.runpytest(
            *fast("--mleval-cache", "off", "--mleval-model", "openai/other")
        )
        result.assert_outcomes(passed=2)
        assert srv.requests[-1]["model"] == "other"


def test_llm_fixture(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)]) as srv:
        pytester.makeini(f"[pytest]\nmleval_api_base = {srv.base_url}\n")
        pytester.makepyfile(
            test_fx="""
def test_it(llm):
    r = llm.complete("Say: hello", model="openai/test-model")
    assert r.text == "ANSWER: HELLO" and r.usage.total_tokens > 0
    assert llm("Say: again", model="openai/test-model") == "ANSWER: AGAIN"
"""
        )
        pytester.runpytest("--mleval-cache", "off").assert_outcomes(passed=1)


def test_exitfirst_cancels_outstanding_calls(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)], latency_s=0.3) as srv:
        body = suite(srv, n=12).replace("expected: 'ANSWER: W0'", "expected: 'wrong'")
        pytester.makefile(".eval.yaml", llm=body)
        result = pytester.runpytest(
            *fast("--mleval-cache", "off", "--mleval-concurrency", "2", "-x")
        )
        result.assert_outcomes(failed=1)
        # the run stopped at the first failure; calls nobody waits for were cancelled, not paid
        assert srv.count < 12


def test_xdist_workers_generate_only_their_own_cases(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=reply)], latency_s=0.05) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv, n=16))
        result = pytester.runpytest_subprocess(
            *fast("--mleval-cache", "off", "-n", "2", "-p", "xdist")
        )
        result.assert_outcomes(passed=16)
        assert srv.count == 16  # no case generated twice across the two workers
        assert len(results(pytester)["cases"]) == 16


@pytest.mark.parametrize(
    ("client", "inline", "in_pytest", "worker_starts"),
    [("litellm", False, False, 1), ("litellm", True, True, 0), ("auto", False, False, 0)],
    ids=["worker", "inline", "native"],
)
def test_litellm_runs_in_a_worker_process_unless_inline(
    pytester: pytest.Pytester, client: str, inline: bool, in_pytest: bool, worker_starts: int
) -> None:
    # A fresh interpreter: this test process has litellm loaded already. The native client
    # (the default for this OpenAI-compatible model) needs litellm nowhere: no import, no worker.
    pytester.makeconftest(
        """
import sys
def pytest_sessionfinish(session):
    print("LITELLM_IN_PYTEST", "litellm" in sys.modules)
    worker = sys.modules.get("pytest_mleval.inference.worker")
    print("WORKER_STARTS", worker._WORKER.starts if worker and worker._WORKER else 0)
"""
    )
    with OpenAITestServer(rules=[Rule(reply=reply)], latency_s=0.05) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv, n=6))
        args = fast("--mleval-cache", "off", "-s", "--mleval-client", client)
        result = pytester.runpytest_subprocess(
            *args, *(["--mleval-litellm-inline"] if inline else [])
        )
        result.assert_outcomes(passed=6)
        assert srv.count == 6
    result.stdout.fnmatch_lines(
        [f"*LITELLM_IN_PYTEST {in_pytest}*", f"*WORKER_STARTS {worker_starts}*"]
    )
    cases = results(pytester)["cases"]
    assert all(c["usage"]["total_tokens"] > 0 for c in cases)


def test_replayed_run_starts_no_litellm_worker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import sys
def pytest_sessionfinish(session):
    worker = sys.modules.get("pytest_mleval.inference.worker")
    print("WORKER_STARTS", worker._WORKER.starts if worker and worker._WORKER else 0)
"""
    )
    with OpenAITestServer(rules=[Rule(reply=reply)]) as srv:
        pytester.makefile(".eval.yaml", llm=suite(srv, n=4))
        first = pytester.runpytest_subprocess(*fast("-s", "--mleval-client", "litellm"))
        first.assert_outcomes(passed=4)
        first.stdout.fnmatch_lines(["*WORKER_STARTS 1*"])
        replay = pytester.runpytest_subprocess(*fast("-s", "--mleval-cache", "replay"))
        replay.assert_outcomes(passed=4)
        replay.stdout.fnmatch_lines(["*WORKER_STARTS 0*"])
        assert srv.count == 4


def test_litellm_worker_starts_when_an_eval_file_names_a_model_before_it_is_parsed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
import sys
def pytest_sessionfinish(session):
    worker = sys.modules.get("pytest_mleval.inference.worker")
    print("WORKER_STARTS", worker._WORKER.starts if worker and worker._WORKER else 0)
"""
    )
    with OpenAITestServer(rules=[Rule(reply=reply)]) as srv:
        # The case's unknown field fails validation: the suite is never registered, so only
        # the glance at the file's text can have started the worker.
        pytester.makefile(".eval.yaml", llm=suite(srv, n=2) + "  - {id: c9, inptu: typo}\n")
        broken = pytester.runpytest_subprocess("-s", "--mleval-client", "litellm")
        broken.assert_outcomes(errors=1)
        broken.stdout.fnmatch_lines(["*WORKER_STARTS 1*"])
        # The same file, its model served by the native client: no worker to start.
        native = pytester.runpytest_subprocess("-s")
        native.assert_outcomes(errors=1)
        native.stdout.fnmatch_lines(["*WORKER_STARTS 0*"])
        assert srv.count == 0
    pytester.makepyfile(app="def answer(case):\n    return 'ok'\n")
    pytester.makefile(
        ".eval.yaml",
        llm="target: python:app:answer\nmetrics: [exact]\ncases:\n  - {id: a, input: x, expected: ok}\n",
    )
    plain = pytester.runpytest_subprocess("-s")
    plain.assert_outcomes(passed=1)
    plain.stdout.fnmatch_lines(["*WORKER_STARTS 0*"])


@pytest.mark.parametrize(
    ("text", "named", "litellm"),
    [
        ("target: model:openai/gpt-4o-mini", ["openai/gpt-4o-mini"], False),
        ("target: 'model:ollama/llama3'", ["ollama/llama3"], True),
        ("target: model:hf:./tiny", [], False),
        ("target: python:app:answer", [], False),
        ("judge_model: anthropic/claude-3-haiku  # cheap", ["anthropic/claude-3-haiku"], True),
        # No endpoint at a glance (no api_base, no HOSTED_VLLM_API_BASE): litellm is started.
        ('judge_model: "hosted_vllm/m"', ["hosted_vllm/m"], True),
        ("judge_model: hf:./tiny", [], False),
        ("judge_model: null", [], False),
        ("# target: model:openai/x", [], False),
    ],
)
def test_eval_file_text_that_starts_the_litellm_worker(
    tmp_path: Path, text: str, named: list[str], litellm: bool
) -> None:
    from pytest_mleval.evalfiles import eval_file_models, eval_file_names_a_model
    from pytest_mleval.inference.clients import needs_litellm

    path = tmp_path / "s.eval.yaml"
    path.write_text(f"suite: s\n{text}\ncases: []\n")
    assert eval_file_models(path) == named
    assert eval_file_names_a_model(path) is bool(named)
    # Only a model the native client does not serve needs litellm's worker.
    assert any(needs_litellm(m) for m in named) is litellm
    assert any(needs_litellm(m, "litellm") for m in named) is bool(named)


@pytest.mark.parametrize(
    ("extra", "prestarted"),
    [
        (("--mleval-client", "litellm"), True),
        (("--mleval-client", "litellm", "--mleval-cache", "replay"), False),
        (("--mleval-client", "litellm", "--collect-only"), False),
        (("--mleval-client", "litellm", "--mleval-litellm-inline"), False),
        (("--mleval-client", "litellm", "-n", "2", "-p", "xdist"), False),
        ((), False),
    ],
    ids=["model-suite", "replay", "collect-only", "inline", "xdist-controller", "native-client"],
)
def test_litellm_worker_starts_during_pytest_start_up_when_the_paths_name_models(
    pytester: pytest.Pytester, extra: tuple[str, ...], prestarted: bool
) -> None:
    pytester.makeconftest(
        """
import sys
def pytest_sessionfinish(session):
    prestart = sys.modules.get("pytest_mleval.prestart")
    if not hasattr(session.config, "workerinput"):
        print("PRESTARTED", bool(prestart and prestart.started()))
"""
    )
    with OpenAITestServer(rules=[Rule(reply=reply)]) as srv:
        evals = pytester.mkdir("evals")
        (evals / "llm.eval.yaml").write_text(suite(srv, n=2))
        result = pytester.runpytest_subprocess("evals", "-s", "--mleval-cache", "off", *extra)
    result.stdout.fnmatch_lines([f"*PRESTARTED {prestarted}*"])


def test_prestart_finds_model_suites_only_where_the_run_looks(tmp_path: Path) -> None:
    from pytest_mleval.prestart import _eval_files

    (tmp_path / "evals" / "deep").mkdir(parents=True)
    (tmp_path / "evals" / "deep" / "a.eval.yaml").write_text("target: model:openai/x\n")
    (tmp_path / "evals" / "notes.yaml").write_text("target: model:openai/x\n")
    for skipped in (".git", "node_modules", "venv"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "b.eval.yaml").write_text("target: model:openai/x\n")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    found = list(_eval_files([tmp_path], ["*.eval.yaml"]))
    assert found == [tmp_path / "evals" / "deep" / "a.eval.yaml"]


def test_prestart_looks_in_the_run_directory_when_only_option_values_are_left(
    tmp_path: Path,
) -> None:
    # `pytest -p no:cacheprovider --mleval-cache off` leaves "no:cacheprovider" and "off"
    # where pytest's early parse keeps paths: the run still looks at its directory.
    from types import SimpleNamespace

    from pytest_mleval.prestart import _candidates

    (tmp_path / "tests").mkdir()

    def config(args: list[str], testpaths: list[str]) -> SimpleNamespace:
        return SimpleNamespace(
            invocation_params=SimpleNamespace(dir=tmp_path),
            known_args_namespace=SimpleNamespace(file_or_dir=args),
            rootpath=tmp_path,
            getini=lambda name: testpaths if name == "testpaths" else None,
        )

    assert _candidates(config(["no:cacheprovider", "off"], [])) == [tmp_path]
    assert _candidates(config(["off"], ["tests", "missing"])) == [tmp_path / "tests"]
    assert _candidates(config(["tests", "32"], [])) == [tmp_path / "tests"]
