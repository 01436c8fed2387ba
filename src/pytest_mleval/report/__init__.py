"""What people read: the HTML report, the Markdown summary, the history database and notebook views
(a service).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

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


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
