"""Reranking (a local cross-encoder, or an LLM) and query expansion (HyDE, multi-query).

The LLM parts take a ``complete(prompt) -> str`` callable, which the plugin builds over the
inference layer, so they use whatever model, cache and rate limits the run has.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from .base import Retrieved

__all__ = [
    "CrossEncoderReranker",
    "LLMReranker",
    "hyde_query",
    "multi_queries",
    "parse_ranking",
]

Complete = Callable[[str], str]

_CROSS_ENCODERS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _load_cross_encoder(model_path: str) -> Any:
    import os

    with _LOCK:
        if model_path in _CROSS_ENCODERS:
            return _CROSS_ENCODERS[model_path]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "rag", "reranking") from exc
        if not Path(model_path).is_dir():
            raise ConfigError(f"cross-encoder model directory not found: {model_path}")
        model = CrossEncoder(model_path, num_labels=1, device="cpu")
        _CROSS_ENCODERS[model_path] = model
        return model


class CrossEncoderReranker:
    """Rescore the top passages with a local cross-encoder (query and passage read together).

    Args:
        model_path: a sentence-transformers CrossEncoder directory (loaded offline, once).
        top_n: how many of the first results to rescore; the rest keep their order after them.
        batch_size: pairs per forward pass.
    """

    def __init__(self, model_path: str, *, top_n: int = 20, batch_size: int = 32) -> None:
        self.model_path = model_path
        self.top_n = top_n
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        """The loaded CrossEncoder."""
        return _load_cross_encoder(self.model_path)

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        """The cross-encoder's relevance score of each passage for ``query``."""
        if not passages:
            return []
        pairs = [(query, p) for p in passages]
        raw = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in raw]

    def rerank(self, query: str, items: Sequence[Retrieved]) -> list[Retrieved]:
        """``items`` with the first ``top_n`` reordered by (and scored with) the cross-encoder."""
        head, tail = list(items[: self.top_n]), list(items[self.top_n :])
        scores = self.scores(query, [item.text for item in head])
        order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
        return [replace(head[i], score=scores[i]) for i in order] + tail


_NUMBER = re.compile(r"\d+")


def parse_ranking(text: str, count: int) -> list[int]:
    """Passage numbers (1-based) in the order a model listed them; invalid and repeated ones
    dropped, unlisted ones appended in their original order. Returns 0-based positions."""
    seen: list[int] = []
    for token in _NUMBER.findall(text):
        number = int(token)
        if 1 <= number <= count and number - 1 not in seen:
            seen.append(number - 1)
    return seen + [i for i in range(count) if i not in seen]


class LLMReranker:
    """Ask a model to order the passages by relevance (listwise reranking).

    Args:
        complete: ``complete(prompt) -> str``.
        top_n: how many of the first results to show the model.
        max_chars: each passage is cut to this many characters in the prompt.
    """

    def __init__(self, complete: Complete, *, top_n: int = 10, max_chars: int = 600) -> None:
        self.complete = complete
        self.top_n = top_n
        self.max_chars = max_chars

    def prompt(self, query: str, passages: Sequence[str]) -> str:
        """The ranking prompt."""
        lines = [
            "Rank the passages by how well they answer the question. Reply with the passage "
            "numbers only, most relevant first, separated by commas.",
            "",
            f"Question: {query}",
            "",
        ]
        for number, text in enumerate(passages, start=1):
            lines.append(f"[{number}] {' '.join(text.split())[: self.max_chars]}")
        lines += ["", "Ranking:"]
        return "\n".join(lines)

    def rerank(self, query: str, items: Sequence[Retrieved]) -> list[Retrieved]:
        """``items`` with the first ``top_n`` in the model's order (scores ``1 / rank``)."""
        head, tail = list(items[: self.top_n]), list(items[self.top_n :])
        if len(head) < 2:
            return list(items)
        reply = self.complete(self.prompt(query, [item.text for item in head]))
        order = parse_ranking(reply, len(head))
        ranked = [replace(head[i], score=1.0 / rank) for rank, i in enumerate(order, start=1)]
        return ranked + tail


def hyde_query(query: str, complete: Complete) -> str:
    """HyDE (Gao et al. 2022): a hypothetical answer passage, searched instead of the question.

    Args:
        query: the question.
        complete: ``complete(prompt) -> str``.
    """
    prompt = (
        "Write a short passage (two or three sentences) that answers the question, as it "
        f"would appear in documentation.\n\nQuestion: {query}\n\nPassage:"
    )
    answer = complete(prompt).strip()
    return answer or query


def multi_queries(query: str, complete: Complete, n: int = 3) -> list[str]:
    """Alternative phrasings of ``query`` from a model (one per line), for multi-query search.

    Args:
        query: the question.
        complete: ``complete(prompt) -> str``.
        n: how many phrasings to ask for (at most that many are returned).
    """
    prompt = (
        f"Write {n} different phrasings of the search query below, one per line, without "
        f"numbering or commentary.\n\nQuery: {query}\n\nPhrasings:"
    )
    lines = [
        re.sub(r"^\s*(?:[-*]|\d+[.)])\s*", "", line).strip()
        for line in complete(prompt).splitlines()
    ]
    unique = [line for line in dict.fromkeys(lines) if line and line != query]
    return unique[:n]
