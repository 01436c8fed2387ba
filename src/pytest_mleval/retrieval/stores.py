"""External vector stores behind the dense index's shape: Chroma, LanceDB and Qdrant.

Each store class answers ``len(store)``, ``add(ids, vectors, metadata)`` and
``search(vector, k, where=..., min_score=...)`` like :class:`~.dense.ExactIndex`, so
:class:`~.hybrid.DenseRetriever` and the hybrid retriever use it unchanged. Scores are cosine
similarities (every collection is created with the cosine distance).

The RAG pipeline keeps a store in step with the documents folder through :meth:`sync`: every
chunk is written with two private fields, the key of its embedding (embedder name and text)
and a signature of that key with the chunk's metadata. A second ingest embeds only chunks
whose text is new, re-writes chunks whose metadata moved (their vector is read back from the
store, not re-embedded) and deletes the chunks of changed or removed documents.

Metadata filters (a mapping: a scalar means equal, a list "any of") are translated into the
store's own filter, so filtering happens in the store. A callable filter cannot be sent to a
store and is refused. Metadata values that are not ``str``, ``int``, ``float`` or ``bool``
are stored as JSON text (``None`` is dropped), since none of the stores takes nested values
in every version.

Failures of the store (a wrong URL, a server that went away, a locked folder) raise one
:class:`VectorStoreError` naming the store and where it is; a collection built with another
embedding dimension raises it naming the collection and both dimensions. The clients are
imported when a store is opened, with their telemetry off.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError, MlevalError
from .base import Hit, MetadataFilter
from .embedders import l2_normalise

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .config import StoreConfig

__all__ = [
    "ChromaStore",
    "LanceDBStore",
    "QdrantStore",
    "VectorStore",
    "VectorStoreError",
    "open_store",
]

_ID, _KEY, _SIG = "_mleval_id", "_mleval_key", "_mleval_sig"
_PRIVATE = (_ID, _KEY, _SIG)

Embed = Callable[[Sequence[int]], Any]
"""``embed(positions) -> vectors`` for the chunks at those positions (the pipeline's embedder)."""


class VectorStoreError(MlevalError):
    """An external vector store failed or does not fit (the message names the store)."""


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def clean_metadata(metadata: Mapping[str, Any]) -> dict[str, str | int | float | bool]:
    """Metadata as the stores take it: scalars kept, ``None`` dropped, the rest as JSON text."""
    return {str(k): _scalar(v) for k, v in metadata.items() if v is not None}


def signature(key: str, metadata: Mapping[str, Any]) -> str:
    """The stored signature of a chunk: its embedding key and its (cleaned) metadata."""
    body = json.dumps([key, clean_metadata(metadata)], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _conditions(where: MetadataFilter | None, store: str) -> list[tuple[str, list[Any] | Any]]:
    """``[(key, value or [values])]`` of a mapping filter; a callable one is refused."""
    if where is None:
        return []
    if callable(where):
        raise ConfigError(
            f"a callable metadata filter cannot be passed down to the {store} store: "
            "use a mapping ({key: value} or {key: [values]})"
        )
    out: list[tuple[str, list[Any] | Any]] = []
    for key, wanted in where.items():
        if isinstance(wanted, list | tuple | set | frozenset):
            out.append((str(key), [_scalar(v) for v in wanted]))
        else:
            out.append((str(key), _scalar(wanted)))
    return out


class VectorStore(abc.ABC):
    """What the three stores share: the protocol's checks, the sync and the error wrapping.

    Subclasses implement ``_count``, ``_entries``, ``_vectors``, ``_delete``, ``_write`` and
    ``_query``; every call into the client runs inside :meth:`_guard`.
    """

    kind = "store"

    def __init__(self, collection: str, dim: int, where: str) -> None:
        self.collection = collection
        self.dim = dim
        self.where = where

    # -- the index protocol

    def __len__(self) -> int:
        with self._guard("count the items"):
            return self._count()

    def add(
        self,
        ids: Sequence[str],
        vectors: Any,
        metadata: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Add (or replace) vectors, normalised here, under ``ids``, with optional metadata."""
        if not len(ids):
            return
        arr = self._check_vectors(vectors, len(ids))
        if metadata is not None and len(metadata) != len(ids):
            raise ConfigError(f"got {len(metadata)} metadata mappings for {len(ids)} vectors")
        if len(set(ids)) != len(ids):
            raise ConfigError("index ids must be unique")
        metas = [clean_metadata(m) for m in metadata] if metadata is not None else None
        rows = [
            {**(metas[i] if metas is not None else {}), _ID: str(item), _KEY: "", _SIG: ""}
            for i, item in enumerate(ids)
        ]
        with self._guard("add vectors"):
            self._write([str(i) for i in ids], arr, rows)

    def search(
        self,
        vector: Any,
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The ``k`` most cosine-similar items, best first, filtered in the store."""
        query = l2_normalise(vector)[0]
        if query.shape[0] != self.dim:
            raise ConfigError(f"query has dimension {query.shape[0]}, the store {self.dim}")
        conditions = _conditions(where, self.kind)
        with self._guard("search"):
            hits = self._query(query, k, conditions, min_score)
        if min_score is not None:
            hits = [h for h in hits if h[1] >= min_score]
        return sorted(hits, key=lambda h: -h[1])[:k]

    def close(self) -> None:  # noqa: B027 (most stores hold nothing to release)
        """Release the client (a local Qdrant folder is locked while a client holds it)."""

    # -- incremental ingestion

    def sync(
        self,
        ids: Sequence[str],
        keys: Sequence[str],
        metadata: Sequence[Mapping[str, Any]],
        embed: Embed,
    ) -> tuple[int, int]:
        """Make the collection hold exactly these chunks, embedding only new texts.

        Args:
            ids: chunk ids (unique).
            keys: each chunk's embedding key (embedder name and text hashed).
            metadata: each chunk's metadata.
            embed: ``embed(positions)`` -> vectors of the chunks at those positions.

        Returns:
            ``(embedded, reused)``: chunks embedded now, and chunks whose vector was already
            in the store.
        """
        import numpy as np

        sigs = [signature(k, m) for k, m in zip(keys, metadata, strict=True)]
        with self._guard("list the stored chunks"):
            stored = self._entries()
        wanted = dict(zip(ids, sigs, strict=True))
        stale = [i for i, (_, sig) in stored.items() if wanted.get(i) != sig]
        todo = [p for p, i in enumerate(ids) if i not in stored or stored[i][1] != sigs[p]]
        # A chunk whose text is stored under any id (its document moved or its metadata
        # changed) keeps its vector: read it back instead of embedding it again.
        by_key = {key: i for i, (key, _) in stored.items() if key}
        from_store = [p for p in todo if keys[p] in by_key]
        fresh = [p for p in todo if keys[p] not in by_key]
        vectors = np.zeros((len(todo), self.dim), np.float32)
        slot = {p: n for n, p in enumerate(todo)}
        if from_store:
            with self._guard("read stored vectors"):
                got = self._vectors([by_key[keys[p]] for p in from_store])
            for p, vec in zip(from_store, got, strict=True):
                vectors[slot[p]] = vec
        if fresh:
            new = self._check_vectors(embed(fresh), len(fresh))
            for p, vec in zip(fresh, new, strict=True):
                vectors[slot[p]] = vec
        if stale:
            with self._guard("delete stale chunks"):
                self._delete(stale)
        if todo:
            rows = [
                {**clean_metadata(metadata[p]), _ID: ids[p], _KEY: keys[p], _SIG: sigs[p]}
                for p in todo
            ]
            with self._guard("write chunks"):
                self._write([ids[p] for p in todo], vectors, rows)
        return len(fresh), len(ids) - len(fresh)

    # -- helpers

    def _check_vectors(self, vectors: Any, n: int) -> NDArray[np.float32]:
        arr = l2_normalise(vectors)
        if arr.shape[0] != n:
            raise ConfigError(f"got {n} ids for {arr.shape[0]} vectors")
        if arr.shape[1] != self.dim:
            raise self._dimension_error(self.dim, embedder=int(arr.shape[1]))
        return arr

    def _dimension_error(self, stored: int, embedder: int | None = None) -> VectorStoreError:
        theirs = self.dim if embedder is None else embedder
        return VectorStoreError(
            f"{self.kind} collection {self.collection!r} at {self.where} holds "
            f"{stored}-dimensional vectors, the embedder gives {theirs}: use another "
            "collection (or drop this one) when changing the embedder"
        )

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except MlevalError:
            raise
        except Exception as exc:
            raise VectorStoreError(
                f"{self.kind} store at {self.where} (collection {self.collection!r}): cannot "
                f"{action}: {type(exc).__name__}: {exc}"
            ) from exc

    @abc.abstractmethod
    def _count(self) -> int:
        """Each store answers it with its own client."""

    @abc.abstractmethod
    def _entries(self) -> dict[str, tuple[str, str]]:
        """Each store answers it with its own client."""

    @abc.abstractmethod
    def _vectors(self, ids: Sequence[str]) -> NDArray[np.float32]:
        """Each store answers it with its own client."""

    @abc.abstractmethod
    def _delete(self, ids: Sequence[str]) -> None:
        """Each store answers it with its own client."""

    @abc.abstractmethod
    def _write(
        self, ids: list[str], vectors: NDArray[np.float32], rows: list[dict[str, Any]]
    ) -> None:
        """Each store answers it with its own client."""

    @abc.abstractmethod
    def _query(
        self,
        query: NDArray[np.float32],
        k: int,
        conditions: list[tuple[str, Any]],
        min_score: float | None,
    ) -> list[Hit]:
        """Each store answers it with its own client."""


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


# --------------------------------------------------------------------------- Chroma


class ChromaStore(VectorStore):
    """A Chroma collection: a server (``url``, ``chroma run``) or a local folder (``path``).

    Args:
        collection: the collection's name (3 to 512 characters of ``[a-zA-Z0-9._-]``).
        dim: the embedding dimension.
        url: ``http://HOST:PORT`` of a Chroma server.
        path: a folder for Chroma's persistent local client.
    """

    kind = "chroma"

    def __init__(
        self,
        collection: str,
        dim: int,
        *,
        url: str | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if (url is None) == (path is None):
            raise ConfigError("a chroma store needs exactly one of url or path")
        super().__init__(collection, dim, url or str(path))
        # Chroma reads this at import and in its Settings; both say no telemetry.
        os.environ["ANONYMIZED_TELEMETRY"] = "False"
        try:
            import chromadb
            from chromadb.config import Settings
        except ImportError as exc:
            raise MissingDependencyError("chromadb", "chroma", "the chroma vector store") from exc
        settings = Settings(anonymized_telemetry=False)
        # Typed as Any: the client's own annotations are narrower than the values it accepts.
        self._client: Any
        self._col: Any
        with self._guard("connect"):
            if url is not None:
                from urllib.parse import urlsplit

                parts = urlsplit(url if "://" in url else f"http://{url}")
                if not parts.hostname:
                    raise ConfigError(f"chroma url {url!r} has no host")
                self._client = chromadb.HttpClient(
                    host=parts.hostname,
                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https",
                    settings=settings,
                )
            else:
                self._client = chromadb.PersistentClient(path=str(path), settings=settings)
            self._col = self._client.get_or_create_collection(
                collection,
                metadata={"hnsw:space": "cosine", "mleval_dim": dim},
                embedding_function=None,
            )
            self._batch = int(self._client.get_max_batch_size())
            stored = (self._col.metadata or {}).get("mleval_dim")
            if stored is None:
                peek = self._col.get(limit=1, include=["embeddings"])
                embeddings = peek.get("embeddings")
                stored = len(embeddings[0]) if embeddings is not None and len(embeddings) else dim
        if int(stored) != dim:
            raise self._dimension_error(int(stored))

    def _count(self) -> int:
        return int(self._col.count())

    def _entries(self) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        offset = 0
        while True:
            got = self._col.get(include=["metadatas"], limit=self._batch, offset=offset)
            for item, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                meta = meta or {}
                out[str(item)] = (str(meta.get(_KEY, "")), str(meta.get(_SIG, "")))
            if len(got["ids"]) < self._batch:
                return out
            offset += self._batch

    def _vectors(self, ids: Sequence[str]) -> NDArray[np.float32]:
        import numpy as np

        got = self._col.get(ids=list(ids), include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        return np.asarray([by_id[i] for i in ids], dtype=np.float32)

    def _delete(self, ids: Sequence[str]) -> None:
        for part in _batches(len(ids), self._batch):
            self._col.delete(ids=list(ids[part]))

    def _write(
        self, ids: list[str], vectors: NDArray[np.float32], rows: list[dict[str, Any]]
    ) -> None:
        for part in _batches(len(ids), self._batch):
            self._col.upsert(ids=ids[part], embeddings=vectors[part], metadatas=rows[part])

    def _query(
        self,
        query: NDArray[np.float32],
        k: int,
        conditions: list[tuple[str, Any]],
        min_score: float | None,
    ) -> list[Hit]:
        count = self._count()
        if not count:
            return []
        clauses = [
            {key: {"$in": value} if isinstance(value, list) else {"$eq": value}}
            for key, value in conditions
        ]
        where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        got = self._col.query(
            query_embeddings=[query], n_results=min(k, count), where=where, include=["distances"]
        )
        return [
            (str(i), 1.0 - float(d))
            for i, d in zip(got["ids"][0], (got["distances"] or [[]])[0], strict=True)
        ]


# --------------------------------------------------------------------------- LanceDB


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class LanceDBStore(VectorStore):
    """A LanceDB table, embedded, in a folder (``path``); search is exact (no ANN index).

    Metadata keys become columns ``meta_KEY`` (typed from the first rows written; a new key
    later adds a text column).

    Args:
        collection: the table's name.
        dim: the embedding dimension.
        path: the database folder (or a LanceDB URI).
    """

    kind = "lancedb"

    def __init__(self, collection: str, dim: int, *, path: str | os.PathLike[str]) -> None:
        super().__init__(collection, dim, str(path))
        try:
            import lancedb
        except ImportError as exc:
            raise MissingDependencyError("lancedb", "lancedb", "the lancedb vector store") from exc
        with self._guard("connect"):
            self._db = lancedb.connect(str(path))
            try:
                self._table: Any = self._db.open_table(collection)
            except (ValueError, FileNotFoundError):
                self._table = None
        if self._table is not None:
            field = self._table.schema.field("vector")
            stored = int(field.type.list_size)
            if stored != dim:
                raise self._dimension_error(stored)

    @staticmethod
    def _column(key: str) -> str:
        return key if key in _PRIVATE else f"meta_{key}"

    def _count(self) -> int:
        return 0 if self._table is None else int(self._table.count_rows())

    def _select(self, columns: list[str], where: str | None = None) -> Any:
        query = self._table.search().select(columns)
        if where is not None:
            query = query.where(where)
        return query.limit(max(self._count(), 1)).to_arrow()

    def _entries(self) -> dict[str, tuple[str, str]]:
        if self._table is None or not self._count():
            return {}
        table = self._select([_ID, _KEY, _SIG]).to_pydict()
        return {
            str(i): (str(k or ""), str(s or ""))
            for i, k, s in zip(table[_ID], table[_KEY], table[_SIG], strict=True)
        }

    def _in(self, ids: Sequence[str]) -> str:
        return f"{_ID} IN ({', '.join(_sql_literal(i) for i in ids)})"

    def _vectors(self, ids: Sequence[str]) -> NDArray[np.float32]:
        import numpy as np

        table = self._select([_ID, "vector"], self._in(ids)).to_pydict()
        by_id = dict(zip(table[_ID], table["vector"], strict=True))
        return np.asarray([by_id[i] for i in ids], dtype=np.float32)

    def _delete(self, ids: Sequence[str]) -> None:
        if self._table is not None:
            for part in _batches(len(ids), 1000):
                self._table.delete(self._in(ids[part]))

    def _write(
        self, ids: list[str], vectors: NDArray[np.float32], rows: list[dict[str, Any]]
    ) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]

        if self._table is not None:
            self._delete(ids)
        records = [
            {self._column(k): v for k, v in row.items()} | {"vector": vec}
            for row, vec in zip(rows, vectors.tolist(), strict=True)
        ]
        vector_type = pa.list_(pa.float32(), self.dim)
        if self._table is None:
            names = list(dict.fromkeys(k for r in records for k in r if k != "vector"))
            sample = pa.Table.from_pylist([{k: r.get(k) for k in names} for r in records])
            schema = pa.schema(
                [pa.field("vector", vector_type)]
                + [
                    pa.field(n, pa.string() if sample.schema.field(n).type == pa.null() else t)
                    for n, t in zip(names, sample.schema.types, strict=True)
                ]
            )
            data = pa.Table.from_pylist(records, schema=schema)
            self._table = self._db.create_table(self.collection, data=data)
            return
        schema = self._table.schema
        extra = [k for r in records for k in r if k not in schema.names]
        if extra:
            self._table.add_columns({name: "CAST(NULL AS string)" for name in dict.fromkeys(extra)})
            schema = self._table.schema
        self._table.add(pa.Table.from_pylist(records, schema=schema))

    def _query(
        self,
        query: NDArray[np.float32],
        k: int,
        conditions: list[tuple[str, Any]],
        min_score: float | None,
    ) -> list[Hit]:
        if self._table is None or not self._count():
            return []
        names = set(self._table.schema.names)
        clauses = []
        for key, value in conditions:
            column = self._column(key)
            if column not in names:
                return []  # no item has the key: none matches, as with the built-in index
            if isinstance(value, list):
                if not value:
                    return []
                clauses.append(f"`{column}` IN ({', '.join(_sql_literal(v) for v in value)})")
            else:
                clauses.append(f"`{column}` = {_sql_literal(value)}")
        search = (
            self._table.search(query.tolist()).metric("cosine").select([_ID, "_distance"]).limit(k)
        )
        if clauses:
            search = search.where(" AND ".join(clauses), prefilter=True)
        rows = search.to_list()
        return [(str(r[_ID]), 1.0 - float(r["_distance"])) for r in rows]


# --------------------------------------------------------------------------- Qdrant


def _point_id(item: str) -> str:
    # Qdrant ids are integers or UUIDs: a stable UUID of the chunk id, the id in the payload.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pytest-mleval:{item}"))


class QdrantStore(VectorStore):
    """A Qdrant collection: a server (``url``), a local folder (``path``) or in memory.

    Args:
        collection: the collection's name.
        dim: the embedding dimension.
        url: ``http://HOST:6333`` of a Qdrant server (an API key from ``QDRANT_API_KEY``).
        path: a folder for qdrant-client's local mode (neither: in memory).
    """

    kind = "qdrant"

    def __init__(
        self,
        collection: str,
        dim: int,
        *,
        url: str | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if url is not None and path is not None:
            raise ConfigError("a qdrant store takes url or path, not both")
        super().__init__(collection, dim, url or (str(path) if path is not None else ":memory:"))
        try:
            from qdrant_client import QdrantClient, models
        except ImportError as exc:
            raise MissingDependencyError(
                "qdrant-client", "qdrant", "the qdrant vector store"
            ) from exc
        self._models = models
        with self._guard("connect"):
            if url is not None:
                # No version check: it is a network call at construction, before any error
                # handling of ours, and only warns.
                self._client = QdrantClient(
                    url=url,
                    api_key=os.environ.get("QDRANT_API_KEY"),
                    timeout=10,
                    check_compatibility=False,
                )
            elif path is not None:
                self._client = QdrantClient(path=str(path))
            else:
                self._client = QdrantClient(location=":memory:")
            if self._client.collection_exists(collection):
                params = self._client.get_collection(collection).config.params.vectors
                stored = int(params.size)  # type: ignore[union-attr]
            else:
                self._client.create_collection(
                    collection,
                    vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
                )
                stored = dim
        if stored != dim:
            raise self._dimension_error(stored)

    def close(self) -> None:
        """Close the client (releases the local folder's lock)."""
        with self._guard("close"):
            self._client.close()

    def _count(self) -> int:
        return int(self._client.count(self.collection, exact=True).count)

    def _entries(self) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        offset = None
        while True:
            points, offset = self._client.scroll(
                self.collection,
                limit=1000,
                offset=offset,
                with_payload=list(_PRIVATE),
                with_vectors=False,
            )
            for point in points:
                payload = point.payload or {}
                out[str(payload.get(_ID))] = (
                    str(payload.get(_KEY, "")),
                    str(payload.get(_SIG, "")),
                )
            if offset is None:
                return out

    def _vectors(self, ids: Sequence[str]) -> NDArray[np.float32]:
        import numpy as np

        points = self._client.retrieve(
            self.collection, ids=[_point_id(i) for i in ids], with_payload=[_ID], with_vectors=True
        )
        by_id = {str((p.payload or {})[_ID]): p.vector for p in points}
        return np.asarray([by_id[i] for i in ids], dtype=np.float32)

    def _delete(self, ids: Sequence[str]) -> None:
        models = self._models
        for part in _batches(len(ids), 1000):
            selector = models.PointIdsList(points=[_point_id(i) for i in ids[part]])
            self._client.delete(self.collection, points_selector=selector)

    def _write(
        self, ids: list[str], vectors: NDArray[np.float32], rows: list[dict[str, Any]]
    ) -> None:
        models = self._models
        for part in _batches(len(ids), 1000):
            points = [
                models.PointStruct(id=_point_id(i), vector=vec, payload=row)
                for i, vec, row in zip(ids[part], vectors[part].tolist(), rows[part], strict=True)
            ]
            self._client.upsert(self.collection, points=points)

    def _condition(self, key: str, value: Any) -> Any:
        models = self._models
        values = value if isinstance(value, list) else [value]
        exact = [v for v in values if isinstance(v, str | int) and not isinstance(v, bool)]
        others = [v for v in values if v not in exact]
        # MatchValue/MatchAny take strings and integers; a float or a bool is matched by
        # its own condition (a closed range for a float).
        options: list[Any] = []
        if exact:
            options.append(models.FieldCondition(key=key, match=models.MatchAny(any=exact)))
        for v in others:
            if isinstance(v, bool):
                options.append(models.FieldCondition(key=key, match=models.MatchValue(value=v)))
            else:
                options.append(models.FieldCondition(key=key, range=models.Range(gte=v, lte=v)))
        if len(options) == 1:
            return options[0]
        return models.Filter(should=options)

    def _query(
        self,
        query: NDArray[np.float32],
        k: int,
        conditions: list[tuple[str, Any]],
        min_score: float | None,
    ) -> list[Hit]:
        models = self._models
        if any(isinstance(v, list) and not v for _, v in conditions):
            return []
        flt = (
            models.Filter(must=[self._condition(key, value) for key, value in conditions])
            if conditions
            else None
        )
        got = self._client.query_points(
            self.collection,
            query=query.tolist(),
            limit=k,
            query_filter=flt,
            score_threshold=min_score,
            with_payload=[_ID],
        )
        return [(str((p.payload or {})[_ID]), float(p.score)) for p in got.points]


def open_store(config: StoreConfig, dim: int) -> VectorStore:
    """The store a ``retriever.store`` config names, opened for ``dim``-dimensional vectors.

    Raises:
        VectorStoreError: the store cannot be reached, or its collection has another dimension.
        MissingDependencyError: the store's client is not installed (the message names the extra).
    """
    path = Path(config.path) if config.path is not None else None
    if config.kind == "chroma":
        return ChromaStore(config.collection, dim, url=config.url, path=path)
    if config.kind == "lancedb":
        target = config.url or path
        if target is None:
            raise ConfigError("a lancedb store needs a path")
        return LanceDBStore(config.collection, dim, path=target)
    return QdrantStore(config.collection, dim, url=config.url, path=path)
