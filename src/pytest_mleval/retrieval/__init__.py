"""Retrieval: embedders, chunkers, indexes (BM25, exact, HNSW), hybrid fusion, the RAG pipeline.

Importing this package is cheap: numpy, scipy, hnswlib, sentence-transformers and litellm are
imported only by the functions that need them, and each name below loads its module on first
use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .base import Hit, IngestWarning, MetadataFilter, RetrievalWarning, Retrieved, matches
    from .bm25 import BM25Index, default_tokenize
    from .chunking import (
        Chunk,
        chunk_text,
        fixed_size_chunks,
        hf_token_spans,
        markdown_chunks,
        recursive_chunks,
        semantic_chunks,
        sentence_spans,
        word_spans,
    )
    from .config import ChunkerConfig, RagConfig, RetrieverConfig
    from .dense import ExactIndex, HNSWIndex, load_index
    from .embedders import (
        Embedder,
        EmbeddingCache,
        HashingEmbedder,
        LiteLLMEmbedder,
        SentenceTransformerEmbedder,
        get_embedder,
    )
    from .hybrid import (
        DenseRetriever,
        HybridRetriever,
        Retriever,
        reciprocal_rank_fusion,
        weighted_fusion,
    )
    from .ingest import Document, ingest_folder
    from .pipeline import Citation, IngestStats, RagAnswer, RagPipeline, build_prompt
    from .rerank import CrossEncoderReranker, LLMReranker, hyde_query, multi_queries

_WHERE = {
    "BM25Index": "bm25",
    "Chunk": "chunking",
    "ChunkerConfig": "config",
    "Citation": "pipeline",
    "CrossEncoderReranker": "rerank",
    "DenseRetriever": "hybrid",
    "Document": "ingest",
    "Embedder": "embedders",
    "EmbeddingCache": "embedders",
    "ExactIndex": "dense",
    "HNSWIndex": "dense",
    "HashingEmbedder": "embedders",
    "Hit": "base",
    "HybridRetriever": "hybrid",
    "IngestStats": "pipeline",
    "IngestWarning": "base",
    "LLMReranker": "rerank",
    "LiteLLMEmbedder": "embedders",
    "MetadataFilter": "base",
    "RagAnswer": "pipeline",
    "RagConfig": "config",
    "RagPipeline": "pipeline",
    "RetrievalWarning": "base",
    "Retrieved": "base",
    "Retriever": "hybrid",
    "RetrieverConfig": "config",
    "SentenceTransformerEmbedder": "embedders",
    "build_prompt": "pipeline",
    "chunk_text": "chunking",
    "default_tokenize": "bm25",
    "fixed_size_chunks": "chunking",
    "get_embedder": "embedders",
    "hf_token_spans": "chunking",
    "hyde_query": "rerank",
    "ingest_folder": "ingest",
    "load_index": "dense",
    "markdown_chunks": "chunking",
    "matches": "base",
    "multi_queries": "rerank",
    "reciprocal_rank_fusion": "hybrid",
    "recursive_chunks": "chunking",
    "semantic_chunks": "chunking",
    "sentence_spans": "chunking",
    "weighted_fusion": "hybrid",
    "word_spans": "chunking",
}

__all__ = [
    "BM25Index",
    "Chunk",
    "ChunkerConfig",
    "Citation",
    "CrossEncoderReranker",
    "DenseRetriever",
    "Document",
    "Embedder",
    "EmbeddingCache",
    "ExactIndex",
    "HNSWIndex",
    "HashingEmbedder",
    "Hit",
    "HybridRetriever",
    "IngestStats",
    "IngestWarning",
    "LLMReranker",
    "LiteLLMEmbedder",
    "MetadataFilter",
    "RagAnswer",
    "RagConfig",
    "RagPipeline",
    "RetrievalWarning",
    "Retrieved",
    "Retriever",
    "RetrieverConfig",
    "SentenceTransformerEmbedder",
    "build_prompt",
    "chunk_text",
    "default_tokenize",
    "fixed_size_chunks",
    "get_embedder",
    "hf_token_spans",
    "hyde_query",
    "ingest_folder",
    "load_index",
    "markdown_chunks",
    "matches",
    "multi_queries",
    "reciprocal_rank_fusion",
    "recursive_chunks",
    "semantic_chunks",
    "sentence_spans",
    "weighted_fusion",
    "word_spans",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
