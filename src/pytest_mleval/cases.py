"""Eval-file schema and loading: YAML suites and JSONL/CSV/JSON/YAML datasets (no pytest here).

Errors name the file, the line, the case id and the field, so a broken file is one readable
collection error rather than a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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

from .errors import EvalFileError

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
    """Registered metric name (``rouge_l``) or a custom metric as ``python:MODULE:FUNC``."""
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


def parse_metric_entries(entries: Any) -> list[dict[str, Any]]:
    """Normalise the YAML spellings of a metric list into ``MetricSpec`` field dicts.

    Accepted: ``- exact``, ``- exact: {threshold: 1}``, ``- {name: exact, threshold: 1}``.
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
            out.append(_split_metric_body(name, dict(body)))
        else:
            raise ValueError(
                f"cannot read metric entry {entry!r}: write `- NAME` or `- NAME: {{...}}`"
            )
    return out


def _split_metric_body(name: Any, body: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "params": {}}
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


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
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
        data = None if node is None else yaml.SafeLoader("").construct_document(node)
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
    data, root = _read_yaml(path)
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

    cases: list[Case] = []
    lines: dict[str, int] = {}
    for index, raw in enumerate(spec.cases):

        def line_of(loc: Sequence[Any], index: int = index) -> int | None:
            return _node_line(root, ("cases", index, *loc))

        case = _validate_case(raw, default_id=f"case-{index + 1}", path=path, line_of=line_of)
        _add_case(cases, lines, case, path=path, line=line_of(()))

    datasets = spec.dataset if isinstance(spec.dataset, list) else [spec.dataset]
    for ds in datasets:
        if ds is None:
            continue
        ds_spec = DatasetSpec(path=ds) if isinstance(ds, str) else ds
        from .dataset_files import load_dataset

        for case, ds_path, line in load_dataset(
            path.parent / ds_spec.path, ds_spec, eval_file=path
        ):
            _add_case(cases, lines, case, path=ds_path, line=line)

    if known_metric is not None:
        _check_metric_names(spec, cases, known_metric, path=path, root=root, lines=lines)
    return Suite(name=name, spec=spec, path=path, cases=cases, lines=lines)


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


def _check_metric_names(
    spec: SuiteSpec,
    cases: list[Case],
    known_metric: Any,
    *,
    path: Path,
    root: yaml.Node | None,
    lines: dict[str, int],
) -> None:
    for j, m in enumerate(spec.metrics):
        problem = known_metric(m.name)
        if problem:
            raise EvalFileError(
                problem, path=str(path), line=_node_line(root, ("metrics", j)), field="metrics"
            )
    for gate_index, gate in enumerate(spec.gates):
        metric_names = {m.name for m in spec.metrics} | {m.name for c in cases for m in c.metrics}
        if gate.metric != "pass_rate" and gate.metric not in metric_names:
            problem = known_metric(gate.metric)
            if problem:
                raise EvalFileError(
                    problem,
                    path=str(path),
                    line=_node_line(root, ("gates", gate_index)),
                    field="gates.metric",
                )
    for case in cases:
        for m in case.metrics:
            problem = known_metric(m.name)
            if problem:
                raise EvalFileError(
                    problem,
                    path=str(path),
                    line=lines.get(case.id) or None,
                    case_id=case.id,
                    field="metrics",
                )
