"""What a run offers the targets it builds: a small typed record, cheap to import.

The session creates one at start-up for every run, eval files or not, so this module imports
nothing beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["RunServices"]


@dataclass(frozen=True)
class RunServices:
    """What a run offers the targets it builds (``model:`` targets, RAG generators).

    Typed rather than a name-keyed dict: a service a target needs is a field a reader can find.
    The engine is typed loosely because core knows no service types; ``inference`` documents it.
    """

    engine: Callable[[], Any] | None = None
    """The run's inference engine, created on first use (``None`` outside a run)."""
    model_override: str | None = None
    """``--mleval-model``: the model of every ``model:`` target."""
    api_base: str | None = None
    """Ini ``mleval_api_base``: the default ``api_base`` of ``model:`` targets."""
