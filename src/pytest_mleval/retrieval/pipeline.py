"""The RAG pipeline: ingest a folder, chunk, index, retrieve, answer with citations.

Retrieval works on chunks; every result carries the DOCUMENT id (the file's path relative to
the documents folder, e.g. ``guide/install.md``), since retrieval metrics compare documents,
and the chunk's offsets in its metadata. Chunk embeddings persist in ``index_dir`` keyed by
a hash of the embedder name and the chunk text, so a second ingest embeds only what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, IndexCorruptError, MissingDependencyError
from .base import MetadataFilter, RetrievalWarning, Retrieved
from .bm25 import BM25Index
from .chunking import Chunk, TokenSpans, chunk_text, hf_token_spans, sentence_spans, word_spans
from .config import RagConfig
from .dense import ExactIndex, HNSWIndex
from .embedders import Embedder, get_embedder
from .hybrid import DenseRetriever, HybridRetriever, Retriever
from .ingest import Document, ingest_folder

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .stores import VectorStore

__all__ = [
    "NO_ANSWER",
    "Citation",
    "IngestStats",
    "RagAnswer",
    "RagConfig",
    "RagPipeline",
    "Retrieved",
    "build_prompt",
]

Complete = Callable[[str], str]

NO_ANSWER = "No relevant passages were found."

_STORE_VERSION = 1


@dataclass(frozen=True)
class Citation:
    """Passage ``number`` (as cited, ``[n]``) of the answer's contexts, and where it came from."""

    number: int
    id: str
    start: int
    end: int


@dataclass(frozen=True)
class RagAnswer:
    """An answer with the contexts it was built from."""

    output: str
    contexts: list[str]
    retrieved_ids: list[str]
    citations: list[Citation]
    retrieved: list[Retrieved] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The shape a target returns: ``output``, ``context``, ``retrieved`` (ids), citations."""
        return {
            "output": self.output,
            "context": list(self.contexts),
            "retrieved": list(self.retrieved_ids),
            "citations": [c.__dict__ for c in self.citations],
        }


@dataclass(frozen=True)
class IngestStats:
    """What an ingest did: documents and chunks indexed, chunks embedded vs reused."""

    documents: int
    chunks: int
    embedded: int
    reused: int


def build_prompt(question: str, passages: Sequence[Retrieved]) -> str:
    """The generation prompt: numbered passages, then the question, asking for [n] citations."""
    lines = [
        "Answer the question using only the numbered passages below. Cite the passages you "
        "use with their numbers in square brackets, like [1]. If the passages do not contain "
        "the answer, say that you do not know.",
        "",
    ]
    for number, item in enumerate(passages, start=1):
        lines.append(f"[{number}] (source: {item.id})\n{item.text}\n")
    lines.append(f"Question: {question}")
    lines.append("Answer:")
    return "\n".join(lines)


_CITE = re.compile(r"\[(\d+)\]")


def _token_spans(spec: str | None) -> TokenSpans | None:
    """The span function a chunker ``tokenizer`` setting names (``None``: characters)."""
    if spec is None:
        return None
    if spec == "words":
        return word_spans
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError("transformers", "rag", "token-sized chunks") from exc
    path = spec.split(":", 1)[1]
    if not Path(path).is_dir():
        raise ConfigError(f"tokenizer directory not found: {path}")
    return hf_token_spans(AutoTokenizer.from_pretrained(path))


def _chunk_key(embedder_name: str, text: str) -> str:
    return hashlib.sha256(f"{embedder_name}\0{text}".encode()).hexdigest()


class RagPipeline:
    """Documents -> chunks -> BM25 / dense / hybrid retrieval -> an answer with citations.

    Args:
        config: the pipeline's configuration.
        complete: ``complete(prompt) -> str`` used for generation (and LLM reranking, HyDE,
            multi-query); ``None`` answers with the extractive reader.
        embedder: overrides the configured embedder (tests, shared instances).
    """

    def __init__(
        self,
        config: RagConfig,
        complete: Complete | None = None,
        *,
        embedder: Embedder | None = None,
    ) -> None:
        self.config = config
        self.complete = complete
        self._embedder = embedder
        self.documents: list[Document] = []
        self.chunks: list[Chunk] = []
        self.chunk_ids: list[str] = []
        self.retriever: Retriever | None = None
        self.bm25: BM25Index | None = None
        self.dense_index: ExactIndex | HNSWIndex | VectorStore | None = None
        self.stats: IngestStats | None = None
        self.reranker: Any = None
        self._memo: dict[str, NDArray[np.float32]] = {}

    @classmethod
    def from_yaml(
        cls,
        path: str | os.PathLike[str],
        complete: Complete | None = None,
        *,
        embedder: Embedder | None = None,
    ) -> RagPipeline:
        """A pipeline from a YAML config (paths relative to the file)."""
        return cls(RagConfig.from_yaml(path), complete, embedder=embedder)

    @property
    def uses_embeddings(self) -> bool:
        """Whether retrieval or chunking needs the embedder."""
        return self.config.retriever.kind != "bm25" or self.config.chunker.kind == "semantic"

    @property
    def embedder(self) -> Embedder:
        """The embedder (resolved from the config on first use).

        With an ``index_dir``, its vectors are also cached on disk there (``embed-cache/``), so
        the query and sentence embeddings of the extractive reader are free on a second run.
        """
        if self._embedder is None:
            index_dir = self.config.index_dir
            cache = str(index_dir / "embed-cache") if index_dir is not None else None
            self._embedder = get_embedder(self.config.embedder, cache_dir=cache)
        return self._embedder

    # ------------------------------------------------------------------ ingest

    def _chunk_documents(self) -> None:
        cfg = self.config.chunker
        self.chunks, self.chunk_ids = [], []
        semantic_embedder = self.embedder if cfg.kind == "semantic" else None
        tokenizer = _token_spans(cfg.tokenizer)
        for doc in self.documents:
            base = {"doc_id": doc.id, "title": doc.metadata.get("title", ""), "source": doc.source}
            pieces = chunk_text(
                doc.text,
                cfg.kind,
                cfg.size,
                cfg.overlap,
                tokenizer=tokenizer,
                embedder=semantic_embedder,
                metadata=base,
            )
            for number, piece in enumerate(pieces):
                self.chunks.append(piece)
                self.chunk_ids.append(f"{doc.id}#{number}")

    def ingest(self) -> IngestStats:
        """Read the documents folder, chunk, and build the indexes (reusing stored embeddings).

        Returns:
            Counts of documents, chunks, chunks embedded now and chunks reused from the store.
        """
        self.documents = ingest_folder(self.config.documents)
        self._chunk_documents()
        metas = [
            {**c.metadata, "chunk_id": cid, "start": c.start, "end": c.end}
            for c, cid in zip(self.chunks, self.chunk_ids, strict=True)
        ]
        texts = [c.text for c in self.chunks]
        rcfg = self.config.retriever
        embedded = reused = 0
        self.bm25 = BM25Index.from_texts(texts, self.chunk_ids, metas)
        if rcfg.kind == "bm25":
            self.retriever = self.bm25
        elif rcfg.store is not None:
            self.dense_index, embedded, reused = self._store_index(texts, metas)
            dense = DenseRetriever(self.dense_index, self.embedder)
            self.retriever = dense
        else:
            vectors, embedded, reused = self._vectors(texts)
            self.dense_index = self._dense_index(texts, vectors, metas)
            dense = DenseRetriever(self.dense_index, self.embedder)
            self.retriever = dense
        if rcfg.kind == "hybrid":
            self.retriever = HybridRetriever(
                self.bm25,
                dense,
                fusion=rcfg.fusion,
                alpha=rcfg.alpha,
                rrf_k=rcfg.rrf_k,
                candidates=rcfg.candidates,
            )
        self.reranker = self._make_reranker()
        self.stats = IngestStats(len(self.documents), len(self.chunks), embedded, reused)
        return self.stats

    def _store_paths(self) -> tuple[Path, Path] | None:
        if self.config.index_dir is None:
            return None
        return self.config.index_dir / "embeddings.npy", self.config.index_dir / "embeddings.json"

    def _load_store(self) -> dict[str, NDArray[np.float32]]:
        import numpy as np

        paths = self._store_paths()
        if paths is None or not (paths[0].exists() or paths[1].exists()):
            return {}
        try:
            meta = json.loads(paths[1].read_text(encoding="utf-8"))
            if meta.get("version") != _STORE_VERSION:
                raise ValueError(f"store version {meta.get('version')!r}")
            vectors = np.load(paths[0], allow_pickle=False)
            keys = [str(k) for k in meta["keys"]]
            if vectors.ndim != 2 or len(vectors) != len(keys):
                raise ValueError("vector count does not match the keys")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(
                f"persisted index in {self.config.index_dir} is unreadable ({exc}): rebuilding it",
                RetrievalWarning,
                stacklevel=3,
            )
            return {}
        return dict(zip(keys, vectors.astype(np.float32), strict=True))

    def _vectors(self, texts: list[str]) -> tuple[NDArray[np.float32], int, int]:
        import numpy as np

        name = self.embedder.name
        keys = [_chunk_key(name, t) for t in texts]
        stored = self._load_store()
        missing = [i for i, k in enumerate(keys) if k not in stored]
        if missing:
            fresh = self.embedder.embed([texts[i] for i in missing])
            for i, vec in zip(missing, fresh, strict=True):
                stored[keys[i]] = vec
        dim = next(iter(stored.values())).shape[0] if stored else self.embedder.dim
        vectors = np.stack([stored[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)
        paths = self._store_paths()
        if paths is not None and (missing or len(stored) != len(set(keys))):
            paths[0].parent.mkdir(parents=True, exist_ok=True)
            # Only the current chunks are kept, so the store does not grow without bound.
            unique = list(dict.fromkeys(keys))
            np.save(paths[0], np.stack([stored[k] for k in unique]) if unique else vectors)
            meta = {"version": _STORE_VERSION, "embedder": name, "keys": unique}
            paths[1].write_text(json.dumps(meta), encoding="utf-8")
        return vectors, len(missing), len(keys) - len(missing)

    def _dense_index(
        self, texts: list[str], vectors: NDArray[np.float32], metas: list[dict[str, Any]]
    ) -> ExactIndex | HNSWIndex:
        rcfg = self.config.retriever
        dim = int(vectors.shape[1]) if len(vectors) else self.embedder.dim
        use_hnsw = rcfg.index == "hnsw" or (
            rcfg.index == "auto" and len(texts) >= rcfg.hnsw_threshold
        )
        if not use_hnsw:
            exact = ExactIndex(dim)
            exact.add(self.chunk_ids, vectors, metas)
            return exact
        # A graph built with other threads differs: it is not the index asked for.
        signature = hashlib.sha256(
            json.dumps([self.embedder.name, self.chunk_ids, texts, rcfg.hnsw_threads]).encode()
        ).hexdigest()
        folder = self.config.index_dir / "hnsw" if self.config.index_dir else None
        stamp = folder / "signature" if folder is not None else None
        if stamp is not None and stamp.is_file() and stamp.read_text().strip() == signature:
            try:
                return HNSWIndex.load(stamp.parent)
            except IndexCorruptError as exc:
                warnings.warn(f"{exc}: rebuilding it", RetrievalWarning, stacklevel=3)
        index = HNSWIndex(dim, capacity=max(len(texts), 1))
        threads = rcfg.hnsw_threads if rcfg.hnsw_threads is not None else -1
        index.add(self.chunk_ids, vectors, metas, num_threads=threads)
        if folder is not None:
            index.save(folder)
            (folder / "signature").write_text(signature, encoding="utf-8")
        return index

    def _store_index(
        self, texts: list[str], metas: list[dict[str, Any]]
    ) -> tuple[VectorStore, int, int]:
        """Bring the external store in step with the chunks, embedding only new texts."""
        from .stores import open_store

        store_config = self.config.retriever.store
        assert store_config is not None
        self.close()
        store = open_store(store_config, self.embedder.dim)
        name = self.embedder.name
        keys = [_chunk_key(name, t) for t in texts]

        def embed(positions: Sequence[int]) -> Any:
            return self.embedder.embed([texts[p] for p in positions])

        embedded, reused = store.sync(self.chunk_ids, keys, metas, embed)
        return store, embedded, reused

    def close(self) -> None:
        """Release an external vector store's client (a local Qdrant folder stays locked
        while a client holds it); the built-in indexes need nothing."""
        from .stores import VectorStore

        if isinstance(self.dense_index, VectorStore):
            self.dense_index.close()
            self.dense_index = None

    def _make_reranker(self) -> Any:
        spec = (self.config.rerank or "none").strip()
        if spec == "none":
            return None
        from .rerank import CrossEncoderReranker, LLMReranker

        if spec == "llm":
            if self.complete is None:
                warnings.warn(
                    "rerank: llm needs a model (generator); reranking is off",
                    RetrievalWarning,
                    stacklevel=3,
                )
                return None
            return LLMReranker(self.complete)
        return CrossEncoderReranker(spec.split(":", 1)[1])

    # ------------------------------------------------------------------ query

    def _queries(self, query: str) -> list[str]:
        expansion = self.config.retriever.expansion
        if expansion == "none" or self.complete is None:
            return [query]
        from .rerank import hyde_query, multi_queries

        if expansion == "hyde":
            return [query, hyde_query(query, self.complete)]
        return [query, *multi_queries(query, self.complete)]

    def retrieve(
        self, query: str, k: int | None = None, *, where: MetadataFilter | None = None
    ) -> list[Retrieved]:
        """The best chunks for ``query`` (ingesting first if needed), best first.

        With ``max_per_document`` set (default 1) the results are that many chunks at most
        per document. An empty index returns ``[]`` with a :class:`RetrievalWarning`.

        Args:
            query: the question.
            k: how many results (default: the config's ``retriever.k``).
            where: metadata filter on chunks (``doc_id``, ``title``, ``heading`` ...).
        """
        from .hybrid import reciprocal_rank_fusion

        if self.retriever is None:
            self.ingest()
        assert self.retriever is not None
        rcfg = self.config.retriever
        k = k or rcfg.k
        if not self.chunks:
            warnings.warn(
                f"the RAG index over {self.config.documents} is empty: no results for {query!r}",
                RetrievalWarning,
                stacklevel=2,
            )
            return []
        queries = self._queries(query)
        pool = min(len(self.chunks), max(k * 4, rcfg.candidates))
        while True:
            rankings = [self.retriever.search(q, pool, where=where) for q in queries]
            hits = rankings[0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings)
            results = [self._as_retrieved(cid, score) for cid, score in hits]
            if self.reranker is not None:
                results = self.reranker.rerank(query, results)
            if rcfg.min_score is not None:
                results = [r for r in results if r.score >= rcfg.min_score]
            selected = self._per_document(results, k)
            if len(selected) >= k or pool >= len(self.chunks) or len(hits) < pool:
                return selected
            pool = min(len(self.chunks), pool * 4)

    def _as_retrieved(self, chunk_id: str, score: float) -> Retrieved:
        assert self.bm25 is not None
        position = self.bm25.position(chunk_id)
        chunk = self.chunks[position]
        meta = {**self.bm25.metadata[position]}
        return Retrieved(str(meta["doc_id"]), chunk.text, float(score), meta)

    def _per_document(self, results: list[Retrieved], k: int) -> list[Retrieved]:
        limit = self.config.retriever.max_per_document
        if limit is None:
            return results[:k]
        counts: dict[str, int] = {}
        selected = []
        for item in results:
            if counts.get(item.id, 0) < limit:
                counts[item.id] = counts.get(item.id, 0) + 1
                selected.append(item)
                if len(selected) == k:
                    break
        return selected

    def answer(self, query: str, k: int | None = None, *, planted: Sequence[str] = ()) -> RagAnswer:
        """Retrieve, then answer: by the model (``complete``) or by the extractive reader.

        Args:
            query: the question.
            k: how many passages to use (default: the config's ``retriever.k``).
            planted: documents handed to the reader first, as if the retriever had ranked
                them top (an ``indirect_injection`` probe's poisoned document: the question is
                what the generator does once such a document is retrieved).
        """
        passages = [
            Retrieved(f"planted-{i + 1}", text, float("inf"), {"start": 0, "end": len(text)})
            for i, text in enumerate(planted)
        ] + self.retrieve(query, k)
        contexts = [p.text for p in passages]
        ids = list(dict.fromkeys(p.id for p in passages))
        if not passages:
            return RagAnswer(NO_ANSWER, [], [], [], [])
        if self.complete is not None:
            output = self.complete(build_prompt(query, passages)).strip()
            numbers = sorted({int(n) for n in _CITE.findall(output)})
            citations = [
                self._citation(n, passages[n - 1]) for n in numbers if 1 <= n <= len(passages)
            ]
        else:
            output, citations = self._extract(query, passages)
        return RagAnswer(output, contexts, ids, citations, passages)

    @staticmethod
    def _citation(number: int, item: Retrieved) -> Citation:
        return Citation(number, item.id, int(item.metadata["start"]), int(item.metadata["end"]))

    def _extract(self, query: str, passages: list[Retrieved]) -> tuple[str, list[Citation]]:
        """The sentences of the passages best supported by the query, each with its [n]."""
        sentences: list[tuple[int, str]] = []
        for number, item in enumerate(passages, start=1):
            for s, e in sentence_spans(item.text):
                sentence = item.text[s:e]
                # Headings and code fences carry query words but answer nothing.
                if sentence.lstrip().startswith(("#", "```", "|")) or len(sentence.split()) < 3:
                    continue
                sentences.append((number, " ".join(sentence.split())))
        if not sentences:
            return NO_ANSWER, []
        scores = self._support(query, [s for _, s in sentences])
        ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
        chosen = [i for i in ranked if scores[i] > 0][: self.config.max_sentences] or ranked[:1]
        chosen.sort(key=lambda i: (sentences[i][0], i))  # reading order
        output = " ".join(f"{sentences[i][1]} [{sentences[i][0]}]" for i in chosen)
        numbers = sorted({sentences[i][0] for i in chosen})
        return output, [self._citation(n, passages[n - 1]) for n in numbers]

    def _embed_memo(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed with an in-process memo: the same passages' sentences recur across questions."""
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            self._memo.update(zip(missing, self.embedder.embed(missing), strict=True))
        return np.stack([self._memo[t] for t in texts])

    def _support(self, query: str, sentences: list[str]) -> list[float]:
        if self.uses_embeddings:
            vectors = self._embed_memo([query, *sentences])
            return [float(v) for v in vectors[1:] @ vectors[0]]
        bm25 = BM25Index.from_texts(sentences)
        return [float(s) for s in bm25.get_scores(bm25.tokenizer(query))]
