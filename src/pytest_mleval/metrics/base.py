"""What a metric function sees and answers: the case and sample, the value, the options model.

The lowest module of :mod:`pytest_mleval.metrics`: the built-in metrics and the registry both
build on it, so neither needs the other to define a metric.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

from ..conversation.images import ImageRef, image_part
from ..conversation.messages import with_images
from ..errors import MetricError

if TYPE_CHECKING:
    from ..conversation.trajectory import Trajectory

__all__ = [
    "CORPUS_METRICS",
    "LOWER_IS_BETTER_SCORES",
    "RESERVED_OPTIONS",
    "MetricFn",
    "MetricOptionError",
    "MetricOptions",
    "MetricValue",
    "RenderedCase",
    "Sample",
    "SkipMetric",
    "SourceScalar",
    "typed_reading",
]


@dataclass
class RenderedCase:
    """One case as targets and metrics see it: suite defaults merged in, templates rendered.

    The fields a case has once it is ready to run, other than what scores it: the eval-file
    spec (:class:`pytest_mleval.cases.schema.Case`, raw templates) is rendered into this, and
    :class:`pytest_mleval.cases.case.EvalCase` adds the metric entries and the pass rule. It
    lives here, the lowest layer that reads a case, so a :class:`Sample` can hold one.
    """

    id: str
    suite: str
    input: Any
    expected: Any = None
    context: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    cluster: str | None = None
    relevant: list[str] | dict[str, float] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    """The rendered prompt template (model targets send it as the user message)."""
    system: str | None = None
    """The rendered system message."""
    params: dict[str, Any] = field(default_factory=dict)
    repeat: int = 0
    file: str | None = None
    """The eval file the case comes from."""
    messages: list[dict[str, Any]] | None = None
    """The case's conversation as rendered (``messages:``), the suite's system message first
    and its prompt template applied to the last user message; ``None`` for an ``input:`` case."""
    images: list[ImageRef] = field(default_factory=list)
    """The case's images, read and checked (sent with the last user message)."""
    variant: str | None = None
    """The variant of the suite this case runs in (``suite`` is then ``SUITE[VARIANT]``)."""

    def chat_messages(self) -> list[dict[str, Any]]:
        """The messages a ``model:`` target sends: the conversation (or the system message and
        the prompt as the user message), with the images as content parts of the last user
        message."""
        if self.messages is not None:
            base = [dict(m) for m in self.messages]
        else:
            base = [] if self.system is None else [{"role": "system", "content": self.system}]
            base.append({"role": "user", "content": self.text})
        return with_images(base, [image_part(image) for image in self.images])

    @property
    def text(self) -> str:
        """What a text target should answer: the rendered prompt, else the input as text."""
        if self.prompt is not None:
            return self.prompt
        return self.input if isinstance(self.input, str) else str(self.input)

    @property
    def base_dir(self) -> Path | None:
        """Directory of the eval file, for metric parameters that name files."""
        return Path(self.file).parent if self.file else None


@dataclass(init=False)
class Sample:
    """Everything a metric may look at for one generated output: the case and the output.

    The case's fields are read through it (``sample.input``, ``sample.expected``...); the
    output's fields are the sample's own. ``context`` is what the output was grounded on when
    the target said so, else the case's; ``metadata`` merges the case's, the output's and
    the scorer's extra context (judge model, a baseline's output).

    Build one with keywords, as a custom metric's test does (``Sample(output="x",
    input="q", expected="y")``): the case is made from them. The scorer passes ``case=``.
    """

    case: RenderedCase
    output: str
    context: list[str]
    retrieved: list[str]
    latency_ms: float | None
    cost_usd: float | None
    usage: dict[str, int]
    metadata: dict[str, Any]
    base_dir_override: Path | None
    """A directory given for this sample alone (``base_dir=``), else the case's."""
    trajectory: Trajectory | None
    """What the target did turn by turn (tool calls, messages), when it said: a ``model:``
    target with tools or a conversation, or a target that returned ``messages``."""

    def __init__(
        self,
        output: str,
        input: Any = None,
        expected: Any = None,
        context: list[str] | None = None,
        retrieved: list[str] | None = None,
        relevant: list[str] | dict[str, float] | None = None,
        latency_ms: float | None = None,
        cost_usd: float | None = None,
        usage: dict[str, int] | None = None,
        vars: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        case_id: str = "",
        suite: str = "",
        base_dir: Path | None = None,
        *,
        case: RenderedCase | None = None,
        base_dir_override: Path | None = None,
        trajectory: Trajectory | None = None,
    ) -> None:
        """A sample of ``case`` (or of a case made from the case keywords) and an output.

        Args:
            output: The generated text.
            input: The case's input (without ``case``).
            expected: The case's reference output (without ``case``).
            context: The context the metric sees; defaults to the case's.
            retrieved: Document ids the target retrieved.
            relevant: The case's relevant document ids (without ``case``).
            latency_ms: The target call's latency.
            cost_usd: The target call's cost.
            usage: Token counts.
            vars: The case's variables (without ``case``).
            metadata: What the metric sees as metadata; defaults to the case's.
            case_id: The case's id (without ``case``).
            suite: The case's suite (without ``case``).
            base_dir: Directory for relative file names in metric options; defaults to the
                case's eval-file directory.
            case: The rendered case; the case keywords are then ignored.
            base_dir_override: ``base_dir`` under its field name (for ``dataclasses.replace``).
            trajectory: What the target did turn by turn (for the trajectory metrics).
        """
        if case is None:
            case = RenderedCase(
                id=case_id,
                suite=suite,
                input=input,
                expected=expected,
                context=list(context or []),
                vars=dict(vars or {}),
                relevant=relevant,
            )
        self.case = case
        self.output = output
        self.context = list(case.context if context is None else context)
        self.retrieved = list(retrieved or [])
        self.latency_ms = latency_ms
        self.cost_usd = cost_usd
        self.usage = dict(usage or {})
        self.metadata = dict(case.metadata if metadata is None else metadata)
        self.base_dir_override = base_dir if base_dir is not None else base_dir_override
        self.trajectory = trajectory

    @property
    def input(self) -> Any:
        """The case's input."""
        return self.case.input

    @property
    def expected(self) -> Any:
        """The case's reference output."""
        return self.case.expected

    @property
    def vars(self) -> dict[str, Any]:
        """The case's rendered variables."""
        return self.case.vars

    @property
    def relevant(self) -> list[str] | dict[str, float] | None:
        """The case's relevant document ids (or id -> graded relevance)."""
        return self.case.relevant

    @property
    def case_id(self) -> str:
        """The case's id."""
        return self.case.id

    @property
    def suite(self) -> str:
        """The case's suite."""
        return self.case.suite

    @property
    def base_dir(self) -> Path | None:
        """Directory of the eval file, for metric parameters that name files."""
        return self.base_dir_override or self.case.base_dir


@dataclass(frozen=True)
class MetricValue:
    """A metric's full answer: score plus optional explanation and extra data."""

    score: float
    explanation: str | None = None
    data: dict[str, Any] | None = None


MetricFn = Callable[..., Any]


# --------------------------------------------------------------------------- options


class SourceScalar(str):
    """A plain YAML scalar in a metric option: the text as written, with its typed reading.

    ``contains: {value: 0123}`` means the text ``0123``; ``k: 5`` means the number 5. Which
    reading an option takes is known only once its metric's options model is looked up, so
    the eval-file reader keeps both (see :func:`validate_options`).
    """

    typed: Any

    @classmethod
    def of(cls, text: str, typed: Any) -> SourceScalar:
        """The scalar ``text`` whose YAML 1.2 reading is ``typed``."""
        obj = cls(text)
        obj.typed = typed
        return obj


def typed_reading(value: Any) -> Any:
    """``value`` with every SourceScalar replaced by its typed reading.

    Args:
        value: An option value as the eval-file reader built it (lists and dicts are walked).

    Returns:
        The same structure with YAML 1.2 readings in place of the source texts.
    """
    if isinstance(value, SourceScalar):
        return value.typed
    if isinstance(value, list):
        return [typed_reading(v) for v in value]
    if isinstance(value, dict):
        return {k: typed_reading(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    """``value`` with every SourceScalar replaced by its source text."""
    if isinstance(value, SourceScalar):
        return str.__str__(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _accepts_text(annotation: Any) -> bool:
    """Whether a field annotation takes text anywhere (``str``, ``str | None``, ``list[str]``)."""
    if annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        # `Annotated[str, Field(pattern=...)]` inside a union is still text.
        return _accepts_text(get_args(annotation)[0])
    if origin is Literal:
        return all(isinstance(a, str) for a in get_args(annotation))
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        return any(_accepts_text(a) for a in get_args(annotation))
    return False


LOWER_IS_BETTER_SCORES = frozenset({"hallucination"})
"""Built-in scores in [0, 1] that are better when lower (a rise of ``hallucination`` is a
regression); known by name, as a comparison of results files need not load the judges."""

CORPUS_METRICS = frozenset({"bleu"})
"""Metrics with a corpus statistic a gate can take (``stat: corpus``: corpus BLEU from the
counts each case's score keeps)."""


RESERVED_OPTIONS: dict[str, str] = {
    "name": "the label the metric is scored and reported under (default: the metric's name); "
    "needed to list one metric twice in a case",
    "threshold": "minimum score to pass, in (0, 1] for a score in [0, 1] (`null`: informational "
    "even if the metric has a default)",
    "max": "maximum value to pass (raw measures such as `latency_ms`, `cost_usd`)",
    "weight": "weight in the suite's weighted pass rule (`pass_score`)",
}
"""Options every metric takes; they belong to the metric entry, not to the metric function."""


class MetricOptions(BaseModel):
    """Base of a metric's options model: unknown options are errors, never silently ignored.

    Fields are the metric function's keyword parameters. A field that takes text receives a
    YAML scalar as written (``yes`` stays ``"yes"``); any other field its typed reading.
    """

    # defer_build: a model's validator is built when a suite first uses its metric, not for
    # every built-in metric at each start (most runs use a few of them).
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        coerce_numbers_to_str=True,
        defer_build=True,
    )

    @classmethod
    def text_fields(cls) -> frozenset[str]:
        """Names (and aliases) of the fields that take text."""
        cached = _TEXT_FIELDS.get(cls)
        if cached is None:
            names: set[str] = set()
            for fname, info in cls.model_fields.items():
                if _accepts_text(info.annotation):
                    names.add(fname)
                    if isinstance(info.alias, str):
                        names.add(info.alias)
            cached = _TEXT_FIELDS[cls] = frozenset(names)
        return cached

    @model_validator(mode="before")
    @classmethod
    def _source_scalars(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        text = cls.text_fields()
        return {k: (_plain(v) if k in text else typed_reading(v)) for k, v in data.items()}

    @classmethod
    def option_names(cls) -> list[str]:
        """The options a user may write (a field's alias when it has one), in order."""
        return [info.alias or name for name, info in cls.model_fields.items()]

    @classmethod
    def valid_options(cls) -> str:
        """The options an error lists as valid: the metric's own, then the reserved ones."""
        return ", ".join([*cls.option_names(), *RESERVED_OPTIONS])


_TEXT_FIELDS: dict[type[MetricOptions], frozenset[str]] = {}


class MetricOptionError(MetricError):
    """A metric option is unknown or has the wrong type."""

    def __init__(self, metric: str, option: str | None, message: str) -> None:
        self.metric = metric
        self.option = option
        self.problem = message
        super().__init__(message)


class SkipMetric(Exception):
    """Raised by a metric that cannot be computed here (e.g. no judge model): never a score."""
