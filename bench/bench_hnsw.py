"""Dense search: HNSWIndex (hnswlib) against exact numpy search, and MiniLM embedding speed.

Vectors: ``--n`` (default 100,000) x 384 float32 shaped like sentence embeddings: points of
1,000 Gaussian clusters in a 48-dimensional latent space, mapped into 384 dimensions by a fixed
random linear map, plus small isotropic noise (text embeddings have a low intrinsic dimension;
uniform random vectors have no meaningful neighbours, so recall on them says nothing). Queries
are fresh points from the same clusters. The HNSW index grows incrementally through
1k, 5k, 20k and ``--n`` vectors; at each size it is timed against ``ExactIndex`` (numpy
brute force) on the same queries, one query at a time (how a RAG pipeline asks), and
recall@10 at ef = 50 and 100 is measured against the exact top 10.

Embedding throughput: ``SentenceTransformerEmbedder`` (all-MiniLM-L6-v2, CPU) on ``--texts``
short sentences, batch 64, against ``SentenceTransformer.encode`` called directly.

    .venv/bin/python bench/bench_hnsw.py [--n 100000] [--queries 200] [--texts 2000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from pytest_mleval.retrieval.dense import ExactIndex, HNSWIndex

LATENT = 48


def clustered(
    n: int, centres: np.ndarray, mapping: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    picks = rng.integers(0, len(centres), n)
    latent = centres[picks] + 0.5 * rng.normal(size=(n, LATENT))
    dim = mapping.shape[1]
    return (latent @ mapping + 0.05 * rng.normal(size=(n, dim))).astype(np.float32)


def recall(index: HNSWIndex, exact: ExactIndex, queries: np.ndarray, k: int = 10) -> float:
    found = 0
    for q in queries:
        truth = {i for i, _ in exact.search(q, k)}
        found += len(truth & {i for i, _ in index.search(q, k)})
    return found / (k * len(queries))


def per_query_ms(search, queries: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for q in queries:
        search(q, 10)
    return (time.perf_counter() - t0) / len(queries) * 1000


def bench_search(n: int, n_queries: int, dim: int = 384) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(1000, LATENT))
    mapping = rng.normal(size=(LATENT, dim)) / np.sqrt(LATENT)
    data = clustered(n, centres, mapping, rng)
    queries = clustered(n_queries, centres, mapping, rng)
    ids = [str(i) for i in range(n)]
    hnsw = HNSWIndex(dim, M=16, ef_construction=100, ef=50, capacity=n)
    exact = ExactIndex(dim)
    built, build_time = 0, 0.0
    print(
        "| vectors | HNSW build (cumulative) | recall@10 ef=50 | recall@10 ef=100 | exact ms/query | HNSW ms/query ef=50 | ef=100 | speed-up (ef=100) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in sorted({s for s in (1000, 5000, 20000, n) if s <= n}):
        t0 = time.perf_counter()
        hnsw.add(ids[built:size], data[built:size])
        build_time += time.perf_counter() - t0
        exact.add(ids[built:size], data[built:size])
        built = size
        hnsw.set_ef(50)
        r50 = recall(hnsw, exact, queries)
        q50 = per_query_ms(hnsw.search, queries)
        hnsw.set_ef(100)
        r100 = recall(hnsw, exact, queries)
        q100 = per_query_ms(hnsw.search, queries)
        qex = per_query_ms(exact.search, queries)
        print(
            f"| {size:,} | {build_time:.1f} s | {r50:.3f} | {r100:.3f} | {qex:.3f} | {q50:.3f} | {q100:.3f} | {qex / q100:.1f}x |",
            flush=True,
        )


def bench_embed(n_texts: int) -> None:
    from pytest_mleval.retrieval.embedders import SentenceTransformerEmbedder

    rng = np.random.default_rng(2)
    subjects = ["The plugin", "A user", "The report", "Our cache", "The judge", "This model"]
    verbs = ["writes", "reads", "compares", "scores", "stores", "rejects"]
    objects = [
        "the results file",
        "a baseline run",
        "every eval case",
        "the HTML report",
        "two models",
        "a cached answer",
    ]
    texts = [
        f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} number {i}."
        for i in range(n_texts)
    ]
    embedder = SentenceTransformerEmbedder(batch_size=64)
    embedder.embed(texts[:64])  # load and warm up
    t0 = time.perf_counter()
    embedder.embed(texts)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    embedder.model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    direct = time.perf_counter() - t0
    print(
        f"embedding {n_texts} short sentences (~9 words), torch threads {__import__('torch').get_num_threads()}: "
        f"ours {n_texts / ours:.0f} texts/s, SentenceTransformer.encode {n_texts / direct:.0f} texts/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--skip-embed", action="store_true")
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}")
    bench_search(args.n, args.queries)
    if not args.skip_embed:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        bench_embed(args.texts)


if __name__ == "__main__":
    main()
