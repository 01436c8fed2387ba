"""Hook specifications of pytest-mleval (``pytest_mleval_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .results.records import CaseResult, RunResults


@pytest.hookspec(firstresult=False)
def pytest_mleval_case_result(result: CaseResult, config: pytest.Config) -> None:
    """Called on the controller for each case result as it arrives (repeats separately)."""


@pytest.hookspec
def pytest_mleval_run_results(run: RunResults, config: pytest.Config) -> None:
    """Called once on the controller with the run's results, before they are written.

    Plugins may add to ``run`` (e.g. extra metadata) or write their own outputs.
    """


@pytest.hookspec(firstresult=True)
def pytest_mleval_make_target(spec: str, context: Any) -> Any:
    """Return a target callable for ``spec`` to override the built-in resolution, or ``None``."""
