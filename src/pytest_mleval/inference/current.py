"""The engine of the running session, for services that call models on the run's behalf.

The session installs a getter at its start and restores the previous one at its end (nested
in-process runs, e.g. pytester, each see their own); retrieval's API embedders ask
:func:`run_engine` instead of reaching into the session, so services never import glue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import InferenceEngine

__all__ = ["run_engine", "set_run_engine"]

EngineGetter = Callable[[], "InferenceEngine"]

_GETTER: EngineGetter | None = None
_LOCK = threading.Lock()


def set_run_engine(getter: EngineGetter | None) -> EngineGetter | None:
    """Install how to reach the running session's engine (``None``: no session runs).

    A getter, not an engine: the session creates its engine on first use, and a run that
    never calls a model never creates one.

    Args:
        getter: returns the session's engine (creating it if needed), or ``None``.

    Returns:
        The getter installed before, for the caller to restore when its session ends.
    """
    global _GETTER
    with _LOCK:
        previous, _GETTER = _GETTER, getter
    return previous


def run_engine() -> InferenceEngine | None:
    """The running session's engine, or ``None`` outside a session (plain Python use).

    Returns:
        What the installed getter returns, or ``None`` when none is installed.
    """
    getter = _GETTER
    return getter() if getter is not None else None
