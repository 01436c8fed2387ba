"""Shared by every index: the hit shape, metadata filters, and the retrieval warnings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Hit", "IngestWarning", "MetadataFilter", "RetrievalWarning", "matches"]

MetadataFilter = Mapping[str, Any] | Callable[[Mapping[str, Any]], bool]

Hit = tuple[str, float]
"""An index's answer: ``(id, score)``, best first."""


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
