"""The JSON Schema of an eval file (``mleval schema cases``), built from the pydantic specs in
:mod:`.schema` and the metric registry's options models, so an editor completes metric names
and options and flags unknown ones, as collection does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..fielddocs import with_field_docs
from ..metrics.registry import RESERVED_OPTIONS, MetricOptions, get_metric, metric_names
from .schema import Case, SuiteSpec

__all__ = ["eval_file_json_schema", "metrics_json_schema"]


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


# The text a boolean field takes: pydantic's reading of a boolean (any case), which every
# boolean of an eval file goes through. `ignore_case: yes` is YAML 1.1's true and is read so
# (a YAML 1.2 editor sees the text "yes"), as are `on`, `off`, `y`, `n`, `t`, `f`, 1 and 0.
_BOOL_WORDS = ("true", "false", "yes", "no", "on", "off", "y", "n", "t", "f", "1", "0")
_BOOL_TEXT = "^(?:{})$".format(
    "|".join("".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in w) for w in _BOOL_WORDS)
)


def _bool_as_read(schema: Any) -> Any:
    """Let every boolean of the schema take what the runtime reads as one (``yes``, ``off``,
    ``1``...), not only YAML 1.2's ``true`` and ``false``: what collection accepts, the
    editor must not flag."""
    if isinstance(schema, dict):
        if schema.get("type") == "boolean":
            rest = {k: v for k, v in schema.items() if k != "type"}
            return {
                **rest,
                "anyOf": [
                    {"type": "boolean"},
                    {"type": "string", "pattern": _BOOL_TEXT, "description": "yes / no, on / off"},
                    {"enum": [0, 1]},
                ],
            }
        return {k: _bool_as_read(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_bool_as_read(v) for v in schema]
    return schema


_PYTHON_REF = r"^(?:python:[\w.]+:\w+|(?!python:)[\w.]+:\w+)$"
"""A tool's function as written: ``python:MODULE:FUNC`` or ``MODULE:FUNC`` (``python:app`` is
no function: the prefix comes off first, as :class:`.schema.ToolSpec` reads it)."""


def _tool_schema(model_schema: dict[str, Any]) -> dict[str, Any]:
    """ToolSpec's schema with the spellings its validator reads: the ``python:MODULE:FUNC``
    string of the README, or a mapping naming a function or a name with a ``schema``."""
    obj = dict(model_schema)
    description = obj.pop("description", "")
    props = dict(obj.get("properties", {}))
    props["python"] = {
        **props.get("python", {}),
        "anyOf": [{"type": "string", "pattern": _PYTHON_REF}, {"type": "null"}],
    }
    obj["properties"] = props
    # `ToolSpec._complete`: a function, or a schema-only tool (a name and its arguments).
    given = {"not": {"type": "null"}}
    obj["anyOf"] = [
        {"required": ["python"], "properties": {"python": given}},
        {"required": ["name", "schema"], "properties": {"name": given, "schema": given}},
    ]
    return {
        "description": description,
        "anyOf": [
            {"type": "string", "pattern": _PYTHON_REF, "description": "python:MODULE:FUNC"},
            obj,
        ],
    }


def _options_entry_schema(model: type[BaseModel] | None, defs: dict[str, Any]) -> dict[str, Any]:
    """The object an editor completes after ``- METRIC:``: the model's options + the reserved."""
    reserved = {
        "name": {"type": "string", "description": RESERVED_OPTIONS["name"]},
        "threshold": {"type": ["number", "null"], "description": RESERVED_OPTIONS["threshold"]},
        "max": {"type": ["number", "null"], "description": RESERVED_OPTIONS["max"]},
        "weight": {"type": "number", "description": RESERVED_OPTIONS["weight"]},
    }
    if model is None:
        return {"type": "object", "properties": reserved}
    with_field_docs(model)
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
    from ..safety.probes import ProbeSpec

    with_field_docs(SuiteSpec, Case, ProbeSpec)
    schema = SuiteSpec.model_json_schema()
    # Cases are validated one by one (for precise errors), so their schema is added here.
    case_schema = Case.model_json_schema()
    defs = schema.setdefault("$defs", {})
    defs.update(case_schema.pop("$defs", {}))
    props = case_schema["properties"]
    for name in (
        "id",
        "input",
        "expected",
        "context",
        "vars",
        "tags",
        "cluster",
        "relevant",
        "images",
    ):
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
    # `labels: {metric: ...}` is the one-entry spelling of a list of them.
    labels = schema["properties"]["labels"]
    schema["properties"]["labels"] = {
        "description": labels.pop("description", ""),
        "anyOf": [{"$ref": "#/$defs/LabelSpec"}, labels],
    }
    defs["ToolSpec"] = _tool_schema(defs["ToolSpec"])
    probe_schema = ProbeSpec.model_json_schema()
    defs.update(probe_schema.pop("$defs", {}))
    defs["ProbeSpec"] = probe_schema
    schema["properties"]["probes"]["items"] = {"$ref": "#/$defs/ProbeSpec"}
    schema["title"] = "pytest-mleval eval file"
    widened: dict[str, Any] = _bool_as_read(schema)
    return widened
