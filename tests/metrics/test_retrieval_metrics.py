"""Retrieval metrics: hand-computed examples and parity with trec_eval (pytrec_eval)."""

from __future__ import annotations

import math
import random

import pytest

from pytest_mleval.errors import MetricError
from pytest_mleval.metrics import ranking as rm

RANKED = ["d3", "d1", "d7", "d2", "d9"]
RELEVANT = {"d1", "d2", "d5"}


def test_hit_rate_hand_computed() -> None:
    assert rm.hit_rate(RANKED, RELEVANT, 1) == 0.0
    assert rm.hit_rate(RANKED, RELEVANT, 2) == 1.0
    assert rm.hit_rate(RANKED, set(), 5) == 0.0


def test_recall_hand_computed() -> None:
    assert rm.recall_at_k(RANKED, RELEVANT, 1) == 0.0
    assert rm.recall_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 3)
    assert rm.recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert rm.recall_at_k(RANKED, RELEVANT, None) == pytest.approx(2 / 3)


def test_precision_hand_computed() -> None:
    assert rm.precision_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 2)
    assert rm.precision_at_k(RANKED, RELEVANT, 4) == pytest.approx(2 / 4)
    # Fewer retrieved than k: the denominator stays k.
    assert rm.precision_at_k(["d1"], RELEVANT, 4) == pytest.approx(1 / 4)
    assert rm.precision_at_k([], RELEVANT, None) == 0.0


def test_mrr_hand_computed() -> None:
    assert rm.mrr(RANKED, RELEVANT, 5) == pytest.approx(1 / 2)
    assert rm.mrr(RANKED, RELEVANT, 1) == 0.0
    assert rm.mrr(["d5"], RELEVANT, 3) == 1.0


def test_ndcg_binary_hand_computed() -> None:
    # Hits at ranks 2 and 4; three relevant documents -> ideal ranks 1, 2, 3.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert rm.ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / idcg)
    # At k=2 the ideal has only two slots.
    assert rm.ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_ndcg_graded_hand_computed() -> None:
    grades = {"d1": 3.0, "d2": 1.0, "d5": 2.0, "d8": 0.0}
    dcg = 3 / math.log2(3) + 1 / math.log2(5)
    idcg = 3 / 1 + 2 / math.log2(3) + 1 / math.log2(4)
    assert rm.ndcg_at_k(RANKED, grades, 5) == pytest.approx(dcg / idcg)
    perfect = ["d1", "d5", "d2"]
    assert rm.ndcg_at_k(perfect, grades, 3) == pytest.approx(1.0)


def test_duplicates_count_once_and_strings_are_one_id() -> None:
    assert rm.precision_at_k(["d1", "d1", "d2"], {"d1"}, 2) == pytest.approx(1 / 2)
    assert rm.recall_at_k(["doc"], "doc", 1) == 1.0
    assert rm.hit_rate(["d", "o"], "doc", 2) == 0.0


def test_bad_k_is_an_error() -> None:
    with pytest.raises(MetricError):
        rm.recall_at_k(RANKED, RELEVANT, 0)


def test_getattr_adapter_shape() -> None:
    for name in ("hit_rate", "recall_at_k", "precision_at_k", "mrr", "ndcg_at_k"):
        value = getattr(rm, name)(RANKED, RELEVANT, 3)
        assert 0.0 <= value <= 1.0


def test_parity_with_trec_eval() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(7)
    for trial in range(40):
        docs = [f"d{i}" for i in range(30)]
        ranked = rng.sample(docs, rng.randint(1, 20))
        qrel = {d: rng.choice([1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 8))}
        # trec_eval ranks by score; distinct descending scores keep our order.
        run = {"q": {d: float(100 - i) for i, d in enumerate(ranked)}}
        k = rng.choice([1, 3, 5, 10])
        measures = {f"ndcg_cut_{k}", f"P_{k}", f"recall_{k}", "recip_rank"}
        evaluator = pytrec_eval.RelevanceEvaluator({"q": qrel}, measures)
        ref = evaluator.evaluate(run)["q"]
        assert rm.ndcg_at_k(ranked, qrel, k) == pytest.approx(ref[f"ndcg_cut_{k}"]), trial
        assert rm.precision_at_k(ranked, qrel, k) == pytest.approx(ref[f"P_{k}"]), trial
        assert rm.recall_at_k(ranked, qrel, k) == pytest.approx(ref[f"recall_{k}"]), trial
        assert rm.mrr(ranked, qrel, None) == pytest.approx(ref["recip_rank"]), trial
