"""Rubric judges: ``judge`` (G-Eval style grading on a scale) and ``pairwise`` (candidate vs an
opponent, both orders).

Both reach their model through :mod:`.backend` (the installed :class:`~.backend.JudgeBackend`)
and accept only the judge's own JSON verdict (see :func:`~.backend.parse_json_verdict`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from ..errors import MetricError
from ..metrics.base import MetricValue, Sample, SkipMetric, typed_reading
from ..metrics.registry import register_metric
from .backend import (
    _SAFETY,
    JudgeModelOptions,
    _ask,
    _delimit,
    _marker,
    _text,
    backend_for,
    current_setup,
)

__all__ = [
    "JudgeOptions",
    "PairwiseOptions",
    "judge",
    "pairwise",
]

_DEFAULT_CRITERIA = "How well does the output answer the input correctly and helpfully?"


class JudgeOptions(JudgeModelOptions):
    """Options of ``judge`` (rubric grading, G-Eval style).

    The scale is integer: the judge answers a whole number from ``low`` to ``high`` and the
    score is ``(answer - low) / (high - low)``, so 1-5 maps 1 to 0.0, 3 to 0.5 and 5 to 1.0.
    """

    criteria: str = _DEFAULT_CRITERIA
    """The rubric: what a good output is."""
    rubric: str | None = None
    """Same as ``criteria`` (the contract's spelling); give one of the two."""
    steps: list[str] | None = None
    """Evaluation steps the judge follows, in order."""
    scale: list[int] | str = Field(default_factory=lambda: [1, 5])
    """Integer scale ``[low, high]`` or ``"low-high"`` (default ``[1, 5]``); see above."""
    score_range: list[int] | None = None
    """Same as ``scale``, as ``[low, high]``."""
    samples: int = Field(default=1, ge=1)
    """Ask the judge this many times (distinct seeds) and average: judge noise shows."""
    use_expected: bool = True
    """Show the judge the case's ``expected`` as a reference answer when there is one."""

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        # `rubric` and `score_range` are other spellings of `criteria` and `scale`.
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for alias, name in (("rubric", "criteria"), ("score_range", "scale")):
            if alias in data:
                if name in data:
                    raise ValueError(f"give `{alias}` or `{name}`, not both")
                data[name] = data.pop(alias)
        if "scale" in data:
            try:
                _scale(
                    typed_reading(data["scale"])
                )  # a scale that cannot be read fails at collection
            except MetricError as exc:
                raise ValueError(str(exc)) from None
        return data


class PairwiseOptions(JudgeModelOptions):
    """Options of ``pairwise``."""

    criteria: str = "Which answer is better: more correct, complete and helpful?"
    """What makes one answer better than the other."""
    against: str | None = None
    """A second target (``model:ID``, ``python:MOD:FUNC``...) as the opponent, instead of the
    baseline run's output."""


# --------------------------------------------------------------------------- rubric judge


@dataclass(frozen=True)
class _Scale:
    low: int
    high: int

    def normalise(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"score must be a number, got {value!r}")
        if not (self.low <= value <= self.high):
            raise ValueError(f"score {value} outside the scale {self.low}-{self.high}")
        return (float(value) - self.low) / (self.high - self.low)


def _scale(scale: Any) -> _Scale:
    if (
        isinstance(scale, list | tuple)
        and len(scale) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in scale)
    ):
        low, high = int(scale[0]), int(scale[1])
    elif isinstance(scale, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", scale):
        low, high = (int(x) for x in scale.split("-"))
    else:
        raise MetricError(f"scale must be [low, high] or 'low-high', got {scale!r}")
    if high <= low:
        raise MetricError(f"scale must rise: {scale!r}")
    return _Scale(low, high)


def judge(
    sample: Sample,
    *,
    criteria: str = _DEFAULT_CRITERIA,
    steps: Sequence[str] | None = None,
    scale: Any = (1, 5),
    samples: int = 1,
    model: str | None = None,
    reasks: int = 2,
    use_expected: bool = True,
) -> MetricValue:
    """Rubric grading (G-Eval style): criteria, optional steps, a scale; normalised to [0, 1].

    ``rubric:`` and ``score_range:`` are accepted for ``criteria`` and ``scale`` (see
    :class:`JudgeOptions`); the scale is integer ``[low, high]`` or ``"low-high"``.

    With ``samples: K`` the judge is asked K times (distinct seeds) and the scores averaged,
    so judge noise enters the case's score rather than hiding. When ``expected`` is present
    the judge grades against it (reference-guided correctness).
    """
    sc = _scale(scale)
    backend = backend_for(sample, model)
    reference = _text(sample.expected) if use_expected and sample.expected is not None else None
    context = "\n\n".join(sample.context) if sample.context else None
    shown = [_text(sample.input), *(t for t in (reference, context) if t is not None)]
    shown.append(sample.output)
    marker = _marker(shown)
    parts = [f"Criteria: {criteria}"]
    if steps:
        parts.append(
            "Evaluation steps:\n" + "\n".join(f"{i + 1}. {s}" for i, s in enumerate(steps))
        )
    parts.append(_delimit("INPUT", _text(sample.input), marker))
    if reference is not None:
        parts.append(
            "A reference answer (treat as correct):\n" + _delimit("REFERENCE", reference, marker)
        )
    if context is not None:
        parts.append(_delimit("CONTEXT", context, marker))
    parts.append(_delimit("OUTPUT", sample.output, marker))
    parts.append(
        f"Give a score from {sc.low} (worst) to {sc.high} (best). Reply with JSON only: "
        '{"reasoning": "<short reasoning>", "score": <integer>}'
    )
    messages = [
        {
            "role": "system",
            "content": "You are a strict, impartial evaluator. " + _SAFETY.format(marker=marker),
        },
        {"role": "user", "content": "\n\n".join(parts)},
    ]
    schema = {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "score": {"type": "integer", "minimum": sc.low, "maximum": sc.high},
        },
        "required": ["reasoning", "score"],
    }
    scores, reasons = [], []
    for k in range(max(1, int(samples))):
        value, verdict = _ask(
            backend,
            messages,
            required=("score",),
            validate=lambda v: sc.normalise(v["score"]),
            schema=schema,
            reasks=reasks,
            quoted=shown,
            seed=k if samples > 1 else None,
        )
        scores.append(value)
        reasons.append(str(verdict.get("reasoning", "")))
    mean = sum(scores) / len(scores)
    raw = [round(s * (sc.high - sc.low) + sc.low, 6) for s in scores]
    return MetricValue(
        mean,
        reasons[0] if len(reasons) == 1 else " | ".join(reasons),
        {
            "judge_model": backend.model,
            "raw_scores": raw,
            "reasoning": reasons,
            "scale": [sc.low, sc.high],
        },
    )


# --------------------------------------------------------------------------- pairwise

# Verdict schemas, sent as structured output where the provider supports it (EngineJudge):
# the reply is then the verdict object itself, with nothing around it to forge.
_PAIRWISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "winner": {"type": "string", "enum": ["A", "B", "tie"]},
    },
    "required": ["reasoning", "winner"],
}


def pairwise(
    sample: Sample,
    *,
    criteria: str = "Which answer is better: more correct, complete and helpful?",
    model: str | None = None,
    reasks: int = 2,
    against: str | None = None,
) -> MetricValue:
    """Candidate vs an opponent, judged in both orders: 1 win, 0.5 tie, 0 loss.

    The opponent is the baseline run's output for the case (``--mleval-baseline``), or the
    output of a second target given as ``against: KIND:REF`` (e.g. ``model:openai/gpt-4o``).
    Position bias cancels: a win counts only when the judge prefers the candidate in both
    orders; disagreement between the orders is a tie.
    """
    other = _opponent_output(sample, against) if against else sample.metadata.get("baseline_output")
    if other is None:
        raise SkipMetric(
            "pairwise needs an opponent: run with --mleval-baseline, or give `against: TARGET`"
        )
    backend = backend_for(sample, model)

    def ask(first: str, second: str) -> str:
        shown = [_text(sample.input), first, second]
        marker = _marker(shown)
        content = "\n\n".join(
            [
                f"Criteria: {criteria}",
                _delimit("INPUT", _text(sample.input), marker),
                "Answer A:\n" + _delimit("A", first, marker),
                "Answer B:\n" + _delimit("B", second, marker),
                'Reply with JSON only: {"reasoning": "<short>", "winner": "A" | "B" | "tie"}',
            ]
        )
        messages = [
            {
                "role": "system",
                "content": "You compare two answers impartially. " + _SAFETY.format(marker=marker),
            },
            {"role": "user", "content": content},
        ]

        def valid(v: dict[str, Any]) -> str:
            w = str(v["winner"]).strip().upper()
            if w not in ("A", "B", "TIE"):
                raise ValueError(f"winner must be A, B or tie, got {v['winner']!r}")
            return w

        value, _ = _ask(
            backend,
            messages,
            required=("winner",),
            validate=valid,
            schema=_PAIRWISE_SCHEMA,
            reasks=reasks,
            quoted=shown,
        )
        return str(value)

    first = ask(sample.output, str(other))  # candidate is A
    second = ask(str(other), sample.output)  # candidate is B
    cand_first = {"A": 1.0, "B": 0.0, "TIE": 0.5}[first]
    cand_second = {"B": 1.0, "A": 0.0, "TIE": 0.5}[second]
    score = (
        1.0
        if cand_first == cand_second == 1.0
        else 0.0
        if cand_first == cand_second == 0.0
        else 0.5
    )
    return MetricValue(
        score,
        f"candidate-first order: {first}; baseline-first order: {second}",
        {"orders": [first, second], "judge_model": backend.model},
    )


_OPPONENTS: dict[tuple[str, str], Callable[..., Any]] = {}


def _opponent_output(sample: Sample, spec: str) -> str:
    """The output of a second target for the same case (resolved once per process)."""
    from ..targets.registry import EvalCase, TargetContext, call_target, resolve_target
    from ..targets.services import RunServices

    key = (spec, str(sample.base_dir))
    if key not in _OPPONENTS:
        # The run's context (its config and services, as the session installed them) with this
        # case's directory; outside a run, a bare context.
        run = current_setup()
        ctx = TargetContext(
            base_dir=sample.base_dir,
            config=run.config,
            services=RunServices() if run.services is None else run.services,
        )
        _OPPONENTS[key] = resolve_target(spec, ctx)
    case = EvalCase(
        id=sample.case_id,
        suite=sample.suite,
        input=sample.input,
        expected=sample.expected,
        context=list(sample.context),
        vars=dict(sample.vars),
    )
    return call_target(_OPPONENTS[key], case).output


def _register() -> None:
    # Importing this module registers its metrics with their options models and descriptions
    # (the registry imports it through the pytest_mleval.metrics entry points).
    register_metric(
        "judge",
        judge,
        description="rubric grading by an LLM judge (G-Eval style)",
        options=JudgeOptions,
    )
    register_metric(
        "pairwise",
        pairwise,
        description="candidate vs baseline output, both orders",
        options=PairwiseOptions,
    )


_register()
