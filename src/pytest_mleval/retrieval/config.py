"""The RAG pipeline's configuration (pydantic), read from YAML.

Relative paths (``documents``, ``index_dir``, a cross-encoder directory) are resolved against
the YAML file's folder, so a config works from any working directory::

    documents: ../docs            # folder to ingest (md, txt, html; pdf with pypdf)
    chunker: {kind: markdown, size: 600, overlap: 0}
    retriever: {kind: hybrid, fusion: rrf, k: 5}     # bm25 | dense | hybrid; rrf | weighted
    embedder: local               # local | local:PATH | litellm:MODEL | hashing
    index_dir: ../.mleval/index   # persisted embeddings (optional)
    # dense vectors in an external store instead (chroma | lancedb | qdrant; url or path):
    # retriever: {kind: dense, store: {kind: qdrant, path: ../.mleval/qdrant, collection: docs}}
    rerank: null                  # null | cross-encoder:PATH | llm
    generator: null               # null (extractive reader) or a model id
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError

__all__ = ["ChunkerConfig", "RagConfig", "RetrieverConfig", "StoreConfig"]


class ChunkerConfig(BaseModel):
    """How documents are cut.

    Sizes count characters, or tokens with ``tokenizer``: ``words`` (whitespace words) or
    ``hf:PATH`` (a local Hugging Face fast tokenizer directory, relative to the YAML file).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fixed", "recursive", "markdown", "semantic"] = "recursive"
    size: int = Field(default=800, ge=1)
    overlap: int = Field(default=100, ge=0)
    tokenizer: str | None = None

    @model_validator(mode="after")
    def _known_tokenizer(self) -> ChunkerConfig:
        if self.tokenizer not in (None, "words") and not str(self.tokenizer).startswith("hf:"):
            raise ValueError(f"tokenizer must be words or hf:PATH, got {self.tokenizer!r}")
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkerConfig:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


class StoreConfig(BaseModel):
    """An external vector store for the dense side (``retriever.store``).

    ``chroma``: ``url`` (a ``chroma run`` server) or ``path`` (its persistent local client);
    ``lancedb``: ``path`` (embedded, on disk); ``qdrant``: ``url`` (a server), ``path`` (the
    client's local mode) or neither (in memory). ``path`` is relative to the YAML file.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["chroma", "lancedb", "qdrant"]
    url: str | None = None
    path: Path | None = None
    collection: str = Field(default="mleval", min_length=1)

    @model_validator(mode="after")
    def _one_place(self) -> StoreConfig:
        if self.url is not None and self.path is not None:
            raise ValueError(f"a {self.kind} store takes url or path, not both")
        if self.kind == "chroma" and self.url is None and self.path is None:
            raise ValueError("a chroma store needs url (a server) or path (a local folder)")
        if self.kind == "lancedb" and self.url is None and self.path is None:
            raise ValueError("a lancedb store needs path (its folder)")
        return self


class RetrieverConfig(BaseModel):
    """How chunks are found.

    ``max_per_document`` keeps at most that many chunks of one document in a result (1: the
    ``k`` results are ``k`` distinct documents, which is what document-level retrieval
    metrics measure); ``None`` lifts the limit. ``index`` picks the dense index: ``exact``
    (numpy), ``hnsw``, or ``auto`` (HNSW from ``hnsw_threshold`` chunks on).
    ``hnsw_threads`` builds the HNSW graph with that many threads: 1 (the default) builds the
    same graph on every run and machine, so results do not move between a run and its
    baseline for that reason; ``null`` uses every core (faster, slightly different graphs).
    ``store`` keeps the dense vectors in an external vector store (:class:`StoreConfig`)
    instead of the built-in index (``index`` then does not apply).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["bm25", "dense", "hybrid"] = "hybrid"
    k: int = Field(default=5, ge=1)
    fusion: Literal["rrf", "weighted"] = "rrf"
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    rrf_k: int = Field(default=60, ge=1)
    candidates: int = Field(default=50, ge=1)
    min_score: float | None = None
    max_per_document: int | None = Field(default=1, ge=1)
    index: Literal["auto", "exact", "hnsw"] = "auto"
    hnsw_threshold: int = Field(default=20_000, ge=1)
    hnsw_threads: int | None = Field(default=1, ge=1)
    expansion: Literal["none", "hyde", "multi_query"] = "none"
    store: StoreConfig | None = None

    @model_validator(mode="after")
    def _store_needs_vectors(self) -> RetrieverConfig:
        if self.store is not None and self.kind == "bm25":
            raise ValueError("store holds dense vectors: use it with kind dense or hybrid")
        return self


class RagConfig(BaseModel):
    """A whole RAG pipeline: documents, chunking, retrieval, reranking, generation."""

    model_config = ConfigDict(extra="forbid")

    documents: Path
    chunker: ChunkerConfig = Field(default_factory=ChunkerConfig)
    retriever: RetrieverConfig = Field(default_factory=RetrieverConfig)
    embedder: str | None = "local"
    index_dir: Path | None = None
    rerank: str | None = None
    generator: str | None = None
    max_sentences: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _known_reranker(self) -> RagConfig:
        spec = (self.rerank or "none").strip()
        if spec not in ("none", "llm") and not spec.startswith("cross-encoder:"):
            raise ValueError(f"rerank must be none, llm or cross-encoder:PATH, got {spec!r}")
        return self

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> RagConfig:
        """Read a config file; relative paths are taken from the file's folder.

        Raises:
            ConfigError: the file is missing, not YAML, or not a valid config.
        """
        import yaml

        file = Path(path)
        try:
            raw: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read RAG config {file}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"RAG config {file} must be a mapping")
        return cls.from_mapping(raw, base=file.parent, source=str(file))

    @classmethod
    def from_mapping(
        cls, raw: dict[str, Any], *, base: str | os.PathLike[str] = ".", source: str = "config"
    ) -> RagConfig:
        """Validate a mapping; relative paths are resolved against ``base``.

        Raises:
            ConfigError: the mapping is not a valid config (the message names the field).
        """
        try:
            config = cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid RAG config {source}: {problems}") from exc
        root = Path(base)
        updates: dict[str, Any] = {"documents": _resolve(root, config.documents)}
        if config.index_dir is not None:
            updates["index_dir"] = _resolve(root, config.index_dir)
        store = config.retriever.store
        if store is not None and store.path is not None:
            resolved_store = store.model_copy(update={"path": _resolve(root, store.path)})
            updates["retriever"] = config.retriever.model_copy(update={"store": resolved_store})
        tokenizer = config.chunker.tokenizer
        if tokenizer and tokenizer.startswith("hf:"):
            resolved = "hf:" + str(_resolve(root, Path(tokenizer[3:])))
            updates["chunker"] = config.chunker.model_copy(update={"tokenizer": resolved})
        if config.rerank and config.rerank.startswith("cross-encoder:"):
            target = config.rerank.split(":", 1)[1]
            updates["rerank"] = "cross-encoder:" + str(_resolve(root, Path(target)))
        return config.model_copy(update=updates)


def _resolve(root: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (root / path).resolve()
