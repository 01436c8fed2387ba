"""A small tool-using assistant over pytest-mleval's own documentation: its one tool.

The eval file (``agent.eval.yaml``) names ``search_docs`` under ``tools:``; the tool loop sends
its JSON schema (built from this signature and docstring) to the model, runs it for each call
the model makes and sends the passages back. The retriever is the project's RAG pipeline (BM25
over ``fixtures/docs_corpus``), built once per process.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from pytest_mleval.retrieval import RagPipeline

HERE = Path(__file__).resolve().parent
_BUILD = threading.Lock()


@lru_cache(maxsize=1)
def _built() -> RagPipeline:
    pipeline = RagPipeline.from_yaml(HERE / "rag.yaml")
    pipeline.ingest()
    return pipeline


def _pipeline() -> RagPipeline:
    # Tool calls of several cases run at once, in threads: the index is built by one of them.
    with _BUILD:
        return _built()


def search_docs(query: str, k: int = 3) -> list[dict[str, str]]:
    """Search the pytest-mleval documentation.

    Args:
        query: What to look for, in a few words.
        k: How many passages to return, 1 to 5.
    """
    hits = _pipeline().retrieve(query, k=min(max(k, 1), 5))
    return [{"doc": hit.id, "text": hit.text} for hit in hits]
