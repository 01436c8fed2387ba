"""What people read: the HTML report, the Markdown summary, the history database and notebook views
(a service).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .history import recent_runs, record_run
    from .html import render_report, write_report
    from .notebook import Run, load_run
    from .summary import render_summary

_WHERE = {
    "Run": "notebook",
    "load_run": "notebook",
    "recent_runs": "history",
    "record_run": "history",
    "render_report": "html",
    "render_summary": "summary",
    "write_report": "html",
}

__all__ = [
    "Run",
    "load_run",
    "recent_runs",
    "record_run",
    "render_report",
    "render_summary",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
