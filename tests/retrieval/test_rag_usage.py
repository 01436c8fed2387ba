"""What a RAG target's model calls cost counts in the usage people read (issue 13 item 6).

The ``rag:`` target's generator and API embedder go through the run's engine, but its output
reported no model, tokens or cost: a RAG suite that paid for every answer read "0 tokens,
$0" in its suite and model rows, and under xdist the run's total missed them too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only

import_litellm()  # see tests/inference/test_model_targets.py: loaded before in-process runs

DOCS = {
    "returns.md": "# Returns\n\nItems can be returned within 30 days of delivery for a refund.\n",
    "shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days.\n",
}
# Priced models (litellm's cost map), so a call's cost is not 0.
GENERATOR = "openai/gpt-4o-mini"
EMBEDDER = "openai/text-embedding-3-small"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-rag")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with loopback_only() as attempts:
        yield
    assert not attempts


def answer(messages: list[dict]) -> str:
    return "Items can be returned within 30 days [1]."


def _texts(request: dict) -> list[str]:
    text = request["input"]
    return [text] if isinstance(text, str) else list(text)


def _project(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    srv: OpenAITestServer,
    generator: str = GENERATOR,
    metrics: str = "  - contains: {value: 30 days}\n",
) -> None:
    # The embedder's endpoint comes from the provider's environment variable.
    monkeypatch.setenv("OPENAI_API_BASE", srv.base_url)
    docs = pytester.mkdir("docs")
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    pytester.makefile(
        ".yaml",
        rag="documents: docs\nchunker: {kind: markdown, size: 400, overlap: 0}\n"
        f"retriever: {{kind: dense, k: 1}}\nembedder: litellm:{EMBEDDER}\n"
        f"generator: {generator}\n",
    )
    pytester.makeini(
        f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_retry_delay = 0.01\n"
        "mleval_cache = off\n"
    )
    cases = "".join(f"  - {{id: c{i}, input: 'Can I return item {i}?'}}\n" for i in range(4))
    pytester.makefile(
        ".eval.yaml",
        rag_suite=f"suite: rag\ntarget: rag:rag.yaml\nmetrics:\n{metrics}cases:\n{cases}",
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_rag_targets_model_calls_count_in_its_suites_and_models_usage(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    with OpenAITestServer(rules=[Rule(reply=answer)], embedding_dim=16) as srv:
        _project(pytester, monkeypatch, srv)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *workers)
        result.assert_outcomes(passed=4)
        chats = [r for r in srv.requests if "messages" in r]
        embeds = [r for r in srv.requests if "input" in r]
    assert len(chats) == 4 and embeds
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    usage = results["usage"]
    gen = usage["models"][GENERATOR]
    assert gen["cases"] == 4 and gen["total_tokens"] > 0 and gen["cost_usd"] > 0
    # Each case embedded its query: those calls are the case's.
    query_embeds = [r for r in embeds if all("?" in t for t in _texts(r))]
    assert len(query_embeds) == 4
    suite = usage["suites"]["rag"]
    emb_cases = sum(len(" ".join(_texts(r)).split()) for r in query_embeds)
    assert suite["total_tokens"] == gen["total_tokens"] + emb_cases
    # The documents were embedded when the pipeline was built (in each process that built
    # one), which no case did: the run's total and the model's row count them, as the server
    # counted every embedding request (whitespace-split tokens), no suite's row.
    emb = usage["models"][EMBEDDER]
    served = sum(len(" ".join(_texts(r)).split()) for r in embeds)
    assert served > emb_cases
    assert emb["cases"] == 4 and emb["prompt_tokens"] == served and emb["cost_usd"] > 0
    assert usage["total"]["total_tokens"] == gen["total_tokens"] + served
    assert usage["total"]["cost_usd"] == pytest.approx(gen["cost_usd"] + emb["cost_usd"])
    assert usage["total"]["outside_cases"]["total_tokens"] == served - emb_cases
    # People read rows that add up: the suite's and the calls outside any case.
    outside = usage["outside"]
    assert outside["total_tokens"] == served - emb_cases and outside["cost_usd"] > 0
    assert suite["total_tokens"] + outside["total_tokens"] == usage["total"]["total_tokens"]
    result.stdout.fnmatch_lines(
        [
            f"usage: {usage['total']['total_tokens']} tokens*",
            f"  suite rag: {suite['total_tokens']} tokens*",
            f"  outside any case: {outside['total_tokens']} tokens*",
        ]
    )
    reports = pytester.path / "reports"
    summary = (reports / "mleval-summary.md").read_text()
    assert f"| outside any case | {outside['total_tokens']} (" in summary
    html = (reports / "mleval-report.html").read_text()
    assert "any case (building RAG indexes" in html
    case = next(c for c in results["cases"] if c["case_id"] == "c0")
    assert case["model"] == GENERATOR and case["cost_usd"] > 0
    result.stdout.fnmatch_lines([f"  model {GENERATOR}: *", f"  model {EMBEDDER}: *"])


def test_a_rag_target_with_an_unpriced_generator_has_an_unknown_cost(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline's calls reach the case as `calls`: one to a model with no price makes the
    # case's cost unknown (cost_usd not scored, the rows say so), not $0 of the generator.
    with OpenAITestServer(rules=[Rule(reply=answer)], embedding_dim=16) as srv:
        metrics = "  - contains: {value: 30 days}\n  - cost_usd: {max: 0.01}\n"
        _project(pytester, monkeypatch, srv, generator="openai/self-hosted", metrics=metrics)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=4)
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    for case in results["cases"]:
        assert case["target_calls"]["openai/self-hosted"]["unpriced"] == 1
        assert "'openai/self-hosted'" in case["scores"]["cost_usd"]["skipped"]
    usage = results["usage"]
    assert usage["models"]["openai/self-hosted"]["cost_unknown"] == 4
    assert "cost_unknown" not in usage["models"][EMBEDDER]
    assert usage["suites"]["rag"]["cost_unknown"] == 4


def test_shards_merge_with_the_calls_no_case_made(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_mleval.cli import main

    with OpenAITestServer(rules=[Rule(reply=answer)], embedding_dim=16) as srv:
        _project(pytester, monkeypatch, srv)
        for i in (1, 2):
            result = pytester.runpytest_subprocess(
                "-p", "no:cacheprovider", f"--mleval-shard={i}/2", f"--mleval-report-dir=s{i}"
            )
            assert result.ret == 0, result.stdout.str()
        served = sum(len(" ".join(_texts(r)).split()) for r in srv.requests if "input" in r)
    shards = [
        json.loads((pytester.path / f"s{i}" / "mleval-results.json").read_text()) for i in (1, 2)
    ]
    # Each shard built its pipeline, so each embedded the documents.
    built = [s["usage"]["outside_calls"][EMBEDDER]["prompt_tokens"] for s in shards]
    assert all(built)
    files = [str(pytester.path / f"s{i}" / "mleval-results.json") for i in (1, 2)]
    assert main(["merge", *files, "-o", str(pytester.path / "merged.json")]) == 0
    merged = json.loads((pytester.path / "merged.json").read_text())["usage"]
    assert merged["outside_calls"][EMBEDDER]["prompt_tokens"] == sum(built)
    assert merged["models"][EMBEDDER]["prompt_tokens"] == served
    assert merged["total"]["outside_cases"]["total_tokens"] == sum(built)


def test_a_python_target_reports_several_models_calls_each_with_its_row() -> None:
    from pytest_mleval.cases.case import EvalCase
    from pytest_mleval.results.records import CaseResult
    from pytest_mleval.results.run import usage_totals
    from pytest_mleval.results.scoring import score_case
    from pytest_mleval.targets.registry import normalize_output

    value = {
        "output": "an answer",
        "calls": {
            "openai/writer": {
                "calls": 1,
                "prompt_tokens": 30,
                "completion_tokens": 5,
                "total_tokens": 35,
                "cost_usd": 3e-05,
                "latencies_ms": [40.0],
            },
            "openai/embed": {
                "calls": 2,
                "prompt_tokens": 6,
                "total_tokens": 6,
                "cost_usd": 1e-07,
                "cached": 1,
                "latencies_ms": [2.0, 4.0],
            },
        },
        "usage": {"prompt_tokens": 36, "completion_tokens": 5, "total_tokens": 41},
        "cost_usd": 3.01e-05,
        "model": "openai/writer",
    }
    out = normalize_output(value, latency_ms=50.0)
    ec = EvalCase(id="c0", input="q", metrics=[], suite="s")
    result, _ = score_case(ec, out)
    assert isinstance(result, CaseResult)
    assert set(result.target_calls) == {"openai/writer", "openai/embed"}
    usage = usage_totals([result])
    writer, embed = usage["models"]["openai/writer"], usage["models"]["openai/embed"]
    # Each model its own calls, not the case's sums under the model that answered.
    assert (writer["total_tokens"], writer["latency_ms"]["p50"]) == (35, 40.0)
    assert (embed["total_tokens"], embed["cached"], embed["latency_ms"]["p50"]) == (6, 1, 3.0)
    assert usage["suites"]["s"]["total_tokens"] == 41
    assert usage["total"]["cost_usd"] == pytest.approx(3.01e-05)
    assert usage["total"]["latency_ms"]["p50"] == 50.0  # what the case waited


@pytest.mark.parametrize(
    "calls",
    [["openai/x"], {"openai/x": 3}, {"openai/x": {"tokens": 3}}, {"openai/x": {"calls": "many"}}],
)
def test_malformed_target_calls_are_the_targets_error(calls: object) -> None:
    from pytest_mleval.errors import TargetError
    from pytest_mleval.targets.registry import normalize_output

    with pytest.raises(TargetError, match="calls"):
        normalize_output({"output": "x", "calls": calls})
