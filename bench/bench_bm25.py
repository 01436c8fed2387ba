"""BM25 at scale: our sparse BM25Index against rank-bm25 (the scoring reference) and bm25s.

Corpus: ``--docs`` synthetic documents (default 100,000) of 20-80 tokens drawn from a Zipfian
vocabulary of 50,000 words (s = 1), so the commonest words are in most documents (negative raw
idf, the epsilon floor applies). Queries: 4 Zipfian words each, the same for every engine.

Measured side by side in one process:
- index build: ``rank_bm25.BM25Okapi(corpus)``, ``BM25Index(corpus)``, ``bm25s.BM25().index``;
- queries: rank-bm25 ``get_scores`` + top-10 on ``--ref-queries`` queries (it is slow: ~0.16 s
  each), ours ``search(tokens, 10)`` one query at a time and bm25s ``retrieve`` on all
  ``--queries`` queries in one call (numpy backend; and its numba backend when numba is installed); per-query times are compared;
- parity: our full score vectors against rank-bm25's on every reference query (max abs diff,
  and whether they are bit-identical), and the top-10 scores.

bm25s scores with its own BM25 variant (Lucene idf by default), so only its speed is compared.

    .venv/bin/python bench/bench_bm25.py [--docs 100000] [--queries 1000] [--ref-queries 100]
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

from pytest_mleval.retrieval.bm25 import BM25Index


def make_corpus(
    n_docs: int, vocab: int, seed: int = 0
) -> tuple[list[list[str]], list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab)]
    weights = 1.0 / np.arange(1, vocab + 1)
    weights /= weights.sum()
    lengths = rng.integers(20, 81, n_docs)
    ids = rng.choice(vocab, size=int(lengths.sum()), p=weights)
    corpus: list[list[str]] = []
    start = 0
    for n in lengths:
        corpus.append([words[i] for i in ids[start : start + n]])
        start += n
    return corpus, words, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--ref-queries", type=int, default=100)
    args = parser.parse_args()

    import bm25s
    import rank_bm25

    t0 = time.perf_counter()
    corpus, words, weights = make_corpus(args.docs, args.vocab)
    print(
        f"corpus: {args.docs} docs, {sum(map(len, corpus))} tokens, generated in {time.perf_counter() - t0:.1f} s"
    )
    rng = np.random.default_rng(1)
    queries = [
        [words[i] for i in rng.choice(len(words), 4, p=weights)] for _ in range(args.queries)
    ]

    t0 = time.perf_counter()
    ours = BM25Index(corpus)
    build_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = rank_bm25.BM25Okapi(corpus)
    build_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = bm25s.BM25(k1=1.5, b=0.75)
    fast.index(corpus, show_progress=False)
    build_bm25s = time.perf_counter() - t0
    print(
        f"build: rank-bm25 {build_ref:.2f} s | ours {build_ours:.2f} s | bm25s {build_bm25s:.2f} s"
    )

    # Parity and the reference's query time, on the first ref-queries queries.
    ref_q = queries[: args.ref_queries]
    t0 = time.perf_counter()
    ref_scores = []
    for q in ref_q:
        scores = ref.get_scores(q)
        np.argsort(scores)[::-1][:10]
        ref_scores.append(scores)
    ref_time = time.perf_counter() - t0
    max_diff, identical, top_ok = 0.0, 0, 0
    for q, expected in zip(ref_q, ref_scores, strict=True):
        got = ours.get_scores(q)
        max_diff = max(max_diff, float(np.abs(got - expected).max()))
        identical += int(np.array_equal(got, expected))
        hits = ours.search(q, 10)
        top_ok += int(np.array_equal([s for _, s in hits], np.sort(expected)[::-1][: len(hits)]))

    t0 = time.perf_counter()
    for q in queries:
        ours.search(q, 10)
    ours_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast.retrieve(queries, k=10, show_progress=False, n_threads=0)
    bm25s_time = time.perf_counter() - t0
    numba_time = None
    if importlib.util.find_spec("numba") is not None:
        jit = bm25s.BM25(k1=1.5, b=0.75, backend="numba")
        jit.index(corpus, show_progress=False)
        jit.retrieve(queries[:5], k=10, show_progress=False, n_threads=1)  # compile first
        t0 = time.perf_counter()
        jit.retrieve(queries, k=10, show_progress=False, n_threads=1)
        numba_time = time.perf_counter() - t0

    ref_pq = ref_time / len(ref_q) * 1000
    ours_pq = ours_time / len(queries) * 1000
    fast_pq = bm25s_time / len(queries) * 1000
    print(
        f"parity on {len(ref_q)} queries: max |diff| {max_diff:.3g}, bit-identical {identical}/{len(ref_q)}, "
        f"top-10 scores equal {top_ok}/{len(ref_q)}"
    )
    print(f"query: rank-bm25 {ref_pq:.2f} ms/query ({len(ref_q)} queries, {ref_time:.1f} s)")
    print(f"query: ours      {ours_pq:.3f} ms/query ({len(queries)} queries, {ours_time:.2f} s)")
    print(
        f"query: bm25s     {fast_pq:.3f} ms/query ({len(queries)} queries in one call, {bm25s_time:.2f} s)"
    )
    if numba_time is not None:
        jit_pq = numba_time / len(queries) * 1000
        print(f"query: bm25s (numba backend, 1 thread) {jit_pq:.3f} ms/query ({numba_time:.2f} s)")
    print(
        f"ratio: {ref_pq / ours_pq:.0f}x faster than rank-bm25; {ours_pq / fast_pq:.2f}x bm25s's time"
    )
    if numba_time is not None:
        print(f"ratio: {ours_pq / jit_pq:.2f}x bm25s-numba's time")


if __name__ == "__main__":
    main()
