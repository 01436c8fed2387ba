"""Rubric judges: ``judge`` (G-Eval style grading on a scale) and ``pairwise`` (candidate vs an
opponent, both orders).

Either judges the output (``over: output``) or the agent's whole trajectory (``over:
trajectory``): the conversation with every tool call, its arguments and its result, as
:func:`~pytest_mleval.conversation.trajectory.transcript` writes it.

Both reach their model through :mod:`.backend` (the installed :class:`~.backend.JudgeBackend`)
and accept only the judge's own JSON verdict (see :func:`~.backend.parse_json_verdict`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from ..conversation.trajectory import Trajectory, transcript
from ..errors import MetricError
from ..fields import Count
from ..metrics.base import MetricValue, Sample, SkipMetric, typed_reading
from ..metrics.registry import register_metric
from .backend import (
    _SAFETY,
    JudgeBackend,
    JudgeModelOptions,
    _ask,
    _delimit,
    _marker,
    _text,
    backend_for,
    current_setup,
)

if TYPE_CHECKING:
    from ..targets.registry import TargetOutput

__all__ = [
    "JudgeOptions",
    "PairwiseOptions",
    "judge",
    "pairwise",
]

_DEFAULT_CRITERIA = "How well does the output answer the input correctly and helpfully?"
_TRAJECTORY_CRITERIA = (
    "How well does the agent accomplish the user's request: does it call the right tools with "
    "the right arguments, use their results correctly, and give a correct, helpful final answer?"
)
_PAIRWISE_CRITERIA = "Which answer is better: more correct, complete and helpful?"
_PAIRWISE_TRAJECTORY_CRITERIA = (
    "Which agent handles the request better: right tools with right arguments, correct use of "
    "their results, and a more correct, complete and helpful final answer?"
)
_TRAJECTORY_NOTE = (
    "You are judging an AI agent's full trajectory, not a single answer: the whole "
    "conversation, each tool call the agent made with its arguments, each tool result, and "
    "the agent's final answer. Judge the process as well as the final answer."
)
Over = Literal["output", "trajectory"]

_SCALE_TEXT = r"\s*\d+\s*-\s*\d+\s*"
# The spellings `_scale` reads, declared so that `mleval schema cases` flags what it rejects
# (`[1, 2, 3]`, `five`); the validator below still checks them first, in its own words.
_ScalePair = Annotated[list[int], Field(min_length=2, max_length=2)]
_ScaleText = Annotated[str, Field(pattern=f"^{_SCALE_TEXT}$")]


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
    scale: _ScalePair | _ScaleText = Field(default_factory=lambda: [1, 5])
    """Integer scale ``[low, high]`` or ``"low-high"`` (default ``[1, 5]``); see above."""
    score_range: _ScalePair | _ScaleText | None = None
    """Same as ``scale`` (``[low, high]`` or ``"low-high"``)."""
    samples: Count = Field(default=1, ge=1)
    """Ask the judge this many times (distinct seeds) and average: judge noise shows."""
    use_expected: bool = True
    """Show the judge the case's ``expected`` as a reference answer when there is one."""
    over: Over = "output"
    """What is judged: the ``output``, or the agent's whole ``trajectory`` (the conversation
    with its tool calls, arguments and results; the default criteria then ask about the
    agent's tool use too)."""

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

    criteria: str = _PAIRWISE_CRITERIA
    """What makes one answer better than the other."""
    against: str | None = None
    """A second target (``model:ID``, ``python:MOD:FUNC``...) as the opponent, instead of the
    baseline run's output."""
    over: Over = "output"
    """What is compared: the two outputs (``output``), or the two agents' whole ``trajectory``
    (conversations with tool calls, arguments and results: the baseline run's, or the
    ``against`` target's)."""


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
    elif isinstance(scale, str) and re.fullmatch(_SCALE_TEXT, scale):
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
    over: str = "output",
) -> MetricValue:
    """Rubric grading (G-Eval style): criteria, optional steps, a scale; normalised to [0, 1].

    ``rubric:`` and ``score_range:`` are accepted for ``criteria`` and ``scale`` (see
    :class:`JudgeOptions`); the scale is integer ``[low, high]`` or ``"low-high"``.

    With ``samples: K`` the judge is asked K times (distinct seeds) and the scores averaged,
    so judge noise enters the case's score rather than hiding. When ``expected`` is present
    the judge grades against it (reference-guided correctness). With ``over: trajectory``
    the judge reads the agent's whole conversation (tool calls, arguments, results) instead
    of the output alone.
    """
    sc = _scale(scale)
    judged = _judged(sample, over, "judge")
    backend = backend_for(sample, model)
    if over == "trajectory" and criteria == _DEFAULT_CRITERIA:
        criteria = _TRAJECTORY_CRITERIA
    reference = _text(sample.expected) if use_expected and sample.expected is not None else None
    context = "\n\n".join(sample.context) if sample.context else None
    # The trajectory holds the conversation, so its input is not shown twice.
    question = [] if over == "trajectory" else [_text(sample.input)]
    shown = [*question, *(t for t in (reference, context) if t is not None)]
    shown.append(judged)
    marker = _marker(shown)
    parts = [_TRAJECTORY_NOTE] if over == "trajectory" else []
    parts.append(f"Criteria: {criteria}")
    if steps:
        parts.append(
            "Evaluation steps:\n" + "\n".join(f"{i + 1}. {s}" for i, s in enumerate(steps))
        )
    if question:
        parts.append(_delimit("INPUT", question[0], marker))
    if reference is not None:
        what = "final answer" if over == "trajectory" else "answer"
        parts.append(
            f"A reference {what} (treat as correct):\n" + _delimit("REFERENCE", reference, marker)
        )
    if context is not None:
        parts.append(_delimit("CONTEXT", context, marker))
    if over == "trajectory":
        parts.append("The agent's trajectory:\n" + _delimit("TRAJECTORY", judged, marker))
    else:
        parts.append(_delimit("OUTPUT", judged, marker))
    parts.append(
        f"Give a score from {sc.low} (worst) to {sc.high} (best). Reply with JSON only: "
        '{"reasoning": "<short reasoning>", "score": <integer>}'
    )
    role = "an AI agent's trajectories" if over == "trajectory" else ""
    messages = [
        {
            "role": "system",
            "content": "You are a strict, impartial evaluator"
            + (f" of {role}. " if role else ". ")
            + _SAFETY.format(marker=marker),
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
            **({"over": over} if over != "output" else {}),
        },
    )


def _judged(sample: Sample, over: str, metric: str) -> str:
    """The text a judge reads of the candidate: its output, or its trajectory's transcript."""
    if over == "output":
        return sample.output
    if over != "trajectory":
        raise MetricError(f"over must be output or trajectory, got {over!r}")
    if sample.trajectory is None:
        raise MetricError(
            f"{metric} with `over: trajectory` needs what the agent did, and this case has no "
            "trajectory: use a `model:` target with `tools:` or a `messages:` case, or a "
            "`python:` target that returns `messages`"
        )
    return transcript(sample.trajectory)


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
    criteria: str = _PAIRWISE_CRITERIA,
    model: str | None = None,
    reasks: int = 2,
    against: str | None = None,
    over: str = "output",
) -> MetricValue:
    """Candidate vs an opponent, judged in both orders: 1 win, 0.5 tie, 0 loss.

    The opponent is the baseline run's output for the case (``--mleval-baseline``), or the
    output of a second target given as ``against: KIND:REF`` (e.g. ``model:openai/gpt-4o``).
    Position bias cancels: a win counts only when the judge prefers the candidate in both
    orders; disagreement between the orders is a tie. With ``over: trajectory`` the judge
    compares the two agents' whole conversations (tool calls, arguments, results).
    """
    mine = _judged(sample, over, "pairwise")
    other = _opponent(sample, against, over)
    backend = backend_for(sample, model)
    trajectories = over == "trajectory"
    if trajectories and criteria == _PAIRWISE_CRITERIA:
        criteria = _PAIRWISE_TRAJECTORY_CRITERIA
    # A trajectory holds its conversation, so the input is not shown besides.
    question = [] if trajectories else [_text(sample.input)]

    def ask(first: str, second: str) -> str:
        return _pairwise_verdict(
            backend, criteria, question, first, second, trajectories=trajectories, reasks=reasks
        )

    first = ask(mine, other)  # candidate is A
    second = ask(other, mine)  # candidate is B
    score = _both_orders(first, second)
    return MetricValue(
        score,
        f"candidate-first order: {first}; baseline-first order: {second}",
        {
            "orders": [first, second],
            "judge_model": backend.model,
            **({"over": over} if trajectories else {}),
        },
    )


def _pairwise_verdict(
    backend: JudgeBackend,
    criteria: str,
    question: Sequence[str],
    first: str,
    second: str,
    *,
    trajectories: bool,
    reasks: int,
    seed: int | None = None,
) -> str:
    """The judge's answer (``A``, ``B`` or ``TIE``) on ``first`` shown as A, ``second`` as B.

    Args:
        backend: The judge's model.
        criteria: What makes one better.
        question: The input both answer (empty when trajectories are compared: they hold it).
        first: Shown as A.
        second: Shown as B.
        trajectories: Whether the texts are agents' trajectories (transcripts).
        reasks: Re-asks of an unusable reply.
        seed: A sample's seed (``None``: the one deterministic verdict).

    Raises:
        MetricError: no usable verdict (or an ambiguous one).
    """
    what = "Trajectory" if trajectories else "Answer"
    shown = [*question, first, second]
    marker = _marker(shown)
    content = "\n\n".join(
        [
            *(
                [
                    "You are comparing two AI agents' full trajectories for the same "
                    "request: each whole conversation, every tool call with its arguments, "
                    "every tool result, and the final answer. Judge the process as well as "
                    "the final answer."
                ]
                if trajectories
                else []
            ),
            f"Criteria: {criteria}",
            *(_delimit("INPUT", q, marker) for q in question),
            f"{what} A:\n" + _delimit("A", first, marker),
            f"{what} B:\n" + _delimit("B", second, marker),
            'Reply with JSON only: {"reasoning": "<short>", "winner": "A" | "B" | "tie"}',
        ]
    )
    compared = "two agents' trajectories" if trajectories else "two answers"
    messages = [
        {
            "role": "system",
            "content": f"You compare {compared} impartially. " + _SAFETY.format(marker=marker),
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
        seed=seed,
    )
    return str(value)


def _both_orders(first: str, second: str) -> float:
    """The score of the side shown as A in ``first`` and as B in ``second``: 1 when the judge
    preferred it both times, 0 when it preferred the other both times, else 0.5 (position
    bias cancels)."""
    cand_first = {"A": 1.0, "B": 0.0, "TIE": 0.5}[first]
    cand_second = {"B": 1.0, "A": 0.0, "TIE": 0.5}[second]
    return (
        1.0
        if cand_first == cand_second == 1.0
        else 0.0
        if cand_first == cand_second == 0.0
        else 0.5
    )


def _opponent(sample: Sample, against: str | None, over: str) -> str:
    """The opponent's text: the ``against`` target's, else the baseline run's, per ``over``.

    Raises:
        SkipMetric: no opponent at all (no baseline run and no ``against``).
        MetricError: ``over: trajectory`` and the opponent has no trajectory.
    """
    if against:
        out = _opponent_output(sample, against, conversation=over == "trajectory")
        if over == "output":
            return str(out.output)
        if out.trajectory is None:
            raise MetricError(
                f"pairwise with `over: trajectory`: the opponent {against!r} returned no "
                "trajectory (a `model:` target with `tools:` or a `messages:` case, or a "
                "`python:` target that returns `messages`)"
            )
        return transcript(out.trajectory)
    baseline = sample.metadata.get("baseline_output")
    if over == "output":
        if baseline is None:
            raise SkipMetric(
                "pairwise needs an opponent: run with --mleval-baseline, or give `against: TARGET`"
            )
        return str(baseline)
    recorded = sample.metadata.get("baseline_trajectory")
    if recorded is None:
        if baseline is None:
            raise SkipMetric(
                "pairwise needs an opponent: run with --mleval-baseline, or give `against: TARGET`"
            )
        raise MetricError(
            "pairwise with `over: trajectory`: the baseline run recorded no trajectory for this "
            "case (its target returned no messages), so there is nothing to compare"
        )
    try:
        trajectory = (
            recorded if isinstance(recorded, Trajectory) else Trajectory.model_validate(recorded)
        )
    except ValueError as exc:
        raise MetricError(f"the baseline run's trajectory cannot be read: {exc}") from None
    return transcript(trajectory)


_OPPONENTS: dict[tuple[str, str], Callable[..., Any]] = {}


def _opponent_output(sample: Sample, spec: str, *, conversation: bool = False) -> TargetOutput:
    """What a second target answers for the same case (resolved once per process).

    With ``conversation`` the opponent is given the case as run (its messages, tools and
    images), so that its trajectory answers the same request; otherwise the case's input
    and references only.
    """
    from dataclasses import replace

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
    if conversation and isinstance(sample.case, EvalCase):
        case = replace(sample.case, metrics=[])
    else:
        case = EvalCase(
            id=sample.case_id,
            suite=sample.suite,
            input=sample.input,
            expected=sample.expected,
            context=list(sample.context),
            vars=dict(sample.vars),
        )
    return call_target(_OPPONENTS[key], case)


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
