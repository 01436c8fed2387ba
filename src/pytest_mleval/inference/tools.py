"""The tools a ``model:`` target offers the model, ready to run: their OpenAI definitions, the
check of each call's arguments, and the call itself (locally, in a thread, with a timeout).

Two kinds (``ToolSpec`` in the eval file):

- a Python function (``python:MODULE:FUNC``, imported beside the eval file or from the rootdir
  as ``python:`` targets are): its JSON schema comes from the signature and the Google
  docstring (a pydantic model of the parameters, each described by the docstring's ``Args:``),
  and that model validates the arguments; an explicit ``schema:`` replaces both (validated
  with ``jsonschema``);
- a schema-only tool: its arguments are validated with ``jsonschema`` and its result is the
  case's scripted one (``tool_results:``, the first entry of its name whose ``args`` are a
  subset of the call's).

A call that cannot be answered (unknown tool, arguments not JSON or not valid, the tool raised
or timed out, no scripted result) is a *tool error*: recorded on the call and sent back to the
model as ``{"error": "..."}``, the form :func:`~pytest_mleval.conversation.is_error_result`
reads. A tool that cannot be loaded (module missing, no such function, a signature with no JSON
schema) is an error of the case, raised before the first model call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import inspect
import json
import re
import threading
import time
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..cases.case import EvalCase
from ..cases.schema import ToolResultSpec, ToolSpec
from ..conversation.trajectory import ToolCall
from ..errors import TargetError
from ..targets.registry import import_ref

__all__ = [
    "RuntimeTool",
    "ToolBox",
    "ToolLoader",
    "load_tool",
    "parse_docstring",
    "tool_content",
]

_MAX_ERRORS = 5
"""Validation problems named in one tool error (the rest are counted)."""


class _CallFailed(Exception):
    """One call cannot be answered; the message is the tool error the model gets."""


class _Raised(Exception):
    """A tool raised a BaseException that is not an Exception (``SystemExit``)."""

    def __init__(self, raised: BaseException) -> None:
        super().__init__(str(raised))
        self.raised = raised


@dataclasses.dataclass(frozen=True)
class RuntimeTool:
    """One tool, loaded: its definition for the model and how a call of it is answered.

    Attributes:
        name: What the model calls it.
        description: What it does, for the model (may be empty).
        parameters: JSON schema of the arguments (an object schema).
        fn: The Python function; ``None`` for a schema-only tool (results scripted per case).
        timeout_s: The tool's own timeout (``None``: the case's ``tool_timeout_s``).
        arguments_model: The pydantic model built from ``fn``'s signature, which validates
            the arguments; ``None`` when an explicit schema is validated with ``jsonschema``.
        positional: Parameters of ``fn`` that must be passed by position, in order.
        keywords: Whether ``fn`` takes ``**kwargs`` (arguments outside the schema go there).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any] | None = None
    timeout_s: float | None = None
    arguments_model: Any = None
    positional: tuple[str, ...] = ()
    keywords: bool = False

    def definition(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry: ``{"type": "function", "function": {...}}``."""
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.parameters
        return {"type": "function", "function": function}

    def arguments(self, value: Any) -> tuple[list[Any], dict[str, Any]]:
        """The positional and keyword arguments of a call, validated.

        Raises:
            _CallFailed: not a JSON object, or not matching the schema (naming the argument).
        """
        if not isinstance(value, Mapping):
            raise _CallFailed(
                f"arguments of {self.name} must be a JSON object, got {type(value).__name__}"
            )
        if self.arguments_model is None:
            problems = _schema_problems(self.parameters, value)
            if problems:
                raise _CallFailed(f"invalid arguments for {self.name}: {problems}")
            return [], dict(value)
        from pydantic import ValidationError

        try:
            checked = self.arguments_model.model_validate(dict(value))
        except ValidationError as exc:
            raise _CallFailed(
                f"invalid arguments for {self.name}: {_pydantic_problems(exc)}"
            ) from None
        fields = self.arguments_model.model_fields
        args = [getattr(checked, f"p_{name}") for name in self.positional]
        # Only the arguments given: the function's own defaults apply to the others.
        kwargs = {
            fields[key].alias: getattr(checked, key)
            for key in checked.model_fields_set
            if key in fields and fields[key].alias not in self.positional
        }
        kwargs.update(checked.model_extra or {})
        return args, kwargs


def _schema_problems(schema: Mapping[str, Any], value: Any) -> str:
    from jsonschema.validators import validator_for

    validator = validator_for(schema)(schema)
    errors = sorted(
        validator.iter_errors(value), key=lambda e: ([str(p) for p in e.absolute_path], e.message)
    )
    shown = []
    for error in errors[:_MAX_ERRORS]:
        path = ".".join(str(p) for p in error.absolute_path)
        shown.append(f"{path}: {error.message}" if path else error.message)
    if len(errors) > _MAX_ERRORS:
        shown.append(f"and {len(errors) - _MAX_ERRORS} more")
    return "; ".join(shown)


def _pydantic_problems(exc: Any) -> str:
    errors = exc.errors(include_url=False)
    shown = [
        f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
        for e in errors[:_MAX_ERRORS]
    ]
    if len(errors) > _MAX_ERRORS:
        shown.append(f"and {len(errors) - _MAX_ERRORS} more")
    return "; ".join(shown)


# --------------------------------------------------------------------------- loading

_ARGS_SECTION = re.compile(
    r"^(?:Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments)\s*:\s*$"
)
_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """A Google-style docstring's first paragraph and its ``Args:`` descriptions.

    Returns:
        The summary (the first paragraph, its lines joined by spaces) and a description per
        argument name (continuation lines joined).
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()):
            break
        summary.append(line.strip())
    described: dict[str, str] = {}
    for start, line in enumerate(lines):
        if _ARGS_SECTION.match(line.strip()) and not line.startswith((" ", "\t")):
            described.update(_args_section(lines[start + 1 :]))
    return " ".join(summary), described


def _args_section(lines: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    indent: int | None = None
    current: str | None = None
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            if depth == 0:
                break
            indent = depth
        if depth < indent:
            break  # the next section (or the end of this one)
        m = _ARG_LINE.match(line.strip())
        if depth == indent and m:
            current = m.group(1)
            out[current] = m.group(2).strip()
        elif current is not None:
            out[current] = f"{out[current]} {line.strip()}".strip()
    return out


def load_tool(spec: ToolSpec, *, base_dir: Path | None, rootpath: Path | None) -> RuntimeTool:
    """Load one tool of a case: import its function, build or check its JSON schema.

    Raises:
        TargetError: the module does not import, the function is missing or not callable, its
            signature has no JSON schema, or an explicit schema is not a valid JSON schema.
    """
    if spec.ref is None:
        assert spec.name is not None and spec.parameters is not None  # the spec checks it
        _check_schema(spec.name, spec.parameters)
        return RuntimeTool(
            name=spec.name,
            description=spec.description or "",
            parameters=dict(spec.parameters),
            timeout_s=spec.timeout_s,
        )
    where = f"tool python:{spec.ref}"
    try:
        fn = import_ref(spec.ref, base_dir, rootpath)
    except TargetError as exc:
        raise TargetError(f"{where}: {exc}") from None
    if not callable(fn):
        raise TargetError(f"{where} is not callable ({type(fn).__name__})")
    summary, described = parse_docstring(inspect.getdoc(fn))
    name = spec.name or str(getattr(fn, "__name__", "") or spec.ref.rpartition(":")[2])
    description = spec.description if spec.description is not None else summary
    if spec.parameters is not None:
        _check_schema(name, spec.parameters)
        return RuntimeTool(
            name=name,
            description=description,
            parameters=dict(spec.parameters),
            fn=fn,
            timeout_s=spec.timeout_s,
        )
    model, positional, keywords = _arguments_model(fn, name, described, where)
    try:
        parameters = _tidy(model.model_json_schema())
    except Exception as exc:
        raise TargetError(f"{where}: its arguments have no JSON schema: {exc}") from None
    return RuntimeTool(
        name=name,
        description=description,
        parameters=parameters,
        fn=fn,
        timeout_s=spec.timeout_s,
        arguments_model=model,
        positional=positional,
        keywords=keywords,
    )


def _check_schema(name: str, schema: Mapping[str, Any]) -> None:
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(dict(schema))
    except SchemaError as exc:
        raise TargetError(
            f"tool {name}: its `schema` is not a valid JSON schema: {exc.message}"
        ) from None


def _arguments_model(
    fn: Callable[..., Any], name: str, described: Mapping[str, str], where: str
) -> tuple[Any, tuple[str, ...], bool]:
    """A pydantic model of ``fn``'s parameters (fields ``p_NAME``, aliased to the name, so a
    parameter called ``schema`` or ``model_config`` cannot clash with pydantic's own)."""
    from pydantic import ConfigDict, Field, create_model

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TargetError(f"{where}: its signature cannot be read: {exc}") from None
    if inspect.isclass(fn):
        hinted: Any = fn.__init__
    elif inspect.isroutine(fn) or isinstance(fn, functools.partial):
        hinted = getattr(fn, "func", fn)
    else:
        hinted = type(fn).__call__  # a callable object
    try:
        hints = typing.get_type_hints(hinted)
    except Exception as exc:
        raise TargetError(f"{where}: its type hints cannot be resolved: {exc}") from None
    fields: dict[str, Any] = {}
    positional: list[str] = []
    keywords = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            keywords = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue  # nothing the model can name
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(param.name)
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[f"p_{param.name}"] = (
            annotation,
            Field(default, alias=param.name, description=described.get(param.name)),
        )
    config = ConfigDict(extra="allow" if keywords else "forbid", protected_namespaces=())
    try:
        model = create_model(f"{name}_arguments", __config__=config, **fields)
    except Exception as exc:
        raise TargetError(f"{where}: its arguments have no JSON schema: {exc}") from None
    return model, tuple(positional), keywords


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's schema without the titles it makes up (the model's, each property's)."""
    out = {k: v for k, v in schema.items() if k != "title"}
    properties = out.get("properties")
    if isinstance(properties, dict):
        out["properties"] = {
            key: {k: v for k, v in prop.items() if k != "title"} if isinstance(prop, dict) else prop
            for key, prop in properties.items()
        }
    else:
        out["properties"] = {}
    return out


class ToolLoader:
    """Loads the tools of each case once per tool spec and directory (thread-safe)."""

    def __init__(self, base_dir: Path | None = None, rootpath: Path | None = None) -> None:
        self.base_dir = base_dir
        self.rootpath = rootpath
        self._loaded: dict[str, RuntimeTool] = {}
        self._lock = threading.Lock()

    def toolbox(self, case: EvalCase) -> ToolBox:
        """The case's tools, with its scripted results and tool timeout.

        Raises:
            TargetError: a tool cannot be loaded, or two tools share a name.
        """
        base_dir = Path(case.file).parent if case.file else self.base_dir
        tools = []
        for spec in case.tools:
            key = f"{base_dir}\x00{spec.model_dump_json(by_alias=True)}"
            # One import and schema per tool: the lock also keeps two loops from adding the
            # eval file's folder to sys.path at once.
            with self._lock:
                tool = self._loaded.get(key)
                if tool is None:
                    tool = self._loaded[key] = load_tool(
                        spec, base_dir=base_dir, rootpath=self.rootpath
                    )
            tools.append(tool)
        return ToolBox(tools, case.tool_results, timeout_s=case.tool_timeout_s)


# --------------------------------------------------------------------------- running


class ToolBox:
    """The tools of one case: their definitions, and the execution of a reply's calls.

    Args:
        tools: The loaded tools (names unique).
        results: The case's scripted results of schema-only tools.
        timeout_s: Seconds a call may take unless its tool sets its own.

    Raises:
        TargetError: two tools have the same name.
    """

    def __init__(
        self,
        tools: Sequence[RuntimeTool],
        results: Sequence[ToolResultSpec] = (),
        *,
        timeout_s: float = 30.0,
    ) -> None:
        self.tools: dict[str, RuntimeTool] = {}
        for tool in tools:
            if tool.name in self.tools:
                raise TargetError(f"two tools are named {tool.name!r}; give one a `name:`")
            self.tools[tool.name] = tool
        self.results = list(results)
        self.timeout_s = timeout_s

    def definitions(self) -> list[dict[str, Any]]:
        """The request's ``tools`` list, in the order the tools were given."""
        return [tool.definition() for tool in self.tools.values()]

    def run(self, calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
        """Answer a reply's tool calls, all at once; each call gets its result or error.

        Python tools run concurrently, each in its own thread with its timeout. Calls that
        already carry an error (arguments not JSON) are not run.

        Returns:
            One ``tool`` message per call, in the calls' order.
        """
        started: list[tuple[ToolCall, float, float, concurrent.futures.Future[Any]]] = []
        for call in calls:
            if call.error is not None:
                continue
            try:
                pending = self._start(call)
            except _CallFailed as exc:
                call.error = str(exc)
                call.latency_ms = 0.0
                continue
            if pending is not None:
                started.append(pending)
        for call, start, timeout, future in started:
            remaining = max(0.0, start + timeout - time.perf_counter())
            try:
                value = future.result(timeout=remaining)
            except concurrent.futures.TimeoutError:
                call.error = f"{call.name} timed out after {timeout:g}s"
            except Exception as exc:  # what the tool raised, as the model's tool error
                raised = exc.raised if isinstance(exc, _Raised) else exc
                call.error = f"{call.name} raised {type(raised).__name__}: {raised}"
            else:
                self._answered(call, value)
            call.latency_ms = (time.perf_counter() - start) * 1000.0
        return [tool_message(call) for call in calls]

    def _start(
        self, call: ToolCall
    ) -> tuple[ToolCall, float, float, concurrent.futures.Future[Any]] | None:
        tool = self.tools.get(call.name)
        if tool is None:
            names = ", ".join(self.tools) or "none"
            raise _CallFailed(f"unknown tool {call.name!r}; the tools are: {names}")
        args, kwargs = tool.arguments(call.arguments)
        if tool.fn is None:
            start = time.perf_counter()
            self._answered(call, self._scripted(call))
            call.latency_ms = (time.perf_counter() - start) * 1000.0
            return None
        timeout = tool.timeout_s if tool.timeout_s is not None else self.timeout_s
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        # A thread of its own, not a pool's: Python cannot stop a thread, so a tool that hangs
        # past its timeout is abandoned (its result dropped) and keeps running until it
        # returns. A daemon thread never holds up the end of the run; a pool's worker would
        # (pools join their threads at exit) and would keep a slot busy.
        thread = threading.Thread(
            target=_call, args=(tool.fn, args, kwargs, future), name=f"mleval-tool-{tool.name}"
        )
        thread.daemon = True
        start = time.perf_counter()
        thread.start()
        return call, start, timeout, future

    def _scripted(self, call: ToolCall) -> Any:
        for entry in self.results:
            if entry.name == call.name and _subset(entry.args or {}, call.arguments):
                if entry.error is not None:
                    raise _CallFailed(entry.error)
                return entry.result
        raise _CallFailed(
            f"no scripted result for {call.name}({call.arguments_raw or '{}'}) in the case's "
            "`tool_results` (an entry with this name, its `args` a subset of the call's)"
        )

    def _answered(self, call: ToolCall, value: Any) -> None:
        try:
            content = tool_content(value)
        except (TypeError, ValueError) as exc:
            call.error = f"{call.name} returned a value that is not JSON: {exc}"
            return
        call.result = content if isinstance(value, str) else json.loads(content)


def _call(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    future: concurrent.futures.Future[Any],
) -> None:
    try:
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            # An `async def` tool: its own event loop in its own thread.
            value = asyncio.run(_awaited(value))
    except Exception as exc:
        future.set_exception(exc)
    except BaseException as exc:
        # SystemExit and the like, raised by the tool: its error, not one of the caller's.
        future.set_exception(_Raised(exc))
    else:
        future.set_result(value)


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value


def _subset(expected: Any, actual: Any) -> bool:
    """Whether ``actual`` holds ``expected`` (mappings: every key, recursively; else equal)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def tool_content(value: Any) -> str:
    """What a tool message sends the model: text as is, anything else as JSON (keys sorted,
    so the next request, and its cache key, is the same on every run).

    Raises:
        TypeError, ValueError: the value cannot be written as JSON (a circular structure).
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_jsonable)


def tool_message(call: ToolCall) -> dict[str, Any]:
    """The ``tool`` message answering ``call``: its result, or ``{"error": ...}``."""
    if call.error is not None:
        content = json.dumps({"error": call.error}, ensure_ascii=False)
    else:
        content = tool_content(call.result)
    return {"role": "tool", "tool_call_id": call.id, "content": content}
