"""Dense vector indexes with one shape: exact numpy search and HNSW (hnswlib), both cosine.

Vectors are L2-normalised on the way in, so scores are cosine similarities in [-1, 1].
``search(vector, k)`` returns ``[(id, score), ...]`` best first, like the BM25 index.
Both save to and load from a directory; loading a damaged directory raises
:class:`~pytest_mleval.errors.IndexCorruptError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, IndexCorruptError, MissingDependencyError
from .base import Hit, MetadataFilter, matches
from .embedders import l2_normalise

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["ExactIndex", "HNSWIndex", "load_index"]

_META = "index.json"


def _top_k(
    scores: NDArray[np.float32], allowed: NDArray[np.bool_] | None, k: int
) -> list[tuple[int, float]]:
    import numpy as np

    candidates = np.arange(len(scores)) if allowed is None else np.flatnonzero(allowed)
    if k < len(candidates):
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    order = np.lexsort((candidates, -scores[candidates]))
    return [(int(i), float(scores[i])) for i in candidates[order][:k]]


class _Store:
    """Ids and metadata by position, shared by both indexes."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.metadata: list[dict[str, Any]] = []
        self.position: dict[str, int] = {}

    def _check_new(
        self, ids: Sequence[str], metadata: Sequence[Mapping[str, Any]] | None, n: int
    ) -> list[dict[str, Any]]:
        if len(ids) != n:
            raise ConfigError(f"got {len(ids)} ids for {n} vectors")
        if len(set(ids)) != len(ids) or any(str(i) in self.position for i in ids):
            raise ConfigError("index ids must be unique (use a new id for a changed item)")
        if metadata is not None and len(metadata) != n:
            raise ConfigError(f"got {len(metadata)} metadata mappings for {n} vectors")
        return [dict(m) for m in metadata] if metadata is not None else [{} for _ in range(n)]

    def _allowed(self, where: MetadataFilter | None) -> NDArray[np.bool_] | None:
        import numpy as np

        if where is None:
            return None
        return np.fromiter((matches(m, where) for m in self.metadata), bool, len(self.ids))

    def _meta_json(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {"kind": kind, "ids": self.ids, "metadata": self.metadata, **extra}

    def _restore(self, meta: Mapping[str, Any]) -> None:
        self.ids = [str(i) for i in meta["ids"]]
        self.metadata = [dict(m) for m in meta["metadata"]]
        self.position = {i: p for p, i in enumerate(self.ids)}


class ExactIndex(_Store):
    """Brute-force cosine search in numpy: exact, and the fastest choice for small corpora.

    Args:
        dim: vector length.
    """

    def __init__(self, dim: int) -> None:
        import numpy as np

        super().__init__()
        self.dim = dim
        self.vectors: NDArray[np.float32] = np.zeros((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self,
        ids: Sequence[str],
        vectors: Any,
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Add vectors (normalised here) under new unique ids, with optional metadata."""
        import numpy as np

        arr = l2_normalise(vectors) if len(ids) else np.zeros((0, self.dim), np.float32)
        if arr.shape[1] != self.dim:
            raise ConfigError(f"vectors have dimension {arr.shape[1]}, the index {self.dim}")
        metas = self._check_new(ids, metadata, len(arr))
        for offset, item in enumerate(ids):
            self.position[str(item)] = len(self.ids) + offset
        self.ids.extend(str(i) for i in ids)
        self.metadata.extend(metas)
        self.vectors = np.concatenate([self.vectors, arr])

    def search(
        self,
        vector: Any,
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The ``k`` most cosine-similar items, best first (ties in insertion order)."""
        if not self.ids:
            return []
        query = l2_normalise(vector)[0]
        scores = self.vectors @ query
        allowed = self._allowed(where)
        if min_score is not None:
            above = scores >= min_score
            allowed = above if allowed is None else allowed & above
        return [(self.ids[i], s) for i, s in _top_k(scores, allowed, k)]

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the vectors and ids to ``directory`` (created if needed)."""
        import numpy as np

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / "vectors.npy", self.vectors)
        meta = self._meta_json("exact", dim=self.dim)
        (path / _META).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> ExactIndex:
        """Read an index written by :meth:`save`.

        Raises:
            IndexCorruptError: files missing, unreadable or inconsistent.
        """
        import numpy as np

        path = Path(directory)
        try:
            meta = json.loads((path / _META).read_text(encoding="utf-8"))
            index = cls(int(meta["dim"]))
            vectors = np.load(path / "vectors.npy", allow_pickle=False)
            index._restore(meta)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"cannot read the exact index in {path}: {exc}") from exc
        if vectors.shape != (len(index.ids), index.dim):
            raise IndexCorruptError(f"the exact index in {path} has mismatched vectors")
        index.vectors = vectors.astype(np.float32)
        return index


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError as exc:
        raise MissingDependencyError("hnswlib", "rag", "HNSW vector search") from exc
    return hnswlib


class HNSWIndex(_Store):
    """Approximate cosine search with hnswlib (graph index; sub-linear query time).

    Args:
        dim: vector length.
        M: graph degree (memory and recall grow with it).
        ef_construction: candidate list size while building (build time and recall).
        ef: candidate list size while searching (raised to ``k`` when smaller).
        capacity: initial number of slots; grows by doubling as items are added.
        seed: seed of the level assignment (reproducible graphs).
    """

    def __init__(
        self,
        dim: int,
        *,
        M: int = 16,
        ef_construction: int = 200,
        ef: int = 50,
        capacity: int = 1024,
        seed: int = 100,
    ) -> None:
        super().__init__()
        self.dim, self.M, self.ef_construction, self.ef = dim, M, ef_construction, ef
        self.seed = seed
        self._index = _hnswlib().Index(space="cosine", dim=dim)
        self._index.init_index(
            max_elements=max(capacity, 1), ef_construction=ef_construction, M=M, random_seed=seed
        )
        self._index.set_ef(ef)

    def __len__(self) -> int:
        return len(self.ids)

    def set_ef(self, ef: int) -> None:
        """Change the search-time candidate list size."""
        self.ef = ef
        self._index.set_ef(ef)

    def add(
        self,
        ids: Sequence[str],
        vectors: Any,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        *,
        num_threads: int = -1,
    ) -> None:
        """Add vectors under new unique ids (incremental: the graph grows in place)."""
        import numpy as np

        if not len(ids):
            return
        arr = l2_normalise(vectors)
        if arr.shape[1] != self.dim:
            raise ConfigError(f"vectors have dimension {arr.shape[1]}, the index {self.dim}")
        metas = self._check_new(ids, metadata, len(arr))
        start = len(self.ids)
        needed = start + len(arr)
        capacity = int(self._index.get_max_elements())
        if needed > capacity:
            self._index.resize_index(max(needed, 2 * capacity))
        labels = np.arange(start, needed)
        self._index.add_items(arr, labels, num_threads=num_threads)
        for offset, item in enumerate(ids):
            self.position[str(item)] = start + offset
        self.ids.extend(str(i) for i in ids)
        self.metadata.extend(metas)

    def search(
        self,
        vector: Any,
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The (approximately) ``k`` most cosine-similar items, best first."""
        if not self.ids:
            return []
        query = l2_normalise(vector)
        k = min(k, len(self.ids))
        self._index.set_ef(max(self.ef, k))
        allowed = self._allowed(where)
        keep = None
        if allowed is not None:
            if not allowed.any():
                return []
            k = min(k, int(allowed.sum()))
            mask = allowed

            def keep(label: int) -> bool:
                return bool(mask[label])

        try:
            labels, distances = self._index.knn_query(query, k=k, filter=keep)
        except RuntimeError:
            # A narrow filter can leave the graph walk short of k results: search the
            # allowed items exactly instead (they are few, or the walk would have found them).
            return self._exact_search(query[0], k, allowed, min_score)
        hits = [
            (self.ids[int(label)], 1.0 - float(dist))
            for label, dist in zip(labels[0], distances[0], strict=True)
        ]
        if min_score is not None:
            hits = [h for h in hits if h[1] >= min_score]
        return sorted(hits, key=lambda h: (-h[1], self.position[h[0]]))

    def _exact_search(
        self,
        query: NDArray[np.float32],
        k: int,
        allowed: NDArray[np.bool_] | None,
        min_score: float | None,
    ) -> list[Hit]:
        import numpy as np

        labels = np.arange(len(self.ids)) if allowed is None else np.flatnonzero(allowed)
        vectors = l2_normalise(self._index.get_items(labels))
        scores = vectors @ query
        hits = [(self.ids[int(labels[i])], s) for i, s in _top_k(scores, None, k)]
        return [h for h in hits if min_score is None or h[1] >= min_score]

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the graph and ids to ``directory`` (created if needed)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self._index.save_index(str(path / "hnsw.bin"))
        meta = self._meta_json(
            "hnsw", dim=self.dim, M=self.M, ef_construction=self.ef_construction, ef=self.ef
        )
        (path / _META).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> HNSWIndex:
        """Read an index written by :meth:`save`; more items can be added afterwards.

        Raises:
            IndexCorruptError: files missing, unreadable or inconsistent.
        """
        path = Path(directory)
        try:
            meta = json.loads((path / _META).read_text(encoding="utf-8"))
            index = cls(
                int(meta["dim"]),
                M=int(meta["M"]),
                ef_construction=int(meta["ef_construction"]),
                ef=int(meta["ef"]),
                capacity=1,
            )
            index._restore(meta)
            graph = path / "hnsw.bin"
            if not graph.is_file():
                raise OSError(f"{graph} is missing")
            raw = _hnswlib().Index(space="cosine", dim=index.dim)
            raw.load_index(str(graph), max_elements=max(len(index.ids), 1))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexCorruptError(f"cannot read the HNSW index in {path}: {exc}") from exc
        if int(raw.get_current_count()) != len(index.ids):
            raise IndexCorruptError(f"the HNSW index in {path} does not match its ids")
        raw.set_ef(index.ef)
        index._index = raw
        return index


def load_index(directory: str | os.PathLike[str]) -> ExactIndex | HNSWIndex:
    """Load whichever dense index ``directory`` holds.

    Raises:
        IndexCorruptError: nothing readable there.
    """
    path = Path(directory)
    try:
        kind = json.loads((path / _META).read_text(encoding="utf-8"))["kind"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"no readable index in {path}: {exc}") from exc
    if kind == "hnsw":
        return HNSWIndex.load(path)
    if kind == "exact":
        return ExactIndex.load(path)
    raise IndexCorruptError(f"unknown index kind {kind!r} in {path}")
