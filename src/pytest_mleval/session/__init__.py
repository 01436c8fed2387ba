"""The run's session: run-wide services, the targets items call, the look-ahead window of
generations, and gathering per-item results (xdist-safe) to hand them to ``results.run`` and
``report.outputs`` (glue).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

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


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
