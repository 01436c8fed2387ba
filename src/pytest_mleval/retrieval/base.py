"""Shared by every index and stage: the hit shape, the retrieved chunk (the pipeline returns it,
rerankers reorder it), metadata filters, and the retrieval warnings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Hit",
    "IngestWarning",
    "MetadataFilter",
    "RetrievalWarning",
    "Retrieved",
    "VectorIndex",
    "matches",
]

MetadataFilter = Mapping[str, Any] | Callable[[Mapping[str, Any]], bool]

Hit = tuple[str, float]
"""An index's answer: ``(id, score)``, best first."""


@runtime_checkable
class VectorIndex(Protocol):
    """What a dense retriever searches: the built-in indexes and the external stores."""

    def __len__(self) -> int:
        """How many vectors the index holds."""
        ...

    def search(
        self,
        vector: Any,
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The ``k`` most cosine-similar items, best first."""
        ...


@dataclass(frozen=True)
class Retrieved:
    """One retrieved chunk: ``id`` is its document's id; offsets are in ``metadata``."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


class RetrievalWarning(UserWarning):
    """Retrieval went on with less than asked: an empty index, a rebuilt persisted index."""


class IngestWarning(RetrievalWarning):
    """A file was skipped while ingesting a folder (the message names the file and why)."""


def matches(metadata: Mapping[str, Any], where: MetadataFilter | None) -> bool:
    """Whether ``metadata`` passes the filter ``where``.

    A mapping filter requires every key: a scalar value must be equal, a list, tuple or set
    value means "any of these". A callable filter is called with the metadata.

    Args:
        metadata: an item's metadata.
        where: the filter; ``None`` passes everything.
    """
    if where is None:
        return True
    if callable(where):
        return bool(where(metadata))
    for key, wanted in where.items():
        if key not in metadata:
            return False
        value = metadata[key]
        if isinstance(wanted, list | tuple | set | frozenset):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True
