"""The strict YAML reader of eval files and datasets: text as written, line numbers kept.

Text is read as written: an unquoted ``yes``, ``on``, ``0123`` or ``1:30`` in a text field (input,
expected, context, vars, ids, tags, a metric's text options) is that text, not YAML 1.1's
boolean or number; other fields follow YAML 1.2. The node tree is kept so that a validation
error names the line it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..conversation.messages import MessageError, check_messages
from ..errors import EvalFileError, MetricError
from ..metrics.base import SourceScalar
from ..metrics.registry import options_model, unknown_metric_problem
from .schema import Case, parse_metric_entries

__all__ = [
    "DATASET_FILE_SHAPE",
    "SUITE_SHAPE",
    "field_name",
    "first_error",
    "located_error",
    "node_line",
    "read_yaml",
    "validate_case",
]


def node_line(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
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
    "messages": {"*": _TEXT, "tool_calls": _TYPED},
    "images": _TEXT,
    "tools": {"*": _TEXT, "schema": _TYPED, "parameters": _TYPED, "timeout_s": _TYPED},
}
_DATASET_SHAPE: dict[str, Any] = {"*": _TYPED, "path": _TEXT, "format": _TEXT, "mapping": _VARS}
SUITE_SHAPE: dict[str, Any] = {
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
    "tools": {"*": _TEXT, "schema": _TYPED, "parameters": _TYPED, "timeout_s": _TYPED},
    "variants": {"*": _TEXT, "params": _TYPED, "tools": _TYPED},
    "reference": _TEXT,
    "quality_metric": _TEXT,
    "metrics": _METRICS,
    "gates": _GATE_SHAPE,
    "labels": {
        "*": _TYPED,
        "metric": _TEXT,
        "path": _TEXT,
        "column": _TEXT,
        "id_column": _TEXT,
        "variant": _TEXT,
    },
    "dataset": _DATASET_SHAPE,
    "cases": _CASE_SHAPE,
}
# A dataset file: a list of cases, or a mapping with `cases:`.
DATASET_FILE_SHAPE: dict[str, Any] = {**_CASE_SHAPE, "cases": _CASE_SHAPE}


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
    if not getattr(node, "_mleval_keys_checked", False):
        # A key given twice is the user's mistake, not "the last one wins" (a second
        # `cases:` dropped the first list). Keys a merge (`<<: *d`) brings in may be
        # overridden: checked before the merge flattens them in.
        first: dict[str, yaml.Node] = {}
        for kn, _ in node.value:
            if not isinstance(kn, yaml.ScalarNode) or kn.tag == _MERGE_TAG:
                continue
            if kn.value in first:
                line = first[kn.value].start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {kn.value!r} (first at line {line})",
                    kn.start_mark,
                )
            first[kn.value] = kn
        node._mleval_keys_checked = True  # type: ignore[attr-defined]
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


def read_yaml(path: Path, shape: _Shape = _TYPED) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvalFileError.not_utf8(exc, str(path)) from None
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


_TYPE_TAG = re.compile(r"^(?:[A-Z]\w*|str|int|float|bool|dict|list|none)$|\[")


def _union_tags(errors: Sequence[Any]) -> set[tuple[int, int]]:
    """``(error, index)`` of the loc parts that name a union's branch, not a key.

    pydantic reports a value that fits no branch of ``str | DatasetSpec | list[...]`` once per
    branch, at ``("dataset", "DatasetSpec", "limit")``: two or more errors under one prefix
    whose parts there are type names.
    """
    tags = set()
    for e, err in enumerate(errors):
        loc = tuple(err["loc"])
        for i, part in enumerate(loc):
            if not (isinstance(part, str) and _TYPE_TAG.search(part)):
                continue
            if any(
                tuple(o["loc"][:i]) == loc[:i]
                and len(o["loc"]) > i
                and o["loc"][i] != part
                and isinstance(o["loc"][i], str)
                and _TYPE_TAG.search(o["loc"][i])
                for o in errors
            ):
                tags.add((e, i))
    return tags


def first_error(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    errors = exc.errors(include_url=False)
    tags = _union_tags(errors)
    first = 0
    if tags:
        # Of a union's branches, the one the value was written for: the error that is not
        # "not a string" / "not a list" (`limit: 0` in a dataset mapping, not `dataset.str`).
        top = errors[0]["loc"][:1]
        for e, err in enumerate(errors):
            if tuple(err["loc"][:1]) == tuple(top) and not err["type"].endswith("_type"):
                first = e
                break
    err = errors[first]
    loc = tuple(p for i, p in enumerate(err["loc"]) if (first, i) not in tags)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] == "value_error":
        # Our validators' own words, without pydantic's "Value error, " in front.
        msg = msg.removeprefix("Value error, ")
    return loc, msg


def field_name(loc: Sequence[Any]) -> str | None:
    names = [str(p) for p in loc if not isinstance(p, int)]
    return ".".join(names) if names else None


LineOf = Callable[[Sequence[Any]], int | None]
"""The line of a node of the file being read, by its keys and indexes from the top."""

_ENTRY_OPTIONS = ("threshold", "max", "weight")
"""The options a metric entry itself holds (MetricSpec's fields), not its metric function."""


def located_error(exc: ValidationError, data: Any, line_of: LineOf) -> dict[str, Any]:
    """The ``message``, ``line`` and ``field`` of an EvalFileError for a failed validation.

    Args:
        exc: The error of validating ``data`` (a suite or a case).
        data: What was validated, for the metric entry an error sits in.
        line_of: The line of a location in ``data``.

    Returns:
        Keyword arguments of :class:`EvalFileError`.
    """
    loc, msg = first_error(exc)
    entry = _metric_entry_error(data, loc, msg, line_of)
    if entry is not None:
        return entry
    return {"message": msg, "line": line_of(loc), "field": field_name(loc)}


def _metric_entry_error(
    data: Any, loc: tuple[Any, ...], msg: str, line_of: LineOf
) -> dict[str, Any] | None:
    """An error in a metric entry's ``threshold``, ``max`` or ``weight``, worded as the
    registry words an error of the metric's own options: it names the metric and lists the
    valid options (the bare ``metrics.threshold`` said neither which metric nor what else)."""
    if not (
        len(loc) == 3
        and loc[0] == "metrics"
        and isinstance(loc[1], int)
        and loc[2] in _ENTRY_OPTIONS
        and isinstance(data, dict)
    ):
        return None
    try:
        entries = parse_metric_entries(data.get("metrics"))
    except ValueError:
        return None
    if loc[1] >= len(entries):
        return None
    entry = entries[loc[1]]
    kind, label, option = str(entry.get("metric") or entry["name"]), str(entry["name"]), loc[2]
    index = loc[1]
    entry_line = line_of(("metrics", index))
    valid = ""
    if not kind.startswith("python:"):
        # A custom metric is not imported just to word an error; a built-in is looked up.
        problem = unknown_metric_problem(kind)
        if problem:
            # The metric itself is the mistake: its options are beside the point.
            return {"message": problem, "line": entry_line, "field": "metrics"}
        try:
            model = options_model(kind)
        except MetricError:
            model = None
        if model is not None:
            valid = f" (valid options: {model.valid_options()})"
    # The option's own line: `- rouge_l: {threshold: x}` or `- {name: rouge_l, threshold: x}`.
    lines = [line_of(("metrics", index, kind, option)), line_of(("metrics", index, option))]
    return {
        "message": f"option {option!r} of metric {kind!r}: {msg}{valid}",
        "line": max((n for n in lines if n), default=entry_line),
        "field": f"metrics.{label}.{option}",
    }


def validate_case(
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
    if "input" not in data and data.get("messages") is None:
        raise EvalFileError(
            "required field is missing (or give a conversation in `messages:`)",
            path=str(path),
            line=line_of(()),
            case_id=case_id,
            field="input",
        )
    if data.get("messages") is not None:
        # Checked here first so the error points at the message at fault, not the list.
        try:
            data["messages"] = check_messages(data["messages"])
        except MessageError as exc:
            loc: tuple[Any, ...] = ("messages",) if exc.index is None else ("messages", exc.index)
            raise EvalFileError(
                str(exc), path=str(path), line=line_of(loc), case_id=case_id, field="messages"
            ) from None
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        raise EvalFileError(
            **located_error(exc, data, line_of), path=str(path), case_id=case_id
        ) from None
