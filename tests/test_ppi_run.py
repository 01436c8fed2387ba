"""Human labels end to end: a judged suite with ``labels:`` reports the judge metric on the
human scale (``judge:human``, PPI++) beside the judge's mean, and a ``stat: ppi_mean`` gate
decides on it, in one process and under xdist (where the controller reads the labels back
from the eval file)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pytest_mleval import stats
from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only

CASES = 40
LABELLED = 16

APP = """
def answer(case):
    return f"answer {case.text}"
"""


def raw_score(i: int) -> int:
    """The judge's score of case i on its 1-5 scale."""
    return 2 + (i * 7) % 4


def judge(messages: list[dict[str, Any]]) -> str:
    m = re.search(r"<<<OUTPUT-(\w+)\n(.*?)\nOUTPUT-\1>>>", messages[-1]["content"], re.S)
    i = int(m.group(2).split()[-1]) if m else 0
    return json.dumps({"reasoning": "r", "score": raw_score(i)})


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge")
    with loopback_only() as attempts:
        yield
    assert not attempts


def human(i: int) -> int:
    """People's score on the same 1-5 scale: one point below the judge, and two on every
    third case (the judge is generous, unevenly)."""
    return raw_score(i) - 1 - (1 if i % 3 == 0 and raw_score(i) > 2 else 0)


def project(pytester: pytest.Pytester, srv: OpenAITestServer, gate_min: float) -> None:
    pytester.makeini(
        f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_retry_delay = 0.01\n"
        "mleval_cache = off\nmleval_judge_model = openai/judge\n"
    )
    pytester.makepyfile(app=APP)
    rows = [json.dumps({"id": f"c{i}", "stars": human(i)}) for i in range(LABELLED)]
    pytester.path.joinpath("people.jsonl").write_text("\n".join(rows) + "\n")
    cases = "\n".join(f"  - {{id: c{i}, input: '{i}'}}" for i in range(CASES))
    pytester.makefile(
        ".eval.yaml",
        answers=(
            "suite: answers\ntarget: python:app:answer\n"
            "metrics: [{judge: {criteria: correct, threshold: null}}]\n"
            "labels: {metric: judge, path: people.jsonl, column: stars, scale: [1, 5]}\n"
            "gates:\n"
            f"  - {{metric: judge, stat: ppi_mean, on: ci_low, min: {gate_min}}}\n"
            "  - {metric: judge, min: 0.5}\n"
            f"cases:\n{cases}\n"
        ),
    )


def expected() -> stats.PPIResult:
    y = [(human(i) - 1) / 4 for i in range(LABELLED)]
    f = [(raw_score(i) - 1) / 4 for i in range(CASES)]
    return stats.ppi_mean_ci(y, f[:LABELLED], f[LABELLED:], bounds=(0.0, 1.0))


def results(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (pytester.path / "reports" / "mleval-results.json").read_text()
    )
    return data


@pytest.mark.parametrize("xdist", [False, True])
def test_labels_put_the_judge_on_the_human_scale(pytester: pytest.Pytester, xdist: bool) -> None:
    want = expected()
    judge_mean = float(np.mean([(raw_score(i) - 1) / 4 for i in range(CASES)]))
    # People's mean is well below the judge's: a gate at the judge's level fails on theirs.
    assert judge_mean - want.estimate > 0.2
    gate_min = round(want.ci_low + 0.05, 3)
    with OpenAITestServer(rules=[Rule(reply=judge)]) as srv:
        project(pytester, srv, gate_min)
        args = ["-p", "no:cacheprovider", *(["-n", "2"] if xdist else [])]
        result = pytester.runpytest_subprocess(*args)
        assert len(srv.requests) == CASES
    result.assert_outcomes(passed=CASES)
    assert result.ret != 0  # the ppi_mean gate failed the run
    run = results(pytester)
    aggs = {a["metric"]: a for a in run["aggregates"]}
    assert aggs["judge"]["estimate"] == pytest.approx(judge_mean, abs=1e-12)
    got = aggs["judge:human"]
    assert (got["estimate"], got["ci_low"], got["ci_high"]) == pytest.approx(
        (want.estimate, want.ci_low, want.ci_high), abs=1e-12
    )
    assert got["method"].startswith("ppi++") and f"{LABELLED} labelled" in got["method"]
    assert got["n"] == CASES
    ppi_gate, raw_gate = run["gates"]
    assert ppi_gate["stat"] == "ppi_mean" and not ppi_gate["passed"]
    assert ppi_gate["value"] == pytest.approx(want.ci_low, abs=1e-12)
    assert raw_gate["passed"]
    result.stdout.fnmatch_lines(
        [
            "*judge:human*ppi++ (t, lambda=*",
            "*gate answers: FAIL ci_low of ppi_mean(judge) = *",
        ]
    )


def test_a_passing_ppi_gate(pytester: pytest.Pytester) -> None:
    want = expected()
    with OpenAITestServer(rules=[Rule(reply=judge)]) as srv:
        project(pytester, srv, round(want.ci_low - 0.05, 3))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=CASES)
    assert result.ret == 0
    assert all(g["passed"] for g in results(pytester)["gates"])
