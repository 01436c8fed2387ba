"""Model-graded metrics: LLM judges (rubric, pairwise), RAG judges, safety verdicts (refusal,
admits_unknown), embedding similarity and judge calibration (a service). Judges reach their
model only through the backend factory the session installs (set_backend_factory).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .backend import AmbiguousVerdictError, JudgeBackend, JudgeModelOptions, parse_json_verdict
    from .calibrate import calibrate, cohen_kappa, judge_labels_from_results, load_pairs
    from .rag import (
        AnswerRelevanceOptions,
        answer_relevance,
        context_precision,
        context_recall,
        faithfulness,
        hallucination,
    )
    from .rubric import JudgeOptions, PairwiseOptions, judge, pairwise
    from .safety import AdmitsUnknownOptions, RefusalOptions, admits_unknown, refusal
    from .semantic import (
        FaithfulnessOfflineOptions,
        SemanticSimilarityOptions,
        faithfulness_offline,
        semantic_similarity,
    )
    from .setup import JudgeSetup, set_backend_factory

_WHERE = {
    "AdmitsUnknownOptions": "safety",
    "AmbiguousVerdictError": "backend",
    "AnswerRelevanceOptions": "rag",
    "FaithfulnessOfflineOptions": "semantic",
    "JudgeBackend": "backend",
    "JudgeModelOptions": "backend",
    "JudgeOptions": "rubric",
    "JudgeSetup": "setup",
    "PairwiseOptions": "rubric",
    "RefusalOptions": "safety",
    "SemanticSimilarityOptions": "semantic",
    "admits_unknown": "safety",
    "answer_relevance": "rag",
    "calibrate": "calibrate",
    "cohen_kappa": "calibrate",
    "context_precision": "rag",
    "context_recall": "rag",
    "faithfulness": "rag",
    "faithfulness_offline": "semantic",
    "hallucination": "rag",
    "judge": "rubric",
    "judge_labels_from_results": "calibrate",
    "load_pairs": "calibrate",
    "pairwise": "rubric",
    "parse_json_verdict": "backend",
    "refusal": "safety",
    "semantic_similarity": "semantic",
    "set_backend_factory": "setup",
}

__all__ = [
    "AdmitsUnknownOptions",
    "AmbiguousVerdictError",
    "AnswerRelevanceOptions",
    "FaithfulnessOfflineOptions",
    "JudgeBackend",
    "JudgeModelOptions",
    "JudgeOptions",
    "JudgeSetup",
    "PairwiseOptions",
    "RefusalOptions",
    "SemanticSimilarityOptions",
    "admits_unknown",
    "answer_relevance",
    "calibrate",
    "cohen_kappa",
    "context_precision",
    "context_recall",
    "faithfulness",
    "faithfulness_offline",
    "hallucination",
    "judge",
    "judge_labels_from_results",
    "load_pairs",
    "pairwise",
    "parse_json_verdict",
    "refusal",
    "semantic_similarity",
    "set_backend_factory",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
