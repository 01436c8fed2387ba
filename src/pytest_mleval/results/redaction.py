"""``--mleval-redact``: the run's records with detected PII replaced by ``[REDACTED:KIND]``.

Redaction happens after scoring: metrics (and the end-of-run variant judge) read the raw
outputs; what is published (hooks, the results file, Markdown, HTML, history, notebook, the
terminal summary) is the redacted copy. Only free text is redacted: ids, suite and metric
names, node ids, numbers and dict keys stay as they are, so results still pair by case with a
baseline and merge across shards. The detectors are :func:`..safety.pii.find_pii`'s.
"""

from __future__ import annotations

from typing import Any

from ..conversation.trajectory import Trajectory
from ..safety.pii import redact_text, redact_value
from .records import CaseResult, CollectionError, MetricScore, RunResults

__all__ = ["redact_case", "redact_collection_error", "redact_run", "redact_trajectory"]


def _text(value: str | None) -> str | None:
    return None if value is None else redact_text(value)


def _score(score: MetricScore) -> MetricScore:
    return score.model_copy(
        update={
            "explanation": _text(score.explanation),
            "error": _text(score.error),
            "skipped": _text(score.skipped),
            "data": None if score.data is None else redact_value(score.data),
        }
    )


def redact_trajectory(trajectory: Trajectory) -> Trajectory:
    """A copy of ``trajectory`` with its messages, turn texts and tool calls redacted.

    Args:
        trajectory: What an agent did.

    Returns:
        The copy: message contents, each turn's text, each tool call's arguments (parsed and
        raw), result and error redacted; call ids, tool names, models and measures kept.
    """
    turns = []
    for turn in trajectory.turns:
        calls = [
            call.model_copy(
                update={
                    "arguments": redact_value(call.arguments),
                    "arguments_raw": redact_text(call.arguments_raw),
                    "result": redact_value(call.result),
                    "error": _text(call.error),
                }
            )
            for call in turn.tool_calls
        ]
        turns.append(turn.model_copy(update={"text": _text(turn.text), "tool_calls": calls}))
    return trajectory.model_copy(
        update={"messages": redact_value(trajectory.messages), "turns": turns}
    )


def redact_case(case: CaseResult) -> CaseResult:
    """A copy of a case's record with the PII in its free text replaced by ``[REDACTED:KIND]``.

    Args:
        case: The record as scored (raw).

    Returns:
        The copy: input, prompt, output, expected, context, retrieved, messages, metadata, error,
        trajectory and each score's explanation, error, skip reason and data redacted; ids,
        names, scores, pass/fail, usage and timings kept. ``output_sha256`` (only set for an
        output stored truncated) stays the hash of the raw output.
    """
    update: dict[str, Any] = {
        "input": redact_value(case.input),
        "prompt": _text(case.prompt),
        "output": _text(case.output),
        "expected": redact_value(case.expected),
        "context": [redact_text(passage) for passage in case.context],
        "retrieved": [redact_text(doc_id) for doc_id in case.retrieved],
        "error": _text(case.error),
        "skipped": _text(case.skipped),
        "metadata": redact_value(case.metadata),
        "messages": None if case.messages is None else redact_value(case.messages),
        "scores": {name: _score(score) for name, score in case.scores.items()},
        "trajectory": None if case.trajectory is None else redact_trajectory(case.trajectory),
    }
    return case.model_copy(update=update)


def redact_collection_error(error: CollectionError) -> CollectionError:
    """A copy of a collection error with its message redacted (file, line, node id kept)."""
    return error.model_copy(update={"message": redact_text(error.message)})


def redact_run(run: RunResults) -> RunResults:
    """A copy of a whole run with every case and every free-text note redacted.

    Args:
        run: The assembled run (scored, gated and judged on the raw records).

    Returns:
        The copy: cases (:func:`redact_case`), collection errors, suite descriptions, why the
        run is incomplete, why cases were skipped, aggregate and gate texts, variant and safety
        notes. Statistics, ids and names are unchanged, so every output derived from it reads
        the same numbers.
    """
    suites = [
        s.model_copy(
            update={
                "description": _text(s.description),
                "skipped": {k: redact_text(why) for k, why in s.skipped.items()},
            }
        )
        for s in run.suites
    ]
    variant_sets = [
        v.model_copy(
            update={
                "notes": [redact_text(n) for n in v.notes],
                "verdicts": [
                    verdict.model_copy(update={"message": redact_text(verdict.message)})
                    for verdict in v.verdicts
                ],
            }
        )
        for v in run.variant_sets
    ]
    safety = run.safety
    if safety is not None:
        safety = safety.model_copy(update={"notes": [redact_text(n) for n in safety.notes]})
    meta = run.meta.model_copy(update={"incomplete": [redact_text(r) for r in run.meta.incomplete]})
    return run.model_copy(
        update={
            "meta": meta,
            "suites": suites,
            "cases": [redact_case(c) for c in run.cases],
            "aggregates": [a.model_copy(update={"note": _text(a.note)}) for a in run.aggregates],
            "gates": [g.model_copy(update={"message": redact_text(g.message)}) for g in run.gates],
            "variant_sets": variant_sets,
            "collection_errors": [redact_collection_error(e) for e in run.collection_errors],
            "safety": safety,
        }
    )
