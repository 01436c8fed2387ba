"""Rendering a suite's cases: suite defaults merged in, templates rendered (bounded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cases.case import EvalCase
from ..cases.schema import Case
from ..cases.suite import Suite
from ..errors import EvalFileError, TargetError
from .templates import TemplateLimits, render_template

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
    )
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
                render_template(value, {**variables, **case.vars}, limits)
                if isinstance(value, str) and "{" in value
                else value
            )
        ec.vars = rendered_vars
        variables.update(rendered_vars)
        variables["vars"] = rendered_vars
        if suite.spec.prompt is not None:
            field_name = "prompt"
            ec.prompt = render_template(suite.spec.prompt, variables, limits)
        if suite.spec.system is not None:
            field_name = "system"
            ec.system = render_template(suite.spec.system, variables, limits)
    except TargetError as exc:
        ec.render_error = EvalFileError(
            str(exc), path=_shown_path(suite.path), case_id=case.id, field=field_name
        ).describe()
    return ec


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
