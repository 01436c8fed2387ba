"""Retrieval: embedders, chunkers, indexes (BM25, exact, HNSW), hybrid fusion, the RAG pipeline.

Importing this package is cheap: numpy, scipy, hnswlib, sentence-transformers and litellm are
imported only by the functions that need them.
"""

from __future__ import annotations

from .base import Hit, IngestWarning, MetadataFilter, RetrievalWarning, matches
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
from .pipeline import Citation, IngestStats, RagAnswer, RagPipeline, Retrieved, build_prompt
from .rerank import CrossEncoderReranker, LLMReranker, hyde_query, multi_queries

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
