"""The run's session: run-wide services, the targets items call, the look-ahead window of
generations, and gathering per-item results (xdist-safe) to hand them to ``results.run`` and
``report.outputs`` (glue).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lookahead import Lookahead
    from .state import MlevalSession
    from .targets import RunServices, Targets

_WHERE = {
    "Lookahead": "lookahead",
    "MlevalSession": "state",
    "RunServices": "targets",
    "Targets": "targets",
}

__all__ = [
    "Lookahead",
    "MlevalSession",
    "RunServices",
    "Targets",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
