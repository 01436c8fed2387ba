"""Targets: the KIND:REF registry (kinds provided by services through the
``pytest_mleval.targets`` entry points), calling a target and normalising its output, rendering
a case's sandboxed templates (core).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .bounds import TemplateLimits
    from .registry import (
        EvalCase,
        TargetContext,
        TargetOutput,
        call_target,
        is_per_item,
        normalize_output,
        register_target_kind,
        resolve_target,
    )
    from .render import eval_cases, render_case
    from .services import RunServices
    from .templates import check_template, render_template

_WHERE = {
    "RunServices": "services",
    "EvalCase": "registry",
    "TargetContext": "registry",
    "TargetOutput": "registry",
    "TemplateLimits": "bounds",
    "call_target": "registry",
    "check_template": "templates",
    "eval_cases": "render",
    "is_per_item": "registry",
    "normalize_output": "registry",
    "register_target_kind": "registry",
    "render_case": "render",
    "render_template": "templates",
    "resolve_target": "registry",
}

__all__ = [
    "EvalCase",
    "RunServices",
    "TargetContext",
    "TargetOutput",
    "TemplateLimits",
    "call_target",
    "check_template",
    "eval_cases",
    "is_per_item",
    "normalize_output",
    "register_target_kind",
    "render_case",
    "render_template",
    "resolve_target",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
