"""Scoring a case: run its metrics over a target output and build the result record."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..cases.case import EvalCase
from ..conversation.images import without_image_data
from ..conversation.trajectory import Trajectory
from ..metrics.registry import (
    NO_THRESHOLD,
    Sample,
    Scored,
    case_passed,
    no_verdict,
    score_metric,
)
from ..targets.registry import COST_UNKNOWN, TargetOutput
from .records import STREAM_TIMINGS, CallUse, CaseResult, MetricScore, Usage

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "error_result",
    "not_needed_result",
    "score_case",
    "skipped_result",
    "stored_text",
    "stored_trajectory",
]

DEFAULT_MAX_OUTPUT_CHARS = 100_000
"""Outputs longer than this are stored truncated (``mleval_max_output_chars``)."""


def stored_text(
    text: str, limit: int = DEFAULT_MAX_OUTPUT_CHARS
) -> tuple[str, int | None, str | None]:
    """What the results keep of a long text: its start, its full length and its SHA-256.

    Returns ``(text, None, None)`` when the text is within ``limit``; otherwise the first
    ``limit`` characters followed by a note, the full length and the hex digest. Metrics
    always score the full text; only what is written (results, reports, JUnit) is cut.
    """
    if len(text) <= limit:
        return text, None, None
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    note = f"\n… [truncated: {len(text):,} characters in all, sha256 {digest[:16]}]"
    return text[:limit] + note, len(text), digest


def _sample(ec: EvalCase, out: TargetOutput, extra: dict[str, Any] | None = None) -> Sample:
    # The sample holds the case itself; the output's context, when the target gave one,
    # replaces the case's, and metadata merges the case's, the output's and the scorer's.
    # A streamed call's timings come from the output only: a case's own metadata of that
    # name (a column of an earlier run's data, say) is never taken for a measurement, nor
    # one saying the cost is unknown.
    case_metadata = {
        k: v for k, v in ec.metadata.items() if k not in STREAM_TIMINGS and k != COST_UNKNOWN
    }
    return Sample(
        output=out.output,
        case=ec,
        context=out.context,
        retrieved=out.retrieved,
        latency_ms=out.latency_ms,
        cost_usd=out.cost_usd,
        usage=out.usage,
        metadata={**case_metadata, **out.metadata, **(extra or {})},
        trajectory=out.trajectory,
    )


def _timing(value: Any) -> float | None:
    """A timing a target reported, as a number (``None`` for none or one that is not)."""
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def _to_score(s: Scored, metric: str) -> MetricScore:
    return MetricScore(
        metric=metric if metric != s.name else None,
        score=s.score,
        threshold=s.threshold,
        max=s.max,
        passed=s.passed,
        weight=s.weight,
        explanation=s.explanation,
        error=s.error,
        data=s.data,
        skipped=s.skipped,
    )


def _base(ec: EvalCase, nodeid: str, limit: int = DEFAULT_MAX_OUTPUT_CHARS) -> dict[str, Any]:
    # The rendered prompt is bounded (mleval_max_prompt_chars) but may still be far longer
    # than what a report should carry.
    prompt = None if ec.prompt is None else stored_text(ec.prompt, limit)[0]
    return {
        "suite": ec.suite,
        "variant": ec.variant,
        "case_id": ec.id,
        "repeat": ec.repeat,
        "nodeid": nodeid,
        "file": ec.file,
        "input": ec.input,
        "prompt": prompt,
        "expected": ec.expected,
        "tags": list(ec.tags),
        "cluster": ec.cluster,
        "metadata": dict(ec.metadata),
        "messages": None if ec.messages is None else without_image_data(ec.messages),
        "images": [image.record() for image in ec.images],
    }


def stored_trajectory(
    trajectory: Trajectory | None, limit: int = DEFAULT_MAX_OUTPUT_CHARS
) -> Trajectory | None:
    """The trajectory as the results keep it: images as references (see ``images``), and
    each message text, turn text and tool result at most ``limit`` characters (as outputs
    are, see :func:`stored_text`); metrics scored the whole trajectory."""
    if trajectory is None:
        return None
    messages = [_bounded_message(m, limit) for m in without_image_data(trajectory.messages)]
    turns = []
    for turn in trajectory.turns:
        calls = [
            call.model_copy(
                update={
                    "result": _bounded_value(call.result, limit),
                    "arguments_raw": stored_text(call.arguments_raw, limit)[0],
                }
            )
            for call in turn.tool_calls
        ]
        text = None if turn.text is None else stored_text(turn.text, limit)[0]
        turns.append(turn.model_copy(update={"text": text, "tool_calls": calls}))
    return trajectory.model_copy(update={"messages": messages, "turns": turns})


def _bounded_message(message: dict[str, Any], limit: int) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str) and len(content) > limit:
        return {**message, "content": stored_text(content, limit)[0]}
    if isinstance(content, list):
        parts = [
            {**p, "text": stored_text(p["text"], limit)[0]}
            if isinstance(p, dict) and isinstance(p.get("text"), str)
            else p
            for p in content
        ]
        return {**message, "content": parts}
    return message


def _bounded_value(value: Any, limit: int) -> Any:
    """A tool result within ``limit`` characters: as is, else its JSON text cut."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return value
    return stored_text(text, limit)[0]


def score_case(
    ec: EvalCase,
    out: TargetOutput,
    *,
    nodeid: str = "",
    extra: dict[str, Any] | None = None,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> tuple[CaseResult, list[Scored]]:
    """Score every metric of the case; a metric that raises fails the case, never passes it.

    ``extra`` is metric-only context (judge model, the baseline's output) kept out of results.
    Metrics score the whole output; the result stores at most ``max_output_chars`` of it
    (see :func:`stored_text`).
    """
    sample = _sample(ec, out, extra)
    scored = [
        score_metric(
            m.kind,
            sample,
            # `threshold: null` written out turns a metric's default threshold off.
            threshold=NO_THRESHOLD
            if m.threshold is None and "threshold" in m.model_fields_set
            else m.threshold,
            max_value=m.max,
            weight=m.weight,
            params=m.params,
            label=m.name,
        )
        for m in ec.metrics
    ]
    usage = out.usage
    output, output_chars, output_sha256 = stored_text(out.output, max_output_chars)
    unchecked = no_verdict(scored, ec.pass_score)
    result = CaseResult(
        **_base(ec, nodeid, max_output_chars),
        output=output,
        output_chars=output_chars,
        output_sha256=output_sha256,
        context=sample.context,
        retrieved=sample.retrieved,
        scores={s.name: _to_score(s, m.kind) for s, m in zip(scored, ec.metrics, strict=True)},
        passed=case_passed(scored, ec.pass_score) and unchecked is None,
        skipped=unchecked,
        latency_ms=out.latency_ms,
        usage=Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get(
                "total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
            ),
        ),
        cost_usd=out.cost_usd,
        model=out.model,
        cached=out.cached,
        retries=out.retries,
        fallback_used=out.fallback_used,
        trajectory=stored_trajectory(out.trajectory, max_output_chars),
        target_calls={m: CallUse(**use) for m, use in out.calls.items()},
    )
    if out.metadata:
        result.metadata.update(out.metadata)
        # The timings have their own fields in the record: not repeated in its metadata.
        for name in STREAM_TIMINGS:
            if name in out.metadata:
                setattr(result, name, _timing(result.metadata.pop(name)))
    return result, scored


def not_needed_result(ec: EvalCase, *, nodeid: str = "") -> CaseResult:
    """The record of a case its sequential suite did not need: not run, never a pass."""
    return CaseResult(**_base(ec, nodeid), not_needed=True, passed=False)


def skipped_result(ec: EvalCase, reason: str, *, nodeid: str = "") -> CaseResult:
    """The record of a case its target skipped (``pytest.skip``): not run, never a pass."""
    return CaseResult(**_base(ec, nodeid), skipped=reason or "skipped", passed=False)


def error_result(
    ec: EvalCase,
    error: str,
    *,
    nodeid: str = "",
    out: TargetOutput | None = None,
    retries: int = 0,
    trajectory: Trajectory | None = None,
) -> CaseResult:
    """The record of a case whose target failed: never a pass.

    ``retries`` are the model call's retries before it gave up: the provider answered (and
    may have billed) each of them, so the run's retry count includes them. ``trajectory`` is
    what a tool loop did before it failed (cut off at ``max_turns``, a model call failing).
    """
    result = CaseResult(
        **_base(ec, nodeid),
        error=error,
        passed=False,
        retries=retries,
        trajectory=stored_trajectory(trajectory),
    )
    if out is not None:
        result.output, result.output_chars, result.output_sha256 = stored_text(out.output)
        result.latency_ms = out.latency_ms
    return result
