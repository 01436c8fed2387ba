"""The session gives judges its backend at start-up without loading the judges: eval files, the
mleval fixture and check() outside it all judge on the run's engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only
from pytest_mleval.report.history import recent_runs, resolve_url

import_litellm()  # see tests/inference/test_model_targets.py: loaded before in-process runs


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge")
    with loopback_only() as attempts:
        yield
    assert not attempts


def judge(messages: list[dict]) -> str:
    m = re.search(r"<<<OUTPUT-(\w+)\n(.*?)\nOUTPUT-\1>>>", messages[-1]["content"], re.S)
    return json.dumps({"reasoning": "r", "score": 5 if m and "perfect" in m.group(2) else 1})


TESTS = """
import pytest
from pytest_mleval import check

METRICS = [{"judge": {"criteria": "Is it perfect?", "threshold": 0.5}}]
CASE = {"id": "c1", "input": "q"}

def test_fixture(mleval):
    r = mleval.check(CASE, "a perfect answer", metrics=METRICS, suite="api")
    assert r.scores["judge"].score == 1.0

def test_plain_check():
    r = check(dict(CASE, id="c2"), "meh", metrics=METRICS, suite="api", raise_on_fail=False)
    assert r.scores["judge"].score == 0.0
"""


def _project(p: pytest.Pytester, srv: OpenAITestServer) -> None:
    p.makeini(
        f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_retry_delay = 0.01\n"
        "mleval_cache = off\nmleval_judge_model = openai/judge\n"
    )
    p.makepyfile(test_api=TESTS)


def test_python_api_judges_on_the_runs_engine(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=judge)]) as srv:
        _project(pytester, srv)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=2)
        assert len(srv.requests) == 2
    usage = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())["usage"]
    assert usage["inference"]["total"]["calls"] == 2


def test_nested_runs_restore_the_outer_judge_setup(pytester: pytest.Pytester) -> None:
    from pytest_mleval.judges.backend import current_setup, set_backend_factory

    def outer(model: str) -> object:
        raise AssertionError("not called")

    previous = set_backend_factory(outer, "outer/model")
    try:
        with OpenAITestServer(rules=[Rule(reply=judge)]) as srv:
            _project(pytester, srv)
            pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
        setup = current_setup()
        assert setup.factory is outer and setup.default_model == "outer/model"
    finally:
        set_backend_factory(*previous)


def test_a_plain_run_loads_no_judges(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    pytester.makeconftest(
        "import sys\n"
        "def pytest_unconfigure(config):\n"
        "    heavy = [m for m in ('pytest_mleval.judges.backend', 'pytest_mleval.targets.registry',"
        " 'pytest_mleval.results.records') if m in sys.modules]\n"
        "    print('LOADED', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LOADED []" in proc.stdout


APP = """
def answer(case):
    return {"output": "a perfect answer", "model": "openai/tiny", "cost_usd": 1e-06,
            "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}}
"""


def _judged_project(
    pytester: pytest.Pytester,
    srv: OpenAITestServer,
    judge_model: str,
    *,
    cases: int,
    more: str = "",
) -> None:
    """A suite of ``cases`` answers of ``APP`` judged by ``judge_model`` on the test server."""
    pytester.makeini(
        f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_retry_delay = 0.01\n"
        f"mleval_cache = off\nmleval_judge_model = {judge_model}\n"
    )
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    rows = "".join(f"  - {{id: c{i}, input: q{i}}}\n" for i in range(cases))
    pytester.makefile(
        ".eval.yaml",
        judged="suite: judged\ntarget: python:app:answer\nmetrics:\n"
        f"  - judge: {{criteria: Is it perfect?, threshold: 0.5}}\n{more}cases:\n{rows}",
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_judge_calls_count_in_the_usage_people_read(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    # The judge's tokens and dollars are the run's too: before, the terminal, Markdown and HTML
    # counted only the target's calls (7 tokens a case, "$0.0000040"), whatever the judge spent.
    with OpenAITestServer(rules=[Rule(reply=judge)]) as srv:
        _judged_project(pytester, srv, "openai/gpt-4o-mini", cases=4)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *workers)
        result.assert_outcomes(passed=4)
        assert len(srv.requests) == 4
    reports = pytester.path / "reports"
    results = json.loads((reports / "mleval-results.json").read_text())
    # What the judge used, as the server counted it (whitespace-split tokens) and as priced.
    judged = [len(" ".join(m["content"] for m in r["messages"]).split()) for r in srv.requests]
    judge_tokens = sum(judged) + 4 * len(judge([{"content": ""}]).split())
    usage = results["usage"]
    judge_use = usage["models"]["openai/gpt-4o-mini"]
    assert judge_use["total_tokens"] == judge_tokens
    assert judge_use["cost_usd"] > 0.0 and judge_use["cases"] == 4
    assert usage["total"]["total_tokens"] == 4 * 7 + judge_tokens
    assert usage["total"]["cost_usd"] == pytest.approx(4e-06 + judge_use["cost_usd"])
    assert usage["suites"]["judged"]["total_tokens"] == 4 * 7 + judge_tokens
    total = f"usage: {4 * 7 + judge_tokens} tokens*"
    result.stdout.fnmatch_lines(
        [
            total,
            f"  suite judged: {4 * 7 + judge_tokens} tokens*",
            f"  model openai/gpt-4o-mini: {judge_tokens} tokens*",
            "  model openai/tiny: 28 tokens*",
        ]
    )
    summary = (reports / "mleval-summary.md").read_text()
    assert f"| model `openai/gpt-4o-mini` | {judge_tokens} (" in summary
    assert f"| **total** | {4 * 7 + judge_tokens} (" in summary
    html = (reports / "mleval-report.html").read_text()
    assert "<code>openai/gpt-4o-mini</code>" in html


def test_an_unpriced_judge_model_makes_the_cost_unknown_not_zero(
    pytester: pytest.Pytester,
) -> None:
    # A self-hosted judge has no price: its calls count as $0, so the rows that hold them
    # say the cost is unknown rather than reading as the judge's whole cost.
    with OpenAITestServer(rules=[Rule(reply=judge)]) as srv:
        _judged_project(pytester, srv, "openai/self-hosted-judge", cases=3, more="  - cost_usd\n")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=3)
    usage = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())["usage"]
    assert usage["models"]["openai/self-hosted-judge"]["cost_unknown"] == 3
    assert usage["total"]["cost_unknown"] == 3 and usage["suites"]["judged"]["cost_unknown"] == 3
    assert "cost_unknown" not in usage["models"]["openai/tiny"]  # the target's was priced
    result.stdout.fnmatch_lines(
        ["  model openai/self-hosted-judge: * + unknown (3 case(s) of a model with no price)*"]
    )
    # The target's own cost is known: its metric still scores it.
    result.stdout.fnmatch_lines(["  cost_usd *0.000001*"])


def test_a_case_its_judge_could_not_score_is_errored_not_failed(pytester: pytest.Pytester) -> None:
    # The judge's provider is down: nothing judged the outputs wrong, yet the headline, suite
    # line, Markdown, HTML and history all read "4 case(s) failed", sending people to fix
    # answers that may be right.
    with OpenAITestServer(rules=[Rule(reply=judge)], faults=[Fault("500")]) as srv:
        pytester.makeini(
            f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_retry_delay = 0.01\n"
            "mleval_max_retries = 1\nmleval_cache = off\nmleval_judge_model = openai/judge\n"
        )
        pytester.makepyfile(app=APP)
        pytester.syspathinsert()
        cases = "".join(f"  - {{id: c{i}, input: q{i}}}\n" for i in range(4))
        pytester.makefile(
            ".eval.yaml",
            judged="suite: judged\ntarget: python:app:answer\nmetrics:\n"
            f"  - judge: {{criteria: Is it perfect?, threshold: 0.5}}\ncases:\n{cases}",
        )
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        assert len(srv.requests) == 8  # each judge call and its one retry
    assert result.ret == 1
    result.stdout.fnmatch_lines(["run failed: 4 case(s) errored (exit status 1)", "*4 errored*"])
    result.stdout.fnmatch_lines(["case judged::c0 errored", "*judge*error*ProviderError*500*"])
    result.stdout.no_fnmatch_line("*case(s) failed*")
    reports = pytester.path / "reports"
    summary = (reports / "mleval-summary.md").read_text()
    assert "**Run failed: 4 case\\(s\\) errored \\(exit status 1\\)**" in summary
    assert "4 failing or errored case result(s)" in summary
    assert "judge: " in summary and "500" in summary
    html = (reports / "mleval-report.html").read_text()
    assert "4 case(s) errored" in html and "case(s) failed" not in html
    (run,) = recent_runs(resolve_url(None, reports))
    assert run.n_errored == 4 and run.n_passed == 0
