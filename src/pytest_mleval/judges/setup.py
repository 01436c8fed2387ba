"""How judges reach models in this process: the setup a run installs and restores.

Kept apart from :mod:`.backend` and free of heavy imports so that every run can install its
setup at start-up for the price of this module: loading the judges themselves (pydantic, the
metric and target registries) waits until a judge metric is scored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ..targets.services import RunServices
    from .backend import JudgeBackend

__all__ = ["JudgeSetup", "current_setup", "set_backend_factory"]


class JudgeSetup(NamedTuple):
    """How judges reach models: what :func:`set_backend_factory` installs (and returns)."""

    factory: Callable[[str], JudgeBackend] | None = None
    """Model id -> backend; ``None``: judge metrics skip (no backend)."""
    default_model: str | None = None
    """The judge model when the metric names none (``--mleval-judge-model``)."""
    config: Any = None
    """The run's pytest config, for targets judges call themselves (``pairwise``'s
    ``against:``); ``None`` outside a run."""
    services: RunServices | None = None
    """The run's services, for those same targets; ``None`` outside a run."""


# One setup per process: the session installs its own at start and restores the previous one at
# the end, so nested runs in one process (pytester) each judge with their own engine.
_SETUP = JudgeSetup()


def set_backend_factory(
    factory: Callable[[str], JudgeBackend] | None,
    default_model: str | None = None,
    config: Any = None,
    services: RunServices | None = None,
) -> JudgeSetup:
    """Install how judges reach models, and the model used when a suite names none.

    Args:
        factory: Model id -> backend (``None`` removes it: judge metrics then skip).
        default_model: The judge model when the metric names none (see
            :func:`.backend.backend_for` for the order).
        config: The run's pytest config, for targets a judge calls itself (``pairwise``
            with ``against:``).
        services: The run's services, for those same targets.

    Returns:
        The setup installed before, so a caller can restore it:
        ``set_backend_factory(*previous)``.
    """
    global _SETUP
    previous = _SETUP
    _SETUP = JudgeSetup(factory, default_model, config, services)
    return previous


def current_setup() -> JudgeSetup:
    """The installed setup (factory, default model, the run's config and services)."""
    return _SETUP
