"""Writing every output file of a run: results JSON, Markdown summary, HTML report, history
record and the saved baseline (a service).

The session decides *whether* a run writes (only the controller, not under
``--mleval-no-report``); this module decides *what* is written and where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# The one definition of the results file's name (the CLI and finetune read it too).
from ..results.records import RESULTS_FILE

if TYPE_CHECKING:
    from ..results.records import RunResults

__all__ = [
    "RESULTS_FILE",
    "SUMMARY_FILE",
    "OutputPlan",
    "Written",
    "write_outputs",
    "write_raw_results",
]

SUMMARY_FILE = "mleval-summary.md"
"""Name of the Markdown summary in the report directory."""


@dataclass(frozen=True)
class OutputPlan:
    """Where a run's outputs go."""

    report_dir: Path
    """The report directory (results, summary, HTML report, default history database)."""
    history: str | None = None
    """The run-history database URL (``None``: SQLite in the report directory)."""
    save_baseline: Path | None = None
    """Also write the results here, for use as a later run's baseline."""
    results_file: Path | None = None
    """The results file (default: ``RESULTS_FILE`` in the report directory)."""


@dataclass
class Written:
    """What was written, and what could not be: filled in as each file is written, so a
    failure part-way keeps the list of the files that made it."""

    paths: list[Path] = field(default_factory=list)
    """Files written, in order."""
    errors: list[str] = field(default_factory=list)
    """Outputs left out, and why (the run still ends with the others written)."""


def write_outputs(
    run: RunResults,
    plan: OutputPlan,
    written: Written,
    *,
    baseline: RunResults | None = None,
) -> None:
    """Write the results file, the Markdown summary, the history record and the HTML report.

    Args:
        run: The assembled run.
        plan: Where each output goes.
        written: Receives each written path (and a history that could not be recorded).
        baseline: The baseline run, shown beside this one in the HTML report.

    Raises:
        OSError: A file could not be written (the paths before it are in ``written``).
    """
    from ..errors import MlevalError
    from ..results.records import write_results
    from .history import record_run, resolve_url
    from .html import REPORT_FILE, write_report
    from .summary import render_summary

    out = plan.report_dir
    written.paths.append(write_results(plan.results_file or out / RESULTS_FILE, run))
    summary = out / SUMMARY_FILE
    summary.write_text(render_summary(run), encoding="utf-8")
    written.paths.append(summary)
    url: str | None = resolve_url(plan.history, out)
    try:
        record_run(str(url), run)
    except MlevalError as exc:
        written.errors.append(f"run history not recorded: {exc}")
        url = None
    written.paths.append(write_report(out / REPORT_FILE, run, baseline=baseline, history_url=url))
    if plan.save_baseline is not None:
        written.paths.append(write_results(plan.save_baseline, run))


def write_raw_results(run: RunResults, plan: OutputPlan, written: Written) -> None:
    """Last resort: keep the per-case results even when assembling the run failed.

    Args:
        run: A run holding at least the cases.
        plan: Where the results file goes.
        written: Receives the path, or why it could not be written.
    """
    from ..results.records import write_results

    try:
        written.paths.append(write_results(plan.report_dir / RESULTS_FILE, run))
    except Exception as exc:
        written.errors.append(f"could not write raw results either: {exc}")
