"""The bounds of one template render, apart from the renderer: collection builds them for
every run, while jinja2 loads only for a suite that has templates."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_PROMPT_CHARS", "DEFAULT_RENDER_TIMEOUT_S", "TemplateLimits"]

DEFAULT_MAX_PROMPT_CHARS = 1_000_000
"""Default size limit of a rendered prompt, system message or var (``mleval_max_prompt_chars``)."""
DEFAULT_RENDER_TIMEOUT_S = 5.0
"""Default time limit of one template render (``mleval_render_timeout``)."""


@dataclass(frozen=True)
class TemplateLimits:
    """Bounds of one render: the most characters of any value or of the output, and seconds."""

    max_chars: int = DEFAULT_MAX_PROMPT_CHARS
    timeout_s: float | None = DEFAULT_RENDER_TIMEOUT_S
