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
from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only

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
