"""The rag: target and the embedder / retriever / rag_pipeline fixtures, end to end."""

from __future__ import annotations

import json

import pytest

DOCS = {
    "returns.md": "# Returns\n\nItems can be returned within 30 days of delivery for a refund.\n",
    "shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days.\n",
    "warranty.md": "# Warranty\n\nElectronics carry a one year warranty against defects.\n",
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    docs = pytester.mkdir("docs")
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    pytester.makefile(
        ".yaml",
        rag="documents: docs\nchunker: {kind: markdown, size: 400, overlap: 0}\n"
        "retriever: {kind: hybrid, k: 2}\nembedder: hashing\nindex_dir: .index\n",
    )
    return pytester


def test_rag_target_records_retrieval_for_metrics(project: pytest.Pytester) -> None:
    project.makefile(
        ".eval.yaml",
        r="""
target: rag:rag.yaml
metrics:
  - hit_rate: {k: 1, threshold: 1}
  - mrr
cases:
  - {id: ret, input: "Can items be returned for a refund after delivery?", relevant: [returns.md]}
  - {id: ship, input: "How long does standard shipping take?", relevant: [shipping.md]}
""",
    )
    project.runpytest().assert_outcomes(passed=2)
    cases = json.loads((project.path / "reports" / "mleval-results.json").read_text())["cases"]
    ret = next(c for c in cases if c["case_id"] == "ret")
    assert ret["retrieved"][0] == "returns.md" and ret["context"]
    assert "30 days" in ret["output"]
    assert ret["scores"]["mrr"]["score"] == 1.0


def test_fixtures(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nmleval_rag_config = rag.yaml\nmleval_embedder = hashing\n")
    project.makepyfile(
        test_fx="""
def test_retriever(retriever, rag_pipeline, embedder):
    hits = retriever("warranty on electronics", 1)
    assert hits[0].id == "warranty.md"
    assert rag_pipeline.answer("warranty on electronics").retrieved_ids[0] == "warranty.md"
    assert embedder.embed(["a", "b"]).shape[0] == 2
"""
    )
    project.runpytest().assert_outcomes(passed=1)


def test_rag_pipeline_fixture_without_config_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fx="def test_x(rag_pipeline):\n    pass\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*mleval_rag_config*"])
    assert result.ret != 0


def test_indirect_injection_probes_reach_the_rag_reader_as_retrieved(
    project: pytest.Pytester,
) -> None:
    project.makefile(
        ".eval.yaml",
        r="""
target: rag:rag.yaml
probes:
  - {family: indirect_injection, count: 4, techniques: [note_to_ai]}
cases:
  - {id: plain, input: "How long does standard shipping take?", metrics: [contains: "3 to 5"]}
""",
    )
    project.runpytest()
    cases = json.loads((project.path / "reports" / "mleval-results.json").read_text())["cases"]
    assert len(cases) == 5
    for case in cases:
        probe = case["metadata"].get("probe")
        if probe is None:
            # Other cases retrieve from the corpus alone: nothing planted reaches them.
            assert case["passed"] and not any("planted" in r for r in case["retrieved"])
            continue
        poisoned = [d for d in case["context"] if probe["canary"] in d]
        # The poisoned document is the first passage the reader got, the corpus the rest.
        assert case["retrieved"][0] == "planted-1"
        assert poisoned and case["context"][0] == poisoned[0]
        assert set(case["retrieved"][1:]) <= set(DOCS)
        score = case["scores"]["canary_absent"]
        # The extractive reader quotes sentences that share the question's words; whether it
        # quoted the planted order is what canary_absent decides, either way scored.
        assert score["passed"] is (probe["canary"] not in case["output"])
