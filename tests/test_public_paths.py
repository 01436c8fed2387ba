"""Every path users rely on still imports after the restructure (issue 15).

Code written against 0.1 imports these; the package layout may change underneath, these may not.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PATHS = {
    "pytest_mleval.plugin": ["pytest_addoption", "pytest_configure", "pytest_collect_file"],
    "pytest_mleval.cli": ["main"],
    "pytest_mleval.inference": ["ChatRequest", "InferenceEngine"],
    "pytest_mleval.inference.testserver": ["OpenAITestServer", "Rule", "Fault", "loopback_only"],
    "pytest_mleval.jobs": ["JobStore", "run_job", "resume_job", "cancel_job"],
    "pytest_mleval.compare": ["compare_runs", "regression_check"],
    "pytest_mleval.finetune": ["load_trained_model"],
    "pytest_mleval.inference.worker": ["main"],
}


@pytest.mark.parametrize("module", sorted(PATHS))
def test_public_path_imports(module: str) -> None:
    mod = importlib.import_module(module)
    for name in PATHS[module]:
        assert callable(getattr(mod, name)), f"{module}.{name}"


def test_shims_are_the_moved_objects() -> None:
    from pytest_mleval import compare, jobs
    from pytest_mleval.finetune import jobs as moved_jobs
    from pytest_mleval.results import compare as moved_compare

    assert compare.compare_runs is moved_compare.compare_runs
    assert jobs.JobStore is moved_jobs.JobStore
    assert set(compare.__all__) == set(moved_compare.__all__)


def test_entry_points_resolve() -> None:
    from importlib.metadata import entry_points

    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "mleval"]
    assert plugin.value == "pytest_mleval.plugin"
    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "mleval"]
    assert script.load() is importlib.import_module("pytest_mleval.cli").main


@pytest.mark.parametrize("module", ["pytest_mleval.cli", "pytest_mleval.inference.testserver"])
def test_python_dash_m_entries_run(module: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage" in proc.stdout.lower()


def _documented_paths() -> list[str]:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    found = set()
    for page in pages:
        found |= set(re.findall(r"pytest_mleval(?:\.[A-Za-z_]\w*)+", page.read_text("utf-8")))
    return sorted(found)


@pytest.mark.parametrize("dotted", _documented_paths())
def test_every_path_the_docs_name_exists(dotted: str) -> None:
    # A module path in the README or docs/ must import (or be an attribute of one that does):
    # the restructure moved modules, and a stale path in the docs is a broken example.
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return
    raise AssertionError(f"{dotted} does not exist")
