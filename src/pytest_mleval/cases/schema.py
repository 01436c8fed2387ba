"""The eval-file schema: pydantic specs of a suite, its cases, metrics, gates and datasets.

The JSON Schema editors complete eval files with (``mleval schema cases``) is built from these
models in :mod:`.jsonschema`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..conversation.messages import check_messages
from ..fields import Count, Real
from ..metrics.registry import owned_reserved

__all__ = [
    "METRICS_INPUT_SCHEMA",
    "PASS_RATE",
    "VARIANT_AXES",
    "Case",
    "DatasetSpec",
    "GateSpec",
    "LabelSpec",
    "MetricSpec",
    "RateLimitSpec",
    "SuiteSpec",
    "ToolResultSpec",
    "ToolSpec",
    "VariantSpec",
    "parse_metric_entries",
]

PASS_RATE = "pass_rate"
"""The name under which gates, ``regression_metrics`` and comparisons mean the share of passing
cases (not a metric: no metric may take it)."""

_METRIC_RESERVED = ("threshold", "max", "weight")


class MetricSpec(BaseModel):
    """One metric applied to a case: its name, pass criteria and parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The name the score is recorded under: the metric's own name (``rouge_l``, or a custom
    ``python:MODULE:FUNC``), or the ``name:`` label given to it."""
    metric: str | None = None
    """The metric to run when ``name`` is a label (``- contains: {name: has-refund, ...}``)."""
    threshold: Real | None = None
    """Minimum score to pass; ``None`` uses the metric's default (informational if it has none)."""
    max: Real | None = None
    """Maximum value for the metric to pass (used by ``latency_ms`` and ``cost_usd``)."""
    weight: Real = Field(default=1.0, ge=0)
    """Weight in the suite's weighted pass rule (``pass_score``)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Metric-specific options, passed to the metric function as keyword arguments."""

    @property
    def kind(self) -> str:
        """The registered metric this entry runs (``metric``, else ``name``)."""
        return self.metric or self.name


def parse_metric_entries(entries: Any) -> list[dict[str, Any]]:
    """Normalise the YAML spellings of a metric list into ``MetricSpec`` field dicts.

    Accepted: ``- exact``, ``- exact: {threshold: 1}``, ``- {name: exact, threshold: 1}``, and
    with a label: ``- contains: {name: has-refund, value: refund}`` or
    ``- {metric: contains, name: has-refund, value: refund}``.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError("must be a list of metrics")
    out: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, MetricSpec):
            out.append(entry.model_dump())
        elif isinstance(entry, str):
            out.append({"name": entry})
        elif isinstance(entry, dict) and "metric" in entry:
            body = dict(entry)
            name = body.pop("metric")
            out.append(_split_metric_body(name, body, label=body.pop("name", None)))
        elif isinstance(entry, dict) and "name" in entry:
            body = dict(entry)
            name = body.pop("name")
            out.append(_split_metric_body(name, body))
        elif isinstance(entry, dict) and len(entry) == 1:
            ((name, body),) = entry.items()
            if body is None:
                body = {}
            if not isinstance(body, dict):
                # `- threshold-less shorthand`: `- contains: "30 days"` means value.
                body = {"value": body}
            body = dict(body)
            # `- tool_called: {name: get_weather}`: the metric's own `name` (the tool), which
            # also labels the entry, so two tools' entries in one case do not clash.
            owned = "name" in owned_reserved(str(name))
            label = body.pop("name", None) if not owned else _owned_label(name, body)
            out.append(_split_metric_body(name, body, label=label))
        else:
            raise ValueError(
                f"cannot read metric entry {entry!r}: write `- NAME` or `- NAME: {{...}}`"
            )
    return out


def _owned_label(metric: Any, body: dict[str, Any]) -> Any:
    """The label of an entry whose metric owns ``name``: ``METRIC:NAME`` (``tool_called:f``)."""
    own = body.get("name")
    return None if own is None else f"{metric}:{own}"


def _split_metric_body(name: Any, body: dict[str, Any], label: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "params": {}}
    if label is not None and label != name:
        spec.update(name=label, metric=name)
    explicit = body.pop("params", None)
    owned = owned_reserved(str(name))
    for key, value in body.items():
        if key in _METRIC_RESERVED and key not in owned:
            spec[key] = value
        else:
            spec["params"][key] = value
    if isinstance(explicit, dict):
        spec["params"].update(explicit)
    return spec


_METRIC_OPTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "threshold / max / weight, plus the metric's own parameters",
    "properties": {
        "threshold": {"type": ["number", "null"], "description": "minimum score to pass"},
        "max": {"type": ["number", "null"], "description": "maximum value to pass"},
        "weight": {"type": "number", "description": "weight in the pass_score rule"},
    },
}
# The YAML spellings a user writes (the validated form is MetricSpec).
METRICS_INPUT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "metrics: `- NAME`, `- NAME: {threshold: 0.5, ...}` or `- {name: NAME, ...}`",
    "items": {
        "anyOf": [
            {"type": "string", "description": "metric name or python:MODULE:FUNC"},
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": {
                    "anyOf": [
                        _METRIC_OPTIONS_SCHEMA,
                        {"type": ["string", "number", "boolean", "array", "null"]},
                    ]
                },
            },
            {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        ]
    },
}
MetricList = Annotated[list[MetricSpec], WithJsonSchema(METRICS_INPUT_SCHEMA)]


class GateSpec(BaseModel):
    """A suite-level assertion on an aggregate, checked at the end of the session."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    """Metric name, or ``pass_rate`` for the share of passing cases."""
    stat: Literal["mean", "median", "pass_rate", "min", "max", "corpus", "ppi_mean"] = "mean"
    """Statistic of the per-case scores (``pass_rate``: share of cases where the metric passed;
    ``ppi_mean``: the metric on the human scale, from the suite's ``labels:``; ``corpus``:
    corpus BLEU of a ``bleu`` metric, as ``sacrebleu.corpus_bleu``)."""
    min: Real | None = None
    """The gate fails when the gated value is below this."""
    max: Real | None = None
    """The gate fails when the gated value is above this."""
    on: Literal["estimate", "ci_low", "ci_high"] = "estimate"
    """Gated value: the estimate or a confidence bound (``ci_low`` resists lucky small suites)."""

    @model_validator(mode="before")
    @classmethod
    def _yaml11_on(cls, data: Any) -> Any:
        # YAML 1.1 reads the bare key `on` as the boolean true; it means the field `on` here.
        if isinstance(data, dict) and True in data:
            data = dict(data)
            data.setdefault("on", data.pop(True))
        return data

    @model_validator(mode="after")
    def _bounds(self) -> GateSpec:
        if self.min is None and self.max is None:
            raise ValueError("a gate needs `min` or `max`")
        if self.metric == PASS_RATE and self.stat not in ("mean", "pass_rate"):
            # The pass rate is one share of the cases: a `median` or `min` of it was ignored
            # while the results recorded the gate as that statistic.
            raise ValueError(
                f"stat {self.stat!r} does not apply to pass_rate (the share of passing "
                "cases); leave `stat:` out"
            )
        return self


class LabelSpec(BaseModel):
    """Human scores of some cases for one metric: the run then reports the metric on the human
    scale (``METRIC:human``, a prediction-powered estimate) beside the metric's own mean."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    """The metric the labels score (its name in the suite: a ``name:`` label if it has one)."""
    values: Annotated[
        dict[str, Any] | None,
        WithJsonSchema(
            {"type": "object", "additionalProperties": {"type": "number"}},
            mode="validation",
        ),
    ] = None
    """Case id -> human score."""
    path: str | None = None
    """A JSONL or CSV file of rows ``{id: CASE, METRIC: score}``, relative to the eval file
    (one file may hold the columns of several metrics; a row without a score is no label)."""
    column: str | None = None
    """The score's column in ``path`` (default: the metric's name)."""
    id_column: str = "id"
    """The case id's column in ``path``."""
    scale: tuple[Real, Real] | None = None
    """``[low, high]``: the labels' own scale (a 1-5 rubric), mapped onto the score's [0, 1]
    as a judge maps its own, ``(label - low) / (high - low)``."""
    variant: str | None = None
    """The variant whose outputs were labelled (required when the suite has variants: a
    label scores one output, not another variant's)."""

    @model_validator(mode="after")
    def _one_source(self) -> LabelSpec:
        if (self.values is None) == (self.path is None):
            raise ValueError("labels take `values:` (case id -> score) or `path:`, one of them")
        if self.scale is not None and not self.scale[0] < self.scale[1]:
            raise ValueError(f"scale must rise: {list(self.scale)!r}")
        return self


def _labels(value: Any) -> Any:
    # `labels: {metric: judge, ...}` is the one-entry spelling of `labels: [{...}]`.
    if isinstance(value, dict):
        return [value]
    return [] if value is None else value


class RateLimitSpec(BaseModel):
    """Per-model rate limits for model targets."""

    model_config = ConfigDict(extra="forbid")

    rpm: Real | None = Field(default=None, gt=0)
    """Requests per minute."""
    tpm: Real | None = Field(default=None, gt=0)
    """Tokens per minute."""


class DatasetSpec(BaseModel):
    """Cases loaded from a data file next to the eval file."""

    model_config = ConfigDict(extra="forbid")

    path: str
    """JSONL, CSV, JSON or YAML file, relative to the eval file."""
    format: Literal["jsonl", "csv", "json", "yaml"] | None = None
    """File format; guessed from the extension when omitted."""
    mapping: dict[str, str] = Field(default_factory=dict)
    """Case field -> column name, e.g. ``{input: question, expected: answer}``."""
    limit: Count | None = Field(default=None, ge=1)
    """Read at most this many rows."""


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolSpec(BaseModel):
    """A tool a ``model:`` target may call: a Python function, or a schema whose results each
    case scripts (``tool_results:``).

    Written as ``- python:MODULE:FUNC`` (its JSON schema from the signature and docstring),
    ``- {python: MODULE:FUNC, name: ..., description: ...}`` (overriding either), or
    ``- {name: NAME, description: ..., schema: {JSON schema of the arguments}}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str | None = None
    """The name the model calls it by (default: the function's name)."""
    description: str | None = None
    """What the tool does, for the model (default: the function docstring's first paragraph)."""
    python: str | None = None
    """The function run for each call: ``python:MODULE:FUNC`` (or ``MODULE:FUNC``)."""
    parameters: dict[str, Any] | None = Field(default=None, alias="schema")
    """JSON schema of the arguments (``schema:``); a function's is built from its signature."""
    timeout_s: Real | None = Field(default=None, gt=0)
    """Seconds one call may take before it fails as timed out (default: the suite's
    ``tool_timeout_s``)."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"python": data}
        return data

    @model_validator(mode="after")
    def _complete(self) -> ToolSpec:
        if self.python is None and (self.name is None or self.parameters is None):
            raise ValueError(
                "a tool is `python:MODULE:FUNC` or `{name: ..., schema: {...}}` "
                "(a schema-only tool, its results scripted per case in `tool_results:`)"
            )
        if self.python is not None:
            ref = self.python.removeprefix("python:")
            module, _, attr = ref.rpartition(":")
            if not module or not attr:
                raise ValueError(f"tool python:{ref} must be python:MODULE:FUNC")
        if self.name is not None and not _TOOL_NAME.match(self.name):
            raise ValueError(
                f"tool name {self.name!r} must be 1-64 letters, digits, `_` or `-` "
                "(what providers accept)"
            )
        if self.parameters is not None and self.parameters.get("type", "object") != "object":
            raise ValueError(
                "a tool's `schema` describes its arguments: a JSON schema of type object"
            )
        return self

    @property
    def ref(self) -> str | None:
        """``MODULE:FUNC`` of a Python tool (``None`` for a schema-only one)."""
        return None if self.python is None else self.python.removeprefix("python:")


class ToolResultSpec(BaseModel):
    """A scripted answer of a schema-only tool: for calls of ``name`` whose arguments include
    ``args`` (every call without it), the ``result`` or the ``error``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The tool."""
    args: dict[str, Any] | None = None
    """Only calls whose arguments include these (a subset match); first matching entry wins."""
    result: Any = None
    """What the call returns to the model (text, or data sent as JSON)."""
    error: str | None = None
    """Fail the call with this message instead (returned to the model as a tool error)."""


def _tool_results(value: Any) -> Any:
    # `{NAME: RESULT}` is the shorthand of `[{name: NAME, result: RESULT}]`.
    if isinstance(value, dict):
        return [{"name": name, "result": result} for name, result in value.items()]
    return [] if value is None else value


class Case(BaseModel):
    """One eval case."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Unique within the suite; the pytest id."""
    input: Any = None
    """What the target receives: a string or structured data (required unless the case gives
    ``messages:``)."""
    messages: list[dict[str, Any]] | None = None
    """A conversation instead of ``input:``: OpenAI-style ``{role, content}`` messages
    (system, user, assistant with ``tool_calls``, tool); each content is a template."""
    images: list[str] = Field(default_factory=list)
    """Images sent with the last user message: files relative to the eval file, or ``data:``
    URLs (never fetched from the network)."""
    tools: list[ToolSpec] = Field(default_factory=list)
    """Tools added to (or replacing by name) the suite's for this case."""
    tool_results: list[ToolResultSpec] = Field(default_factory=list)
    """Scripted results of schema-only tools: ``{NAME: RESULT}`` or a list of
    ``{name, args, result | error}`` entries."""
    max_turns: Count | None = Field(default=None, ge=1)
    """Model replies the tool loop may take for this case (default: the suite's)."""
    expected: Any = None
    """Reference output for reference-based metrics."""
    context: list[str] = Field(default_factory=list)
    """Context passages (for faithfulness and context metrics)."""
    vars: dict[str, Any] = Field(default_factory=dict)
    """Extra template variables."""
    tags: list[str] = Field(default_factory=list)
    """Tags; each becomes a pytest marker (``-m smoke``)."""
    cluster: str | None = None
    """Cluster key for clustered standard errors."""
    metrics: MetricList = Field(default_factory=list)
    """Metrics added to (or overriding by name) the suite's defaults."""
    relevant: list[str] | dict[str, Real] | None = None
    """Relevant document ids (or id -> graded relevance) for retrieval metrics."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form data carried into the results."""

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and not value.strip():
            # A blank id is a blank pytest id and a baseline key nobody can read.
            raise ValueError("an id must not be empty or blank")
        return value

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return parse_metric_entries(value)

    @field_validator("messages", mode="before")
    @classmethod
    def _messages(cls, value: Any) -> Any:
        return None if value is None else check_messages(value)

    @field_validator("images", mode="before")
    @classmethod
    def _images(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return [] if value is None else value

    @field_validator("tool_results", mode="before")
    @classmethod
    def _results(cls, value: Any) -> Any:
        return _tool_results(value)

    @model_validator(mode="after")
    def _has_input(self) -> Case:
        if self.messages is None and "input" not in self.model_fields_set:
            raise ValueError("a case needs `input:` (or a conversation in `messages:`)")
        return self

    @field_validator("context", mode="before")
    @classmethod
    def _context(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return [] if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return [] if value is None else value


_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_.:/+-]{1,80}$")


class VariantSpec(BaseModel):
    """One variant of a suite: a name and what it overrides (the rest is the suite's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Its name: shown in ids (``case[NAME]``), reports and ``--mleval-variants``."""
    target: str | None = None
    """Another target spec."""
    model: str | None = None
    """Another model for the suite's ``model:`` target."""
    prompt: str | None = None
    """Another prompt template."""
    system: str | None = None
    """Another system message."""
    params: dict[str, Any] | None = None
    """Generation parameters merged over the suite's (``{temperature: 0.7}``)."""
    tools: list[ToolSpec] | None = None
    """Another tool list (replacing the suite's)."""
    api_base: str | None = None
    """Another endpoint."""

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and not _VARIANT_NAME.match(value):
            raise ValueError(
                f"variant name {value!r} must be 1-80 letters, digits or `_ . : / + -`"
            )
        return value

    def overrides(self) -> dict[str, Any]:
        """The suite fields this variant sets (``model`` not included: it rewrites the target)."""
        return {
            key: getattr(self, key)
            for key in ("target", "prompt", "system", "tools", "api_base")
            if getattr(self, key) is not None
        }


VARIANT_AXES = ("target", "model", "prompt", "system", "params", "tools", "api_base")
"""What a variant may override, and the axes a ``matrix:`` may have."""


class SuiteSpec(BaseModel):
    """The top level of an eval file."""

    model_config = ConfigDict(extra="forbid")

    suite: str | None = None
    """Suite name; defaults to the file's stem."""
    description: str | None = None
    """Free text shown in reports."""
    target: str | None = None
    """Producer of outputs: ``python:MOD:FUNC``, ``fixture:NAME``, ``model:ID``, ``rag:CFG``."""
    prompt: str | None = None
    """Jinja2 template (sandboxed) rendered per case for model targets."""
    system: str | None = None
    """System message (also a template) for model targets."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Generation parameters passed to model targets (temperature, max_tokens, ...)."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server for model targets."""
    fallbacks: list[str] = Field(default_factory=list)
    """Models tried in order when the target model fails after its retries."""
    rate_limit: RateLimitSpec | None = None
    """Rate limits for the target model."""
    timeout_s: Real | None = Field(default=None, gt=0)
    """Per-call timeout for model targets."""
    stream: bool = False
    """Stream every ``model:`` target call (sets ``stream: true`` in the calls' params, so
    it is part of their cache key): records each call's time to first token (metric
    ``ttft_ms``), inter-token latency and output tokens/s. A ``stream`` in ``params`` wins."""
    judge_model: str | None = None
    """Model used by judge metrics in this suite."""
    tools: list[ToolSpec] = Field(default_factory=list)
    """Tools every case's ``model:`` target may call (the tool loop runs them locally)."""
    max_turns: Count = Field(default=10, ge=1)
    """Model replies the tool loop may take; a case still calling tools past this errors."""
    tool_timeout_s: Real = Field(default=30.0, gt=0)
    """Seconds one tool call may take before it fails as timed out."""
    allow_tool_errors: bool = False
    """Let a case pass although a tool call failed (unknown tool, bad arguments, the tool
    raised or timed out). Off by default: a suite with tools scores ``tool_error`` on every
    case unless it lists that metric itself."""
    repeats: Count = Field(default=1, ge=1)
    """Samples per case; statistics average them per case."""
    metrics: MetricList = Field(default_factory=list)
    """Default metrics for every case."""
    gates: list[GateSpec] = Field(default_factory=list)
    """Suite-level assertions on aggregates."""
    pass_score: Real | None = None
    """Weighted rule, in (0, 1]: a case passes when the weighted mean of its metric scores in
    [0, 1] reaches this (raw measures such as latency are not averaged: they pass by ``max:``)."""
    regression_margin: Real | None = Field(default=None, ge=0)
    """Drops smaller than this never fail the regression gate (non-inferiority margin)."""
    regression_metrics: list[str] | None = None
    """Metrics whose regression against a baseline fails the run (default: every metric in both
    runs but raw measures such as latency and cost; ``pass_rate`` names the pass rate)."""
    compare_to: str | None = None
    """Another suite of the same run with the same case ids: this suite is compared with it,
    paired by case (e.g. two retrieval configurations), in the summary and results."""
    tags: list[str] = Field(default_factory=list)
    """Tags applied to every case of the suite."""
    dataset: str | DatasetSpec | list[str | DatasetSpec] | None = None
    """Extra cases from data files."""
    cases: list[dict[str, Any]] = Field(default_factory=list)
    """Inline cases (validated one by one, so errors name the case)."""
    probes: list[Any] = Field(default_factory=list)
    """Generated adversarial cases (``- family: injection``, ``count: 20``; see
    ``mleval probes list``), validated one by one so a broken entry errors alone."""
    variants: list[VariantSpec] = Field(default_factory=list)
    """Named overrides (of ``target``, ``model``, ``prompt``, ``system``, ``params``,
    ``tools``, ``api_base``): every case runs once per variant, and the variants are compared
    paired by case."""
    matrix: dict[str, list[Any] | dict[str, Any]] | None = None
    """Variants as the product of axes: ``{model: [a, b], prompt: {v1: ..., v2: ...}}`` (a
    list axis names each value by itself, a mapping axis by its key)."""
    reference: str | None = None
    """The variant every other one is compared with (default: all pairs are compared)."""
    variant_gates: Literal["all", "reference"] = "all"
    """Which variants the suite's gates apply to: each of them, or the ``reference`` only."""
    multiplicity: Literal["holm", "bh"] = "holm"
    """How the variant comparisons' p-values are adjusted across pairs and metrics: Holm
    (family-wise error) or Benjamini-Hochberg (false discovery rate)."""
    quality_metric: str | None = None
    """The metric the variants' quality-versus-cost view uses (default: ``pass_rate``)."""
    sequential: bool = False
    """Run the cases in a seeded random order and stop issuing them once every gate (and the
    regression verdict against a baseline) is decided by an anytime-valid confidence
    sequence; the cases not run are reported as not needed, and the suite's intervals are
    the confidence-sequence intervals (``--mleval-sequential`` turns it on for every suite)."""
    judge_variants: dict[str, Any] | None = None
    """Judge the variants' outputs against each other, case by case, with the ``pairwise``
    judge (its options: ``criteria``, ``samples``...): win rates and a Bradley-Terry ranking."""
    labels: list[LabelSpec] = Field(default_factory=list)
    """Human scores of some cases, per metric (``{metric: judge, path: labels.jsonl}`` or
    ``{metric: judge, values: {case-1: 0.8}}``, or a list of those): each labelled metric is
    also reported on the human scale as ``METRIC:human`` (prediction-powered, PPI++), and
    gates may use it (``stat: ppi_mean``). Label a random sample of the cases."""

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return parse_metric_entries(value)

    @field_validator("regression_metrics")
    @classmethod
    def _gating(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError(
                "regression_metrics: [] names no metric, so no regression could fail the run; "
                "leave it out to gate every metric in both runs"
            )
        return value

    @field_validator("pass_score")
    @classmethod
    def _pass_score(cls, value: float | None) -> float | None:
        # A weighted mean of scores in [0, 1]: a bound outside (0, 1] decides every case.
        if value is not None and not 0 < value <= 1:
            what = "passes" if value <= 0 else "fails"
            raise ValueError(
                f"pass_score {value:g} {what} every case: it bounds a weighted mean of scores "
                "in [0, 1]; give a value in (0, 1]"
            )
        return value

    @field_validator("cases", mode="before")
    @classmethod
    def _cases(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        return _labels(value)
