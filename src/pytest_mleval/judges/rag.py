"""Model-graded RAG metrics (after Ragas, Es et al., 2023): ``faithfulness``, ``hallucination``,
``context_recall``, ``context_precision`` and ``answer_relevance``.

A judge extracts claims or writes questions and checks them against the context, through the
installed :class:`~.backend.JudgeBackend`; only its own JSON verdict counts (see
:func:`~.backend.parse_json_verdict`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ..fields import Count
from ..metrics.registry import MetricValue, Sample, SkipMetric, register_metric
from .backend import (
    _SAFETY,
    JudgeBackend,
    JudgeModelOptions,
    _ask,
    _delimit,
    _marker,
    _text,
    backend_for,
)

__all__ = [
    "AnswerRelevanceOptions",
    "answer_relevance",
    "context_precision",
    "context_recall",
    "faithfulness",
    "hallucination",
]


class AnswerRelevanceOptions(JudgeModelOptions):
    """Options of ``answer_relevance``."""

    questions: Count = Field(default=3, ge=1)
    """How many questions the judge writes from the answer."""
    embedder: str | None = None
    """Embedding model for the question similarity (default: the offline MiniLM)."""


# Verdict schemas, sent as structured output where the provider supports it (EngineJudge):
# the reply is then the verdict object itself, with nothing around it to forge.
_CLAIMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"claims": {"type": "array", "items": {"type": "string"}}},
    "required": ["claims"],
}
_VERDICTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdicts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "statement": {"type": "integer"},
                    "verdict": {"type": "integer", "enum": [0, 1]},
                    "reason": {"type": "string"},
                },
                "required": ["statement", "verdict", "reason"],
            },
        }
    },
    "required": ["verdicts"],
}
_QUESTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "questions": {"type": "array", "items": {"type": "string"}},
        "noncommittal": {"type": "integer", "enum": [0, 1]},
    },
    "required": ["questions", "noncommittal"],
}


def _statements(backend: JudgeBackend, text: str, question: Any, reasks: int) -> list[str]:
    shown = [_text(question), text]
    marker = _marker(shown)
    messages = [
        {
            "role": "system",
            "content": "You split text into atomic factual claims. "
            + _SAFETY.format(marker=marker),
        },
        {
            "role": "user",
            "content": "Question:\n"
            + _delimit("QUESTION", _text(question), marker)
            + "\n\nAnswer:\n"
            + _delimit("ANSWER", text, marker)
            + "\n\nList every standalone factual claim the answer makes. "
            + 'Reply with JSON only: {"claims": ["..."]}',
        },
    ]

    def valid(v: dict[str, Any]) -> list[str]:
        claims = v["claims"]
        if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
            raise ValueError("claims must be a list of strings")
        return [c.strip() for c in claims if c.strip()]

    value, _ = _ask(
        backend,
        messages,
        required=("claims",),
        validate=valid,
        schema=_CLAIMS_SCHEMA,
        reasks=reasks,
        quoted=shown,
    )
    return list(value)


def _verdicts(
    backend: JudgeBackend,
    items: Sequence[str],
    context: Sequence[str],
    question: str,
    reasks: int,
    extra: Sequence[tuple[str, str]] = (),
) -> list[tuple[int, str]]:
    """For each item, 1 if the context supports it, else 0 (with the judge's reason).

    ``extra`` are more ``(label, text)`` blocks of judged data shown before the question.
    """
    listing = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(items))
    joined = "\n\n".join(context)
    shown = [joined, listing, *(text for _, text in extra)]
    marker = _marker(shown)
    blocks = "".join(f"\n\n{label}:\n" + _delimit(label, t, marker) for label, t in extra)
    messages = [
        {
            "role": "system",
            "content": "You check statements against a context. " + _SAFETY.format(marker=marker),
        },
        {
            "role": "user",
            "content": _delimit("CONTEXT", joined, marker)
            + "\n\nStatements:\n"
            + _delimit("STATEMENTS", listing, marker)
            + blocks
            + f"\n\n{question} Reply with JSON only: "
            + '{"verdicts": [{"statement": 1, "verdict": 1 or 0, "reason": "..."}, ...]} '
            + "with one entry per statement, in order.",
        },
    ]

    def valid(v: dict[str, Any]) -> list[tuple[int, str]]:
        rows = v["verdicts"]
        if not isinstance(rows, list) or len(rows) != len(items):
            raise ValueError(
                f"expected {len(items)} verdicts, got "
                f"{len(rows) if isinstance(rows, list) else repr(rows)}"
            )
        out = []
        for row in rows:
            verdict = row.get("verdict") if isinstance(row, dict) else None
            if verdict not in (0, 1, True, False, "0", "1"):
                raise ValueError(f"verdict must be 0 or 1, got {verdict!r}")
            out.append((int(verdict), str(row.get("reason", ""))))
        return out

    value, _ = _ask(
        backend,
        messages,
        required=("verdicts",),
        validate=valid,
        schema=_VERDICTS_SCHEMA,
        reasks=reasks,
        quoted=shown,
    )
    return list(value)


def faithfulness(sample: Sample, *, model: str | None = None, reasks: int = 2) -> MetricValue:
    """Share of the output's claims that the context supports.

    Definition as in Ragas (Es et al., 2023, "RAGAS: Automated Evaluation of Retrieval Augmented
    Generation"): claims are extracted from the answer, each is verified against the retrieved
    context, and faithfulness = supported claims / all claims. Hallucination is 1 - faithfulness.
    """
    if not sample.context:
        raise SkipMetric("faithfulness needs context (the case's `context` or retrieved passages)")
    backend = backend_for(sample, model)
    claims = _statements(backend, sample.output, sample.input, reasks)
    if not claims:
        raise SkipMetric("the output makes no factual claim to verify")
    verdicts = _verdicts(
        backend, claims, sample.context, "Can each statement be inferred from the context?", reasks
    )
    supported = sum(v for v, _ in verdicts)
    unsupported = [c for c, (v, _) in zip(claims, verdicts, strict=True) if not v]
    return MetricValue(
        supported / len(claims),
        f"{supported}/{len(claims)} claims supported"
        + (f"; unsupported: {unsupported[:3]}" if unsupported else ""),
        {
            "claims": [
                {"claim": c, "supported": bool(v), "reason": r}
                for c, (v, r) in zip(claims, verdicts, strict=True)
            ]
        },
    )


def hallucination(sample: Sample, *, model: str | None = None, reasks: int = 2) -> MetricValue:
    """1 - faithfulness: the share of the output's claims the context does not support."""
    f = faithfulness(sample, model=model, reasks=reasks)
    return MetricValue(1.0 - f.score, f.explanation, f.data)


def context_recall(sample: Sample, *, model: str | None = None, reasks: int = 2) -> MetricValue:
    """Share of the reference answer's sentences attributable to the retrieved context (Ragas)."""
    if sample.expected is None:
        raise SkipMetric("context_recall needs `expected`")
    if not sample.context:
        raise SkipMetric("context_recall needs context")
    backend = backend_for(sample, model)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", _text(sample.expected).strip()) if s]
    if not sentences:
        raise SkipMetric("the reference answer is empty")
    verdicts = _verdicts(
        backend,
        sentences,
        sample.context,
        "Can each statement be attributed to the context?",
        reasks,
    )
    hits = sum(v for v, _ in verdicts)
    return MetricValue(
        hits / len(sentences), f"{hits}/{len(sentences)} reference statements found in the context"
    )


def context_precision(sample: Sample, *, model: str | None = None, reasks: int = 2) -> MetricValue:
    """Ranking quality of the retrieved context (Ragas): mean of precision@k over useful chunks.

    Each chunk, in rank order, is judged useful (or not) for reaching the reference answer
    (the output when there is no reference); the score is sum_k(precision@k * v_k) / sum_k v_k.
    """
    if not sample.context:
        raise SkipMetric("context_precision needs context")
    backend = backend_for(sample, model)
    target = _text(sample.expected) if sample.expected is not None else sample.output
    # The question is judged data too: it goes in a delimited block, never in the instructions.
    question = (
        "The CONTEXT block is an answer to the question in the QUESTION block. Was each "
        "statement (a retrieved passage) useful in arriving at the answer?"
    )
    verdicts = [
        v
        for v, _ in _verdicts(
            backend,
            list(sample.context),
            [target],
            question,
            reasks,
            extra=[("QUESTION", _text(sample.input))],
        )
    ]
    useful = sum(verdicts)
    if useful == 0:
        return MetricValue(0.0, "no retrieved passage was useful")
    total, hits = 0.0, 0
    for k, v in enumerate(verdicts, start=1):
        hits += v
        total += (hits / k) * v
    return MetricValue(total / useful, f"{useful}/{len(verdicts)} passages useful")


def answer_relevance(
    sample: Sample,
    *,
    model: str | None = None,
    questions: int = 3,
    reasks: int = 2,
    embedder: str | None = None,
) -> MetricValue:
    """How well the answer addresses the question (Ragas answer relevancy).

    The judge writes ``questions`` questions the answer would answer and says whether the
    answer is noncommittal; the score is the mean cosine similarity of those questions to the
    original one (0 for a noncommittal answer).
    """
    backend = backend_for(sample, model)
    marker = _marker([sample.output])
    messages = [
        {
            "role": "system",
            "content": "You reverse-engineer questions from answers. "
            + _SAFETY.format(marker=marker),
        },
        {
            "role": "user",
            "content": _delimit("ANSWER", sample.output, marker)
            + f"\n\nWrite {questions} different questions that this answer answers, "
            + "and say whether the answer is "
            'noncommittal (evasive, "I don\'t know"). Reply with JSON only: '
            '{"questions": ["..."], "noncommittal": 0 or 1}',
        },
    ]

    def valid(v: dict[str, Any]) -> tuple[list[str], int]:
        qs = v["questions"]
        if not isinstance(qs, list) or not qs or not all(isinstance(q, str) for q in qs):
            raise ValueError("questions must be a non-empty list of strings")
        return [q for q in qs if q.strip()], int(v.get("noncommittal", 0) in (1, True, "1"))

    (generated, noncommittal), _ = _ask(
        backend,
        messages,
        required=("questions",),
        validate=valid,
        schema=_QUESTIONS_SCHEMA,
        reasks=reasks,
        quoted=[sample.output],
    )
    if noncommittal:
        return MetricValue(0.0, "the judge found the answer noncommittal", {"questions": generated})
    from .semantic import cosine_to

    sims = cosine_to(_text(sample.input), generated, embedder=embedder)
    score = max(0.0, min(1.0, sum(sims) / len(sims)))
    return MetricValue(
        score, f"mean similarity of {len(generated)} generated questions", {"questions": generated}
    )


def _register() -> None:
    # Importing this module registers its metrics with their options models and descriptions
    # (the registry imports it through the pytest_mleval.metrics entry points).
    for name, fn, options, description in (
        (
            "faithfulness",
            faithfulness,
            JudgeModelOptions,
            "share of claims supported by the context",
        ),
        ("hallucination", hallucination, JudgeModelOptions, "1 - faithfulness"),
        (
            "context_recall",
            context_recall,
            JudgeModelOptions,
            "reference statements found in the context",
        ),
        (
            "context_precision",
            context_precision,
            JudgeModelOptions,
            "ranking quality of the context",
        ),
        (
            "answer_relevance",
            answer_relevance,
            AnswerRelevanceOptions,
            "how well the answer addresses the question",
        ),
    ):
        register_metric(name, fn, description=description, options=options)


_register()
