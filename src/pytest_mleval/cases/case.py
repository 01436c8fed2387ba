"""The case ready to run: the rendered case plus what scores it.

Two records describe a case, one per stage: :class:`~pytest_mleval.cases.schema.Case` is the
spec as written (pydantic, raw templates, the case's own tags and metric entries), and
:class:`EvalCase` is the case as rendered (suite defaults merged in, templates rendered),
which targets run and metrics score. They stay two because the rendered one is not a view of
the written one: its variables, prompt and system are rendered text, its tags and metric
entries merge the suite's, and :func:`pytest_mleval.check` builds one from a dict with no
spec at all. A :class:`~pytest_mleval.metrics.base.Sample` holds the rendered case itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..metrics.base import RenderedCase
from .schema import MetricSpec, ToolResultSpec, ToolSpec

__all__ = ["EvalCase"]


@dataclass
class EvalCase(RenderedCase):
    """A case ready to run: the rendered case (:class:`RenderedCase`), its metric entries
    (suite defaults merged in) and its pass rule."""

    metrics: list[MetricSpec] = field(default_factory=list)
    pass_score: float | None = None
    render_error: str | None = None
    """A template that could not render; the case errors with this message."""
    tools: list[ToolSpec] = field(default_factory=list)
    """The tools a ``model:`` target offers the model (the suite's, the case's by name)."""
    tool_results: list[ToolResultSpec] = field(default_factory=list)
    """Scripted results of schema-only tools."""
    max_turns: int = 10
    """Model replies the tool loop may take."""
    tool_timeout_s: float = 30.0
    """Seconds one tool call may take."""
