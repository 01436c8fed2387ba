"""Rendering a suite's cases: suite defaults merged in, templates rendered (bounded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cases.case import EvalCase
from ..cases.schema import Case, MetricSpec, ToolSpec
from ..cases.suite import Suite
from ..conversation.images import ImageError, load_image
from ..conversation.messages import message_text
from ..errors import EvalFileError, TargetError
from .bounds import TemplateLimits

__all__ = ["eval_cases", "render_case"]


def render_case(
    suite: Suite, case: Case, repeat: int = 0, *, limits: TemplateLimits | None = None
) -> EvalCase:
    """Merge suite defaults into a case and render its templates.

    The spec as written (``case``) stays as read; the result is the case as rendered, the one
    record targets run and metrics score (see :mod:`pytest_mleval.cases.case`).

    A template that cannot render (or crosses ``limits``) leaves ``render_error`` set: one
    line naming the file, the case and the field; the case errors with it.
    """
    ec = EvalCase(
        id=case.id,
        suite=suite.name,
        input=case.input,
        expected=case.expected,
        context=list(case.context),
        vars=dict(case.vars),
        tags=list(dict.fromkeys([*suite.spec.tags, *case.tags])),
        cluster=case.cluster,
        relevant=case.relevant,
        metadata=dict(case.metadata),
        params=dict(suite.spec.params),
        metrics=suite.metrics_for(case),
        repeat=repeat,
        file=str(suite.path),
        pass_score=suite.spec.pass_score,
        tools=_tools(suite.spec.tools, case.tools),
        tool_results=list(case.tool_results),
        max_turns=case.max_turns or suite.spec.max_turns,
        tool_timeout_s=suite.spec.tool_timeout_s,
        variant=suite.variant,
    )
    # A failed tool call is never a silent pass: a suite with tools scores it unless it says
    # otherwise (its own `tool_error` entry, or `allow_tool_errors: true`).
    if (
        ec.tools
        and not suite.spec.allow_tool_errors
        and not any(m.kind == "tool_error" for m in ec.metrics)
    ):
        ec.metrics.append(MetricSpec(name="tool_error"))
    if case.id in suite.case_errors:
        ec.render_error = suite.case_errors[case.id]
        return ec
    field_name = "vars"
    try:
        variables: dict[str, Any] = {
            "input": case.input,
            "expected": case.expected,
            "context": case.context,
            "id": case.id,
            "suite": suite.name,
            "repeat": repeat,
        }
        rendered_vars: dict[str, Any] = {}
        for key, value in case.vars.items():
            field_name = f"vars.{key}"
            rendered_vars[key] = (
                _render_template(value, {**variables, **case.vars}, limits)
                if isinstance(value, str) and "{" in value
                else value
            )
        ec.vars = rendered_vars
        variables.update(rendered_vars)
        variables["vars"] = rendered_vars
        if case.messages is not None:
            messages = []
            for i, message in enumerate(case.messages):
                field_name = f"messages[{i}].content"
                messages.append(_render_message(message, variables, limits))
            if "input" not in case.model_fields_set:
                # What reports, judges and `{{ input }}` see of a conversation: its question.
                ec.input = _last_user(messages)
                variables["input"] = ec.input
        if suite.spec.prompt is not None:
            field_name = "prompt"
            ec.prompt = _render_template(suite.spec.prompt, variables, limits)
        if suite.spec.system is not None:
            field_name = "system"
            ec.system = _render_template(suite.spec.system, variables, limits)
        if case.messages is not None:
            ec.messages = _conversation(messages, ec.prompt, ec.system)
        field_name = "images"
        ec.images = [load_image(source, suite.path.parent) for source in case.images]
    except (TargetError, ImageError) as exc:
        ec.render_error = EvalFileError(
            str(exc), path=_shown_path(suite.path), case_id=case.id, field=field_name
        ).describe()
    return ec


def _render_template(
    template: str, variables: dict[str, Any], limits: TemplateLimits | None
) -> str:
    # jinja2 (~30 ms to import) loads with the first suite that has a template.
    from .templates import render_template as render

    return render(template, variables, limits)


def _tools(suite_tools: Sequence[ToolSpec], case_tools: Sequence[ToolSpec]) -> list[ToolSpec]:
    """The suite's tools with the case's added, replacing one of the same name."""

    def key(tool: ToolSpec) -> str:
        return tool.name or (tool.ref or "").rpartition(":")[2]

    merged = {key(t): t for t in suite_tools}
    merged.update((key(t), t) for t in case_tools)
    return list(merged.values())


def _render_message(
    message: dict[str, Any], variables: dict[str, Any], limits: TemplateLimits | None
) -> dict[str, Any]:
    def render(text: str) -> str:
        return _render_template(text, variables, limits) if "{" in text else text

    out = dict(message)
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = render(content)
    elif isinstance(content, list):
        out["content"] = [
            {**p, "text": render(p["text"])} if p.get("type") == "text" else dict(p)
            for p in content
        ]
    return out


def _last_user(messages: Sequence[dict[str, Any]]) -> str | None:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    return None


def _conversation(
    messages: list[dict[str, Any]], prompt: str | None, system: str | None
) -> list[dict[str, Any]]:
    """The conversation a model receives: the suite's ``system:`` first unless the case gives
    its own, the suite's ``prompt:`` (rendered with the last user message as ``input``) in
    place of that message."""
    out = [dict(m) for m in messages]
    if prompt is not None:
        for message in reversed(out):
            if message.get("role") == "user":
                message["content"] = prompt
                break
    if system is not None and not any(m.get("role") in ("system", "developer") for m in out):
        out.insert(0, {"role": "system", "content": system})
    return out


def _shown_path(path: Path) -> str:
    """The path as a reader finds it: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def eval_cases(
    suite: Suite, repeats: int | None = None, *, limits: TemplateLimits | None = None
) -> Sequence[EvalCase]:
    """All rendered cases of a suite, one per repeat."""
    n = repeats or suite.spec.repeats
    return [render_case(suite, c, r, limits=limits) for c in suite.cases for r in range(n)]
