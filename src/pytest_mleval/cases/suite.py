"""Eval-file schema and loading: YAML suites and JSONL/CSV/JSON/YAML datasets (no pytest here).

Errors name the file, the line, the case id and the field, so a broken file is one readable
collection error rather than a traceback.

Text is read as written: an unquoted ``yes``, ``on``, ``0123`` or ``1:30`` in a text field (input,
expected, context, vars, ids, tags, a metric's text options) is that text, not YAML 1.1's
boolean or number; other fields follow YAML 1.2. Metric options are checked at load time by each
metric's options model (see :mod:`pytest_mleval.metrics.registry`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..errors import EvalFileError, MetricError
from ..metrics.registry import MetricOptionError, MetricOptions, SourceScalar, validate_options

__all__ = [
    "Case",
    "DatasetSpec",
    "GateSpec",
    "MetricSpec",
    "RateLimitSpec",
    "Suite",
    "SuiteSpec",
    "load_suite",
    "parse_metric_entries",
]

_METRIC_RESERVED = ("threshold", "max", "weight")


class MetricSpec(BaseModel):
    """One metric applied to a case: its name, pass criteria and parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str
    """The name the score is recorded under: the metric's own name (``rouge_l``, or a custom
    ``python:MODULE:FUNC``), or the ``name:`` label given to it."""
    metric: str | None = None
    """The metric to run when ``name`` is a label (``- contains: {name: has-refund, ...}``)."""
    threshold: float | None = None
    """Minimum score to pass; ``None`` uses the metric's default (informational if it has none)."""
    max: float | None = None
    """Maximum value for the metric to pass (used by ``latency_ms`` and ``cost_usd``)."""
    weight: float = 1.0
    """Weight in the suite's weighted pass rule (``pass_score``)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Metric-specific options, passed to the metric function as keyword arguments."""

    @field_validator("threshold", "max", "weight", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"must be a number, got {type(value).__name__} {value!r}")
        return value

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
            out.append(_split_metric_body(name, body, label=body.pop("name", None)))
        else:
            raise ValueError(
                f"cannot read metric entry {entry!r}: write `- NAME` or `- NAME: {{...}}`"
            )
    return out


def _split_metric_body(name: Any, body: dict[str, Any], label: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "params": {}}
    if label is not None and label != name:
        spec.update(name=label, metric=name)
    explicit = body.pop("params", None)
    for key, value in body.items():
        if key in _METRIC_RESERVED:
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

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    metric: str
    """Metric name, or ``pass_rate`` for the share of passing cases."""
    stat: Literal["mean", "median", "pass_rate", "min", "max", "corpus"] = "mean"
    """Statistic of the per-case scores (``pass_rate``: share of cases where the metric passed)."""
    min: float | None = None
    """The gate fails when the gated value is below this."""
    max: float | None = None
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
        return self


class RateLimitSpec(BaseModel):
    """Per-model rate limits for model targets."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    rpm: float | None = None
    """Requests per minute."""
    tpm: float | None = None
    """Tokens per minute."""


class DatasetSpec(BaseModel):
    """Cases loaded from a data file next to the eval file."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    path: str
    """JSONL, CSV, JSON or YAML file, relative to the eval file."""
    format: Literal["jsonl", "csv", "json", "yaml"] | None = None
    """File format; guessed from the extension when omitted."""
    mapping: dict[str, str] = Field(default_factory=dict)
    """Case field -> column name, e.g. ``{input: question, expected: answer}``."""
    limit: int | None = None
    """Read at most this many rows."""


class Case(BaseModel):
    """One eval case."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    id: str
    """Unique within the suite; the pytest id."""
    input: Any
    """What the target receives: a string or structured data."""
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
    relevant: list[str] | dict[str, float] | None = None
    """Relevant document ids (or id -> graded relevance) for retrieval metrics."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form data carried into the results."""

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return parse_metric_entries(value)

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


class SuiteSpec(BaseModel):
    """The top level of an eval file."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

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
    timeout_s: float | None = None
    """Per-call timeout for model targets."""
    judge_model: str | None = None
    """Model used by judge metrics in this suite."""
    repeats: int = Field(default=1, ge=1)
    """Samples per case; statistics average them per case."""
    metrics: MetricList = Field(default_factory=list)
    """Default metrics for every case."""
    gates: list[GateSpec] = Field(default_factory=list)
    """Suite-level assertions on aggregates."""
    pass_score: float | None = None
    """Weighted rule: a case passes when the weighted mean of its metric scores reaches this."""
    regression_margin: float | None = None
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

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return parse_metric_entries(value)

    @field_validator("cases", mode="before")
    @classmethod
    def _cases(cls, value: Any) -> Any:
        return [] if value is None else value


@dataclass
class Suite:
    """A loaded suite: its spec, its validated cases, and where they came from."""

    name: str
    spec: SuiteSpec
    path: Path
    cases: list[Case]
    lines: dict[str, int] = field(default_factory=dict)
    """Case id -> line where the case starts (1-based) in the file it came from."""

    def metrics_for(self, case: Case) -> list[MetricSpec]:
        """The suite's default metrics with the case's own added or overriding by name."""
        merged: dict[str, MetricSpec] = {m.name: m for m in self.spec.metrics}
        for m in case.metrics:
            merged[m.name] = m
        return list(merged.values())


# --------------------------------------------------------------------------- YAML with lines


def _node_line(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """Line (1-based) of the deepest YAML node reachable along a pydantic error location."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = value
                    line = key.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# ----------------------------------------------------------------- YAML as written, not as 1.1
#
# PyYAML resolves plain scalars by YAML 1.1: `yes`/`on` become true, `0123` octal 83, `1:30`
# sexagesimal 90. An answer written in an eval file must stay the text written, so the node
# tree (composed once by libyaml) is constructed here by shape: text fields take each plain
# scalar's source text; other fields read it by the YAML 1.2 core schema (only true/false are
# booleans, no sexagesimal, `1e3` is a number); mapping keys are always text, so `on:` is a key.
# Only `null`, `~` and an empty value stay empty. A metric option keeps both readings (see
# SourceScalar) until its metric's options model says which one the option takes.

_TEXT = "text"
"""Scalars are their source text; lists hold text; a mapping is structured data (typed)."""
_TYPED = "typed"
"""YAML 1.2 core reading of every scalar; keys are text."""
_VARS = "vars"
"""A mapping whose values are text (template variables, column names)."""
_METRICS = "metrics"
"""A metric list (see _construct_metric)."""
_OPTION = "option"
"""A metric option value: text and typed reading kept together."""

_Shape = str | dict[str, Any]

_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_12 = re.compile(r"[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+")
_FLOAT_12 = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
# What PyYAML's safe constructor still builds for tags this reader leaves to it (!!binary ...).
_SAFE_CONSTRUCTOR = yaml.SafeLoader("")

_GATE_SHAPE: dict[str, Any] = {"*": _TYPED, "metric": _TEXT}
_CASE_SHAPE: dict[str, Any] = {
    "*": _TYPED,
    "id": _TEXT,
    "input": _TEXT,
    "expected": _TEXT,
    "context": _TEXT,
    "vars": _VARS,
    "tags": _TEXT,
    "cluster": _TEXT,
    "relevant": _TEXT,
    "metrics": _METRICS,
}
_DATASET_SHAPE: dict[str, Any] = {"*": _TYPED, "path": _TEXT, "format": _TEXT, "mapping": _VARS}
_SUITE_SHAPE: dict[str, Any] = {
    "*": _TYPED,
    "suite": _TEXT,
    "description": _TEXT,
    "target": _TEXT,
    "prompt": _TEXT,
    "system": _TEXT,
    "api_base": _TEXT,
    "fallbacks": _TEXT,
    "judge_model": _TEXT,
    "compare_to": _TEXT,
    "tags": _TEXT,
    "regression_metrics": _TEXT,
    "metrics": _METRICS,
    "gates": _GATE_SHAPE,
    "dataset": _DATASET_SHAPE,
    "cases": _CASE_SHAPE,
}
# A dataset file: a list of cases, or a mapping with `cases:`.
_DATASET_FILE_SHAPE: dict[str, Any] = {**_CASE_SHAPE, "cases": _CASE_SHAPE}


def _safe_construct(node: yaml.Node) -> Any:
    """PyYAML's safe construction of a node with a tag of its own (``!!binary``, ``!!set``)."""
    try:
        return _SAFE_CONSTRUCTOR.construct_object(node, deep=True)
    finally:
        # The constructor remembers every node it built; this one is shared across files.
        _SAFE_CONSTRUCTOR.constructed_objects.clear()
        _SAFE_CONSTRUCTOR.recursive_objects.clear()


def _typed_scalar(node: yaml.ScalarNode) -> Any:
    """A scalar by the YAML 1.2 core schema (quoted and block scalars are always text)."""
    value: str = node.value
    if node.style:
        return value
    tag = node.tag
    if tag == _STR_TAG:
        # PyYAML (1.1) needs a dot in a float; YAML 1.2 reads `1e3` as a number.
        if _FLOAT_12.fullmatch(value):
            return _SAFE_CONSTRUCTOR.construct_yaml_float(node)
        return value
    if tag == _NULL_TAG:
        return None if value in _NULLS else value
    if tag == _BOOL_TAG:
        return _BOOLS.get(value, value)
    if tag == _INT_TAG:
        if not _INT_12.fullmatch(value):
            return value  # 1:30, 0b101, 1_000: text in YAML 1.2
        if value.startswith("0o"):
            return int(value[2:], 8)
        return int(value, 16) if value.startswith("0x") else int(value)
    if tag == _FLOAT_TAG:
        if ":" in value or "_" in value:
            return value
        return _SAFE_CONSTRUCTOR.construct_yaml_float(node)
    if tag == "tag:yaml.org,2002:timestamp":
        return value  # dates stay as written: results are JSON
    return _safe_construct(node)


def _text_scalar(node: yaml.ScalarNode) -> Any:
    if not node.style and node.tag == _NULL_TAG and node.value in _NULLS:
        return None
    return node.value


def _option_scalar(node: yaml.ScalarNode) -> Any:
    typed = _typed_scalar(node)
    if typed is None or isinstance(typed, str):
        return typed
    return SourceScalar.of(node.value, typed)


def _key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    value = _construct(node, _TYPED)
    if isinstance(value, list):
        return tuple(value)
    raise yaml.constructor.ConstructorError(
        None, None, "a mapping key must be a plain value", node.start_mark
    )


def _pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    if any(k.tag == _MERGE_TAG for k, _ in node.value):
        _SAFE_CONSTRUCTOR.flatten_mapping(node)  # `<<: *defaults` merges, as PyYAML does
    return node.value  # type: ignore[no-any-return]


def _construct(node: yaml.Node, shape: _Shape) -> Any:
    """Build Python data from a node tree, reading scalars as the field's shape says."""
    if isinstance(node, yaml.ScalarNode):
        if shape == _TYPED:
            return _typed_scalar(node)
        if shape == _OPTION:
            return _option_scalar(node)
        return _text_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            return _safe_construct(node)
        if shape == _METRICS:
            return [_construct_metric(item) for item in node.value]
        item_shape = _TEXT if shape == _VARS else shape
        return [_construct(item, item_shape) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            return _safe_construct(node)
        pairs = _pairs(node)
        if isinstance(shape, dict):
            default: _Shape = shape["*"]
            out: dict[Any, Any] = {}
            for kn, vn in pairs:
                k = _key(kn)
                sub: _Shape = shape.get(k, default) if isinstance(k, str) else default
                out[k] = _construct(vn, sub)
            return out
        if shape == _VARS:
            return {_key(kn): _construct(vn, _TEXT) for kn, vn in pairs}
        if shape == _OPTION:
            return {_key(kn): _construct(vn, _OPTION) for kn, vn in pairs}
        if shape == _METRICS:
            return _construct_metric(node)
        # Structured data inside a text field (a mapping `input:`) keeps its types.
        return {_key(kn): _construct(vn, _TYPED) for kn, vn in pairs}
    raise yaml.constructor.ConstructorError(None, None, "unknown node", node.start_mark)


_OPTIONS_SHAPE: dict[str, Any] = {
    "*": _OPTION,
    "threshold": _TYPED,
    "max": _TYPED,
    "weight": _TYPED,
    "name": _TEXT,
    "metric": _TEXT,
    "params": _OPTION,
}


def _construct_metric(node: yaml.Node) -> Any:
    """One metric entry: ``- NAME``, ``- NAME: VALUE``, ``- NAME: {...}`` or ``- {name: ...}``."""
    if not isinstance(node, yaml.MappingNode):
        return _construct(node, _TEXT)
    pairs = _pairs(node)
    keys = [k.value for k, _ in pairs if isinstance(k, yaml.ScalarNode)]
    if len(pairs) == 1 and keys and keys[0] not in ("name", "metric"):
        ((kn, vn),) = pairs
        # `- contains: "30 days"` (a shorthand value) or `- contains: {value: ...}` (options).
        return {
            _key(kn): _construct(vn, _OPTIONS_SHAPE if isinstance(vn, yaml.MappingNode) else _TEXT)
        }
    return _construct(node, _OPTIONS_SHAPE)


def _read_yaml(path: Path, shape: _Shape = _TYPED) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvalFileError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    except OSError as exc:
        raise EvalFileError(f"cannot read: {exc.strerror}", path=str(path)) from None
    try:
        # Safe loading only: no python/object tags can construct anything. The node tree is
        # composed once (libyaml when available) and kept for line numbers in error messages.
        node = yaml.compose(text, Loader=_LOADER)
        data = None if node is None else _construct(node, shape)
    except RecursionError:
        raise EvalFileError("invalid YAML: an alias refers to itself", path=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise EvalFileError(
            f"invalid YAML: {problem}",
            path=str(path),
            line=None if mark is None else mark.line + 1,
        ) from None
    return data, node


def _first_error(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    return loc, msg


def _field_name(loc: Sequence[Any]) -> str | None:
    names = [str(p) for p in loc if not isinstance(p, int)]
    return ".".join(names) if names else None


_ID_SAFE = re.compile(r"[^\w.\-]+")


def _validate_case(
    raw: Any,
    *,
    default_id: str,
    path: Path,
    line_of: Any,
) -> Case:
    if not isinstance(raw, dict):
        raise EvalFileError(
            f"a case must be a mapping, got {type(raw).__name__}", path=str(path), line=line_of(())
        )
    data = dict(raw)
    data.setdefault("id", default_id)
    case_id = str(data.get("id"))
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        loc, msg = _first_error(exc)
        raise EvalFileError(
            msg, path=str(path), line=line_of(loc), case_id=case_id, field=_field_name(loc)
        ) from None


def load_suite(path: str | Path, *, known_metric: Any = None) -> Suite:
    """Load and validate an eval file with its datasets.

    Args:
        path: The eval file.
        known_metric: Optional callable ``name -> str | None`` returning an error message for an
            unknown metric name (the metric registry passes its own check).

    Returns:
        The suite with every case validated.

    Raises:
        EvalFileError: naming the file, line, case id and field of the first problem.
    """
    path = Path(path)
    data, root = _read_yaml(path, _SUITE_SHAPE)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EvalFileError(
            "the top level must be a mapping (suite:, cases:, ...)", path=str(path), line=1
        )
    try:
        spec = SuiteSpec.model_validate(data)
    except ValidationError as exc:
        loc, msg = _first_error(exc)
        raise EvalFileError(
            msg, path=str(path), line=_node_line(root, loc), field=_field_name(loc)
        ) from None
    name = spec.suite or _suite_stem(path)
    checked = _checked_metrics(
        spec.metrics,
        known_metric,
        path=path,
        line_of=lambda loc: _node_line(root, ("metrics", *loc)),
    )
    if checked is not spec.metrics:
        spec = spec.model_copy(update={"metrics": checked})

    cases: list[Case] = []
    lines: dict[str, int] = {}
    for index, raw in enumerate(spec.cases):

        def line_of(loc: Sequence[Any], index: int = index) -> int | None:
            return _node_line(root, ("cases", index, *loc))

        def metric_line(loc: Sequence[Any], index: int = index) -> int | None:
            # `()` is the case itself; `(j, ...)` the j-th metric entry and its options.
            return _node_line(root, ("cases", index, *(("metrics", *loc) if loc else ())))

        case = _validate_case(raw, default_id=f"case-{index + 1}", path=path, line_of=line_of)
        case = _check_case_metrics(case, known_metric, path=path, line_of=metric_line)
        _add_case(cases, lines, case, path=path, line=line_of(()))

    datasets = spec.dataset if isinstance(spec.dataset, list) else [spec.dataset]
    for ds in datasets:
        if ds is None:
            continue
        ds_spec = DatasetSpec(path=ds) if isinstance(ds, str) else ds
        from .datasets import load_dataset

        for case, ds_path, line in load_dataset(
            path.parent / ds_spec.path, ds_spec, eval_file=path
        ):
            case = _check_case_metrics(
                case, known_metric, path=ds_path, line_of=_constant_line(line)
            )
            _add_case(cases, lines, case, path=ds_path, line=line)

    if known_metric is not None:
        _check_gate_metrics(spec, cases, known_metric, path=path, root=root)
    return Suite(name=name, spec=spec, path=path, cases=cases, lines=lines)


def _constant_line(line: int | None) -> Callable[[Sequence[Any]], int | None]:
    # A dataset row's errors all point at the row.
    return lambda loc: line


def _check_case_metrics(
    case: Case, known_metric: Any, *, path: Path, line_of: Callable[[Sequence[Any]], int | None]
) -> Case:
    if not case.metrics:
        return case
    checked = _checked_metrics(
        case.metrics, known_metric, path=path, line_of=line_of, case_id=case.id
    )
    return case if checked is case.metrics else case.model_copy(update={"metrics": checked})


def _checked_metrics(
    metrics: list[MetricSpec],
    known_metric: Any,
    *,
    path: Path,
    line_of: Callable[[Sequence[Any]], int | None],
    case_id: str | None = None,
) -> list[MetricSpec]:
    """One metric list, checked at collection: names, options by each metric's model, labels.

    Returns the list with options validated (text or number as each option takes), or the
    very same list when nothing changed (the common case of option-less metrics).
    """
    out: list[MetricSpec] = []
    changed = False
    seen: dict[str, int] = {}
    for j, m in enumerate(metrics):
        if m.name in seen:
            first = seen[m.name]
            raise EvalFileError(
                f"metric {m.name!r} is listed twice (first at line {first}): give each entry a "
                f"distinct `name:` label, e.g. `- {m.kind}: {{name: {m.kind}-2, ...}}`",
                path=str(path),
                line=line_of((j,)),
                case_id=case_id,
                field="metrics",
            )
        seen[m.name] = line_of((j,)) or 0
        if known_metric is not None:
            problem = known_metric(m.kind)
            if problem:
                # A case's unknown metric points at the case (where its id is), as always.
                line = line_of((j,)) if case_id is None else line_of(())
                raise EvalFileError(
                    problem, path=str(path), line=line, case_id=case_id, field="metrics"
                )
        elif m.kind.startswith("python:"):
            # Without the registry's check, user modules are not imported just to load a file.
            params = _resolve_sources(m.params)
            out.append(m if params is m.params else m.model_copy(update={"params": params}))
            changed = changed or params is not m.params
            continue
        try:
            params = validate_options(m.kind, m.params) if m.params else m.params
        except MetricOptionError as exc:
            option = exc.option or ""
            # The option's own line: `- contains: {valu: x}` or `- {name: contains, valu: x}`.
            line = max(
                (n for n in (line_of((j, m.kind, option)), line_of((j, option))) if n),
                default=line_of((j,)),
            )
            raise EvalFileError(
                exc.problem,
                path=str(path),
                line=line,
                case_id=case_id,
                field=f"metrics.{m.name}.{option}" if option else f"metrics.{m.name}",
            ) from None
        except MetricError:
            params = _resolve_sources(m.params)  # unknown here: the caller did not ask to check
        except Exception as exc:
            # A custom options model may raise anything; it is still this file's one error.
            raise EvalFileError(
                f"options of metric {m.kind!r} cannot be checked: {type(exc).__name__}: {exc}",
                path=str(path),
                line=line_of((j,)),
                case_id=case_id,
                field=f"metrics.{m.name}",
            ) from None
        if params != m.params or _has_sources(m.params):
            m = m.model_copy(update={"params": params})
            changed = True
        out.append(m)
    return out if changed else metrics


def _resolve_sources(params: dict[str, Any]) -> dict[str, Any]:
    """Options of a metric without a model: every scalar by its typed (YAML 1.2) reading."""
    from ..metrics.registry import _typed

    resolved: dict[str, Any] = _typed(params)
    return resolved if resolved != params or _has_sources(params) else params


def _has_sources(value: Any) -> bool:
    if isinstance(value, SourceScalar):
        return True
    if isinstance(value, dict):
        return any(_has_sources(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_sources(v) for v in value)
    return False


def _suite_stem(path: Path) -> str:
    name = path.name
    for suffix in (".eval.yaml", ".eval.yml", ".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.startswith("eval_"):
        name = name[len("eval_") :]
    return name


def _add_case(
    cases: list[Case], lines: dict[str, int], case: Case, *, path: Path, line: int | None
) -> None:
    if case.id in lines:
        raise EvalFileError(
            f"duplicate case id (first defined at line {lines[case.id]})",
            path=str(path),
            line=line,
            case_id=case.id,
            field="id",
        )
    cases.append(case)
    lines[case.id] = line or 0


def _check_gate_metrics(
    spec: SuiteSpec,
    cases: list[Case],
    known_metric: Any,
    *,
    path: Path,
    root: yaml.Node | None,
) -> None:
    metric_names = {m.name for m in spec.metrics} | {m.name for c in cases for m in c.metrics}
    for gate_index, gate in enumerate(spec.gates):
        if gate.metric != "pass_rate" and gate.metric not in metric_names:
            problem = known_metric(gate.metric)
            if problem:
                raise EvalFileError(
                    problem,
                    path=str(path),
                    line=_node_line(root, ("gates", gate_index)),
                    field="gates.metric",
                )


# --------------------------------------------------------------------------- JSON Schema


def _text_as_written(schema: Any) -> Any:
    """Let a plain-text schema also take what a YAML 1.2 editor reads as a number or boolean.

    Collection reads an unquoted ``30`` or ``yes`` in a text field as that text, so the schema
    must not flag it; strings with an enum, const or pattern stay as they are.
    """
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not ({"enum", "const", "pattern"} & set(schema)):
            return {**schema, "type": ["string", "number", "boolean"]}
        return {k: _text_as_written(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_text_as_written(v) for v in schema]
    return schema


def _options_entry_schema(model: type[BaseModel] | None, defs: dict[str, Any]) -> dict[str, Any]:
    """The object an editor completes after ``- METRIC:``: the model's options + the reserved."""
    from ..metrics.registry import RESERVED_OPTIONS

    reserved = {
        "name": {"type": "string", "description": RESERVED_OPTIONS["name"]},
        "threshold": {"type": ["number", "null"], "description": RESERVED_OPTIONS["threshold"]},
        "max": {"type": ["number", "null"], "description": RESERVED_OPTIONS["max"]},
        "weight": {"type": "number", "description": RESERVED_OPTIONS["weight"]},
    }
    if model is None:
        return {"type": "object", "properties": reserved}
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    text = model.text_fields() if issubclass(model, MetricOptions) else frozenset()
    properties = {
        name: _text_as_written(prop) if name in text else prop
        for name, prop in schema.get("properties", {}).items()
    }
    properties.update(reserved)
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if schema.get("description"):
        out["description"] = schema["description"]
    return out


def metrics_json_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of a metric list, built from the registry's metric names and options models.

    Each metric's options model is one ``$defs`` entry (``options.NAME``), added to ``defs``.
    Custom metrics appear as ``python:MODULE:FUNC`` (any options) or, when registered before
    the schema is built, under their names.
    """
    from ..metrics.registry import get_metric, metric_names

    names = metric_names()
    for name in names:
        mdef = get_metric(name)
        entry = _options_entry_schema(mdef.options_model(), defs)
        entry["description"] = (mdef.description or name) + (
            f" -- {entry['description']}" if entry.get("description") else ""
        )
        defs[f"options.{name}"] = entry
    custom = {"type": "string", "pattern": r"^python:[\w.]+:\w+$"}
    single = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {
            name: {
                "anyOf": [
                    {"$ref": f"#/$defs/options.{name}"},
                    # `- contains: "30 days"`: a shorthand for the `value` option.
                    {"type": ["string", "number", "boolean", "array", "null"]},
                ]
            }
            for name in names
        },
        "patternProperties": {r"^python:[\w.]+:\w+$": {}},
        "additionalProperties": False,
    }
    explicit = []
    for name in names:
        # `- {name: METRIC, ...}` and `- {metric: METRIC, name: LABEL, ...}`.
        ref = defs[f"options.{name}"]
        for key in ("name", "metric"):
            props = {**ref.get("properties", {}), key: {"const": name}}
            if key == "metric":
                props["name"] = {"type": "string", "description": "label"}
            explicit.append(
                {
                    "type": "object",
                    "required": [key],
                    "properties": props,
                    "additionalProperties": ref.get("additionalProperties", True),
                }
            )
    explicit.append({"type": "object", "required": ["name"], "properties": {"name": custom}})
    explicit.append({"type": "object", "required": ["metric"], "properties": {"metric": custom}})
    return {
        "type": "array",
        "description": "metrics: `- NAME`, `- NAME: {threshold: 0.5, ...}`, `- {name: NAME, ...}`",
        "items": {
            "anyOf": [
                {"enum": names, "description": "a built-in metric"},
                {**custom, "description": "a custom metric: python:MODULE:FUNC"},
                single,
                *explicit,
            ]
        },
    }


def eval_file_json_schema() -> dict[str, Any]:
    """The JSON Schema of an eval file (``mleval schema cases``).

    Metric names and each metric's options come from the metric registry's options models, so
    an editor completes them and flags unknown ones, as collection does.
    """
    schema = SuiteSpec.model_json_schema()
    # Cases are validated one by one (for precise errors), so their schema is added here.
    case_schema = Case.model_json_schema()
    defs = schema.setdefault("$defs", {})
    defs.update(case_schema.pop("$defs", {}))
    props = case_schema["properties"]
    for name in ("id", "input", "expected", "context", "vars", "tags", "cluster", "relevant"):
        props[name] = _text_as_written(props[name])
    defs["Case"] = case_schema
    schema["properties"]["cases"]["items"] = {"$ref": "#/$defs/Case"}
    defs["MetricList"] = metrics_json_schema(defs)
    for owner in (schema, case_schema):
        metrics = owner["properties"]["metrics"]
        owner["properties"]["metrics"] = {
            "$ref": "#/$defs/MetricList",
            "description": metrics.get("description", ""),
        }
    schema["title"] = "pytest-mleval eval file"
    return schema
