"""External vector stores against the built-in HNSW index: ingest, query throughput, recall@10.

Vectors: ``--n`` (default 100,000) unit vectors of 384 dimensions, shaped like sentence
embeddings as in bench_hnsw.py (1,000 Gaussian clusters in a 48-dimensional latent space,
mapped into 384 dimensions, plus noise, then L2-normalised): uniform random directions have
no meaningful neighbours, so recall on them says nothing. ``--queries`` fresh points of the
same clusters are asked one at a time (how a RAG pipeline asks), top 10.

Every index is filled through the package's own classes (``HNSWIndex.add``,
``ChromaStore.add`` ...), so the figures include our conversion and batching. The truth is
``ExactIndex`` (numpy brute force) on the same vectors; recall@10 is the share of the exact
top 10 found. Stores: Chroma's persistent local client (in-process, HNSW, its defaults:
M 16, ef_construction 100, ef_search 100), LanceDB embedded (no ANN index built: exact flat
search, as the pipeline uses it), Qdrant's local mode in memory (qdrant-client's pure-Python
brute force, meant for tests; a Qdrant server was not available here). Ratios are to HNSW.

    .venv/bin/python bench/bench_stores.py [--n 100000] [--queries 200] [--only chroma,lancedb]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pytest_mleval.retrieval.dense import ExactIndex, HNSWIndex
from pytest_mleval.retrieval.stores import ChromaStore, LanceDBStore, QdrantStore

LATENT = 48


def vectors(n: int, n_queries: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(1000, LATENT))
    mapping = rng.normal(size=(LATENT, dim)) / np.sqrt(LATENT)

    def draw(count: int) -> np.ndarray:
        latent = centres[rng.integers(0, 1000, count)] + 0.5 * rng.normal(size=(count, LATENT))
        out = latent @ mapping + 0.05 * rng.normal(size=(count, dim))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    return draw(n), draw(n_queries)


def run(
    name: str,
    build: Callable[[], Any],
    add: Callable[[Any], None],
    data: np.ndarray,
    queries: np.ndarray,
    truth: list[set[str]],
) -> dict[str, float]:
    index = build()
    t0 = time.perf_counter()
    add(index)
    ingest = time.perf_counter() - t0
    found = 0
    t0 = time.perf_counter()
    for q, want in zip(queries, truth, strict=True):
        found += len(want & {i for i, _ in index.search(q, 10)})
    query = time.perf_counter() - t0
    close = getattr(index, "close", None)
    if close is not None:
        close()
    row = {
        "ingest_s": ingest,
        "ingest_per_s": len(data) / ingest,
        "query_ms": query / len(queries) * 1000,
        "qps": len(queries) / query,
        "recall": found / (10 * len(queries)),
    }
    print(
        f"{name:<16} ingest {ingest:8.1f} s ({row['ingest_per_s']:9.0f} vec/s)  "
        f"query {row['query_ms']:8.2f} ms ({row['qps']:7.1f} q/s)  recall@10 {row['recall']:.3f}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--only", default="hnsw,chroma,lancedb,qdrant")
    args = parser.parse_args()
    only = set(args.only.split(","))
    data, queries = vectors(args.n, args.queries, args.dim)
    ids = [f"v{i}" for i in range(args.n)]
    print(f"{args.n:,} x {args.dim} vectors, {args.queries} queries, {os.cpu_count()} cores")

    exact = ExactIndex(args.dim)
    t0 = time.perf_counter()
    exact.add(ids, data)
    exact_ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    truth = [{i for i, _ in exact.search(q, 10)} for q in queries]
    exact_ms = (time.perf_counter() - t0) / args.queries * 1000
    print(f"{'exact (numpy)':<16} ingest {exact_ingest:8.1f} s  query {exact_ms:8.2f} ms")

    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "hnsw" in only:
            rows["hnsw"] = run(
                "hnsw (hnswlib)",
                lambda: HNSWIndex(args.dim, capacity=args.n),
                lambda ix: ix.add(ids, data, num_threads=-1),
                data,
                queries,
                truth,
            )
        if "chroma" in only:
            rows["chroma"] = run(
                "chroma (local)",
                lambda: ChromaStore("bench", args.dim, path=root / "chroma"),
                lambda ix: ix.add(ids, data),
                data,
                queries,
                truth,
            )
        if "lancedb" in only:
            rows["lancedb"] = run(
                "lancedb (flat)",
                lambda: LanceDBStore("bench", args.dim, path=root / "lance"),
                lambda ix: ix.add(ids, data),
                data,
                queries,
                truth,
            )
        if "qdrant" in only:
            rows["qdrant"] = run(
                "qdrant (local)",
                lambda: QdrantStore("bench", args.dim),
                lambda ix: ix.add(ids, data),
                data,
                queries,
                truth,
            )
    base = rows.get("hnsw")
    if base is not None:
        print("\nratios to hnsw (ingest time, query time; >1 = slower than hnsw):")
        for name, row in rows.items():
            print(
                f"{name:<10} ingest x{row['ingest_s'] / base['ingest_s']:7.1f}  "
                f"query x{row['query_ms'] / base['query_ms']:7.1f}  "
                f"recall {row['recall']:.3f} vs {base['recall']:.3f}"
            )


if __name__ == "__main__":
    main()
