"""Chunkers that keep exact offsets: ``chunk.text == source[chunk.start:chunk.end]`` always.

Sizes are in characters, or in tokens when a tokenizer is given. A tokenizer here is any
callable returning the ``(start, end)`` character spans of the tokens of a text:
:func:`word_spans` (whitespace words) or :func:`hf_token_spans` over a Hugging Face fast
tokenizer. Chunks never start or end on whitespace, and whitespace-only chunks are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .embedders import Embedder

__all__ = [
    "Chunk",
    "TokenSpans",
    "chunk_text",
    "fixed_size_chunks",
    "hf_token_spans",
    "markdown_chunks",
    "recursive_chunks",
    "semantic_chunks",
    "sentence_spans",
    "word_spans",
]

TokenSpans = Callable[[str], Sequence[tuple[int, int]]]

DEFAULT_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", "")


@dataclass(frozen=True)
class Chunk:
    """A slice of a source text: ``text == source[start:end]``."""

    text: str
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)


_NON_SPACE = re.compile(r"\S+")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Spans of whitespace-separated words: the simplest token counter."""
    return [m.span() for m in _NON_SPACE.finditer(text)]


def hf_token_spans(tokenizer: Any) -> TokenSpans:
    """A span function over a Hugging Face *fast* tokenizer (it reports character offsets).

    Args:
        tokenizer: e.g. ``AutoTokenizer.from_pretrained(path)`` with ``is_fast`` true.
    """

    def spans(text: str) -> list[tuple[int, int]]:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(int(s), int(e)) for s, e in encoded["offset_mapping"] if e > s]

    return spans


def _make_chunk(source: str, start: int, end: int, metadata: dict[str, Any]) -> Chunk | None:
    # Trim whitespace by moving offsets, so text and offsets stay in agreement.
    while start < end and source[start].isspace():
        start += 1
    while end > start and source[end - 1].isspace():
        end -= 1
    if start >= end:
        return None
    return Chunk(source[start:end], start, end, dict(metadata))


def _check_sizes(size: int, overlap: int) -> None:
    if size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {size}")
    if overlap < 0 or overlap >= size:
        raise ConfigError(f"chunk overlap must be in [0, size), got {overlap} for size {size}")


def fixed_size_chunks(
    text: str,
    size: int = 1000,
    overlap: int = 200,
    *,
    tokenizer: TokenSpans | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Chunk]:
    """Windows of ``size`` characters (or tokens), each starting ``size - overlap`` after the last.

    Args:
        text: the source text.
        size: window length.
        overlap: how much consecutive windows share.
        tokenizer: count tokens instead of characters.
        metadata: copied into every chunk.

    Raises:
        ConfigError: ``size < 1`` or ``overlap`` not in ``[0, size)``.
    """
    _check_sizes(size, overlap)
    meta = metadata or {}
    step = size - overlap
    bounds: list[tuple[int, int]] = []
    if tokenizer is None:
        for start in range(0, len(text), step):
            bounds.append((start, min(start + size, len(text))))
            if start + size >= len(text):
                break
    else:
        spans = list(tokenizer(text))
        for first in range(0, len(spans), step):
            last = min(first + size, len(spans)) - 1
            bounds.append((spans[first][0], spans[last][1]))
            if first + size >= len(spans):
                break
    chunks = [_make_chunk(text, s, e, meta) for s, e in bounds]
    return [c for c in chunks if c is not None]


def _measure(tokenizer: TokenSpans | None) -> Callable[[str], int]:
    if tokenizer is None:
        return len
    return lambda piece: len(tokenizer(piece))


def _split_spans(
    text: str,
    start: int,
    end: int,
    separators: Sequence[str],
    size: int,
    measure: Callable[[str], int],
) -> list[tuple[int, int]]:
    """Contiguous pieces of ``text[start:end]``, each measuring at most ``size``."""
    if measure(text[start:end]) <= size:
        return [(start, end)]
    for index, sep in enumerate(separators):
        if sep == "":
            # Last resort: a hard cut; tokens never span less than a character, so
            # ``size`` characters never hold more than ``size`` tokens.
            return [(s, min(s + size, end)) for s in range(start, end, size)]
        cuts: list[int] = []
        position = text.find(sep, start, end)
        while position != -1:
            cut = position + len(sep)  # the separator stays with the piece before it
            if start < cut < end:
                cuts.append(cut)
            position = text.find(sep, cut, end)
        if not cuts:
            continue
        pieces: list[tuple[int, int]] = []
        for s, e in zip([start, *cuts], [*cuts, end], strict=True):
            pieces.extend(_split_spans(text, s, e, separators[index + 1 :], size, measure))
        return pieces
    return [(start, end)]


def recursive_chunks(
    text: str,
    size: int = 1000,
    overlap: int = 200,
    *,
    separators: Sequence[str] = DEFAULT_SEPARATORS,
    tokenizer: TokenSpans | None = None,
    metadata: dict[str, Any] | None = None,
    offset: int = 0,
) -> list[Chunk]:
    """Split at the coarsest separator that works (paragraphs, lines, sentences, words), then
    merge neighbouring pieces up to ``size``; the next chunk repeats up to ``overlap`` of the
    previous one's trailing pieces.

    Args:
        text: the source text.
        size: the most characters (or tokens) per chunk.
        overlap: the most characters (or tokens) repeated from the previous chunk.
        separators: tried in order; ``""`` (a hard cut) should come last.
        tokenizer: count tokens instead of characters.
        metadata: copied into every chunk.
        offset: added to every start/end (chunking a slice of a larger source).

    Raises:
        ConfigError: ``size < 1`` or ``overlap`` not in ``[0, size)``.
    """
    _check_sizes(size, overlap)
    measure = _measure(tokenizer)
    pieces = _split_spans(text, 0, len(text), separators, size, measure)
    lengths = [measure(text[s:e]) for s, e in pieces]
    groups: list[tuple[int, int]] = []  # (first piece, last piece + 1)
    first = 0
    while first < len(pieces):
        last, total = first, 0
        while last < len(pieces) and (total + lengths[last] <= size or last == first):
            total += lengths[last]
            last += 1
        groups.append((first, last))
        if last >= len(pieces):
            break
        # Walk back from the end while the repeated tail stays within the overlap.
        nxt, tail = last, 0
        # The tail must also leave room for the next new piece, or the chunk repeats itself.
        while (
            nxt - 1 > first
            and tail + lengths[nxt - 1] <= overlap
            and tail + lengths[nxt - 1] + lengths[last] <= size
        ):
            nxt -= 1
            tail += lengths[nxt]
        first = nxt
    meta = metadata or {}
    out: list[Chunk] = []
    for a, b in groups:
        chunk = _make_chunk(text, pieces[a][0], pieces[b - 1][1], meta)
        if chunk is not None:
            out.append(Chunk(chunk.text, chunk.start + offset, chunk.end + offset, chunk.metadata))
    return out


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _markdown_sections(text: str) -> list[tuple[int, int, list[str]]]:
    """``(start, end, heading path)`` of each section; headings inside code fences ignored."""
    sections: list[tuple[int, int, list[str]]] = []
    path: list[tuple[int, str]] = []
    start = 0
    current: list[str] = []
    in_fence = False
    position = 0
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line.rstrip("\r\n"))
        if match:
            if position > start:
                sections.append((start, position, current))
            level = len(match.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level]
            path.append((level, match.group(2).strip()))
            start, current = position, [title for _, title in path]
        position += len(line)
    if len(text) > start:
        sections.append((start, len(text), current))
    return sections


def markdown_chunks(
    text: str,
    size: int = 1000,
    overlap: int = 0,
    *,
    tokenizer: TokenSpans | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Chunk]:
    """One chunk per Markdown section (split further when longer than ``size``).

    Every chunk's metadata carries ``heading_path`` (the list of enclosing headings, outermost
    first) and ``heading`` (them joined by `` > ``). Headings in fenced code are ignored.

    Args:
        text: Markdown source.
        size: the most characters (or tokens) per chunk.
        overlap: overlap between the pieces of one long section.
        tokenizer: count tokens instead of characters.
        metadata: copied into every chunk.
    """
    _check_sizes(size, overlap)
    out: list[Chunk] = []
    for start, end, path in _markdown_sections(text):
        meta = {**(metadata or {}), "heading_path": list(path), "heading": " > ".join(path)}
        out.extend(
            recursive_chunks(
                text[start:end], size, overlap, tokenizer=tokenizer, metadata=meta, offset=start
            )
        )
    return out


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+|\n\s*\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence (ends at . ! ? before whitespace, or a blank line)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        piece = text[s:e]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            out.append((s + lead, s + lead + len(stripped)))
    return out


def semantic_chunks(
    text: str,
    embedder: Embedder,
    *,
    percentile: float = 10.0,
    max_size: int | None = None,
    tokenizer: TokenSpans | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Chunk]:
    """Break between sentences where their embedding similarity drops below a percentile.

    Adjacent sentences are embedded; the cosine similarity of each neighbouring pair is
    computed, and a chunk ends wherever it is below the ``percentile``-th percentile of all
    those similarities (the biggest topic shifts). Chunks longer than ``max_size`` are then
    split recursively.

    Args:
        text: the source text.
        embedder: gives the sentence vectors (unit length).
        percentile: in [0, 100]; higher breaks more often.
        max_size: optional cap on chunk size (characters, or tokens with ``tokenizer``).
        tokenizer: count tokens instead of characters for ``max_size``.
        metadata: copied into every chunk.
    """
    import numpy as np

    if not 0.0 <= percentile <= 100.0:
        raise ConfigError(f"percentile must be in [0, 100], got {percentile}")
    spans = sentence_spans(text)
    meta = metadata or {}
    if not spans:
        return []
    groups: list[tuple[int, int]] = []
    if len(spans) == 1:
        groups = [spans[0]]
    else:
        vectors = embedder.embed([text[s:e] for s, e in spans])
        sims = np.sum(vectors[:-1] * vectors[1:], axis=1)
        threshold = float(np.percentile(sims, percentile))
        first = spans[0][0]
        for i, sim in enumerate(sims):
            if sim < threshold:
                groups.append((first, spans[i][1]))
                first = spans[i + 1][0]
        groups.append((first, spans[-1][1]))
    out: list[Chunk] = []
    for s, e in groups:
        if max_size is not None:
            out.extend(
                recursive_chunks(
                    text[s:e], max_size, 0, tokenizer=tokenizer, metadata=meta, offset=s
                )
            )
        else:
            chunk = _make_chunk(text, s, e, meta)
            if chunk is not None:
                out.append(chunk)
    return out


def chunk_text(
    text: str,
    kind: str = "recursive",
    size: int = 1000,
    overlap: int = 200,
    *,
    tokenizer: TokenSpans | None = None,
    embedder: Embedder | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Chunk]:
    """Dispatch to a chunker by name: ``fixed``, ``recursive``, ``markdown`` or ``semantic``.

    Raises:
        ConfigError: an unknown kind, or ``semantic`` without an embedder.
    """
    if kind == "fixed":
        return fixed_size_chunks(text, size, overlap, tokenizer=tokenizer, metadata=metadata)
    if kind == "recursive":
        return recursive_chunks(text, size, overlap, tokenizer=tokenizer, metadata=metadata)
    if kind == "markdown":
        return markdown_chunks(text, size, overlap, tokenizer=tokenizer, metadata=metadata)
    if kind == "semantic":
        if embedder is None:
            raise ConfigError("the semantic chunker needs an embedder")
        return semantic_chunks(
            text, embedder, max_size=size, tokenizer=tokenizer, metadata=metadata
        )
    raise ConfigError(
        f"unknown chunker {kind!r}: use 'fixed', 'recursive', 'markdown' or 'semantic'"
    )
